//! Starting and reaping child processes with `posix_spawn(3)` and `waitpid(2)`: what the
//! hooks need of `std::process::Command`, without its environment map and fork paths.
//!
//! A child started by [`spawn`] has exactly the given arguments and environment (nothing
//! of the daemon's), stdin `/dev/null`, stdout and stderr inherited, working directory `/`,
//! its own process group (its pid is the group's id, so `killpg` reaches its children),
//! an empty signal mask and every signal at its default disposition (the daemon blocks
//! the signals it reads from its signalfd, and the standard library ignores `SIGPIPE`).
//! An error of the `exec` itself (`ENOENT`, `EACCES`, `ENOEXEC`...) is returned by
//! `posix_spawn` on glibc and musl alike, so it comes back from [`spawn`].

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A started child, to be reaped with [`Child::try_wait`].
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl Child {
    /// The child's pid, which is also its process group's id.
    pub fn id(&self) -> i32 {
        self.pid
    }

    /// `waitpid(WNOHANG)`: how the child ended, or `None` while it runs. Once it returned
    /// a status the child is reaped and its pid may belong to another process: drop it.
    #[allow(unsafe_code)]
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid, exclusively borrowed int for the call.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // Without WUNTRACED/WCONTINUED only an exit or a fatal signal is reported.
        Ok(if r == 0 {
            None
        } else if libc::WIFEXITED(status) {
            Some(ExitStatus::Code(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(ExitStatus::Signal(libc::WTERMSIG(status)))
        } else {
            None
        })
    }
}

/// Starts `program` with `argv[0]` = `program`, then `args`, and the environment `env`
/// (`NAME`, value pairs, nothing else). A string with a NUL byte is an `InvalidInput`
/// error; nothing is started then.
#[allow(unsafe_code)]
pub fn spawn(program: &Path, args: &[&str], env: &[(&str, &str)]) -> io::Result<Child> {
    // Every string, NUL-terminated, in one buffer; `starts` holds where each begins:
    // argv's strings first, then envp's.
    let mut buf = Vec::new();
    let mut starts = Vec::with_capacity(args.len() + env.len() + 1);
    let mut push = |parts: &[&[u8]]| {
        starts.push(buf.len());
        for part in parts {
            if part.contains(&0) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "NUL byte in an argument or the environment",
                ));
            }
            buf.extend_from_slice(part);
        }
        buf.push(0);
        Ok(())
    };
    push(&[program.as_os_str().as_bytes()])?;
    for arg in args {
        push(&[arg.as_bytes()])?;
    }
    for (name, value) in env {
        push(&[name.as_bytes(), b"=", value.as_bytes()])?;
    }
    // The pointer arrays, each ending with a null pointer: argv, then envp.
    let argc = 1 + args.len();
    let at = |start: &usize| -> *const libc::c_char { buf.as_ptr().wrapping_add(*start).cast() };
    let mut ptrs = Vec::with_capacity(starts.len() + 2);
    ptrs.extend(starts[..argc].iter().map(at));
    ptrs.push(std::ptr::null());
    ptrs.extend(starts[argc..].iter().map(at));
    ptrs.push(std::ptr::null());
    let (argv, envp) = ptrs.split_at(argc + 1);
    let mut pid: libc::pid_t = 0;
    // `posix_spawn*` return 0 or an error number.
    let zero = |r: libc::c_int| if r == 0 { Ok(()) } else { Err(r) };
    // SAFETY: `argv` and `envp` are null-terminated arrays of pointers to NUL-terminated
    // strings in `buf`, which is neither changed nor dropped before the end of this
    // function; the file actions and attributes are plain C structs, initialised by their
    // `_init` calls before any other use and destroyed once after the last; the signal sets
    // are initialised by `sigemptyset`/`sigfillset`; the paths are static NUL-terminated
    // strings. `posix_spawn` has copied all it needs when it returns.
    let r = unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        let mut empty: libc::sigset_t = std::mem::zeroed();
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigfillset(&mut all);
        // The flags fit the C `short` the call takes.
        let flags = libc::POSIX_SPAWN_SETPGROUP
            | libc::POSIX_SPAWN_SETSIGMASK
            | libc::POSIX_SPAWN_SETSIGDEF;
        let mut spawn = |actions: &mut _, attr: &mut _| -> Result<(), libc::c_int> {
            let null = b"/dev/null\0".as_ptr().cast();
            zero(libc::posix_spawn_file_actions_addopen(
                actions,
                0,
                null,
                libc::O_RDONLY,
                0,
            ))?;
            zero(libc::posix_spawn_file_actions_addchdir_np(
                actions,
                b"/\0".as_ptr().cast(),
            ))?;
            zero(libc::posix_spawnattr_setflags(attr, flags as libc::c_short))?;
            zero(libc::posix_spawnattr_setpgroup(attr, 0))?;
            zero(libc::posix_spawnattr_setsigmask(attr, &empty))?;
            zero(libc::posix_spawnattr_setsigdefault(attr, &all))?;
            let (argv_ptr, envp_ptr) = (argv.as_ptr().cast(), envp.as_ptr().cast());
            zero(libc::posix_spawn(
                &mut pid, argv[0], actions, attr, argv_ptr, envp_ptr,
            ))
        };
        let mut r = zero(libc::posix_spawn_file_actions_init(&mut actions));
        if r.is_ok() {
            r = zero(libc::posix_spawnattr_init(&mut attr));
            if r.is_ok() {
                r = spawn(&mut actions, &mut attr);
                libc::posix_spawnattr_destroy(&mut attr);
            }
            libc::posix_spawn_file_actions_destroy(&mut actions);
        }
        r
    };
    match r {
        Ok(()) => Ok(Child { pid }),
        Err(e) => Err(io::Error::from_raw_os_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::{SigSet, Signal};
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    /// A fresh directory for one test, removed at the end.
    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!("wf-spawn-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Reaps the child, polling with `WNOHANG` as the daemon does.
    fn wait(child: &mut Child) -> ExitStatus {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "child {} still running", child.id());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn sh(script: &str, args: &[&str]) -> io::Result<Child> {
        let mut argv = vec!["-c", script, "sh"];
        argv.extend_from_slice(args);
        spawn(Path::new("/bin/sh"), &argv, &[("PATH", "/usr/bin:/bin")])
    }

    #[test]
    fn child_state() {
        let dir = Dir::new("state");
        let out = dir.0.join("out");
        // What the shell was started with, not what it added itself: its initial
        // environment from /proc, its working directory, stdin, process group and signals.
        // The signal state first and with builtins only: the shell blocks signals itself
        // while it forks and waits.
        let script = r#"{
            while read -r line; do
                case $line in SigBlk:* | SigIgn:*) echo "$line" ;; esac
            done < /proc/$$/status
            tr '\0' '\n' < /proc/$$/environ
            echo "cwd=$(pwd -P)"
            if read -r line; then echo "stdin=data"; else echo "stdin=eof"; fi
            read -r _ _ _ _ pgrp _ < /proc/$$/stat
            echo "pid=$$ pgrp=$pgrp"
        } > "$1""#;
        let env = [
            ("PATH", "/usr/bin:/bin"),
            ("WAN_NAME", "wan a"),
            ("EMPTY", ""),
        ];
        // The test harness ignores SIGPIPE (as the daemon does); block SIGUSR1 in this
        // thread (as the daemon blocks what its signalfd reads): the child must see
        // neither.
        let mut usr1 = SigSet::empty();
        usr1.add(Signal::SIGUSR1);
        usr1.thread_block().unwrap();
        let spawned = spawn(
            Path::new("/bin/sh"),
            &["-c", script, "sh", out.to_str().unwrap()],
            &env,
        );
        usr1.thread_unblock().unwrap();
        let mut child = spawned.unwrap();
        assert_eq!(wait(&mut child), ExitStatus::Code(0));
        let text = std::fs::read_to_string(&out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let pid = child.id();
        assert_eq!(lines[..1], ["SigBlk:\t0000000000000000"], "signal mask");
        // No signal of 1..=31 ignored (SIGPIPE included). glibc and musl leave their own
        // internal signals (32..=34) ignored in a child of `posix_spawn`, the standard
        // library's `Command` included.
        let ignored = lines[1].strip_prefix("SigIgn:\t").unwrap();
        let ignored = u64::from_str_radix(ignored, 16).unwrap();
        assert_eq!(ignored & 0x7fff_ffff, 0, "SigIgn {ignored:x}");
        assert_eq!(
            lines[2..],
            [
                "PATH=/usr/bin:/bin",
                "WAN_NAME=wan a",
                "EMPTY=",
                "cwd=/",
                "stdin=eof",
                &format!("pid={pid} pgrp={pid}"),
            ]
        );
    }

    #[test]
    fn exit_code_and_signal() {
        let mut child = sh("exit 7", &[]).unwrap();
        assert_eq!(wait(&mut child), ExitStatus::Code(7));
        let mut child = sh("kill -TERM $$", &[]).unwrap();
        assert_eq!(wait(&mut child), ExitStatus::Signal(libc::SIGTERM));
    }

    #[test]
    fn running_child_is_not_reaped() {
        let mut child = sh("read -r line < /dev/null; sleep 0.3", &[]).unwrap();
        assert_eq!(child.try_wait().unwrap(), None);
        assert_eq!(wait(&mut child), ExitStatus::Code(0));
        // Reaped: waiting again is an error (ECHILD), not a second status.
        assert!(child.try_wait().is_err());
    }

    #[test]
    fn spawn_errors() {
        let dir = Dir::new("errors");
        let missing = spawn(&dir.0.join("missing"), &[], &[]).unwrap_err();
        assert_eq!(missing.raw_os_error(), Some(libc::ENOENT));
        let not_executable = dir.0.join("plain");
        std::fs::write(&not_executable, "#!/bin/sh\nexit 0\n").unwrap();
        let denied = spawn(&not_executable, &[], &[]).unwrap_err();
        assert_eq!(denied.raw_os_error(), Some(libc::EACCES));
        let not_a_program = dir.0.join("garbage");
        // No `#!` and not a binary: the kernel says ENOEXEC (posix_spawn runs no shell).
        std::fs::write(&not_a_program, "exit 0\n").unwrap();
        std::fs::set_permissions(
            &not_a_program,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let garbage = spawn(&not_a_program, &[], &[]).unwrap_err();
        assert_eq!(garbage.raw_os_error(), Some(libc::ENOEXEC));
    }

    #[test]
    fn nul_bytes_are_an_error() {
        for (args, env) in [
            (&["a\0b"][..], &[][..]),
            (&[][..], &[("NAME", "a\0b")][..]),
            (&[][..], &[("NA\0ME", "x")][..]),
        ] {
            let e = spawn(Path::new("/bin/true"), args, env).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        let e = spawn(Path::new("/bin/tr\0ue"), &[], &[]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

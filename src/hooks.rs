//! Hook processes: executables in `hooks_dir`, run on every WAN transition, every switch
//! of the active WAN and every change of connectivity, in the manner of NetworkManager's
//! dispatcher.
//!
//! # What a hook sees
//!
//! - Arguments: `WAN EVENT`, where EVENT is `transition` (the WAN's state changed),
//!   `switch` (the active WAN changed; WAN is the newly active one, or the previously
//!   active one when none is left) or `connectivity` (every WAN became unusable: WAN is
//!   the one that was active; or one is usable again after that: WAN is that one).
//! - Environment (cleared first, so nothing of the daemon's leaks in):
//!   `WAN_NAME`, `WAN_INTERFACE`, `WAN_STATE` (the new state), `WAN_PREVIOUS_STATE`,
//!   `WAN_ACTIVE` (the active WAN's name after the event, empty if none), `WAN_EVENT`
//!   (same as the second argument), `WAN_FAMILY`, for a `connectivity` event
//!   `WAN_CONNECTIVITY` (`none` or `full`, balenaOS's words), and `PATH=`[`HOOK_PATH`].
//!   States are spelled as in `wanfailover status`:
//!   `init up degraded down linkdown noroute disabled`.
//! - `WAN_FAMILY` is empty when the event is about the WAN as a whole, and `ipv4` or `ipv6`
//!   when it is about one family: one family of a dual-stack WAN changed state on its own
//!   (`WAN_STATE` and `WAN_PREVIOUS_STATE` are then that family's), or the active WAN of one
//!   family changed while the other family's did not (`WAN_ACTIVE` is then that family's).
//!   A WAN's own state is the best of its families'; it is told, with an empty
//!   `WAN_FAMILY`, whenever it changes. Without an IPv6 WAN (or without an IPv4 one) it is
//!   always empty.
//! - stdin is `/dev/null`; stdout and stderr are the daemon's (they end up in its log);
//!   the working directory is `/`.
//!
//! # Which files run
//!
//! The directory is read afresh for every event (hooks may be added at run time; a missing
//! directory means no hooks). A file runs if it is a regular file (symlinks followed) with
//! an execute bit, its name does not start with `.`, does not end with `~`, `.rpmnew`,
//! `.rpmsave` or `.rpmorig`, and does not contain `.dpkg-` (editor and package-manager
//! leftovers). A world-writable file is skipped with a warning: the daemon runs as root.
//! Files run in byte order of their names (`10-notify` before `20-vpn`).
//!
//! # How they run
//!
//! One process at a time: the hooks of an event run one after another in name order, and
//! events run in the order they happened. Nothing waits: a hook is spawned and the daemon's
//! loop carries on; [`Hooks::reap`] (on `SIGCHLD` and at [`Hooks::poll_at`]) collects it
//! and starts the next. A hook still running after the timeout is killed with `SIGKILL`,
//! together with its process group (each hook leads its own group, so the children of a
//! shell script die with it; a hook that must outlive the timeout has to detach itself).
//! A hook that fails (spawn error, non-zero exit, signal, timeout) is logged and changes
//! nothing; the next hook runs.
//!
//! At most [`MAX_QUEUED`] events wait behind the running one; when the queue is full the
//! oldest waiting event is dropped with a warning (the newest state of the world is the
//! one a hook most needs to hear about).

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::engine::wan::State;
use crate::engine::{Family, HookKind, Instant};
use crate::sys::spawn::{Child, ExitStatus};

/// Most events waiting behind the running one.
pub const MAX_QUEUED: usize = 64;
/// `PATH` in a hook's environment.
pub const HOOK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One event to tell the hooks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    pub wan: String,
    pub interface: String,
    /// `EVENT` and `WAN_EVENT`: `transition` or `switch`.
    pub kind: HookKind,
    /// `WAN_FAMILY`: the family the event is about, `None` for the WAN as a whole.
    pub family: Option<Family>,
    pub state: State,
    pub previous: State,
    /// The active WAN after the event, empty if none.
    pub active: String,
}

impl HookEvent {
    /// `WAN_CONNECTIVITY` for a `connectivity` event: `none` when no WAN is active after
    /// it, else `full`.
    pub fn connectivity(&self) -> Option<&'static str> {
        (self.kind == HookKind::Connectivity)
            .then(|| crate::engine::history::connectivity(!self.active.is_empty()))
    }
}

/// The hook runner: a queue of events and at most one running process.
#[derive(Debug)]
pub struct Hooks {
    dir: PathBuf,
    timeout: Duration,
    queue: VecDeque<HookEvent>,
    current: Option<Batch>,
    /// Killed after their timeout, not yet reaped.
    killed: Vec<Child>,
}

/// The hooks of one event: those still to run and the one running.
#[derive(Debug)]
struct Batch {
    event: HookEvent,
    pending: VecDeque<PathBuf>,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    child: Child,
    path: PathBuf,
    deadline_at: Instant,
}

impl Hooks {
    /// Hooks from `dir`, each killed after `timeout`.
    pub fn new(dir: PathBuf, timeout: Duration) -> Hooks {
        Hooks {
            dir,
            timeout,
            queue: VecDeque::new(),
            current: None,
            killed: Vec::new(),
        }
    }

    /// Applies a new configuration; running and queued hooks are not affected.
    pub fn reconfigure(&mut self, dir: PathBuf, timeout: Duration) {
        self.dir = dir;
        self.timeout = timeout;
    }

    /// Queues an event and starts its hooks if nothing is running.
    pub fn queue(&mut self, now: Instant, event: HookEvent) {
        if self.queue.len() >= MAX_QUEUED {
            if let Some(old) = self.queue.pop_front() {
                log::warn!(
                    "hooks: {MAX_QUEUED} events waiting, dropping the oldest ({} {})",
                    old.wan,
                    old.kind.as_str()
                );
            }
        }
        self.queue.push_back(event);
        self.advance(now);
    }

    /// Collects finished hooks, kills those past their deadline, starts the next ones.
    /// Call on `SIGCHLD` and at [`Hooks::poll_at`].
    pub fn reap(&mut self, now: Instant) {
        self.killed
            .retain_mut(|child| matches!(child.try_wait(), Ok(None)));
        let Some(batch) = &mut self.current else {
            return self.advance(now);
        };
        if let Some(running) = &mut batch.running {
            match running.child.try_wait() {
                Ok(Some(status)) => {
                    log_exit(&running.path, &batch.event, status);
                    batch.running = None;
                }
                Ok(None) if now >= running.deadline_at => {
                    log::warn!(
                        "{} still running after {:?}, killed",
                        Named(&running.path, &batch.event),
                        self.timeout
                    );
                    let Running { child, .. } = batch.running.take().expect("invariant: Some");
                    self.killed.extend(kill(child));
                }
                Ok(None) => {}
                Err(e) => {
                    log::warn!("hooks: waiting for {}: {e}", running.path.display());
                    let Running { child, .. } = batch.running.take().expect("invariant: Some");
                    self.killed.extend(kill(child));
                }
            }
        }
        self.advance(now);
    }

    /// When [`Hooks::reap`] must run even without `SIGCHLD`: the running hook's deadline.
    pub fn poll_at(&self) -> Option<Instant> {
        self.current
            .as_ref()?
            .running
            .as_ref()
            .map(|r| r.deadline_at)
    }

    /// Whether no hook is running or waiting.
    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.queue.is_empty()
    }

    /// On shutdown: kills the running hook (and its group) and forgets queued events.
    /// Does not wait; what is not reaped yet is left to init.
    pub fn kill_all(&mut self) {
        if !self.queue.is_empty() {
            log::info!(
                "hooks: dropping {} queued events on shutdown",
                self.queue.len()
            );
            self.queue.clear();
        }
        if let Some(Batch {
            running: Some(running),
            ..
        }) = self.current.take()
        {
            log::info!("hooks: killing {} on shutdown", running.path.display());
            self.killed.extend(kill(running.child));
        }
        self.killed
            .retain_mut(|child| matches!(child.try_wait(), Ok(None)));
    }

    /// Starts the next hook if none is running: the next of the current event, or the
    /// first of the next event. Each turn consumes a hook or an event, so it ends.
    fn advance(&mut self, now: Instant) {
        loop {
            if let Some(batch) = &mut self.current {
                if batch.running.is_some() {
                    return;
                }
                if let Some(path) = batch.pending.pop_front() {
                    batch.running = spawn(&path, &batch.event, now + self.timeout);
                    continue;
                }
                self.current = None;
            }
            let Some(event) = self.queue.pop_front() else {
                return;
            };
            let pending = list_hooks(&self.dir);
            self.current = Some(Batch {
                event,
                pending,
                running: None,
            });
        }
    }
}

/// Starts one hook; a spawn failure is logged and yields `None`.
#[inline(never)] // code size: see "Code size" in the daemon module doc
fn spawn(path: &Path, event: &HookEvent, deadline_at: Instant) -> Option<Running> {
    let kind = event.kind.as_str();
    // In name order, as the standard library's `Command` passed them;
    // `WAN_CONNECTIVITY` only for a `connectivity` event.
    let mut env = Vec::with_capacity(9);
    env.push(("PATH", HOOK_PATH));
    env.push(("WAN_ACTIVE", event.active.as_str()));
    if let Some(connectivity) = event.connectivity() {
        env.push(("WAN_CONNECTIVITY", connectivity));
    }
    env.extend([
        ("WAN_EVENT", kind),
        ("WAN_FAMILY", event.family.map_or("", Family::as_str)),
        ("WAN_INTERFACE", event.interface.as_str()),
        ("WAN_NAME", event.wan.as_str()),
        ("WAN_PREVIOUS_STATE", event.previous.as_str()),
        ("WAN_STATE", event.state.as_str()),
    ]);
    // stdin `/dev/null`, cwd `/`, its own process group (so a timeout kills the hook's
    // children too): see `sys::spawn`.
    match crate::sys::spawn::spawn(path, &[&event.wan, kind], &env) {
        Ok(child) => {
            log::debug!("hooks: started {} {} {kind}", path.display(), event.wan);
            Some(Running {
                child,
                path: path.to_path_buf(),
                deadline_at,
            })
        }
        Err(e) => {
            log::warn!("hooks: cannot run {}: {e}", path.display());
            None
        }
    }
}

/// SIGKILL to the hook's process group; returns the child if it still needs reaping.
fn kill(mut child: Child) -> Option<Child> {
    let pid = child.id();
    // The group may be gone already (ESRCH): then only our zombie child is left.
    if pid > 0 {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    match child.try_wait() {
        Ok(None) => Some(child),
        _ => None,
    }
}

/// A hook run in log lines: `hooks: PATH (WAN EVENT)`.
struct Named<'a>(&'a Path, &'a HookEvent);

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Named(path, event) = self;
        let (wan, kind) = (&event.wan, event.kind.as_str());
        write!(f, "hooks: {} ({wan} {kind})", path.display())
    }
}

fn log_exit(path: &Path, event: &HookEvent, status: ExitStatus) {
    let what = Named(path, event);
    match status {
        ExitStatus::Code(0) => log::debug!("{what} done"),
        ExitStatus::Code(code) => log::warn!("{what} failed with exit status {code}"),
        ExitStatus::Signal(sig) => log::warn!("{what} killed by signal {sig}"),
    }
}

/// The hooks to run, in name order. A missing directory means none.
#[inline(never)] // code size: see "Code size" in the daemon module doc
pub fn list_hooks(dir: &Path) -> VecDeque<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            log::debug!("hooks: no directory {}", dir.display());
            return VecDeque::new();
        }
        Err(e) => {
            log::warn!("hooks: reading {}: {e}", dir.display());
            return VecDeque::new();
        }
    };
    let mut names: Vec<_> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name())
        .filter(|name| is_hook_name(name))
        .collect();
    crate::sort::sort_by(&mut names, |a, b| a.as_bytes().cmp(b.as_bytes()));
    names
        .into_iter()
        .map(|name| dir.join(name))
        .filter(|path| is_runnable(path))
        .collect()
}

/// Names that are not hidden files, editor backups or package-manager leftovers.
pub fn is_hook_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    let leftover_suffixes: [&[u8]; 4] = [b"~", b".rpmnew", b".rpmsave", b".rpmorig"];
    !b.is_empty()
        && !b.starts_with(b".")
        && !leftover_suffixes.iter().any(|s| b.ends_with(s))
        && !b.windows(6).any(|w| w == b".dpkg-")
}

/// A regular file (after symlinks) with an execute bit, not writable by everyone.
fn is_runnable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let mode = meta.permissions().mode();
    if !meta.is_file() || mode & 0o111 == 0 {
        log::debug!(
            "hooks: skipping {} (not an executable file)",
            path.display()
        );
        return false;
    }
    if mode & 0o002 != 0 {
        log::warn!("hooks: skipping {} (writable by everyone)", path.display());
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_names() {
        let table = [
            ("10-notify", true),
            ("vpn.sh", true),
            (".hidden", false),
            ("10-notify~", false),
            ("10-notify.dpkg-old", false),
            ("10-notify.dpkg-new", false),
            ("10-notify.rpmnew", false),
            ("10-notify.rpmsave", false),
            ("10-notify.rpmorig", false),
            ("", false),
        ];
        for (name, expected) in table {
            assert_eq!(is_hook_name(OsStr::new(name)), expected, "{name:?}");
        }
    }

    #[test]
    fn event_words() {
        assert_eq!(HookKind::Transition.as_str(), "transition");
        assert_eq!(HookKind::Switch.as_str(), "switch");
        assert_eq!(HookKind::Connectivity.as_str(), "connectivity");
    }

    #[test]
    fn connectivity_word_follows_the_active_wan() {
        let mut event = HookEvent {
            wan: "lte".into(),
            interface: "wwan0".into(),
            kind: HookKind::Connectivity,
            family: None,
            state: State::Down,
            previous: State::Up,
            active: String::new(),
        };
        assert_eq!(event.connectivity(), Some("none"));
        event.active = "lte".into();
        assert_eq!(event.connectivity(), Some("full"));
        event.kind = HookKind::Switch;
        assert_eq!(event.connectivity(), None);
    }

    #[test]
    fn missing_directory_is_no_hooks() {
        let mut hooks = Hooks::new("/nonexistent/wanfailover.d".into(), Duration::from_secs(1));
        let event = HookEvent {
            wan: "lte".into(),
            interface: "wwan0".into(),
            kind: HookKind::Transition,
            family: None,
            state: State::Up,
            previous: State::Init,
            active: "lte".into(),
        };
        hooks.queue(Instant::ZERO, event);
        assert!(hooks.is_idle());
        assert_eq!(hooks.poll_at(), None);
    }
}

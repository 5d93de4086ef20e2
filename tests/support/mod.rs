//! Test support shared by the end-to-end tests: the namespace lab (`scripts/lab.sh`) as an
//! RAII value that tears itself down, also when a test fails; [`open_lab`], the one opening
//! of every namespace test, and [`skipped`], which makes a test that did not run say so; the
//! daemon under test; real DHCP clients ([`dhcp`]); real HTTP and DNS servers ([`servers`]);
//! the status row fixture the library's unit tests use too ([`status_row`]).
#![allow(dead_code)]

pub mod dhcp;
pub mod routing;
pub mod servers;
pub mod status_row;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

// For `status_row`, which names the row types through its parent, as in the library.
use wanfailover::engine::{FamilyStatus, WanStatus};

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// The repository root (where `scripts/lab.sh` is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Records that the calling test did not run, or not all of it, and why. The harness has no
/// "skipped" result, so the test still shows `ok`; instead the skip is said where a reader
/// sees it: a `SKIPPED` line written straight to stderr (not captured like `eprintln!`) and,
/// when `WF_SKIPPED_FILE` names a file (scripts/test.sh sets it), a line appended there, so
/// the run ends with a count. Under `CI=true` a test that cannot run fails instead.
pub fn skipped(why: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} cannot run under CI=true: {why}");
    }
    let line = format!("{test}: {why}\n");
    let _ = write!(std::io::stderr().lock(), "SKIPPED {line}");
    if let Some(path) = std::env::var_os("WF_SKIPPED_FILE") {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        // one write per line: appends from parallel tests do not interleave
        if let Ok(mut f) = file {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Whether every program is installed (on the PATH or in /usr/sbin, /sbin); if not, records
/// the skip (see [`skipped`]: under `CI=true` the test fails, scripts/setup.sh installs them).
pub fn have(programs: &[&str]) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = path
        .split(':')
        .map(PathBuf::from)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .collect();
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| !dirs.iter().any(|d| d.join(p).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    skipped(&format!("not installed: {}", missing.join(", ")));
    false
}

/// The one opening of every namespace test: a lab of `n` WANs (see [`Lab::up`]), or `None`
/// after recording the skip (see [`skipped`]) when namespace tests cannot run here (not
/// root, or no `ip`). `let Some(lab) = open_lab(2, &[]) else { return };`
pub fn open_lab(n: u32, opts: &[&str]) -> Option<Lab> {
    let root = nix::unistd::geteuid().is_root();
    let ip = Command::new("ip").arg("-V").output().is_ok();
    match (root, ip) {
        (true, true) => Some(Lab::up(n, opts)),
        (false, _) => {
            skipped("needs root for network namespaces");
            None
        }
        (true, false) => {
            skipped("needs the ip command (iproute2)");
            None
        }
    }
}

/// A lab of `n` WANs (see `scripts/lab.sh` for the topology and addresses).
pub struct Lab {
    pub prefix: String,
    pub wans: u32,
}

impl Lab {
    /// Builds a lab with a prefix unique to this process and call. `opts` are passed to
    /// `lab.sh up` (`--no-routes`, `--ipv6`, `--dhcp`). Tests open it through [`open_lab`].
    pub fn up(n: u32, opts: &[&str]) -> Lab {
        let k = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("wf{}x{k}", std::process::id());
        let lab = Lab { prefix, wans: n };
        let mut args = vec!["up".to_string(), lab.prefix.clone(), n.to_string()];
        args.extend(opts.iter().map(|s| s.to_string()));
        lab.script(&args.iter().map(String::as_str).collect::<Vec<_>>());
        lab
    }

    /// Name of the gateway namespace (for `ip netns exec`).
    pub fn gw_ns(&self) -> String {
        format!("{}gw", self.prefix)
    }

    pub fn isp_ns(&self, i: u32) -> String {
        format!("{}isp{i}", self.prefix)
    }

    /// Runs `lab.sh ARGS…`, panicking with its stderr on failure.
    pub fn script(&self, args: &[&str]) -> Output {
        let out = Command::new(repo_root().join("scripts/lab.sh"))
            .args(args)
            .output()
            .expect("run scripts/lab.sh");
        assert!(
            out.status.success(),
            "lab.sh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs a command in the gateway namespace and returns its stdout; panics on failure.
    pub fn gw(&self, cmd: &[&str]) -> String {
        let mut args = vec!["gw", self.prefix.as_str()];
        args.extend_from_slice(cmd);
        String::from_utf8_lossy(&self.script(&args).stdout).into_owned()
    }

    /// `ip route <verb> default via <ISP's address> dev wan<wan> <extra>` in the gateway
    /// (`lab.sh`: ISP `wan` is 192.0.2.(8·wan+1) on the WAN's /29), as a DHCP client would
    /// install it; panics on failure.
    pub fn default_via(&self, verb: &str, wan: u32, extra: &[&str]) -> String {
        let router = format!("192.0.2.{}", 8 * wan + 1);
        let dev = format!("wan{wan}");
        let cmd = ["ip", "route", verb, "default", "via", &router, "dev", &dev];
        self.gw(&[&cmd[..], extra].concat())
    }

    /// A `Command` that runs `program` inside the gateway namespace.
    pub fn gw_command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.gw_ns(), program]);
        c
    }

    /// Thousands of route changes in the gateway, `rounds` times adding and deleting 256
    /// host routes (198.51.100.0/24) in table 200 through wan1: far more notifications
    /// than a netlink socket's buffer holds (one route notification costs about 1 KiB).
    pub fn route_burst(&self, rounds: usize) {
        use std::io::Write;
        let mut input = String::new();
        for _ in 0..rounds {
            for verb in ["add", "del"] {
                for i in 0..=255 {
                    input.push_str(&format!(
                        "route {verb} 198.51.100.{i}/32 dev wan1 table 200\n"
                    ));
                }
            }
        }
        let mut batch = self
            .gw_command("ip")
            .args(["-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("run ip -batch");
        batch
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write the burst");
        assert!(batch.wait().expect("ip -batch").success());
    }

    pub fn carrier(&self, wan: u32, on: bool) {
        let i = wan.to_string();
        self.script(&["carrier", &self.prefix, &i, if on { "on" } else { "off" }]);
    }

    pub fn blackhole(&self, wan: u32, on: bool) {
        let i = wan.to_string();
        self.script(&["blackhole", &self.prefix, &i, if on { "on" } else { "off" }]);
    }

    pub fn loss(&self, wan: u32, pct: u32) {
        let (i, p) = (wan.to_string(), pct.to_string());
        self.script(&["loss", &self.prefix, &i, &p]);
    }

    /// Name of the LAN namespace behind the gateway (a lab opened with `--lan`).
    pub fn lan_ns(&self) -> String {
        format!("{}lan", self.prefix)
    }

    /// Source NAT out of every WAN: `"snat"` (to the WAN's address), `"masquerade"` or
    /// `"off"` (see `lab.sh nat`).
    pub fn nat(&self, mode: &str) {
        self.script(&["nat", &self.prefix, mode]);
    }

    /// The gateway's IPv4 default routes as `ip route show default` prints them.
    pub fn default_routes(&self) -> String {
        self.gw(&["ip", "route", "show", "default"])
    }

    /// The interface the kernel picks for `dst` from the gateway (`ip route get`).
    pub fn route_dev(&self, dst: &str) -> Option<String> {
        let out = self.gw(&["ip", "route", "get", dst]);
        let mut words = out.split_whitespace();
        while let Some(w) = words.next() {
            if w == "dev" {
                return words.next().map(str::to_string);
            }
        }
        None
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/lab.sh"))
            .args(["down", &self.prefix])
            .output();
    }
}

/// Runs `f` on a thread inside network namespace `ns` (network namespaces are per
/// thread), for sockets of the test's own in a lab namespace.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path).expect("open the namespace");
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Polls `check` every 10 ms until it returns true or `timeout` passes; returns whether it
/// did. For kernel state that changes asynchronously (carrier goes through linkwatch).
pub fn wait_for(timeout: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The binary under test: the one cargo built for this test run, or `WF_TEST_BINARY`
/// (a cross-built one), run through `WF_TEST_RUNNER` when set (`qemu-aarch64-static`).
pub fn binary() -> PathBuf {
    std::env::var_os("WF_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wanfailover")))
}

/// The program and leading arguments that run [`binary`].
pub fn binary_command() -> (String, Vec<String>) {
    let bin = binary().to_str().expect("utf-8 path").to_string();
    match std::env::var("WF_TEST_RUNNER") {
        Ok(runner) if !runner.is_empty() => (runner, vec![bin]),
        _ => (bin, Vec::new()),
    }
}

/// A config for a lab of `n` WANs: `wanI` on interface `wanI`, priority I, three targets,
/// with `extra_defaults` appended to `[defaults]` and `extra_top` to the top level.
pub fn lab_config(n: u32, dir: &std::path::Path, extra_top: &str, extra_defaults: &str) -> String {
    let mut s = format!(
        "socket = \"{sock}\"\nhooks_dir = \"{hooks}\"\n{extra_top}\n\n[defaults]\n\
         targets = [\"198.51.100.53\", \"198.51.100.54\", \"203.0.113.53\"]\n\
         interval = \"200ms\"\ntimeout = \"150ms\"\nfailure_interval = \"100ms\"\n\
         recovery_interval = \"200ms\"\ndown = 3\nup = 3\nhold = \"1s\"\nreliability = 1\n\
         {extra_defaults}\n",
        sock = dir.join("wanfailover.sock").display(),
        hooks = dir.join("hooks").display(),
    );
    for i in 1..=n {
        s.push_str(&format!(
            "\n[[wan]]\nname = \"wan{i}\"\ninterface = \"wan{i}\"\npriority = {i}\n"
        ));
    }
    s
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let k = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("wf-{tag}-{}-{k}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The daemon running inside a lab's gateway namespace; stopped (SIGTERM, then SIGKILL)
/// on drop. Its stderr goes to `dir/daemon.log`.
pub struct Daemon {
    pub child: Option<std::process::Child>,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
    pub ns: String,
}

impl Daemon {
    /// Writes `config` to `dir/wanfailover.conf`, starts the daemon and waits until its
    /// socket answers `status`.
    pub fn start(lab: &Lab, dir: &std::path::Path, config: &str) -> Daemon {
        let path = dir.join("wanfailover.conf");
        std::fs::write(&path, config).expect("write config");
        let log = dir.join("daemon.log");
        let (program, prefix) = binary_command();
        let child = lab
            .gw_command(&program)
            .args(prefix)
            .args(["daemon", "-v", "-c", path.to_str().expect("utf-8 path")])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create log"))
            .spawn()
            .expect("spawn daemon");
        let d = Daemon {
            child: Some(child),
            config: path,
            socket: dir.join("wanfailover.sock"),
            log,
            ns: lab.gw_ns(),
        };
        let up = wait_for(std::time::Duration::from_secs(10), || d.cli(&["status"]).0);
        assert!(up, "daemon did not come up:\n{}", d.log_text());
        d
    }

    /// Runs a client command (in the namespace: the socket is a path, so it works from
    /// anywhere, but hooks and `ip` views are the namespace's). Returns (success, stdout,
    /// stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let (program, prefix) = binary_command();
        let out = Command::new(program)
            .args(prefix)
            .args(args)
            .args(["--socket", self.socket.to_str().expect("utf-8 path")])
            .output()
            .expect("run client");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `state` of WAN `name` in `status --json` (field order independent).
    pub fn state_of(&self, name: &str) -> Option<String> {
        let (_, json, _) = self.cli(&["status", "--json"]);
        json_field_of(&json, name, "state")
    }

    /// Panics (with the log) unless WAN `wan` reaches `state` within `within`.
    pub fn expect_state(&self, wan: &str, state: &str, within: std::time::Duration) {
        let ok = wait_for(within, || self.state_of(wan).as_deref() == Some(state));
        assert!(
            ok,
            "{wan} is {:?}, expected {state}\n{}",
            self.state_of(wan),
            self.log_text()
        );
    }

    /// SIGTERM and wait for the exit status (SIGKILL after 10 s).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() > until {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits up to `timeout` for the daemon to exit by itself (after `stop`).
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if let Ok(Some(status)) = self.child.as_mut()?.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// The daemon's pid, while it runs (`ip netns exec` execs it: the child is the daemon).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sends `sig` to the running daemon (SIGSTOP/SIGCONT: it stops reading its sockets).
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let child = self.child.as_ref().expect("daemon running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        nix::sys::signal::kill(pid, sig).expect("signal the daemon");
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}

/// In a JSON array of objects with a `"name"` field, the string or number value of `field`
/// in the object whose name is `name`. Enough for the daemon's own flat status rows.
pub fn json_field_of(json: &str, name: &str, field: &str) -> Option<String> {
    let needle = format!("\"name\":\"{name}\"");
    let compact: String = json.split_whitespace().collect::<Vec<_>>().join("");
    let start = compact.find(&needle)?;
    let obj_start = compact[..start].rfind('{')?;
    let obj_end = start + compact[start..].find('}')?;
    let obj = &compact[obj_start..obj_end];
    let key = format!("\"{field}\":");
    let at = obj.find(&key)? + key.len();
    let rest = &obj[at..];
    let value = if let Some(s) = rest.strip_prefix('"') {
        s.split('"').next()?
    } else {
        rest.split(',').next()?
    };
    Some(value.to_string())
}

//! Test support shared by the end-to-end tests: the namespace lab (`scripts/lab.sh`) as an
//! RAII value that tears itself down, also when a test fails.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// The repository root (where `scripts/lab.sh` is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether namespace tests can run here. Without root they are skipped, except under
/// `CI=true`, where not being able to run them is a failure, never a silent skip.
pub fn lab_available() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if root && ip {
        return true;
    }
    let why = if root { "the ip command is missing" } else { "not root" };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("namespace tests cannot run under CI=true: {why}");
    }
    eprintln!("skipping namespace test: {why}");
    false
}

/// A lab of `n` WANs (see `scripts/lab.sh` for the topology and addresses).
pub struct Lab {
    pub prefix: String,
    pub wans: u32,
}

impl Lab {
    /// Builds a lab with a prefix unique to this process and call. `opts` are passed to
    /// `lab.sh up` (`--no-routes`, `--ipv6`).
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

    /// A `Command` that runs `program` inside the gateway namespace.
    pub fn gw_command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.gw_ns(), program]);
        c
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

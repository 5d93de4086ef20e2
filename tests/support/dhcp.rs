//! Real DHCP clients in a `--dhcp` lab (scripts/lab.sh): starting and stopping them, what
//! their scripts were called for, the kernel's route events, and CPU time from `/proc`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::Lab;

/// The DHCP clients the lab runs (`lab.sh dhcp PREFIX I CLIENT start`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// busybox udhcpc with Debian's `/etc/udhcpc/default.script`
    Udhcpc,
    /// ISC dhclient with Debian's `/sbin/dhclient-script`
    Dhclient,
    Dhcpcd,
}

impl Client {
    pub fn name(self) -> &'static str {
        match self {
            Client::Udhcpc => "udhcpc",
            Client::Dhclient => "dhclient",
            Client::Dhcpcd => "dhcpcd",
        }
    }

    /// The reason its script is called with when a lease was renewed.
    pub fn renew(self) -> &'static str {
        match self {
            Client::Udhcpc => "renew",
            Client::Dhclient | Client::Dhcpcd => "RENEW",
        }
    }

    /// The reason its script is called with when it got a new lease.
    pub fn bound(self) -> &'static str {
        match self {
            Client::Udhcpc => "bound",
            Client::Dhclient | Client::Dhcpcd => "BOUND",
        }
    }
}

/// One call of a client's script, as the lab's wrapper logged it.
#[derive(Clone, Debug)]
pub struct ScriptCall {
    pub client: String,
    pub interface: String,
    pub reason: String,
}

impl Lab {
    /// The lab's own directory (configs, leases, pidfiles, logs, the events file).
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns-lab-{}", self.prefix))
    }

    pub fn dhcp_start(&self, wan: u32, client: Client) {
        let i = wan.to_string();
        self.script(&["dhcp", &self.prefix, &i, client.name(), "start"]);
    }

    pub fn dhcp_stop(&self, wan: u32, client: Client) {
        let i = wan.to_string();
        self.script(&["dhcp", &self.prefix, &i, client.name(), "stop"]);
    }

    /// The pid of the client on `wan` (it runs in the foreground under that pid).
    pub fn dhcp_pid(&self, wan: u32, client: Client) -> u32 {
        let path = self.dir().join(format!("wan{wan}.{}.pid", client.name()));
        let text = std::fs::read_to_string(&path).expect("client pidfile");
        text.trim().parse().expect("pid in the pidfile")
    }

    /// What the client on `wan` printed (for failure messages).
    pub fn dhcp_log(&self, wan: u32, client: Client) -> String {
        let path = self.dir().join(format!("wan{wan}.{}.log", client.name()));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Every script call so far: `<time> <client> <interface> <reason> [router]` lines.
    pub fn script_calls(&self) -> Vec<ScriptCall> {
        let text = std::fs::read_to_string(self.dir().join("events")).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                Some(ScriptCall {
                    client: w.get(1)?.to_string(),
                    interface: w.get(2)?.to_string(),
                    reason: w.get(3)?.to_string(),
                })
            })
            .collect()
    }

    /// How often the script of `client` on `wan` was called for `reason`.
    pub fn calls(&self, wan: u32, client: Client, reason: &str) -> usize {
        let interface = format!("wan{wan}");
        self.script_calls()
            .iter()
            .filter(|c| c.client == client.name() && c.interface == interface && c.reason == reason)
            .count()
    }

    /// The events file as it is (for failure messages).
    pub fn script_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("events")).unwrap_or_default()
    }
}

/// `ip -ts monitor route` in the gateway namespace, writing to a file until dropped.
pub struct RouteMonitor {
    child: Child,
    path: PathBuf,
}

impl RouteMonitor {
    pub fn start(lab: &Lab, path: PathBuf) -> RouteMonitor {
        let out = std::fs::File::create(&path).expect("create the monitor file");
        let child = lab
            .gw_command("ip")
            .args(["-ts", "monitor", "route"])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("start ip monitor");
        // It subscribes right after it starts; nothing the test does before then counts.
        std::thread::sleep(Duration::from_millis(200));
        RouteMonitor { child, path }
    }

    /// The events so far, each as `[time] route` (`[time] Deleted route` for deletions).
    pub fn lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        text.lines().map(|l| l.trim_end().to_string()).collect()
    }

    /// Additions and deletions of IPv4 default routes.
    pub fn default_route_events(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| {
                let route = without_time(l);
                let route = route.strip_prefix("Deleted ").unwrap_or(route);
                route.starts_with("default ")
            })
            .collect()
    }

    /// The first default route another actor than the daemon added on `dev`, as
    /// `ip route show` prints it.
    pub fn first_foreign_added(&self, dev: &str) -> Option<String> {
        let on_dev = format!(" dev {dev} ");
        self.lines()
            .iter()
            .map(|l| without_time(l).to_string())
            .find(|r| {
                let padded = format!("{r} ");
                r.starts_with("default ")
                    && padded.contains(&on_dev)
                    && !padded.contains(" proto 87 ")
            })
    }
}

impl Drop for RouteMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A monitor line without its `[timestamp] ` prefix.
fn without_time(line: &str) -> &str {
    match line.strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, r)| r),
        None => line,
    }
}

/// CPU time (user + system) of process `pid`, of its live descendants and of the children
/// they have reaped (a client's script runs), from `/proc`. Zero when it is gone.
pub fn cpu_time(pid: u32) -> Duration {
    let tick = clock_ticks_per_second();
    let procs = all_stats();
    let mut total_ticks = 0u64;
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        if let Some(s) = procs.iter().find(|s| s.pid == p) {
            total_ticks += s.ticks;
        }
        todo.extend(procs.iter().filter(|s| s.ppid == p).map(|s| s.pid));
    }
    Duration::from_millis(total_ticks * 1000 / tick)
}

struct Stat {
    pid: u32,
    ppid: u32,
    /// utime + stime + cutime + cstime
    ticks: u64,
}

fn all_stats() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // the command name may hold spaces and parentheses: fields start after the last ')'
        let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
        let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        Some(Stat {
            pid,
            ppid: num(1)? as u32,
            ticks: num(11)? + num(12)? + num(13)? + num(14)?,
        })
    })
    .collect()
}

fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

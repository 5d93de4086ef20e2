//! Lab traffic for the routing scenarios (DESIGN.md §10): UDP echo responders and per-port
//! packet counters in the ISP namespaces (`lab.sh echo`, `lab.sh count`), a LAN host's UDP
//! flow that sends every 100 ms and records when each answer came (`scripts/labnet.py
//! flow`), many new flows at once, a TCP server in the gateway and a client in an ISP; and
//! readers of the kernel's routing state and of the daemon's `routing` status.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{repo_root, wait_for, Daemon, Lab, TempDir};

pub const WAN1_ADDR: &str = "192.0.2.10";
pub const WAN2_ADDR: &str = "192.0.2.18";
/// A target on the `lo` of every ISP, where the echo responders answer.
pub const TARGET: &str = "198.51.100.53";
pub const LAN_HOST: &str = "203.0.113.130";
pub const LAN_HOSTS: [&str; 4] = [
    "203.0.113.130",
    "203.0.113.131",
    "203.0.113.132",
    "203.0.113.133",
];
/// The echo port of plain traffic and a VPN's port (a policy's match).
pub const ECHO_PORT: u16 = 7;
pub const VPN_PORT: u16 = 1194;
/// Tools the routing scenarios run (scripts/setup.sh installs them).
pub const TOOLS: &[&str] = &["nft", "conntrack", "python3"];

/// Seconds since the epoch, as `labnet.py` writes them.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn labnet() -> String {
    repo_root()
        .join("scripts/labnet.py")
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

impl Lab {
    /// Runs a command in ISP `wan`'s namespace and returns its stdout; panics on failure.
    pub fn isp(&self, wan: u32, cmd: &[&str]) -> String {
        let i = wan.to_string();
        let mut args = vec!["isp", self.prefix.as_str(), i.as_str()];
        args.extend_from_slice(cmd);
        String::from_utf8_lossy(&self.script(&args).stdout).into_owned()
    }

    /// A UDP echo responder in ISP `wan` on ports 7 and 1194 of its targets.
    pub fn echo(&self, wan: u32) {
        self.script(&["echo", &self.prefix, &wan.to_string()]);
    }

    /// A UDP echo responder in ISP `wan` on ports 7 and 1194 of `addrs` (IPv6 too).
    pub fn echo_at(&self, wan: u32, addrs: &[&str]) {
        let (i, a) = (wan.to_string(), addrs.join(","));
        self.script(&["echo", &self.prefix, &i, "7,1194", &a]);
    }

    /// (Re)installs ISP `wan`'s per-port counters, at zero.
    pub fn count(&self, wan: u32) {
        self.script(&["count", &self.prefix, &wan.to_string()]);
    }

    /// Packets of `proto` ("udp", "tcp") to `port` that reached ISP `wan` since `count`.
    pub fn counted(&self, wan: u32, proto: &str, port: u16) -> u64 {
        self.counts(wan)
            .into_iter()
            .find(|(p, n, _)| p == proto && *n == port)
            .map_or(0, |(_, _, packets)| packets)
    }

    /// Every counter of ISP `wan`: (protocol, destination port, packets).
    pub fn counts(&self, wan: u32) -> Vec<(String, u16, u64)> {
        let out = self.script(&["counted", &self.prefix, &wan.to_string()]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((
                    w.next()?.to_string(),
                    w.next()?.parse().ok()?,
                    w.next()?.parse().ok()?,
                ))
            })
            .collect()
    }

    /// `n` new UDP flows from `srcs` (round robin, source ports from `first_port` up) to
    /// `dst`:`port`, one datagram each.
    pub fn new_flows(&self, srcs: &[&str], dst: &str, port: u16, n: usize, first_port: u16) {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.lan_ns(),
                "python3",
                &labnet(),
                "flows",
            ])
            .args(["--dst", dst, "--dport", &port.to_string()])
            .args(["--srcs", &srcs.join(","), "--count", &n.to_string()])
            .args(["--first-port", &first_port.to_string()])
            .output()
            .expect("run labnet.py flows");
        let sent = String::from_utf8_lossy(&out.stdout);
        assert_eq!(sent.trim(), n.to_string(), "flows sent");
    }

    /// A sysctl of the gateway namespace, as a number.
    pub fn gw_sysctl(&self, key: &str) -> u32 {
        let out = self.gw(&["sysctl", "-n", key]);
        let v = out.trim();
        // fib_multipath_hash_fields reads as 0x0037
        match v.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).expect("hex sysctl"),
            None => v.parse().expect("numeric sysctl"),
        }
    }

    /// The FIB rules of our protocol (87), both families, as `ip rule` prints them.
    pub fn our_rules(&self) -> Vec<String> {
        let v4 = self.gw(&["ip", "rule", "show"]);
        let v6 = self.gw(&["ip", "-6", "rule", "show"]);
        v4.lines()
            .chain(v6.lines())
            .filter(|l| l.contains("proto 87"))
            .map(|l| l.trim().to_string())
            .collect()
    }

    /// Every rule of both families (to compare with the set before the daemon ran).
    pub fn all_rules(&self) -> Vec<String> {
        let v4 = self.gw(&["ip", "rule", "show"]);
        let v6 = self.gw(&["ip", "-6", "rule", "show"]);
        v4.lines().chain(v6.lines()).map(str::to_string).collect()
    }

    /// Every route of our protocol in every table, both families.
    pub fn our_routes(&self) -> Vec<String> {
        let v4 = self.gw(&["ip", "route", "show", "table", "all", "proto", "87"]);
        let v6 = self.gw(&["ip", "-6", "route", "show", "table", "all", "proto", "87"]);
        v4.lines()
            .chain(v6.lines())
            .map(|l| l.trim().to_string())
            .collect()
    }

    /// Routes of table `table`, as `ip route show table T` prints them.
    pub fn table(&self, table: u32) -> String {
        let t = table.to_string();
        let out = self
            .gw_command("ip")
            .args(["route", "show", "table", &t])
            .output()
            .expect("ip route show table");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls (every 10 ms) until the kernel routes `dst` through `dev`; the time it first
    /// did, or `None` after `timeout`.
    pub fn wait_route(&self, dst: &str, dev: &str, timeout: Duration) -> Option<f64> {
        let mut at = None;
        wait_for(timeout, || {
            let seen = self.route_dev(dst).as_deref() == Some(dev);
            if seen {
                at = Some(now());
            }
            seen
        });
        at
    }

    /// The conntrack tool's UDP entries in the gateway, one line each.
    pub fn conntrack_udp(&self) -> Vec<String> {
        let out = self
            .gw_command("conntrack")
            .args(["-L", "-p", "udp"])
            .output()
            .expect("conntrack -L");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// What a [`Flow`] recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    Sent(u64, f64),
    Reply(u64, f64),
    Error(u64, f64),
}

/// A LAN host's UDP flow (`labnet.py flow`): one 5-tuple, a datagram every 100 ms to an
/// ISP's echo responder, every send and answer recorded with its time. Killed on drop.
pub struct Flow {
    child: Child,
    out: PathBuf,
    _dir: TempDir,
}

impl Flow {
    /// From `src`:`sport` to `dst`:`dport`.
    pub fn start(lab: &Lab, src: &str, sport: u16, dst: &str, dport: u16) -> Flow {
        let dir = TempDir::new("flow");
        let out = dir.0.join("flow.log");
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.lan_ns(), "python3", &labnet(), "flow"])
            .args(["--src", src, "--sport", &sport.to_string()])
            .args(["--dst", dst, "--dport", &dport.to_string()])
            .args(["--interval", "0.1", "--out", out.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .spawn()
            .expect("start labnet.py flow");
        Flow {
            child,
            out,
            _dir: dir,
        }
    }

    pub fn events(&self) -> Vec<Event> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let kind = w.next()?;
                let seq = w.next()?.parse().ok()?;
                let at = w.next()?.parse().ok()?;
                match kind {
                    "sent" => Some(Event::Sent(seq, at)),
                    "reply" => Some(Event::Reply(seq, at)),
                    "error" => Some(Event::Error(seq, at)),
                    _ => None,
                }
            })
            .collect()
    }

    /// Times of the answers received at or after `t`.
    pub fn replies_after(&self, t: f64) -> Vec<f64> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Reply(_, at) if at >= t => Some(at),
                _ => None,
            })
            .collect()
    }

    /// Datagrams sent at or after `t`.
    pub fn sent_after(&self, t: f64) -> usize {
        let sent = |e: &Event| matches!(*e, Event::Sent(_, at) if at >= t);
        self.events().iter().filter(|e| sent(e)).count()
    }

    /// Waits up to `timeout` for an answer received at or after `t`; its time.
    pub fn wait_reply_after(&self, t: f64, timeout: Duration) -> Option<f64> {
        let mut first = None;
        wait_for(timeout, || {
            first = self.replies_after(t).first().copied();
            first.is_some()
        });
        first
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP server (`labnet.py tcp-serve`) in the gateway on `addr`:`port`, answering
/// `ping` with `pong`. Killed on drop.
pub struct TcpServer(Child, TempDir);

impl TcpServer {
    pub fn start(lab: &Lab, addr: &str, port: u16) -> TcpServer {
        let dir = TempDir::new("tcp");
        let ready = dir.0.join("ready");
        let child = lab
            .gw_command("python3")
            .args([&labnet(), "tcp-serve", "--addr", addr])
            .args(["--port", &port.to_string()])
            .args(["--ready", ready.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .spawn()
            .expect("start labnet.py tcp-serve");
        let server = TcpServer(child, dir);
        assert!(
            // a python start-up on a loaded machine can take seconds
            wait_for(Duration::from_secs(15), || ready.exists()),
            "TCP server did not start"
        );
        server
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Opens a TCP connection from `src` in ISP `wan` to `dst`:`port` and exchanges one line
/// (`labnet.py tcp-connect`); whether it did within `timeout`.
pub fn tcp_from_isp(lab: &Lab, wan: u32, src: &str, dst: &str, port: u16, timeout: f64) -> bool {
    Command::new("ip")
        .args(["netns", "exec", &lab.isp_ns(wan), "python3", &labnet()])
        .args(["tcp-connect", "--src", src, "--dst", dst])
        .args([
            "--port",
            &port.to_string(),
            "--timeout",
            &timeout.to_string(),
        ])
        .stderr(Stdio::null())
        .status()
        .expect("run labnet.py tcp-connect")
        .success()
}

/// The flows of a policy on the VPN port: a VPN flow (`src`:41194 to `dst`:`VPN_PORT`) and a
/// plain flow (`src`:40007 to `dst`:`ECHO_PORT`), each answered within 3 s. Returns both,
/// running.
pub fn start_policy_flows(lab: &Lab, src: &str, dst: &str) -> (Flow, Flow) {
    let t0 = now();
    let vpn = Flow::start(lab, src, 41194, dst, VPN_PORT);
    let plain = Flow::start(lab, src, 40007, dst, ECHO_PORT);
    assert!(
        vpn.wait_reply_after(t0, Duration::from_secs(3)).is_some(),
        "no answer to the VPN flow"
    );
    assert!(
        plain.wait_reply_after(t0, Duration::from_secs(3)).is_some(),
        "no answer to the plain flow"
    );
    (vpn, plain)
}

/// A `fallback = false` policy's kill switch held since `since` (its WAN down): its flow
/// `vpn` kept sending (at least `min_sent`) and got no answer, not one packet to the VPN
/// port reached ISP `other` since its counters were installed, and the `plain` flow was
/// answered (through `other`) in the last half second.
pub fn assert_held(lab: &Lab, vpn: &Flow, plain: &Flow, since: f64, min_sent: usize, other: u32) {
    let t_end = now();
    assert!(
        vpn.sent_after(since) >= min_sent,
        "the VPN flow kept sending"
    );
    assert_eq!(vpn.replies_after(since + 0.05), Vec::<f64>::new());
    let leaked = lab.counted(other, "udp", VPN_PORT);
    assert_eq!(leaked, 0, "leaked: {:?}", lab.counts(other));
    let answered = plain.replies_after(t_end - 0.5).len();
    assert!(answered >= 3, "plain flow answered {answered} times");
}

/// A TCP server on the gateway's `wan2_addr`:8022, and the control of the replies-through-
/// the-backup-WAN scenario: a client in ISP 2 at `src` (an address the gateway reaches
/// through wan1) connects; without a reply rule the answer leaves through wan1, reaches
/// ISP 1 and the connection fails. Returns the server.
pub fn backup_wan_control(lab: &Lab, wan2_addr: &str, src: &str) -> TcpServer {
    lab.count(1);
    let server = TcpServer::start(lab, wan2_addr, 8022);
    assert!(!tcp_from_isp(lab, 2, src, wan2_addr, 8022, 1.0), "control");
    let via_wan1 = lab.counts(1).iter().any(|(proto, _, _)| proto == "tcp");
    assert!(via_wan1, "the SYN-ACK went to ISP 1: {:?}", lab.counts(1));
    server
}

/// With the daemon `d` and its `from <wan2_addr> lookup 102` rule in force: three
/// connections from ISP 2's `src` are answered, not one packet reaching ISP 1, all through
/// wan2 (the ISPs count by destination port: the answers go to the client's ports).
pub fn backup_wan_answers(lab: &Lab, d: &Daemon, wan2_addr: &str, src: &str) {
    let rule = format!("from {wan2_addr} lookup 102");
    let ok = wait_for(Duration::from_secs(2), || {
        lab.our_rules().iter().any(|r| r.contains(&rule))
    });
    assert!(ok, "{:#?}", lab.our_rules());
    lab.count(1);
    lab.count(2);
    for _ in 0..3 {
        let answered = tcp_from_isp(lab, 2, src, wan2_addr, 8022, 2.0);
        assert!(answered, "{}", d.log_text());
    }
    assert!(lab.counts(1).is_empty(), "via wan1: {:?}", lab.counts(1));
    let via_wan2 = lab.counts(2).iter().any(|(proto, _, _)| proto == "tcp");
    assert!(via_wan2, "answers through wan2: {:?}", lab.counts(2));
}

/// The `routing` object of `status --json`, without white space, or "" if there is none.
pub fn routing_status(d: &Daemon) -> String {
    let (_, json, _) = d.cli(&["status", "--json"]);
    let compact: String = json.split_whitespace().collect();
    let Some(start) = compact.find("\"routing\":{") else {
        return String::new();
    };
    // the object ends where its braces balance
    let body = &compact[start + "\"routing\":".len()..];
    let mut depth = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return body[..=i].to_string();
                }
            }
            _ => {}
        }
    }
    String::new()
}

/// A number of the `routing` object (`flushes`, `flushed`).
pub fn routing_number(d: &Daemon, key: &str) -> Option<u64> {
    let r = routing_status(d);
    let needle = format!("\"{key}\":");
    let at = r.find(&needle)? + needle.len();
    let digits: String = r[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The WAN policy `name` uses now (`"uses"`), `None` when it uses none (or is unknown).
pub fn policy_uses(d: &Daemon, name: &str) -> Option<String> {
    let r = routing_status(d);
    super::json_field_of(&r, name, "uses").filter(|w| w != "null")
}

/// Whether policy `name` is blocked (its kill switch holds its traffic).
pub fn policy_blocked(d: &Daemon, name: &str) -> Option<bool> {
    let r = routing_status(d);
    super::json_field_of(&r, name, "blocked").map(|b| b == "true")
}

/// `history --json` entries of kind `flush`, compact.
pub fn flush_entries(d: &Daemon) -> Vec<String> {
    let (_, json, _) = d.cli(&["history", "--json"]);
    let compact: String = json.split_whitespace().collect();
    compact
        .split("{\"at_us\"")
        .filter(|e| e.contains("\"kind\":\"flush\""))
        .map(str::to_string)
        .collect()
}

/// A config of `n` lab WANs (see [`super::lab_config`]) with routing keys `top` at the top
/// level, `per_wan[i]` appended to WAN i+1's table and `tail` (policies) at the end.
pub fn routing_config(
    n: u32,
    dir: &std::path::Path,
    top: &str,
    per_wan: &[&str],
    tail: &str,
) -> String {
    let mut s = super::lab_config(n, dir, top, "");
    for (i, extra) in per_wan.iter().enumerate() {
        let key = format!("priority = {}\n", i + 1);
        s = s.replace(&key, &format!("{key}{extra}\n"));
    }
    s.push_str(tail);
    s
}

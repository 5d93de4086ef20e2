//! End-to-end: HTTP and DNS checks through the real daemon. Real servers no one here wrote
//! (busybox `httpd` with CGI scripts, `dnsmasq`) run in the lab's ISP namespaces; faults
//! are nft rules in one ISP or a changed answer of its web server. Each scenario is what a
//! user relies on: a WAN that answers pings but not the web goes down on its HTTP check
//! and traffic moves; a captive portal says so in `health`; a dead DNS server fails that
//! WAN's DNS-based checks only; `reliability` counts passes of any kind.
#![cfg(feature = "checks")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::servers::*;
use support::*;
use wanfailover::control::client;
use wanfailover::control::protocol::{Request, Response};
use wanfailover::engine::{TargetHealth, WanHealth};

/// The probe interval and check timeout: doubled for a daemon run under qemu-user
/// (`WF_TEST_RUNNER`), whose emulated DNS check can take longer than 250 ms on its own.
fn interval_ms() -> u64 {
    300 * emulation_factor()
}
fn timeout_ms() -> u64 {
    250 * emulation_factor()
}
fn emulation_factor() -> u64 {
    if std::env::var_os("WF_TEST_RUNNER").is_some() {
        2
    } else {
        1
    }
}
const DOWN: u64 = 3;
/// Process start-up of the CLI that reads the state, the loop's own scheduling and a CGI
/// fork in busybox httpd, on a loaded two-core machine.
const SLACK_MS: u64 = 700;
/// The ICMP target (apart from the web and DNS servers' addresses, so a rule can drop
/// one kind alone).
const PING: &str = "198.51.100.54";

/// The daemon, its servers and its lab; dropped in this order.
struct Scene {
    d: Daemon,
    _web: Vec<Server>,
    dns: Vec<Option<Server>>,
    /// Each ISP's document root (`roots[i - 1]`).
    roots: Vec<PathBuf>,
    dir: TempDir,
    lab: Lab,
}

/// Two WANs, a web server and a DNS server in each ISP, and the daemon with `targets`
/// (TOML) and `reliability` for both WANs; waits until both are up and wan1 carries the
/// traffic. `None` (the skip recorded) where the lab or the servers cannot run.
fn scene(tag: &str, targets: &str, reliability: u32) -> Option<Scene> {
    if !have(SERVERS) || !have(&["nft"]) {
        return None;
    }
    let lab = open_lab(2, &[])?;
    let dir = TempDir::new(tag);
    let roots: Vec<PathBuf> = (1..=2)
        .map(|i| docroot(&dir.0.join(format!("isp{i}"))))
        .collect();
    let web = (1..=2)
        .map(|i| Server::web(&lab, i, &roots[i as usize - 1], WEB))
        .collect();
    let dns = (1..=2)
        .map(|i| Some(Server::dns(&lab, i, &dir.0, &[])))
        .collect();
    let d = Daemon::start(&lab, &dir.0, &config(&dir.0, targets, reliability));
    let s = Scene {
        d,
        _web: web,
        dns,
        roots,
        dir,
        lab,
    };
    let ready = wait_for(Duration::from_secs(10), || {
        s.state("wan1") == "up" && s.state("wan2") == "up" && s.route() == "wan1"
    });
    assert!(
        ready,
        "{}",
        s.report("wan1 and wan2 never both up, wan1 first")
    );
    Some(s)
}

fn config(dir: &Path, targets: &str, reliability: u32) -> String {
    format!(
        "socket = \"{sock}\"\nhooks_dir = \"{hooks}\"\n\n[defaults]\n\
         targets = {targets}\ndns = [\"{DNS}\"]\n\
         interval = \"{INTERVAL_MS}ms\"\ntimeout = \"{TIMEOUT_MS}ms\"\n\
         failure_interval = \"150ms\"\nrecovery_interval = \"{INTERVAL_MS}ms\"\n\
         down = {DOWN}\nup = 3\nhold = \"1s\"\nreliability = {reliability}\n\n\
         [[wan]]\nname = \"wan1\"\ninterface = \"wan1\"\npriority = 1\n\n\
         [[wan]]\nname = \"wan2\"\ninterface = \"wan2\"\npriority = 2\n",
        sock = dir.join("wanfailover.sock").display(),
        hooks = dir.join("hooks").display(),
        INTERVAL_MS = interval_ms(),
        TIMEOUT_MS = timeout_ms(),
    )
}

fn http_204() -> String {
    format!("{{ http = \"http://{WEB}/cgi-bin/generate_204\" }}")
}

fn http_by_name() -> String {
    format!("{{ http = \"http://{NAME}/cgi-bin/generate_204\" }}")
}

fn dns_check() -> String {
    format!("{{ dns = \"{DNS}\", name = \"{NAME}\" }}")
}

impl Scene {
    fn state(&self, wan: &str) -> String {
        self.d.state_of(wan).unwrap_or_default()
    }

    /// The interface the gateway's traffic to the web server leaves by.
    fn route(&self) -> String {
        self.lab.route_dev(WEB).unwrap_or_default()
    }

    fn health(&self) -> Vec<WanHealth> {
        match client::request(&self.d.socket, &Request::Health, Duration::from_secs(2)) {
            Ok(Response::Health(wans)) => wans,
            other => panic!("health: {other:?}"),
        }
    }

    /// The first target of `kind` of `wan` in `health`.
    fn target(&self, wan: &str, kind: &str) -> TargetHealth {
        let wans = self.health();
        let w = wans
            .iter()
            .find(|w| w.name == wan)
            .expect("the WAN in health");
        let t = w.targets.iter().find(|t| t.kind == kind);
        t.cloned().expect("a target of that kind")
    }

    /// Replaces one ISP's nft rules of this test (none: `""`), dropping packets into it.
    fn drop_in(&self, isp: u32, rules: &str) {
        let ruleset = format!(
            "table inet checks\ndelete table inet checks\ntable inet checks {{\n chain in {{\n  \
             type filter hook prerouting priority -300;\n  {rules}\n }}\n}}\n"
        );
        nft(&self.lab, isp, &self.dir.0, &ruleset);
    }

    /// ISP `isp`'s answer to `/cgi-bin/generate_204` from now on: the CGI reply `reply`
    /// (written beside and renamed over, so no request sees half a script).
    fn answer_204_with(&self, isp: u32, reply: &str) {
        let cgi = self.roots[isp as usize - 1].join("cgi-bin");
        let next = cgi.join(".generate_204.new");
        std::fs::write(&next, format!("#!/bin/sh\nprintf '{reply}'\n")).unwrap();
        std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&next, cgi.join("generate_204")).unwrap();
    }

    /// Waits up to `bound` for `wan` to reach `state`; how long it took.
    fn wait_state(&self, wan: &str, state: &str, bound: Duration) -> Option<Duration> {
        let start = Instant::now();
        wait_for(bound, || self.state(wan) == state).then(|| start.elapsed())
    }

    /// Asserts `wan` stays `state` for `span`.
    fn stays(&self, wan: &str, state: &str, span: Duration, why: &str) {
        let until = Instant::now() + span;
        while Instant::now() < until {
            let now = self.state(wan);
            assert_eq!(now, state, "{}", self.report(why));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn report(&self, what: &str) -> String {
        format!(
            "{what}\nroutes:\n{}\nstatus:\n{}\nhealth:\n{}\nhistory:\n{}\nlog:\n{}",
            self.lab.default_routes(),
            self.d.cli(&["status"]).1,
            self.d.cli(&["health"]).1,
            self.d.cli(&["history"]).1,
            self.d.log_text()
        )
    }
}

/// `down × interval + timeout` plus slack: the longest a WAN may take to go down after
/// its last passed round was sent.
fn detection_bound() -> Duration {
    Duration::from_millis(DOWN * interval_ms() + timeout_ms() + SLACK_MS)
}

/// A WAN's way back: `up` passed rounds and `hold` since the last failure, with room.
fn recovery_bound() -> Duration {
    Duration::from_millis(3 * interval_ms() + 1_000 + timeout_ms() + 2 * SLACK_MS)
}

#[test]
fn pings_pass_but_tcp_80_is_dropped_the_http_check_takes_the_wan_down() {
    let targets = format!("[\"{PING}\", {}]", http_204());
    let Some(s) = scene("checks-tcp80", &targets, 2) else {
        return;
    };
    s.drop_in(1, &format!("ip daddr {WEB} tcp dport 80 drop"));
    let took = s.wait_state("wan1", "down", detection_bound());
    let took = took.unwrap_or_else(|| panic!("{}", s.report("wan1 not down in time")));
    eprintln!("tcp 80 dropped: wan1 down after {} ms", took.as_millis());
    let moved = wait_for(Duration::from_secs(1), || s.route() == "wan2");
    assert!(moved, "{}", s.report("traffic did not move to wan2"));
    let (ping, web) = (s.target("wan1", "icmp"), s.target("wan1", "http"));
    assert_eq!(ping.result, "pass", "{}", s.report("pings still pass"));
    assert_eq!(
        (web.result.as_str(), web.cause.as_deref()),
        ("fail", Some("timeout")),
        "{}",
        s.report("the HTTP check is what failed")
    );
    assert_eq!(s.target("wan2", "http").result, "pass");

    // recovery and failback
    s.drop_in(1, "");
    let back = s.wait_state("wan1", "up", recovery_bound());
    assert!(back.is_some(), "{}", s.report("wan1 did not recover"));
    let failback = wait_for(Duration::from_secs(1), || s.route() == "wan1");
    assert!(failback, "{}", s.report("no failback to wan1"));
    assert_eq!(s.target("wan1", "http").result, "pass");
}

#[test]
fn a_captive_portal_takes_the_wan_down_with_the_cause_in_health() {
    // a check-only list: nothing but the HTTP check decides
    let targets = format!("[{}]", http_204());
    let Some(s) = scene("checks-portal", &targets, 1) else {
        return;
    };
    s.answer_204_with(
        1,
        r"Status: 302 Found\r\nLocation: http://192.0.2.1/login\r\n\r\n",
    );
    let down = s.wait_state("wan1", "down", detection_bound());
    assert!(
        down.is_some(),
        "{}",
        s.report("a redirect did not take wan1 down")
    );
    let moved = wait_for(Duration::from_secs(1), || s.route() == "wan2");
    assert!(moved, "{}", s.report("traffic did not move to wan2"));
    let web = s.target("wan1", "http");
    assert_eq!(
        web.cause.as_deref(),
        Some("HTTP 302 Found: captive portal?"),
        "{}",
        s.report("the cause in health")
    );
    let (ok, table, _) = s.d.cli(&["health"]);
    assert!(
        ok && table.contains("HTTP 302 Found: captive portal?"),
        "{table}"
    );
    let (ok, json, _) = s.d.cli(&["health", "--json"]);
    assert!(
        ok && json.contains(r#""cause":"HTTP 302 Found: captive portal?""#),
        "{json}"
    );

    // the portal's other face: its login page, 200 instead of 204
    s.answer_204_with(
        1,
        r"Content-Type: text/html\r\n\r\n<html><title>Hotel WiFi login</title></html>\n",
    );
    let said = wait_for(Duration::from_secs(2), || {
        s.target("wan1", "http").cause.as_deref()
            == Some("HTTP 200 OK instead of 204: captive portal?")
    });
    assert!(said, "{}", s.report("the login page's cause"));
    assert_eq!(s.state("wan1"), "down");

    // logged in: the portal lets the check through
    s.answer_204_with(1, r"Status: 204 No Content\r\n\r\n");
    let back = s.wait_state("wan1", "up", recovery_bound());
    assert!(back.is_some(), "{}", s.report("wan1 did not recover"));
    assert!(wait_for(Duration::from_secs(1), || s.route() == "wan1"));
}

#[test]
fn a_dead_dns_server_fails_that_wans_dns_and_http_by_name_only() {
    let targets = format!("[\"{PING}\", {}, {}]", dns_check(), http_by_name());
    let Some(mut s) = scene("checks-dns", &targets, 2) else {
        return;
    };
    if let Some(mut server) = s.dns[0].take() {
        server.stop();
    }
    let down = s.wait_state("wan1", "down", detection_bound());
    assert!(down.is_some(), "{}", s.report("wan1 not down without DNS"));
    let moved = wait_for(Duration::from_secs(1), || s.route() == "wan2");
    assert!(moved, "{}", s.report("traffic did not move to wan2"));
    let (dns, web) = (s.target("wan1", "dns"), s.target("wan1", "http"));
    // nothing listens on port 53 any more: the ISP answers port unreachable
    assert_eq!(
        dns.cause.as_deref(),
        Some("connection refused"),
        "{}",
        s.report("dns cause")
    );
    assert_eq!(
        web.cause.as_deref(),
        Some("resolving the host name: connection refused"),
        "{}",
        s.report("http cause")
    );
    assert_eq!(s.target("wan1", "icmp").result, "pass");
    // wan2 asks its own ISP's server: it passes, and was never refused. A cause is the
    // last failure's and stays after passes, so one late answer on a loaded machine
    // ("timeout") may show here without being what this test is about.
    for kind in ["icmp", "dns", "http"] {
        let t = s.target("wan2", kind);
        assert_eq!(t.result, "pass", "wan2 {kind}: {t:?}");
        let refused = t.cause.as_deref().is_some_and(|c| c.contains("refused"));
        assert!(!refused, "wan2 {kind} reached wan1's dead server: {t:?}");
    }
    assert_eq!(s.state("wan2"), "up");

    // the server comes back: so does the WAN, and the traffic
    s.dns[0] = Some(Server::dns(&s.lab, 1, &s.dir.0, &[]));
    let back = s.wait_state("wan1", "up", recovery_bound());
    assert!(back.is_some(), "{}", s.report("wan1 did not recover"));
    assert!(wait_for(Duration::from_secs(1), || s.route() == "wan1"));
}

#[test]
fn reliability_2_passes_on_any_two_kinds() {
    let targets = format!("[\"{PING}\", {}, {}]", http_204(), dns_check());
    let Some(s) = scene("checks-mixed", &targets, 2) else {
        return;
    };
    let ping = format!("ip daddr {PING} icmp type echo-request drop");
    let web = format!("ip daddr {WEB} tcp dport 80 drop");
    let dns = format!("ip daddr {DNS} udp dport 53 drop");
    // a WAN that would be down by now stays up: longer than the detection bound
    let span = detection_bound();
    for (kind, rule) in [("icmp", &ping), ("http", &web), ("dns", &dns)] {
        s.drop_in(1, rule);
        let failing = wait_for(span, || s.target("wan1", kind).result == "fail");
        assert!(failing, "{}", s.report(&format!("{kind} never failed")));
        s.stays("wan1", "up", span, &format!("{kind} alone took wan1 down"));
        s.drop_in(1, "");
        let passing = wait_for(span, || s.target("wan1", kind).result == "pass");
        assert!(
            passing,
            "{}",
            s.report(&format!("{kind} did not pass again"))
        );
    }
    // two kinds at once leave one pass per round: down
    s.drop_in(1, &format!("{ping}\n  {web}"));
    let down = s.wait_state("wan1", "down", detection_bound());
    assert!(
        down.is_some(),
        "{}",
        s.report("two kinds lost, wan1 still up")
    );
    assert!(wait_for(Duration::from_secs(1), || s.route() == "wan2"));
    assert_eq!(s.state("wan2"), "up");
}

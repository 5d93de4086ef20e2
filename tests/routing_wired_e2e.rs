//! The routing half wired into the real daemon (DESIGN.md §10), in the lab: per-WAN tables
//! and reply rules, a policy rule with its kill switch, balance mode's weighted multipath
//! default and hash sysctls appear in the gateway's kernel; a stop removes them all and
//! puts the sysctls back; after `kill -9` a restarted daemon takes over what the killed
//! one left and its stop leaves the kernel as it was before the first start. A failover
//! records a conntrack flush in `history`. A rule deleted while the rule and route
//! notifications overflow comes back through a resync. Documentation addresses only.
#![cfg(feature = "balance")]

mod support;

use std::time::Duration;

use support::{lab_config, open_lab, wait_for, Daemon, Lab, TempDir};

const SETTLE: Duration = Duration::from_secs(10);
const HASH_POLICY: &str = "/proc/sys/net/ipv4/fib_multipath_hash_policy";
const HASH_FIELDS: &str = "/proc/sys/net/ipv4/fib_multipath_hash_fields";

/// Balance over two WANs (weights 3 and 1, sticky by source) with a VPN policy on wan2
/// that must never leak.
fn balance_config(dir: &std::path::Path) -> String {
    let base = lab_config(2, dir, "mode = \"balance\"\nsticky = \"source\"", "");
    let base = base.replacen("priority = 1\n", "priority = 1\nweight = 3\n", 1);
    format!(
        "{base}\n[[policy]]\nname = \"vpn\"\nwan = \"wan2\"\nprotocol = \"udp\"\n\
         dport = 1194\nfallback = false\n"
    )
}

/// What the daemon owns, as `ip` shows it in the gateway.
struct Seen {
    rules: String,
    table1: String,
    table2: String,
    main: String,
}

fn seen(lab: &Lab) -> Seen {
    Seen {
        rules: lab.gw(&["ip", "rule", "show"]),
        table1: table(lab, 101),
        table2: table(lab, 102),
        main: lab.gw(&["ip", "route", "show"]),
    }
}

/// A table's routes; nothing when the table does not exist (never used, or emptied).
fn table(lab: &Lab, t: u32) -> String {
    let cmd = format!("ip route show table {t} 2>/dev/null; true");
    lab.gw(&["sh", "-c", &cmd])
}

impl Seen {
    /// Everything balance_config asks for is in force.
    fn all_there(&self) -> bool {
        self.rules.contains("10000:\tfrom 192.0.2.10 lookup 101")
            && self.rules.contains("10001:\tfrom 192.0.2.18 lookup 102")
            && self.rules.contains("9000:")
            && self.rules.contains("dport 1194 lookup 102")
            && self.table1.contains("default via 192.0.2.9 dev wan1")
            && self.table2.contains("default via 192.0.2.17 dev wan2")
            && self.table2.contains("unreachable default")
            && self
                .main
                .contains("nexthop via 192.0.2.9 dev wan1 weight 3")
            && self
                .main
                .contains("nexthop via 192.0.2.17 dev wan2 weight 1")
    }

    /// Nothing of the daemon's is left.
    fn clean(&self) -> bool {
        let ours = ["9000:", "10000:", "10001:", "lookup 101", "lookup 102"];
        !ours.iter().any(|r| self.rules.contains(r))
            && self.table1.trim().is_empty()
            && self.table2.trim().is_empty()
            && !self.main.contains("nexthop")
    }
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rules:\n{}table 101:\n{}table 102:\n{}main:\n{}",
            self.rules, self.table1, self.table2, self.main
        )
    }
}

fn sysctls(lab: &Lab) -> (String, String) {
    let read = |p: &str| lab.gw(&["cat", p]).trim().to_string();
    (read(HASH_POLICY), read(HASH_FIELDS))
}

fn wait_all_there(lab: &Lab, d: &Daemon) {
    let ok = wait_for(SETTLE, || seen(lab).all_there());
    assert!(ok, "not in force:\n{}\n{}", seen(lab), d.log_text());
}

#[test]
fn rules_tables_multipath_and_sysctls_come_and_go_with_the_daemon() {
    let Some(lab) = open_lab(2, &["--lan"]) else {
        return;
    };
    let dir = TempDir::new("routing-wired");
    // distinct originals, so a restore to the daemon's own values would show
    lab.gw(&["sysctl", "-qw", "net.ipv4.fib_multipath_hash_fields=7"]);
    let before = sysctls(&lab);
    assert!(seen(&lab).clean(), "{}", seen(&lab));

    let mut d = Daemon::start(&lab, &dir.0, &balance_config(&dir.0));
    wait_all_there(&lab, &d);
    assert_eq!(sysctls(&lab), ("3".into(), "1".into()), "sticky source");
    let (_, json, _) = d.cli(&["status", "--json"]);
    for want in [
        r#""routing":{"mode":"balance","sticky":"source","#,
        r#""multipath":[{"wan":"wan1","weight":3},{"wan":"wan2","weight":1}]"#,
        r#""policies":[{"name":"vpn","wan":"wan2","uses":"wan2","blocked":false}]"#,
    ] {
        assert!(json.contains(want), "{want} not in {json}");
    }
    let (_, text, _) = d.cli(&["status"]);
    assert!(text.contains("mode: balance (sticky source); multipath: wan1 3, wan2 1"));
    assert!(text.contains("policy vpn: wan2"), "{text}");

    // stop: all gone, the sysctls as they were
    let status = d.stop().expect("exit status");
    assert!(status.success(), "{}", d.log_text());
    assert!(seen(&lab).clean(), "left:\n{}", seen(&lab));
    assert_eq!(sysctls(&lab), before);

    // kill -9: everything stays; a new daemon takes it over and its stop cleans up
    let mut d = Daemon::start(&lab, &dir.0, &balance_config(&dir.0));
    wait_all_there(&lab, &d);
    d.kill9();
    assert!(seen(&lab).all_there(), "a killed daemon cleans nothing");
    assert_eq!(sysctls(&lab), ("3".into(), "1".into()));
    let mut d = Daemon::start(&lab, &dir.0, &balance_config(&dir.0));
    wait_all_there(&lab, &d);
    assert!(
        d.log_text().contains("of a previous run found"),
        "{}",
        d.log_text()
    );
    // one multipath route, not a second beside the leftover
    assert_eq!(seen(&lab).main.matches("nexthop via 192.0.2.9").count(), 1);
    let status = d.stop().expect("exit status");
    assert!(status.success(), "{}", d.log_text());
    assert!(seen(&lab).clean(), "left after restart:\n{}", seen(&lab));
    assert_eq!(
        sysctls(&lab),
        before,
        "the originals from before the first start"
    );
    assert!(
        !dir.0.join("wanfailover.routes").exists(),
        "state file removed"
    );
}

#[test]
fn a_failover_flushes_and_history_says_so() {
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let dir = TempDir::new("routing-flush");
    let mut d = Daemon::start(&lab, &dir.0, &lab_config(2, &dir.0, "", ""));
    let up = wait_for(SETTLE, || d.state_of("wan1").as_deref() == Some("up"));
    assert!(up, "{}", d.log_text());
    lab.carrier(1, false);
    let flushed = wait_for(SETTLE, || d.cli(&["history"]).1.contains("flush"));
    let (_, history, _) = d.cli(&["history", "--json"]);
    assert!(flushed, "{history}\n{}", d.log_text());
    assert!(
        history.contains(r#""kind":"flush","wan":"wan1","from":"wan1""#),
        "{history}"
    );
    assert!(history.contains("conntrack entries deleted"), "{history}");
    let (_, json, _) = d.cli(&["status", "--json"]);
    assert!(
        json.contains(r#""routing":{"mode":"failover","sticky":null,"multipath":[]"#),
        "{json}"
    );
    assert!(json.contains(r#""flushes":1"#), "{json}");
    d.stop();
}

/// Dual-stack WANs in balance mode: the IPv6 half of every object, and a restart after
/// `kill -9` that finds them under the metrics they were added with.
#[test]
fn ipv6_tables_rules_and_multipath_survive_a_restart() {
    let Some(lab) = open_lab(2, &["--ipv6"]) else {
        return;
    };
    let dir = TempDir::new("routing-wired6");
    let config = lab_config(2, &dir.0, "mode = \"balance\"", "")
        .replace(
            "targets = [\"198.51.100.53\", \"198.51.100.54\", \"203.0.113.53\"]",
            "targets = [\"198.51.100.53\", \"2001:db8:ff::53\"]",
        )
        .replace(
            "priority = 1\n",
            "priority = 1\nfamily = \"both\"\nweight = 3\n",
        )
        .replace("priority = 2\n", "priority = 2\nfamily = \"both\"\n");
    let v6 = |args: &[&str]| {
        let cmd = format!("ip -6 {} 2>/dev/null; true", args.join(" "));
        lab.gw(&["sh", "-c", &cmd])
    };
    let there = || {
        let rules = v6(&["rule", "show"]);
        let t1 = v6(&["route", "show", "table", "101"]);
        let main = v6(&["route", "show"]);
        rules.contains("from 2001:db8:1::2 lookup 101")
            && rules.contains("from 2001:db8:2::2 lookup 102")
            && t1.contains("default via 2001:db8:1::1 dev wan1")
            && main.contains("nexthop via 2001:db8:1::1 dev wan1 weight 3")
            && main.contains("nexthop via 2001:db8:2::1 dev wan2 weight 1")
    };
    let clean = || {
        let rules = v6(&["rule", "show"]);
        !rules.contains("lookup 101")
            && !rules.contains("lookup 102")
            && v6(&["route", "show", "table", "101"]).trim().is_empty()
            && !v6(&["route", "show"]).contains("nexthop")
    };
    let mut d = Daemon::start(&lab, &dir.0, &config);
    let ok = wait_for(SETTLE, there);
    assert!(
        ok,
        "{}\n{}",
        v6(&["route", "show", "table", "all"]),
        d.log_text()
    );
    d.kill9();
    let mut d = Daemon::start(&lab, &dir.0, &config);
    let ok = wait_for(SETTLE, there);
    assert!(ok, "after restart:\n{}", d.log_text());
    // still in force a moment later, nothing left half-done by the restart
    std::thread::sleep(Duration::from_millis(500));
    assert!(there(), "{}", v6(&["route", "show", "table", "all"]));
    let status = d.stop().expect("exit status");
    assert!(status.success(), "{}", d.log_text());
    assert!(clean(), "left:\n{}", v6(&["route", "show", "table", "all"]));
}

/// Drift: a reply rule deleted with `ip rule del` and a table emptied with
/// `ip route flush table`, as an admin script or a firewall reload does, come back at once
/// through the rule and route notifications, and only once (no loop with our own deletes).
#[test]
fn a_deleted_rule_and_a_flushed_table_come_back_at_once() {
    let Some(lab) = open_lab(2, &["--lan"]) else {
        return;
    };
    let dir = TempDir::new("routing-drift");
    let mut d = Daemon::start(&lab, &dir.0, &balance_config(&dir.0));
    wait_all_there(&lab, &d);
    let started = std::time::Instant::now();
    lab.gw(&["ip", "rule", "del", "priority", "10001"]);
    lab.gw(&["ip", "route", "flush", "table", "101"]);
    // (too quick to catch them gone with `ip`: the log proves both deletes were seen)
    let back = wait_for(Duration::from_secs(2), || seen(&lab).all_there());
    let took = started.elapsed();
    assert!(back, "not back:\n{}\n{}", seen(&lab), d.log_text());
    eprintln!("drift repaired in {took:?}");
    let drift = |d: &Daemon| d.log_text().matches("deleted by someone else").count();
    // `ip route flush` deletes again in rounds while the table is not empty: the re-add may
    // be deleted once more before it gives up
    let repaired = drift(&d);
    assert!((2..=12).contains(&repaired), "{}", d.log_text());
    // settled: no more operations, no more drift (our own re-adds are not deletions)
    std::thread::sleep(Duration::from_secs(1));
    assert!(seen(&lab).all_there(), "{}", seen(&lab));
    assert_eq!(drift(&d), repaired, "{}", d.log_text());
    // a stop's own deletes are not drift either: everything goes
    let status = d.stop().expect("exit status");
    assert!(status.success(), "{}", d.log_text());
    assert!(seen(&lab).clean(), "left:\n{}", seen(&lab));
}

/// Lost notifications: the daemon is stopped (SIGSTOP), a burst of route changes in a side
/// table overflows its rule and route notification socket, and a reply rule deleted then
/// goes unheard. After SIGCONT the daemon reads `ENOBUFS`, dumps its rules and routes
/// again, and the rule comes back.
#[test]
fn a_rule_deleted_while_notifications_overflow_comes_back() {
    let Some(lab) = open_lab(2, &["--lan"]) else {
        return;
    };
    let dir = TempDir::new("routing-enobufs");
    let mut d = Daemon::start(&lab, &dir.0, &balance_config(&dir.0));
    wait_all_there(&lab, &d);
    d.signal(nix::sys::signal::Signal::SIGSTOP);
    // the buffer full first, so that the deletion's notification is dropped
    lab.route_burst(20);
    lab.gw(&["ip", "rule", "del", "priority", "10001"]);
    lab.route_burst(5);
    assert!(!seen(&lab).rules.contains("10001:"), "deleted");
    let started = std::time::Instant::now();
    d.signal(nix::sys::signal::Signal::SIGCONT);
    let back = wait_for(Duration::from_secs(3), || seen(&lab).all_there());
    let took = started.elapsed();
    assert!(back, "not back:\n{}\n{}", seen(&lab), d.log_text());
    eprintln!("rule back {took:?} after SIGCONT");
    let log = d.log_text();
    assert!(
        log.contains("routing: rule and route notifications lost"),
        "the burst did not overflow the notification socket, so nothing was tested:\n{log}"
    );
    // the resync brought it back, not a notification of the deletion
    assert!(log.contains("is not in the kernel any more"), "{log}");
    assert!(!log.contains("deleted by someone else"), "{log}");
    let status = d.stop().expect("exit status");
    assert!(status.success(), "{}", d.log_text());
    assert!(seen(&lab).clean(), "left:\n{}", seen(&lab));
}

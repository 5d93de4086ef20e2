//! Multi-WAN routing (DESIGN.md §10) for IPv6 traffic, with the real daemon in a dual-stack
//! lab (`lab.sh up … --ipv6`, both WANs `family = "both"`): replies to a connection that
//! came in on the backup WAN leave through it, and a `[[policy]]` matching IPv6 traffic
//! from the LAN's routed IPv6 prefix (`--lan --ipv6`, no NAT) takes its WAN and, with
//! `fallback = false`, never another one. Counted at each ISP with nft counters
//! (`lab.sh count`), answered by UDP echo responders on the ISPs' IPv6 target.
//!
//! Probe profile as in `routing_daemon_e2e.rs` (`support::lab_config`): a blackholed WAN
//! is down within 0.95 s.
#![cfg(feature = "balance")]

mod support;

use std::time::Duration;

use support::routing::*;
use support::*;

/// The IPv6 target on the `lo` of every ISP.
const TARGET6: &str = "2001:db8:ff::53";
const WAN2_ADDR6: &str = "2001:db8:2::2";
/// A LAN host's IPv6 address (`lab.sh up … --lan --ipv6`).
const LAN_HOST6: &str = "2001:db8:100::130";
/// The detection bound of the probe profile plus the tests' own polling (see
/// `routing_daemon_e2e.rs`).
const DOWN_WITHIN: f64 = 0.95 + 0.3;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Two dual-stack WANs (one IPv4 and one IPv6 target each) with `tail` (policies) appended.
fn dual_stack_config(dir: &std::path::Path, tail: &str) -> String {
    routing_config(2, dir, "", &[], tail)
        .replace(
            "targets = [\"198.51.100.53\", \"198.51.100.54\", \"203.0.113.53\"]",
            &format!("targets = [\"{TARGET}\", \"{TARGET6}\"]"),
        )
        .replace("priority = 1\n", "priority = 1\nfamily = \"both\"\n")
        .replace("priority = 2\n", "priority = 2\nfamily = \"both\"\n")
}

/// The interface the kernel picks for `dst` (IPv6) from the gateway.
fn route_dev6(lab: &Lab, dst: &str) -> Option<String> {
    let out = lab.gw(&["ip", "-6", "route", "get", dst]);
    let mut words = out.split_whitespace().skip_while(|w| *w != "dev");
    words.nth(1).map(str::to_string)
}

/// IPv6 routes of table `t` in the gateway ("" when it has none).
fn table6(lab: &Lab, t: u32) -> String {
    let cmd = format!("ip -6 route show table {t} 2>/dev/null; true");
    lab.gw(&["sh", "-c", &cmd])
}

fn expect_route6(lab: &Lab, d: &Daemon, dev: &str, within: f64) {
    let ok = wait_for(secs(within), || {
        route_dev6(lab, TARGET6).as_deref() == Some(dev)
    });
    assert!(
        ok,
        "{TARGET6} not routed via {dev}\n{}\n{}",
        lab.gw(&["ip", "-6", "route"]),
        d.log_text()
    );
}

#[test]
fn an_ipv6_connection_to_the_backup_wans_address_is_answered_through_it() {
    if !have(TOOLS) {
        return;
    }
    let Some(lab) = open_lab(2, &["--ipv6"]) else {
        return;
    };
    // From an address ISP 2 holds but the gateway reaches through wan1 (its IPv6 default):
    // the SYN-ACK goes out of wan1 and the connection fails (the test's control) ...
    let src = TARGET6;
    assert_eq!(route_dev6(&lab, src).as_deref(), Some("wan1"));
    let _server = backup_wan_control(&lab, WAN2_ADDR6, src);
    // ... until the daemon's `from 2001:db8:2::2 lookup 102` sends it back through wan2
    let dir = TempDir::new("routing-v6");
    let d = Daemon::start(&lab, &dir.0, &dual_stack_config(&dir.0, ""));
    d.expect_state("wan1", "up", secs(5.0));
    d.expect_state("wan2", "up", secs(5.0));
    expect_route6(&lab, &d, "wan1", 2.0);
    let ok = wait_for(secs(2.0), || {
        table6(&lab, 102).contains("default via 2001:db8:2::1 dev wan2")
    });
    assert!(ok, "{}", table6(&lab, 102));
    backup_wan_answers(&lab, &d, WAN2_ADDR6, src);
    assert_eq!(
        route_dev6(&lab, TARGET6).as_deref(),
        Some("wan1"),
        "wan1 still the active IPv6 WAN"
    );
}

/// An IPv6-only policy: UDP to port 1194 of the targets' prefix through wan2, never
/// through another WAN.
const VPN6_POLICY: &str = "\n[[policy]]\nname = \"vpn6\"\nwan = \"wan2\"\n\
    destination = \"2001:db8:ff::/48\"\nprotocol = \"udp\"\ndport = 1194\nfallback = false\n";

#[test]
fn an_ipv6_policy_without_fallback_takes_its_wan_and_never_leaks() {
    if !have(TOOLS) {
        return;
    }
    let Some(lab) = open_lab(2, &["--ipv6", "--lan"]) else {
        return;
    };
    for wan in 1..=2 {
        lab.echo_at(wan, &[TARGET6]);
        lab.count(wan);
    }
    let dir = TempDir::new("routing-v6policy");
    let d = Daemon::start(&lab, &dir.0, &dual_stack_config(&dir.0, VPN6_POLICY));
    d.expect_state("wan1", "up", secs(5.0));
    d.expect_state("wan2", "up", secs(5.0));
    expect_route6(&lab, &d, "wan1", 2.0);
    // the rule is IPv6 only (its destination is an IPv6 prefix)
    let want = "to 2001:db8:ff::/48 ipproto udp dport 1194 lookup 102";
    let ok = wait_for(secs(2.0), || {
        lab.our_rules().iter().any(|r| r.contains(want))
    });
    assert!(ok, "{:#?}", lab.our_rules());
    let v4_rules = lab.gw(&["ip", "rule", "show"]);
    assert!(!v4_rules.contains("dport 1194"), "{v4_rules}");
    assert!(
        table6(&lab, 102).contains("unreachable default"),
        "{}",
        table6(&lab, 102)
    );
    assert_eq!(
        policy_uses(&d, "vpn6").as_deref(),
        Some("wan2"),
        "{}",
        routing_status(&d)
    );

    // in force: the VPN flow leaves through wan2, the plain flow through wan1
    let (vpn, plain) = start_policy_flows(&lab, LAN_HOST6, TARGET6);
    std::thread::sleep(secs(0.3));
    assert!(lab.counted(2, "udp", VPN_PORT) > 0, "{:?}", lab.counts(2));
    assert_eq!(lab.counted(1, "udp", VPN_PORT), 0, "{:?}", lab.counts(1));
    assert!(lab.counted(1, "udp", ECHO_PORT) > 0, "{:?}", lab.counts(1));
    assert_eq!(lab.counted(2, "udp", ECHO_PORT), 0, "{:?}", lab.counts(2));

    // wan2 blackholed: down, the kill switch holds the VPN traffic
    lab.blackhole(2, true);
    let t_bh = now();
    d.expect_state("wan2", "down", secs(DOWN_WITHIN));
    assert_eq!(
        policy_blocked(&d, "vpn6"),
        Some(true),
        "{}",
        routing_status(&d)
    );
    lab.new_flows(&[LAN_HOST6], TARGET6, VPN_PORT, 100, 30_000);
    // ... and with wan2's interface down the kernel drops its routes: the floor holds alone
    // (its static IPv6 address kept, as a network manager would put it back)
    lab.gw(&["sysctl", "-qw", "net.ipv6.conf.wan2.keep_addr_on_down=1"]);
    lab.gw(&["ip", "link", "set", "wan2", "down"]);
    let floor = wait_for(secs(2.0), || {
        let t = table6(&lab, 102);
        t.contains("unreachable default") && !t.contains("dev wan2")
    });
    assert!(floor, "table 102:\n{}", table6(&lab, 102));
    let verdict = lab
        .gw_command("ip")
        .args([
            "-6", "route", "get", TARGET6, "from", LAN_HOST6, "iif", "lan0",
        ])
        .args(["ipproto", "udp", "dport", "1194"])
        .output()
        .expect("ip route get");
    let verdict = String::from_utf8_lossy(&verdict.stderr);
    assert!(
        verdict.contains("No route to host") || verdict.contains("unreachable"),
        "{verdict}"
    );
    lab.new_flows(&[LAN_HOST6], TARGET6, VPN_PORT, 100, 31_000);
    // the gateway's own traffic too: a socket without a source address, whose lookup the
    // kernel repeats with the active WAN's address as source, is refused, never sent
    let send = format!(
        "import socket\nfor _ in range(5):\n    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n    try:\n        s.sendto(b'x', ('{TARGET6}', {VPN_PORT})); print('sent')\n    except OSError as e:\n        print('refused', e.errno)\n"
    );
    let own = lab
        .gw_command("python3")
        .args(["-c", &send])
        .output()
        .expect("python3");
    let own = String::from_utf8_lossy(&own.stdout);
    assert_eq!(
        own.matches("refused").count(),
        5,
        "gateway's own IPv6 send: {own}"
    );
    std::thread::sleep(secs(0.5));
    // not one packet to the VPN port reached ISP 1 from the start of the test; the rest of
    // the IPv6 traffic is answered through wan1 all along
    assert_held(&lab, &vpn, &plain, t_bh, 10, 1);
    assert_eq!(route_dev6(&lab, TARGET6).as_deref(), Some("wan1"));

    // back: the VPN flow is answered through wan2 again
    lab.gw(&["ip", "link", "set", "wan2", "up"]);
    lab.blackhole(2, false);
    let t_up = now();
    d.expect_state("wan2", "up", secs(6.0));
    assert!(
        vpn.wait_reply_after(t_up, secs(2.0)).is_some(),
        "VPN flow after wan2 came back\n{}",
        d.log_text()
    );
    assert_eq!(
        lab.counted(1, "udp", VPN_PORT),
        0,
        "leaked: {:?}",
        lab.counts(1)
    );
    assert_eq!(policy_uses(&d, "vpn6").as_deref(), Some("wan2"));
}

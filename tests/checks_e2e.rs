//! HTTP, DNS and TCP checks against real servers no one here wrote: busybox `httpd` (with
//! CGI scripts for a 204 endpoint and a captive portal) and `dnsmasq`, in the lab's ISP
//! namespaces. The checks run on a thread that has `setns`-ed into the gateway namespace
//! and go out through a real WAN interface, driven as the daemon's checks part drives
//! them: poll the check's descriptor, feed readiness and the clock. The daemon itself,
//! with these servers, is in `checks_daemon_e2e.rs`.
#![cfg(feature = "checks")]

mod support;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use support::servers::*;
use support::*;
use wanfailover::check::dns::Name;
use wanfailover::check::url::Url;
use wanfailover::check::{Outcome, Step};
use wanfailover::config::{DnsTarget, HttpTarget, Target};
use wanfailover::sys::check::{Check, Interest, Via};
use wanfailover::sys::poll::{monotonic_now, Poller};

const DEADLINE: Duration = Duration::from_secs(1);

/// Runs `f` on a thread inside the lab's gateway namespace.
fn in_gw<T: Send>(lab: &Lab, f: impl FnOnce() -> T + Send) -> T {
    in_netns(&lab.gw_ns(), f)
}

/// WAN `i` of the lab, from its own address.
fn via(i: u32) -> Via {
    Via::new(
        &format!("wan{i}"),
        Some(ip(&format!("192.0.2.{}", 8 * i + 2))),
    )
    .unwrap()
}

fn via6(i: u32) -> Via {
    Via::new(&format!("wan{i}"), Some(ip(&format!("2001:db8:{i}::2")))).unwrap()
}

/// Runs one check of `target` to its end, as the daemon's loop will; returns the outcome
/// and how long it took.
fn run(
    via: &Via,
    target: &Target,
    deadline: Duration,
    cached: Option<IpAddr>,
) -> (Outcome, Duration) {
    let started = monotonic_now();
    let mut check = match Check::start(started, started + deadline, via, target, cached) {
        Ok(check) => check,
        Err(e) => {
            let failed = Outcome {
                result: Err(e.failed()),
                rtt: Default::default(),
                resolved: None,
            };
            return (failed, Duration::ZERO);
        }
    };
    let mut poller = Poller::default();
    let outcome = loop {
        let now = monotonic_now();
        if let Some(done) = check.on_timeout(now) {
            break done;
        }
        poller.clear();
        let slot = poller.add(check.fd(), check.interest() == Interest::Write);
        poller.wait(Some(check.poll_at() - now)).unwrap();
        let ready = poller.ready(slot);
        if ready.any() {
            if let Some(done) = check.on_ready(monotonic_now(), ready) {
                break done;
            }
        }
    };
    (outcome, monotonic_now() - started)
}

/// The outcome in words: "pass" or the cause of the failure.
fn verdict(o: &Outcome) -> String {
    match &o.result {
        Ok(()) => "pass".into(),
        Err(failed) => failed.to_string(),
    }
}

fn http(url: &str, status: u16, body: Option<&str>) -> Target {
    Target::Http(HttpTarget {
        url: Url::parse(url).unwrap(),
        status,
        body: body.map(str::to_string),
        resolvers: vec![ip(DNS)],
    })
}

fn dns(server: &str, name: &str) -> Target {
    Target::Dns(DnsTarget {
        server: ip(server),
        name: Box::new(Name::from_dotted(name).unwrap()),
    })
}

fn tcp(addr: &str) -> Target {
    Target::Tcp(addr.parse::<SocketAddr>().unwrap())
}

fn udp53_packets(lab: &Lab, isp: u32) -> u64 {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.isp_ns(isp),
            "nft",
            "list",
            "table",
            "inet",
            "checks",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "packets")
        .expect("a counter");
    words[at + 1].parse().unwrap()
}

#[test]
fn http_checks_tell_a_working_uplink_from_a_captive_portal() {
    if !have(SERVERS) {
        return;
    }
    let Some(lab) = open_lab(1, &[]) else {
        return;
    };
    let dir = TempDir::new("checks-http");
    let _web = Server::web(&lab, 1, &docroot(&dir.0), WEB);
    let base = format!("http://{WEB}");
    let cases = [
        (
            http(&format!("{base}/cgi-bin/generate_204"), 204, None),
            "pass",
        ),
        (
            http(&format!("{base}/cgi-bin/portal"), 204, None),
            "HTTP 302 Found: captive portal?",
        ),
        (
            http(&format!("{base}/cgi-bin/login"), 204, None),
            "HTTP 200 OK instead of 204: captive portal?",
        ),
        (
            http(
                &format!("{base}/online.txt"),
                200,
                Some("NetworkManager is online"),
            ),
            "pass",
        ),
        (
            http(
                &format!("{base}/cgi-bin/login"),
                200,
                Some("NetworkManager is online"),
            ),
            "HTTP 200 but body does not start with the expected text \
             (it starts \"<html><title>Hotel WiFi login</title></h\")",
        ),
        (
            http(&format!("{base}/missing"), 204, None),
            "HTTP 404 Not Found, expected 204",
        ),
    ];
    let got = in_gw(&lab, || {
        let results: Vec<_> = cases
            .iter()
            .map(|(t, _)| run(&via(1), t, DEADLINE, None).0)
            .collect();
        results
    });
    for ((target, want), outcome) in cases.iter().zip(&got) {
        assert_eq!(verdict(outcome), *want, "{target}");
        let rtt = outcome.rtt;
        assert!(
            rtt.connect.is_some() && rtt.first_byte.is_some(),
            "{target}: {rtt:?}"
        );
        assert!(rtt.connect <= rtt.first_byte && rtt.first_byte < Some(DEADLINE));
    }
}

#[test]
fn tcp_checks_connect_or_are_refused() {
    if !have(SERVERS) {
        return;
    }
    let Some(lab) = open_lab(1, &[]) else {
        return;
    };
    let dir = TempDir::new("checks-tcp");
    let _web = Server::web(&lab, 1, &docroot(&dir.0), WEB);
    // a router on the way answers for 203.0.113.54: host unreachable
    let rules =
        "table inet checks {\n chain in {\n  type filter hook prerouting priority -300;\n  \
                 ip daddr 203.0.113.54 reject with icmp type host-unreachable\n }\n}\n";
    nft(&lab, 1, &dir.0, rules);
    let [open, closed, unreachable] = in_gw(&lab, || {
        [
            format!("{WEB}:80"),
            format!("{WEB}:81"),
            "203.0.113.54:80".into(),
        ]
        .map(|addr| run(&via(1), &tcp(&addr), DEADLINE, None).0)
    });
    assert_eq!(verdict(&open), "pass");
    assert!(open.rtt.round_trip().is_some_and(|d| d < DEADLINE));
    assert_eq!(verdict(&closed), "connection refused");
    assert_eq!(closed.result.unwrap_err().step, Step::Connect);
    assert_eq!(verdict(&unreachable), "no route");
}

#[test]
fn dropped_http_times_out_at_the_deadline() {
    if !have(SERVERS) {
        return;
    }
    let Some(lab) = open_lab(1, &[]) else {
        return;
    };
    let dir = TempDir::new("checks-drop");
    let _web = Server::web(&lab, 1, &docroot(&dir.0), WEB);
    // the ISP answers pings but drops everything to TCP port 80
    let rules =
        "table inet checks {\n chain in {\n  type filter hook prerouting priority -300;\n  \
                 tcp dport 80 drop\n }\n}\n";
    nft(&lab, 1, &dir.0, rules);
    let deadline = Duration::from_millis(500);
    let target = http(&format!("http://{WEB}/cgi-bin/generate_204"), 204, None);
    let ((http, took), (tcp, tcp_took)) = in_gw(&lab, || {
        let http = run(&via(1), &target, deadline, None);
        let tcp = run(&via(1), &tcp(&format!("{WEB}:80")), deadline, None);
        (http, tcp)
    });
    assert_eq!(verdict(&http), "timeout");
    assert_eq!(http.result.unwrap_err().step, Step::Connect);
    assert_eq!(verdict(&tcp), "timeout");
    // at the deadline, not before and not much after (2 shared cores: some slack)
    for t in [took, tcp_took] {
        assert!(
            t >= deadline && t < deadline + Duration::from_millis(300),
            "took {t:?}"
        );
    }
}

#[test]
fn dns_checks_and_http_by_name() {
    if !have(SERVERS) {
        return;
    }
    let Some(lab) = open_lab(1, &[]) else {
        return;
    };
    let dir = TempDir::new("checks-dns");
    let _web = Server::web(&lab, 1, &docroot(&dir.0), WEB);
    let mut dnsmasq = Server::dns(&lab, 1, &dir.0, &[]);
    let by_name = http(&format!("http://{NAME}/cgi-bin/generate_204"), 204, None);
    let answered = in_gw(&lab, || {
        [
            run(&via(1), &dns(DNS, NAME), DEADLINE, None).0,
            // dnsmasq has no upstream: it refuses what it does not know
            run(&via(1), &dns(DNS, "other.test"), DEADLINE, None).0,
            run(&via(1), &by_name, DEADLINE, None).0,
        ]
    });
    assert_eq!(verdict(&answered[0]), "pass");
    let resolved = answered[0].resolved.unwrap();
    assert_eq!(resolved.addr, ip(WEB));
    assert!(answered[0].rtt.answer.is_some());
    assert_eq!(verdict(&answered[1]), "DNS REFUSED");
    assert_eq!(verdict(&answered[2]), "pass");
    assert_eq!(answered[2].resolved.map(|r| r.addr), Some(ip(WEB)));
    let rtt = answered[2].rtt;
    assert!(rtt.answer.is_some() && rtt.connect.is_some() && rtt.first_byte.is_some());

    dnsmasq.stop();
    let dead = in_gw(&lab, || {
        [
            run(&via(1), &dns(DNS, NAME), DEADLINE, None).0,
            run(&via(1), &by_name, DEADLINE, None).0,
            // with the address cached, the web server is checked all the same
            run(&via(1), &by_name, DEADLINE, Some(ip(WEB))).0,
        ]
    });
    assert_eq!(verdict(&dead[0]), "connection refused");
    assert_eq!(
        verdict(&dead[1]),
        "resolving the host name: connection refused"
    );
    assert_eq!(dead[1].result.as_ref().unwrap_err().step, Step::Resolve);
    assert_eq!(verdict(&dead[2]), "pass");
}

#[test]
fn dns_through_wan1_never_leaves_by_wan2() {
    if !have(SERVERS) {
        return;
    }
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let dir = TempDir::new("checks-bound");
    // only ISP 2 answers DNS, and counts the queries that reach it
    let _dnsmasq = Server::dns(&lab, 2, &dir.0, &[]);
    let rules =
        "table inet checks {\n chain in {\n  type filter hook prerouting priority -300;\n  \
                 udp dport 53 counter\n }\n}\n";
    nft(&lab, 2, &dir.0, rules);
    // wan1 becomes the backup: the kernel now sends everything by wan2
    lab.gw(&["ip", "route", "del", "default", "dev", "wan1"]);
    lab.default_via("add", 1, &["metric", "100"]);
    assert_eq!(lab.route_dev(DNS).as_deref(), Some("wan2"));
    let (wan1, wan2) = in_gw(&lab, || {
        let wan1 = run(&via(1), &dns(DNS, NAME), DEADLINE, None).0;
        let wan2 = run(&via(2), &dns(DNS, NAME), DEADLINE, None).0;
        (wan1, wan2)
    });
    // ISP 1 runs no DNS server and says so: the query went there
    assert_eq!(verdict(&wan1), "connection refused");
    assert_eq!(verdict(&wan2), "pass");
    assert_eq!(udp53_packets(&lab, 2), 1, "only wan2's query reached ISP 2");
    // with wan1 down there is no way out by it, and none by wan2 either
    lab.gw(&["ip", "link", "set", "wan1", "down"]);
    let down = in_gw(&lab, || run(&via(1), &dns(DNS, NAME), DEADLINE, None));
    assert_eq!(verdict(&down.0), "no route");
    assert!(down.1 < DEADLINE, "fails at once, took {:?}", down.1);
    assert_eq!(udp53_packets(&lab, 2), 1);
}

#[test]
fn checks_over_ipv6() {
    if !have(SERVERS) {
        return;
    }
    let Some(lab) = open_lab(1, &["--ipv6"]) else {
        return;
    };
    let dir = TempDir::new("checks-v6");
    let _web = Server::web(&lab, 1, &docroot(&dir.0), WEB6);
    let _dnsmasq = Server::dns(&lab, 1, &dir.0, &[WEB6]);
    let mut by_name = http(&format!("http://{NAME}/cgi-bin/generate_204"), 204, None);
    if let Target::Http(h) = &mut by_name {
        h.resolvers = vec![ip(WEB6)];
    }
    let got = in_gw(&lab, || {
        [
            run(&via6(1), &tcp(&format!("[{WEB6}]:80")), DEADLINE, None).0,
            run(
                &via6(1),
                &http(&format!("http://[{WEB6}]/cgi-bin/portal"), 204, None),
                DEADLINE,
                None,
            )
            .0,
            // an AAAA query through an IPv6 server
            run(&via6(1), &dns(WEB6, NAME), DEADLINE, None).0,
            // and the host name looked up by the family of the WAN's source address
            run(&via6(1), &by_name, DEADLINE, None).0,
        ]
    });
    assert_eq!(verdict(&got[0]), "pass");
    assert_eq!(verdict(&got[1]), "HTTP 302 Found: captive portal?");
    assert_eq!(verdict(&got[2]), "pass");
    assert_eq!(got[2].resolved.map(|r| r.addr), Some(ip(WEB6)));
    assert_eq!(verdict(&got[3]), "pass");
    assert_eq!(got[3].resolved.map(|r| r.addr), Some(ip(WEB6)));
}

//! HTTP, DNS and TCP checks in the rounds: started beside the echo requests, counted like
//! them, their causes kept per target for `health`.

use super::*;
use crate::check::url::Url;
use crate::check::{Cause, Failed, Step, Text};
use crate::config::{DnsTarget, HttpTarget, Target};

fn http(url: &str) -> Target {
    Target::Http(HttpTarget {
        url: Url::parse(url).expect("test: a URL"),
        status: 204,
        body: None,
        resolvers: vec![ip(53)],
    })
}

fn dns() -> Target {
    Target::Dns(DnsTarget {
        server: ip(53),
        name: Box::new(crate::check::dns::Name::from_dotted("example.test").expect("name")),
    })
}

/// A WAN "a" with these targets and `reliability`; link and routes not reported yet
/// (assumed usable), so the first round starts at the first `run`.
fn with_targets(targets: Vec<Target>, reliability: u8) -> H {
    let mut c = wan_cfg("a", 1);
    c.probe.targets = targets;
    c.probe.reliability = reliability;
    H::new(config(vec![c]))
}

/// The checks among `acts`: (target, seq, deadline).
fn started(acts: &[Action]) -> Vec<(u8, u16, Instant)> {
    acts.iter()
        .filter_map(|a| match *a {
            Action::StartCheck {
                wan: 0,
                target,
                seq,
                deadline,
            } => Some((target, seq, deadline)),
            _ => None,
        })
        .collect()
}

fn passed(target: u8, seq: u16, at_ms: u64, rtt_ms: u64) -> Input {
    Input::CheckDone {
        wan: 0,
        target,
        seq,
        at: Instant::from_millis(at_ms),
        result: Ok(Duration::from_millis(rtt_ms)),
    }
}

fn failed(target: u8, seq: u16, at_ms: u64, cause: Cause) -> Input {
    Input::CheckDone {
        wan: 0,
        target,
        seq,
        at: Instant::from_millis(at_ms),
        result: Err(Failed {
            step: Step::Answer,
            cause,
        }),
    }
}

fn portal() -> Cause {
    Cause::Redirect {
        status: 302,
        reason: Text::new(b"Found"),
    }
}

#[test]
fn every_kind_of_target_is_probed_by_position() {
    let mut h = with_targets(vec![ip(101).into(), http("http://192.0.2.80/"), dns()], 1);
    let acts = h.run(0);
    assert_eq!(h.probes, [(0, 0, 0)], "the echo request of target 0");
    let deadline = Instant::from_millis(500);
    assert_eq!(started(&acts), [(1, 1, deadline), (2, 2, deadline)]);
}

#[test]
fn a_check_only_list_fails_when_its_checks_fail() {
    let mut h = with_targets(vec![http("http://192.0.2.80/")], 1);
    let mut at = 0;
    for _ in 0..3 {
        let acts = h.run(at);
        let &[(t, seq, _)] = started(&acts).as_slice() else {
            panic!("test: one check per round, got {acts:?}");
        };
        h.feed(at + 20, failed(t, seq, at + 20, portal()));
        at += 300; // failure_interval
    }
    assert_eq!(h.states(), [State::Down], "no target list passes by itself");
    let health = h.e.health(h.now);
    let row = &health[0].targets[0];
    assert_eq!((row.kind.as_str(), row.result.as_str()), ("http", "fail"));
    assert_eq!(
        row.cause.as_deref(),
        Some("HTTP 302 Found: captive portal?")
    );
}

#[test]
fn an_http_failure_alone_fails_the_round_when_reliability_needs_it() {
    // pings pass, the HTTP check never ends (TCP 80 dropped): with reliability 2 of 2 the
    // WAN goes down within down × interval + timeout
    let mut h = with_targets(vec![ip(101).into(), http("http://192.0.2.80/")], 2);
    lose_checks_until(&mut h, 3_500);
    assert_eq!(h.states(), [State::Down]);
    let health = h.e.health(h.now);
    let [icmp, web] = &health[0].targets[..] else {
        panic!("test: two targets");
    };
    assert_eq!(
        (icmp.result.as_str(), icmp.cause.as_deref()),
        ("pass", None)
    );
    assert_eq!(icmp.loss_centi_pct, Some(0));
    assert_eq!(
        (web.result.as_str(), web.cause.as_deref()),
        ("fail", Some("timeout"))
    );
    assert_eq!(web.loss_centi_pct, Some(10_000));
    let s = &h.e.status(h.now)[0];
    assert!(
        s.loss_centi_pct > Some(4_000),
        "the WAN's loss includes the check: {s:?}"
    );
}

/// Runs rounds up to `ms`, answering every echo request and letting every check time out.
fn lose_checks_until(h: &mut H, ms: u64) {
    while h.now < Instant::from_millis(ms) {
        let next = h.e.poll_at().map_or(ms, |t| {
            (t.micros / 1000).min(ms).max(h.now.micros / 1000 + 1)
        });
        h.run(next);
        h.answer_all(5);
    }
}

#[test]
fn reliability_counts_passes_across_kinds() {
    let targets = vec![ip(101).into(), http("http://192.0.2.80/"), dns()];
    // any two of the three kinds pass the round
    for silent in 0..3u8 {
        let mut h = with_targets(targets.clone(), 2);
        let acts = h.run(0);
        for (t, seq, _) in started(&acts) {
            if t != silent {
                h.feed(30, passed(t, seq, 30, 7));
            }
        }
        if silent != 0 {
            h.answer_all(40);
        }
        assert_eq!(h.states(), [State::Up], "target {silent} silent");
    }
}

#[test]
fn a_check_counts_its_own_round_trip_and_a_late_pass_only_in_the_statistics() {
    let mut h = with_targets(vec![http("http://192.0.2.80/")], 1);
    let acts = h.run(0);
    let (t, seq, _) = started(&acts)[0];
    // the check took 120 ms (DNS, then connect), its handshake 9 ms of it
    h.feed(120, passed(t, seq, 120, 9));
    assert_eq!(h.states(), [State::Up]);
    let s = &h.e.status(h.now)[0];
    assert_eq!((s.latency_us, s.loss_centi_pct), (Some(9_000), Some(0)));
    // the next round's check answers after the round's deadline (1500)
    let acts = h.run(1_000);
    let (t, seq, deadline) = started(&acts)[0];
    assert_eq!(deadline, Instant::from_millis(1_500));
    h.run(1_500);
    h.feed(1_600, passed(t, seq, 1_600, 11));
    let health = h.e.health(h.now);
    assert_eq!(
        health[0].targets[0].rtt_us,
        Some(11_000),
        "late, but measured"
    );
    assert_eq!(
        h.e.status(h.now)[0].loss_centi_pct,
        Some(0),
        "late undoes loss"
    );
}

#[test]
fn the_round_deadline_records_a_timeout_per_target() {
    let mut h = with_targets(vec![ip(101).into(), dns()], 1);
    h.run(0);
    h.run(500);
    let health = h.e.health(h.now);
    let causes: Vec<_> = health[0]
        .targets
        .iter()
        .map(|t| (t.result.as_str(), t.cause.as_deref(), t.failed_ago_ms))
        .collect();
    assert_eq!(
        causes,
        [
            ("fail", Some("timeout"), Some(0)),
            ("fail", Some("timeout"), Some(0))
        ]
    );
    // a failure the runner reports after the deadline says more, and is kept
    h.feed(
        510,
        failed(1, 1, 510, Cause::Rcode(crate::check::dns::Rcode::SERVFAIL)),
    );
    let health = h.e.health(h.now);
    assert_eq!(health[0].targets[1].cause.as_deref(), Some("DNS SERVFAIL"));
}

#[test]
fn carrier_loss_cancels_the_checks_of_that_wan_only() {
    let mut h = with_targets(vec![ip(101).into(), http("http://192.0.2.80/")], 1);
    h.run(0);
    let lost = carrier(0, false);
    let acts = h.feed(100, lost);
    assert!(
        acts.contains(&Action::CancelChecks {
            wan: 0,
            family: Family::V4,
        }),
        "{acts:?}"
    );
    assert_eq!(h.states(), [State::Linkdown]);
    // an ICMP-only WAN has no checks to cancel
    let mut h = H::two_up();
    let lost = carrier(1, false);
    let acts = h.feed(100, lost);
    assert!(!acts
        .iter()
        .any(|a| matches!(a, Action::CancelChecks { .. })));
}

#[test]
fn a_reload_with_new_targets_cancels_the_checks_and_forgets_their_records() {
    let mut h = with_targets(vec![ip(101).into(), http("http://192.0.2.80/")], 1);
    let acts = h.run(0);
    let (t, seq, _) = started(&acts)[0];
    h.feed(20, failed(t, seq, 20, portal()));
    let mut c = wan_cfg("a", 1);
    c.probe.targets = vec![http("http://192.0.2.81/"), ip(101).into()];
    let acts = h.feed(100, Input::Reload(config(vec![c])));
    assert!(
        acts.contains(&Action::CancelChecks {
            wan: 0,
            family: Family::V4,
        }),
        "{acts:?}"
    );
    let health = h.e.health(h.now);
    let kinds: Vec<_> = health[0]
        .targets
        .iter()
        .map(|t| (t.kind.as_str(), t.result.as_str()))
        .collect();
    assert_eq!(kinds, [("http", "none"), ("icmp", "none")]);
    // the old check's end, should it still come, counts for nothing
    h.feed(120, failed(t, seq, 120, portal()));
    assert_eq!(h.e.health(h.now)[0].targets[1].result, "none");
}

#[test]
fn a_target_goes_by_its_address_family_and_a_host_name_by_the_wans() {
    let targets = vec![
        http("http://example.test/"),
        http("http://[2001:db8::80]/"),
        dns(),
    ];
    let families = |family| {
        let mut c = wan_cfg("a", 1);
        c.family = family;
        c.probe.targets = targets.clone();
        let h = H::new(config(vec![c]));
        (0..3).map(|t| h.e.target_family(0, t)).collect::<Vec<_>>()
    };
    let (v4, v6) = (Some(Family::V4), Some(Family::V6));
    assert_eq!(families(FamilySet::Ipv6), [v6, v6, v4]);
    assert_eq!(families(FamilySet::Ipv4), [v4, v6, v4]);
}

#[test]
fn a_target_times_out_even_when_others_decided_its_round() {
    let mut h = with_targets(vec![ip(101).into(), dns()], 1);
    h.run(0);
    h.answer_all(10); // the echo reply passes the round at once
    assert_eq!(h.states(), [State::Up]);
    // no deadline of the round to wake for: the next round notes the timeout, at its time
    let acts = h.run(1_000);
    h.answer_all(10);
    let dns = &h.e.health(h.now)[0].targets[1];
    assert_eq!(
        (dns.result.as_str(), dns.cause.as_deref(), dns.failed_ago_ms),
        ("fail", Some("timeout"), Some(510))
    );
    // a failure reported before the deadline is not overwritten by the timeout
    let (t, seq, deadline) = started(&acts)[0];
    assert_eq!(deadline, Instant::from_millis(1_500));
    h.feed(1_020, failed(t, seq, 1_020, portal()));
    h.run(2_000);
    let dns = &h.e.health(h.now)[0].targets[1];
    assert_eq!(
        (dns.cause.as_deref(), dns.failed_ago_ms),
        (Some("HTTP 302 Found: captive portal?"), Some(980))
    );
}

#[test]
fn the_largest_health_answer_fits_in_one_control_frame() {
    use crate::config::{MAX_NAME_LEN, MAX_TARGETS, MAX_WANS};
    use crate::control::protocol::{encode_response, Response};
    // longest URLs, names and causes, every target failed
    let path = "p".repeat(480);
    let targets: Vec<Target> = (0..MAX_TARGETS)
        .map(|i| http(&format!("http://192.0.2.{}/{path}", 80 + i)))
        .collect();
    let wans = (0..MAX_WANS)
        .map(|i| {
            let mut c = wan_cfg(&format!("{i:0>width$}", width = MAX_NAME_LEN), 1);
            c.probe.targets = targets.clone();
            c
        })
        .collect();
    let mut h = H::new(config(wans));
    let acts = h.run(0);
    let longest = Failed {
        step: Step::Resolve,
        cause: Cause::Body {
            status: 200,
            got: Text::new(&[b'x'; 100]),
        },
    };
    let mut checks = 0;
    for a in acts {
        if let Action::StartCheck {
            wan, target, seq, ..
        } = a
        {
            let result = Err(longest.clone());
            let at = Instant::from_millis(5);
            h.feed(
                5,
                Input::CheckDone {
                    wan,
                    target,
                    seq,
                    at,
                    result,
                },
            );
            checks += 1;
        }
    }
    assert_eq!(checks, MAX_WANS * MAX_TARGETS);
    let health = h.e.health(h.now);
    assert!(health
        .iter()
        .flat_map(|w| &w.targets)
        .all(|t| t.result == "fail"));
    let mut frame = Vec::new();
    let encoded = encode_response(&Response::Health(health), &mut frame);
    assert_eq!(encoded, Ok(()), "{} bytes", frame.len());
}

/// A dual-stack WAN: each family's machine runs its own checks, under the WAN's target
/// numbers (config positions) both ways, and a family whose rounds are cleared cancels its
/// own checks only.
#[test]
fn checks_of_a_dual_stack_wan_carry_the_wans_target_numbers() {
    let ip6 = |last: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last));
    let tcp6 = Target::Tcp(std::net::SocketAddr::new(ip6(0x80), 443));
    let mut c = wan_cfg("a", 1);
    c.family = FamilySet::Both;
    c.probe.reliability = 1;
    c.probe.targets = vec![
        tcp6.clone(),
        ip(101).into(),
        http("http://192.0.2.80/"),
        ip6(0x101).into(),
    ];
    let mut h = H::new(config(vec![c]));
    let acts = h.run(0);
    let mut checks = started(&acts);
    checks.sort_by_key(|c| c.0);
    let numbers: Vec<u8> = checks.iter().map(|c| c.0).collect();
    assert_eq!(numbers, [0, 2], "{acts:?}");
    assert_eq!(h.e.target(0, 0), Some(&tcp6));
    assert_eq!(h.e.target(0, 2), Some(&http("http://192.0.2.80/")));
    assert_eq!(h.e.target_family(0, 0), Some(Family::V6));
    assert_eq!(h.e.target_family(0, 2), Some(Family::V4));
    // the http check (target 2) passes the IPv4 round alone
    let (t, seq, _) = checks[1];
    h.feed(5, passed(t, seq, 5, 3));
    let status = &h.e.status(h.now)[0];
    let families: Vec<_> = status.families.iter().map(|f| f.state.as_str()).collect();
    assert_eq!(families, ["up", "init"]);
    // the tcp check (target 0) fails for IPv6, and health says so at its config position
    let (t, seq, _) = checks[0];
    h.feed(6, failed(t, seq, 6, Cause::Refused));
    let health = &h.e.health(h.now)[0];
    let rows: Vec<_> = health
        .targets
        .iter()
        .map(|t| (t.kind.as_str(), t.result.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("tcp", "fail"),
            ("icmp", "none"),
            ("http", "pass"),
            ("icmp", "none")
        ]
    );
    let cause = health.targets[0].cause.as_deref().unwrap_or_default();
    assert!(cause.contains("connection refused"), "{cause}");
    // IPv6 loses its address: its checks are cancelled, IPv4's go on
    let gone = Input::Addresses {
        wan: 0,
        family: Family::V6,
        present: false,
    };
    let acts = h.feed(100, gone);
    let cancels: Vec<_> = acts
        .iter()
        .filter(|a| matches!(a, Action::CancelChecks { .. }))
        .collect();
    assert_eq!(
        cancels,
        [&Action::CancelChecks {
            wan: 0,
            family: Family::V6
        }]
    );
}

#[test]
fn a_check_running_across_a_reload_that_renumbered_its_target_counts_for_it() {
    let mut c = wan_cfg("a", 1);
    c.family = FamilySet::Both;
    c.probe.targets = vec![ip(101).into(), http("http://[2001:db8::80]/")];
    c.probe.down = 1;
    let mut h = H::new(config(vec![c.clone()]));
    let acts = h.run(0);
    let &[(1, seq, _)] = started(&acts).as_slice() else {
        panic!("test: the IPv6 check is target 1, got {acts:?}");
    };
    // a new IPv4 target takes number 1; the check's target moves to 2
    c.probe.targets.insert(1, ip(102).into());
    h.feed(100, Input::Reload(config(vec![c])));
    h.feed(120, passed(1, seq, 120, 20));
    h.run(700);
    h.answer_all(5);
    let status = &h.e.status(h.now)[0];
    let families: Vec<_> = status
        .families
        .iter()
        .map(|f| format!("{} {}", f.family, f.state))
        .collect();
    assert_eq!(families, ["ipv4 up", "ipv6 up"]);
    let health = h.e.health(h.now);
    let results: Vec<_> = health[0]
        .targets
        .iter()
        .map(|t| t.result.as_str())
        .collect();
    assert_eq!(results, ["pass", "pass", "pass"]);
}

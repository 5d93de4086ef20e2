//! The daemon against real DHCP clients that keep renewing: busybox udhcpc with Debian's
//! default script, ISC dhclient and dhcpcd, one per WAN of a `--dhcp` lab (busybox udhcpd in
//! every ISP, 20 s leases: dhclient and dhcpcd renew about every 10 s, udhcpc every 15 s).
//!
//! What the clients do to default routes, as seen in this lab (docs/packaging.md has more):
//! udhcpc adds its route at metric 0 when bound and again on every renew; dhclient adds its
//! route at metric 0 only when bound (a renew refreshes the address, nothing else); dhcpcd adds
//! its route at 1000 + ifindex on every renew and deletes the other default route on the
//! interface (ours) while doing so. Two metric-0 routes cannot both be added with
//! `ip route add`: the second client gets EEXIST and has no default route, until the daemon
//! moved the first one's route away and the second renews.
//!
//! Both tests note every broken promise and report them all at the end, so that one failure
//! (a route not given back) does not hide whether the rest (ordering, renews after stop) held.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::dhcp::{cpu_time, Client, RouteMonitor};
use support::*;

const TARGET: &str = "198.51.100.53";

/// One client per WAN; WAN I has priority I.
const CLIENTS: [(u32, Client); 3] = [
    (1, Client::Udhcpc),
    (2, Client::Dhclient),
    (3, Client::Dhcpcd),
];

/// How long the renewing clients are watched.
const RENEW_WATCH: Duration = Duration::from_secs(60);

/// Route events in [`RENEW_WATCH`] at most. Each client renews at most 60 s / 10 s + 1 = 7
/// times, and a renew costs at most four IPv4 default-route events: the client's route comes,
/// the daemon deletes it; with dhcpcd (or udhcpc on a new router) also ours goes and comes
/// back. Three clients: 3 * 7 * 4 = 84. A client and the daemon undoing each other's work
/// would make hundreds a second.
const MAX_ROUTE_EVENTS: usize = 84;

/// CPU time the daemon may use in [`RENEW_WATCH`]: it probes 3 targets on each of 3 WANs
/// 5 times a second; an unoptimised build used 0.3 s here. A livelock takes a core: 60 s.
const MAX_DAEMON_CPU: Duration = Duration::from_secs(3);

/// CPU time each client, with its scripts, may use in [`RENEW_WATCH`] (4 to 7 renews; 0.06
/// to 0.14 s here).
const MAX_CLIENT_CPU: Duration = Duration::from_secs(1);

/// A route table as a set of lines: equal keys may be listed in either order.
fn table(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn show(set: &BTreeSet<String>) -> String {
    set.iter().map(|l| format!("  {l}\n")).collect()
}

/// The metrics of our (protocol 87) default routes on `dev`.
fn our_metrics(routes: &str, dev: &str) -> Vec<u32> {
    let on_dev = format!(" dev {dev} ");
    routes
        .lines()
        .map(|l| format!("{} ", l.trim_end()))
        .filter(|l| l.starts_with("default ") && l.contains(&on_dev) && l.contains(" proto 87 "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.iter()
                .position(|x| *x == "metric")
                .and_then(|i| w.get(i + 1)?.parse().ok())
                .unwrap_or(0)
        })
        .collect()
}

/// Whether `dev` has any IPv4 default route.
fn has_default(lab: &Lab, dev: &str) -> bool {
    let on_dev = format!(" dev {dev} ");
    lab.default_routes()
        .lines()
        .any(|l| format!("{} ", l.trim_end()).contains(&on_dev))
}

/// The metric a WAN's state calls for (docs: priority when healthy, plus the degraded or
/// down penalty).
fn metric_for(state: &str, priority: u32) -> Option<u32> {
    match state {
        "up" | "init" => Some(priority),
        "degraded" => Some(priority + 10_000),
        "down" | "linkdown" | "noroute" => Some(priority + 20_000),
        _ => None,
    }
}

/// The order the daemon promises, from `status --json` and the kernel: `active` is the WAN in
/// use, and WAN I (priority I) has exactly one default route of ours, at the metric its state
/// calls for, which is also the metric `status` shows.
fn order(lab: &Lab, d: &Daemon, active: &str) -> Result<(), String> {
    let (_, json, _) = d.cli(&["status", "--json"]);
    let routes = lab.default_routes();
    for i in 1..=lab.wans {
        let wan = format!("wan{i}");
        let state = json_field_of(&json, &wan, "state").unwrap_or_default();
        let want = metric_for(&state, i).ok_or(format!("{wan} in state '{state}'\n{json}"))?;
        let shown = json_field_of(&json, &wan, "metric");
        let ours = our_metrics(&routes, &wan);
        if ours != [want] || shown != Some(want.to_string()) {
            return Err(format!(
                "{wan} is {state}: status metric {shown:?}, routes of ours at {ours:?}, \
                 expected one at {want}\n{routes}"
            ));
        }
        let is_active = json_field_of(&json, &wan, "active").as_deref() == Some("true");
        if is_active != (wan == active) {
            return Err(format!(
                "{wan} active={is_active}, expected {active} active\n{json}"
            ));
        }
    }
    Ok(())
}

/// Waits until the script of `client` on `wan` was called for `reason` more than `seen` times.
fn wait_call(lab: &Lab, wan: u32, client: Client, reason: &str, seen: usize, within: Duration) {
    let ok = wait_for(within, || lab.calls(wan, client, reason) > seen);
    assert!(
        ok,
        "{} on wan{wan}: no '{reason}' within {within:?}\nscript calls:\n{}\nclient log:\n{}",
        client.name(),
        lab.script_log(),
        lab.dhcp_log(wan, client)
    );
}

/// The tail of the daemon's log, for failure messages.
fn log_tail(d: &Daemon) -> String {
    let text = d.log_text();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Broken promises noted along a test, reported together at its end.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    fn assert_none(&self) {
        assert!(
            self.0.is_empty(),
            "{} broken promise(s):\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

/// The table after the daemon `d` gave the routes back: exactly the foreign routes
/// `expected`, and not one route of ours, in IPv4 and (`v6`, as before the daemon started)
/// in IPv6.
fn check_given_back(
    f: &mut Findings,
    lab: &Lab,
    d: &Daemon,
    when: &str,
    expected: &BTreeSet<String>,
    v6: &BTreeSet<String>,
) {
    let now = table(&lab.default_routes());
    f.check(now == *expected, || {
        let said: Vec<String> = d
            .log_text()
            .lines()
            .filter(|l| l.contains("restore") || l.contains("giving routes back"))
            .map(|l| format!("  {l}"))
            .collect();
        format!(
            "{when}: IPv4 default routes differ from the foreign routes as found\n\
             missing:\n{}unexpected:\n{}the daemon said:\n{}",
            show(&expected.difference(&now).cloned().collect()),
            show(&now.difference(expected).cloned().collect()),
            said.join("\n")
        )
    });
    let now6 = table(&lab.gw(&["ip", "-6", "route"]));
    f.check(now6 == *v6, || {
        format!(
            "{when}: IPv6 routes changed\nbefore:\n{}after:\n{}",
            show(v6),
            show(&now6)
        )
    });
    let ours: Vec<&String> = now
        .iter()
        .chain(&now6)
        .filter(|l| l.contains(" proto 87"))
        .collect();
    f.check(ours.is_empty(), || {
        format!("{when}: routes of ours left behind: {ours:?}")
    });
}

/// The gateway's routes at one moment: IPv4 default routes and the whole IPv6 table.
struct Tables {
    v4: BTreeSet<String>,
    v6: BTreeSet<String>,
}

/// The tables once IPv6 has settled (every WAN's link-local route is there: it comes a moment
/// after the link, and must not count as a change made by the daemon).
fn tables(lab: &Lab) -> Tables {
    let v6 = || lab.gw(&["ip", "-6", "route"]);
    let settled = wait_for(Duration::from_secs(5), || {
        let routes = v6();
        (1..=lab.wans).all(|i| routes.contains(&format!("fe80::/64 dev wan{i} ")))
    });
    assert!(settled, "IPv6 link-local routes missing:\n{}", v6());
    Tables {
        v4: table(&lab.default_routes()),
        v6: table(&v6()),
    }
}

/// Starts the clients so that udhcpc loses the race for metric 0: dhclient takes it for
/// wan2, then udhcpc's `ip route add` for wan1 gets EEXIST; dhcpcd (metric 1004) on wan3.
/// Returns the routes as found, before the daemon runs.
fn start_clients_udhcpc_last(lab: &Lab) -> Tables {
    lab.dhcp_start(2, Client::Dhclient);
    wait_call(
        lab,
        2,
        Client::Dhclient,
        "BOUND",
        0,
        Duration::from_secs(15),
    );
    lab.dhcp_start(1, Client::Udhcpc);
    lab.dhcp_start(3, Client::Dhcpcd);
    wait_call(lab, 1, Client::Udhcpc, "bound", 0, Duration::from_secs(15));
    wait_call(lab, 3, Client::Dhcpcd, "BOUND", 0, Duration::from_secs(20));
    let routes = lab.default_routes();
    assert!(
        has_default(lab, "wan2") && has_default(lab, "wan3"),
        "{routes}"
    );
    assert!(
        !has_default(lab, "wan1"),
        "udhcpc did not lose the race for metric 0:\n{routes}"
    );
    tables(lab)
}

/// Starts the daemon, which moves dhclient's route off metric 0, so that udhcpc's next renew
/// (15 s after it was bound) adds wan1's route, which the daemon adopts. Returns the daemon,
/// once every WAN is up, and what it must give back: the routes found, and udhcpc's.
fn start_daemon_and_let_udhcpc_join(
    lab: &Lab,
    dir: &TempDir,
    found: &BTreeSet<String>,
) -> (Daemon, BTreeSet<String>) {
    let join = RouteMonitor::start(lab, dir.0.join("join.monitor"));
    let d = Daemon::start(lab, &dir.0, &lab_config(3, &dir.0, "", ""));
    let joined = wait_for(Duration::from_secs(20), || {
        our_metrics(&lab.default_routes(), "wan1") == [1]
    });
    let routes = lab.default_routes();
    let calls = lab.script_log();
    assert!(
        joined,
        "wan1 never got a route of ours\n{routes}\n{calls}\n{}",
        log_tail(&d)
    );
    let mut expected = found.clone();
    expected.insert(
        join.first_foreign_added("wan1")
            .expect("udhcpc's route on wan1"),
    );
    for w in ["wan1", "wan2", "wan3"] {
        let up = wait_for(Duration::from_secs(10), || {
            d.state_of(w).as_deref() == Some("up")
        });
        assert!(up, "{w} is {:?}\n{}", d.state_of(w), log_tail(&d));
    }
    if let Err(e) = order(lab, &d, "wan1") {
        panic!("order before the renews: {e}\n{}", log_tail(&d));
    }
    (d, expected)
}

/// CPU time used so far by the daemon and by each client of [`CLIENTS`] (with its scripts).
struct CpuTimes {
    daemon: Duration,
    clients: Vec<Duration>,
}

fn cpu_times(lab: &Lab, d: &Daemon) -> CpuTimes {
    CpuTimes {
        daemon: cpu_time(d.pid().expect("daemon runs")),
        clients: CLIENTS
            .iter()
            .map(|&(wan, c)| cpu_time(lab.dhcp_pid(wan, c)))
            .collect(),
    }
}

/// The CPU time each used from `before` to `after` stays within its bound.
fn check_cpu(f: &mut Findings, before: &CpuTimes, after: &CpuTimes) {
    let daemon = after.daemon.saturating_sub(before.daemon);
    eprintln!("CPU in {RENEW_WATCH:?}: daemon {daemon:?}");
    f.check(daemon <= MAX_DAEMON_CPU, || {
        format!("the daemon used {daemon:?} of CPU in {RENEW_WATCH:?}")
    });
    for ((now, then), (_, c)) in after.clients.iter().zip(&before.clients).zip(CLIENTS) {
        let used = now.saturating_sub(*then);
        eprintln!("CPU in {RENEW_WATCH:?}: {} {used:?}", c.name());
        f.check(used <= MAX_CLIENT_CPU, || {
            format!("{} used {used:?} of CPU in {RENEW_WATCH:?}", c.name())
        });
    }
}

/// A minute of renews: the order holds throughout, the route events stay few (no livelock),
/// and neither the daemon nor a client burns CPU. A sample may catch the moment between a
/// client's change and the daemon's answer (a dhcpcd renew deletes ours; the daemon puts it
/// back at once or after its 100 ms hold-off), so each sample may take up to a second.
fn watch_renews(lab: &Lab, d: &Daemon, f: &mut Findings) {
    let monitor = RouteMonitor::start(lab, lab.dir().join("renews.monitor"));
    let renews = || CLIENTS.map(|(wan, c)| lab.calls(wan, c, c.renew()));
    let (renews_before, cpu_before) = (renews(), cpu_times(lab, d));
    let started = Instant::now();
    let mut bad_samples = Vec::new();
    while started.elapsed() < RENEW_WATCH {
        if !wait_for(Duration::from_secs(1), || order(lab, d, "wan1").is_ok()) {
            let why = order(lab, d, "wan1").err().unwrap_or_default();
            bad_samples.push(format!("at {:?}: {why}", started.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let events = monitor.default_route_events();
    check_cpu(f, &cpu_before, &cpu_times(lab, d));
    for ((n, before), (_, c)) in renews().iter().zip(renews_before).zip(CLIENTS) {
        let calls = lab.script_log();
        assert!(
            n - before >= 3,
            "{} renewed {} times\n{calls}",
            c.name(),
            n - before
        );
    }
    f.check(bad_samples.is_empty(), || {
        let n = bad_samples.len();
        let samples = bad_samples.join("\n");
        format!(
            "the order broke while the clients renewed ({n} samples):\n{samples}\n{}",
            log_tail(d)
        )
    });
    eprintln!("{} default-route events in {RENEW_WATCH:?}", events.len());
    f.check(events.len() <= MAX_ROUTE_EVENTS, || {
        let (n, all) = (events.len(), events.join("\n"));
        format!("{n} default-route events in {RENEW_WATCH:?} (at most {MAX_ROUTE_EVENTS}):\n{all}")
    });
}

/// Carrier loss on the primary re-ranks at once; its return puts it first again.
fn carrier_loss_reranks(lab: &Lab, d: &Daemon, f: &mut Findings) {
    let first =
        |wan: &str| order(lab, d, wan).is_ok() && lab.route_dev(TARGET).as_deref() == Some(wan);
    lab.carrier(1, false);
    let moved = wait_for(Duration::from_secs(3), || first("wan2"));
    f.check(moved, || {
        let why = order(lab, d, "wan2").err();
        format!(
            "carrier loss on wan1 did not re-rank: {why:?}\n{}",
            log_tail(d)
        )
    });
    lab.carrier(1, true);
    let back = wait_for(Duration::from_secs(10), || first("wan1"));
    f.check(back, || {
        let why = order(lab, d, "wan1").err();
        format!(
            "wan1 not first again after its carrier returned: {why:?}\n{}",
            log_tail(d)
        )
    });
}

/// `wanfailover stop`, and the daemon's exit.
fn stop(d: &mut Daemon) {
    let (ok, _, err) = d.cli(&["stop"]);
    assert!(ok, "stop: {err}");
    let status = d.wait_exit(Duration::from_secs(10));
    let ok = status.is_some_and(|s| s.success());
    assert!(ok, "daemon exit {status:?}\n{}", log_tail(d));
}

/// After the daemon stopped the clients alone keep working: a renew of each leaves the table
/// as it is.
fn renews_change_nothing(lab: &Lab, f: &mut Findings) {
    let before = lab.default_routes();
    for (wan, c) in CLIENTS {
        let seen = lab.calls(wan, c, c.renew());
        wait_call(lab, wan, c, c.renew(), seen, Duration::from_secs(20));
    }
    // dhcpcd runs its script after its route work; give a late change time to show
    std::thread::sleep(Duration::from_millis(200));
    let after = lab.default_routes();
    f.check(table(&after) == table(&before), || {
        format!("a renew after stop changed the table\nbefore:\n{before}after:\n{after}")
    });
}

#[test]
fn real_clients_renewing_keep_the_order_and_get_exactly_their_routes_back() {
    let Some(lab) = open_lab(3, &["--dhcp"]) else {
        return;
    };
    let dir = TempDir::new("dhcp");
    let found = start_clients_udhcpc_last(&lab);
    let (mut d, expected) = start_daemon_and_let_udhcpc_join(&lab, &dir, &found.v4);
    let mut f = Findings::default();
    watch_renews(&lab, &d, &mut f);
    carrier_loss_reranks(&lab, &d, &mut f);
    // `stop` gives back exactly each client's route
    stop(&mut d);
    check_given_back(
        &mut f,
        &lab,
        &d,
        "after `wanfailover stop`",
        &expected,
        &found.v6,
    );
    renews_change_nothing(&lab, &mut f);
    f.assert_none();
}

/// Whether the daemon manages both WANs of a two-WAN lab: ours at metric 1 and 2 and, with
/// `only_ours`, no foreign default route left.
fn both_managed(lab: &Lab, only_ours: bool) -> bool {
    let routes = lab.default_routes();
    our_metrics(&routes, "wan1") == [1]
        && our_metrics(&routes, "wan2") == [2]
        && (!only_ours || routes.lines().all(|l| l.contains(" proto 87 ")))
}

/// Starts the daemon and waits until it adopted both WANs' routes.
fn adopt(lab: &Lab, dir: &TempDir, config: &str) -> Daemon {
    let d = Daemon::start(lab, &dir.0, config);
    let adopted = wait_for(Duration::from_secs(5), || both_managed(lab, true));
    let routes = lab.default_routes();
    assert!(adopted, "not adopted:\n{routes}\n{}", log_tail(&d));
    d
}

/// Two foreign default routes at metric 0, both adopted: dhclient takes metric 0 for wan1;
/// udhcpc on wan2 gets EEXIST, then adds its route at its first renew after the daemon moved
/// dhclient's away. Returns the daemon, the two routes as the clients installed them and the
/// IPv6 table before the daemon started.
fn two_metric_0_routes_adopted(
    lab: &Lab,
    dir: &TempDir,
    config: &str,
) -> (Daemon, BTreeSet<String>, BTreeSet<String>) {
    lab.dhcp_start(1, Client::Dhclient);
    wait_call(
        lab,
        1,
        Client::Dhclient,
        "BOUND",
        0,
        Duration::from_secs(15),
    );
    lab.dhcp_start(2, Client::Udhcpc);
    wait_call(lab, 2, Client::Udhcpc, "bound", 0, Duration::from_secs(15));
    let routes = lab.default_routes();
    assert!(
        routes.lines().count() == 1 && has_default(lab, "wan1"),
        "dhclient's route alone expected:\n{routes}"
    );
    let dhclient_route = routes.trim_end().to_string();
    let v6 = tables(lab).v6;
    let join = RouteMonitor::start(lab, dir.0.join("join.monitor"));
    let d = Daemon::start(lab, &dir.0, config);
    let joined = wait_for(Duration::from_secs(20), || both_managed(lab, true));
    let (routes, calls) = (lab.default_routes(), lab.script_log());
    assert!(
        joined,
        "udhcpc's renew not adopted\n{routes}\n{calls}\n{}",
        log_tail(&d)
    );
    let udhcpc_route = join
        .first_foreign_added("wan2")
        .expect("udhcpc's route on wan2");
    let found: BTreeSet<String> = [dhclient_route, udhcpc_route].into_iter().collect();
    for route in &found {
        assert!(!route.contains(" metric "), "not at metric 0: {route}");
    }
    (d, found, v6)
}

/// After a failed give-back: the table as found again (no route of ours, every foreign
/// route back), so the next way of stopping starts from the same table.
fn put_back_as_found(lab: &Lab, found: &BTreeSet<String>) {
    let now = table(&lab.default_routes());
    for route in now.iter().filter(|l| l.contains(" proto 87")) {
        let mut args = vec!["ip", "route", "del"];
        args.extend(route.split_whitespace().filter(|w| *w != "linkdown"));
        lab.gw(&args);
    }
    for route in found.difference(&now) {
        let mut args = vec!["ip", "route", "append"];
        args.extend(route.split_whitespace());
        lab.gw(&args);
    }
    assert_eq!(
        table(&lab.default_routes()),
        *found,
        "could not restore the table"
    );
}

#[test]
fn two_metric_0_routes_are_given_back_after_stop_sigterm_and_kill_9() {
    let Some(lab) = open_lab(2, &["--dhcp"]) else {
        return;
    };
    let dir = TempDir::new("dhcp-equal");
    let config = lab_config(2, &dir.0, "", "");
    let (mut d, found, v6) = two_metric_0_routes_adopted(&lab, &dir, &config);
    let mut f = Findings::default();

    stop(&mut d);
    check_given_back(&mut f, &lab, &d, "after `wanfailover stop`", &found, &v6);
    put_back_as_found(&lab, &found);

    let mut d = adopt(&lab, &dir, &config);
    let status = d.stop();
    assert!(status.is_some_and(|s| s.success()), "exit {status:?}");
    check_given_back(&mut f, &lab, &d, "after SIGTERM", &found, &v6);
    put_back_as_found(&lab, &found);

    // the restart reads the foreign routes the killed run saved
    let mut d = adopt(&lab, &dir, &config);
    d.kill9();
    let mut d = Daemon::start(&lab, &dir.0, &config);
    let managed = wait_for(Duration::from_secs(5), || both_managed(&lab, false));
    assert!(managed, "{}\n{}", lab.default_routes(), log_tail(&d));
    stop(&mut d);
    let when = "after kill -9, a restart and `wanfailover stop`";
    check_given_back(&mut f, &lab, &d, when, &found, &v6);
    f.assert_none();
}

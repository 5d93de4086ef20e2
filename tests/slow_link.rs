//! End-to-end: a slow link under the fast profile. `timeout` is longer than `interval`, so
//! probe rounds overlap; the real binary in the namespace lab must keep such a WAN `up` and
//! primary, and still fail it over within `down × interval + timeout` when it goes silent.
//!
//! wan1's ISP answers pings from userspace 425–475 ms late (`lab.sh delay`; needs the
//! example echo responder: `cargo build --examples`); wan2 answers at once.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::*;

const TARGET: &str = "198.51.100.53";
const INTERVAL_MS: u64 = 200;
const TIMEOUT_MS: u64 = 700;
const DOWN: u64 = 3;
/// Process start-up, `ip route get` polling through a shell script and the loop's own
/// scheduling, on a loaded two-core machine. Rounds that did not overlap would need
/// `interval + down × timeout` (2.3 s) instead.
const SLACK_MS: u64 = 400;

fn config(dir: &Path) -> String {
    format!(
        "socket = \"{sock}\"\nhooks_dir = \"{hooks}\"\n\n[defaults]\n\
         targets = [\"198.51.100.53\", \"198.51.100.54\", \"203.0.113.53\"]\n\
         interval = \"{INTERVAL_MS}ms\"\ntimeout = \"{TIMEOUT_MS}ms\"\n\
         down = {DOWN}\nup = 3\nhold = \"1s\"\n\n\
         [[wan]]\nname = \"wan1\"\ninterface = \"wan1\"\npriority = 1\n\n\
         [[wan]]\nname = \"wan2\"\ninterface = \"wan2\"\npriority = 2\n",
        sock = dir.join("wanfailover.sock").display(),
        hooks = dir.join("hooks").display(),
    )
}

#[test]
fn slow_link_stays_primary_then_fails_over_within_the_bound() {
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    lab.script(&["delay", &lab.prefix, "1", "425ms", "50ms"]);
    let dir = TempDir::new("slow-link");
    let d = Daemon::start(&lab, &dir.0, &config(&dir.0));
    let report = |what: &str| {
        format!(
            "{what}\nroutes:\n{}\nstatus:\n{}\nhistory:\n{}\nlog:\n{}",
            lab.default_routes(),
            d.cli(&["status"]).1,
            d.cli(&["history"]).1,
            d.log_text()
        )
    };

    let up = wait_for(Duration::from_secs(5), || {
        d.state_of("wan1").as_deref() == Some("up")
            && lab.route_dev(TARGET).as_deref() == Some("wan1")
    });
    assert!(up, "{}", report("wan1 never became up and primary"));

    // Several seconds of 450 ms replies to 200 ms rounds: up, primary, nothing lost.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let state = d.state_of("wan1");
        let dev = lab.route_dev(TARGET);
        assert!(
            state.as_deref() == Some("up") && dev.as_deref() == Some("wan1"),
            "{}",
            report(&format!("wan1 is {state:?}, kernel routes via {dev:?}"))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, json, _) = d.cli(&["status", "--json"]);
    let field = |name| json_field_of(&json, "wan1", name).unwrap_or_default();
    let latency_us: u64 = field("latency_us").parse().unwrap_or(0);
    assert!(
        (400_000..600_000).contains(&latency_us),
        "latency {latency_us} µs in {json}"
    );
    let loss: f64 = field("loss_pct").parse().unwrap_or(f64::NAN);
    assert_eq!(loss, 0.0, "{json}");

    // Silence: the last answered round left just before this, so wan1 is down at most
    // down × interval + timeout later.
    let bound = Duration::from_millis(DOWN * INTERVAL_MS + TIMEOUT_MS + SLACK_MS);
    let silent_at = Instant::now();
    lab.blackhole(1, true);
    let moved = wait_for(bound, || lab.route_dev(TARGET).as_deref() == Some("wan2"));
    let took = silent_at.elapsed();
    assert!(
        moved,
        "{}",
        report(&format!("no failover within {bound:?}"))
    );
    assert_eq!(
        d.state_of("wan1").as_deref(),
        Some("down"),
        "{}",
        report("after failover")
    );
    eprintln!(
        "slow link: failed over {} ms after the blackhole",
        took.as_millis()
    );
}

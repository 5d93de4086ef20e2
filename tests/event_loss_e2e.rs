//! Kernel event loss, provoked: the daemon's netlink event socket overflows (`ENOBUFS`)
//! while a change it must see happens, and the daemon still converges to the right routes.
//!
//! The daemon is stopped (SIGSTOP) so it cannot read; a burst of thousands of route changes
//! in a side table of the gateway namespace fills its event socket's receive buffer; then a
//! DHCP client's renew replaces the daemon's route on wan2, whose notifications the full
//! buffer drops. After SIGCONT the daemon reads `ENOBUFS`, dumps everything again, sees the
//! foreign route and takes wan2 back at its metric.

mod support;

use std::time::Duration;
use support::*;

/// Rounds of the burst (`Lab::route_burst`): far more notifications than the event
/// socket's buffer holds (it is about 2 MiB).
const BURST_ROUNDS: usize = 40;

/// wan2's default routes as `ip route` prints them.
fn wan2_defaults(lab: &Lab) -> Vec<String> {
    lab.gw(&["ip", "route", "show", "default", "dev", "wan2"])
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn lost_notifications_are_recovered_by_a_dump() {
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let dir = TempDir::new("enobufs");
    let d = Daemon::start(&lab, &dir.0, &lab_config(2, &dir.0, "", ""));
    let adopted = wait_for(Duration::from_secs(5), || {
        wan2_defaults(&lab) == ["default via 192.0.2.17 proto 87 metric 2"]
    });
    assert!(adopted, "{:?}\n{}", wan2_defaults(&lab), d.log_text());

    d.signal(nix::sys::signal::Signal::SIGSTOP);
    lab.route_burst(BURST_ROUNDS);
    // a renew while the buffer is full: the daemon's route goes, a foreign one comes
    lab.gw(&[
        "ip", "route", "del", "default", "dev", "wan2", "proto", "87", "metric", "2",
    ]);
    lab.default_via("add", 2, &["proto", "dhcp", "metric", "50"]);
    d.signal(nix::sys::signal::Signal::SIGCONT);

    let converged = wait_for(Duration::from_secs(5), || {
        wan2_defaults(&lab) == ["default via 192.0.2.17 proto 87 metric 2"]
    });
    assert!(converged, "{:?}\n{}", wan2_defaults(&lab), d.log_text());
    assert!(
        d.log_text().contains("notifications were lost"),
        "the burst did not overflow the event socket, so nothing was tested:\n{}",
        d.log_text()
    );
    assert_eq!(
        lab.route_dev("198.51.100.53").as_deref(),
        Some("wan1"),
        "the primary stays active"
    );
}

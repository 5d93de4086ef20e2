//! Kernel event loss, provoked: the daemon's netlink event socket overflows (`ENOBUFS`)
//! while a change it must see happens, and the daemon still converges to the right routes.
//!
//! The daemon is stopped (SIGSTOP) so it cannot read; a burst of thousands of route changes
//! in a side table of the gateway namespace fills its event socket's receive buffer; then a
//! DHCP client's renew replaces the daemon's route on wan2, whose notifications the full
//! buffer drops. After SIGCONT the daemon reads `ENOBUFS`, dumps everything again, sees the
//! foreign route and takes wan2 back at its metric.

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;
use support::*;

/// Route changes in the burst: far more notifications than the event socket's buffer holds
/// (it is about 2 MiB; one route notification costs the buffer about 1 KiB).
const BURST_ROUNDS: usize = 40;

/// `ip -batch` input: add and delete 256 host routes in table 200, `rounds` times.
fn burst(rounds: usize) -> String {
    let mut s = String::new();
    for _ in 0..rounds {
        for verb in ["add", "del"] {
            for i in 0..=255 {
                s.push_str(&format!(
                    "route {verb} 198.51.100.{i}/32 dev wan1 table 200\n"
                ));
            }
        }
    }
    s
}

fn signal(d: &Daemon, sig: nix::sys::signal::Signal) {
    let child = d.child.as_ref().expect("daemon running");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, sig).expect("signal the daemon");
}

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

    signal(&d, nix::sys::signal::Signal::SIGSTOP);
    let mut batch = lab
        .gw_command("ip")
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run ip -batch");
    let input = burst(BURST_ROUNDS);
    batch
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the burst");
    assert!(batch.wait().expect("ip -batch").success());
    // a renew while the buffer is full: the daemon's route goes, a foreign one comes
    lab.gw(&[
        "ip", "route", "del", "default", "dev", "wan2", "proto", "87", "metric", "2",
    ]);
    let renew = [
        "ip",
        "route",
        "add",
        "default",
        "via",
        "192.0.2.17",
        "dev",
        "wan2",
    ];
    lab.gw(&[renew.as_slice(), &["proto", "dhcp", "metric", "50"]].concat());
    signal(&d, nix::sys::signal::Signal::SIGCONT);

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

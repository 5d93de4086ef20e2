//! Giving routes back when several WANs' foreign default routes share a key.
//!
//! busybox udhcpc (Debian's `default.script`) and ISC dhclient both install their default
//! route at metric 0; the kernel keeps two such routes on different devices (`ip route
//! append`, or the ioctl). IPv6 keeps device-only routes of an equal metric apart the same
//! way. Whatever way the daemon leaves (`stop`, SIGTERM, SIGINT, or a crash and a restart
//! that then stops), the gateway must end with exactly the routes it had before the daemon
//! started, and not one route of the daemon's own protocol.

mod support;

use std::time::Duration;
use support::*;

/// Two WANs, both families, with the foreign routes a pair of DHCP clients (and, for IPv6,
/// two point-to-point links) leave: every default at the same metric. `None` when namespace
/// tests cannot run here (the skip is recorded).
fn equal_metric_lab() -> Option<Lab> {
    let lab = open_lab(2, &["--no-routes", "--ipv6"])?;
    lab.default_via("add", 1, &[]);
    lab.default_via("append", 2, &[]);
    for dev in ["wan1", "wan2"] {
        let cmd = [
            "ip", "-6", "route", "append", "default", "dev", dev, "metric", "1024",
        ];
        lab.gw(&cmd);
    }
    Some(lab)
}

/// Every default route of both families, sorted (the kernel lists equal keys in insertion
/// order; which one it lists first is not what this test is about).
fn defaults(lab: &Lab) -> Vec<String> {
    let v4 = lab.gw(&["ip", "route", "show", "default"]);
    let v6 = lab.gw(&["ip", "-6", "route", "show", "default"]);
    let mut all: Vec<String> = v4
        .lines()
        .chain(v6.lines())
        .map(|l| l.trim().to_string())
        .collect();
    all.sort();
    all
}

fn config(dir: &std::path::Path) -> String {
    lab_config(2, dir, "", "")
        .replace(
            "targets = [\"198.51.100.53\", \"198.51.100.54\", \"203.0.113.53\"]",
            "targets = [\"198.51.100.53\", \"2001:db8:ff::53\"]",
        )
        .replace("priority = 1\n", "priority = 1\nfamily = \"both\"\n")
        .replace("priority = 2\n", "priority = 2\nfamily = \"both\"\n")
}

/// Starts the daemon and waits until it has replaced all four foreign routes by its own.
fn start_and_adopt(lab: &Lab, dir: &TempDir) -> Daemon {
    let d = Daemon::start(lab, &dir.0, &config(&dir.0));
    let adopted = wait_for(Duration::from_secs(5), || {
        let all = defaults(lab);
        all.len() == 4 && all.iter().all(|r| r.contains("proto 87"))
    });
    assert!(adopted, "{:#?}\n{}", defaults(lab), d.log_text());
    d
}

fn signal(d: &mut Daemon, sig: nix::sys::signal::Signal) -> std::process::ExitStatus {
    let mut child = d.child.take().expect("daemon running");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, sig).expect("signal the daemon");
    let exited = wait_for(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
    }
    child.wait().expect("daemon exit status")
}

fn assert_given_back(lab: &Lab, before: &[String], d: &Daemon, how: &str) {
    let after = defaults(lab);
    assert_eq!(after, before, "after {how}\n{}", d.log_text());
    assert!(
        !after.iter().any(|r| r.contains("proto 87")),
        "a route of ours is left after {how}: {after:#?}"
    );
}

#[test]
fn equal_metric_routes_come_back_after_stop_sigterm_and_sigint() {
    for how in ["stop", "SIGTERM", "SIGINT"] {
        let Some(lab) = equal_metric_lab() else {
            return;
        };
        let before = defaults(&lab);
        assert_eq!(before.len(), 4, "lab set-up: {before:#?}");
        let dir = TempDir::new("restore");
        let mut d = start_and_adopt(&lab, &dir);
        let ok = match how {
            "stop" => {
                let (ok, _, err) = d.cli(&["stop"]);
                assert!(ok, "stop: {err}");
                let child = d.child.as_mut().expect("daemon running");
                wait_for(Duration::from_secs(10), || {
                    matches!(child.try_wait(), Ok(Some(_)))
                })
            }
            "SIGTERM" => signal(&mut d, nix::sys::signal::Signal::SIGTERM).success(),
            _ => signal(&mut d, nix::sys::signal::Signal::SIGINT).success(),
        };
        assert!(ok, "daemon did not exit cleanly on {how}\n{}", d.log_text());
        assert_given_back(&lab, &before, &d, how);
    }
}

#[test]
fn equal_metric_routes_come_back_after_a_crash_and_restart() {
    let Some(lab) = equal_metric_lab() else {
        return;
    };
    let before = defaults(&lab);
    let dir = TempDir::new("restore-crash");
    let mut d = start_and_adopt(&lab, &dir);
    d.kill9();
    // the crashed daemon's routes are still there; the next run knows what they replaced
    let mut d2 = start_and_adopt(&lab, &dir);
    let status = d2.stop().expect("daemon exit status");
    assert!(status.success(), "exit {status:?}\n{}", d2.log_text());
    assert_given_back(&lab, &before, &d2, "kill -9, restart and SIGTERM");
}

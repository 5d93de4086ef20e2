//! The lab itself: topology, fault injection and clean-up behave as the other end-to-end
//! tests assume.

mod support;
use std::time::Duration;
use support::{open_lab, wait_for};

#[test]
fn lab_builds_faults_and_cleans_up() {
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let ns = lab.gw_ns();
    {
        // wan1 carries the DHCP-style metric-0 route, so the kernel picks it.
        assert_eq!(lab.route_dev("198.51.100.53").as_deref(), Some("wan1"));
        lab.carrier(1, false);
        let linkdown = wait_for(Duration::from_secs(3), || {
            lab.default_routes()
                .lines()
                .any(|l| l.contains("dev wan1") && l.contains("linkdown"))
        });
        assert!(
            linkdown,
            "wan1 route not linkdown: {}",
            lab.default_routes()
        );
        lab.carrier(1, true);
        lab.blackhole(2, true);
        let ping = lab
            .gw_command("ping")
            .args(["-c1", "-W1", "-I", "wan2", "198.51.100.53"])
            .output()
            .unwrap();
        assert!(!ping.status.success(), "blackholed WAN still answers");
        lab.blackhole(2, false);
        let ping = lab
            .gw_command("ping")
            .args(["-c1", "-W2", "-I", "wan2", "198.51.100.53"])
            .output()
            .unwrap();
        assert!(
            ping.status.success(),
            "WAN does not answer after the blackhole is lifted"
        );
    }
    drop(lab);
    let list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(&ns),
        "lab left {ns} behind"
    );
}

//! `priority = "auto"`: priorities from the kind of device, fixed ones kept, ties by config
//! order.

use super::*;
use device::Kind;

fn auto_cfg(name: &str, ifindex: u32) -> config::Wan {
    let mut c = wan_cfg(name, ifindex);
    c.priority = Priority::Auto;
    c
}

fn device(wan: WanId, kind: Kind) -> Input {
    Input::Device { wan, kind }
}

/// `(priority, priority_auto, device)` of every WAN, as `status` reports them.
fn priorities(h: &H) -> Vec<(u32, bool, String)> {
    let rows = h.e.status(h.now);
    rows.into_iter()
        .map(|s| (s.priority, s.priority_auto, s.device))
        .collect()
}

fn row(priority: u32, auto: bool, device: &str) -> (u32, bool, String) {
    (priority, auto, device.to_string())
}

/// "a" and "b" automatic, "c" fixed at `c_priority`; links up, routes adopted, all up.
fn two_auto_and_fixed(c_priority: u32) -> H {
    let c = wan_cfg("c", c_priority);
    let mut h = H::new(config(vec![auto_cfg("a", 1), auto_cfg("b", 2), c]));
    h.bring_up(|_, _| Vec::new());
    h
}

#[test]
fn automatic_priorities_follow_the_device_kind_in_config_order() {
    let mut h = two_auto_and_fixed(5);
    // no kind reported yet: after every known kind, still in config order
    assert_eq!(
        priorities(&h),
        [
            row(10_000, true, "unknown"),
            row(10_001, true, "unknown"),
            row(5, false, "")
        ]
    );
    let mut acts = h.feed(100, device(0, Kind::Ethernet));
    acts.extend(h.feed(100, device(1, Kind::Ethernet)));
    assert_eq!(
        priorities(&h),
        [
            row(100, true, "ethernet"),
            row(101, true, "ethernet"),
            row(5, false, "")
        ]
    );
    assert_eq!(h.metrics(), [100, 101, 5]);
    assert_eq!(h.active().as_deref(), Some("c"), "the fixed 5 is first");
    assert!(
        route_ops(&acts).contains(&("add", ours(1, 1, 100))),
        "{acts:?}"
    );
}

#[test]
fn a_fixed_priority_is_kept_and_automatic_ones_move_past_it() {
    let mut h = two_auto_and_fixed(100);
    h.feed(100, device(0, Kind::Ethernet));
    h.feed(100, device(1, Kind::Ethernet));
    assert_eq!(h.metrics(), [101, 102, 100]);
}

#[test]
fn another_kind_under_the_name_reranks() {
    let mut h = two_auto_and_fixed(5);
    h.feed(100, device(0, Kind::Wifi));
    h.feed(100, device(1, Kind::Modem));
    assert_eq!(h.metrics(), [600, 700, 5]);
    // the Wi-Fi stick was swapped for an Ethernet adapter
    h.feed(200, device(0, Kind::Ethernet));
    assert_eq!(h.metrics(), [100, 700, 5]);
    assert_eq!(priorities(&h)[0], row(100, true, "ethernet"));
    // down: the penalty counts from the automatic priority
    let gone = Input::LinkGone { wan: 1 };
    h.feed(300, gone);
    assert_eq!(h.metrics(), [100, 20_700, 5]);
    assert_eq!(
        priorities(&h)[1],
        row(700, true, "modem"),
        "kept while gone"
    );
}

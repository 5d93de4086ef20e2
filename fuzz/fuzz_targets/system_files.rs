#![no_main]
// Files the daemon reads from the system: /etc/group (socket group), the `Groups:` line
// of /proc/<pid>/status (a control client's supplementary groups), and an interface's
// sysfs `type` and `uevent` (`priority = "auto"`). Any bytes: an answer or
// none, never a panic; a (UTF-8) name found by gid is found again by name.
use wanfailover::control::{group, peer};
use wanfailover::sys::device;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for gid in [0u32, 1, 1000, u32::MAX] {
        // (a name that is not UTF-8 comes back lossily converted, for messages only)
        if let Some(name) = group::name_in(data, gid).filter(|n| !n.contains('\u{fffd}')) {
            let again = group::gid_in(data, &name);
            assert!(again.is_some(), "{name} found by gid {gid} but not by name");
        }
    }
    let _ = group::gid_in(data, "netadmin");
    let _ = peer::groups_from_proc_status(&String::from_utf8_lossy(data));
    let _ = device::parse_type(data);
    if let Some(t) = device::devtype(data) {
        assert!(!t.is_empty() && t.len() <= 32, "{t:?}");
    }
});

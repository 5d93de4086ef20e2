//! Start-up check for strict reverse-path filtering on a WAN.
//!
//! With `rp_filter=1` (strict, RFC 3704) the kernel drops a packet whose source would not be
//! routed back out of the interface it arrived on. On a backup WAN, whose default route has
//! a higher metric, replies to our probes come from targets the kernel routes via the
//! primary: they are dropped and the backup looks dead. Loose mode (2) only asks that the
//! source be routable at all. The kernel uses the maximum of `conf/all` and `conf/IFACE`.

use std::path::Path;

/// `rp_filter` modes.
pub const RP_FILTER_OFF: u8 = 0;
pub const RP_FILTER_STRICT: u8 = 1;
pub const RP_FILTER_LOOSE: u8 = 2;

/// The warning for `ifname` given the values of `conf/all/rp_filter` and
/// `conf/IFACE/rp_filter` (`None` when unreadable, treated as 0), or `None` when the
/// effective mode is not strict.
pub fn rp_filter_decision(ifname: &str, all: Option<u8>, iface: Option<u8>) -> Option<String> {
    let effective = all
        .unwrap_or(RP_FILTER_OFF)
        .max(iface.unwrap_or(RP_FILTER_OFF));
    if effective != RP_FILTER_STRICT {
        return None;
    }
    let (a, i) = (all.unwrap_or(0), iface.unwrap_or(0));
    // Loose mode must be set where strict comes from: `all` wins over a lower per-interface
    // value, so both may need changing.
    let mut fix = format!("sysctl -w net.ipv4.conf.{ifname}.rp_filter={RP_FILTER_LOOSE}");
    if a == RP_FILTER_STRICT {
        fix = format!("sysctl -w net.ipv4.conf.all.rp_filter={RP_FILTER_LOOSE} && {fix}");
    }
    Some(format!(
        "{ifname}: strict reverse-path filtering (rp_filter all={a} {ifname}={i}) drops replies \
         to probes sent through a backup WAN; use loose mode: {fix}"
    ))
}

/// Reads the sysctls under `/proc/sys/net/ipv4/conf` and returns the warning, if any.
pub fn rp_filter_warning(ifname: &str) -> Option<String> {
    rp_filter_warning_in(Path::new("/proc/sys/net/ipv4/conf"), ifname)
}

fn rp_filter_warning_in(conf: &Path, ifname: &str) -> Option<String> {
    // An interface name with a path separator can not be a real interface.
    if ifname.is_empty() || ifname.contains('/') || ifname.starts_with('.') {
        return None;
    }
    let read = |dir: &str| -> Option<u8> {
        let text = std::fs::read_to_string(conf.join(dir).join("rp_filter")).ok()?;
        text.trim().parse().ok()
    };
    rp_filter_decision(ifname, read("all"), read(ifname))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_mode_is_the_maximum() {
        let table = [
            (Some(0), Some(0), false),
            (Some(0), Some(1), true),
            (Some(1), Some(0), true),
            (Some(1), Some(1), true),
            (Some(1), Some(2), false),
            (Some(2), Some(1), false),
            (Some(2), Some(0), false),
            (None, Some(1), true),
            (Some(1), None, true),
            (None, None, false),
        ];
        for (all, iface, warns) in table {
            assert_eq!(
                rp_filter_decision("wan2", all, iface).is_some(),
                warns,
                "{all:?} {iface:?}"
            );
        }
    }

    #[test]
    fn suggests_the_sysctl_that_fixes_it() {
        let w = rp_filter_decision("wwan0", Some(0), Some(1)).unwrap();
        assert!(
            w.contains("sysctl -w net.ipv4.conf.wwan0.rp_filter=2"),
            "{w}"
        );
        assert!(!w.contains("conf.all"), "{w}");
        let w = rp_filter_decision("wwan0", Some(1), Some(0)).unwrap();
        assert!(w.contains("net.ipv4.conf.all.rp_filter=2"), "{w}");
    }

    #[test]
    fn reads_proc_layout() {
        let dir = std::env::temp_dir().join(format!("wf-rpf-{}", std::process::id()));
        for (sub, v) in [("all", "0\n"), ("eth1", "1\n")] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::write(dir.join(sub).join("rp_filter"), v).unwrap();
        }
        assert!(rp_filter_warning_in(&dir, "eth1").is_some());
        assert!(
            rp_filter_warning_in(&dir, "eth9").is_none(),
            "missing interface reads as 0"
        );
        assert!(rp_filter_warning_in(&dir, "../eth1").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

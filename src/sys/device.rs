//! What sysfs says about an interface's device: its hardware type, its uevent `DEVTYPE` and
//! whether it is a TUN/TAP device (see [`crate::engine::device`] for what that decides).
//!
//! `ip netns exec` mounts a sysfs of the namespace, so `/sys/class/net` lists the interfaces
//! of the namespace the daemon runs in.

use std::path::Path;

use crate::engine::device::Facts;

/// Longest sysfs file read (a uevent is a few short lines).
const MAX_FILE_LEN: usize = 4096;

/// The facts for `ifname`, or `None` when sysfs has no such interface (or `ifname` could
/// not be an interface name).
pub fn facts(ifname: &str) -> Option<Facts> {
    facts_in(Path::new("/sys/class/net"), ifname)
}

/// [`facts`] under another sysfs directory (tests).
pub fn facts_in(class_net: &Path, ifname: &str) -> Option<Facts> {
    if ifname.is_empty() || ifname.contains('/') || ifname == "." || ifname == ".." {
        return None;
    }
    let dir = class_net.join(ifname);
    let arphrd = read_small(&dir.join("type")).and_then(|t| parse_type(&t));
    let uevent = read_small(&dir.join("uevent"));
    if arphrd.is_none() && uevent.is_none() {
        return None;
    }
    Some(Facts {
        arphrd,
        devtype: uevent.and_then(|u| devtype(&u)),
        tun: dir.join("tun_flags").exists(),
    })
}

fn read_small(path: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    (bytes.len() <= MAX_FILE_LEN).then_some(bytes)
}

/// `/sys/class/net/IF/type`: a decimal `ARPHRD_*` and a newline.
pub fn parse_type(text: &[u8]) -> Option<u16> {
    std::str::from_utf8(text).ok()?.trim().parse().ok()
}

/// The `DEVTYPE=` line of a uevent (`KEY=VALUE` lines), if any.
pub fn devtype(uevent: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(uevent).ok()?;
    let value = text.lines().find_map(|l| l.strip_prefix("DEVTYPE="))?;
    let ok = !value.is_empty() && value.len() <= 32;
    let ok = ok
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
    ok.then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_file() {
        assert_eq!(parse_type(b"1\n"), Some(1));
        assert_eq!(parse_type(b"65534\n"), Some(0xfffe));
        for bad in [
            &b""[..],
            b"\n",
            b"-1\n",
            b"70000\n",
            b"1 2\n",
            b"\xff\xfe",
            b"0x1",
        ] {
            assert_eq!(parse_type(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn uevent_devtype() {
        let wlan = b"DEVTYPE=wlan\nINTERFACE=wlan0\nIFINDEX=3\n";
        assert_eq!(devtype(wlan).as_deref(), Some("wlan"));
        assert_eq!(devtype(b"INTERFACE=eth0\nIFINDEX=2\n"), None);
        // hostile: not UTF-8, empty, oversized, odd bytes, a prefix that is not the key
        for bad in [
            &b"DEVTYPE=\xff\n"[..],
            b"DEVTYPE=\n",
            b"DEVTYPE=a b\n",
            b"XDEVTYPE=wlan\n",
            b" DEVTYPE=wlan\n",
            &[b'a'; 5000][..],
        ] {
            assert_eq!(devtype(bad), None, "{bad:?}");
        }
        let long = format!("DEVTYPE={}\n", "w".repeat(33));
        assert_eq!(devtype(long.as_bytes()), None);
    }

    #[test]
    fn facts_from_a_sysfs_tree() {
        let root = std::env::temp_dir().join(format!("wf-sysfs-{}", std::process::id()));
        let wlan = root.join("wlan0");
        std::fs::create_dir_all(&wlan).expect("temp dir");
        std::fs::write(wlan.join("type"), "1\n").expect("write");
        std::fs::write(wlan.join("uevent"), "DEVTYPE=wlan\nINTERFACE=wlan0\n").expect("write");
        let tun = root.join("tun0");
        std::fs::create_dir_all(&tun).expect("temp dir");
        std::fs::write(tun.join("type"), "65534\n").expect("write");
        std::fs::write(tun.join("tun_flags"), "0x1001\n").expect("write");
        let f = facts_in(&root, "wlan0").expect("wlan0");
        assert_eq!(
            (f.arphrd, f.devtype.as_deref(), f.tun),
            (Some(1), Some("wlan"), false)
        );
        let f = facts_in(&root, "tun0").expect("tun0");
        assert_eq!((f.arphrd, f.devtype, f.tun), (Some(0xfffe), None, true));
        for absent in ["eth9", "", "..", "wlan0/../tun0"] {
            assert_eq!(facts_in(&root, absent), None, "{absent}");
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

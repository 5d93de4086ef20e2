//! Group names ↔ gids from `/etc/group`, without the C library's name service.
//!
//! The shipped binaries are static. In a static glibc binary `getgrnam(3)` still runs the
//! whole NSS machinery (`nsswitch.conf`, built-in `files` and `dns` modules, the resolver,
//! `dlopen` for any other module, which then must match the exact glibc version of the
//! image). That is about 60 KiB of code for one start-up lookup, and a `dlopen` from a
//! static binary is a known way to crash. Gateways keep their groups in `/etc/group`, so
//! that file is what we read; a numeric `socket_group` needs no lookup at all.
//!
//! The format is `name:password:gid:members`, one group per line. Like glibc's `files`
//! module we skip leading blanks, empty lines and `#` comments, and the first entry with
//! the name wins. Lines we cannot read (too few fields, a gid that is not a number, NIS
//! `+`/`-` entries) are skipped: they name no group we could use.

use std::io;

/// Where the groups are.
pub const GROUP_FILE: &str = "/etc/group";

/// One usable entry of a group file: its name and gid.
fn entries(text: &[u8]) -> impl Iterator<Item = (&[u8], u32)> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
        let line = &line[start..];
        if line[0] == b'#' || line[0] == b'+' || line[0] == b'-' {
            return None;
        }
        let mut fields = line.split(|&b| b == b':');
        let name = fields.next().filter(|n| !n.is_empty())?;
        let _password = fields.next()?;
        let gid = fields.next()?;
        // A trailing `\r` (a file edited elsewhere) would otherwise hide the last field.
        let gid = gid.strip_suffix(b"\r").unwrap_or(gid);
        let gid = std::str::from_utf8(gid).ok()?.parse().ok()?;
        Some((name, gid))
    })
}

/// The gid of the group `name` in the text of a group file.
pub fn gid_in(text: &[u8], name: &str) -> Option<u32> {
    entries(text)
        .find(|(n, _)| *n == name.as_bytes())
        .map(|(_, gid)| gid)
}

/// The name of the group with `gid` in the text of a group file.
pub fn name_in(text: &[u8], gid: u32) -> Option<String> {
    entries(text)
        .find(|(_, g)| *g == gid)
        .map(|(name, _)| String::from_utf8_lossy(name).into_owned())
}

/// The gid of the group `name`, from [`GROUP_FILE`]. `Ok(None)`: no such group.
pub fn gid_by_name(name: &str) -> io::Result<Option<u32>> {
    Ok(gid_in(&std::fs::read(GROUP_FILE)?, name))
}

/// The name of the group `gid`, from [`GROUP_FILE`]; `None` if unknown or unreadable.
pub fn name_by_gid(gid: u32) -> Option<String> {
    name_in(&std::fs::read(GROUP_FILE).ok()?, gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: &[u8] = b"root:x:0:\n\
        # admins of the uplinks\n\
        \n\
        netadmin:x:150:alice,bob\n\
        wheel:*:10\n\
        dialout:x:20:\n\
        netadmin:x:151:\n";

    #[test]
    fn names_and_gids_are_found() {
        assert_eq!(gid_in(GROUP, "root"), Some(0));
        assert_eq!(gid_in(GROUP, "netadmin"), Some(150), "the first entry wins");
        assert_eq!(gid_in(GROUP, "wheel"), Some(10), "no members field");
        assert_eq!(gid_in(GROUP, "nobody"), None);
        assert_eq!(name_in(GROUP, 20).as_deref(), Some("dialout"));
        assert_eq!(name_in(GROUP, 150).as_deref(), Some("netadmin"));
        assert_eq!(name_in(GROUP, 4242), None);
    }

    #[test]
    fn hostile_lines_are_skipped() {
        let text: &[u8] = b"\
            \xff\xfe:x:7:\n\
            short:x\n\
            :x:8:\n\
            neg:x:-1:\n\
            big:x:4294967296:\n\
            spaced:x: 9:\n\
            +nis::0:\n\
            -nis::0:\n\
            #c:x:11:\n\
            a:b:c:d:e:f\n\
            \x00\x00\x00\n\
            ::::\n\
            \t  indented:x:12:\n\
            crlf:x:13\r\n\
            good:x:14:";
        assert_eq!(name_in(text, 7).as_deref(), Some("\u{fffd}\u{fffd}"));
        for name in [
            "short", "", "neg", "big", "spaced", "+nis", "-nis", "#c", "a",
        ] {
            assert_eq!(gid_in(text, name), None, "{name:?}");
        }
        assert_eq!(name_in(text, 0), None, "NIS entries are not groups");
        assert_eq!(name_in(text, 11), None, "comments are not groups");
        assert_eq!(gid_in(text, "indented"), Some(12));
        assert_eq!(gid_in(text, "crlf"), Some(13));
        assert_eq!(gid_in(text, "good"), Some(14), "no final newline");
        assert_eq!(gid_in(b"", "root"), None);
        assert_eq!(gid_in(b"\n\n\n", "root"), None);
    }

    #[test]
    fn a_large_file_is_fine() {
        let mut text = Vec::new();
        for i in 0..10_000u32 {
            text.extend_from_slice(format!("g{i}:x:{i}:u{i}\n").as_bytes());
        }
        assert_eq!(gid_in(&text, "g9999"), Some(9999));
        assert_eq!(name_in(&text, 5000).as_deref(), Some("g5000"));
    }
}

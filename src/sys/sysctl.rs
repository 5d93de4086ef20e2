//! The kernel settings balance mode needs (DESIGN.md §10): how the multipath route picks a
//! next hop for a new flow, per family. The daemon sets them, remembers what they were
//! and writes exactly that back on exit.
//!
//! - `sticky = "flow"`: `fib_multipath_hash_policy = 1` (layer 4: addresses, protocol,
//!   ports), so one connection stays on one WAN and connections spread.
//! - `sticky = "source"`: policy 3 (custom, Linux 5.17+) with `fib_multipath_hash_fields`
//!   = source address only, so every flow of one LAN host leaves through one WAN.
//!
//! The values are plain decimal numbers under `/proc/sys/net/ipv{4,6}/`, per network
//! namespace (the daemon's). `fib_multipath_hash_fields` refuses 0. Parsing and the
//! plan of what to write are pure; [`Sysctls`] reads and writes below a root directory
//! (`/proc/sys`, or a test's own).

use std::io;
use std::path::{Path, PathBuf};

use crate::config::Sticky;

/// `FIB_MULTIPATH_HASH_FIELD_SRC_IP` (`include/net/ip_fib.h`, the same bit for IPv6).
pub const FIB_MULTIPATH_HASH_FIELD_SRC_IP: u32 = 0x0001;
/// The layer-4 hash policy.
pub const HASH_POLICY_L4: u32 = 1;
/// The custom hash policy, fields from `fib_multipath_hash_fields`.
pub const HASH_POLICY_CUSTOM: u32 = 3;

/// A setting the daemon may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    V4HashPolicy,
    V4HashFields,
    V6HashPolicy,
    V6HashFields,
}

impl Key {
    pub const ALL: [Key; 4] = [
        Key::V4HashPolicy,
        Key::V4HashFields,
        Key::V6HashPolicy,
        Key::V6HashFields,
    ];

    /// The path below `/proc/sys`.
    pub fn path(self) -> &'static str {
        match self {
            Key::V4HashPolicy => "net/ipv4/fib_multipath_hash_policy",
            Key::V4HashFields => "net/ipv4/fib_multipath_hash_fields",
            Key::V6HashPolicy => "net/ipv6/fib_multipath_hash_policy",
            Key::V6HashFields => "net/ipv6/fib_multipath_hash_fields",
        }
    }

    /// The dotted name `sysctl` uses.
    pub fn name(self) -> String {
        self.path().replace('/', ".")
    }
}

/// The settings that `sticky` wants, in the order they are written (the fields before the
/// policy that reads them).
pub fn wanted(sticky: Sticky) -> &'static [(Key, u32)] {
    match sticky {
        Sticky::Flow => &[
            (Key::V4HashPolicy, HASH_POLICY_L4),
            (Key::V6HashPolicy, HASH_POLICY_L4),
        ],
        Sticky::Source => &[
            (Key::V4HashFields, FIB_MULTIPATH_HASH_FIELD_SRC_IP),
            (Key::V4HashPolicy, HASH_POLICY_CUSTOM),
            (Key::V6HashFields, FIB_MULTIPATH_HASH_FIELD_SRC_IP),
            (Key::V6HashPolicy, HASH_POLICY_CUSTOM),
        ],
    }
}

/// Why a value read from `/proc/sys` is not a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue(pub String);

impl core::fmt::Display for BadValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "not an unsigned number: {:?}", self.0)
    }
}

/// A value as the kernel prints it: decimal, then a newline.
pub fn parse_value(text: &str) -> Result<u32, BadValue> {
    let t = text.trim_end_matches('\n');
    if t.is_empty() || t.len() > 10 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadValue(t.chars().take(16).collect()));
    }
    t.parse().map_err(|_| BadValue(t.to_string()))
}

/// The values found before the daemon changed anything, in the order they were changed.
/// Kept for restoring on exit (and, in the daemon, written to its state file so a restart
/// after a crash restores the values from before the first start, not its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    entries: Vec<(Key, u32)>,
}

impl Saved {
    pub fn from_entries(entries: Vec<(Key, u32)>) -> Saved {
        Saved { entries }
    }

    pub fn entries(&self) -> &[(Key, u32)] {
        &self.entries
    }

    /// What to write for `wanted`, given the current values: each key that differs, its
    /// previous value remembered once (a second apply keeps the first original).
    pub fn plan(&mut self, wanted: &[(Key, u32)], current: impl Fn(Key) -> u32) -> Vec<(Key, u32)> {
        let mut writes = Vec::new();
        for &(key, value) in wanted {
            let now = current(key);
            if now == value {
                continue;
            }
            if !self.entries.iter().any(|(k, _)| *k == key) {
                self.entries.push((key, now));
            }
            writes.push((key, value));
        }
        writes
    }

    /// What to write back on exit: the originals, the last changed first (a policy goes
    /// back before the fields it read).
    pub fn restore_plan(&self) -> impl Iterator<Item = (Key, u32)> + '_ {
        self.entries.iter().rev().copied()
    }
}

/// Reads and writes the settings below a root (`/proc/sys`), remembering the originals.
#[derive(Debug, Clone)]
pub struct Sysctls {
    root: PathBuf,
    saved: Saved,
}

impl Sysctls {
    /// The running kernel's (the calling thread's network namespace).
    pub fn new() -> Sysctls {
        Sysctls::at(Path::new("/proc/sys"), Saved::default())
    }

    /// Below `root`, with originals saved before (a restart after a crash).
    pub fn at(root: &Path, saved: Saved) -> Sysctls {
        Sysctls {
            root: root.to_path_buf(),
            saved,
        }
    }

    pub fn saved(&self) -> &Saved {
        &self.saved
    }

    pub fn read(&self, key: Key) -> io::Result<u32> {
        let text = std::fs::read_to_string(self.root.join(key.path()))?;
        parse_value(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    }

    fn write(&self, key: Key, value: u32) -> io::Result<()> {
        std::fs::write(self.root.join(key.path()), format!("{value}\n"))
    }

    /// Makes the settings what `sticky` wants. A setting this kernel lacks (`ENOENT`: no
    /// IPv6, or hash fields before Linux 5.12) is an error the caller may log and live
    /// with: the hash then stays as it was.
    pub fn apply(&mut self, sticky: Sticky) -> io::Result<()> {
        let wanted = wanted(sticky);
        let mut current = Vec::new();
        for &(key, _) in wanted {
            current.push((key, self.read(key)?));
        }
        let now = |k: Key| current.iter().find(|(c, _)| *c == k).map_or(0, |(_, v)| *v);
        for (key, value) in self.saved.plan(wanted, now) {
            self.write(key, value)?;
        }
        Ok(())
    }

    /// Writes every original back; the first failure is returned after trying them all.
    pub fn restore(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for (key, value) in self.saved.restore_plan() {
            if let Err(e) = self.write(key, value) {
                log::warn!("sysctl: cannot restore {} = {value}: {e}", key.name());
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        if result.is_ok() {
            self.saved = Saved::default();
        }
        result
    }
}

impl Default for Sysctls {
    fn default() -> Sysctls {
        Sysctls::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_the_kernel_prints_them() {
        assert_eq!(parse_value("1\n"), Ok(1));
        assert_eq!(parse_value("7"), Ok(7));
        assert_eq!(parse_value("4294967295\n"), Ok(u32::MAX));
        for bad in [
            "",
            "\n",
            "-1\n",
            "0x7\n",
            "1 2\n",
            "4294967296\n",
            "99999999999\n",
        ] {
            assert!(parse_value(bad).is_err(), "{bad:?}");
        }
        let e = parse_value("x".repeat(100).as_str()).unwrap_err();
        assert!(e.to_string().len() < 60);
    }

    #[test]
    fn plans_remember_the_first_original_only() {
        let mut saved = Saved::default();
        let kernel = |k: Key| match k {
            Key::V4HashFields | Key::V6HashFields => 7,
            _ => 0,
        };
        let writes = saved.plan(wanted(Sticky::Source), kernel);
        assert_eq!(writes, wanted(Sticky::Source));
        assert_eq!(
            saved.entries(),
            [
                (Key::V4HashFields, 7),
                (Key::V4HashPolicy, 0),
                (Key::V6HashFields, 7),
                (Key::V6HashPolicy, 0)
            ]
        );
        // a reload to "flow": only the policies change; the originals stay the first ones
        let after = |k: Key| match k {
            Key::V4HashFields | Key::V6HashFields => 1,
            _ => 3,
        };
        let writes = saved.plan(wanted(Sticky::Flow), after);
        assert_eq!(writes, [(Key::V4HashPolicy, 1), (Key::V6HashPolicy, 1)]);
        assert_eq!(saved.entries().len(), 4);
        let back: Vec<_> = saved.restore_plan().collect();
        assert_eq!(back[0], (Key::V6HashPolicy, 0));
        assert_eq!(back[3], (Key::V4HashFields, 7));
    }

    #[test]
    fn nothing_to_do_when_already_so() {
        let mut saved = Saved::default();
        assert!(saved.plan(wanted(Sticky::Flow), |_| 1).is_empty());
        assert!(saved.entries().is_empty());
        assert_eq!(
            Key::V6HashFields.name(),
            "net.ipv6.fib_multipath_hash_fields"
        );
    }

    /// A `/proc/sys` of plain files, as the kernel has them in a fresh namespace.
    fn fake_proc(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("wf-sysctl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for key in Key::ALL {
            let path = root.join(key.path());
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            let value = if key.path().ends_with("fields") {
                "7\n"
            } else {
                "0\n"
            };
            std::fs::write(path, value).expect("write");
        }
        root
    }

    #[test]
    fn apply_and_restore_exactly() {
        let root = fake_proc("restore");
        let mut s = Sysctls::at(&root, Saved::default());
        s.apply(Sticky::Source).expect("apply");
        assert_eq!(s.read(Key::V4HashPolicy).expect("read"), 3);
        assert_eq!(s.read(Key::V6HashFields).expect("read"), 1);
        // a restart after a crash: the saved originals come from the state file
        let mut again = Sysctls::at(&root, s.saved().clone());
        again.apply(Sticky::Source).expect("apply");
        again.restore().expect("restore");
        for key in Key::ALL {
            let want = if key.path().ends_with("fields") { 7 } else { 0 };
            assert_eq!(again.read(key).expect("read"), want, "{key:?}");
        }
        assert!(again.saved().entries().is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_missing_setting_is_an_error_not_a_panic() {
        let root = fake_proc("missing");
        std::fs::remove_file(root.join(Key::V6HashPolicy.path())).expect("rm");
        let mut s = Sysctls::at(&root, Saved::default());
        let e = s.apply(Sticky::Flow).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        // nothing was written before the failing read
        assert_eq!(s.read(Key::V4HashPolicy).expect("read"), 0);
        let _ = std::fs::remove_dir_all(&root);
    }
}

//! `WANFAILOVER-MIB` (`mibs/WANFAILOVER-MIB.txt`) as data: a status snapshot becomes the
//! ordered list of every instance below the base OID, which answers `get` and `getnext`.
//! Pure.
//!
//! ```text
//! base                                   wanFailoverMIB (default 1.3.6.1.4.1.8072.9999.9999.57)
//! base.0.N                               notifications (sent by the example trap hook)
//! base.1.1.{1..5}.0                      scalars: active WAN name and index, WAN count,
//!                                        switches, daemon uptime
//! base.1.2.1.COLUMN.INDEX                wanfWanTable, INDEX = position in the config (1-based)
//! base.1.3.N                             accessible-for-notify objects (trap varbinds)
//! base.2                                 conformance
//! ```
//!
//! An instance whose value the daemon does not report (no latency before the first reply,
//! no rate before the second counter sample, counters a daemon does not send) is left out:
//! `get` answers `NONE` (noSuchInstance), `getnext` skips it, `snmptable` shows `?`.

use super::oid::Oid;
use super::pass_persist::{display_string, Value};
use crate::control::protocol;
use crate::engine::WanStatus;

/// The default base OID: arc 57 under net-snmp's `netSnmpPlaypen`
/// (1.3.6.1.4.1.8072.9999.9999), which net-snmp sets aside for local experiments. A vendor
/// re-roots the tree under its own enterprise number (see the MIB's `DESCRIPTION`).
pub const DEFAULT_BASE: &str = "1.3.6.1.4.1.8072.9999.9999.57";

/// `wanfWanName`, `wanfActiveWanName`: WAN names are at most this long (config limit).
const NAME_MAX: usize = crate::config::MAX_NAME_LEN;
/// `wanfWanInterface`: Linux interface names are at most 15 bytes (`IFNAMSIZ - 1`).
const IFNAME_MAX: usize = 15;

/// Sub-identifiers below the base.
const OBJECTS: u32 = 1;
const GENERAL: [u32; 2] = [OBJECTS, 1];
const WAN_ENTRY: [u32; 3] = [OBJECTS, 2, 1];

/// Values of the `WanFailoverState` textual convention.
pub fn state_number(state: &str) -> i32 {
    match state {
        "init" => 2,
        "up" => 3,
        "degraded" => 4,
        "down" => 5,
        "linkdown" => 6,
        "noroute" => 7,
        "disabled" => 8,
        // other(1): a state this agent does not know yet (a newer daemon).
        _ => 1,
    }
}

/// Daemon-wide counters, from the daemon's `Counters` answer; absent when it gives none
/// (a daemon that does not count, or one too slow to answer the second request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Changes of the active WAN since the daemon started.
    pub switches: u64,
    pub uptime_ms: u64,
}

/// Per-WAN byte counters (same source as [`Counters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bytes {
    pub rx: u64,
    pub tx: u64,
}

/// Everything the tree is built from: one status answer, and whatever counters came with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub wans: Vec<WanStatus>,
    pub counters: Option<Counters>,
    /// By WAN position, when the daemon reports byte counters.
    pub bytes: Vec<Option<Bytes>>,
}

impl Snapshot {
    /// A status answer and the `Counters` answer that followed it (if any). Byte counters
    /// go to the row of the same name: a reload between the two answers may have moved it.
    pub fn new(wans: Vec<WanStatus>, counters: Option<&protocol::Counters>) -> Snapshot {
        let bytes_of = |row: &WanStatus| {
            let c = counters?.wans.iter().find(|c| c.name == row.name)?;
            let (rx, tx) = (c.rx_bytes?, c.tx_bytes?);
            Some(Bytes { rx, tx })
        };
        Snapshot {
            bytes: wans.iter().map(bytes_of).collect(),
            counters: counters.map(|c| Counters {
                switches: c.switches,
                uptime_ms: c.uptime_ms,
            }),
            wans,
        }
    }
}

/// Every instance below the base, in OID order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    entries: Vec<(Oid, Value)>,
}

type Column = (u32, fn(&WanStatus, Option<&Bytes>) -> Option<Value>);

/// `wanfWanEntry` columns; 1 (`wanfWanIndex`) is not-accessible, as SMIv2 wants of an index.
const COLUMNS: [Column; 16] = [
    (2, |w, _| {
        Some(Value::String(display_string(&w.name, NAME_MAX)))
    }),
    (3, |w, _| {
        Some(Value::String(display_string(&w.interface, IFNAME_MAX)))
    }),
    (4, |w, _| Some(Value::Integer(state_number(&w.state)))),
    (5, |w, _| Some(Value::Gauge32(w.priority))),
    (6, |w, _| Some(Value::Gauge32(w.metric))),
    (7, |w, _| Some(truth(w.active))),
    (8, |w, _| Some(truth(w.preferred))),
    (9, |w, _| w.latency_us.map(gauge)),
    (10, |w, _| w.jitter_us.map(gauge)),
    (11, |w, _| w.loss_centi_pct.map(|c| gauge(u64::from(c)))),
    (12, |w, _| w.rx_bps.map(gauge)),
    (13, |w, _| w.tx_bps.map(gauge)),
    (14, |w, _| Some(ticks(w.since_ms))),
    (15, |w, _| Some(counter32(w.late_rounds))),
    (16, |_, b| b.map(|b| Value::Counter64(b.rx))),
    (17, |_, b| b.map(|b| Value::Counter64(b.tx))),
];

impl Tree {
    /// The instances of `snap` below `base`. Instances whose OID would exceed 128
    /// sub-identifiers (a base of over 121) are left out.
    pub fn build(base: &Oid, snap: &Snapshot) -> Tree {
        let mut entries = Vec::new();
        let mut add = |subs: &[u32], value: Option<Value>| {
            if let (Some(oid), Some(value)) = (base.child(subs), value) {
                entries.push((oid, value));
            }
        };
        let active = snap.wans.iter().position(|w| w.active);
        let active_name = active.map_or("", |i| snap.wans[i].name.as_str());
        let general = |n: u32| [GENERAL[0], GENERAL[1], n, 0];
        add(
            &general(1),
            Some(Value::String(display_string(active_name, NAME_MAX))),
        );
        add(&general(2), Some(integer(active.map_or(0, index))));
        let count = u32::try_from(snap.wans.len()).unwrap_or(u32::MAX);
        add(&general(3), Some(integer(count)));
        add(&general(4), snap.counters.map(|c| counter32(c.switches)));
        add(&general(5), snap.counters.map(|c| ticks(c.uptime_ms)));
        for (column, value_of) in COLUMNS {
            for (i, wan) in snap.wans.iter().enumerate() {
                let bytes = snap.bytes.get(i).copied().flatten();
                let row = [WAN_ENTRY[0], WAN_ENTRY[1], WAN_ENTRY[2], column, index(i)];
                add(&row, value_of(wan, bytes.as_ref()));
            }
        }
        // Built in order already (scalars, then column by column, row by row); sorting
        // keeps `getnext` right whatever the layout becomes. The small insertion sort: on
        // input in order it only compares neighbours, and the standard one would bring
        // its own few KiB of code for this one element type.
        crate::sort::sort_by(&mut entries, |a, b| a.0.cmp(&b.0));
        Tree { entries }
    }

    /// The instance at exactly `oid`.
    pub fn get(&self, oid: &Oid) -> Option<&Value> {
        let i = self.entries.binary_search_by(|e| e.0.cmp(oid)).ok()?;
        Some(&self.entries[i].1)
    }

    /// The first instance after `oid` in OID order.
    pub fn next(&self, oid: &Oid) -> Option<&(Oid, Value)> {
        let i = self.entries.partition_point(|e| e.0 <= *oid);
        self.entries.get(i)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Oid, Value)> {
        self.entries.iter()
    }
}

/// The 1-based row index of position `i` (config order; at most `MAX_WANS`).
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX - 1).saturating_add(1)
}

/// An `Integer32` from a small count or index.
fn integer(v: u32) -> Value {
    Value::Integer(i32::try_from(v).unwrap_or(i32::MAX))
}

/// `TruthValue`: true(1), false(2).
fn truth(b: bool) -> Value {
    Value::Integer(if b { 1 } else { 2 })
}

/// Gauge32 latches at its maximum (RFC 2578 §7.1.7).
fn gauge(v: u64) -> Value {
    Value::Gauge32(u32::try_from(v).unwrap_or(u32::MAX))
}

/// Counter32 wraps modulo 2^32 (RFC 2578 §7.1.6).
fn counter32(v: u64) -> Value {
    Value::Counter32(v as u32)
}

/// TimeTicks are hundredths of a second, modulo 2^32 (RFC 2578 §7.1.8).
fn ticks(ms: u64) -> Value {
    Value::TimeTicks((ms / 10) as u32)
}

/// A status row for the tests of this module and its neighbours.
#[cfg(test)]
pub(crate) use crate::engine::report::test_row;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::wan::State;

    fn oid(s: &str) -> Oid {
        Oid::parse(s).unwrap()
    }

    fn base() -> Oid {
        oid(DEFAULT_BASE)
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            wans: vec![
                test_row("fiber", "down", false),
                test_row("lte", "up", true),
            ],
            ..Snapshot::default()
        }
    }

    /// `(OID below the base, value)` of every instance.
    fn walk(tree: &Tree) -> Vec<(String, Value)> {
        let prefix = base().to_string();
        tree.iter()
            .map(|(o, v)| (o.to_string()[prefix.len()..].to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn scalars_and_table_in_oid_order() {
        let tree = Tree::build(&base(), &snapshot());
        let got = walk(&tree);
        let s = |t: &str| Value::String(t.into());
        let expected_head = [
            (".1.1.1.0", s("lte")),
            (".1.1.2.0", Value::Integer(2)),
            (".1.1.3.0", Value::Integer(2)),
            (".1.2.1.2.1", s("fiber")),
            (".1.2.1.2.2", s("lte")),
            (".1.2.1.3.1", s("if-fiber")),
            (".1.2.1.3.2", s("if-lte")),
            (".1.2.1.4.1", Value::Integer(5)),
            (".1.2.1.4.2", Value::Integer(3)),
            (".1.2.1.5.1", Value::Gauge32(1)),
            (".1.2.1.5.2", Value::Gauge32(1)),
            (".1.2.1.6.1", Value::Gauge32(20_001)),
            (".1.2.1.6.2", Value::Gauge32(20_001)),
            (".1.2.1.7.1", Value::Integer(2)),
            (".1.2.1.7.2", Value::Integer(1)),
            (".1.2.1.8.1", Value::Integer(2)),
            (".1.2.1.8.2", Value::Integer(2)),
            (".1.2.1.9.1", Value::Gauge32(12_345)),
            (".1.2.1.9.2", Value::Gauge32(12_345)),
            // 10: no jitter, no instances
            (".1.2.1.11.1", Value::Gauge32(250)),
            (".1.2.1.11.2", Value::Gauge32(250)),
            (".1.2.1.12.1", Value::Gauge32(u32::MAX)),
            (".1.2.1.12.2", Value::Gauge32(u32::MAX)),
            (".1.2.1.13.1", Value::Gauge32(8_000)),
            (".1.2.1.13.2", Value::Gauge32(8_000)),
            (".1.2.1.14.1", Value::TimeTicks(19_234)),
            (".1.2.1.14.2", Value::TimeTicks(19_234)),
            (".1.2.1.15.1", Value::Counter32(1)),
            (".1.2.1.15.2", Value::Counter32(1)),
        ];
        let expected: Vec<(String, Value)> = expected_head
            .iter()
            .map(|(o, v)| (o.to_string(), v.clone()))
            .collect();
        assert_eq!(got, expected);
        let oids: Vec<&Oid> = tree.iter().map(|e| &e.0).collect();
        assert!(oids.windows(2).all(|p| p[0] < p[1]), "strictly increasing");
    }

    #[test]
    fn counters_appear_when_the_daemon_reports_them() {
        let mut snap = snapshot();
        snap.counters = Some(Counters {
            switches: 3,
            uptime_ms: 86_400_000,
        });
        snap.bytes = vec![None, Some(Bytes { rx: 1 << 40, tx: 7 })];
        let tree = Tree::build(&base(), &snap);
        let at = |s: &str| tree.get(&oid(&format!("{DEFAULT_BASE}{s}"))).cloned();
        assert_eq!(at(".1.1.4.0"), Some(Value::Counter32(3)));
        assert_eq!(at(".1.1.5.0"), Some(Value::TimeTicks(8_640_000)));
        assert_eq!(at(".1.2.1.16.1"), None);
        assert_eq!(at(".1.2.1.16.2"), Some(Value::Counter64(1 << 40)));
        assert_eq!(at(".1.2.1.17.2"), Some(Value::Counter64(7)));
    }

    #[test]
    fn counters_answer_goes_to_the_rows_by_name() {
        let wan = |name: &str, rx_bytes| crate::engine::WanCounters {
            name: name.into(),
            rx_bytes,
            tx_bytes: rx_bytes.map(|b| b + 1),
            probes_sent: 0,
            probes_lost: 0,
        };
        let answer = protocol::Counters {
            switches: 3,
            uptime_ms: 1_000,
            // reversed (a reload in between), and fiber without a counter sample yet
            wans: vec![wan("lte", Some(10)), wan("fiber", None)],
            ..protocol::Counters::default()
        };
        let snap = Snapshot::new(snapshot().wans, Some(&answer));
        assert_eq!(snap.bytes, [None, Some(Bytes { rx: 10, tx: 11 })]);
        let counters = Counters {
            switches: 3,
            uptime_ms: 1_000,
        };
        assert_eq!(snap.counters, Some(counters));
        let without = Snapshot::new(snapshot().wans, None);
        assert_eq!((without.counters, without.bytes), (None, vec![None, None]));
    }

    #[test]
    fn getnext_walks_everything_and_ends() {
        let tree = Tree::build(&base(), &snapshot());
        // From anything before the base (snmpd sends the base itself) to the end.
        let mut at = oid("1.3.6.1.4.1.8072.9999");
        let mut seen = 0;
        while let Some((next, _)) = tree.next(&at) {
            assert!(*next > at);
            assert!(next.starts_with(&base()));
            at = next.clone();
            seen += 1;
        }
        assert_eq!(seen, tree.len());
        // From the middle of a column, a missing column, a non-instance.
        let after = |s: &str| {
            tree.next(&oid(&format!("{DEFAULT_BASE}{s}")))
                .map(|e| e.0.to_string()[DEFAULT_BASE.len() + 1..].to_string())
        };
        assert_eq!(after(".1.2.1.2.1").as_deref(), Some(".1.2.1.2.2"));
        assert_eq!(after(".1.2.1.9.2").as_deref(), Some(".1.2.1.11.1"));
        assert_eq!(after(".1.2.1.2.1.5.7").as_deref(), Some(".1.2.1.2.2"));
        assert_eq!(after(".1.1.3").as_deref(), Some(".1.1.3.0"));
        assert_eq!(after(".1.2.1.15.2").as_deref(), None);
        assert_eq!(after(".2").as_deref(), None);
        assert_eq!(tree.next(&oid("1.4")), None);
    }

    #[test]
    fn get_wants_an_exact_instance() {
        let tree = Tree::build(&base(), &snapshot());
        let at = |s: &str| tree.get(&oid(&format!("{DEFAULT_BASE}{s}"))).cloned();
        assert_eq!(at(".1.1.2.0"), Some(Value::Integer(2)));
        assert_eq!(at(".1.1.2"), None);
        assert_eq!(at(".1.1.4.0"), None, "no counters from this daemon");
        assert_eq!(at(".1.2.1.1.1"), None, "the index column is not-accessible");
        assert_eq!(at(".1.2.1.2.3"), None);
        assert_eq!(at(""), None);
    }

    #[test]
    fn no_wans_and_no_active_wan() {
        let tree = Tree::build(&base(), &Snapshot::default());
        let got: Vec<Value> = tree.iter().map(|e| e.1.clone()).collect();
        assert_eq!(
            got,
            [
                Value::String(String::new()),
                Value::Integer(0),
                Value::Integer(0)
            ]
        );
        let mut snap = snapshot();
        snap.wans[1].active = false;
        let tree = Tree::build(&base(), &snap);
        assert_eq!(
            tree.get(&oid(&format!("{DEFAULT_BASE}.1.1.2.0"))),
            Some(&Value::Integer(0))
        );
    }

    #[test]
    fn rerooted_base() {
        let vendor = oid("1.3.6.1.4.1.99999.3");
        let tree = Tree::build(&vendor, &snapshot());
        assert!(tree.iter().all(|e| e.0.starts_with(&vendor)));
        assert_eq!(
            tree.get(&oid("1.3.6.1.4.1.99999.3.1.1.1.0")),
            Some(&Value::String("lte".into()))
        );
        // A base so long that no instance fits leaves the tree empty rather than panicking.
        let deep = Oid::from_slice(&[1; 125]).unwrap();
        assert!(Tree::build(&deep, &snapshot()).is_empty());
    }

    #[test]
    fn every_engine_state_has_its_own_number() {
        let states = [
            State::Init,
            State::Up,
            State::Degraded,
            State::Down,
            State::Linkdown,
            State::Noroute,
            State::Disabled,
        ];
        let numbers: Vec<i32> = states.iter().map(|s| state_number(s.as_str())).collect();
        assert_eq!(numbers, [2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(state_number("bogus"), 1);
    }

    #[test]
    fn units_of_the_conversions() {
        assert_eq!(ticks(9), Value::TimeTicks(0));
        assert_eq!(ticks(u64::from(u32::MAX) * 10 + 10), Value::TimeTicks(0));
        assert_eq!(gauge(u64::MAX), Value::Gauge32(u32::MAX));
        assert_eq!(counter32(u64::from(u32::MAX)), Value::Counter32(u32::MAX));
        assert_eq!(index(0), 1);
    }
}

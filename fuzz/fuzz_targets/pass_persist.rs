#![no_main]
//! Lines from snmpd (or from anything else that ends up on the program's stdin): the whole
//! `wanfailover snmp` loop over arbitrary bytes, answering from a fixed two-WAN status.
//! Nothing may panic, and everything written must be what net-snmp can read: `PONG`,
//! `NONE`, `not-writable`, or an OID below the base, a type word and a one-line value.

use std::path::{Path, PathBuf};
use std::time::Instant;

use wanfailover::engine::WanStatus;
use wanfailover::snmp::{self, Oid, Snapshot};

fn row(name: &str, active: bool) -> WanStatus {
    WanStatus {
        name: name.into(),
        interface: "eth\n0".into(),
        state: if active { "up" } else { "bogus" }.into(),
        priority: 1,
        metric: u32::MAX,
        active,
        preferred: !active,
        latency_us: Some(u64::MAX),
        jitter_us: None,
        loss_centi_pct: Some(10_000),
        rx_bps: Some(1),
        tx_bps: None,
        since_ms: u64::MAX,
        late_rounds: 3,
        families: Vec::new(),
        priority_auto: !active,
        device: "ethernet".into(),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let base = Oid::parse(snmp::DEFAULT_BASE).unwrap();
    let options = snmp::Options {
        socket: PathBuf::from("/nonexistent"),
        base: base.clone(),
    };
    let snap = Snapshot {
        wans: vec![row("fiber", false), row("lte", true)],
        ..Snapshot::default()
    };
    let mut input = data;
    let mut out = Vec::new();
    let t0 = Instant::now();
    // The first byte decides whether the daemon answers at all.
    let up = data.first().map_or(true, |b| b & 1 == 0);
    let fetch = |_: &Path| {
        if up {
            Ok(snap.clone())
        } else {
            Err("down".into())
        }
    };
    snmp::serve(&mut input, &mut out, &options, || t0, fetch).unwrap();
    let text = String::from_utf8(out).expect("answers are UTF-8");
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        if matches!(first, "PONG" | "NONE" | "not-writable") {
            continue;
        }
        let oid = Oid::parse(first).expect("an answer starts with an OID");
        assert!(
            oid.starts_with(&base) && oid != base,
            "{oid} is not below the base"
        );
        let word = lines.next().expect("a type line");
        assert!([
            "integer",
            "string",
            "gauge",
            "counter",
            "counter64",
            "timeticks"
        ]
        .contains(&word));
        lines.next().expect("a value line");
    }
});

//! What the CLI prints: the `status` table, `history` lines, the `health` table and their
//! `--json` forms.
//! Pure: response data in, text out.
//!
//! Units in the human output: latency and jitter in milliseconds with one decimal, loss in
//! percent with one decimal, rates in SI bit/s (`kbit/s` = 1000 bit/s), time in state and
//! ages as `45s`, `3m12s`, `2h05m`, `3d04h`. History times are shown relative to the
//! daemon's clock at the time of the answer ("3m12s ago"): the daemon's clock is monotonic
//! and has no wall-clock meaning.
//!
//! The JSON forms are documented in `docs/control-protocol.md`; their field names are
//! stable and carry their units.

use std::fmt::Write;

use super::json::Json;
use super::protocol::Counters;
use crate::engine::report::or_none;
use crate::engine::{
    FamilyStatus, HistoryEntry, RoutingStatus, TargetHealth, WanHealth, WanStatus,
};

/// The `status` table, one row per WAN, `*` marking the active one. A dual-stack WAN whose
/// families are in different states shows them after its own (`up (ipv6 down)`), and a
/// family whose active WAN is not the `*` one is named below the table.
pub fn status_table(rows: &[WanStatus]) -> String {
    if rows.is_empty() {
        return "no WANs configured\n".to_string();
    }
    let header = [
        "",
        "NAME",
        "INTERFACE",
        "STATE",
        "PRIO",
        "METRIC",
        "LATENCY",
        "JITTER",
        "LOSS",
        "RX",
        "TX",
        "IN STATE",
    ];
    let right = [
        false, false, false, false, true, true, true, true, true, true, true, true,
    ];
    // Plain loops fill the cells here and below: a `collect` per table would bring its
    // own copy of the iterator code.
    let mut cells = Vec::new();
    for row in rows {
        cells.push(status_cells(row));
    }
    let mut out = table(&header, &right, &cells);
    out.push_str(&status_notes(rows));
    out
}

fn status_cells(row: &WanStatus) -> Vec<String> {
    vec![
        if row.active { "*" } else { "" }.to_string(),
        row.name.clone(),
        row.interface.clone(),
        state_cell(row),
        priority_cell(row),
        row.metric.to_string(),
        opt(row.latency_us, millis),
        opt(row.jitter_us, millis),
        opt(row.loss_centi_pct.map(u64::from), percent),
        opt(row.rx_bps, rate),
        opt(row.tx_bps, rate),
        span(row.since_ms),
    ]
}

/// The WAN's state, followed by those of its families that differ from it:
/// `up (ipv6 down)`.
pub fn state_cell(row: &WanStatus) -> String {
    let mut odd = String::new();
    for f in &row.families {
        if f.state != row.state {
            let sep = if odd.is_empty() { "" } else { ", " };
            let _ = write!(odd, "{sep}{} {}", f.family, f.state);
        }
    }
    if odd.is_empty() {
        row.state.clone()
    } else {
        format!("{} ({odd})", row.state)
    }
}

/// The priority in effect, with the device kind it came from for `priority = "auto"`:
/// `100 (ethernet)`.
fn priority_cell(row: &WanStatus) -> String {
    if row.priority_auto {
        format!("{} ({})", row.priority, row.device)
    } else {
        row.priority.to_string()
    }
}

/// The lines under the status table (`status` and `status --watch`): one per family whose
/// active WAN is not the one marked `*` (`ipv6 active: lte`), then the manual override.
pub fn status_notes(rows: &[WanStatus]) -> String {
    let mut out = String::new();
    for family in ["ipv4", "ipv6"] {
        let of = |r: &&WanStatus| r.families.iter().any(|f| f.family == family && f.active);
        if let Some(row) = rows.iter().find(of).filter(|r| !r.active) {
            let _ = writeln!(out, "{family} active: {}", row.name);
        }
    }
    for row in rows.iter().filter(|r| r.preferred) {
        let _ = writeln!(
            out,
            "manual override: {} is preferred ('auto' to undo)",
            row.name
        );
    }
    out
}

/// `history` as a table, oldest first, with ages relative to `now_us` (the daemon's clock).
pub fn history_lines(now_us: u64, entries: &[HistoryEntry]) -> String {
    if entries.is_empty() {
        return "no transitions yet\n".to_string();
    }
    let header = ["WHEN", "EVENT", "WAN", "CHANGE", "CAUSE"];
    let right = [true, false, false, false, false];
    let mut cells = Vec::new();
    for e in entries {
        let age_ms = now_us.saturating_sub(e.at_us) / 1000;
        cells.push(vec![
            format!("{} ago", span(age_ms)),
            e.kind.clone(),
            if e.family.is_empty() {
                e.wan.clone()
            } else {
                format!("{} ({})", e.wan, e.family)
            },
            format!("{} -> {}", or_none(&e.from), or_none(&e.to)),
            e.cause.clone(),
        ]);
    }
    table(&header, &right, &cells)
}

/// `status`'s routing lines, under the table: the mode, the multipath weights in force,
/// each policy and the WAN it uses now, the flushes.
pub fn routing_lines(r: &RoutingStatus) -> String {
    let mut out = format!("mode: {}", r.mode);
    if let Some(s) = &r.sticky {
        let _ = write!(out, " (sticky {s})");
    }
    if r.mode == "balance" {
        out.push_str("; multipath: ");
        if r.multipath.is_empty() {
            out.push_str("none");
        }
        for (i, h) in r.multipath.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(out, "{sep}{} {}", h.wan, h.weight);
        }
    }
    let _ = writeln!(
        out,
        "; conntrack flushes: {} ({} entries)",
        r.flushes, r.flushed
    );
    for p in &r.policies {
        let uses = match (&p.uses, p.blocked) {
            (_, true) => format!("blocked ({} not usable, no fallback)", p.wan),
            (Some(w), false) => w.clone(),
            (None, false) => format!("main table ({} not usable)", p.wan),
        };
        let _ = writeln!(out, "policy {}: {uses}", p.name);
    }
    out
}

/// `status --json`: `{"wans":[{...}, ...],"counters":{...},"routing":{...}}` (no
/// `counters` or `routing` from a daemon that does not report them).
pub fn status_json(
    rows: &[WanStatus],
    counters: Option<&Counters>,
    routing: Option<&RoutingStatus>,
) -> String {
    let mut j = Json::new();
    j.begin_object();
    j.key("wans");
    j.begin_array();
    for row in rows {
        status_object(&mut j, row);
    }
    j.end_array();
    if let Some(c) = counters {
        counters_object(&mut j, c);
    }
    if let Some(r) = routing {
        routing_object(&mut j, r);
    }
    j.end_object();
    j.finish()
}

fn routing_object(j: &mut Json, r: &RoutingStatus) {
    j.key("routing");
    j.begin_object();
    j.key("mode");
    j.string(&r.mode);
    j.key("sticky");
    j.opt_string(r.sticky.as_deref());
    j.key("multipath");
    j.begin_array();
    for h in &r.multipath {
        j.begin_object();
        j.key("wan");
        j.string(&h.wan);
        j.key("weight");
        j.uint(u64::from(h.weight));
        j.end_object();
    }
    j.end_array();
    j.key("policies");
    j.begin_array();
    for p in &r.policies {
        j.begin_object();
        j.key("name");
        j.string(&p.name);
        j.key("wan");
        j.string(&p.wan);
        j.key("uses");
        j.opt_string(p.uses.as_deref());
        j.key("blocked");
        j.bool(p.blocked);
        j.end_object();
    }
    j.end_array();
    j.key("flushes");
    j.uint(r.flushes);
    j.key("flushed");
    j.uint(r.flushed);
    j.end_object();
}

fn counters_object(j: &mut Json, c: &Counters) {
    j.key("counters");
    j.begin_object();
    for (key, value) in [
        ("decision_passes", c.decision_passes),
        ("route_dumps", c.route_dumps),
        ("netlink_overruns", c.netlink_overruns),
        ("netlink_parse_errors", c.netlink_parse_errors),
        ("multipath_skipped", c.multipath_skipped),
        ("switches", c.switches),
        ("uptime_ms", c.uptime_ms),
    ] {
        j.key(key);
        j.uint(value);
    }
    j.key("wans");
    j.begin_array();
    for w in &c.wans {
        j.begin_object();
        j.key("name");
        j.string(&w.name);
        for (key, value) in [
            ("rx_bytes", w.rx_bytes),
            ("tx_bytes", w.tx_bytes),
            ("probes_sent", Some(w.probes_sent)),
            ("probes_lost", Some(w.probes_lost)),
        ] {
            j.key(key);
            j.opt_uint(value);
        }
        j.end_object();
    }
    j.end_array();
    j.end_object();
}

fn status_object(j: &mut Json, row: &WanStatus) {
    j.begin_object();
    for (key, value) in [
        ("name", &row.name),
        ("interface", &row.interface),
        ("state", &row.state),
    ] {
        j.key(key);
        j.string(value);
    }
    j.key("priority");
    j.uint(u64::from(row.priority));
    j.key("metric");
    j.uint(u64::from(row.metric));
    j.key("active");
    j.bool(row.active);
    j.key("preferred");
    j.bool(row.preferred);
    j.key("latency_us");
    j.opt_uint(row.latency_us);
    j.key("jitter_us");
    j.opt_uint(row.jitter_us);
    j.key("loss_pct");
    j.opt_centi(row.loss_centi_pct.map(u64::from));
    j.key("rx_bps");
    j.opt_uint(row.rx_bps);
    j.key("tx_bps");
    j.opt_uint(row.tx_bps);
    j.key("in_state_ms");
    j.uint(row.since_ms);
    j.key("late_rounds");
    j.uint(row.late_rounds);
    j.key("families");
    j.begin_object();
    for f in &row.families {
        j.key(&f.family);
        family_object(j, f);
    }
    j.end_object();
    j.key("priority_auto");
    j.bool(row.priority_auto);
    j.key("device");
    j.opt_string(row.priority_auto.then_some(row.device.as_str()));
    j.end_object();
}

fn family_object(j: &mut Json, f: &FamilyStatus) {
    j.begin_object();
    j.key("state");
    j.string(&f.state);
    j.key("metric");
    j.uint(u64::from(f.metric));
    j.key("active");
    j.bool(f.active);
    j.key("latency_us");
    j.opt_uint(f.latency_us);
    j.key("jitter_us");
    j.opt_uint(f.jitter_us);
    j.key("loss_pct");
    j.opt_centi(f.loss_centi_pct.map(u64::from));
    j.key("in_state_ms");
    j.uint(f.since_ms);
    j.end_object();
}

/// `history --json`: `{"now_us":N,"entries":[{...}, ...]}`, oldest first.
pub fn history_json(now_us: u64, entries: &[HistoryEntry]) -> String {
    let mut j = Json::new();
    j.begin_object();
    j.key("now_us");
    j.uint(now_us);
    j.key("entries");
    j.begin_array();
    for e in entries {
        j.begin_object();
        j.key("at_us");
        j.uint(e.at_us);
        j.key("age_us");
        j.uint(now_us.saturating_sub(e.at_us));
        for (key, value) in [
            ("kind", &e.kind),
            ("wan", &e.wan),
            ("from", &e.from),
            ("to", &e.to),
            ("cause", &e.cause),
            ("family", &e.family),
        ] {
            j.key(key);
            j.string(value);
        }
        j.end_object();
    }
    j.end_array();
    j.end_object();
    j.finish()
}

/// The `health` table: a row per target, the WAN's name and state on its first row; the
/// last failure's cause with its age.
pub fn health_table(wans: &[WanHealth]) -> String {
    if wans.is_empty() {
        return "no WANs configured\n".to_string();
    }
    let header = [
        "WAN",
        "STATE",
        "KIND",
        "TARGET",
        "LAST",
        "RTT",
        "LOSS",
        "LAST FAILURE",
    ];
    let right = [false, false, false, false, false, true, true, false];
    let mut cells = Vec::new();
    for wan in wans {
        for (i, t) in wan.targets.iter().enumerate() {
            let (name, state) = if i == 0 {
                (wan.name.clone(), wan.state.clone())
            } else {
                (String::new(), String::new())
            };
            cells.push(vec![
                name,
                state,
                t.kind.clone(),
                t.target.clone(),
                t.result.clone(),
                opt(t.rtt_us, millis),
                opt(t.loss_centi_pct.map(u64::from), percent),
                last_failure(t),
            ]);
        }
    }
    table(&header, &right, &cells)
}

/// `timeout (12s ago)`, or `-` for a target that never failed.
fn last_failure(t: &TargetHealth) -> String {
    match (&t.cause, t.failed_ago_ms) {
        (Some(cause), Some(ago)) => format!("{cause} ({} ago)", span(ago)),
        (Some(cause), None) => cause.clone(),
        (None, _) => "-".to_string(),
    }
}

/// `health --json`: `{"wans":[{"name":…,"state":…,"targets":[{...}, ...]}, ...]}`.
pub fn health_json(wans: &[WanHealth]) -> String {
    let mut j = Json::new();
    j.begin_object();
    j.key("wans");
    j.begin_array();
    for wan in wans {
        j.begin_object();
        j.key("name");
        j.string(&wan.name);
        j.key("state");
        j.string(&wan.state);
        j.key("targets");
        j.begin_array();
        for t in &wan.targets {
            target_object(&mut j, t);
        }
        j.end_array();
        j.end_object();
    }
    j.end_array();
    j.end_object();
    j.finish()
}

fn target_object(j: &mut Json, t: &TargetHealth) {
    j.begin_object();
    for (key, value) in [
        ("kind", &t.kind),
        ("target", &t.target),
        ("result", &t.result),
    ] {
        j.key(key);
        j.string(value);
    }
    j.key("rtt_us");
    j.opt_uint(t.rtt_us);
    j.key("loss_pct");
    j.opt_centi(t.loss_centi_pct.map(u64::from));
    j.key("cause");
    j.opt_string(t.cause.as_deref());
    j.key("failed_ago_ms");
    j.opt_uint(t.failed_ago_ms);
    j.end_object();
}

/// Columns separated by two spaces, padded to the widest cell (by characters); no
/// trailing blanks. An empty first header makes the first column a one-space marker column
/// (`*` for the active WAN). `right[i]` right-aligns column `i`.
pub fn table(header: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let mut widths = Vec::new();
    let mut header_row = Vec::new();
    for h in header {
        widths.push(h.chars().count());
        header_row.push(h.to_string());
    }
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header_row).chain(rows) {
        let line_at = out.len();
        for (i, cell) in row.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let sep = if i == 0 {
                ""
            } else if i == 1 && header[0].is_empty() {
                " "
            } else {
                "  "
            };
            out.push_str(sep);
            let pad = w.saturating_sub(cell.chars().count());
            let right = right.get(i).copied().unwrap_or(false);
            if !right {
                out.push_str(cell);
            }
            out.extend(std::iter::repeat(' ').take(pad));
            if right {
                out.push_str(cell);
            }
        }
        // No trailing blanks (`line.trim_end()` without a second buffer).
        let end = line_at + out[line_at..].trim_end().len();
        out.truncate(end);
        out.push('\n');
    }
    out
}

/// `show(value)`, or `-` for none. A plain `fn`, so that one copy serves every unit.
fn opt(value: Option<u64>, show: fn(u64) -> String) -> String {
    value.map_or_else(|| "-".to_string(), show)
}

/// `num / div` rounded half up, in tenths: `tenths(12_345, 1000)` is 123 (12.3).
fn tenths(num: u64, div: u64) -> u64 {
    (num.saturating_mul(10).saturating_add(div / 2)) / div
}

/// µs → `12.3 ms`.
pub fn millis(us: u64) -> String {
    decimal(tenths(us, 1000), " ms")
}

/// Hundredths of a percent → `2.5%`.
pub fn percent(centi: u64) -> String {
    decimal(tenths(centi, 100), "%")
}

/// bit/s → `950 bit/s`, `1.2 Mbit/s`: the largest SI unit that keeps the number at 1 or more.
pub fn rate(bps: u64) -> String {
    const UNITS: [(u64, &str); 3] = [
        (1_000_000_000, " Gbit/s"),
        (1_000_000, " Mbit/s"),
        (1_000, " kbit/s"),
    ];
    if bps >= 1_000 {
        for (unit, name) in UNITS {
            let t = tenths(bps, unit);
            if t >= 10 {
                return decimal(t, name);
            }
        }
    }
    format!("{bps} bit/s")
}

/// Tenths → `12.3` and the unit.
fn decimal(tenths: u64, unit: &str) -> String {
    format!("{}.{}{unit}", tenths / 10, tenths % 10)
}

/// A span in ms → `45s`, `3m12s`, `2h05m`, `3d04h` (two units at most, truncated).
pub fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::fixture::{status_row, StatusRowExt};
    use crate::engine::WanCounters;

    fn fiber() -> WanStatus {
        WanStatus {
            tx_bps: Some(312_000),
            ..status_row("fiber")
        }
        .with_one_family("ipv4")
    }

    fn lte() -> WanStatus {
        WanStatus {
            interface: "wwan0".into(),
            state: "degraded".into(),
            priority: 700,
            metric: 10_700,
            active: false,
            preferred: true,
            latency_us: Some(85_040),
            jitter_us: Some(9_050),
            loss_centi_pct: Some(1_250),
            rx_bps: None,
            since_ms: 45_900,
            late_rounds: 2,
            priority_auto: true,
            device: "modem".into(),
            ..status_row("lte")
        }
        .with_one_family("ipv4")
    }

    /// fiber with both families, its IPv6 down and ranked after lte's.
    fn dual_stack() -> Vec<WanStatus> {
        let mut fiber = fiber();
        let mut v6 = fiber.families[0].clone();
        v6.family = "ipv6".into();
        v6.state = "down".into();
        v6.metric = 20_001;
        v6.active = false;
        v6.latency_us = None;
        fiber.families.push(v6);
        let mut lte = lte();
        lte.state = "up".into();
        lte.families[0].state = "up".into();
        lte.families[0].family = "ipv6".into();
        lte.families[0].active = true;
        lte.preferred = false;
        vec![fiber, lte]
    }

    #[test]
    fn dual_stack_families_in_the_table() {
        let out = status_table(&dual_stack());
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[1].starts_with("* fiber  eth0       up (ipv6 down)"),
            "{out}"
        );
        assert!(lines[2].starts_with("  lte    wwan0      up  "), "{out}");
        assert_eq!(lines[3], "ipv6 active: lte");
        assert_eq!(lines.len(), 4, "{out}");
    }

    #[test]
    fn dual_stack_families_in_json() {
        let out = status_json(&dual_stack()[..1], None, None);
        let expected = concat!(
            r#""late_rounds":0,"families":{"ipv4":{"state":"up","metric":1,"active":true,"#,
            r#""latency_us":12345,"jitter_us":400,"loss_pct":0.00,"in_state_ms":192000},"#,
            r#""ipv6":{"state":"down","metric":20001,"active":false,"latency_us":null,"#,
            r#""jitter_us":400,"loss_pct":0.00,"in_state_ms":192000}},"priority_auto":false,"#,
            r#""device":null}]}"#,
        );
        assert!(out.trim_end().ends_with(expected), "{out}");
    }

    #[test]
    fn status_table_text() {
        let expected = concat!(
            "  NAME   INTERFACE  STATE            PRIO  METRIC  LATENCY  JITTER   LOSS          RX            TX  IN STATE\n",
            "* fiber  eth0       up                  1       1  12.3 ms  0.4 ms   0.0%  1.2 Mbit/s  312.0 kbit/s     3m12s\n",
            "  lte    wwan0      degraded  700 (modem)   10700  85.0 ms  9.1 ms  12.5%           -             -       45s\n",
            "manual override: lte is preferred ('auto' to undo)\n",
        );
        assert_eq!(status_table(&[fiber(), lte()]), expected);
        assert_eq!(status_table(&[]), "no WANs configured\n");
    }

    #[test]
    fn status_json_text() {
        let expected = concat!(
            r#"{"wans":[{"name":"fiber","interface":"eth0","state":"up","priority":1,"metric":1,"#,
            r#""active":true,"preferred":false,"latency_us":12345,"jitter_us":400,"loss_pct":0.00,"#,
            r#""rx_bps":1234567,"tx_bps":312000,"in_state_ms":192000,"late_rounds":0,"#,
            r#""families":{"ipv4":{"state":"up","metric":1,"active":true,"latency_us":12345,"#,
            r#""jitter_us":400,"loss_pct":0.00,"in_state_ms":192000}},"priority_auto":false,"#,
            r#""device":null},"#,
            r#"{"name":"lte","interface":"wwan0","state":"degraded","priority":700,"metric":10700,"#,
            r#""active":false,"preferred":true,"latency_us":85040,"jitter_us":9050,"loss_pct":12.50,"#,
            r#""rx_bps":null,"tx_bps":null,"in_state_ms":45900,"late_rounds":2,"#,
            r#""families":{"ipv4":{"state":"degraded","metric":10700,"active":false,"#,
            r#""latency_us":85040,"jitter_us":9050,"loss_pct":12.50,"in_state_ms":45900}},"#,
            r#""priority_auto":true,"device":"modem"}]}"#,
            "\n"
        );
        assert_eq!(status_json(&[fiber(), lte()], None, None), expected);
        assert_eq!(status_json(&[], None, None), "{\"wans\":[]}\n");
        let counters = Counters {
            decision_passes: 7,
            route_dumps: 1,
            switches: 2,
            uptime_ms: 60_000,
            wans: vec![WanCounters {
                name: "fiber".into(),
                rx_bytes: Some(10),
                tx_bytes: None,
                probes_sent: 30,
                probes_lost: 1,
            }],
            ..Counters::default()
        };
        assert_eq!(
            status_json(&[], Some(&counters), None),
            concat!(
                r#"{"wans":[],"counters":{"decision_passes":7,"route_dumps":1,"#,
                r#""netlink_overruns":0,"netlink_parse_errors":0,"multipath_skipped":0,"#,
                r#""switches":2,"uptime_ms":60000,"wans":[{"name":"fiber","rx_bytes":10,"#,
                r#""tx_bytes":null,"probes_sent":30,"probes_lost":1}]}}"#,
                "\n"
            )
        );
    }

    fn health() -> Vec<WanHealth> {
        let target = |kind: &str, target: &str, rtt_us, loss, cause: Option<&str>| TargetHealth {
            kind: kind.into(),
            target: target.into(),
            result: if cause.is_some() { "fail" } else { "pass" }.into(),
            rtt_us,
            loss_centi_pct: loss,
            cause: cause.map(str::to_string),
            failed_ago_ms: cause.map(|_| 12_000),
        };
        let portal = "HTTP 302 Found: captive portal?";
        vec![
            WanHealth {
                name: "hotel".into(),
                state: "down".into(),
                targets: vec![
                    target("icmp", "198.51.100.53", Some(1_250), Some(0), None),
                    target(
                        "http",
                        "http://203.0.113.80/",
                        Some(2_010),
                        Some(10_000),
                        Some(portal),
                    ),
                ],
            },
            WanHealth {
                name: "lte".into(),
                state: "init".into(),
                targets: vec![TargetHealth {
                    result: "none".into(),
                    ..target("dns", "dns example.com via 198.51.100.53", None, None, None)
                }],
            },
        ]
    }

    #[test]
    fn health_table_text() {
        let expected = concat!(
            "WAN    STATE  KIND  TARGET                             LAST     RTT    LOSS  LAST FAILURE\n",
            "hotel  down   icmp  198.51.100.53                      pass  1.3 ms    0.0%  -\n",
            "              http  http://203.0.113.80/               fail  2.0 ms  100.0%  HTTP 302 Found: captive portal? (12s ago)\n",
            "lte    init   dns   dns example.com via 198.51.100.53  none       -       -  -\n",
        );
        assert_eq!(health_table(&health()), expected);
        assert_eq!(health_table(&[]), "no WANs configured\n");
    }

    #[test]
    fn health_json_text() {
        let expected = concat!(
            r#"{"wans":[{"name":"hotel","state":"down","targets":["#,
            r#"{"kind":"icmp","target":"198.51.100.53","result":"pass","rtt_us":1250,"#,
            r#""loss_pct":0.00,"cause":null,"failed_ago_ms":null},"#,
            r#"{"kind":"http","target":"http://203.0.113.80/","result":"fail","rtt_us":2010,"#,
            r#""loss_pct":100.00,"cause":"HTTP 302 Found: captive portal?","failed_ago_ms":12000}]},"#,
            r#"{"name":"lte","state":"init","targets":[{"kind":"dns","#,
            r#""target":"dns example.com via 198.51.100.53","result":"none","rtt_us":null,"#,
            r#""loss_pct":null,"cause":null,"failed_ago_ms":null}]}]}"#,
            "\n"
        );
        assert_eq!(health_json(&health()), expected);
    }

    fn history() -> Vec<HistoryEntry> {
        let entry =
            |at_us, kind: &str, wan: &str, from: &str, to: &str, cause: &str| HistoryEntry {
                at_us,
                kind: kind.into(),
                wan: wan.into(),
                from: from.into(),
                to: to.into(),
                cause: cause.into(),
                family: String::new(),
            };
        vec![
            entry(1_000_000, "switch", "fiber", "", "fiber", "start"),
            entry(
                60_000_000,
                "transition",
                "fiber",
                "up",
                "down",
                "3 rounds failed",
            ),
            entry(60_000_500, "switch", "lte", "fiber", "lte", "fiber down"),
        ]
    }

    #[test]
    fn history_text() {
        let expected = concat!(
            "     WHEN  EVENT       WAN    CHANGE         CAUSE\n",
            "3m11s ago  switch      fiber  none -> fiber  start\n",
            "2m12s ago  transition  fiber  up -> down     3 rounds failed\n",
            "2m11s ago  switch      lte    fiber -> lte   fiber down\n",
        );
        assert_eq!(history_lines(192_000_000, &history()), expected);
        let mut v6 = history()[1].clone();
        v6.family = "ipv6".into();
        let line = "2m12s ago  transition  fiber (ipv6)  up -> down  3 rounds failed\n";
        assert!(history_lines(192_000_000, &[v6]).ends_with(line));
        assert_eq!(history_lines(5, &[]), "no transitions yet\n");
    }

    #[test]
    fn history_json_text() {
        let out = history_json(61_000_000, &history()[1..2]);
        let expected = concat!(
            r#"{"now_us":61000000,"entries":[{"at_us":60000000,"age_us":1000000,"#,
            r#""kind":"transition","wan":"fiber","from":"up","to":"down","cause":"3 rounds failed","#,
            r#""family":""}]}"#,
            "\n"
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn units() {
        let rates = [(0, "0 bit/s"), (999, "999 bit/s"), (1_000, "1.0 kbit/s")];
        let more = [(999_960, "1.0 Mbit/s"), (2_500_000_000, "2.5 Gbit/s")];
        for (bps, text) in rates.into_iter().chain(more) {
            assert_eq!(rate(bps), text);
        }
        let spans = [
            (0, "0s"),
            (59_999, "59s"),
            (60_000, "1m00s"),
            (7_500_000, "2h05m"),
        ];
        for (ms, text) in spans.into_iter().chain([(273_600_000, "3d04h")]) {
            assert_eq!(span(ms), text);
        }
        assert_eq!(millis(0), "0.0 ms");
        assert_eq!(millis(99_950), "100.0 ms");
        assert_eq!(percent(10_000), "100.0%");
        assert_eq!(percent(4), "0.0%");
    }

    fn routing() -> RoutingStatus {
        RoutingStatus {
            mode: "balance".into(),
            sticky: Some("flow".into()),
            multipath: vec![
                crate::engine::MultipathHop {
                    wan: "fiber".into(),
                    weight: 3,
                },
                crate::engine::MultipathHop {
                    wan: "lte".into(),
                    weight: 1,
                },
            ],
            policies: vec![
                crate::engine::PolicyStatus {
                    name: "vpn".into(),
                    wan: "lte".into(),
                    uses: Some("lte".into()),
                    blocked: false,
                },
                crate::engine::PolicyStatus {
                    name: "voip".into(),
                    wan: "fiber".into(),
                    uses: None,
                    blocked: false,
                },
                crate::engine::PolicyStatus {
                    name: "bank".into(),
                    wan: "fiber".into(),
                    uses: Some("fiber".into()),
                    blocked: true,
                },
            ],
            flushes: 2,
            flushed: 17,
        }
    }

    #[test]
    fn routing_json_text() {
        let expected = concat!(
            r#"{"wans":[],"routing":{"mode":"balance","sticky":"flow","#,
            r#""multipath":[{"wan":"fiber","weight":3},{"wan":"lte","weight":1}],"#,
            r#""policies":[{"name":"vpn","wan":"lte","uses":"lte","blocked":false},"#,
            r#"{"name":"voip","wan":"fiber","uses":null,"blocked":false},"#,
            r#"{"name":"bank","wan":"fiber","uses":"fiber","blocked":true}],"#,
            r#""flushes":2,"flushed":17}}"#,
            "\n"
        );
        assert_eq!(status_json(&[], None, Some(&routing())), expected);
        let failover = RoutingStatus {
            mode: "failover".into(),
            ..RoutingStatus::default()
        };
        let json = status_json(&[], None, Some(&failover));
        assert!(json.contains(r#""mode":"failover","sticky":null,"multipath":[],"policies":[]"#));
    }

    #[test]
    fn routing_text() {
        assert_eq!(
            routing_lines(&routing()),
            "mode: balance (sticky flow); multipath: fiber 3, lte 1; conntrack flushes: 2 (17 entries)\n\
             policy vpn: lte\n\
             policy voip: main table (fiber not usable)\n\
             policy bank: blocked (fiber not usable, no fallback)\n"
        );
    }
}

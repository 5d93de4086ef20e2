//! `GET /metrics`: the daemon's status and counters in the Prometheus text exposition
//! format (version 0.0.4, what `promtool check metrics` checks and every Prometheus
//! scrapes). Pure: status rows and counters in, text out.
//!
//! Names follow the Prometheus conventions: a `wanfailover_` prefix, base units in the
//! name (`_seconds`, `_bytes`, `_ratio`), `_total` on counters. Per-WAN series carry a
//! `wan` label (the configured name); `wanfailover_wan_info` maps it to the interface.
//! The state is one series per possible state, 1 for the state the WAN is in (a
//! "stateset"), so `wanfailover_wan_state{state="down"} == 1` is the alert and a graph of
//! it needs no table of codes. A measurement the daemon does not have (no reply yet, no
//! second counter sample) has no series rather than a made-up number.

use std::fmt::Write;

use crate::control::protocol::Counters;
use crate::engine::{WanCounters, WanStatus};

/// `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every state a WAN can be in, as `status` spells them.
pub const STATES: [&str; 7] = [
    "init", "up", "degraded", "down", "linkdown", "noroute", "disabled",
];

/// A sample value: an integer, or an integer of millionths, thousandths and so on printed
/// as an exact decimal (no floating point anywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    Int(u64),
    /// `value / 10^places`.
    Fixed {
        value: u64,
        places: u32,
    },
}

/// One per-WAN family: name, type, help, and the value for a row (none: no sample).
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&WanStatus, Option<&WanCounters>) -> Option<Number>,
);

const PER_WAN: [Family; 15] = [
    (
        "wanfailover_wan_active",
        "gauge",
        "1 for the WAN that holds the lowest route metric (the kernel routes through it).",
        |w, _| Some(flag(w.active)),
    ),
    (
        "wanfailover_wan_preferred",
        "gauge",
        "1 for the WAN chosen with `wanfailover prefer`.",
        |w, _| Some(flag(w.preferred)),
    ),
    (
        "wanfailover_wan_priority",
        "gauge",
        "The WAN's priority (1 is the primary).",
        |w, _| Some(Number::Int(u64::from(w.priority))),
    ),
    (
        "wanfailover_wan_route_metric",
        "gauge",
        "The default-route metric the daemon wants for the WAN now.",
        |w, _| Some(Number::Int(u64::from(w.metric))),
    ),
    (
        "wanfailover_wan_state_seconds",
        "gauge",
        "Time the WAN has been in its current state.",
        |w, _| Some(thousandths(w.since_ms)),
    ),
    (
        "wanfailover_wan_latency_seconds",
        "gauge",
        "Mean round-trip time of the probes in the statistics window.",
        |w, _| w.latency_us.map(millionths),
    ),
    (
        "wanfailover_wan_jitter_seconds",
        "gauge",
        "Mean difference between consecutive round-trip times in the statistics window.",
        |w, _| w.jitter_us.map(millionths),
    ),
    (
        "wanfailover_wan_loss_ratio",
        "gauge",
        "Share of the probes in the statistics window that got no reply in time (0 to 1).",
        |w, _| {
            w.loss_centi_pct.map(|c| Number::Fixed {
                value: u64::from(c),
                places: 4,
            })
        },
    ),
    // bytes, not the bits of `status`: the base unit (`promtool check metrics` insists)
    (
        "wanfailover_wan_receive_bytes_per_second",
        "gauge",
        "Receive rate of the WAN's interface over the last second.",
        |w, _| w.rx_bps.map(bytes_of_bits),
    ),
    (
        "wanfailover_wan_transmit_bytes_per_second",
        "gauge",
        "Transmit rate of the WAN's interface over the last second.",
        |w, _| w.tx_bps.map(bytes_of_bits),
    ),
    (
        "wanfailover_wan_receive_bytes_total",
        "counter",
        "Bytes received on the WAN's interface (the kernel's counter).",
        |_, c| c?.rx_bytes.map(Number::Int),
    ),
    (
        "wanfailover_wan_transmit_bytes_total",
        "counter",
        "Bytes sent on the WAN's interface (the kernel's counter).",
        |_, c| c?.tx_bytes.map(Number::Int),
    ),
    (
        "wanfailover_wan_probes_sent_total",
        "counter",
        "Echo requests sent through the WAN.",
        |_, c| c.map(|c| Number::Int(c.probes_sent)),
    ),
    (
        "wanfailover_wan_probes_lost_total",
        "counter",
        "Echo requests through the WAN without a reply within the timeout.",
        |_, c| c.map(|c| Number::Int(c.probes_lost)),
    ),
    (
        "wanfailover_wan_late_rounds_total",
        "counter",
        "Probe rounds that started over a tenth of their interval late (a busy daemon).",
        |w, _| Some(Number::Int(w.late_rounds)),
    ),
];

/// One daemon-wide family: name, type, help, value.
type Scalar = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Counters) -> u64,
);

const DAEMON: [Scalar; 6] = [
    (
        "wanfailover_switches_total",
        "counter",
        "Changes of the active WAN, not counting the first choice after start-up.",
        |c| c.switches,
    ),
    (
        "wanfailover_decision_passes_total",
        "counter",
        "Decision passes of the engine (timers, ranking, route reconciliation, hooks).",
        |c| c.decision_passes,
    ),
    (
        "wanfailover_route_dumps_total",
        "counter",
        "Route dumps asked of the kernel.",
        |c| c.route_dumps,
    ),
    (
        "wanfailover_netlink_overruns_total",
        "counter",
        "Times rtnetlink notifications were lost (ENOBUFS, or a datagram cut short).",
        |c| c.netlink_overruns,
    ),
    (
        "wanfailover_netlink_parse_errors_total",
        "counter",
        "Netlink messages that could not be decoded.",
        |c| c.netlink_parse_errors,
    ),
    (
        "wanfailover_multipath_skipped_total",
        "counter",
        "Multipath default routes seen and left alone.",
        |c| c.multipath_skipped,
    ),
];

/// The exposition of `rows` (one per WAN, configuration order) and `counters`.
pub fn render(rows: &[WanStatus], counters: &Counters, out: &mut String) {
    family(
        out,
        "wanfailover_build_info",
        "gauge",
        "The daemon's version.",
    );
    sample(
        out,
        "wanfailover_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        Number::Int(1),
    );
    let uptime = "How long the daemon has been running.";
    family(out, "wanfailover_uptime_seconds", "gauge", uptime);
    sample(
        out,
        "wanfailover_uptime_seconds",
        &[],
        thousandths(counters.uptime_ms),
    );
    let connectivity = "1 while some WAN is usable (one is active), else 0.";
    family(out, "wanfailover_connectivity", "gauge", connectivity);
    let connected = rows.iter().any(|w| w.active);
    sample(out, "wanfailover_connectivity", &[], flag(connected));
    for (name, kind, help, value) in DAEMON {
        family(out, name, kind, help);
        sample(out, name, &[], Number::Int(value(counters)));
    }
    let info = "The WAN's interface (the value is always 1).";
    family(out, "wanfailover_wan_info", "gauge", info);
    for w in rows {
        let labels = [
            ("wan", w.name.as_str()),
            ("interface", w.interface.as_str()),
        ];
        sample(out, "wanfailover_wan_info", &labels, Number::Int(1));
    }
    let help = "1 for the state the WAN is in, 0 for the others.";
    family(out, "wanfailover_wan_state", "gauge", help);
    for w in rows {
        for state in STATES {
            let labels = [("wan", w.name.as_str()), ("state", state)];
            sample(
                out,
                "wanfailover_wan_state",
                &labels,
                flag(w.state == state),
            );
        }
    }
    for (name, kind, help, value) in PER_WAN {
        family(out, name, kind, help);
        for w in rows {
            let c = counters.wans.iter().find(|c| c.name == w.name);
            if let Some(v) = value(w, c) {
                sample(out, name, &[("wan", w.name.as_str())], v);
            }
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: Number) {
    out.push_str(name);
    for (i, (key, v)) in labels.iter().enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        out.push_str(key);
        out.push_str("=\"");
        push_label_value(out, v);
        out.push('"');
    }
    if !labels.is_empty() {
        out.push('}');
    }
    let _ = match value {
        Number::Int(v) => writeln!(out, " {v}"),
        Number::Fixed { value, places } => {
            let scale = 10u64.pow(places);
            let width = places as usize;
            writeln!(out, " {}.{:0width$}", value / scale, value % scale)
        }
    };
}

/// A label value as the text format wants it: backslash, double quote and line feed
/// escaped.
fn push_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn flag(b: bool) -> Number {
    Number::Int(u64::from(b))
}

fn millionths(value: u64) -> Number {
    Number::Fixed { value, places: 6 }
}

fn thousandths(value: u64) -> Number {
    Number::Fixed { value, places: 3 }
}

/// Bits as bytes, exactly: an eighth is 125 thousandths.
fn bytes_of_bits(bits: u64) -> Number {
    thousandths(bits.saturating_mul(125))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::test_row as row;

    fn counters() -> Counters {
        Counters {
            decision_passes: 300,
            switches: 2,
            uptime_ms: 86_400_001,
            wans: vec![WanCounters {
                name: "lte".into(),
                rx_bytes: Some(1 << 40),
                tx_bytes: Some(7),
                probes_sent: 900,
                probes_lost: 3,
            }],
            ..Counters::default()
        }
    }

    fn text(rows: &[WanStatus], counters: &Counters) -> String {
        let mut out = String::new();
        render(rows, counters, &mut out);
        out
    }

    /// The sample lines (no comments) that start with `prefix`.
    fn samples<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn daemon_wide_series() {
        let t = text(&[row("fiber", "down", false)], &counters());
        assert_eq!(
            samples(&t, "wanfailover_build_info"),
            [format!(
                "wanfailover_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )]
        );
        assert_eq!(
            samples(&t, "wanfailover_uptime"),
            ["wanfailover_uptime_seconds 86400.001"]
        );
        assert_eq!(
            samples(&t, "wanfailover_connectivity"),
            ["wanfailover_connectivity 0"]
        );
        assert_eq!(
            samples(&t, "wanfailover_switches"),
            ["wanfailover_switches_total 2"]
        );
        assert_eq!(
            samples(&t, "wanfailover_decision"),
            ["wanfailover_decision_passes_total 300"]
        );
    }

    #[test]
    fn per_wan_series_with_units() {
        let rows = [row("fiber", "down", false), row("lte", "up", true)];
        let t = text(&rows, &counters());
        assert_eq!(
            samples(&t, "wanfailover_wan_info"),
            [
                "wanfailover_wan_info{wan=\"fiber\",interface=\"if-fiber\"} 1",
                "wanfailover_wan_info{wan=\"lte\",interface=\"if-lte\"} 1",
            ]
        );
        let states = samples(&t, "wanfailover_wan_state{wan=\"lte\"");
        assert_eq!(states.len(), STATES.len());
        assert_eq!(
            states
                .iter()
                .filter(|l| l.ends_with(" 1"))
                .collect::<Vec<_>>(),
            [&"wanfailover_wan_state{wan=\"lte\",state=\"up\"} 1"]
        );
        for (prefix, expected) in [
            ("wanfailover_wan_latency_seconds{wan=\"lte\"}", " 0.012345"),
            ("wanfailover_wan_loss_ratio{wan=\"lte\"}", " 0.0250"),
            ("wanfailover_wan_state_seconds{wan=\"lte\"}", " 192.345"),
            (
                "wanfailover_wan_receive_bytes_per_second{wan=\"lte\"}",
                " 625000000.000",
            ),
            (
                "wanfailover_wan_transmit_bytes_per_second{wan=\"lte\"}",
                " 1000.000",
            ),
            (
                "wanfailover_wan_late_rounds_total{wan=\"lte\"}",
                " 4294967297",
            ),
            (
                "wanfailover_wan_receive_bytes_total{wan=\"lte\"}",
                " 1099511627776",
            ),
            ("wanfailover_wan_probes_lost_total{wan=\"lte\"}", " 3"),
            ("wanfailover_wan_active{wan=\"lte\"}", " 1"),
            ("wanfailover_wan_route_metric{wan=\"lte\"}", " 20001"),
        ] {
            assert_eq!(samples(&t, prefix), [format!("{prefix}{expected}")]);
        }
        assert_eq!(
            samples(&t, "wanfailover_connectivity"),
            ["wanfailover_connectivity 1"]
        );
        // unknown measurements and counters a WAN does not have yet: no series at all
        assert!(samples(&t, "wanfailover_wan_jitter_seconds{").is_empty());
        assert!(samples(&t, "wanfailover_wan_receive_bytes_total{wan=\"fiber\"").is_empty());
    }

    #[test]
    fn every_family_is_announced_once_before_its_samples() {
        let rows = [row("a", "up", true), row("b", "init", false)];
        let t = text(&rows, &counters());
        let mut seen: Vec<&str> = Vec::new();
        for line in t.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(!seen.contains(&name), "{name} twice");
                seen.push(name);
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(seen.last(), Some(&name), "{line} outside its family");
            }
        }
        assert_eq!(seen.len(), 3 + DAEMON.len() + 2 + PER_WAN.len());
    }

    #[test]
    fn label_values_are_escaped() {
        let mut odd = row("x", "up", true);
        odd.interface = "e\"t\\h\n0".into();
        let t = text(&[odd], &Counters::default());
        assert!(
            t.contains("wanfailover_wan_info{wan=\"x\",interface=\"e\\\"t\\\\h\\n0\"} 1\n"),
            "{t}"
        );
    }
}

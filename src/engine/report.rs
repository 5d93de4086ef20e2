//! What the engine reports to the outside: status rows and history entries, which the
//! control protocol carries as they are (`control::wire` encodes them; the serde derives
//! exist for its tests, which compare that encoding with postcard's).

#[cfg(test)]
use serde::{Deserialize, Serialize};

/// One row of `wanfailover status`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct WanStatus {
    pub name: String,
    pub interface: String,
    /// One of `init up degraded down linkdown noroute disabled`.
    pub state: String,
    pub priority: u32,
    /// The IPv4 (else IPv6) metric the daemon wants for this WAN now.
    pub metric: u32,
    /// Holds the lowest metric: the kernel sends traffic through it.
    pub active: bool,
    /// Preferred by `prefer NAME`.
    pub preferred: bool,
    pub latency_us: Option<u64>,
    pub jitter_us: Option<u64>,
    /// Loss in hundredths of a percent over the statistics window.
    pub loss_centi_pct: Option<u16>,
    pub rx_bps: Option<u64>,
    pub tx_bps: Option<u64>,
    /// Time in the current state.
    pub since_ms: u64,
    /// Probe rounds that started more than a tenth of their interval after they were due
    /// (the loop was busy): the scale benchmark's "no late rounds".
    pub late_rounds: u64,
    /// Each managed family on its own, IPv4 first: a dual-stack WAN's families are judged
    /// and ranked apart. The fields above are the WAN's: its state is the best of its
    /// families', its metric and figures those of its first family.
    pub families: Vec<FamilyStatus>,
    /// `priority = "auto"`: `priority` comes from the kind of device the interface is.
    pub priority_auto: bool,
    /// That kind (`ethernet`, `wifi`, `modem`, …, `unknown` while the interface was never
    /// seen) for an `auto` priority; empty for a fixed one.
    pub device: String,
}

/// One family of a WAN in `wanfailover status`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct FamilyStatus {
    /// `ipv4` or `ipv6`.
    pub family: String,
    /// The state of this family's probes, spelled like the WAN's.
    pub state: String,
    /// The metric the daemon wants for the WAN's default route of this family now.
    pub metric: u32,
    /// Holds the lowest metric of this family among the WANs that manage it.
    pub active: bool,
    pub latency_us: Option<u64>,
    pub jitter_us: Option<u64>,
    pub loss_centi_pct: Option<u16>,
    /// Time in this family's state.
    pub since_ms: u64,
}

/// What one WAN counted since it was configured (the daemon started, or a reload added it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct WanCounters {
    pub name: String,
    /// The interface's byte counters (`IFLA_STATS64`) as the kernel last reported them;
    /// none before the first report. They restart when the interface is re-created.
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
    /// Echo requests sent.
    pub probes_sent: u64,
    /// Probes without a reply within their timeout (a late reply does not take it back).
    pub probes_lost: u64,
}

/// A WAN name as people read it: `none` for the empty name (no WAN).
pub fn or_none(name: &str) -> &str {
    if name.is_empty() {
        "none"
    } else {
        name
    }
}

/// One line of `wanfailover history`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct HistoryEntry {
    /// Engine time of the event (µs since the daemon's clock epoch).
    pub at_us: u64,
    /// `transition` or `switch`.
    pub kind: String,
    pub wan: String,
    /// For a transition: previous state; for a switch: previously active WAN ("" if none).
    pub from: String,
    /// For a transition: new state; for a switch: newly active WAN ("" if none).
    pub to: String,
    pub cause: String,
    /// `ipv4` or `ipv6` when the event is about one family only (one family of a
    /// dual-stack WAN changed alone, or one family's active WAN changed); empty when it is
    /// about the WAN as a whole.
    pub family: String,
}

/// The status row every test starts from; its file is shared with the integration tests.
#[cfg(test)]
#[path = "../../tests/support/status_row.rs"]
pub(crate) mod fixture;

/// A status row for the tests of the status's consumers (SNMP, metrics): every field set,
/// some to values at the edge of their unit (a rate over `u32::MAX`, a counter past
/// `u32::MAX`), no jitter.
#[cfg(all(test, any(feature = "snmp", feature = "metrics")))]
pub(crate) fn test_row(name: &str, state: &str, active: bool) -> WanStatus {
    WanStatus {
        interface: format!("if-{name}"),
        state: state.into(),
        metric: 20_001,
        active,
        jitter_us: None,
        loss_centi_pct: Some(250),
        rx_bps: Some(5_000_000_000),
        tx_bps: Some(8_000),
        since_ms: 192_345,
        late_rounds: u64::from(u32::MAX) + 2,
        ..fixture::status_row(name)
    }
}

/// One WAN of `wanfailover health`: its state and what each target did last.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct WanHealth {
    pub name: String,
    /// As in [`WanStatus::state`].
    pub state: String,
    /// In config order.
    pub targets: Vec<TargetHealth>,
}

/// One target of a WAN in `wanfailover health`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct TargetHealth {
    /// `icmp`, `http`, `dns` or `tcp`.
    pub kind: String,
    /// The target as the configuration names it (an address, a URL, `dns NAME via SERVER`,
    /// `tcp ADDR:PORT`), cut to [`TARGET_TEXT_LEN`](super::health::TARGET_TEXT_LEN)
    /// characters.
    pub target: String,
    /// The last outcome: `pass`, `fail`, or `none` before the first.
    pub result: String,
    /// Round trip of the last pass, µs: the echo, the TCP handshake (http, tcp) or the DNS
    /// answer.
    pub rtt_us: Option<u64>,
    /// This target's loss over the statistics window, hundredths of a percent.
    pub loss_centi_pct: Option<u16>,
    /// The cause of the last failure in words ("timeout", "HTTP 302 Found: captive
    /// portal?"); `None` if it never failed.
    pub cause: Option<String>,
    /// How long ago the last failure was, ms.
    pub failed_ago_ms: Option<u64>,
}

/// The routing half (DESIGN.md §10) as `status` shows it: the `Routing` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct RoutingStatus {
    /// `failover` or `balance`.
    pub mode: String,
    /// `flow` or `source` in balance mode; none in failover.
    pub sticky: Option<String>,
    /// The multipath default in force in the kernel now (of IPv4, else IPv6): each WAN
    /// with its weight; empty when there is none.
    pub multipath: Vec<MultipathHop>,
    /// Every `[[policy]]`, in configuration order.
    pub policies: Vec<PolicyStatus>,
    /// Conntrack flushes done since the daemon started.
    pub flushes: u64,
    /// Conntrack entries they deleted.
    pub flushed: u64,
}

/// One WAN of the multipath default and its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct MultipathHop {
    pub wan: String,
    pub weight: u16,
}

/// A policy and where its traffic goes now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct PolicyStatus {
    pub name: String,
    /// The WAN it names.
    pub wan: String,
    /// The WAN its traffic uses now; none when it falls back to the main table.
    pub uses: Option<String>,
    /// The kill switch is in force: its WAN is not usable and `fallback = false`.
    pub blocked: bool,
}

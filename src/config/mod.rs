//! `/etc/wanfailover.conf`: TOML in, a validated [`Config`] out.
//!
//! [`parse`] is pure: text and file name in, `Config` or every error found out. [`load`]
//! only adds reading the file. Every error names the file, line and column (where the
//! input has one) and what was expected. Unknown keys are errors, with a suggestion when
//! the key looks like a typo of a known one.
//!
//! The TOML text is parsed into a spanned document tree (`toml.rs`, the subset of TOML a
//! configuration uses) and walked by hand: every key and value keeps its place in the
//! file, and one pass reports all unknown keys and bad values instead of stopping at the
//! first.
//!
//! Stages: `raw` checks each key and value on its own (type, unit, range); if that found
//! nothing, `validate` and `probe` check the rules that relate values (duplicates,
//! families, timeout against interval, recovery against threshold) and fill in defaults.
//! A value that failed on its own is thus never the cause of a second, confusing error.
//!
//! Defaults, in order of precedence: the WAN's own key, `[defaults]`, the built-in value
//! (see `validate.rs`). `timeout` and `failure_interval` default to at most `interval`, so
//! a fast profile only needs `interval = "200ms"`. A quality threshold without a recovery
//! value recovers at the threshold itself.

mod error;
mod matches;
mod probe;
mod raw;
mod routing;
mod target;
pub mod toml;
mod units;
mod validate;
mod values;

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{Error, Errors, MAX_ERRORS};
pub use matches::{parse_cidr, parse_fwmark, parse_port_range, Cidr, CidrError, Fwmark, PortRange};
pub use raw::{MAX_PENALTY, MAX_PRIORITY};
pub use routing::{
    Mode, Policy, Protocol, Routing, Sticky, WanRouting, DEFAULT_TABLE_BASE, DEFAULT_WEIGHT,
    MAX_POLICIES, MAX_WEIGHT, RESERVED_TABLES,
};
pub use target::Target;
#[cfg(feature = "checks")]
pub use target::{DnsTarget, HttpTarget};
pub use units::{format_duration, parse_duration, parse_percent, UnitError};
pub use validate::{
    DEFAULT_DEGRADED_PENALTY, DEFAULT_DOWN, DEFAULT_DOWN_PENALTY, DEFAULT_FAILURE_INTERVAL,
    DEFAULT_HOLD, DEFAULT_HOOK_TIMEOUT, DEFAULT_INTERVAL, DEFAULT_RECOVERY_INTERVAL,
    DEFAULT_RELIABILITY, DEFAULT_TIMEOUT, DEFAULT_UP,
};

/// Most WANs one daemon manages (DESIGN.md §8 scale target: 32).
pub const MAX_WANS: usize = 32;
/// Most probe targets per WAN.
pub const MAX_TARGETS: usize = 8;
/// Most `dns` servers per WAN (as many as `resolv.conf` takes).
pub const MAX_DNS_SERVERS: usize = 3;
/// Most rounds of one WAN outstanding at once: `timeout` may be at most this many times
/// `interval` (the config refuses more). dpinger's default loss interval is 4 × its send
/// interval. 4 rounds of `MAX_TARGETS` probes are 32 in flight: half the statistics window,
/// which keeps room for decided samples, and half the prober's table of outstanding probes.
pub const MAX_ROUNDS: usize = 4;
/// Longest WAN name (it appears in hook arguments, the CLI table and the socket protocol).
pub const MAX_NAME_LEN: usize = 32;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/wanfailover.conf";
pub const DEFAULT_SOCKET_PATH: &str = "/run/wanfailover.sock";
pub const DEFAULT_HOOKS_DIR: &str = "/etc/wanfailover.d";

/// Address families a WAN is managed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilySet {
    Ipv4,
    Ipv6,
    Both,
}

/// A WAN's `priority`: lower is preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// As given; unique among the fixed priorities.
    Fixed(u32),
    /// `"auto"`: from the kind of device the interface is (NetworkManager's default route
    /// metrics: ethernet 100, Wi-Fi 600, modem 700, …), moved past every priority already
    /// taken, so ties go to config order (see `engine::device`).
    Auto,
}

impl Priority {
    /// The fixed value, `None` for `auto`.
    pub fn fixed(self) -> Option<u32> {
        match self {
            Priority::Fixed(p) => Some(p),
            Priority::Auto => None,
        }
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Priority::Fixed(p) => write!(f, "{p}"),
            Priority::Auto => f.write_str("auto"),
        }
    }
}

/// Where a WAN's default-route gateway comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway {
    /// Learned from the kernel (the route a DHCP client, PPP or a static config installed);
    /// a link without one gets a device-only default route.
    Auto,
    /// Given in the config.
    Addr(IpAddr),
}

/// A percentage in hundredths of a percent: `"20%"` is `Percent(2000)`, `"0.5%"` is
/// `Percent(50)`. Integer math, no floats in the engine's hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Percent(pub u16);

/// Quality thresholds that move a reachable WAN to `degraded`, each with the value it must
/// get back under to recover (hysteresis). A `None` threshold is not checked. When a
/// threshold is set and its recovery value is not, the recovery value equals the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quality {
    pub max_latency: Option<Duration>,
    pub recovery_latency: Option<Duration>,
    pub max_loss: Option<Percent>,
    pub recovery_loss: Option<Percent>,
    pub max_jitter: Option<Duration>,
    pub recovery_jitter: Option<Duration>,
}

/// Probe timing and verdict parameters of one WAN (from `[defaults]` unless the WAN sets
/// its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// In config order: ICMP addresses and, with the `checks` feature, HTTP/DNS/TCP checks.
    pub targets: Vec<Target>,
    /// Time between rounds while the WAN is `up`/`init`/`degraded`.
    pub interval: Duration,
    /// How long a probe may take before it counts as lost.
    pub timeout: Duration,
    /// Time between rounds after a failed round, to confirm a failure fast.
    pub failure_interval: Duration,
    /// Time between rounds while the WAN is `down`.
    pub recovery_interval: Duration,
    /// Consecutive failed rounds that make the WAN `down`.
    pub down: u8,
    /// Consecutive passed rounds that make a `down` WAN `up` again.
    pub up: u8,
    /// Minimum time since the last failed round before a WAN may come back `up`.
    pub hold: Duration,
    /// Targets that must answer for a round to pass. For a `both` WAN each family is judged
    /// on its own targets (the config guarantees at least `reliability` of each family).
    pub reliability: u8,
}

impl Probe {
    /// The addresses of the ICMP targets, in config order.
    pub fn icmp_targets(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.targets.iter().filter_map(Target::icmp)
    }
}

/// One `[[wan]]`. A `both` WAN has at least one IPv4 and one IPv6 target and
/// `gateway = Auto`; otherwise every target (and a fixed gateway) is of the WAN's family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wan {
    pub name: String,
    pub interface: String,
    /// 1 is the primary, lower is preferred; fixed priorities are unique.
    pub priority: Priority,
    pub family: FamilySet,
    pub gateway: Gateway,
    /// `enabled = false` keeps the WAN in the config but out of the decision (`disabled`).
    pub enabled: bool,
    pub probe: Probe,
    pub quality: Quality,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub socket: PathBuf,
    /// Group that may query and steer the daemon besides root.
    pub socket_group: Option<String>,
    pub hooks_dir: PathBuf,
    /// A hook still running after this long is killed.
    pub hook_timeout: Duration,
    pub down_penalty: u32,
    pub degraded_penalty: u32,
    /// Where the metrics listener (`GET /metrics`, `/status`, `/`) accepts connections;
    /// none: no listener.
    pub metrics_listen: Option<SocketAddr>,
    /// In config order; names, interfaces and priorities are unique.
    pub wans: Vec<Wan>,
}

/// Largest configuration file accepted; a real one is a few kilobytes.
pub const MAX_FILE_LEN: u64 = 1024 * 1024;

/// The whole file: the failover settings and the routing half (DESIGN.md §10), which the
/// engine takes as its own input (`Input::Routing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub config: Config,
    /// `routing.wans[i]` belongs to `config.wans[i]`.
    pub routing: Routing,
}

/// Parses and validates configuration `text`; `file` names it in error messages. The
/// routing half is checked too (see [`parse_settings`] to keep it).
pub fn parse(text: &str, file: &str) -> Result<Config, Errors> {
    read_settings(text, file).map(|s| s.config)
}

/// [`parse`], keeping the routing half.
pub fn parse_settings(text: &str, file: &str) -> Result<Settings, Errors> {
    read_settings(text, file)
}

fn read_settings(text: &str, file: &str) -> Result<Settings, Errors> {
    let mut c = error::Collector::new(file, text);
    let root = match toml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            c.at(&(e.at..e.at), format!("invalid TOML: {}", e.message));
            return Err(c
                .finish()
                .unwrap_or_else(|| Errors::single(file, "invalid TOML".into())));
        }
    };
    let raw = raw::read(&mut c, &root);
    if let Some(errors) = c.finish_if_any() {
        return Err(errors);
    }
    let config = validate::config(&mut c, &raw);
    let routing = routing::validate(&mut c, &raw, &config);
    match c.finish() {
        Some(errors) => Err(errors),
        None => Ok(Settings { config, routing }),
    }
}

/// Reads and parses the file at `path`. An unreadable, oversized or non-UTF-8 file is one
/// error; nothing here panics.
pub fn load(path: &Path) -> Result<Config, Errors> {
    load_settings(path).map(|s| s.config)
}

/// [`load`], keeping the routing half (see [`parse_settings`]).
pub fn load_settings(path: &Path) -> Result<Settings, Errors> {
    let file = path.display().to_string();
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_LEN + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Err(Errors::single(&file, format!("cannot read: {e}")));
    }
    if bytes.len() as u64 > MAX_FILE_LEN {
        let msg = format!("larger than {MAX_FILE_LEN} bytes; not a configuration file");
        return Err(Errors::single(&file, msg));
    }
    match String::from_utf8(bytes) {
        Ok(text) => read_settings(&text, &file),
        Err(e) => Err(error::not_utf8(
            &file,
            e.as_bytes(),
            e.utf8_error().valid_up_to(),
        )),
    }
}

impl Wan {
    /// One line for `check-config`:
    /// `fiber: eth0, priority 1, ipv4, 2 targets every 1s (timeout 1s, down 3, up 5, hold 10s)`.
    pub fn summary(&self) -> String {
        let p = &self.probe;
        let n = p.targets.len();
        let mut line = format!(
            "{}: {}, priority {}, {}, {n} target{} every {} (timeout {}, down {}, up {}, hold {})",
            self.name,
            self.interface,
            self.priority,
            self.family,
            if n == 1 { "" } else { "s" },
            format_duration(p.interval),
            format_duration(p.timeout),
            p.down,
            p.up,
            format_duration(p.hold),
        );
        if let Gateway::Addr(ip) = self.gateway {
            line.push_str(&format!(", gateway {ip}"));
        }
        if !self.enabled {
            line.push_str(", disabled");
        }
        line
    }
}

impl std::fmt::Display for FamilySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FamilySet::Ipv4 => "ipv4",
            FamilySet::Ipv6 => "ipv6",
            FamilySet::Both => "both",
        })
    }
}

#[cfg(test)]
mod tests;

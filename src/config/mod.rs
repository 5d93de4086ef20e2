//! `/etc/wanfailover.conf`: TOML in, a validated [`Config`] out.
//!
//! Pure: the caller reads the file and passes its text and name; nothing here touches the
//! file system. Every error names the file, line and column (where the input has one) and
//! what was expected. Unknown keys are errors.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Most WANs one daemon manages (DESIGN.md §8 scale target: 32).
pub const MAX_WANS: usize = 32;
/// Most probe targets per WAN.
pub const MAX_TARGETS: usize = 8;
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
    pub targets: Vec<IpAddr>,
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
    /// Targets that must answer for a round to pass.
    pub reliability: u8,
}

/// One `[[wan]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wan {
    pub name: String,
    pub interface: String,
    /// Unique; 1 is the primary, lower is preferred.
    pub priority: u32,
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
    /// In config order; names, interfaces and priorities are unique.
    pub wans: Vec<Wan>,
}

//! Default routes as the engine sees them: the kernel facts it reconciles against and the
//! routes it asks the shell to install or remove.

use std::net::IpAddr;

use crate::config::FamilySet;

/// `RT_TABLE_MAIN`.
pub const RT_TABLE_MAIN: u32 = 254;
/// The `rtm_protocol` tag on every route this daemon installs (unassigned in iproute2's
/// `rt_protos`). Routes with any other protocol are foreign.
pub const RTPROT_WANFAILOVER: u8 = 87;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The families a WAN's `family` setting manages, IPv4 first.
    pub fn managed_by(set: FamilySet) -> &'static [Family] {
        match set {
            FamilySet::Ipv4 => &[Family::V4],
            FamilySet::Ipv6 => &[Family::V6],
            FamilySet::Both => &[Family::V4, Family::V6],
        }
    }

    /// 0 for IPv4, 1 for IPv6: the index of per-family arrays.
    pub fn index(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }
}

impl Family {
    /// `ipv4` or `ipv6`, as the config, the CLI, JSON and hooks spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
}

impl core::fmt::Display for Family {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A default route (`0.0.0.0/0` or `::/0`) in one table, exactly as the kernel keys it:
/// deleting needs every field to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    pub family: Family,
    pub table: u32,
    pub ifindex: u32,
    /// `None` for a device-only route (PPP, some LTE modems).
    pub gateway: Option<IpAddr>,
    /// `RTA_PRIORITY`; note IPv6 turns 0 into 1024.
    pub metric: u32,
    /// `rtm_protocol` (`RTPROT_BOOT` 3, `RTPROT_STATIC` 4, `RTPROT_DHCP` 16, `RTPROT_RA` 9, …).
    pub protocol: u8,
    /// `RTA_PREFSRC`, the preferred source address (dhcpcd sets it); not part of the key, but
    /// a foreign route goes back with it.
    pub prefsrc: Option<IpAddr>,
}

impl Route {
    pub fn is_ours(&self) -> bool {
        self.protocol == RTPROT_WANFAILOVER
    }
}

impl core::fmt::Display for Route {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let dst = match self.family {
            Family::V4 => "0.0.0.0/0",
            Family::V6 => "::/0",
        };
        write!(f, "{dst}")?;
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        if let Some(src) = self.prefsrc {
            write!(f, " src {src}")?;
        }
        write!(
            f,
            " dev#{} metric {} proto {} table {}",
            self.ifindex, self.metric, self.protocol, self.table
        )
    }
}

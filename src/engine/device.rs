//! What kind of device a WAN's interface is, and the priority `priority = "auto"` gives it.
//!
//! The table is NetworkManager's default route metrics by device type (its
//! `nm_device_get_route_metric_default`), so a gateway that moves from NetworkManager (or
//! from Kura, whose `-1` means the same) keeps the order it had: wired before Wi-Fi before
//! a cellular modem. The kind comes from facts the kernel publishes for every interface: the
//! `DEVTYPE` of its uevent (`wlan`, `wwan`, `bridge`, …), its hardware type (`ARPHRD_*`), and
//! whether it is a TUN/TAP device.

/// A device kind, as far as its default priority goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    WireGuard,
    Ethernet,
    InfiniBand,
    Bond,
    Vlan,
    Bridge,
    Tun,
    Ppp,
    Vxlan,
    Wifi,
    IpTunnel,
    Modem,
    Bluetooth,
    Lowpan,
    Wpan,
    Generic,
    /// The interface does not exist (yet): ranked after every known kind.
    Unknown,
}

/// What the kernel says about an interface (see `sys::device`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `ARPHRD_*` from `/sys/class/net/IF/type`.
    pub arphrd: Option<u16>,
    /// `DEVTYPE` from `/sys/class/net/IF/uevent`.
    pub devtype: Option<String>,
    /// A TUN/TAP device (`tun_flags` exists).
    pub tun: bool,
}

// ARPHRD_* values (linux/if_arp.h) that decide a kind.
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_INFINIBAND: u16 = 32;
const ARPHRD_PPP: u16 = 512;
/// Raw-IP cellular modems (qmi_wwan in raw-ip mode, MHI).
const ARPHRD_RAWIP: u16 = 519;
const ARPHRD_TUNNEL: u16 = 768;
const ARPHRD_TUNNEL6: u16 = 769;
const ARPHRD_SIT: u16 = 776;
const ARPHRD_IPGRE: u16 = 778;
const ARPHRD_IEEE802154: u16 = 804;
const ARPHRD_IP6GRE: u16 = 823;
const ARPHRD_6LOWPAN: u16 = 825;
const ARPHRD_NONE: u16 = 0xfffe;

impl Kind {
    /// The kind these facts describe: the uevent's `DEVTYPE` first (drivers set it for
    /// Wi-Fi, cellular modems, bridges, …), then the hardware type.
    pub fn of(facts: &Facts) -> Kind {
        let by_devtype = match facts.devtype.as_deref() {
            Some("wlan") => Some(Kind::Wifi),
            Some("wwan") => Some(Kind::Modem),
            Some("bluetooth") => Some(Kind::Bluetooth),
            Some("ppp") => Some(Kind::Ppp),
            Some("bridge") => Some(Kind::Bridge),
            Some("bond") => Some(Kind::Bond),
            Some("vlan") => Some(Kind::Vlan),
            Some("vxlan") => Some(Kind::Vxlan),
            Some("wireguard") => Some(Kind::WireGuard),
            _ => None,
        };
        if let Some(kind) = by_devtype {
            return kind;
        }
        match facts.arphrd {
            // a TAP device is Ethernet to the kernel; a TUN device has no hardware type
            _ if facts.tun => Kind::Tun,
            Some(ARPHRD_ETHER) => Kind::Ethernet,
            Some(ARPHRD_INFINIBAND) => Kind::InfiniBand,
            Some(ARPHRD_PPP) => Kind::Ppp,
            Some(ARPHRD_RAWIP) => Kind::Modem,
            Some(ARPHRD_TUNNEL | ARPHRD_TUNNEL6 | ARPHRD_SIT | ARPHRD_IPGRE | ARPHRD_IP6GRE) => {
                Kind::IpTunnel
            }
            Some(ARPHRD_6LOWPAN) => Kind::Lowpan,
            Some(ARPHRD_IEEE802154) => Kind::Wpan,
            Some(ARPHRD_NONE) | Some(_) => Kind::Generic,
            None => Kind::Unknown,
        }
    }

    /// The priority `priority = "auto"` starts from (NetworkManager's route metric).
    pub fn default_priority(self) -> u32 {
        match self {
            Kind::WireGuard => 50,
            Kind::Ethernet => 100,
            Kind::InfiniBand => 150,
            Kind::Bond => 300,
            Kind::Vlan => 400,
            Kind::Bridge => 425,
            Kind::Tun => 450,
            Kind::Ppp => 460,
            Kind::Vxlan => 500,
            Kind::Wifi => 600,
            Kind::IpTunnel => 675,
            Kind::Modem => 700,
            Kind::Bluetooth => 750,
            Kind::Lowpan => 775,
            Kind::Wpan => 850,
            Kind::Generic => 950,
            Kind::Unknown => 10_000,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::WireGuard => "wireguard",
            Kind::Ethernet => "ethernet",
            Kind::InfiniBand => "infiniband",
            Kind::Bond => "bond",
            Kind::Vlan => "vlan",
            Kind::Bridge => "bridge",
            Kind::Tun => "tun",
            Kind::Ppp => "ppp",
            Kind::Vxlan => "vxlan",
            Kind::Wifi => "wifi",
            Kind::IpTunnel => "ip-tunnel",
            Kind::Modem => "modem",
            Kind::Bluetooth => "bluetooth",
            Kind::Lowpan => "6lowpan",
            Kind::Wpan => "wpan",
            Kind::Generic => "generic",
            Kind::Unknown => "unknown",
        }
    }
}

impl core::fmt::Display for Kind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Effective priorities in config order: a fixed priority stays; an automatic one starts at
/// its kind's default and moves up past every value already taken (by a fixed priority, or
/// an automatic one earlier in the config), so ties go to config order.
pub fn resolve(wants: &[(Option<u32>, Kind)], out: &mut impl Extend<u32>) {
    let fixed = |p: u32| wants.iter().any(|w| w.0 == Some(p));
    let mut taken: heapless::Vec<u32, { crate::config::MAX_WANS }> = heapless::Vec::new();
    for &(priority, kind) in wants {
        let p = match priority {
            Some(p) => p,
            None => {
                let mut p = kind.default_priority();
                while fixed(p) || taken.contains(&p) {
                    p = p.saturating_add(1);
                }
                let _ = taken.push(p); // capacity: at most MAX_WANS entries
                p
            }
        };
        out.extend([p]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(arphrd: u16, devtype: Option<&str>, tun: bool) -> Facts {
        Facts {
            arphrd: Some(arphrd),
            devtype: devtype.map(str::to_string),
            tun,
        }
    }

    #[test]
    fn kinds_from_what_the_kernel_publishes() {
        let table = [
            (facts(1, None, false), Kind::Ethernet, 100), // eth0, veth
            (facts(1, Some("wlan"), false), Kind::Wifi, 600), // wlan0
            (facts(1, Some("wwan"), false), Kind::Modem, 700), // usb0 of a cdc_ether modem
            (facts(519, None, false), Kind::Modem, 700),  // wwan0 of qmi_wwan in raw-ip mode
            (facts(512, None, false), Kind::Ppp, 460),    // ppp0
            (facts(1, Some("bridge"), false), Kind::Bridge, 425),
            (facts(1, Some("vlan"), false), Kind::Vlan, 400),
            (facts(65534, None, true), Kind::Tun, 450), // tun
            (facts(1, None, true), Kind::Tun, 450),     // tap
            (facts(65534, Some("wireguard"), false), Kind::WireGuard, 50),
            (facts(768, None, false), Kind::IpTunnel, 675),
            (facts(772, None, false), Kind::Generic, 950), // loopback: nothing better known
        ];
        for (f, kind, priority) in table {
            assert_eq!(Kind::of(&f), kind, "{f:?}");
            assert_eq!(kind.default_priority(), priority, "{kind}");
        }
        assert_eq!(Kind::of(&Facts::default()), Kind::Unknown);
    }

    #[test]
    fn unknown_devtype_falls_back_to_the_hardware_type() {
        let f = facts(1, Some("dsa"), false);
        assert_eq!(Kind::of(&f), Kind::Ethernet);
    }

    fn resolved(wants: &[(Option<u32>, Kind)]) -> Vec<u32> {
        let mut out = Vec::new();
        resolve(wants, &mut out);
        out
    }

    #[test]
    fn automatic_priorities_break_ties_by_config_order() {
        let wants = [
            (None, Kind::Modem),
            (None, Kind::Ethernet),
            (None, Kind::Ethernet),
            (Some(101), Kind::Wifi),
        ];
        // the second ethernet moves past the first and past the fixed 101
        assert_eq!(resolved(&wants), [700, 100, 102, 101]);
    }

    #[test]
    fn fixed_priorities_are_kept_as_given() {
        let wants = [(Some(1), Kind::Unknown), (Some(2), Kind::Modem)];
        assert_eq!(resolved(&wants), [1, 2]);
    }
}

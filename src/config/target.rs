//! Probe targets: an IP address string (ICMP echo, as ever) or, with the `checks` feature,
//! an inline table for an HTTP, DNS or TCP check (DESIGN.md §9):
//!
//! ```toml
//! targets = [
//!     "198.51.100.53",                                          # ICMP echo
//!     { http = "http://203.0.113.80/generate_204" },            # expects 204
//!     { http = "http://203.0.113.80/", body = "online" },       # expects 200, body prefix
//!     { http = "http://203.0.113.80/x", status = 302 },         # any status
//!     { dns = "198.51.100.53", name = "example.com" },          # A (AAAA over IPv6)
//!     { tcp = "203.0.113.80:443" },                             # connect completes
//! ]
//! ```
//!
//! This file checks each target on its own; `probe.rs` relates them to the WAN (family,
//! `dns` servers for host names).

use core::fmt;
use std::net::IpAddr;
#[cfg(feature = "checks")]
use std::net::SocketAddr;

use super::toml::Node;
use super::toml::Spanned;

use super::error::Collector;
use super::values::{self, Value};

#[cfg(feature = "checks")]
use crate::check::{dns::Name, dns::RecordType, expect::Expect, url::Url};

/// One target of a WAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// ICMP echo to this address.
    Icmp(IpAddr),
    /// `GET` of an `http://` URL.
    #[cfg(feature = "checks")]
    Http(HttpTarget),
    /// One `A`/`AAAA` query to a DNS server.
    #[cfg(feature = "checks")]
    Dns(DnsTarget),
    /// A TCP connect.
    #[cfg(feature = "checks")]
    Tcp(SocketAddr),
}

/// An `http` target.
#[cfg(feature = "checks")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    pub url: Url,
    /// The status the response must have: `204` unless `body` is given, then `200`
    /// (NetworkManager's defaults), or the target's own `status`.
    pub status: u16,
    /// The body must start with this text.
    pub body: Option<String>,
    /// The WAN's `dns` servers, when the URL names a host; empty for an address.
    pub resolvers: Vec<IpAddr>,
}

#[cfg(feature = "checks")]
impl HttpTarget {
    pub fn expect(&self) -> Expect<'_> {
        Expect {
            status: self.status,
            body: self.body.as_deref().map(str::as_bytes),
        }
    }
}

/// A `dns` target.
#[cfg(feature = "checks")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTarget {
    pub server: IpAddr,
    /// Boxed: 255 bytes in wire form, and most targets are small.
    pub name: Box<Name>,
}

#[cfg(feature = "checks")]
impl DnsTarget {
    /// `A` through an IPv4 server, `AAAA` through an IPv6 one: the record a WAN of that
    /// family could use.
    pub fn qtype(&self) -> RecordType {
        RecordType::for_ipv6(self.server.is_ipv6())
    }
}

impl Target {
    /// The address of an ICMP target.
    pub fn icmp(&self) -> Option<IpAddr> {
        match self {
            Target::Icmp(ip) => Some(*ip),
            #[cfg(feature = "checks")]
            _ => None,
        }
    }

    /// The address the target is reached at, which fixes its family; `None` for an http
    /// target with a host name (looked up by the WAN's family).
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Target::Icmp(ip) => Some(*ip),
            #[cfg(feature = "checks")]
            Target::Http(h) => match h.url.host {
                crate::check::url::Host::Addr(ip) => Some(ip),
                crate::check::url::Host::Name(_) => None,
            },
            #[cfg(feature = "checks")]
            Target::Dns(d) => Some(d.server),
            #[cfg(feature = "checks")]
            Target::Tcp(sa) => Some(sa.ip()),
        }
    }

    /// `icmp`, `http`, `dns` or `tcp`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Icmp(_) => "icmp",
            #[cfg(feature = "checks")]
            Target::Http(_) => "http",
            #[cfg(feature = "checks")]
            Target::Dns(_) => "dns",
            #[cfg(feature = "checks")]
            Target::Tcp(_) => "tcp",
        }
    }
}

impl From<IpAddr> for Target {
    fn from(ip: IpAddr) -> Target {
        Target::Icmp(ip)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Icmp(ip) => write!(f, "{ip}"),
            #[cfg(feature = "checks")]
            Target::Http(h) => write!(f, "{}", h.url),
            #[cfg(feature = "checks")]
            Target::Dns(d) => write!(f, "dns {} via {}", d.name, d.server),
            #[cfg(feature = "checks")]
            Target::Tcp(sa) => write!(f, "tcp {sa}"),
        }
    }
}

/// `targets`: a list of address strings and check tables. `None` if the value or any
/// element is invalid (all are reported).
pub fn list(
    c: &mut Collector<'_>,
    key: &str,
    v: &Value<'_>,
) -> Option<Spanned<Vec<Spanned<Target>>>> {
    values::array(c, key, v, "an array of targets", one)
}

fn one(c: &mut Collector<'_>, key: &str, item: &Value<'_>) -> Option<Spanned<Target>> {
    match item.get_ref() {
        Node::String(s) if s.contains("://") => {
            let msg = format!(
                "{} is a URL: write a check target as a table, {{ http = {} }}",
                values::quote(s),
                values::quote(s)
            );
            c.at(&item.span(), msg);
            None
        }
        Node::String(_) => values::ip(c, key, item)
            .map(|ip| Spanned::new(item.span(), Target::Icmp(*ip.get_ref()))),
        #[cfg(feature = "checks")]
        Node::Table(table) => checks::table(c, item.span(), table),
        #[cfg(not(feature = "checks"))]
        Node::Table(_) => {
            let msg = "HTTP, DNS and TCP checks are not in this build (built without the \
                       `checks` feature): only IP addresses (ICMP echo) can be targets";
            c.at(&item.span(), msg.to_string());
            None
        }
        _ => {
            let what = "an IP address or a check such as { http = \"http://…\" }";
            values::wrong_type(c, key, what, item);
            None
        }
    }
}

#[cfg(feature = "checks")]
mod checks;

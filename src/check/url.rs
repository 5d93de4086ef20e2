//! The `http://` URLs of `http` targets (the subset of RFC 3986 a check needs).
//!
//! `http://HOST[:PORT][/PATH][?QUERY]`, HOST an IPv4 address, an IPv6 address in brackets,
//! or a host name (resolved through the WAN's own `dns` servers). `https://` is refused:
//! checking it needs a TLS stack, far bigger than this daemon; a `tcp` check on port 443
//! shows that the server answers. User info (`user:pass@`) is refused: a check has no
//! business sending credentials. A `#fragment` is never sent, so it is dropped.

use core::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::dns::{Name, NameError};
use super::http::RequestRepr;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 512;
const DEFAULT_PORT: u16 = 80;

/// Why a URL cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// `https://`: no TLS here. Carries the host and port for the suggested `tcp` target.
    Https {
        authority: String,
    },
    /// Another scheme, or none.
    Scheme,
    NoHost,
    UserInfo,
    BadHost(NameError),
    /// An address that cannot be a server (unspecified, multicast, broadcast).
    NotUnicast,
    /// A dotted-decimal host that is no IPv4 address (`192.0.2.300`).
    BadIpv4,
    /// An IPv6 address outside brackets, or a bad one inside them.
    BadIpv6,
    BadPort,
    /// A byte a request line cannot carry unencoded.
    BadPath,
    TooLong,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Https { authority } => {
                let port = if authority.ends_with(']') || !authority.contains(':') {
                    ":443"
                } else {
                    ""
                };
                write!(
                    f,
                    "https:// cannot be checked: that needs a TLS stack, too big for this \
                     daemon; to see that the server answers, use {{ tcp = \"{authority}{port}\" }}"
                )
            }
            UrlError::Scheme => f.write_str("only http:// URLs can be checked"),
            UrlError::NoHost => f.write_str("no host"),
            UrlError::UserInfo => f.write_str("user names and passwords are not sent"),
            UrlError::BadHost(e) => write!(f, "bad host name: {e}"),
            UrlError::NotUnicast => f.write_str("not a unicast address"),
            UrlError::BadIpv4 => f.write_str("not an IPv4 address"),
            UrlError::BadIpv6 => {
                f.write_str("IPv6 addresses go in brackets: http://[2001:db8::1]/")
            }
            UrlError::BadPort => f.write_str("the port must be a number from 1 to 65535"),
            UrlError::BadPath => f.write_str(
                "spaces, control characters and non-ASCII must be percent-encoded in the path",
            ),
            UrlError::TooLong => write!(f, "longer than {MAX_URL_LEN} bytes"),
        }
    }
}

/// The server of an `http` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Addr(IpAddr),
    /// Looked up through the WAN's `dns` servers. (Boxed: a name in wire form is 255
    /// bytes, an address 16.)
    Name(Box<Name>),
}

/// A checked `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: Host,
    pub port: u16,
    /// `Host` header value: the host, and the port unless it is 80.
    authority: String,
    /// Origin-form request target: path and query, starting with `/`.
    path: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        if text.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let (scheme, rest) = text.split_once("://").ok_or(UrlError::Scheme)?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if scheme.eq_ignore_ascii_case("https") {
            let authority = authority.rsplit('@').next().unwrap_or("").to_string();
            return Err(UrlError::Https { authority });
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(UrlError::Scheme);
        }
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = host_port(authority)?;
        let path = path.split('#').next().unwrap_or("");
        if !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UrlError::BadPath);
        }
        let path = match path.as_bytes().first() {
            None => "/".to_string(),
            Some(b'/') => path.to_string(),
            Some(_) => format!("/{path}"), // "http://h?x" asks for "/?x"
        };
        let shown = match &host {
            Host::Addr(IpAddr::V6(a)) => format!("[{a}]"),
            Host::Addr(a) => a.to_string(),
            Host::Name(n) => n.to_string(),
        };
        let authority = if port == DEFAULT_PORT {
            shown
        } else {
            format!("{shown}:{port}")
        };
        Ok(Url {
            host,
            port,
            authority,
            path,
        })
    }

    /// The request that checks this URL.
    pub fn request(&self) -> RequestRepr<'_> {
        RequestRepr {
            host: &self.authority,
            path: &self.path,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path)
    }
}

fn host_port(authority: &str) -> Result<(Host, u16), UrlError> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner.split_once(']').ok_or(UrlError::BadIpv6)?;
        let ip: Ipv6Addr = v6.parse().map_err(|_| UrlError::BadIpv6)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::BadPort)?),
        };
        (Host::Addr(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if port.is_some_and(|p| p.contains(':')) {
            return Err(UrlError::BadIpv6);
        }
        (host_of(host)?, port)
    };
    if let Host::Addr(ip) = host {
        let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
        if ip.is_unspecified() || ip.is_multicast() || broadcast {
            return Err(UrlError::NotUnicast);
        }
    }
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => p
            .parse::<u16>()
            .ok()
            .filter(|&n| n != 0)
            .ok_or(UrlError::BadPort)?,
        Some(_) => return Err(UrlError::BadPort),
    };
    Ok((host, port))
}

fn host_of(text: &str) -> Result<Host, UrlError> {
    if text.is_empty() {
        return Err(UrlError::NoHost);
    }
    if let Ok(ip) = text.parse() {
        return Ok(Host::Addr(IpAddr::V4(ip)));
    }
    // A final label of digits only is meant as an IPv4 address (as browsers read it).
    let last = text.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::BadIpv4);
    }
    Name::from_dotted(text)
        .map(|n| Host::Name(Box::new(n)))
        .map_err(UrlError::BadHost)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn addresses_names_ports_paths() {
        let u = url("http://203.0.113.80/generate_204");
        assert_eq!(u.host, Host::Addr("203.0.113.80".parse().unwrap()));
        assert_eq!((u.port, u.path()), (80, "/generate_204"));
        assert_eq!(u.request().host, "203.0.113.80");
        assert_eq!(u.to_string(), "http://203.0.113.80/generate_204");

        let u = url("HTTP://[2001:DB8::1]:8080?x=1#top");
        assert_eq!(u.host, Host::Addr("2001:db8::1".parse().unwrap()));
        assert_eq!((u.port, u.path()), (8080, "/?x=1"));
        assert_eq!(u.request().host, "[2001:db8::1]:8080");

        let u = url("http://Connectivity-Check.Example.:80");
        assert_eq!(
            u.host,
            Host::Name(Box::new(
                Name::from_dotted("connectivity-check.example").unwrap()
            ))
        );
        assert_eq!((u.port, u.path()), (80, "/"));
        assert_eq!(u.to_string(), "http://connectivity-check.example/");
        assert_eq!(url("http://h:/").port, 80);
    }

    #[test]
    fn https_says_why_and_what_instead() {
        let e = Url::parse("https://user@203.0.113.80/x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "https:// cannot be checked: that needs a TLS stack, too big for this daemon; \
             to see that the server answers, use { tcp = \"203.0.113.80:443\" }"
        );
        let e = Url::parse("https://[2001:db8::1]:8443/").unwrap_err();
        assert!(
            e.to_string().contains("{ tcp = \"[2001:db8::1]:8443\" }"),
            "{e}"
        );
    }

    #[test]
    fn refused() {
        let cases = [
            ("ftp://h/", UrlError::Scheme),
            ("203.0.113.80/generate_204", UrlError::Scheme),
            ("http:///x", UrlError::NoHost),
            ("http://u:p@h/", UrlError::UserInfo),
            ("http://h:0/", UrlError::BadPort),
            ("http://h:65536/", UrlError::BadPort),
            ("http://h:http/", UrlError::BadPort),
            ("http://h:000080/", UrlError::BadPort),
            ("http://2001:db8::1/", UrlError::BadIpv6),
            ("http://[2001:db8::1/", UrlError::BadIpv6),
            ("http://[192.0.2.1]/", UrlError::BadIpv6),
            ("http://[2001:db8::1]x/", UrlError::BadPort),
            ("http://192.0.2.300/", UrlError::BadIpv4),
            ("http://0.0.0.0/", UrlError::NotUnicast),
            ("http://[ff02::1]/", UrlError::NotUnicast),
            ("http://h/a b", UrlError::BadPath),
            ("http://h/\u{e9}", UrlError::BadPath),
            ("http://h/\r\nX: y", UrlError::BadPath),
            ("http://h_ost!/", UrlError::BadHost(NameError::BadChar('!'))),
        ];
        for (text, want) in cases {
            assert_eq!(Url::parse(text), Err(want), "{text}");
        }
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(Url::parse(&long), Err(UrlError::TooLong));
    }
}

//! A `dns` check, and the lookup behind an `http` target with a host name: one query over
//! UDP to each server in turn until one answers with an address.
//!
//! Each server gets an equal share of the time left; a server that fails at once
//! (`ECONNREFUSED` from an ICMP port unreachable, an error code, no address) passes to
//! the next one early. Every query has a fresh random id and its own socket, connected to
//! the server's address and port 53, so the kernel drops datagrams from anyone else and a
//! late answer to an earlier query can never be mistaken for this one.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use socket2::Socket;

use super::{random_u16, Error, Op, Via};
use crate::check::dns::{parse_answer, Answer, Name, QueryRepr, Rcode, RecordType};
use crate::check::dns::{HEADER_LEN, MAX_NAME_LEN};
use crate::check::{Cause, Outcome, Resolved, Rtt, Step};
use crate::config::MAX_DNS_SERVERS;
use crate::engine::Instant;

/// Receive buffer: any datagram up to the usual MTU (answers without EDNS are at most 512
/// bytes; a bigger one is read whole and judged, never cut).
const RX_LEN: usize = 1536;
/// Datagrams read per call; the rest wake the loop again.
const RECV_BATCH: usize = 8;

/// A DNS query in flight.
#[derive(Debug)]
pub struct DnsCheck {
    via: Via,
    servers: heapless::Vec<SocketAddr, MAX_DNS_SERVERS>,
    /// Index of the server asked now.
    current: usize,
    socket: Socket,
    id: u16,
    name: Name,
    qtype: RecordType,
    asked_at: Instant,
    /// When the current server's share of the time runs out.
    slot_until: Instant,
    deadline: Instant,
}

impl DnsCheck {
    /// Asks the first of `servers` (at most [`MAX_DNS_SERVERS`]) that a query can be sent to.
    pub fn start(
        now: Instant,
        deadline: Instant,
        via: &Via,
        servers: &[SocketAddr],
        name: &Name,
        qtype: RecordType,
    ) -> Result<DnsCheck, Error> {
        let servers: heapless::Vec<SocketAddr, MAX_DNS_SERVERS> =
            servers.iter().take(MAX_DNS_SERVERS).copied().collect();
        let mut last = Error::NoResolver;
        for (i, &server) in servers.iter().enumerate() {
            match ask(via, server, name, qtype) {
                Ok((socket, id)) => {
                    let left = servers.len() - i;
                    return Ok(DnsCheck {
                        via: via.clone(),
                        current: i,
                        socket,
                        id,
                        name: name.clone(),
                        qtype,
                        asked_at: now,
                        slot_until: share(now, deadline, left),
                        deadline,
                        servers,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub fn poll_at(&self) -> Instant {
        self.slot_until.min(self.deadline)
    }

    /// Reads what arrived: our answer decides, anything else is ignored.
    pub fn on_ready(&mut self, now: Instant) -> Option<Outcome> {
        let mut buf = [0u8; RX_LEN];
        for _ in 0..RECV_BATCH {
            let n = match (&self.socket).read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let cause = Cause::from_errno(e.raw_os_error().unwrap_or(0));
                    return self.next_server(now, cause);
                }
            };
            let query = QueryRepr {
                id: self.id,
                name: &self.name,
                qtype: self.qtype,
            };
            let verdict = match parse_answer(&buf[..n], &query) {
                Err(e) if e.is_unmatched() => continue, // not ours: a forgery or noise
                Err(e) => Err(Cause::BadDns(e)),
                Ok(answer) => judge(&answer, self.qtype),
            };
            return match verdict {
                Ok(resolved) => Some(Outcome {
                    result: Ok(()),
                    rtt: Rtt {
                        answer: Some(now - self.asked_at),
                        ..Rtt::default()
                    },
                    resolved: Some(resolved),
                }),
                Err(cause) => self.next_server(now, cause),
            };
        }
        None
    }

    /// The deadline ends the check; before it, the end of a server's share moves on.
    pub fn on_timeout(&mut self, now: Instant) -> Option<Outcome> {
        if now >= self.deadline {
            return Some(failed(Cause::Timeout));
        }
        if now >= self.slot_until {
            return self.next_server(now, Cause::Timeout);
        }
        None
    }

    /// The current server failed with `cause`: ask the next one, or report `cause`.
    fn next_server(&mut self, now: Instant, mut cause: Cause) -> Option<Outcome> {
        while self.current + 1 < self.servers.len() {
            self.current += 1;
            let server = self.servers[self.current];
            match ask(&self.via, server, &self.name, self.qtype) {
                Ok((socket, id)) => {
                    let left = self.servers.len() - self.current;
                    (self.socket, self.id, self.asked_at) = (socket, id, now);
                    self.slot_until = share(now, self.deadline, left);
                    return None;
                }
                Err(e) => cause = e.failed().cause,
            }
        }
        Some(failed(cause))
    }
}

impl AsRawFd for DnsCheck {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

fn failed(cause: Cause) -> Outcome {
    Outcome::failed(Step::Answer, cause, Rtt::default())
}

/// An equal share of the time until `deadline` for each of the `left` servers.
fn share(now: Instant, deadline: Instant, left: usize) -> Instant {
    let left = u32::try_from(left.max(1)).unwrap_or(u32::MAX);
    now + (deadline - now) / left
}

/// NOERROR with an address passes; the rest fails with its cause.
fn judge(answer: &Answer, qtype: RecordType) -> Result<Resolved, Cause> {
    if answer.truncated {
        return Err(Cause::Truncated);
    }
    if answer.rcode != Rcode::NOERROR {
        return Err(Cause::Rcode(answer.rcode));
    }
    let addr = *answer.addrs.first().ok_or(Cause::NoRecord(qtype))?;
    Ok(Resolved {
        addr,
        ttl_s: answer.ttl_s,
    })
}

/// Opens a socket to `server` and sends one query with a fresh id.
fn ask(
    via: &Via,
    server: SocketAddr,
    name: &Name,
    qtype: RecordType,
) -> Result<(Socket, u16), Error> {
    let socket = via.connect(server, false)?;
    let id = random_u16();
    let mut buf = [0u8; HEADER_LEN + MAX_NAME_LEN + 4];
    let query = QueryRepr { id, name, qtype };
    let len = query
        .emit(&mut buf)
        .expect("invariant: the buffer holds a query with the longest name");
    socket.send(&buf[..len]).map_err(Error::io(Op::Send))?;
    Ok((socket, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn servers_share_the_time_left() {
        let (now, deadline) = (Instant::from_millis(1_000), Instant::from_millis(1_900));
        assert_eq!(share(now, deadline, 3), Instant::from_millis(1_300));
        assert_eq!(share(now, deadline, 1), deadline);
        assert_eq!(share(now, deadline, 0), deadline);
        assert_eq!(share(deadline, now, 2), deadline, "past the deadline: now");
    }

    #[test]
    fn answers_pass_with_an_address_only() {
        let mut answer = Answer {
            rcode: Rcode::NOERROR,
            truncated: false,
            addrs: heapless::Vec::new(),
            ttl_s: 0,
        };
        assert_eq!(
            judge(&answer, RecordType::Aaaa),
            Err(Cause::NoRecord(RecordType::Aaaa))
        );
        let addr = IpAddr::from([203, 0, 113, 80]);
        answer.addrs.push(addr).unwrap();
        answer.ttl_s = 60;
        assert_eq!(
            judge(&answer, RecordType::A),
            Ok(Resolved { addr, ttl_s: 60 })
        );
        answer.truncated = true;
        assert_eq!(judge(&answer, RecordType::A), Err(Cause::Truncated));
        answer.truncated = false;
        answer.rcode = Rcode::SERVFAIL;
        assert_eq!(
            judge(&answer, RecordType::A),
            Err(Cause::Rcode(Rcode::SERVFAIL))
        );
    }
}

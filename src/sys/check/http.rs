//! An `http` check: (look the host name up,) connect, send one `GET`, read a bounded
//! response and judge it against the expected status and body prefix.
//!
//! The verdict comes as soon as the bytes decide it (a wrong status needs only the status
//! line), at the latest when the server closes or [`MAX_RESPONSE`] bytes are in. A host
//! name is looked up through the WAN's own `dns` servers first ([`DnsCheck`]), for the
//! record type of the WAN's source address (`A` without one), unless the caller has the
//! address cached.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

use socket2::Socket;

use super::tcp::connected;
use super::{read_some, DnsCheck, Error, Interest, Via, DNS_PORT};
use crate::check::dns::{Name, RecordType};
use crate::check::expect::{judge, Expect, Judgement, MAX_BODY_PREFIX};
use crate::check::url::{Host, MAX_URL_LEN};
use crate::check::{Cause, Outcome, Resolved, Rtt, Step};
use crate::config::{HttpTarget, MAX_DNS_SERVERS};
use crate::engine::Instant;
use crate::sys::poll::Ready;

/// Most response bytes read: the head of any sane response and the start of its body.
pub const MAX_RESPONSE: usize = 4096;
/// Room for the request: the longest URL and the fixed header lines.
const MAX_REQUEST: usize = MAX_URL_LEN + 512;

// The check is boxed whole and holds 5 KiB of buffers: a phase of 456 bytes is no reason
// for one more allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Phase {
    Resolve(DnsCheck),
    Connect(Socket),
    /// The request is being written; `sent` bytes are out.
    Send {
        socket: Socket,
        sent: usize,
    },
    Receive(Socket),
    Done,
}

/// An HTTP check in progress.
#[derive(Debug)]
pub struct HttpCheck {
    via: Via,
    port: u16,
    phase: Phase,
    request: heapless::Vec<u8, MAX_REQUEST>,
    status: u16,
    body: heapless::Vec<u8, MAX_BODY_PREFIX>,
    response: [u8; MAX_RESPONSE],
    len: usize,
    /// When the TCP connect started.
    connect_at: Instant,
    rtt: Rtt,
    resolved: Option<Resolved>,
    deadline: Instant,
}

impl HttpCheck {
    pub fn start(
        now: Instant,
        deadline: Instant,
        via: &Via,
        target: &HttpTarget,
        cached: Option<IpAddr>,
    ) -> Result<HttpCheck, Error> {
        let expect = target.expect();
        let body = heapless::Vec::from_slice(expect.body.unwrap_or_default())
            .expect("invariant: the config bounds `body` to MAX_BODY_PREFIX");
        let mut check = HttpCheck {
            via: via.clone(),
            port: target.url.port,
            phase: Phase::Done,
            request: request(target),
            status: expect.status,
            body,
            response: [0; MAX_RESPONSE],
            len: 0,
            connect_at: now,
            rtt: Rtt::default(),
            resolved: None,
            deadline,
        };
        check.phase = match (&target.url.host, cached) {
            (&Host::Addr(ip), _) | (&Host::Name(_), Some(ip)) => {
                Phase::Connect(via.connect(SocketAddr::new(ip, check.port), true)?)
            }
            (Host::Name(name), None) => Phase::Resolve(lookup(now, deadline, via, target, name)?),
        };
        Ok(check)
    }

    pub fn interest(&self) -> Interest {
        match self.phase {
            Phase::Connect(_) | Phase::Send { .. } => Interest::Write,
            Phase::Resolve(_) | Phase::Receive(_) | Phase::Done => Interest::Read,
        }
    }

    pub fn poll_at(&self) -> Instant {
        match &self.phase {
            Phase::Resolve(dns) => dns.poll_at(),
            _ => self.deadline,
        }
    }

    pub fn on_ready(&mut self, now: Instant, ready: Ready) -> Option<Outcome> {
        match &mut self.phase {
            Phase::Resolve(dns) => {
                let looked_up = dns.on_ready(now)?;
                self.resolved_or_failed(now, looked_up)
            }
            Phase::Connect(socket) => match connected(socket, ready)? {
                Ok(()) => {
                    self.rtt.connect = Some(now - self.connect_at);
                    if let Some(socket) = self.take_socket() {
                        self.phase = Phase::Send { socket, sent: 0 };
                    }
                    self.send(now)
                }
                Err(cause) => self.finish(Step::Connect, Err(cause)),
            },
            Phase::Send { .. } => self.send(now),
            Phase::Receive(_) => self.receive(now),
            Phase::Done => None,
        }
    }

    pub fn on_timeout(&mut self, now: Instant) -> Option<Outcome> {
        let step = match &mut self.phase {
            Phase::Resolve(dns) if now < self.deadline => {
                let looked_up = dns.on_timeout(now)?;
                return self.resolved_or_failed(now, looked_up);
            }
            _ if now < self.deadline => return None,
            Phase::Resolve(_) => Step::Resolve,
            Phase::Connect(_) | Phase::Send { .. } => Step::Connect,
            Phase::Receive(_) | Phase::Done => Step::Answer,
        };
        self.finish(step, Err(Cause::Timeout))
    }

    /// The lookup finished: connect to its address, or fail with its cause.
    fn resolved_or_failed(&mut self, now: Instant, looked_up: Outcome) -> Option<Outcome> {
        self.rtt.answer = looked_up.rtt.answer;
        let resolved = match (looked_up.result, looked_up.resolved) {
            (Ok(()), Some(r)) => r,
            (Err(failed), _) => return self.finish(Step::Resolve, Err(failed.cause)),
            (Ok(()), None) => return self.finish(Step::Resolve, Err(Cause::Timeout)),
        };
        self.resolved = Some(resolved);
        self.connect_at = now;
        match self
            .via
            .connect(SocketAddr::new(resolved.addr, self.port), true)
        {
            Ok(socket) => {
                self.phase = Phase::Connect(socket);
                None
            }
            Err(e) => self.finish(Step::Connect, Err(e.failed().cause)),
        }
    }

    /// Writes what is left of the request; then waits for the response.
    fn send(&mut self, now: Instant) -> Option<Outcome> {
        let Phase::Send { socket, sent } = &mut self.phase else {
            return None;
        };
        while *sent < self.request.len() {
            match (&*socket).write(&self.request[*sent..]) {
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let cause = Cause::from_errno(e.raw_os_error().unwrap_or(0));
                    return self.finish(Step::Connect, Err(cause));
                }
            }
        }
        if let Some(socket) = self.take_socket() {
            self.phase = Phase::Receive(socket);
        }
        self.receive(now)
    }

    /// The connected socket, leaving the phase `Done` for the caller to replace.
    fn take_socket(&mut self) -> Option<Socket> {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Connect(s) | Phase::Send { socket: s, .. } | Phase::Receive(s) => Some(s),
            Phase::Resolve(_) | Phase::Done => None,
        }
    }

    /// Reads what arrived and judges the response so far.
    fn receive(&mut self, now: Instant) -> Option<Outcome> {
        let Phase::Receive(socket) = &self.phase else {
            return None;
        };
        let before = self.len;
        let closed = match read_some(socket, &mut self.response, &mut self.len) {
            Ok(closed) => closed,
            Err(e) => {
                let cause = Cause::from_errno(e.raw_os_error().unwrap_or(0));
                return self.finish(Step::Answer, Err(cause));
            }
        };
        if before == 0 && self.len > 0 {
            self.rtt.first_byte = Some(now - self.connect_at);
        }
        let more = !closed && self.len < MAX_RESPONSE;
        let expect = Expect {
            status: self.status,
            body: (!self.body.is_empty()).then_some(&self.body[..]),
        };
        match judge(&self.response[..self.len], more, &expect) {
            Judgement::NeedMore => None,
            Judgement::Pass => self.finish(Step::Answer, Ok(())),
            Judgement::Fail(cause) => self.finish(Step::Answer, Err(cause)),
        }
    }

    /// Closes the socket and reports.
    fn finish(&mut self, step: Step, result: Result<(), Cause>) -> Option<Outcome> {
        self.phase = Phase::Done;
        let mut outcome = match result {
            Ok(()) => Outcome::passed(self.rtt),
            Err(cause) => Outcome::failed(step, cause, self.rtt),
        };
        outcome.resolved = self.resolved;
        Some(outcome)
    }
}

/// The request bytes of `target`.
fn request(target: &HttpTarget) -> heapless::Vec<u8, MAX_REQUEST> {
    let mut request = heapless::Vec::new();
    request
        .resize_default(MAX_REQUEST)
        .expect("invariant: resize to the capacity");
    let len = target
        .url
        .request()
        .emit(&mut request)
        .expect("invariant: a parsed URL makes a valid request of at most MAX_REQUEST");
    request.truncate(len);
    request
}

/// Starts looking up `name` through the target's resolvers, for the record type of the
/// WAN's source address.
fn lookup(
    now: Instant,
    deadline: Instant,
    via: &Via,
    target: &HttpTarget,
    name: &Name,
) -> Result<DnsCheck, Error> {
    let servers: heapless::Vec<SocketAddr, MAX_DNS_SERVERS> = target
        .resolvers
        .iter()
        .take(MAX_DNS_SERVERS)
        .map(|&ip| SocketAddr::new(ip, DNS_PORT))
        .collect();
    let qtype = RecordType::for_ipv6(via.source.is_some_and(|s| s.is_ipv6()));
    DnsCheck::start(now, deadline, via, &servers, name, qtype)
}

impl AsRawFd for HttpCheck {
    fn as_raw_fd(&self) -> RawFd {
        match &self.phase {
            Phase::Resolve(dns) => dns.as_raw_fd(),
            Phase::Connect(s) | Phase::Send { socket: s, .. } | Phase::Receive(s) => s.as_raw_fd(),
            Phase::Done => -1,
        }
    }
}

//! A userspace ICMP/ICMPv6 echo responder for the namespace lab, where `netem` is missing:
//! it answers echo requests after a chosen delay, with optional jitter and loss, and can
//! forge replies (right identifier and sequence, wrong payload) to test the prober's
//! checks.
//!
//! Run it in an "ISP" namespace with the kernel's own echo turned off there:
//!
//! ```text
//! ip netns exec ISP sysctl -w net.ipv4.icmp_echo_ignore_all=1 net.ipv6.icmp.echo_ignore_all=1
//! ip netns exec ISP echo_responder --delay 40ms --jitter 10ms --loss 5 --duration 60s
//! ```
//!
//! Options: `--delay D`, `--jitter D` (uniform extra delay in `[0, D]`), `--loss PCT`,
//! `--forge`, `--duration D` (default 60s), `--addr ADDR` (repeatable; default: the lab's
//! targets 198.51.100.53, 198.51.100.54, 203.0.113.53, 2001:db8:ff::53, skipping those not
//! configured). Durations take `us`, `ms` or `s`. Prints `ready` on stdout once listening and
//! a summary on stderr at exit. Stops after `--duration` or on SIGTERM/SIGINT.
//!
//! One raw socket per address, bound to it, so replies leave from the address that was
//! probed. Single-threaded: one `poll` over the sockets and a signalfd, with a timer queue
//! of pending replies.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::time::TimeSpec;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use wanfailover::engine::Family;
use wanfailover::sys::icmp::packet::{ipv4_payload, EchoKind, EchoPacket, EchoRepr};
use wanfailover::sys::icmp::set_type_filter;

const DEFAULT_ADDRS: [&str; 4] = [
    "198.51.100.53",
    "198.51.100.54",
    "203.0.113.53",
    "2001:db8:ff::53",
];

struct Options {
    delay: Duration,
    jitter: Duration,
    loss_pct: u32,
    forge: bool,
    duration: Duration,
    addrs: Vec<IpAddr>,
}

struct Listener {
    socket: Socket,
    family: Family,
}

/// A reply waiting for its time.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    due: Instant,
    listener: usize,
    to: IpAddr,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Counts {
    requests: u64,
    answered: u64,
    dropped: u64,
    send_errors: u64,
}

fn main() {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("echo_responder: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("echo_responder: {e}");
        std::process::exit(1);
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    match unit {
        "us" => Ok(Duration::from_micros(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        _ => Err(format!("bad duration unit in {s:?} (us, ms, s)")),
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        loss_pct: 0,
        forge: false,
        duration: Duration::from_secs(60),
        addrs: Vec::new(),
    };
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--delay" => o.delay = parse_duration(&value()?)?,
            "--jitter" => o.jitter = parse_duration(&value()?)?,
            "--duration" => o.duration = parse_duration(&value()?)?,
            "--loss" => o.loss_pct = value()?.parse().map_err(|_| "bad --loss".to_string())?,
            "--addr" => o
                .addrs
                .push(value()?.parse().map_err(|_| "bad --addr".to_string())?),
            "--forge" => o.forge = true,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.loss_pct > 100 {
        return Err("--loss is a percentage".into());
    }
    Ok(o)
}

fn open_listener(addr: IpAddr) -> std::io::Result<Listener> {
    let (domain, protocol, family) = match addr {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, Family::V4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, Family::V6),
    };
    let socket = Socket::new(domain, Type::RAW, Some(protocol))?;
    socket.bind(&SockAddr::from(SocketAddr::new(addr, 0)))?;
    set_type_filter(&socket, family, &[EchoKind::Request.msg_type(family)])?;
    socket.set_nonblocking(true)?;
    Ok(Listener { socket, family })
}

fn open_listeners(opts: &Options) -> Result<Vec<Listener>, String> {
    let explicit = !opts.addrs.is_empty();
    let addrs: Vec<IpAddr> = if explicit {
        opts.addrs.clone()
    } else {
        DEFAULT_ADDRS
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    };
    let mut listeners = Vec::new();
    for addr in addrs {
        match open_listener(addr) {
            Ok(l) => listeners.push(l),
            // The default list names every lab target; only configured ones are served.
            Err(e) if !explicit && e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
            Err(e) => return Err(format!("{addr}: {e}")),
        }
    }
    if listeners.is_empty() {
        return Err("no address to answer on".into());
    }
    Ok(listeners)
}

fn run(opts: &Options) -> Result<(), String> {
    let listeners = open_listeners(opts)?;
    let sigfd = stop_signals()?;
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut rng = Rng::new();
    let mut queue: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
    let mut counts = Counts::default();
    let end = Instant::now() + opts.duration;
    loop {
        let now = Instant::now();
        send_due(&listeners, &mut queue, now, &mut counts);
        if now >= end {
            break;
        }
        let next = queue.peek().map_or(end, |Reverse(p)| p.due.min(end));
        let Some(ready) = wait(&listeners, &sigfd, next.saturating_duration_since(now))? else {
            break;
        };
        for i in ready
            .iter()
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(i, _)| i)
        {
            drain(&listeners, i, opts, &mut rng, &mut queue, &mut counts);
        }
    }
    eprintln!(
        "echo_responder: {} requests, {} answered, {} dropped, {} send errors",
        counts.requests, counts.answered, counts.dropped, counts.send_errors
    );
    Ok(())
}

/// SIGTERM and SIGINT as a readable descriptor (blocked for normal delivery).
fn stop_signals() -> Result<SignalFd, String> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGINT);
    mask.thread_block()
        .map_err(|e| format!("sigprocmask: {e}"))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))
}

/// Waits up to `wait` for requests; returns which listeners are readable, or `None` when a
/// stop signal arrived.
fn wait(
    listeners: &[Listener],
    sigfd: &SignalFd,
    wait: Duration,
) -> Result<Option<Vec<bool>>, String> {
    // ppoll takes a timespec: replies leave within µs of their due time, not rounded up to
    // the next millisecond as with poll.
    let timeout = TimeSpec::from_duration(wait.min(Duration::from_secs(60)));
    let mut fds: Vec<PollFd> = listeners
        .iter()
        .map(|l| PollFd::new(l.socket.as_fd(), PollFlags::POLLIN))
        .collect();
    fds.push(PollFd::new(sigfd.as_fd(), PollFlags::POLLIN));
    match ppoll(&mut fds, Some(timeout), None) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(format!("poll: {e}")),
    }
    let mut ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
    if ready.pop() == Some(true) {
        return Ok(None);
    }
    Ok(Some(ready))
}

fn send_due(
    listeners: &[Listener],
    queue: &mut BinaryHeap<Reverse<Pending>>,
    now: Instant,
    counts: &mut Counts,
) {
    while queue.peek().is_some_and(|Reverse(p)| p.due <= now) {
        let Some(Reverse(p)) = queue.pop() else { break };
        let to = SockAddr::from(SocketAddr::new(p.to, 0));
        match listeners[p.listener].socket.send_to(&p.bytes, &to) {
            Ok(_) => counts.answered += 1,
            Err(_) => counts.send_errors += 1,
        }
    }
}

fn drain(
    listeners: &[Listener],
    i: usize,
    opts: &Options,
    rng: &mut Rng,
    queue: &mut BinaryHeap<Reverse<Pending>>,
    counts: &mut Counts,
) {
    let l = &listeners[i];
    let mut buf = [0u8; 2048];
    for _ in 0..64 {
        let Ok((len, from)) = nix::sys::socket::recvfrom::<nix::sys::socket::SockaddrStorage>(
            l.socket.as_raw_fd(),
            &mut buf,
        ) else {
            return;
        };
        let Some((src, reply)) = make_reply(l.family, &buf[..len], from, opts.forge) else {
            continue;
        };
        counts.requests += 1;
        if rng.below(100) < opts.loss_pct {
            counts.dropped += 1;
            continue;
        }
        let jitter_us = u64::try_from(opts.jitter.as_micros()).unwrap_or(0);
        let extra = Duration::from_micros(if jitter_us > 0 {
            rng.next() % (jitter_us + 1)
        } else {
            0
        });
        queue.push(Reverse(Pending {
            due: Instant::now() + opts.delay + extra,
            listener: i,
            to: src,
            bytes: reply,
        }));
    }
}

/// The reply to one request datagram, and where to send it.
fn make_reply(
    family: Family,
    datagram: &[u8],
    from: Option<nix::sys::socket::SockaddrStorage>,
    forge: bool,
) -> Option<(IpAddr, Vec<u8>)> {
    let (src, icmp) = match family {
        Family::V4 => {
            let (src, icmp) = ipv4_payload(datagram).ok()?;
            (IpAddr::V4(src), icmp)
        }
        Family::V6 => (IpAddr::V6(from?.as_sockaddr_in6()?.ip()), datagram),
    };
    let request = EchoRepr::parse(&EchoPacket::new_checked(icmp).ok()?, family).ok()?;
    if request.kind != EchoKind::Request {
        return None;
    }
    let mut data = request.data.to_vec();
    if forge {
        // Same identifier and sequence, a payload that is not the prober's (cookie flipped).
        for b in data.iter_mut().take(8) {
            *b ^= 0xff;
        }
    }
    let reply = EchoRepr {
        kind: EchoKind::Reply,
        data: &data,
        ..request
    };
    let mut out = vec![0u8; reply.buffer_len()];
    reply.emit(&mut out).ok()?;
    Some((src, out))
}

/// xorshift64*, seeded from the clock and pid: loss and jitter need no cryptography.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Rng((t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

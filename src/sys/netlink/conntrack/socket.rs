//! The ctnetlink socket: a dump of the conntrack table and batched deletes of exact
//! entries. Non-blocking underneath; [`Conntrack::dump`] and [`Conntrack::delete`] wait
//! on it with a deadline, for one-shot use and tests. In the daemon's poll loop the same
//! requests and parsers serve a part that reads a bounded batch per turn.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{
    bind, getsockname, recv, send, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};

use super::{emit_ct_delete, emit_ct_dump, parse_ct_messages, CtBody, Entry};
use crate::engine::Family;
use crate::sys::poll::Poller;

/// One datagram of a dump: the kernel fills what the reader's buffer holds, up to 32 KiB
/// per part by default; a bigger buffer costs nothing on the way.
const RECV_BUF_LEN: usize = 64 * 1024;
/// Deletes per datagram. The failures echo their requests (about 150 bytes each): 128 of
/// them stay far below the default receive buffer.
const DELETES_PER_DATAGRAM: usize = 128;

/// What a batch of deletes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteReport {
    /// Entries deleted.
    pub deleted: usize,
    /// Entries already gone (`ENOENT`: expired, or deleted by someone else, or a new
    /// entry with the same tuple but another id).
    pub gone: usize,
    /// Deletes refused for another reason (logged by the caller).
    pub failed: usize,
}

/// A `NETLINK_NETFILTER` socket for conntrack requests, in the calling thread's network
/// namespace.
pub struct Conntrack {
    fd: OwnedFd,
    pid: u32,
    rx: Vec<u8>,
    tx: Vec<u8>,
    next_seq: u32,
}

impl Conntrack {
    pub fn open() -> io::Result<Conntrack> {
        let (fd, pid) = open_netlink(SockProtocol::NetlinkNetFilter)?;
        Ok(Conntrack {
            fd,
            pid,
            rx: vec![0; RECV_BUF_LEN],
            tx: Vec::with_capacity(DELETES_PER_DATAGRAM * 160),
            next_seq: 1,
        })
    }

    /// The socket, for `poll(2)`.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Our netlink port id: answers to our requests carry it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    // ----- the same requests without waiting, for a poll loop --------------------------

    /// Sends a dump request of `family` (`None`: all); returns its sequence number. The
    /// answers come with [`Conntrack::try_recv`].
    pub fn start_dump(&mut self, family: Option<Family>) -> io::Result<u32> {
        let seq = self.seq();
        self.tx.clear();
        emit_ct_dump(&mut self.tx, family, seq);
        self.send()?;
        Ok(seq)
    }

    /// Sends deletes of these entries (at most `DELETES_PER_DATAGRAM` are taken) in one
    /// datagram, only the last asking for an ACK; returns how many were sent and the
    /// sequence numbers of the first and the last.
    pub fn send_deletes(&mut self, entries: &[Entry]) -> io::Result<(usize, u32, u32)> {
        let batch = &entries[..entries.len().min(DELETES_PER_DATAGRAM)];
        self.tx.clear();
        let first = self.next_seq;
        let mut last = first;
        for (i, entry) in batch.iter().enumerate() {
            last = self.seq();
            emit_ct_delete(&mut self.tx, entry, i + 1 == batch.len(), last);
        }
        if !batch.is_empty() {
            self.send()?;
        }
        Ok((batch.len(), first, last))
    }

    /// One datagram if one is waiting (`None`: `EAGAIN`). A datagram cut short by the
    /// buffer is an error: entries were lost.
    pub fn try_recv(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            match recv(self.fd.as_raw_fd(), &mut self.rx, MsgFlags::MSG_TRUNC) {
                Ok(n) if n > self.rx.len() => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "datagram cut"));
                }
                Ok(n) => return Ok(Some(&self.rx[..n])),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        seq
    }

    /// Dumps the table of `family` (`None`: all), calling `each` for every entry with
    /// both tuples; returns how many there were. `TimedOut` when the dump has not ended
    /// by `timeout`; an `NLMSG_DONE` with an error is that error.
    pub fn dump(
        &mut self,
        family: Option<Family>,
        timeout: Duration,
        mut each: impl FnMut(&Entry),
    ) -> io::Result<usize> {
        let until = Instant::now() + timeout;
        let seq = self.seq();
        self.tx.clear();
        emit_ct_dump(&mut self.tx, family, seq);
        self.send()?;
        let mut count = 0;
        loop {
            let n = self.recv_until(until)?;
            let pid = self.pid;
            for msg in parse_ct_messages(&self.rx[..n]).flatten() {
                if msg.pid != pid || msg.seq != seq {
                    continue;
                }
                match msg.body {
                    CtBody::Entry(Some(e)) => {
                        count += 1;
                        each(&e);
                    }
                    CtBody::Done { errno: 0 } => return Ok(count),
                    CtBody::Done { errno } | CtBody::Error { errno, .. } if errno != 0 => {
                        return Err(io::Error::from_raw_os_error(errno));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Deletes exactly these entries (original tuple, zone and id), many to a datagram;
    /// waits for the kernel's answers up to `timeout` (`TimedOut` after it).
    pub fn delete<'e>(
        &mut self,
        entries: impl IntoIterator<Item = &'e Entry>,
        timeout: Duration,
    ) -> io::Result<DeleteReport> {
        let until = Instant::now() + timeout;
        let mut report = DeleteReport::default();
        let mut batch = Vec::with_capacity(DELETES_PER_DATAGRAM);
        for entry in entries {
            batch.push(*entry);
            if batch.len() == DELETES_PER_DATAGRAM {
                self.delete_batch(&batch, until, &mut report)?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            self.delete_batch(&batch, until, &mut report)?;
        }
        Ok(report)
    }

    /// One datagram of deletes; only the last asks for an ACK: the kernel handles them in
    /// order before `send` returns, so its answer comes after every failure's.
    fn delete_batch(
        &mut self,
        batch: &[Entry],
        until: Instant,
        report: &mut DeleteReport,
    ) -> io::Result<()> {
        let (_, first, last) = self.send_deletes(batch)?;
        let mut failed = 0;
        loop {
            let n = self.recv_until(until)?;
            let pid = self.pid;
            for msg in parse_ct_messages(&self.rx[..n]).flatten() {
                let CtBody::Error { errno, request_seq } = msg.body else {
                    continue;
                };
                if msg.pid != pid || !in_seq_range(request_seq, first, last) {
                    continue;
                }
                match errno {
                    0 => {}
                    libc::ENOENT => report.gone += 1,
                    other => {
                        log::debug!("conntrack: delete refused: errno {other}");
                        report.failed += 1;
                    }
                }
                failed += usize::from(errno != 0);
                if request_seq == last {
                    report.deleted += batch.len() - failed;
                    return Ok(());
                }
            }
        }
    }

    fn send(&mut self) -> io::Result<()> {
        loop {
            match send(self.fd.as_raw_fd(), &self.tx, MsgFlags::empty()) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One datagram into `rx`, waiting until `until`. A datagram cut short by the buffer
    /// is an error: entries were lost.
    fn recv_until(&mut self, until: Instant) -> io::Result<usize> {
        loop {
            if let Some(data) = self.try_recv()? {
                return Ok(data.len());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let mut poller = Poller::default();
            poller.add(self.fd.as_fd().as_raw_fd(), false);
            poller.wait(Some(left))?;
        }
    }
}

/// A non-blocking netlink socket of `protocol`, bound to a port of the kernel's choice;
/// returns it and that port id.
pub fn open_netlink(protocol: SockProtocol) -> io::Result<(OwnedFd, u32)> {
    open_netlink_groups(protocol, 0)
}

/// [`open_netlink`] subscribed to the multicast `groups` (a mask: group `n` is bit `n - 1`).
pub fn open_netlink_groups(protocol: SockProtocol, groups: u32) -> io::Result<(OwnedFd, u32)> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        protocol,
    )?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups))?;
    let local: NetlinkAddr = getsockname(fd.as_raw_fd())?;
    Ok((fd, local.pid()))
}

/// Whether `seq` lies in `first..=last`, across a wrap of the counter.
pub fn in_seq_range(seq: u32, first: u32, last: u32) -> bool {
    seq.wrapping_sub(first) <= last.wrapping_sub(first)
}

#[cfg(test)]
mod tests {
    use super::in_seq_range;

    #[test]
    fn sequence_ranges_wrap() {
        assert!(in_seq_range(5, 5, 5));
        assert!(in_seq_range(7, 5, 9));
        assert!(!in_seq_range(4, 5, 9));
        assert!(!in_seq_range(10, 5, 9));
        assert!(in_seq_range(1, u32::MAX - 1, 2));
        assert!(!in_seq_range(3, u32::MAX - 1, 2));
    }
}

//! A listener's table of non-blocking clients, as the control socket and the metrics
//! listener keep it: bounded slots in admission order, what to poll, the next deadline,
//! closing clients past theirs, resting after a failed `accept`, and choosing whom to close
//! when a newcomer finds the table full. What a client says and how it is answered stays
//! with each server.

use std::io;
use std::os::fd::RawFd;

use super::stream::{AcceptError, ACCEPT_BACKOFF, ACCEPT_BATCH};
use crate::engine::Instant;

/// One descriptor a server wants polled, and for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest {
    pub fd: RawFd,
    /// `POLLIN`.
    pub read: bool,
    /// `POLLOUT`.
    pub write: bool,
}

impl Interest {
    /// A listener: readable when a connection waits.
    pub fn listener(fd: RawFd) -> Interest {
        Interest {
            fd,
            read: true,
            write: false,
        }
    }

    /// A client: read while it owes a request, write while an answer is pending (polling
    /// it for reading then would wake the loop for bytes it will not read yet).
    pub fn client(fd: RawFd, writing: bool) -> Interest {
        Interest {
            fd,
            read: !writing,
            write: writing,
        }
    }
}

/// What became of a client after some I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Keep,
    Close,
}

/// What the table needs to know of a client.
pub trait Slot {
    fn fd(&self) -> RawFd;
    /// Whether an answer is pending (else the client owes a request).
    fn is_writing(&self) -> bool;
    /// When the client is closed unless it makes progress.
    fn deadline_at(&self) -> Instant;
}

/// At most `max` clients of one listener.
#[derive(Debug)]
pub struct Clients<C> {
    /// In admission order (closing one keeps the order), so the first of equals is the
    /// oldest.
    slots: Vec<C>,
    max: usize,
    /// While set, the listener is not polled: `accept` failed with `EMFILE` and the like,
    /// and polling a listener that stays readable would spin the loop.
    accept_paused_until: Option<Instant>,
}

impl<C: Slot> Clients<C> {
    pub fn new(max: usize) -> Clients<C> {
        Clients {
            slots: Vec::new(),
            max,
            accept_paused_until: None,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Appends the listener (unless accepting rests) and each client, read while it owes
    /// a request, write while an answer is pending.
    pub fn poll_fds(&self, listener: RawFd, out: &mut Vec<Interest>) {
        if self.accept_paused_until.is_none() {
            out.push(Interest::listener(listener));
        }
        for c in &self.slots {
            out.push(Interest::client(c.fd(), c.is_writing()));
        }
    }

    /// The earliest client deadline, or the end of an accept pause.
    pub fn poll_at(&self) -> Option<Instant> {
        let clients = self.slots.iter().map(Slot::deadline_at);
        clients.chain(self.accept_paused_until).min()
    }

    /// Ends an accept pause that is over and drops every client past its deadline, after
    /// `on_close` has seen it.
    pub fn expire(&mut self, now: Instant, mut on_close: impl FnMut(&C)) {
        if self.accept_paused_until.is_some_and(|t| t <= now) {
            self.accept_paused_until = None;
        }
        self.slots.retain(|c| {
            let keep = c.deadline_at() > now;
            if !keep {
                on_close(c);
            }
            keep
        });
    }

    /// Lets `serve` work on the client at `fd` and drops it if told to. Returns whether a
    /// client has `fd`.
    pub fn serve(&mut self, fd: RawFd, serve: impl FnOnce(&mut C) -> Next) -> bool {
        let Some(i) = self.slots.iter().position(|c| c.fd() == fd) else {
            return false;
        };
        if serve(&mut self.slots[i]) == Next::Close {
            self.slots.remove(i);
        }
        true
    }

    /// Accepts up to [`ACCEPT_BATCH`] waiting connections and hands each to `admit`; when
    /// `accept` fails for want of descriptors or memory, rests for [`ACCEPT_BACKOFF`]
    /// (logged with `name`).
    pub fn accept_batch<S>(
        &mut self,
        name: &str,
        now: Instant,
        mut accept: impl FnMut() -> io::Result<S>,
        mut admit: impl FnMut(&mut Self, S),
    ) {
        for _ in 0..ACCEPT_BATCH {
            let stream = match accept() {
                Ok(stream) => stream,
                Err(e) => match AcceptError::of(&e) {
                    AcceptError::Drained => return,
                    AcceptError::Retry => continue,
                    AcceptError::Exhausted => {
                        log::warn!("{name}: accept: {e}; pausing for {ACCEPT_BACKOFF:?}");
                        self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                        return;
                    }
                },
            };
            admit(self, stream);
        }
    }

    /// Frees a slot if the table is full: first `serve` makes what progress each client's
    /// socket allows (one that closes frees its slot); if none did, the client to go is
    /// taken out and returned: the one that has owed a request longest, else the one that
    /// has waited longest on its reader (the first of equals, the oldest).
    pub fn make_room(&mut self, mut serve: impl FnMut(&mut C) -> Next) -> Option<C> {
        if self.slots.len() < self.max {
            return None;
        }
        self.slots.retain_mut(|c| serve(c) == Next::Keep);
        if self.slots.len() < self.max {
            return None;
        }
        // Idle before mid-answer, then nearest its deadline, which within each kind is
        // the one waiting longest; `min_by_key` takes the first of equals, the oldest.
        let victim = self
            .slots
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| (c.is_writing(), c.deadline_at()))
            .map(|(i, _)| i)?;
        Some(self.slots.remove(victim))
    }

    /// Adds an admitted client (after [`Clients::make_room`]).
    pub fn push(&mut self, client: C) {
        self.slots.push(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Fake {
        fd: RawFd,
        writing: bool,
        deadline_ms: u64,
    }

    impl Slot for Fake {
        fn fd(&self) -> RawFd {
            self.fd
        }
        fn is_writing(&self) -> bool {
            self.writing
        }
        fn deadline_at(&self) -> Instant {
            Instant::from_millis(self.deadline_ms)
        }
    }

    fn fake(fd: RawFd, writing: bool, deadline_ms: u64) -> Fake {
        Fake {
            fd,
            writing,
            deadline_ms,
        }
    }

    fn table(max: usize, clients: &[Fake]) -> Clients<Fake> {
        let mut t = Clients::new(max);
        clients.iter().for_each(|c| t.push(*c));
        t
    }

    fn fds(t: &Clients<Fake>) -> Vec<RawFd> {
        t.slots.iter().map(|c| c.fd).collect()
    }

    #[test]
    fn polls_the_listener_and_each_client_for_what_it_waits_on() {
        let t = table(4, &[fake(5, false, 10), fake(6, true, 20)]);
        let mut out = Vec::new();
        t.poll_fds(3, &mut out);
        let expected = [
            Interest::listener(3),
            Interest::client(5, false),
            Interest::client(6, true),
        ];
        assert_eq!(out, expected);
        assert_eq!(t.poll_at(), Some(Instant::from_millis(10)));
        assert_eq!(table(4, &[]).poll_at(), None);
    }

    #[test]
    fn expire_closes_only_clients_past_their_deadline() {
        let mut t = table(
            4,
            &[fake(5, false, 10), fake(6, true, 20), fake(7, false, 30)],
        );
        let mut closed = Vec::new();
        t.expire(Instant::from_millis(20), |c| closed.push(c.fd));
        assert_eq!(closed, [5, 6]);
        assert_eq!(fds(&t), [7]);
    }

    #[test]
    fn a_failed_accept_rests_the_listener_until_the_backoff_is_over() {
        let mut t = table(4, &[]);
        let t0 = Instant::from_millis(1_000);
        let mut calls = 0;
        let emfile = || -> io::Result<Fake> {
            calls += 1;
            Err(io::Error::from_raw_os_error(libc::EMFILE))
        };
        t.accept_batch("test", t0, emfile, |_, _| unreachable!());
        assert_eq!(calls, 1);
        let mut out = Vec::new();
        t.poll_fds(3, &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(t.poll_at(), Some(t0 + ACCEPT_BACKOFF));
        t.expire(t0 + ACCEPT_BACKOFF, |_| {});
        t.poll_fds(3, &mut out);
        assert_eq!(out, [Interest::listener(3)]);
    }

    #[test]
    fn accept_batch_admits_at_most_a_batch_and_stops_when_drained() {
        let mut t = table(64, &[]);
        let mut next = 10;
        let accept = || {
            next += 1;
            Ok(fake(next, false, 0))
        };
        t.accept_batch("test", Instant::from_millis(0), accept, |t, c| t.push(c));
        assert_eq!(t.len(), ACCEPT_BATCH);
        let mut t = table(64, &[]);
        let mut queue = vec![
            Err(io::Error::from_raw_os_error(libc::EAGAIN)),
            Ok(fake(9, false, 0)),
            Err(io::Error::from_raw_os_error(libc::ECONNABORTED)),
        ];
        let accept = || queue.pop().unwrap();
        t.accept_batch("test", Instant::from_millis(0), accept, |t, c| t.push(c));
        assert_eq!(fds(&t), [9]);
    }

    #[test]
    fn serve_drops_a_client_that_closes_and_ignores_unknown_descriptors() {
        let mut t = table(4, &[fake(5, false, 10), fake(6, false, 10)]);
        assert!(!t.serve(9, |_| Next::Close));
        assert!(t.serve(5, |_| Next::Keep));
        assert!(t.serve(6, |_| Next::Close));
        assert_eq!(fds(&t), [5]);
    }

    #[test]
    fn room_is_made_by_serving_first_then_by_the_oldest_idle_client() {
        let mut t = table(3, &[fake(5, true, 30), fake(6, false, 40)]);
        assert_eq!(
            t.make_room(|_| unreachable!()),
            None,
            "not full: no one served"
        );
        t.push(fake(7, false, 40));
        // serving frees a slot: nobody goes
        assert_eq!(
            t.make_room(|c| if c.fd == 5 { Next::Close } else { Next::Keep }),
            None
        );
        assert_eq!(fds(&t), [6, 7]);
        // the idle client that owed longest goes; of equals, the first admitted
        t.push(fake(8, true, 10));
        assert_eq!(t.make_room(|_| Next::Keep).map(|c| c.fd), Some(6));
        assert_eq!(fds(&t), [7, 8]);
    }

    #[test]
    fn with_every_slot_mid_answer_the_longest_waiting_reader_goes() {
        let mut t = table(
            3,
            &[fake(5, true, 30), fake(6, true, 20), fake(7, true, 20)],
        );
        assert_eq!(t.make_room(|_| Next::Keep).map(|c| c.fd), Some(6));
        assert_eq!(fds(&t), [5, 7]);
    }
}

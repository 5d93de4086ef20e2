//! The metrics listener's sockets: a non-blocking TCP listener and its clients, driven by
//! the daemon's single `poll(2)` loop like the control socket (`control/server.rs`).
//!
//! # Rules a client lives by
//!
//! - One request per connection, answered with `Connection: close`: a scrape every few
//!   seconds does not need keep-alive, and a connection that is over costs nothing.
//! - The whole request head must arrive within [`READ_TIMEOUT`] of the connect, and the
//!   answer must be taken within [`WRITE_TIMEOUT`]; otherwise the connection is closed. A
//!   client that trickles bytes (a "slowloris") holds a slot for two seconds at most.
//! - Bytes that are not a request get a 4xx/5xx answer and the close ([`super::http`]).
//! - At most [`MAX_CLIENTS`] connections are held. A new one is never turned away: at a
//!   full table, every client whose bytes have arrived is served first (a small answer is
//!   written at once and frees its slot); if none is freed, the client that has owed its
//!   request longest is closed, and only when every slot holds an answer its reader does
//!   not take, the one that has waited longest on its reader. The newcomer is the
//!   youngest, so a scraper that writes its request at once is not the one to go.
//!
//! Every socket operation is non-blocking and every read bounded, so no client can hold
//! the loop; a descriptor reused by the kernel after a close costs one `EAGAIN`.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use super::http::{self, Reader, Request};
use crate::engine::Instant;
use crate::sys::clients::{Clients, Interest, Next, Slot};
use crate::sys::stream;

/// Most clients connected at once; a further one makes room (module doc).
pub const MAX_CLIENTS: usize = 8;
/// Time for a client to send its whole request head after connecting.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Time for a client to take its whole answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the listener could not be set up.
#[derive(Debug)]
pub struct Error {
    pub op: &'static str,
    pub addr: SocketAddr,
    pub source: io::Error,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "metrics listener {}: {}: {}",
            self.addr, self.op, self.source
        )
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes the whole answer to a request into the buffer.
pub type Answer<'a> = dyn FnMut(Request, &mut Vec<u8>) + 'a;

/// The listener and its clients.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    clients: Clients<Client>,
}

#[derive(Debug)]
struct Client {
    stream: TcpStream,
    reader: Reader,
    /// The answer (empty while the request is being read).
    out: Vec<u8>,
    written: usize,
    /// When the client is closed unless it has sent its request or taken its answer.
    deadline_at: Instant,
}

impl Server {
    /// Listens on `addr` (non-blocking; `SO_REUSEADDR`, so a restart does not wait for old
    /// connections in `TIME_WAIT`).
    pub fn bind(addr: SocketAddr) -> Result<Server, Error> {
        let err = |op| move |source| Error { op, addr, source };
        let listener = TcpListener::bind(addr).map_err(err("bind"))?;
        listener
            .set_nonblocking(true)
            .map_err(err("set O_NONBLOCK"))?;
        // the port the kernel chose when `addr` asked for none (tests)
        let addr = listener.local_addr().map_err(err("getsockname"))?;
        Ok(Server {
            listener,
            addr,
            clients: Clients::new(MAX_CLIENTS),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Appends every descriptor to poll: the listener, and each client for reading while
    /// it owes its request or for writing while its answer is pending.
    pub fn poll_fds(&self, out: &mut Vec<Interest>) {
        self.clients.poll_fds(self.listener.as_raw_fd(), out);
    }

    /// The earliest client deadline, or the end of an accept pause.
    pub fn poll_at(&self) -> Option<Instant> {
        self.clients.poll_at()
    }

    /// Closes every client past its deadline, and ends an accept pause that is over.
    pub fn expire(&mut self, now: Instant) {
        self.clients.expire(now, |_| {
            log::debug!("metrics: closing a client past its deadline");
        });
    }

    /// Handles readiness of `fd` (`readable`: `POLLIN|POLLHUP|POLLERR`; `writable`:
    /// `POLLOUT|POLLERR`). Returns whether `fd` is one of the server's. A complete request
    /// goes to `answer`, which writes the whole answer.
    pub fn handle_ready(
        &mut self,
        fd: RawFd,
        readable: bool,
        writable: bool,
        now: Instant,
        answer: &mut Answer<'_>,
    ) -> bool {
        if fd == self.listener.as_raw_fd() {
            if readable {
                self.accept_batch(now, answer);
            }
            return true;
        }
        self.clients.serve(fd, |client| {
            if readable || writable {
                client.serve(now, answer)
            } else {
                Next::Keep
            }
        })
    }

    fn accept_batch(&mut self, now: Instant, answer: &mut Answer<'_>) {
        let accept = || self.listener.accept().map(|(stream, _)| stream);
        self.clients
            .accept_batch("metrics", now, accept, |clients, stream| {
                if let Err(e) = stream.set_nonblocking(true) {
                    log::warn!("metrics: set O_NONBLOCK on a client: {e}");
                    return;
                }
                // A full table: serve the clients whose bytes have arrived, then close the
                // one that owed its request longest, else the one waiting longest on its
                // reader (module doc).
                if let Some(victim) = clients.make_room(|c| c.serve(now, answer)) {
                    let kind = if victim.is_writing() {
                        "slow-reading"
                    } else {
                        "idle"
                    };
                    log::debug!("metrics: {MAX_CLIENTS} clients connected; closing an {kind} one");
                }
                clients.push(Client {
                    stream,
                    reader: Reader::new(),
                    out: Vec::new(),
                    written: 0,
                    deadline_at: now + READ_TIMEOUT,
                });
            });
    }
}

impl Slot for Client {
    fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    fn is_writing(&self) -> bool {
        !self.out.is_empty()
    }

    fn deadline_at(&self) -> Instant {
        self.deadline_at
    }
}

impl Client {
    /// Whatever progress the socket allows without waiting: reads the request head (and
    /// queues the answer once it is complete), writes the answer.
    fn serve(&mut self, now: Instant, answer: &mut Answer<'_>) -> Next {
        if !self.is_writing() {
            if let Next::Close = self.read(now, answer) {
                return Next::Close;
            }
            if !self.is_writing() {
                return Next::Keep;
            }
        }
        self.flush()
    }

    /// Reads until the head is decided or the socket runs dry; never more than the head
    /// may take.
    fn read(&mut self, now: Instant, answer: &mut Answer<'_>) -> Next {
        let mut buf = [0u8; 1024];
        loop {
            let want = self.reader.room().min(buf.len());
            let n = match self.stream.read(&mut buf[..want.max(1)]) {
                Ok(0) => return Next::Close,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Next::Close,
            };
            match self.reader.push(&buf[..n]) {
                None => continue,
                Some(Ok(request)) => answer(request, &mut self.out),
                Some(Err(e)) => {
                    log::debug!("metrics: bad request: {e}");
                    http::write_error(e.status(), false, &mut self.out);
                }
            }
            self.deadline_at = now + WRITE_TIMEOUT;
            return Next::Keep;
        }
    }

    /// Writes as much of the answer as the socket takes; once it is all out, the client
    /// is done.
    fn flush(&mut self) -> Next {
        let fd = self.stream.as_raw_fd();
        match stream::send_pending(fd, &self.out, &mut self.written) {
            Ok(true) => {}
            Ok(false) => return Next::Keep,
            Err(_) => return Next::Close,
        }
        // a clean end: our FIN after the answer, and what the client sent beyond its head
        // dropped, so that the close is not a reset that could make it lose the answer
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        stream::discard_input(fd);
        Next::Close
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::Shutdown;

    use crate::metrics::http::Resource;

    /// Answers `/` with "page", anything else with 404.
    fn answer(request: Request, out: &mut Vec<u8>) {
        match request.resource {
            Resource::Page => {
                http::write_response(http::Status::Ok, "text/plain", "", b"page", false, out)
            }
            _ => http::write_error(http::Status::NotFound, false, out),
        }
    }

    fn server() -> Server {
        Server::bind("127.0.0.1:0".parse().unwrap()).expect("bind")
    }

    /// One turn of the loop at `now`: every descriptor the server asks for is handed to
    /// it as ready for what it asked (a non-blocking socket that is not ready costs one
    /// EAGAIN).
    fn turn(s: &mut Server, now: Instant) {
        s.expire(now);
        let mut interests = Vec::new();
        s.poll_fds(&mut interests);
        for i in interests {
            s.handle_ready(i.fd, i.read, i.write, now, &mut answer);
        }
    }

    fn connect(s: &Server) -> TcpStream {
        let c = TcpStream::connect(s.local_addr()).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c
    }

    fn response(mut c: TcpStream) -> String {
        let mut text = String::new();
        let _ = c.read_to_string(&mut text);
        text
    }

    /// Turns of the loop until `done` (bounded: the kernel moves loopback bytes at once).
    fn turns_until(s: &mut Server, now: Instant, mut done: impl FnMut(&Server) -> bool) {
        for _ in 0..1000 {
            turn(s, now);
            if done(s) {
                return;
            }
            std::thread::yield_now();
        }
        panic!("server never got there");
    }

    #[test]
    fn a_request_is_answered_and_the_connection_closed() {
        let mut s = server();
        let t0 = Instant::from_millis(0);
        let mut c = connect(&s);
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        turns_until(&mut s, t0, |s| s.client_count() == 1);
        turns_until(&mut s, t0, |s| s.client_count() == 0);
        let text = response(c);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\npage"), "{text}");
    }

    #[test]
    fn garbage_gets_an_error_answer() {
        let mut s = server();
        let t0 = Instant::from_millis(0);
        let mut c = connect(&s);
        c.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n")
            .unwrap();
        turns_until(&mut s, t0, |s| s.client_count() == 1);
        turns_until(&mut s, t0, |s| s.client_count() == 0);
        assert!(response(c).starts_with("HTTP/1.1 400 Bad Request\r\n"));
    }

    #[test]
    fn a_silent_or_trickling_client_is_closed_at_its_deadline() {
        let mut s = server();
        let t0 = Instant::from_millis(0);
        let silent = connect(&s);
        let mut trickle = connect(&s);
        turns_until(&mut s, t0, |s| s.client_count() == 2);
        trickle.write_all(b"GET / HT").unwrap();
        let almost = t0 + (READ_TIMEOUT - Duration::from_millis(1));
        turn(&mut s, almost);
        assert_eq!(s.client_count(), 2);
        assert_eq!(s.poll_at(), Some(t0 + READ_TIMEOUT));
        turn(&mut s, t0 + READ_TIMEOUT);
        assert_eq!(s.client_count(), 0);
        assert_eq!(response(silent), "");
        drop(trickle);
    }

    #[test]
    fn a_full_table_closes_the_oldest_idle_client_and_serves_the_newcomer() {
        let mut s = server();
        let t0 = Instant::from_millis(0);
        let idle: Vec<TcpStream> = (0..MAX_CLIENTS).map(|_| connect(&s)).collect();
        turns_until(&mut s, t0, |s| s.client_count() == MAX_CLIENTS);
        let mut scraper = connect(&s);
        scraper.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        turns_until(&mut s, t0, |s| s.client_count() == MAX_CLIENTS);
        let mut served = false;
        for _ in 0..1000 {
            turn(&mut s, t0);
            if s.client_count() < MAX_CLIENTS {
                served = true;
                break;
            }
        }
        assert!(served, "the newcomer was not served");
        assert!(response(scraper).ends_with("page"));
        // the first idle client went; the others are still connected
        let mut first = idle.into_iter().next().unwrap();
        first
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let closed = first.read(&mut [0u8; 8]).map_or(true, |n| n == 0);
        assert!(closed, "the oldest idle client is still connected");
    }

    #[test]
    fn a_client_that_hangs_up_early_is_forgotten() {
        let mut s = server();
        let t0 = Instant::from_millis(0);
        let c = connect(&s);
        turns_until(&mut s, t0, |s| s.client_count() == 1);
        c.shutdown(Shutdown::Both).unwrap();
        drop(c);
        turns_until(&mut s, t0, |s| s.client_count() == 0);
    }
}

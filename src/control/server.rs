//! The daemon's side of the control socket: a non-blocking UNIX stream listener and its
//! clients, driven by the daemon's single `poll(2)` loop.
//!
//! # Driving it
//!
//! ```text
//! loop {
//!     server.poll_fds(&mut interests);            // listener + clients, read or write
//!     timeout = min(..., server.poll_at());
//!     poll(...);
//!     for each ready fd: server.handle_ready(fd, POLLIN|POLLHUP|POLLERR, POLLOUT|POLLERR, now, &mut handler);
//!     server.expire(now);
//! }
//! ```
//!
//! A client may be closed while the loop still holds a readiness report for its descriptor
//! (it was served or evicted while the listener made room, see below), and the next
//! `accept` may reuse the number. That is harmless: every client operation is
//! non-blocking, so a stale report costs one `EAGAIN`, and an unknown descriptor makes
//! [`Server::handle_ready`] return `false`.
//!
//! # Rules a client lives by
//!
//! - A connection carries requests one after another; each must arrive complete within
//!   [`REQUEST_TIMEOUT`] of the connect or of the previous answer, else the connection is
//!   closed (a client that connects and never speaks costs nothing for long).
//! - An answer must be taken within [`WRITE_TIMEOUT`]; a slow reader's pending answer stays
//!   buffered (one frame at most, so at most 64 KiB) and the loop carries on with others.
//! - Garbage, a wrong version, an oversized length or an undecodable body: the client gets
//!   an `Error` frame in this daemon's protocol version and the connection is closed.
//! - Mutating requests from a peer that is neither root nor in the socket group are
//!   answered `Denied` by the server itself; the handler never sees them.
//! - At most [`MAX_CLIENTS`] connections are held at once. A new connection is never turned
//!   away: when the table is full, an older client makes room (next section).
//!
//! # A full table
//!
//! A leaking web UI or a stuck script can hold every slot without ever sending a request,
//! and the operator's `wanfailover status` must still be answered. So a connection that
//! arrives at a full table gets a slot this way:
//!
//! 1. Every client whose bytes have already arrived is served first: a request is
//!    answered, garbage gets its `Error` and is closed. The listener comes first in the
//!    poll set, so its readiness is handled before the clients' in each turn, and a
//!    request waiting in the kernel is no sign of an idle client. If that frees a slot,
//!    nobody is evicted.
//! 2. Otherwise the client that has owed a request longest (since its connect or its
//!    previous answer) is evicted: told `Error("evicted: ...")` and closed. A newcomer is
//!    the youngest, so it is the last idle client to go; `wanfailover` writes its request
//!    right after connecting, and a request that has arrived is served before anyone is
//!    evicted.
//! 3. Only when every slot holds a client mid-answer (an answer larger than the socket
//!    buffer, which its reader is not taking) is one of those closed: the one that has
//!    waited longest on its reader, without a notice, which would land inside its answer.
//!    Such a client has stopped reading, and the newcomer may be the operator; keeping a
//!    slot in reserve instead would only move the same choice to the reserved slot.
//!
//! Evictions are logged as one summary line per burst (`control: 35 idle clients evicted
//! ...`), written once no client has been evicted for [`EVICTION_REPORT_DELAY`]; a burst
//! that never pauses, and bursts that follow each other, are summarized at most once per
//! [`EVICTION_REPORT_INTERVAL`].

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

pub use crate::sys::clients::Interest;

use super::eviction::EvictionLog;
use super::peer::{read_peer, Peer};
use super::protocol::{self, FrameDecoder, FrameError, Request, Response};
use crate::engine::Instant;
use crate::sys::clients::{Clients, Next, Slot};
use crate::sys::stream;

/// Most clients connected at once; a further one evicts an older one.
pub const MAX_CLIENTS: usize = 16;
/// Time for a client to send a complete request after connecting or after an answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Time for a client to take a complete answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Evictions are summarized once none has happened for this long.
pub const EVICTION_REPORT_DELAY: Duration = Duration::from_secs(1);
/// At most one eviction summary per this interval, however long the crowd stays.
pub const EVICTION_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// Why the control socket could not be set up.
#[derive(Debug)]
pub enum Error {
    /// A daemon answers on the socket already.
    AlreadyRunning { path: PathBuf },
    /// Something that is not a socket sits at the path; it is left alone.
    NotASocket { path: PathBuf },
    /// `socket_group` names no group in `/etc/group`.
    UnknownGroup { name: String },
    /// A system call failed.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::AlreadyRunning { path } => {
                write!(f, "another daemon is running on {}", path.display())
            }
            Error::NotASocket { path } => {
                write!(
                    f,
                    "{} exists and is not a socket; not replacing it",
                    path.display()
                )
            }
            Error::UnknownGroup { name } => write!(f, "socket group {name:?} does not exist"),
            Error::Io { op, path, source } => {
                write!(f, "control socket {}: {op}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The listening control socket and its clients.
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of our socket file, so drop never unlinks a successor's.
    file_id: (u64, u64),
    group: Option<u32>,
    daemon_uid: u32,
    clients: Clients<Client>,
    evictions: EvictionLog,
}

#[derive(Debug)]
struct Client {
    stream: UnixStream,
    peer: Peer,
    decoder: FrameDecoder,
    /// A pending answer (empty while reading a request).
    out: Vec<u8>,
    written: usize,
    /// When the client is closed unless it completes the current request or read.
    deadline_at: Instant,
    close_after_write: bool,
}

impl Server {
    /// Binds the control socket at `path`, replacing a stale socket left by a crashed
    /// daemon, mode `0660`, group `group` (a name or a numeric gid; `None`: the daemon's
    /// group, so only root may connect).
    pub fn bind(path: &Path, group: Option<&str>) -> Result<Server, Error> {
        let gid = group.map(resolve_group).transpose()?;
        remove_stale(path)?;
        let io_err = |op| {
            move |source| Error::Io {
                op,
                path: path.to_path_buf(),
                source,
            }
        };
        let listener = UnixListener::bind(path).map_err(io_err("bind"))?;
        let meta = std::fs::symlink_metadata(path).map_err(|e| {
            let _ = std::fs::remove_file(path);
            io_err("stat")(e)
        })?;
        // From here on, dropping `server` on a failure removes the file.
        let server = Server {
            listener,
            path: path.to_path_buf(),
            file_id: (meta.dev(), meta.ino()),
            group: gid,
            daemon_uid: nix::unistd::geteuid().as_raw(),
            clients: Clients::new(MAX_CLIENTS),
            evictions: EvictionLog::default(),
        };
        server
            .listener
            .set_nonblocking(true)
            .map_err(io_err("set O_NONBLOCK"))?;
        if let Some(gid) = gid {
            nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)))
                .map_err(|e| io_err("chown")(io::Error::from(e)))?;
        }
        let mode = std::fs::Permissions::from_mode(0o660);
        std::fs::set_permissions(path, mode).map_err(io_err("chmod 0660"))?;
        Ok(server)
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many clients are connected.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Appends every descriptor to poll: the listener (read) and each client (read while
    /// it owes a request, write while an answer is pending).
    pub fn poll_fds(&self, out: &mut Vec<Interest>) {
        self.clients.poll_fds(self.listener.as_raw_fd(), out);
    }

    /// The earliest client deadline (or the end of an accept pause, or when an eviction
    /// summary is due); call [`Server::expire`] then.
    pub fn poll_at(&self) -> Option<Instant> {
        let due = [self.clients.poll_at(), self.evictions.due_at()];
        due.into_iter().flatten().min()
    }

    /// Closes every client whose deadline has passed (and ends an accept pause, and logs
    /// a due eviction summary).
    pub fn expire(&mut self, now: Instant) {
        self.clients.expire(now, |c| {
            log::debug!("control: closing client pid {} (timed out)", c.peer.pid);
        });
        if let Some(burst) = self.evictions.take_due(now) {
            log::warn!("control: {burst}");
        }
    }

    /// Handles readiness of `fd`. Pass `readable` for `POLLIN|POLLHUP|POLLERR` and
    /// `writable` for `POLLOUT|POLLERR`. Returns whether `fd` is one of the server's.
    /// Complete requests go to `on_request` (except `Version`, answered here, and
    /// mutating requests from peers that may not steer, denied here). When `fd` is the
    /// listener and the table is full, the requests that have arrived on other clients
    /// are served too, before anyone is evicted.
    pub fn handle_ready(
        &mut self,
        fd: RawFd,
        readable: bool,
        writable: bool,
        now: Instant,
        on_request: &mut dyn FnMut(Request, &Peer) -> Response,
    ) -> bool {
        if fd == self.listener.as_raw_fd() {
            if readable {
                self.accept_batch(now, on_request);
            }
            return true;
        }
        self.clients.serve(fd, |client| {
            let ready = if client.is_writing() {
                readable || writable
            } else {
                readable
            };
            if ready {
                client.serve(now, on_request)
            } else {
                Next::Keep
            }
        })
    }

    fn accept_batch(
        &mut self,
        now: Instant,
        on_request: &mut dyn FnMut(Request, &Peer) -> Response,
    ) {
        let Server {
            listener,
            group,
            daemon_uid,
            clients,
            evictions,
            ..
        } = self;
        let accept = || listener.accept().map(|(stream, _)| stream);
        clients.accept_batch("control", now, accept, |clients, stream| {
            if let Err(e) = stream.set_nonblocking(true) {
                log::warn!("control: set O_NONBLOCK on a client: {e}");
                return;
            }
            let Some(peer) = read_peer(&stream, *group, *daemon_uid) else {
                log::warn!("control: SO_PEERCRED failed, closing the connection");
                return;
            };
            // A full table: serve the clients whose bytes have arrived, then evict one if
            // still needed (module doc, "A full table").
            if let Some(victim) = clients.make_room(|c| c.serve(now, on_request)) {
                evictions.record(now, victim.is_writing());
                victim.evict();
            }
            log::debug!(
                "control: client pid {} uid {} connected",
                peer.pid,
                peer.uid
            );
            clients.push(Client {
                stream,
                peer,
                decoder: FrameDecoder::new(protocol::MAX_REQUEST_LEN),
                out: Vec::new(),
                written: 0,
                deadline_at: now + REQUEST_TIMEOUT,
                close_after_write: false,
            });
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .map(|m| (m.dev(), m.ino()) == self.file_id)
            .unwrap_or(false);
        if ours {
            if let Err(e) = std::fs::remove_file(&self.path) {
                log::warn!("control: removing {}: {e}", self.path.display());
            }
        }
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
    /// Makes whatever progress the socket allows without waiting: writes the pending
    /// answer, and once it is taken reads (and answers) the next request.
    fn serve(
        &mut self,
        now: Instant,
        on_request: &mut dyn FnMut(Request, &Peer) -> Response,
    ) -> Next {
        if self.is_writing() {
            if let Next::Close = self.flush(now) {
                return Next::Close;
            }
            if self.is_writing() {
                return Next::Keep;
            }
        }
        self.read(now, on_request)
    }

    /// Closes the connection to make room for a newcomer. A client that owes a request is
    /// told why; one mid-answer is not, as the notice would land inside its answer.
    fn evict(self) {
        let idle = !self.is_writing();
        let kind = if idle { "idle" } else { "slow reader" };
        log::debug!("control: evicting client pid {} ({kind})", self.peer.pid);
        if idle {
            let text = format!(
                "evicted: all {MAX_CLIENTS} control connections were taken and this one was idle"
            );
            send_best_effort(&self.stream, &Response::Error(text));
        }
        // A clean end of stream, not ECONNRESET, so the notice is not lost.
        self.discard_input();
    }

    /// Reads until a request is complete (then answers it) or the socket runs dry. Never
    /// reads past the end of a frame, so pipelined requests wait in the kernel.
    fn read(
        &mut self,
        now: Instant,
        on_request: &mut dyn FnMut(Request, &Peer) -> Response,
    ) -> Next {
        let mut buf = [0u8; 1024];
        loop {
            let want = self.decoder.wanted().min(buf.len());
            let n = match self.stream.read(&mut buf[..want]) {
                Ok(0) => return Next::Close,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Next::Close,
            };
            let mut input = &buf[..n];
            let request = match self.decoder.decode(&mut input) {
                Ok(None) => continue,
                Ok(Some(body)) => protocol::decode_request(body),
                Err(e) => Err(e),
            };
            let response = match request {
                Ok(request) => dispatch(request, &self.peer, on_request),
                Err(e) => self.reject(e),
            };
            self.queue(&response, now);
            return self.flush(now);
        }
    }

    /// The answer to bytes that are not a valid request; the connection closes after it.
    fn reject(&mut self, err: FrameError) -> Response {
        log::debug!("control: client pid {}: {err}", self.peer.pid);
        self.close_after_write = true;
        match err {
            FrameError::Version { got, supported } => Response::Error(format!(
                "unsupported protocol version {got} (the daemon speaks version {supported})"
            )),
            e => Response::Error(format!("bad request: {e}")),
        }
    }

    fn queue(&mut self, response: &Response, now: Instant) {
        self.out.clear();
        self.written = 0;
        if let Err(e) = protocol::encode_response(response, &mut self.out) {
            log::warn!(
                "control: cannot encode the answer to pid {}: {e}",
                self.peer.pid
            );
            let fallback = Response::Error(format!("answer not sent: {e}"));
            let _ = protocol::encode_response(&fallback, &mut self.out);
        }
        self.deadline_at = now + WRITE_TIMEOUT;
    }

    /// Drops what the client sent beyond a rejected request (bounded), so that our close
    /// is a clean end of stream for it and not `ECONNRESET`, which could make it miss
    /// the error we just sent.
    fn discard_input(&self) {
        stream::discard_input(self.stream.as_raw_fd());
    }

    /// Writes as much of the pending answer as the socket takes.
    fn flush(&mut self, now: Instant) -> Next {
        match stream::send_pending(self.stream.as_raw_fd(), &self.out, &mut self.written) {
            Ok(true) => {}
            Ok(false) => return Next::Keep,
            Err(_) => return Next::Close,
        }
        if self.close_after_write {
            self.discard_input();
            return Next::Close;
        }
        self.out.clear();
        self.written = 0;
        self.deadline_at = now + REQUEST_TIMEOUT;
        Next::Keep
    }
}

/// Answers `Version` and unauthorized mutating requests here; the rest go to the handler.
fn dispatch(
    request: Request,
    peer: &Peer,
    on_request: &mut dyn FnMut(Request, &Peer) -> Response,
) -> Response {
    if let Request::Version = request {
        return Response::Version(env!("CARGO_PKG_VERSION").to_string());
    }
    if request.is_mutating() {
        if !peer.may_steer {
            log::warn!(
                "control: denied {} from uid {} pid {} (not root, not in the socket group)",
                request.name(),
                peer.uid,
                peer.pid
            );
            return Response::Denied(format!(
                "permission denied: {} needs root or the socket group",
                request.name()
            ));
        }
        log::info!(
            "control: {} from uid {} pid {}",
            request.name(),
            peer.uid,
            peer.pid
        );
    }
    on_request(request, peer)
}

/// One non-blocking attempt to send a short answer to a connection we are about to close.
fn send_best_effort(stream: &UnixStream, response: &Response) {
    let mut frame = Vec::new();
    if protocol::encode_response(response, &mut frame).is_ok() {
        let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
        let _ = socket::send(stream.as_raw_fd(), &frame, flags);
    }
}

/// A group name or a numeric gid → gid.
fn resolve_group(name: &str) -> Result<u32, Error> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    match super::group::gid_by_name(name) {
        Ok(Some(gid)) => Ok(gid),
        Ok(None) => Err(Error::UnknownGroup {
            name: name.to_string(),
        }),
        Err(source) => Err(Error::Io {
            op: "look up the socket group",
            path: PathBuf::from(super::group::GROUP_FILE),
            source,
        }),
    }
}

/// Clears the way for `bind`: nothing there is fine; a socket nobody answers on (left by a
/// crashed daemon) is removed; a live daemon or a non-socket file is an error.
fn remove_stale(path: &Path) -> Result<(), Error> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                op: "stat",
                path: path.into(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(Error::NotASocket { path: path.into() });
    }
    match probe_connect(path) {
        // EAGAIN: a live daemon whose backlog is full.
        Ok(()) | Err(Errno::EAGAIN) => Err(Error::AlreadyRunning { path: path.into() }),
        Err(Errno::ECONNREFUSED) => {
            log::info!("control: removing stale socket {}", path.display());
            std::fs::remove_file(path).map_err(|source| Error::Io {
                op: "remove stale socket",
                path: path.into(),
                source,
            })
        }
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::Io {
            op: "connect to check for a live daemon",
            path: path.into(),
            source: e.into(),
        }),
    }
}

/// A non-blocking connect, so a wedged daemon cannot hang our start-up.
fn probe_connect(path: &Path) -> Result<(), Errno> {
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fd = socket::socket(AddressFamily::Unix, SockType::Stream, flags, None)?;
    let addr = UnixAddr::new(path)?;
    socket::connect(fd.as_raw_fd(), &addr)
}

//! The control server driven by a small poll loop, against the real client and against
//! hostile raw connections. Needs no root, except the test that drops to `nobody`.

mod support;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags};

use wanfailover::control::client::{self, ClientError};
use wanfailover::control::protocol::{self, FrameDecoder, MAGIC, VERSION};
use wanfailover::control::server::{self, Server};
use wanfailover::control::{Peer, Request, Response};
use wanfailover::engine::Instant;
use wanfailover::sys::poll::Poller;

use support::status_row::status_row;

const TIMEOUT: Duration = Duration::from_secs(2);

fn temp_socket(tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("wf-ctl-{tag}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// A server, a clock and a record of what reached the handler.
struct Rig {
    server: Server,
    path: PathBuf,
    start: std::time::Instant,
    /// Set by [`Rig::freeze`]: the time of every turn from then on.
    frozen_at: Option<Instant>,
    handled: Vec<Request>,
}

impl Rig {
    fn new(tag: &str) -> Rig {
        let path = temp_socket(tag);
        let server = Server::bind(&path, None).unwrap();
        Rig {
            server,
            path,
            start: std::time::Instant::now(),
            frozen_at: None,
            handled: Vec::new(),
        }
    }

    fn now(&self) -> Instant {
        let real = || Instant::from_micros(self.start.elapsed().as_micros() as u64);
        self.frozen_at.unwrap_or_else(real)
    }

    /// Stops the rig's clock: every later turn happens at the returned instant, so no
    /// deadline passes however slow the machine, until the test calls `expire` itself.
    fn freeze(&mut self) -> Instant {
        let now = self.now();
        self.frozen_at = Some(now);
        now
    }

    /// One round of the daemon's loop, polled as the daemon polls: poll (at most 10 ms),
    /// handle, expire.
    fn turn(&mut self) {
        let mut interests = Vec::new();
        self.server.poll_fds(&mut interests);
        let mut poller = Poller::default();
        for i in &interests {
            poller.add(i.fd, i.write);
        }
        poller.wait(Some(Duration::from_millis(10))).unwrap();
        let now = self.now();
        let handled = &mut self.handled;
        let mut handler = |req: Request, _peer: &Peer| {
            handled.push(req.clone());
            answer(req)
        };
        for slot in 0..poller.len() {
            let ready = poller.ready(slot);
            if !ready.any() {
                continue;
            }
            // Not asserted to be the server's: a client closed earlier in this turn, while
            // the listener made room, leaves its descriptor's report behind.
            self.server.handle_ready(
                poller.fd(slot),
                ready.readable || ready.error,
                ready.writable || ready.error,
                now,
                &mut handler,
            );
        }
        self.server.expire(now);
    }

    /// Runs the loop until the thread is done (bounded).
    fn run<T>(&mut self, thread: JoinHandle<T>) -> T {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !thread.is_finished() {
            assert!(std::time::Instant::now() < until, "client thread hangs");
            self.turn();
        }
        thread.join().unwrap()
    }

    fn request(&mut self, req: Request) -> Result<Response, ClientError> {
        let path = self.path.clone();
        self.run(std::thread::spawn(move || {
            client::request(&path, &req, TIMEOUT)
        }))
    }
}

/// A stand-in for the daemon's handler.
fn answer(req: Request) -> Response {
    match req {
        Request::Status => Response::Status(vec![status_row("fiber"), status_row("lte")]),
        Request::History => Response::History {
            now_us: 7,
            entries: Vec::new(),
        },
        Request::Prefer(name) if name == "nope" => Response::Error("unknown WAN \"nope\"".into()),
        // A big answer, to fill a slow reader's socket.
        Request::Prefer(name) if name == "big" => Response::Error("x".repeat(60_000)),
        _ => Response::Ok,
    }
}

/// Warnings logged, with the thread that logged them: tests run in parallel, and each
/// drives its server from its own thread.
static WARNINGS: Mutex<Vec<(ThreadId, String)>> = Mutex::new(Vec::new());

struct WarningCapture;

impl log::Log for WarningCapture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let line = (std::thread::current().id(), record.args().to_string());
            WARNINGS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
        }
    }

    fn flush(&self) {}
}

/// Starts recording warnings for [`warnings`].
fn capture_warnings() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&WarningCapture).expect("the only logger of this test binary");
        log::set_max_level(log::LevelFilter::Warn);
    });
}

/// The warnings this test's thread has logged so far.
fn warnings() -> Vec<String> {
    let me = std::thread::current().id();
    let all = WARNINGS.lock().unwrap_or_else(|e| e.into_inner());
    all.iter()
        .filter(|(thread, _)| *thread == me)
        .map(|(_, line)| line.clone())
        .collect()
}

/// What the server says to a client it evicts while the client owes a request.
fn eviction_notice() -> Response {
    Response::Error(format!(
        "evicted: all {} control connections were taken and this one was idle",
        server::MAX_CLIENTS
    ))
}

/// What a raw connection has been told, without waiting: `None` while it is open and
/// nothing has arrived, else every frame up to the end of stream.
fn told(stream: &mut UnixStream) -> Option<Vec<Response>> {
    let flags = MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT;
    if socket::recv(stream.as_raw_fd(), &mut [0u8; 1], flags) == Err(Errno::EAGAIN) {
        return None;
    }
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    Some(std::iter::from_fn(|| read_frame(stream)).collect())
}

/// Reads one response frame from a raw connection, or `None` at EOF.
fn read_frame(stream: &mut UnixStream) -> Option<Response> {
    let mut dec = FrameDecoder::new(protocol::MAX_BODY_LEN);
    let mut buf = [0u8; 512];
    loop {
        let want = dec.wanted().min(buf.len());
        let n = stream.read(&mut buf[..want]).unwrap();
        if n == 0 {
            return None;
        }
        if let Some(body) = dec.decode(&mut &buf[..n]).unwrap() {
            return Some(protocol::decode_response(body).unwrap());
        }
    }
}

/// Connects a raw stream, sends `bytes`, and collects every frame until EOF.
fn raw_exchange(rig: &mut Rig, bytes: Vec<u8>) -> Vec<Response> {
    let path = rig.path.clone();
    rig.run(std::thread::spawn(move || {
        let mut s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.write_all(&bytes).unwrap();
        std::iter::from_fn(|| read_frame(&mut s)).collect()
    }))
}

#[test]
fn client_gets_answers() {
    let mut rig = Rig::new("answers");
    let status = rig.request(Request::Status).unwrap();
    assert_eq!(
        status,
        Response::Status(vec![status_row("fiber"), status_row("lte")])
    );
    let version = rig.request(Request::Version).unwrap();
    assert_eq!(version, Response::Version(env!("CARGO_PKG_VERSION").into()));
    assert_eq!(
        rig.request(Request::Prefer("lte".into())).unwrap(),
        Response::Ok
    );
    let err = rig.request(Request::Prefer("nope".into())).unwrap();
    assert_eq!(err, Response::Error("unknown WAN \"nope\"".into()));
    // Version is answered by the server itself; the rest reached the handler.
    assert_eq!(
        rig.handled,
        [
            Request::Status,
            Request::Prefer("lte".into()),
            Request::Prefer("nope".into())
        ]
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut rig = Rig::new("pipelined");
    let mut bytes = Vec::new();
    protocol::encode_request(&Request::History, &mut bytes).unwrap();
    protocol::encode_request(&Request::Auto, &mut bytes).unwrap();
    let path = rig.path.clone();
    let answers = rig.run(std::thread::spawn(move || {
        let mut s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.write_all(&bytes).unwrap();
        (read_frame(&mut s), read_frame(&mut s))
    }));
    assert_eq!(
        answers.0,
        Some(Response::History {
            now_us: 7,
            entries: Vec::new()
        })
    );
    assert_eq!(answers.1, Some(Response::Ok));
}

#[test]
fn garbage_gets_an_error_and_a_close() {
    let mut rig = Rig::new("garbage");
    let answers = raw_exchange(&mut rig, b"GET / HTTP/1.0\r\n\r\n".to_vec());
    assert_eq!(
        answers,
        [Response::Error(
            "bad request: not a control frame (first byte 0x47)".into()
        )]
    );
    let answers = raw_exchange(&mut rig, vec![MAGIC, VERSION, 0, 2, 0x63, 0x00]);
    assert_eq!(
        answers,
        [Response::Error(
            "bad request: malformed message body".into()
        )]
    );
    assert!(rig.handled.is_empty());
    assert_eq!(rig.server.client_count(), 0);
}

#[test]
fn oversized_length_is_refused_without_reading_the_body() {
    let mut rig = Rig::new("oversize");
    let answers = raw_exchange(&mut rig, vec![MAGIC, VERSION, 0xff, 0xff]);
    let text = "bad request: frame body of 65535 bytes exceeds the limit of 4096";
    assert_eq!(answers, [Response::Error(text.into())]);
}

#[test]
fn other_protocol_version_is_told_ours() {
    let mut rig = Rig::new("version");
    let answers = raw_exchange(&mut rig, vec![MAGIC, 9, 0, 1, 1]);
    let text = format!("unsupported protocol version 9 (the daemon speaks version {VERSION})");
    assert_eq!(answers, [Response::Error(text)]);
}

#[test]
fn client_reports_a_daemon_of_another_version() {
    let path = temp_socket("fake-daemon");
    let listener = UnixListener::bind(&path).unwrap();
    let fake = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut req = [0u8; 5];
        s.read_exact(&mut req).unwrap();
        s.write_all(&[MAGIC, VERSION + 1, 0, 1, 0]).unwrap();
    });
    let err = client::request(&path, &Request::Status, TIMEOUT).unwrap_err();
    fake.join().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        matches!(
            err,
            ClientError::VersionMismatch { daemon, client }
                if daemon == VERSION + 1 && client == VERSION
        ),
        "{err}"
    );
}

#[test]
fn silent_client_is_closed_at_its_deadline() {
    let mut rig = Rig::new("silent");
    let mut s = UnixStream::connect(&rig.path).unwrap();
    // Half a request: a header without its body.
    s.write_all(&[MAGIC, VERSION, 0, 3]).unwrap();
    for _ in 0..5 {
        rig.turn();
    }
    assert_eq!(rig.server.client_count(), 1);
    let deadline = rig.server.poll_at().expect("a client deadline");
    assert!(deadline <= rig.now() + server::REQUEST_TIMEOUT);
    rig.server.expire(deadline);
    assert_eq!(rig.server.client_count(), 0);
    assert_eq!(rig.server.poll_at(), None);
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    assert_eq!(s.read(&mut [0u8; 8]).unwrap(), 0, "closed by the daemon");
}

#[test]
fn client_gives_up_on_a_daemon_that_never_answers() {
    let path = temp_socket("mute");
    let _listener = UnixListener::bind(&path).unwrap();
    let started = std::time::Instant::now();
    let err = client::request(&path, &Request::Status, Duration::from_millis(200)).unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_full_table_evicts_the_oldest_idle_client_for_a_newcomer() {
    let mut rig = Rig::new("full");
    rig.freeze();
    let mut held: Vec<UnixStream> = (0..server::MAX_CLIENTS)
        .map(|_| UnixStream::connect(&rig.path).unwrap())
        .collect();
    for _ in 0..5 {
        rig.turn();
    }
    assert_eq!(rig.server.client_count(), server::MAX_CLIENTS);
    assert!(matches!(
        rig.request(Request::Status),
        Ok(Response::Status(_))
    ));
    assert_eq!(told(&mut held[0]), Some(vec![eviction_notice()]));
    for (i, s) in held.iter_mut().enumerate().skip(1) {
        assert_eq!(told(s), None, "client {i} was left alone");
    }
    for _ in 0..5 {
        rig.turn();
    }
    assert_eq!(rig.server.client_count(), server::MAX_CLIENTS - 1);
    drop(held);
    for _ in 0..5 {
        rig.turn();
    }
    assert_eq!(rig.server.client_count(), 0, "hung-up clients are dropped");
}

/// The field report: a leaking web UI's silent connections and a confused script's
/// garbage, each more than the table holds, and then root's `wanfailover status`.
#[test]
fn status_is_answered_through_a_crowd_of_silent_and_garbage_clients() {
    const SILENT: usize = 3 * server::MAX_CLIENTS;
    const GARBAGE: usize = server::MAX_CLIENTS + 4;
    capture_warnings();
    let mut rig = Rig::new("crowd");
    let start = rig.freeze();
    let mut silent = Vec::new();
    let mut garbage = Vec::new();
    for i in 0..SILENT {
        silent.push(UnixStream::connect(&rig.path).unwrap());
        // Once the silent ones fill the table, garbage arrives among them.
        if i >= server::MAX_CLIENTS && garbage.len() < GARBAGE {
            let mut g = UnixStream::connect(&rig.path).unwrap();
            g.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            garbage.push(g);
        }
    }
    assert_eq!(garbage.len(), GARBAGE);
    let answers = rig.run(std::thread::spawn(move || {
        let all_frames = |mut g: UnixStream| {
            g.set_read_timeout(Some(TIMEOUT)).unwrap();
            std::iter::from_fn(|| read_frame(&mut g)).collect::<Vec<_>>()
        };
        garbage.into_iter().map(all_frames).collect::<Vec<_>>()
    }));
    let bad = Response::Error("bad request: not a control frame (first byte 0x47)".into());
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(
            a,
            &vec![bad.clone()],
            "garbage client {i}: an error, then a close"
        );
    }

    let status = rig.request(Request::Status).unwrap();
    assert_eq!(
        status,
        Response::Status(vec![status_row("fiber"), status_row("lte")])
    );
    assert_eq!(rig.handled, [Request::Status], "garbage reached no handler");
    for _ in 0..5 {
        rig.turn();
    }

    // Oldest first: the evicted are the first to connect, each told why; the rest wait.
    let told: Vec<_> = silent.iter_mut().map(told).collect();
    let evicted = told.iter().take_while(|t| t.is_some()).count();
    assert!(evicted >= SILENT - server::MAX_CLIENTS, "{told:?}");
    for (i, t) in told.iter().enumerate() {
        let expected = (i < evicted).then(|| vec![eviction_notice()]);
        assert_eq!(t, &expected, "silent client {i}");
    }
    assert_eq!(rig.server.client_count(), SILENT - evicted);

    // One line for the whole crowd, once it has passed.
    assert_eq!(warnings(), Vec::<String>::new());
    let due = rig.server.poll_at().expect("a wake-up for the summary");
    assert_eq!(due, start + server::EVICTION_REPORT_DELAY);
    rig.server.expire(due);
    let line = format!(
        "control: {evicted} idle clients evicted to make room: all {} control connections \
         were taken",
        server::MAX_CLIENTS
    );
    assert_eq!(warnings(), vec![line.clone()]);
    rig.server.expire(start + Duration::from_secs(3600));
    assert_eq!(rig.server.client_count(), 0, "the rest time out as always");
    assert_eq!(warnings(), [line], "and nothing more is logged");
}

/// A client with an answer it does not take and more requests queued must be polled for
/// writing only: its socket stays readable, and asking for POLLIN woke the daemon's loop at
/// once, turn after turn (100 % CPU until the write timeout).
#[test]
fn a_client_with_an_answer_pending_is_not_polled_for_reading() {
    let mut rig = Rig::new("pending-read");
    let mut bytes = Vec::new();
    for _ in 0..20 {
        protocol::encode_request(&Request::Prefer("big".into()), &mut bytes).unwrap();
    }
    let mut slow = UnixStream::connect(&rig.path).unwrap();
    slow.write_all(&bytes).unwrap();
    let interest = |rig: &Rig| {
        let mut interests = Vec::new();
        rig.server.poll_fds(&mut interests);
        // the listener never writes: the one that does is the slow client
        interests.into_iter().find(|i| i.write)
    };
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while interest(&rig).is_none() {
        assert!(std::time::Instant::now() < until, "the socket never filled");
        rig.turn();
    }
    let i = interest(&rig).expect("the slow client");
    assert!(
        !i.read,
        "requests are still queued, but the pending answer must go first: {i:?}"
    );
    drop(slow);
}

#[test]
fn a_table_of_slow_readers_gives_way_to_the_oldest() {
    capture_warnings();
    let mut rig = Rig::new("slow-crowd");
    let start = rig.freeze();
    let mut bytes = Vec::new();
    for _ in 0..20 {
        protocol::encode_request(&Request::Prefer("big".into()), &mut bytes).unwrap();
    }
    // Each asks for twenty 60 kB answers and reads none: every slot is mid-answer.
    let mut slow: Vec<UnixStream> = (0..server::MAX_CLIENTS)
        .map(|_| {
            let mut s = UnixStream::connect(&rig.path).unwrap();
            s.write_all(&bytes).unwrap();
            s
        })
        .collect();
    let writing = |rig: &Rig| {
        let mut interests = Vec::new();
        rig.server.poll_fds(&mut interests);
        interests.iter().filter(|i| i.write).count()
    };
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while writing(&rig) < server::MAX_CLIENTS {
        assert!(
            std::time::Instant::now() < until,
            "the sockets never filled"
        );
        rig.turn();
    }
    assert!(matches!(
        rig.request(Request::Status),
        Ok(Response::Status(_))
    ));
    for _ in 0..5 {
        rig.turn();
    }
    assert_eq!(rig.server.client_count(), server::MAX_CLIENTS - 1);
    assert_eq!(
        writing(&rig),
        server::MAX_CLIENTS - 1,
        "the others still wait"
    );
    // The oldest was closed cleanly: the answers it was sent, then the end of stream.
    slow[0].set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut received = Vec::new();
    slow[0].read_to_end(&mut received).unwrap();
    assert!(!received.is_empty());

    rig.server.expire(start + server::EVICTION_REPORT_DELAY);
    let line = format!(
        "control: 1 slow-reading client evicted to make room: all {} control connections \
         were taken",
        server::MAX_CLIENTS
    );
    assert_eq!(warnings(), [line]);
}

#[test]
fn stale_socket_is_replaced_and_live_one_is_not() {
    let path = temp_socket("stale");
    drop(UnixListener::bind(&path).unwrap()); // a crashed daemon's leftover
    let err = client::request(&path, &Request::Status, TIMEOUT).unwrap_err();
    let refused = format!(
        "wanfailover daemon is not running ({} refused the connection)",
        path.display()
    );
    assert_eq!(err.to_string(), refused);
    let server = Server::bind(&path, None).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    let err = Server::bind(&path, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("another daemon is running on {}", path.display())
    );
    drop(server);
    assert!(!path.exists(), "socket file removed on drop");
    let err = client::request(&path, &Request::Status, TIMEOUT).unwrap_err();
    let missing = format!(
        "wanfailover daemon is not running (no socket at {})",
        path.display()
    );
    assert_eq!(err.to_string(), missing);
}

#[test]
fn a_regular_file_is_never_replaced() {
    let path = temp_socket("regular");
    std::fs::write(&path, b"precious").unwrap();
    let err = Server::bind(&path, None).unwrap_err();
    assert!(matches!(err, server::Error::NotASocket { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn socket_group_is_applied_or_named_when_unknown() {
    let path = temp_socket("group");
    let err = Server::bind(&path, Some("no-such-group-wf")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "socket group \"no-such-group-wf\" does not exist"
    );
    assert!(!path.exists());
    if !nix::unistd::geteuid().is_root() {
        support::skipped("the chown half needs root");
        return;
    }
    let server = Server::bind(&path, Some("daemon")).unwrap();
    let gid = nix::unistd::Group::from_name("daemon")
        .unwrap()
        .unwrap()
        .gid
        .as_raw();
    assert_eq!(std::fs::metadata(server.path()).unwrap().gid(), gid);
    let server = {
        drop(server);
        Server::bind(&path, Some("4242")).unwrap()
    };
    assert_eq!(std::fs::metadata(server.path()).unwrap().gid(), 4242);
}

/// Run as `nobody` by [`unauthorized_peer_is_denied_steering`]; does nothing otherwise.
#[test]
#[ignore = "helper, run by another test"]
fn helper_client_as_nobody() {
    let Ok(path) = std::env::var("WF_HELPER_SOCKET") else {
        return;
    };
    let path = Path::new(&path);
    let prefer = client::request(path, &Request::Prefer("lte".into()), TIMEOUT);
    let status = client::request(path, &Request::Status, TIMEOUT);
    println!("PREFER={prefer:?}");
    println!("STATUS_OK={}", matches!(status, Ok(Response::Status(_))));
}

#[test]
fn unauthorized_peer_is_denied_steering() {
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        support::skipped("needs root to run a client as nobody");
        return;
    }
    let mut rig = Rig::new("denied");
    // Let `nobody` connect at all, so the server's own check is what stops it.
    std::fs::set_permissions(&rig.path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_client_as_nobody",
            "--ignored",
            "--nocapture",
            "--quiet",
        ])
        .env("WF_HELPER_SOCKET", &rig.path)
        .uid(65534)
        .gid(65534)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < until, "helper hangs");
        rig.turn();
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.contains(
            "PREFER=Ok(Denied(\"permission denied: prefer needs root or the socket group\"))"
        ),
        "{out}"
    );
    assert!(out.contains("STATUS_OK=true"), "{out}");
    assert_eq!(
        rig.handled,
        [Request::Status],
        "the denied request never reached the handler"
    );
}

#[test]
fn socket_mode_keeps_strangers_out_with_a_clear_message() {
    let err = ClientError::PermissionDenied {
        path: "/run/x.sock".into(),
        group: Some("netadmin".into()),
    };
    assert_eq!(
        err.to_string(),
        "permission denied on /run/x.sock (need root or group netadmin)"
    );
}

/// The Python client in docs/control-protocol.md, run as written against a real server.
#[test]
fn documented_python_client_works() {
    let doc = std::fs::read_to_string("docs/control-protocol.md").unwrap();
    let start = doc.find("```python\n").expect("python example") + "```python\n".len();
    let script = &doc[start..start + doc[start..].find("```").unwrap()];
    let mut rig = Rig::new("python");
    let script = script.replace("/run/wanfailover.sock", rig.path.to_str().unwrap());
    let child = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        support::skipped("needs python3");
        return;
    };
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < until, "python client hangs");
        rig.turn();
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "b'\\x00'\n");
    assert_eq!(rig.handled, [Request::Prefer("lte".into())]);
}

#[test]
fn a_slow_reader_does_not_stall_the_others() {
    let mut rig = Rig::new("slow");
    let mut bytes = Vec::new();
    for _ in 0..20 {
        protocol::encode_request(&Request::Prefer("big".into()), &mut bytes).unwrap();
    }
    // Twenty 60 kB answers pipelined, never read: the socket fills up.
    let mut slow = UnixStream::connect(&rig.path).unwrap();
    slow.write_all(&bytes).unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        rig.turn();
        let mut interests = Vec::new();
        rig.server.poll_fds(&mut interests);
        if interests.iter().any(|i| i.write) {
            break; // an answer is pending: the server waits for the slow reader
        }
        assert!(
            std::time::Instant::now() < until,
            "the slow reader's socket never filled"
        );
    }
    // Others are served meanwhile.
    assert!(matches!(
        rig.request(Request::Status),
        Ok(Response::Status(_))
    ));
    for _ in 0..5 {
        rig.turn();
    }
    assert_eq!(rig.server.client_count(), 1, "only the slow reader is left");
    let deadline = rig.server.poll_at().unwrap();
    assert!(deadline <= rig.now() + server::WRITE_TIMEOUT);
    rig.server.expire(deadline);
    assert_eq!(
        rig.server.client_count(),
        0,
        "dropped at its write deadline"
    );
    drop(slow);
}

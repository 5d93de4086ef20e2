//! `wanfailover status --watch`: a live view for a technician at the gateway's serial
//! console. Every interval it asks the daemon for `status`, samples latency and loss into
//! per-WAN trends kept here in the client ([`spark`]), and redraws one frame ([`view`]) in
//! place. No curses: a few ANSI sequences on a terminal, plain reprints elsewhere.
//!
//! SIGINT and SIGTERM are blocked and read from a signalfd, and the wait between frames is
//! a `poll` on it: Ctrl-C ends the watch between two frames, never in the middle of one,
//! and the cursor is always shown again. When the daemon goes away the watch says so and
//! exits 1.
//!
//! [`spark`] and [`view`] are pure; [`run`] does the I/O.

pub mod spark;
pub mod view;

use std::io::{self, IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::control::client;
use crate::control::protocol::{Request, Response};
use crate::sys::poll::Poller;

pub use view::{Frame, Trends};

/// The shortest refresh interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The default refresh interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Options {
    pub socket: PathBuf,
    pub interval: Duration,
    /// How long one status request may take.
    pub timeout: Duration,
}

/// How the watch ended.
#[derive(Debug)]
pub enum End {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The daemon stopped answering; the text says why.
    DaemonGone(String),
}

/// Runs until interrupted or the daemon goes away. I/O errors on stdout end it too.
pub fn run(options: &Options) -> io::Result<End> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    mask.thread_block().map_err(io::Error::from)?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(io::Error::from)?;
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let utf8 = view::utf8_locale(
        std::env::var("LC_ALL").ok().as_deref(),
        std::env::var("LC_CTYPE").ok().as_deref(),
        std::env::var("LANG").ok().as_deref(),
    );
    let mut out = stdout.lock();
    let result = watch(options, &signals, &mut out, tty, utf8);
    if tty {
        // Whatever happened, give the terminal its cursor back.
        let _ = out.write_all(view::RESTORE.as_bytes());
        let _ = out.flush();
    }
    result
}

fn watch(
    options: &Options,
    signals: &SignalFd,
    out: &mut impl Write,
    tty: bool,
    utf8: bool,
) -> io::Result<End> {
    let started = Instant::now();
    let mut trends = Trends::new(options.interval);
    let mut poller = Poller::default();
    let mut first = true;
    let mut next_at = started;
    loop {
        let rows = match client::request(&options.socket, &Request::Status, options.timeout) {
            Ok(Response::Status(rows)) => rows,
            Ok(Response::Error(m)) | Ok(Response::Denied(m)) => return Ok(End::DaemonGone(m)),
            Ok(other) => return Ok(End::DaemonGone(format!("unexpected answer {other:?}"))),
            Err(e) => return Ok(End::DaemonGone(e.to_string())),
        };
        let elapsed = started.elapsed();
        trends.record(elapsed, &rows);
        let text = view::frame(&Frame {
            rows: &rows,
            trends: &trends,
            elapsed,
            interval: options.interval,
            utf8,
        });
        out.write_all(view::paint(&text, tty, first).as_bytes())?;
        out.flush()?;
        first = false;
        // Keep a steady cadence: the next frame is due one interval after this one was,
        // not one interval after the request finished.
        next_at += options.interval;
        let now = Instant::now();
        if next_at < now {
            next_at = now;
        }
        poller.clear();
        poller.add(signals.as_raw_fd(), false);
        if poller.wait(Some(next_at - now))? > 0 {
            return Ok(End::Interrupted);
        }
    }
}

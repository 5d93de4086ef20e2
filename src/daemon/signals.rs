//! Signals as readable events: SIGTERM/SIGINT (stop), SIGHUP (reload) and SIGCHLD (a hook
//! exited) are blocked and read from a non-blocking signalfd in the poll loop, so no
//! handler ever runs in the middle of the loop's work.
//!
//! Child processes start with an empty signal mask and every signal at its default
//! disposition (`sys::spawn` asks `posix_spawn` for both), so hooks see neither the mask
//! set here nor the ignored `SIGPIPE`.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::control::load;
use super::part::{Ctx, Interests, Part, Readiness};
use crate::engine::Instant;

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Stop,
    Reload,
    ChildExited,
}

pub struct Signals {
    fd: SignalFd,
}

impl Signals {
    /// Blocks the signals for this thread (the daemon has only one) and opens the signalfd.
    pub fn open() -> io::Result<Signals> {
        let mut set = SigSet::empty();
        for s in [
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGCHLD,
        ] {
            set.add(s);
        }
        set.thread_block().map_err(io::Error::from)?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(io::Error::from)?;
        Ok(Signals { fd })
    }

    /// Reads every pending signal (until the fd would block).
    pub fn drain(&mut self, out: &mut impl FnMut(Event)) -> io::Result<()> {
        loop {
            match self.fd.read_signal() {
                Ok(Some(info)) => {
                    if let Some(e) = classify(info.ssi_signo as i32) {
                        out(e);
                    }
                }
                Ok(None) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Signals become what they ask of the daemon.
impl Part for Signals {
    fn register(&mut self, interests: &mut Interests<'_>) {
        interests.add(self.as_raw_fd(), false);
    }

    fn on_ready(&mut self, _now: Instant, _ready: &Readiness<'_>, ctx: &mut Ctx<'_>) {
        let asks = &mut *ctx.asks;
        let mut reload = false;
        let r = self.drain(&mut |e| match e {
            Event::Stop => asks.stop = true,
            Event::Reload => reload = true,
            Event::ChildExited => asks.reap_hooks = true,
        });
        if let Err(e) = r {
            log::warn!("signalfd: {e}");
        }
        if reload {
            match load(ctx.config_path) {
                Ok(config) => ctx.asks.reload = Some(config),
                Err(e) => log::error!("{e}"),
            }
        }
    }
}

fn classify(signo: i32) -> Option<Event> {
    match Signal::try_from(signo).ok()? {
        Signal::SIGTERM | Signal::SIGINT => Some(Event::Stop),
        Signal::SIGHUP => Some(Event::Reload),
        Signal::SIGCHLD => Some(Event::ChildExited),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify(libc::SIGTERM), Some(Event::Stop));
        assert_eq!(classify(libc::SIGINT), Some(Event::Stop));
        assert_eq!(classify(libc::SIGHUP), Some(Event::Reload));
        assert_eq!(classify(libc::SIGCHLD), Some(Event::ChildExited));
        assert_eq!(classify(libc::SIGUSR1), None);
        assert_eq!(classify(9999), None);
    }
}

//! systemd's notification protocol (`sd_notify`): READY, STATUS and WATCHDOG datagrams to
//! `$NOTIFY_SOCKET`. Nothing at all happens when not started by systemd.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use crate::engine::Instant;

/// The notification socket and watchdog schedule, if systemd gave us any.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    /// Half the watchdog timeout systemd set (`WATCHDOG_USEC`), as systemd recommends.
    watchdog_every: Option<Duration>,
    next_watchdog_at: Option<Instant>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    pub fn from_env(now: Instant) -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|p| connect(&p));
        let watchdog_every = watchdog_interval(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        let next_watchdog_at = watchdog_every.map(|d| now + d);
        Notifier {
            socket,
            watchdog_every,
            next_watchdog_at,
        }
    }

    pub fn enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends one notification (`READY=1`, `STATUS=…`, `STOPPING=1`, `RELOADING=1`).
    /// Failures are logged: systemd being away must never stop the daemon.
    pub fn send(&self, state: &str) {
        if let Some((sock, addr)) = &self.socket {
            if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
                log::debug!("sd_notify {state:?}: {e}");
            }
        }
    }

    /// When the next watchdog ping is due.
    pub fn poll_at(&self) -> Option<Instant> {
        self.next_watchdog_at
    }

    /// Pings the watchdog if due. Called from the loop, so a stalled loop stops the pings and
    /// systemd restarts the daemon.
    pub fn tick(&mut self, now: Instant) {
        if let (Some(at), Some(every)) = (self.next_watchdog_at, self.watchdog_every) {
            if now >= at {
                self.send("WATCHDOG=1");
                self.next_watchdog_at = Some(now + every);
            }
        }
    }
}

fn connect(path: &std::ffi::OsStr) -> Option<(UnixDatagram, SocketAddr)> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_bytes();
    // A leading '@' names a socket in the abstract namespace.
    let addr = match bytes.split_first() {
        Some((b'@', name)) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name).ok()?
        }
        Some((b'/', _)) => SocketAddr::from_pathname(std::path::Path::new(path)).ok()?,
        _ => return None,
    };
    let sock = UnixDatagram::unbound().ok()?;
    Some((sock, addr))
}

/// Half of `WATCHDOG_USEC`, when it is set and meant for this process.
fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok() != Some(me) {
            return None;
        }
    }
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_interval_rules() {
        assert_eq!(
            watchdog_interval(Some("30000000"), None, 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            watchdog_interval(Some("30000000"), Some("7"), 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(watchdog_interval(Some("30000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("x"), None, 7), None);
        assert_eq!(watchdog_interval(None, None, 7), None);
    }

    #[test]
    fn notifications_reach_the_socket() {
        let dir = std::env::temp_dir().join(format!("wf-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            socket: connect(path.as_os_str()),
            watchdog_every: None,
            next_watchdog_at: None,
        };
        n.send("READY=1");
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn watchdog_pings_when_due() {
        let dir = std::env::temp_dir().join(format!("wf-wd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        server.set_nonblocking(true).unwrap();
        let mut n = Notifier {
            socket: connect(path.as_os_str()),
            watchdog_every: Some(Duration::from_secs(1)),
            next_watchdog_at: Some(Instant::from_millis(1000)),
        };
        let mut buf = [0u8; 64];
        n.tick(Instant::from_millis(999));
        assert!(server.recv(&mut buf).is_err(), "pinged before due");
        n.tick(Instant::from_millis(1000));
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        assert_eq!(n.poll_at(), Some(Instant::from_millis(2000)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

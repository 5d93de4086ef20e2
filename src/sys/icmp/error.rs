//! The socket layer's error: which operation failed and the kernel's reason.

use core::fmt;
use std::io;
use std::net::IpAddr;

use crate::engine::ProbeError;

/// The system call that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Socket,
    BindDevice,
    Filter,
    NonBlocking,
    Bind,
    LocalAddr,
    Send,
    Recv,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Socket => "socket",
            Op::BindDevice => "SO_BINDTODEVICE",
            Op::Filter => "ICMP filter",
            Op::NonBlocking => "O_NONBLOCK",
            Op::Bind => "bind",
            Op::LocalAddr => "getsockname",
            Op::Send => "sendto",
            Op::Recv => "recvfrom",
        })
    }
}

/// Errors of [`super::Prober`]. Never fatal to the daemon: it reports them as the WAN's
/// probe failure and retries (reopening the socket where the socket is the problem).
#[derive(Debug)]
pub enum Error {
    /// A system call failed.
    Io { op: Op, source: io::Error },
    /// Raw sockets were refused and the ping-socket fallback failed too (for ping sockets
    /// the usual cause is `net.ipv4.ping_group_range`).
    NoSocket { raw: Box<Error>, ping: Box<Error> },
    /// Not a possible interface name (empty, too long, `/` or NUL in it).
    BadInterface { name: String },
    /// The target's address family is not the prober's.
    FamilyMismatch { addr: IpAddr },
}

/// What [`super::Prober::send`] returns: the errno is kept (`ENETUNREACH`, `ENOBUFS`,
/// `ENODEV`, `EPERM`, …).
pub type SendError = Error;

impl Error {
    pub(crate) fn io(op: Op) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { op, source }
    }

    /// The errno of a failed system call.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// Whether the kernel refused for lack of privilege (the fallback trigger).
    pub fn is_permission(&self) -> bool {
        matches!(self.errno(), Some(libc::EPERM) | Some(libc::EACCES))
    }

    /// The engine's view of this error, for `Input::ProbeFailed`.
    pub fn probe_error(&self) -> ProbeError {
        match self {
            Error::Io { source, .. } => ProbeError::Send(source.raw_os_error().unwrap_or(0)),
            Error::NoSocket { .. } | Error::BadInterface { .. } => ProbeError::NoSocket,
            Error::FamilyMismatch { .. } => ProbeError::Send(libc::EAFNOSUPPORT),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, source } => write!(f, "{op}: {source}"),
            Error::NoSocket { raw, ping } => {
                write!(
                    f,
                    "no ICMP socket: raw: {raw}; ping: {ping} (check net.ipv4.ping_group_range)"
                )
            }
            Error::BadInterface { name } => write!(f, "bad interface name {name:?}"),
            Error::FamilyMismatch { addr } => {
                write!(f, "target {addr} is of the other address family")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::NoSocket { ping, .. } => Some(ping.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_and_engine_mapping() {
        let e = Error::Io {
            op: Op::Send,
            source: io::Error::from_raw_os_error(libc::ENETUNREACH),
        };
        assert_eq!(e.errno(), Some(libc::ENETUNREACH));
        assert_eq!(e.probe_error(), ProbeError::Send(libc::ENETUNREACH));
        assert!(e.to_string().starts_with("sendto: "), "{e}");
        let perm = Error::Io {
            op: Op::Socket,
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert!(perm.is_permission());
        let none = Error::NoSocket {
            raw: Box::new(perm),
            ping: Box::new(e),
        };
        assert_eq!(none.probe_error(), ProbeError::NoSocket);
        assert!(none.to_string().contains("ping_group_range"));
    }
}

//! Why a check could not be started: the failing operation and the kernel's reason.

use core::fmt;
use std::io;
use std::net::IpAddr;

use crate::check::{Cause, Failed, Step};

/// The system call that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Socket,
    BindDevice,
    Bind,
    Connect,
    Send,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Socket => "socket",
            Op::BindDevice => "SO_BINDTODEVICE",
            Op::Bind => "bind",
            Op::Connect => "connect",
            Op::Send => "send",
        })
    }
}

/// A check that could not start. Never fatal: the daemon reports [`Error::failed`] as the
/// check's outcome and tries again next round.
#[derive(Debug)]
pub enum Error {
    Io {
        op: Op,
        source: io::Error,
    },
    /// Not a possible interface name (empty, too long, NUL in it).
    BadInterface {
        name: String,
    },
    /// The source address is of the other family than the destination.
    FamilyMismatch {
        source: IpAddr,
        dest: IpAddr,
    },
    /// An ICMP target: the prober's job, not a check's.
    NotACheck,
    /// An http target by name without `dns` servers (the config refuses it).
    NoResolver,
}

impl Error {
    pub(super) fn io(op: Op) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { op, source }
    }

    /// The outcome to report for this check: `connect` failing with `ENETUNREACH` is
    /// "no route", the usual reason a check cannot start on a WAN that just lost its link.
    pub fn failed(&self) -> Failed {
        let cause = match self {
            Error::Io { source, .. } => Cause::from_errno(source.raw_os_error().unwrap_or(0)),
            Error::BadInterface { .. } => Cause::Os(libc::ENODEV),
            Error::FamilyMismatch { .. } | Error::NotACheck | Error::NoResolver => {
                Cause::Os(libc::EAFNOSUPPORT)
            }
        };
        Failed {
            step: Step::Connect,
            cause,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, source } => write!(f, "{op}: {source}"),
            Error::BadInterface { name } => write!(f, "bad interface name {name:?}"),
            Error::FamilyMismatch { source, dest } => {
                write!(
                    f,
                    "source {source} cannot reach {dest}: other address family"
                )
            }
            Error::NotACheck => f.write_str("an ICMP target is not a check"),
            Error::NoResolver => f.write_str("a host name needs the WAN's dns servers"),
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

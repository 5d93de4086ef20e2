//! The CLI's side of the control socket: one blocking request/response exchange with a
//! deadline. Error messages are for the user of the command line.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};
use nix::sys::time::TimeVal;

use super::protocol::{self, FrameDecoder, FrameError, Request, Response};

/// Why a request got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// No socket file (`ENOENT`, `refused: false`) or nobody listening on it
    /// (`ECONNREFUSED`, `refused: true`).
    NotRunning { path: PathBuf, refused: bool },
    /// The socket's mode keeps us out. `group` is the socket file's group, if known.
    PermissionDenied {
        path: PathBuf,
        group: Option<String>,
    },
    /// No complete answer before the deadline.
    Timeout { path: PathBuf },
    /// The daemon closed the connection without an answer.
    Closed { path: PathBuf },
    /// The daemon speaks another protocol version.
    VersionMismatch { daemon: u8, client: u8 },
    /// The answer was not a valid frame or response.
    Protocol { path: PathBuf, error: FrameError },
    /// The request cannot be encoded (too long).
    Request(FrameError),
    /// Another system call failed.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::NotRunning {
                path,
                refused: false,
            } => write!(
                f,
                "wanfailover daemon is not running (no socket at {})",
                path.display()
            ),
            ClientError::NotRunning {
                path,
                refused: true,
            } => write!(
                f,
                "wanfailover daemon is not running ({} refused the connection)",
                path.display()
            ),
            ClientError::PermissionDenied { path, group } => match group {
                Some(g) if g != "root" => {
                    write!(
                        f,
                        "permission denied on {} (need root or group {g})",
                        path.display()
                    )
                }
                _ => write!(f, "permission denied on {} (need root)", path.display()),
            },
            ClientError::Timeout { path } => {
                write!(f, "no answer from the daemon on {} in time", path.display())
            }
            ClientError::Closed { path } => {
                write!(
                    f,
                    "the daemon on {} closed the connection without answering",
                    path.display()
                )
            }
            ClientError::VersionMismatch { daemon, client } => write!(
                f,
                "protocol mismatch: the daemon speaks control protocol version {daemon}, \
                 this client speaks version {client} (install matching versions)"
            ),
            ClientError::Protocol { path, error } => {
                write!(
                    f,
                    "bad answer from the daemon on {}: {error}",
                    path.display()
                )
            }
            ClientError::Request(e) => write!(f, "request not sent: {e}"),
            ClientError::Io { op, path, source } => write!(f, "{}: {op}: {source}", path.display()),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io { source, .. } => Some(source),
            ClientError::Protocol { error, .. } | ClientError::Request(error) => Some(error),
            _ => None,
        }
    }
}

/// Sends `request` to the daemon at `socket_path` and waits for its answer, all within
/// `timeout`.
pub fn request(
    socket_path: &Path,
    request: &Request,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let deadline = Instant::now() + timeout;
    let mut frame = Vec::new();
    protocol::encode_request(request, &mut frame).map_err(ClientError::Request)?;
    let mut stream = connect(socket_path, timeout)?;
    let path = socket_path;
    stream
        .set_write_timeout(Some(remaining(deadline, path)?))
        .map_err(io_err("set timeout", path))?;
    if let Err(e) = stream.write_all(&frame) {
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Err(timeout_err(path)),
            // A busy daemon answers and hangs up before reading: its answer is waiting.
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
                read_response(&mut stream, path, deadline)
                    .map_err(|_| ClientError::Closed { path: path.into() })
            }
            _ => Err(io_err("send", path)(e)),
        };
    }
    read_response(&mut stream, path, deadline)
}

/// Reads one response frame; never reads beyond it.
fn read_response(
    stream: &mut UnixStream,
    path: &Path,
    deadline: Instant,
) -> Result<Response, ClientError> {
    let mut decoder = FrameDecoder::new(protocol::MAX_BODY_LEN);
    let mut buf = [0u8; 4096];
    loop {
        stream
            .set_read_timeout(Some(remaining(deadline, path)?))
            .map_err(io_err("set timeout", path))?;
        let want = decoder.wanted().min(buf.len());
        let n = match stream.read(&mut buf[..want]) {
            Ok(0) => return Err(ClientError::Closed { path: path.into() }),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timeout_err(path))
            }
            Err(e) => return Err(io_err("receive", path)(e)),
        };
        let mut input = &buf[..n];
        let body = match decoder.decode(&mut input) {
            Ok(None) => continue,
            Ok(Some(body)) => body,
            Err(e) => return Err(frame_err(path, e)),
        };
        return protocol::decode_response(body).map_err(|e| frame_err(path, e));
    }
}

/// A blocking connect that cannot hang: `SO_SNDTIMEO` also bounds the wait when the
/// daemon's listen backlog is full.
fn connect(path: &Path, timeout: Duration) -> Result<UnixStream, ClientError> {
    let sys = |op| {
        move |e: Errno| ClientError::Io {
            op,
            path: path.into(),
            source: e.into(),
        }
    };
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(sys("socket"))?;
    let micros = i64::try_from(timeout.as_micros())
        .unwrap_or(i64::MAX)
        .max(1);
    // Through TimeValLike: time_t is 32 bits on armv7 gnueabihf.
    let tv = <TimeVal as nix::sys::time::TimeValLike>::microseconds(micros);
    socket::setsockopt(&fd, sockopt::SendTimeout, &tv).map_err(sys("set SO_SNDTIMEO"))?;
    let addr = UnixAddr::new(path).map_err(sys("socket path"))?;
    match socket::connect(fd.as_raw_fd(), &addr) {
        Ok(()) => Ok(UnixStream::from(fd)),
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => Err(ClientError::NotRunning {
            path: path.into(),
            refused: false,
        }),
        Err(Errno::ECONNREFUSED) => Err(ClientError::NotRunning {
            path: path.into(),
            refused: true,
        }),
        Err(Errno::EACCES) | Err(Errno::EPERM) => Err(ClientError::PermissionDenied {
            path: path.into(),
            group: socket_group(path),
        }),
        Err(Errno::EAGAIN) | Err(Errno::ETIMEDOUT) => Err(timeout_err(path)),
        Err(e) => Err(sys("connect")(e)),
    }
}

/// The name of the socket file's group, to tell the user which group grants access.
fn socket_group(path: &Path) -> Option<String> {
    let gid = std::fs::metadata(path).ok()?.gid();
    super::group::name_by_gid(gid)
}

fn remaining(deadline: Instant, path: &Path) -> Result<Duration, ClientError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timeout_err(path));
    }
    Ok(left)
}

fn frame_err(path: &Path, error: FrameError) -> ClientError {
    match error {
        FrameError::Version { got, supported } => ClientError::VersionMismatch {
            daemon: got,
            client: supported,
        },
        error => ClientError::Protocol {
            path: path.into(),
            error,
        },
    }
}

fn timeout_err(path: &Path) -> ClientError {
    ClientError::Timeout { path: path.into() }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl Fn(io::Error) -> ClientError + 'a {
    move |source| ClientError::Io {
        op,
        path: path.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_a_user_can_act_on() {
        let path = PathBuf::from("/run/wanfailover.sock");
        let cases = [
            (
                ClientError::NotRunning {
                    path: path.clone(),
                    refused: false,
                },
                "wanfailover daemon is not running (no socket at /run/wanfailover.sock)",
            ),
            (
                ClientError::NotRunning {
                    path: path.clone(),
                    refused: true,
                },
                "wanfailover daemon is not running (/run/wanfailover.sock refused the connection)",
            ),
            (
                ClientError::PermissionDenied {
                    path: path.clone(),
                    group: Some("netadmin".into()),
                },
                "permission denied on /run/wanfailover.sock (need root or group netadmin)",
            ),
            (
                ClientError::PermissionDenied {
                    path,
                    group: Some("root".into()),
                },
                "permission denied on /run/wanfailover.sock (need root)",
            ),
            (
                ClientError::VersionMismatch {
                    daemon: 2,
                    client: 1,
                },
                "protocol mismatch: the daemon speaks control protocol version 2, this client \
                 speaks version 1 (install matching versions)",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }

    #[test]
    fn missing_socket_means_not_running() {
        let path = std::env::temp_dir().join(format!("wf-client-missing-{}", std::process::id()));
        let err = request(&path, &Request::Status, Duration::from_secs(1)).unwrap_err();
        assert!(
            matches!(err, ClientError::NotRunning { refused: false, .. }),
            "{err}"
        );
    }
}

//! The control socket: the protocol shared by the daemon and its CLI, the daemon's
//! non-blocking server, the CLI's blocking client and the CLI's text/JSON rendering.
//!
//! [`protocol`] and [`render`] are pure; [`server`] and [`client`] do the I/O.

pub mod protocol;

pub use protocol::{FrameDecoder, FrameError, Request, Response};

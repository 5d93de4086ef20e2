//! The control socket: the protocol shared by the daemon and its CLI, the daemon's
//! non-blocking server, the CLI's blocking client and the CLI's text/JSON rendering.
//!
//! [`protocol`] and [`render`] are pure; [`server`], [`peer`], [`client`] and [`group`] do the I/O.
//! The wire format is documented for other tools in `docs/control-protocol.md`.

pub mod client;
mod eviction;
pub mod group;
pub mod json;
pub mod peer;
pub mod protocol;
pub mod render;
pub mod server;
mod wire;

pub use peer::Peer;
pub use protocol::{FrameDecoder, FrameError, Request, Response};
pub use server::Server;

//! The poll loop (to be written).
pub mod notify;
pub mod signals;
pub mod state;

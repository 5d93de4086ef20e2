//! The poll loop (to be written).
pub mod notify;

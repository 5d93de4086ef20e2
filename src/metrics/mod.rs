//! The metrics listener (Cargo feature `metrics`, configuration `metrics_listen`): what a
//! fleet's Prometheus scrapes and a technician's browser shows, over HTTP, from the
//! daemon's own poll loop.
//!
//! [`http`] is pure.

pub mod http;

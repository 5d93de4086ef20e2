//! The poll loop (to be written).

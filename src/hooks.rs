//! Hook processes (to be written).

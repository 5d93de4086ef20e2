//! rtnetlink (to be written).

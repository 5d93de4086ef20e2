//! Control socket protocol, server and client (to be written).

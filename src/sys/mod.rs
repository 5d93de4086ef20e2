//! The shell's kernel adapters. The only place with `unsafe`, each block with a `// SAFETY:`.

#[cfg(feature = "checks")]
pub mod check;
pub mod device;
pub mod icmp;
pub mod netlink;
pub mod poll;

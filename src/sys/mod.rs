//! The shell's kernel adapters. The only place with `unsafe` (the crate denies it; each
//! function that needs it allows it for itself, and each block has a `// SAFETY:` line).

#[cfg(feature = "checks")]
pub mod check;
pub mod clients;
pub mod device;
pub mod icmp;
pub mod netlink;
pub mod poll;
pub mod spawn;
pub mod stream;
pub mod sysctl;

//! wanfailover: WAN failover for embedded Linux gateways.
//!
//! # Architecture
//!
//! The daemon is a **sans-IO core in a thin shell**. Everything that decides lives in
//! [`engine`]: per-WAN state machines (one per family of a dual-stack WAN) fed by probe
//! results and link events, a probe statistics window, a policy that turns WAN states into
//! desired default-route metrics (each family ranked on its own),
//! and a reconciler that turns "desired" versus "what the kernel has" into an ordered list
//! of route operations (add the new route, wait for the kernel's ACK, then delete the old
//! one: there is never a moment without a default route). The engine never touches a file
//! descriptor, the clock, the file system or a process. Time comes in as an argument
//! (`now`), decisions go out as [`engine::Action`]s, and [`engine::Engine::poll_at`] says
//! when the engine next needs to be woken. Every decision is therefore testable with a fake
//! clock, without root, sockets or sleeping.
//!
//! The shell is small and does what the engine says:
//! [`sys::netlink`] speaks rtnetlink (dumps, link/address/route events, route add/delete,
//! link counters), [`sys::icmp`] sends and receives ICMP/ICMPv6 echo probes through each
//! WAN, [`control`] is the UNIX-socket protocol shared by the daemon and its CLI,
//! [`hooks`] spawns, reaps and times out transition hooks, and [`daemon`] is the one
//! `poll(2)` loop: its parts (kernel, probes, control socket, metrics listener, signals)
//! own the descriptors and record what they read as engine inputs; once a turn the engine
//! decides, and its actions go back to the part that has the means, until it says "wait
//! until T".
//!
//! [`config`] parses and validates `/etc/wanfailover.conf` into a [`config::Config`]; it is
//! pure too (the caller reads the file).
//!
//! `docs/architecture.md` follows one carrier loss from the netlink datagram to the new
//! route and its ACK, file by file, and lists where each piece of state lives.
//!
//! # Module map
//!
//! | module | role | pure |
//! |---|---|---|
//! | [`config`] | TOML → validated `Config`, errors with file/line/column | yes |
//! | [`engine`] | state machines, statistics, policy, reconcile, history | yes |
//! | [`sys::netlink`] | rtnetlink over `neli` | no |
//! | [`sys::icmp`] | echo probes over `socket2` raw/ping sockets | no |
//! | [`control`] | request/response protocol, server, client | protocol: yes |
//! | [`hooks`] | hook processes | no |
//! | [`daemon`] | the poll loop | no |
//! | [`sort`] | a small stable sort for short lists | yes |
//! | `snmp` | `wanfailover snmp`: net-snmp `pass_persist` over the control socket (feature `snmp`) | all but the stdin loop |
//! | `watch` | `wanfailover status --watch`: live terminal view (feature `watch`) | all but the refresh loop |
//! | `metrics` | `metrics_listen`: `/metrics`, `/status` and a status page over HTTP (feature `metrics`) | all but the listener |

// `unsafe` only in `sys`, where each use is allowed on its own function with a `// SAFETY:`
// line on the block.
#![deny(unsafe_code)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod config;
pub mod control;
pub mod daemon;
pub mod engine;
pub mod hooks;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "snmp")]
pub mod snmp;
pub mod sort;
pub mod sys;
#[cfg(feature = "watch")]
pub mod watch;

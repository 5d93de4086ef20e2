//! wanfailover: WAN failover for embedded Linux gateways.
//!
//! # Architecture
//!
//! The daemon is a **sans-IO core in a thin shell**. Everything that decides lives in
//! [`engine`]: per-WAN state machines fed by probe results and link events, a probe
//! statistics window, a policy that turns WAN states into desired default-route metrics,
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
//! `poll(2)` loop that reads the clock, waits on every descriptor, feeds the engine and
//! drains its actions until it says "wait until T".
//!
//! [`config`] parses and validates `/etc/wanfailover.conf` into a [`config::Config`]; it is
//! pure too (the caller reads the file).
//!
//! # Module map
//!
//! | module | role | pure |
//! |---|---|---|
//! | [`config`] | TOML → validated `Config`, errors with file/line/column | yes |
//! | [`engine`] | state machines, statistics, policy, reconcile, history | yes |
//! | [`sys::netlink`] | rtnetlink over `neli` | no |
//! | [`sys::icmp`] | echo probes over `socket2` raw/ping sockets | no |
//! | `check`, `sys::check` | HTTP, DNS and TCP checks (feature `checks`): wire formats and verdicts; the runners | check: yes |
//! | [`control`] | request/response protocol, server, client | protocol: yes |
//! | [`hooks`] | hook processes | no |
//! | [`daemon`] | the poll loop | no |
//! | [`sort`] | a small stable sort for short lists | yes |

#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "checks")]
pub mod check;
pub mod config;
pub mod control;
pub mod daemon;
pub mod engine;
pub mod hooks;
pub mod sort;
pub mod sys;

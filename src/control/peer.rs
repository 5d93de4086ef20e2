//! Who is on the other end of a control connection, and whether they may steer.
//!
//! The socket file is created `0660` owned by root and the socket group, so the kernel
//! already keeps everyone else out. The daemon still checks `SO_PEERCRED` for every
//! mutating request: a descriptor can be passed to another process, and a process with
//! `CAP_DAC_OVERRIDE` ignores the file mode.
//!
//! `SO_PEERCRED` carries only the primary gid. A user added to the socket group with
//! `usermod -aG` has it as a *supplementary* group, so the daemon also reads the `Groups:`
//! line of `/proc/<pid>/status` right after `accept` (the connecting process is alive then,
//! since it is waiting for our answer). Where that file cannot be read, only the primary
//! gid counts.

use std::os::unix::net::UnixStream;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

/// The credentials of a connected client, read once at `accept`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// 0 when the peer is in a PID namespace the daemon cannot see.
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    /// May send mutating requests (prefer, auto, order, reload, stop).
    pub may_steer: bool,
}

/// The rule for mutating requests: root, the daemon's own user (a daemon run unprivileged
/// with `CAP_NET_ADMIN`), or a member of the socket group (primary or supplementary).
pub fn may_steer(
    uid: u32,
    gid: u32,
    supplementary: &[u32],
    group: Option<u32>,
    daemon_uid: u32,
) -> bool {
    if uid == 0 || uid == daemon_uid {
        return true;
    }
    match group {
        Some(g) => gid == g || supplementary.contains(&g),
        None => false,
    }
}

/// The supplementary groups from the text of `/proc/<pid>/status` (`Groups:\t10 27 1000`).
/// Unparsable entries are skipped: they can only make the check stricter.
pub fn groups_from_proc_status(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Groups:"))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the peer's credentials and decides `may_steer`. `None` if `SO_PEERCRED` fails
/// (the connection is then refused).
pub fn read_peer(stream: &UnixStream, group: Option<u32>, daemon_uid: u32) -> Option<Peer> {
    let cred = getsockopt(stream, PeerCredentials).ok()?;
    let (pid, uid, gid) = (cred.pid(), cred.uid(), cred.gid());
    let needs_groups = group.is_some() && !may_steer(uid, gid, &[], group, daemon_uid);
    let supplementary = if needs_groups && pid > 0 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|s| groups_from_proc_status(&s))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let may_steer = may_steer(uid, gid, &supplementary, group, daemon_uid);
    Some(Peer {
        pid,
        uid,
        gid,
        may_steer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_steer() {
        const GROUP: Option<u32> = Some(150);
        const DAEMON: u32 = 0;
        // (uid, gid, supplementary, group, expected)
        type Row = (u32, u32, &'static [u32], Option<u32>, bool);
        let table: [Row; 7] = [
            (0, 0, &[], None, true),               // root always
            (0, 0, &[], GROUP, true),              // root always
            (1000, 1000, &[], None, false),        // no group configured
            (1000, 1000, &[], GROUP, false),       // not a member
            (1000, 150, &[], GROUP, true),         // primary group
            (1000, 1000, &[27, 150], GROUP, true), // supplementary group
            (65534, 65534, &[150], None, false),   // group membership without a group set
        ];
        for (uid, gid, sup, group, expected) in table {
            assert_eq!(
                may_steer(uid, gid, sup, group, DAEMON),
                expected,
                "{uid} {gid} {sup:?}"
            );
        }
        assert!(may_steer(998, 998, &[], None, 998), "the daemon's own user");
    }

    #[test]
    fn groups_line_is_parsed() {
        let status = "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 27 150 \nVmPeak:\t1 kB\n";
        assert_eq!(groups_from_proc_status(status), [4, 27, 150]);
        assert_eq!(groups_from_proc_status("Groups:\t\n"), Vec::<u32>::new());
        assert_eq!(groups_from_proc_status("Name:\tx\n"), Vec::<u32>::new());
        assert_eq!(groups_from_proc_status("Groups:\tx 7\n"), [7]);
    }

    #[test]
    fn own_credentials_over_a_socket_pair() {
        let (a, _b) = UnixStream::pair().unwrap();
        let peer = read_peer(&a, Some(4242), nix::unistd::geteuid().as_raw()).unwrap();
        assert_eq!(peer.pid, std::process::id() as i32);
        assert_eq!(peer.uid, nix::unistd::getuid().as_raw());
        assert!(peer.may_steer);
    }
}

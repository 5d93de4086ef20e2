//! `wanfailover snmp` under Debian's real net-snmp: snmpd runs in the lab's gateway
//! namespace with a `pass_persist` line for the binary under test, and `snmpwalk`,
//! `snmpget`, `snmptable` and `snmpset` ask it over the namespace's loopback. What they
//! print is compared with `status --json`. Also: `WANFAILOVER-MIB` is `smilint` clean.
//!
//! Debian ships no IETF MIB modules (they are not free software there), so the tests give
//! `smilint` and `snmptable` small stand-ins for SNMPv2-SMI, -TC and -CONF (below) after
//! whatever real modules the system has. NET-SNMP-MIB (for `netSnmpPlaypen`) comes from
//! Debian's `libsnmp-base`.
#![cfg(feature = "snmp")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

const BASE: &str = ".1.3.6.1.4.1.8072.9999.9999.57";
/// snmpd's port on the gateway namespace's loopback (the namespace is the test's own).
const AGENT: &str = "127.0.0.1:16161";

/// The clients' request timeout (`-t 3 -r 0`): an answer must come before the manager
/// gives up. Generous, because the machine may be busy; the agent itself waits 0.5 s.
const MANAGER_TIMEOUT: Duration = Duration::from_secs(3);

/// Minimal stand-ins for the SMIv2 base modules (RFC 2578, 2579, 2580): the names, OIDs
/// and types that WANFAILOVER-MIB and NET-SNMP-MIB import. Macro bodies are left out;
/// both libsmi and net-snmp know the macros themselves.
const SMI_STANDINS: [(&str, &str); 3] = [
    (
        "SNMPv2-SMI",
        "SNMPv2-SMI DEFINITIONS ::= BEGIN
org OBJECT IDENTIFIER ::= { iso 3 }
dod OBJECT IDENTIFIER ::= { org 6 }
internet OBJECT IDENTIFIER ::= { dod 1 }
directory OBJECT IDENTIFIER ::= { internet 1 }
mgmt OBJECT IDENTIFIER ::= { internet 2 }
mib-2 OBJECT IDENTIFIER ::= { mgmt 1 }
transmission OBJECT IDENTIFIER ::= { mib-2 10 }
experimental OBJECT IDENTIFIER ::= { internet 3 }
private OBJECT IDENTIFIER ::= { internet 4 }
enterprises OBJECT IDENTIFIER ::= { private 1 }
security OBJECT IDENTIFIER ::= { internet 5 }
snmpV2 OBJECT IDENTIFIER ::= { internet 6 }
snmpDomains OBJECT IDENTIFIER ::= { snmpV2 1 }
snmpProxys OBJECT IDENTIFIER ::= { snmpV2 2 }
snmpModules OBJECT IDENTIFIER ::= { snmpV2 3 }
MODULE-IDENTITY MACRO ::= BEGIN END
OBJECT-IDENTITY MACRO ::= BEGIN END
OBJECT-TYPE MACRO ::= BEGIN END
NOTIFICATION-TYPE MACRO ::= BEGIN END
ObjectName ::= OBJECT IDENTIFIER
NotificationName ::= OBJECT IDENTIFIER
Integer32 ::= INTEGER (-2147483648..2147483647)
IpAddress ::= [APPLICATION 0] IMPLICIT OCTET STRING (SIZE (4))
Counter32 ::= [APPLICATION 1] IMPLICIT INTEGER (0..4294967295)
Gauge32 ::= [APPLICATION 2] IMPLICIT INTEGER (0..4294967295)
Unsigned32 ::= [APPLICATION 2] IMPLICIT INTEGER (0..4294967295)
TimeTicks ::= [APPLICATION 3] IMPLICIT INTEGER (0..4294967295)
Opaque ::= [APPLICATION 4] IMPLICIT OCTET STRING
Counter64 ::= [APPLICATION 6] IMPLICIT INTEGER (0..18446744073709551615)
zeroDotZero OBJECT IDENTIFIER ::= { 0 0 }
END
",
    ),
    (
        "SNMPv2-TC",
        "SNMPv2-TC DEFINITIONS ::= BEGIN
IMPORTS TimeTicks FROM SNMPv2-SMI;
TEXTUAL-CONVENTION MACRO ::= BEGIN END
DisplayString ::= TEXTUAL-CONVENTION
    DISPLAY-HINT \"255a\"
    STATUS current
    DESCRIPTION \"Printable ASCII.\"
    SYNTAX OCTET STRING (SIZE (0..255))
TruthValue ::= TEXTUAL-CONVENTION
    STATUS current
    DESCRIPTION \"A boolean.\"
    SYNTAX INTEGER { true(1), false(2) }
TimeStamp ::= TEXTUAL-CONVENTION
    STATUS current
    DESCRIPTION \"sysUpTime at an event.\"
    SYNTAX TimeTicks
END
",
    ),
    (
        "SNMPv2-CONF",
        "SNMPv2-CONF DEFINITIONS ::= BEGIN
OBJECT-GROUP MACRO ::= BEGIN END
NOTIFICATION-GROUP MACRO ::= BEGIN END
MODULE-COMPLIANCE MACRO ::= BEGIN END
AGENT-CAPABILITIES MACRO ::= BEGIN END
END
",
    ),
];

/// Writes the stand-ins into `dir/standins` and returns that directory.
fn standins(dir: &Path) -> PathBuf {
    let d = dir.join("standins");
    std::fs::create_dir_all(&d).expect("create stand-in dir");
    for (name, text) in SMI_STANDINS {
        std::fs::write(d.join(format!("{name}.txt")), text).expect("write stand-in");
    }
    d
}

fn mib_file() -> PathBuf {
    repo_root().join("mibs/WANFAILOVER-MIB.txt")
}

#[test]
fn mib_is_smilint_clean_at_the_strictest_level() {
    if !have(&["smilint"]) {
        return;
    }
    let dir = TempDir::new("smilint");
    let standins = standins(&dir.0);
    // Real modules (in smilint's configured path) first, the stand-ins after them.
    let out = Command::new("smilint")
        .args(["-l", "9"])
        .arg(mib_file())
        .env("SMIPATH", format!(":{}", standins.display()))
        .output()
        .expect("run smilint");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // smilint exits 0 even with errors: the report must be empty.
    assert!(report.trim().is_empty(), "smilint -l 9:\n{report}");
}

/// snmpd in the gateway namespace, killed on drop (also when a test fails).
struct Snmpd {
    child: Child,
    log: PathBuf,
}

impl Snmpd {
    /// Starts snmpd serving `pass_persist BASE <binary> snmp --socket SOCKET` and waits
    /// until it answers.
    fn start(lab: &Lab, dir: &Path, socket: &Path) -> Snmpd {
        let (program, prefix) = binary_command();
        let command: Vec<String> = std::iter::once(program)
            .chain(prefix)
            .chain([
                "snmp".into(),
                "--socket".into(),
                socket.display().to_string(),
            ])
            .collect();
        let conf = dir.join("snmpd.conf");
        std::fs::write(
            &conf,
            format!(
                "agentAddress udp:{AGENT}\nrocommunity public 127.0.0.1\n\
                 rwcommunity private 127.0.0.1\ndontLogTCPWrappersConnects yes\n\
                 pass_persist {BASE} {}\n",
                command.join(" ")
            ),
        )
        .expect("write snmpd.conf");
        let log = dir.join("snmpd.log");
        let persist = dir.join("snmp-persist");
        std::fs::create_dir_all(&persist).expect("create persistent dir");
        // -C: no other config file; -M/MIBS: no MIB loading (FACTS.md); -f: foreground;
        // -D: log when the pass_persist program is (re)started.
        let child = lab
            .gw_command("snmpd")
            .args(["-f", "-C", "-c"])
            .arg(&conf)
            .args(["-M", "/nonexistent", "-Ducd-snmp/pass_persist", "-Lf"])
            .arg(&log)
            .env("MIBS", "")
            .env("SNMP_PERSISTENT_DIR", &persist)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn snmpd");
        let snmpd = Snmpd { child, log };
        // sysUpTime.0 comes from snmpd itself: it answers once snmpd listens.
        let up = wait_for(Duration::from_secs(10), || {
            snmp(lab, dir, "snmpget", &[".1.3.6.1.2.1.1.3.0"])
                .0
                .status
                .success()
        });
        assert!(up, "snmpd did not come up:\n{}", snmpd.log_text());
        snmpd
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How often snmpd started the program. More than once means snmpd killed it: an
    /// answer it could not parse, or the program died.
    fn program_starts(&self) -> usize {
        self.log_text()
            .matches("open_persist_pipe: opened the pipes")
            .count()
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a net-snmp client in the gateway namespace against snmpd, numeric OIDs, no MIBs.
/// Returns its output and how long it took.
fn snmp(lab: &Lab, dir: &Path, tool: &str, args: &[&str]) -> (Output, Duration) {
    let community = if tool == "snmpset" {
        "private"
    } else {
        "public"
    };
    let started = Instant::now();
    let out = lab
        .gw_command(tool)
        .args(["-v2c", "-c", community, "-On", "-t", "3", "-r", "0"])
        .args(["-M", "/nonexistent", AGENT])
        .args(args)
        .env("MIBS", "")
        .env("SNMP_PERSISTENT_DIR", dir.join("snmp-persist"))
        .output()
        .expect("run net-snmp client");
    (out, started.elapsed())
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `snmpwalk -On` lines as `(OID below BASE, TYPE, VALUE)`: `.1.2.1.4.1 = INTEGER: 3`.
fn walk(lab: &Lab, dir: &Path) -> Vec<(String, String, String)> {
    let (out, took) = snmp(lab, dir, "snmpwalk", &[BASE]);
    assert!(out.status.success(), "snmpwalk failed:\n{}", text(&out));
    let rows: Vec<(String, String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (oid, rest) = l.split_once(" = ")?;
            let (ty, value) = rest.split_once(": ").unwrap_or((rest, ""));
            let below = oid.strip_prefix(BASE)?;
            Some((
                below.to_string(),
                ty.to_string(),
                value.trim_matches('"').to_string(),
            ))
        })
        .collect();
    eprintln!(
        "snmpwalk of {} instances took {} ms",
        rows.len(),
        took.as_millis()
    );
    rows
}

fn value<'a>(rows: &'a [(String, String, String)], oid: &str) -> Option<(&'a str, &'a str)> {
    rows.iter()
        .find(|(o, _, _)| o == oid)
        .map(|(_, t, v)| (t.as_str(), v.as_str()))
}

/// Waits until `status --json` shows every WAN up and `active` as the active one.
fn wait_settled(d: &Daemon, n: u32, active: &str) {
    let settled = wait_for(Duration::from_secs(15), || {
        let (_, json, _) = d.cli(&["status", "--json"]);
        (1..=n).all(|i| {
            let name = format!("wan{i}");
            json_field_of(&json, &name, "state").as_deref() == Some("up")
                && json_field_of(&json, &name, "latency_us").is_some_and(|l| l != "null")
        }) && json_field_of(&json, active, "active").as_deref() == Some("true")
    });
    assert!(settled, "WANs did not settle:\n{}", d.log_text());
}

fn state_number(state: &str) -> &'static str {
    match state {
        "init" => "2",
        "up" => "3",
        "degraded" => "4",
        "down" => "5",
        "linkdown" => "6",
        "noroute" => "7",
        "disabled" => "8",
        _ => "1",
    }
}

/// Every WAN's stable columns in the walk equal what `status --json` says.
fn assert_walk_matches_status(rows: &[(String, String, String)], json: &str, n: u32) {
    for i in 1..=n {
        let name = format!("wan{i}");
        let field = |f: &str| json_field_of(json, &name, f).unwrap_or_default();
        let col = |c: u32| value(rows, &format!(".1.2.1.{c}.{i}"));
        assert_eq!(col(2), Some(("STRING", name.as_str())));
        assert_eq!(col(3), Some(("STRING", field("interface").as_str())));
        assert_eq!(col(4), Some(("INTEGER", state_number(&field("state")))));
        assert_eq!(col(5), Some(("Gauge32", field("priority").as_str())));
        assert_eq!(col(6), Some(("Gauge32", field("metric").as_str())));
        let truth = |b: String| if b == "true" { "1" } else { "2" };
        assert_eq!(col(7), Some(("INTEGER", truth(field("active")))));
        assert_eq!(col(8), Some(("INTEGER", truth(field("preferred")))));
        // Measurements move between the walk and the JSON: their presence and types must
        // agree, and loss must be in range.
        for (c, key) in [(9, "latency_us"), (11, "loss_pct")] {
            assert_eq!(col(c).is_some(), field(key) != "null", "{name} {key}");
            assert!(col(c).map_or(true, |(t, _)| t == "Gauge32"));
        }
        let loss: u32 = col(11).map_or(0, |(_, v)| v.parse().unwrap_or(u32::MAX));
        assert!(loss <= 10_000, "{name} loss {loss}");
        assert_eq!(col(14).map(|(t, _)| t), Some("Timeticks"));
        assert_eq!(col(15).map(|(t, _)| t), Some("Counter32"));
    }
}

#[test]
fn snmpwalk_snmpget_and_snmptable_agree_with_status() {
    if !have(&["snmpd", "snmpwalk", "snmpget", "snmptable", "snmpset"]) {
        return;
    }
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let dir = TempDir::new("snmp");
    let mut d = Daemon::start(&lab, &dir.0, &lab_config(2, &dir.0, "", ""));
    wait_settled(&d, 2, "wan1");
    let snmpd = Snmpd::start(&lab, &dir.0, &d.socket);

    let rows = walk(&lab, &dir.0);
    let (_, json, _) = d.cli(&["status", "--json"]);
    let s = |v: &'static str| Some(("STRING", v));
    assert_eq!(value(&rows, ".1.1.1.0"), s("wan1"), "{}", snmpd.log_text());
    assert_eq!(value(&rows, ".1.1.2.0"), Some(("INTEGER", "1")));
    assert_eq!(value(&rows, ".1.1.3.0"), Some(("INTEGER", "2")));
    assert_walk_matches_status(&rows, &json, 2);
    // Nothing but the scalars and the table's columns 2..=17.
    for (oid, _, _) in &rows {
        let known = oid.starts_with(".1.1.")
            || oid
                .strip_prefix(".1.2.1.")
                .and_then(|r| r.split('.').next()?.parse::<u32>().ok())
                .is_some_and(|c| (2..=17).contains(&c));
        assert!(known, "unexpected instance {oid}");
    }

    let (out, _) = snmp(
        &lab,
        &dir.0,
        "snmpget",
        &[&format!("{BASE}.1.2.1.2.2"), &format!("{BASE}.1.1.4.0")],
    );
    let got = text(&out);
    assert!(
        got.contains(&format!("{BASE}.1.2.1.2.2 = STRING: \"wan2\"")),
        "{got}"
    );
    assert!(
        got.contains(&format!("{BASE}.1.1.4.0 = No Such Instance")),
        "{got}"
    );

    let (out, _) = snmp(
        &lab,
        &dir.0,
        "snmpset",
        &[&format!("{BASE}.1.1.1.0"), "s", "x"],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("notWritable"), "{}", text(&out));

    snmptable_with_the_mib(&lab, &dir.0, &json);

    // A failover shows up within the agent's cache time.
    lab.carrier(1, false);
    let moved = wait_for(Duration::from_secs(10), || {
        let rows = walk(&lab, &dir.0);
        value(&rows, ".1.1.1.0") == s("wan2")
            && value(&rows, ".1.2.1.4.1") == Some(("INTEGER", "6"))
    });
    assert!(moved, "walk did not follow the failover:\n{}", d.log_text());

    // The daemon stops: every request is answered at once, with nothing.
    d.stop();
    let gone = wait_for(Duration::from_secs(5), || {
        let (out, took) = snmp(&lab, &dir.0, "snmpwalk", &[BASE]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(took < MANAGER_TIMEOUT, "walk took {took:?}");
        text(&out).contains("No Such Instance currently exists")
    });
    assert!(gone, "{}", snmpd.log_text());
    assert_eq!(snmpd.program_starts(), 1, "{}", snmpd.log_text());
}

fn snmptable_with_the_mib(lab: &Lab, dir: &Path, json: &str) {
    let path = format!(
        "{}:/usr/share/snmp/mibs:{}",
        standins(dir).display(),
        repo_root().join("mibs").display()
    );
    let out = lab
        .gw_command("snmptable")
        .args(["-v2c", "-c", "public", "-M", &path, "-m", "WANFAILOVER-MIB"])
        .args(["-Cf", ",", AGENT, "WANFAILOVER-MIB::wanfWanTable"])
        .env("MIBS", "")
        .env("SNMP_PERSISTENT_DIR", dir.join("snmp-persist"))
        .output()
        .expect("run snmptable");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "snmptable:\n{}", text(&out));
    let mut lines = table.lines().skip_while(|l| !l.starts_with("wanfWanName,"));
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with(
            "wanfWanName,wanfWanInterface,wanfWanState,wanfWanPriority,wanfWanMetric,wanfWanActive"
        ),
        "{table}"
    );
    for (i, line) in lines.enumerate() {
        let name = format!("wan{}", i + 1);
        let field = |f: &str| json_field_of(json, &name, f).unwrap_or_default();
        let cells: Vec<&str> = line.split(',').collect();
        let expected = [
            name.clone(),
            field("interface"),
            field("state"),
            field("priority"),
            field("metric"),
            field("active"),
            field("preferred"),
        ];
        assert_eq!(cells[..7], expected, "{table}");
        // No byte counters from this daemon: snmptable shows `?`.
        assert_eq!(cells[cells.len() - 2..], ["?", "?"], "{table}");
    }
}

#[test]
fn a_stuck_daemon_gets_none_within_the_timeout() {
    if !have(&["snmpd", "snmpwalk"]) {
        return;
    }
    let Some(lab) = open_lab(1, &["--no-routes"]) else {
        return;
    };
    let dir = TempDir::new("snmp-stuck");
    // A socket that accepts connections (the kernel does, up to the backlog) but never
    // answers: a daemon stuck in its loop.
    let socket = dir.0.join("stuck.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let snmpd = Snmpd::start(&lab, &dir.0, &socket);
    let (out, took) = snmp(&lab, &dir.0, "snmpwalk", &[BASE]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("No Such Instance currently exists"),
        "{}\n{}",
        text(&out),
        snmpd.log_text()
    );
    eprintln!("walk against a stuck daemon took {} ms", took.as_millis());
    // A hang would exceed the manager's timeout; the agent's own is 0.5 s.
    assert!(took < MANAGER_TIMEOUT, "walk took {took:?}");
    assert_eq!(snmpd.program_starts(), 1, "{}", snmpd.log_text());
}

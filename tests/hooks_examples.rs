//! The example hooks of `dist/hooks/` against real receivers on the loopback of a
//! namespace the test creates (a one-WAN lab): an HTTP listener in this process (bound
//! inside the namespace), Debian's `mosquitto` broker with `mosquitto_sub`, `snmptrapd`
//! logging to a file, and a UNIX datagram socket standing in for `/dev/log`.
//!
//! Each hook runs with the environment the daemon gives it (cleared, `PATH` set, the
//! `WAN_*` variables) plus `WANFAILOVER_HOOKS_CONF` pointing at a settings file written
//! here. One test also runs the webhook from the real daemon on a real failover.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::*;
use wanfailover::hooks::HOOK_PATH;

const BASE: &str = ".1.3.6.1.4.1.8072.9999.9999.57";

/// A WAN going down while another carries the traffic.
const TRANSITION: [(&str, &str); 6] = [
    ("WAN_NAME", "lte"),
    ("WAN_INTERFACE", "wwan0"),
    ("WAN_STATE", "down"),
    ("WAN_PREVIOUS_STATE", "up"),
    ("WAN_ACTIVE", "fiber"),
    ("WAN_EVENT", "transition"),
];

/// The last usable WAN going down.
const NO_CONNECTIVITY: [(&str, &str); 7] = [
    ("WAN_NAME", "lte"),
    ("WAN_INTERFACE", "wwan0"),
    ("WAN_STATE", "down"),
    ("WAN_PREVIOUS_STATE", "up"),
    ("WAN_ACTIVE", ""),
    ("WAN_EVENT", "connectivity"),
    ("WAN_CONNECTIVITY", "none"),
];

fn hook(name: &str) -> PathBuf {
    repo_root().join("dist/hooks").join(name)
}

/// A namespace with only its loopback, and a directory; both removed on drop.
struct Place {
    lab: Lab,
    dir: TempDir,
}

impl Place {
    fn new(tag: &str) -> Option<Place> {
        Some(Place {
            lab: open_lab(1, &["--no-routes"])?,
            dir: TempDir::new(tag),
        })
    }

    fn ns(&self) -> String {
        self.lab.gw_ns()
    }

    /// Writes the hook settings file and returns its path.
    fn settings(&self, text: &str) -> PathBuf {
        let p = self.dir.0.join("hooks.conf");
        std::fs::write(&p, text).expect("write hook settings");
        p
    }

    /// Runs `hook` in the namespace as the daemon would: empty environment but for
    /// `PATH`, the event's variables and the settings file.
    fn run(&self, hook: &Path, event: &[(&str, &str)], path: &str) -> Output {
        let get = |k: &str| event.iter().find(|(n, _)| *n == k).map_or("", |(_, v)| *v);
        let out = self
            .lab
            .gw_command("env")
            .arg("-i")
            .arg(format!("PATH={path}"))
            .arg(format!(
                "WANFAILOVER_HOOKS_CONF={}",
                self.dir.0.join("hooks.conf").display()
            ))
            .args(event.iter().map(|(k, v)| format!("{k}={v}")))
            .arg(hook)
            .args([get("WAN_NAME"), get("WAN_EVENT")])
            .stdin(Stdio::null())
            .output()
            .expect("run hook");
        assert!(
            out.status.success(),
            "{} failed: {}{}",
            hook.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// A process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------- webhook

/// One HTTP request: the head (request line and headers) and the body.
#[derive(Debug)]
struct Request {
    head: String,
    body: String,
}

/// An HTTP server in namespace `ns` on 127.0.0.1: answers every request `200 OK` and
/// sends it down the channel. Returns the port.
fn http_receiver(ns: &str) -> (u16, mpsc::Receiver<Request>) {
    let listener = in_netns(ns, || TcpListener::bind("127.0.0.1:0").expect("bind"));
    let port = listener.local_addr().expect("address").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Some(req) = serve_one(stream) {
                if tx.send(req).is_err() {
                    return;
                }
            }
        }
    });
    (port, rx)
}

fn serve_one(mut stream: TcpStream) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    Some(Request {
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Checks the JSON body: the event fields exactly, host and time by shape.
fn assert_event_json(body: &str, fields: &str) {
    let prefix = format!("{{{fields},\"host\":\"");
    assert!(
        body.starts_with(&prefix),
        "{body}\nexpected to start with {prefix}"
    );
    let time = body
        .rsplit_once(",\"time\":\"")
        .map(|(_, t)| t.trim_end_matches("\"}"))
        .unwrap_or_default();
    assert_eq!(time.len(), "2025-07-01T12:00:00Z".len(), "{body}");
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{body}");
}

#[test]
fn webhook_posts_json_with_curl() {
    if !have(&["curl"]) {
        return;
    }
    let Some(place) = Place::new("hook-webhook") else {
        return;
    };
    let (port, requests) = http_receiver(&place.ns());
    place.settings(&format!(
        "WEBHOOK_URL=\"http://127.0.0.1:{port}/wan-events\"\nWEBHOOK_HEADER=\"X-Token: t0k\"\n"
    ));
    let mut event = TRANSITION;
    event[1] = ("WAN_INTERFACE", "we\"ird\\");
    place.run(&hook("webhook"), &event, HOOK_PATH);
    let req = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("a request");
    assert!(
        req.head.starts_with("POST /wan-events HTTP/1.1\r\n"),
        "{req:?}"
    );
    assert_eq!(header(&req, "content-type"), Some("application/json"));
    assert_eq!(header(&req, "x-token"), Some("t0k"));
    assert_event_json(
        &req.body,
        r#""event":"transition","wan":"lte","interface":"we\"ird\\","state":"down","previous_state":"up","active":"fiber","connectivity":null"#,
    );
}

#[test]
fn webhook_falls_back_to_busybox_wget() {
    if !have(&["busybox"]) {
        return;
    }
    let Some(place) = Place::new("hook-wget") else {
        return;
    };
    // A PATH with nothing but BusyBox applets, as on a small gateway: no curl.
    let bin = place.dir.0.join("bin");
    std::fs::create_dir_all(&bin).expect("create bin");
    let busybox = Command::new("sh")
        .args(["-c", "command -v busybox"])
        .output()
        .expect("find busybox");
    let busybox = String::from_utf8_lossy(&busybox.stdout).trim().to_string();
    for applet in ["date", "uname", "sed", "tr", "wget"] {
        std::os::unix::fs::symlink(&busybox, bin.join(applet)).expect("symlink applet");
    }
    let (port, requests) = http_receiver(&place.ns());
    place.settings(&format!("WEBHOOK_URL=\"http://127.0.0.1:{port}/hook\"\n"));
    place.run(
        &hook("webhook"),
        &NO_CONNECTIVITY,
        bin.to_str().expect("utf-8"),
    );
    let req = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("a request");
    assert!(req.head.starts_with("POST /hook HTTP/1.1\r\n"), "{req:?}");
    assert!(
        header(&req, "user-agent").is_some_and(|ua| ua.contains("Wget")),
        "{req:?}"
    );
    assert_event_json(
        &req.body,
        r#""event":"connectivity","wan":"lte","interface":"wwan0","state":"down","previous_state":"up","active":"","connectivity":"none""#,
    );
}

#[test]
fn hooks_without_settings_do_nothing() {
    let Some(place) = Place::new("hook-unset") else {
        return;
    };
    place.settings("# nothing configured\n");
    for name in ["webhook", "mqtt", "snmp-trap"] {
        let out = place.run(&hook(name), &TRANSITION, HOOK_PATH);
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{name}");
    }
}

// ---------------------------------------------------------------- MQTT

#[test]
fn mqtt_publishes_to_a_real_broker() {
    if !have(&["mosquitto", "mosquitto_sub", "mosquitto_pub"]) {
        return;
    }
    let Some(place) = Place::new("hook-mqtt") else {
        return;
    };
    let conf = place.dir.0.join("mosquitto.conf");
    std::fs::write(&conf, "listener 18830 127.0.0.1\nallow_anonymous true\n")
        .expect("write mosquitto.conf");
    let _broker = Running(
        place
            .lab
            .gw_command("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto"),
    );
    // The broker listens once a connection from inside the namespace succeeds.
    let listening = wait_for(Duration::from_secs(10), || {
        in_netns(&place.ns(), || {
            TcpStream::connect("127.0.0.1:18830").is_ok()
        })
    });
    assert!(listening, "mosquitto did not start");
    // Retained, so a subscriber that comes afterwards gets it: no race with the hook.
    place.settings("MQTT_HOST=127.0.0.1\nMQTT_PORT=18830\nMQTT_TOPIC=gw/events\nMQTT_RETAIN=1\n");
    place.run(&hook("mqtt"), &TRANSITION, HOOK_PATH);
    let out = place
        .lab
        .gw_command("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", "18830", "-t", "gw/#"])
        .args(["-F", "%r %t %p", "-C", "1", "-W", "10"])
        .output()
        .expect("run mosquitto_sub");
    let text = String::from_utf8_lossy(&out.stdout);
    let message = text
        .strip_prefix("1 gw/events ")
        .unwrap_or_else(|| panic!("not a retained message on gw/events: {text}"));
    assert_event_json(
        message.trim_end(),
        r#""event":"transition","wan":"lte","interface":"wwan0","state":"down","previous_state":"up","active":"fiber","connectivity":null"#,
    );
}

// ---------------------------------------------------------------- SNMP trap

#[test]
fn snmp_trap_reaches_snmptrapd() {
    if !have(&["snmptrapd", "snmptrap"]) {
        return;
    }
    let Some(place) = Place::new("hook-trap") else {
        return;
    };
    let dir = &place.dir.0;
    let conf = dir.join("snmptrapd.conf");
    std::fs::write(
        &conf,
        "snmpTrapdAddr udp:127.0.0.1:16162\ndisableAuthorization yes\n",
    )
    .expect("write snmptrapd.conf");
    let log = dir.join("traps.log");
    let persist = dir.join("snmp-persist");
    std::fs::create_dir_all(&persist).expect("create persistent dir");
    let _trapd = Running(
        place
            .lab
            .gw_command("snmptrapd")
            .args(["-f", "-C", "-c"])
            .arg(&conf)
            .args(["-M", "/nonexistent", "-On", "-Lf"])
            .arg(&log)
            .env("MIBS", "")
            .env("SNMP_PERSISTENT_DIR", &persist)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn snmptrapd"),
    );
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(10), || read()
            .contains("NET-SNMP version")),
        "snmptrapd did not start: {}",
        read()
    );
    place.settings("TRAP_HOST=127.0.0.1:16162\n");
    place.run(&hook("snmp-trap"), &TRANSITION, HOOK_PATH);
    place.run(&hook("snmp-trap"), &NO_CONNECTIVITY, HOOK_PATH);
    let expected = [
        format!("= OID: {BASE}.0.1"),
        format!("{BASE}.1.3.1.0 = STRING: \"transition\""),
        format!("{BASE}.1.3.2.0 = STRING: \"lte\""),
        format!("{BASE}.1.3.3.0 = STRING: \"wwan0\""),
        format!("{BASE}.1.3.4.0 = INTEGER: 5"),
        format!("{BASE}.1.3.5.0 = INTEGER: 3"),
        format!("{BASE}.1.3.6.0 = STRING: \"fiber\""),
        format!("= OID: {BASE}.0.2"),
        format!("{BASE}.1.3.7.0 = INTEGER: 1"),
    ];
    let all_there = wait_for(Duration::from_secs(10), || {
        let text = read();
        expected.iter().all(|e| text.contains(e.as_str()))
    });
    assert!(all_there, "traps logged:\n{}", read());
}

// ---------------------------------------------------------------- syslog

#[test]
fn syslog_line_reaches_the_socket() {
    if !have(&["logger"]) {
        return;
    }
    let Some(place) = Place::new("hook-syslog") else {
        return;
    };
    let socket_path = place.dir.0.join("log.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind log socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    place.settings(&format!(
        "SYSLOG_SOCKET={}\nSYSLOG_TAG=wanfailover\n",
        socket_path.display()
    ));
    let recv = || {
        let mut buf = [0u8; 2048];
        let n = socket.recv(&mut buf).expect("a syslog datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    place.run(&hook("syslog"), &TRANSITION, HOOK_PATH);
    let line = recv();
    // daemon (3) * 8 + warning (4) = 28
    assert!(line.starts_with("<28>"), "{line}");
    assert!(
        line.ends_with("wanfailover: transition lte (wwan0): up -> down; active fiber"),
        "{line}"
    );
    let mut one_family = TRANSITION.to_vec();
    one_family.push(("WAN_FAMILY", "ipv6"));
    place.run(&hook("syslog"), &one_family, HOOK_PATH);
    let line = recv();
    assert!(
        line.ends_with("wanfailover: transition lte ipv6 (wwan0): up -> down; active fiber"),
        "{line}"
    );
    place.run(&hook("syslog"), &NO_CONNECTIVITY, HOOK_PATH);
    let line = recv();
    assert!(line.starts_with("<28>"), "{line}");
    assert!(
        line.ends_with("wanfailover: connectivity none: every WAN is down (lte)"),
        "{line}"
    );
    let mut back = NO_CONNECTIVITY;
    back[6] = ("WAN_CONNECTIVITY", "full");
    back[2] = ("WAN_STATE", "up");
    place.run(&hook("syslog"), &back, HOOK_PATH);
    let line = recv();
    // daemon (3) * 8 + notice (5) = 29
    assert!(line.starts_with("<29>"), "{line}");
    assert!(
        line.ends_with("connectivity full: lte is usable again"),
        "{line}"
    );
}

// ---------------------------------------------------------------- all of them

#[test]
fn hooks_are_shellcheck_clean() {
    if !have(&["shellcheck"]) {
        return;
    }
    let out = Command::new("shellcheck")
        .args(["-s", "sh"])
        .args(["webhook", "mqtt", "syslog", "snmp-trap"].map(hook))
        .output()
        .expect("run shellcheck");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn webhook_from_the_real_daemon_on_a_failover() {
    if !have(&["curl"]) {
        return;
    }
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let dir = TempDir::new("hook-daemon");
    let (port, requests) = http_receiver(&lab.gw_ns());
    install(
        &dir.0,
        &["webhook"],
        &format!("WEBHOOK_URL=\"http://127.0.0.1:{port}/e\"\n"),
    );
    let d = Daemon::start(&lab, &dir.0, &carrier_only_config(&dir.0));
    let settled = wait_for(Duration::from_secs(15), || {
        d.state_of("wan1").as_deref() == Some("up") && d.state_of("wan2").as_deref() == Some("up")
    });
    assert!(settled, "{}", d.log_text());
    while requests.recv_timeout(Duration::from_millis(500)).is_ok() {}

    lab.carrier(1, false);
    let mut bodies = Vec::new();
    while let Ok(req) = requests.recv_timeout(Duration::from_secs(10)) {
        bodies.push(req.body);
        let to_wan2 = |b: &String| b.contains(r#""event":"switch","wan":"wan2""#);
        if bodies.iter().any(to_wan2) {
            break;
        }
    }
    let transition = bodies
        .iter()
        // (a hook of the start-up may still come in late on a busy machine)
        .find(|b| {
            b.contains(r#""event":"transition","wan":"wan1","interface":"wan1","state":"linkdown""#)
        })
        .unwrap_or_else(|| panic!("no transition posted: {bodies:?}\n{}", d.log_text()));
    assert_event_json(
        transition,
        r#""event":"transition","wan":"wan1","interface":"wan1","state":"linkdown","previous_state":"up","active":"wan2","connectivity":null"#,
    );
    let switch = bodies
        .iter()
        .find(|b| b.contains(r#""event":"switch","wan":"wan2""#))
        .unwrap_or_else(|| panic!("no switch to wan2 posted: {bodies:?}"));
    assert!(switch.contains(r#""active":"wan2""#), "{switch}");
}

/// A two-WAN lab configuration in which only the carriers take a WAN down: the probes get
/// time to spare, so a busy machine does not make a WAN fail before the test cuts it.
fn carrier_only_config(dir: &Path) -> String {
    lab_config(2, dir, "", "")
        .replace("timeout = \"150ms\"", "timeout = \"800ms\"")
        .replace("down = 3", "down = 10")
}

/// Installs the example hooks `names` into the hooks directory of a lab daemon in `dir`,
/// with `settings` as their settings file. The daemon clears the environment: a two-line
/// wrapper per hook names the settings file.
fn install(dir: &Path, names: &[&str], settings: &str) {
    let file = dir.join("hooks.conf");
    std::fs::write(&file, settings).expect("write settings");
    let hooks = dir.join("hooks");
    std::fs::create_dir_all(&hooks).expect("create hooks dir");
    for name in names {
        let wrapper = hooks.join(format!("50-{name}"));
        let body = format!(
            "#!/bin/sh\nWANFAILOVER_HOOKS_CONF={} exec {} \"$@\"\n",
            file.display(),
            hook(name).display()
        );
        std::fs::write(&wrapper, body).expect("write wrapper");
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
            .expect("chmod wrapper");
    }
}

/// The next body of a connectivity event among the requests (others are skipped).
fn next_connectivity(requests: &mpsc::Receiver<Request>) -> Option<String> {
    while let Ok(req) = requests.recv_timeout(Duration::from_secs(15)) {
        if req.body.contains(r#""event":"connectivity""#) {
            return Some(req.body);
        }
    }
    None
}

#[test]
fn webhook_and_syslog_hear_connectivity_from_the_real_daemon() {
    if !have(&["curl", "logger"]) {
        return;
    }
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let dir = TempDir::new("hook-connectivity");
    let (port, requests) = http_receiver(&lab.gw_ns());
    let log_path = dir.0.join("log.sock");
    let log = UnixDatagram::bind(&log_path).expect("bind log socket");
    // read as they come: a datagram socket queues only a few (net.unix.max_dgram_qlen),
    // then logger blocks
    let (syslog_tx, syslog) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok(n) = log.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            if syslog_tx.send(line).is_err() {
                return;
            }
        }
    });
    install(
        &dir.0,
        &["syslog", "webhook"],
        &format!(
            "WEBHOOK_URL=\"http://127.0.0.1:{port}/e\"\nSYSLOG_SOCKET={}\n",
            log_path.display()
        ),
    );
    let d = Daemon::start(&lab, &dir.0, &carrier_only_config(&dir.0));
    let settled = wait_for(Duration::from_secs(15), || {
        d.state_of("wan1").as_deref() == Some("up") && d.state_of("wan2").as_deref() == Some("up")
    });
    assert!(settled, "{}", d.log_text());

    // every WAN's carrier off: none, named after the WAN that was carrying the traffic
    lab.carrier(1, false);
    let moved = wait_for(Duration::from_secs(5), || {
        let (_, json, _) = d.cli(&["status", "--json"]);
        json_field_of(&json, "wan2", "active").as_deref() == Some("true")
    });
    assert!(moved, "{}", d.log_text());
    lab.carrier(2, false);
    let none = next_connectivity(&requests)
        .unwrap_or_else(|| panic!("no connectivity event posted\n{}", d.log_text()));
    assert_event_json(
        &none,
        r#""event":"connectivity","wan":"wan2","interface":"wan2","state":"linkdown","previous_state":"up","active":"","connectivity":"none""#,
    );
    // one back: full, once it has passed its rounds
    lab.carrier(1, true);
    let full = next_connectivity(&requests)
        .unwrap_or_else(|| panic!("no connectivity event posted\n{}", d.log_text()));
    assert_event_json(
        &full,
        r#""event":"connectivity","wan":"wan1","interface":"wan1","state":"up","previous_state":"down","active":"wan1","connectivity":"full""#,
    );
    // and the syslog hook said both, at their levels
    let mut lines = Vec::new();
    let said = |lines: &[String], level: &str, text: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(level) && l.ends_with(text))
    };
    let both = wait_for(Duration::from_secs(10), || {
        lines.extend(syslog.try_iter());
        said(
            &lines,
            "<28>",
            "connectivity none: every WAN is down (wan2)",
        ) && said(&lines, "<29>", "connectivity full: wan1 is usable again")
    });
    assert!(both, "{lines:#?}\n{}", d.log_text());
    // exactly those two edges, in the history too
    let (_, history, _) = d.cli(&["history", "--json"]);
    let edges: Vec<&str> = history
        .split("\"kind\":\"connectivity\",")
        .skip(1)
        .map(|e| e.split('}').next().unwrap_or_default())
        .collect();
    assert_eq!(
        edges,
        [
            r#""wan":"wan2","from":"full","to":"none","cause":"no WAN is usable","family":"""#,
            r#""wan":"wan1","from":"none","to":"full","cause":"a WAN is usable again","family":"""#,
        ],
        "{history}"
    );
}

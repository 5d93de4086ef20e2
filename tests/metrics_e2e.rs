//! The metrics listener of the real daemon, in the namespace lab: a scrape that Debian's
//! `promtool` passes, `/status` equal to `status --json`, the error answers, a crowd of
//! garbage and slow clients that must not stall the daemon, and the status page rendered
//! by a real headless browser (Debian's `chromium`) inside the gateway namespace.
#![cfg(feature = "metrics")]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

/// The listener, on the gateway namespace's own loopback.
const LISTEN: &str = "127.0.0.1:9567";

fn start(lab: &Lab, dir: &Path, n: u32) -> Daemon {
    let top = format!("metrics_listen = \"{LISTEN}\"");
    let d = Daemon::start(lab, dir, &lab_config(n, dir, &top, ""));
    let settled = wait_for(Duration::from_secs(15), || {
        (1..=n).all(|i| d.state_of(&format!("wan{i}")).as_deref() == Some("up"))
    });
    assert!(settled, "WANs did not come up:\n{}", d.log_text());
    d
}

/// One connection from inside namespace `ns`: `request` sent as it is, the whole answer
/// read (the listener closes after it).
fn exchange(ns: &str, request: &[u8]) -> String {
    let request = request.to_vec();
    in_netns(ns, move || {
        let mut s = TcpStream::connect(LISTEN).expect("connect to the metrics listener");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(&request).expect("send the request");
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
}

/// `GET path`: the status line and the body.
fn get(ns: &str, path: &str) -> (String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: gw\r\nAccept: */*\r\n\r\n");
    let answer = exchange(ns, request.as_bytes());
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

/// The value of the one sample whose line starts with `series`.
fn sample(scrape: &str, series: &str) -> Option<String> {
    let line = scrape.lines().find(|l| l.starts_with(series))?;
    Some(line.rsplit(' ').next()?.to_string())
}

/// The JSON with every number replaced by `0`: the shape, keys, names and states, without
/// the measurements that move between two requests.
fn shape(json: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in json.trim().chars() {
        let numeric = c.is_ascii_digit() || (in_number && c == '.');
        if numeric && !in_number {
            out.push('0');
        } else if !numeric {
            out.push(c);
        }
        in_number = numeric;
    }
    out
}

#[test]
fn promtool_passes_the_scrape_and_status_is_status_json() {
    if !have(&["promtool"]) {
        return;
    }
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let dir = TempDir::new("metrics");
    let d = start(&lab, &dir.0, 2);
    let ns = lab.gw_ns();
    // the link counters are read once a second
    let counted = wait_for(Duration::from_secs(5), || {
        let (_, json, _) = d.cli(&["status", "--json"]);
        !json.contains("\"rx_bytes\":null") && json.contains("\"rx_bytes\":")
    });
    assert!(counted, "no link counters:\n{}", d.log_text());

    let (status, scrape) = get(&ns, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{}", d.log_text());
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(scrape.as_bytes())
        .expect("feed promtool");
    let out = promtool.wait_with_output().expect("promtool result");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.is_empty(),
        "promtool: {said}\n{scrape}"
    );
    // What the scrape says matches the daemon.
    let up = "wanfailover_wan_state{wan=\"wan1\",state=\"up\"}";
    assert_eq!(sample(&scrape, up).as_deref(), Some("1"), "{scrape}");
    let active = "wanfailover_wan_active{wan=\"wan1\"}";
    assert_eq!(sample(&scrape, active).as_deref(), Some("1"));
    assert_eq!(
        sample(&scrape, "wanfailover_connectivity").as_deref(),
        Some("1")
    );
    let sent = sample(&scrape, "wanfailover_wan_probes_sent_total{wan=\"wan2\"}");
    assert!(sent
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|n| n > 0));
    assert!(sample(&scrape, "wanfailover_wan_latency_seconds{wan=\"wan2\"}").is_some());
    assert!(sample(&scrape, "wanfailover_wan_receive_bytes_total{wan=\"wan1\"}").is_some());

    // /status is the status --json document (numbers move between the two requests).
    let (status, document) = get(&ns, "/status");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let (ok, json, _) = d.cli(&["status", "--json"]);
    assert!(ok);
    assert_eq!(shape(&document), shape(&json));
    assert!(document.contains("\"name\":\"wan2\",\"interface\":\"wan2\",\"state\":\"up\""));

    // Everything else.
    assert_eq!(get(&ns, "/nope").0, "HTTP/1.1 404 Not Found");
    let post = exchange(
        &ns,
        b"POST /metrics HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\nx=1",
    );
    assert!(
        post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{post}"
    );
    assert!(post.contains("\r\nAllow: GET, HEAD\r\n"), "{post}");
    let head = exchange(&ns, b"HEAD /metrics HTTP/1.1\r\nHost: gw\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let garbage = exchange(&ns, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n");
    assert!(
        garbage.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{garbage}"
    );
}

/// Keeps `count` connections of each kind open against the listener until `stop`: silent
/// ones, ones that trickle a request a byte at a time, ones that send garbage (a TLS
/// record). Each is re-opened when the listener closes it. Counts the connections made.
fn crowd(ns: &str, count: usize, stop: Arc<AtomicBool>, made: Arc<AtomicUsize>) {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        in_netns(&ns, move || {
            let mut conns: Vec<(usize, Option<TcpStream>)> =
                (0..3 * count).map(|i| (i % 3, None)).collect();
            let trickle = b"GET /metrics HTTP/1.1\r\nHost: gw\r\n";
            let mut tick = 0usize;
            while !stop.load(Ordering::Relaxed) {
                for (kind, conn) in conns.iter_mut() {
                    let Some(s) = conn else {
                        *conn = TcpStream::connect(LISTEN).ok();
                        if let Some(s) = conn {
                            let _ = s.set_nonblocking(true);
                            made.fetch_add(1, Ordering::Relaxed);
                        }
                        continue;
                    };
                    let wrote = match kind {
                        0 => Ok(0),
                        1 => s.write(&trickle[tick % trickle.len()..][..1]),
                        _ => s.write(b"\x16\x03\x01\x00\xa5\x01 not HTTP\r\n\r\n"),
                    };
                    let mut buf = [0u8; 4096];
                    let gone = |r: std::io::Result<usize>| match r {
                        Ok(n) => n == 0,
                        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                    };
                    let closed = gone(s.read(&mut buf)) || wrote.is_err_and(|e| gone(Err(e)));
                    if closed {
                        *conn = None;
                    }
                }
                tick += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    });
}

#[test]
fn garbage_and_slow_clients_never_stall_the_daemon() {
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let dir = TempDir::new("metrics-crowd");
    let d = start(&lab, &dir.0, 2);
    let ns = lab.gw_ns();
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicUsize::new(0));
    crowd(&ns, 10, stop.clone(), made.clone());
    let crowded = wait_for(Duration::from_secs(10), || {
        made.load(Ordering::Relaxed) >= 30
    });
    assert!(crowded, "the crowd did not connect");

    // Scrapes are answered, at once, while 30 bad clients keep every slot busy.
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let (status, body) = get(&ns, "/metrics");
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(body.contains("wanfailover_wan_state{"), "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("slowest of 10 scrapes under the crowd: {slowest:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "a scrape took {slowest:?}"
    );
    // The daemon keeps doing its job: a carrier loss still moves the traffic at once.
    let started = Instant::now();
    lab.carrier(1, false);
    let moved = wait_for(Duration::from_secs(5), || {
        lab.route_dev("198.51.100.53").as_deref() == Some("wan2")
    });
    let took = started.elapsed();
    assert!(moved, "no failover under the crowd:\n{}", d.log_text());
    assert!(took < Duration::from_secs(2), "failover took {took:?}");
    assert!(d.cli(&["status"]).0, "the control socket is not answered");
    stop.store(true, Ordering::Relaxed);
    assert!(
        made.load(Ordering::Relaxed) > 30,
        "the listener never closed a bad client"
    );
    let log = d.log_text();
    assert!(
        log.contains("clients connected; closing an idle one"),
        "{log}"
    );
    assert!(log.contains("metrics: bad request"), "{log}");
}

/// Headless chromium in the gateway namespace, as FACTS.md says it runs as root.
fn chromium(lab: &Lab, dir: &Path, args: &[&str]) -> std::process::Output {
    let profile = dir.join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");
    lab.gw_command("timeout")
        .args([
            "120",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args(["--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("http://{LISTEN}/"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

#[test]
fn the_status_page_renders_in_headless_chromium() {
    if !have(&["chromium", "timeout"]) {
        return;
    }
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    let dir = TempDir::new("metrics-page");
    let d = start(&lab, &dir.0, 2);
    lab.carrier(2, false);
    let down = wait_for(Duration::from_secs(5), || {
        d.state_of("wan2").as_deref() == Some("linkdown")
    });
    assert!(down, "{}", d.log_text());

    let out = chromium(&lab, &dir.0, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sections: Vec<&str> = dom.split("<section class=\"wan\"").skip(1).collect();
    assert_eq!(sections.len(), 2, "{dom}");
    for (section, (name, state)) in sections.iter().zip([("wan1", "up"), ("wan2", "linkdown")]) {
        let opening = format!(" data-wan=\"{name}\" data-state=\"{state}\">");
        assert!(section.starts_with(&opening), "{section}");
        assert!(section.contains(&format!("<h2>{name} ")), "{section}");
        assert!(section.contains(&format!(">{state}</span>")), "{section}");
        let chart = section.split("</section>").next().unwrap_or_default();
        assert_eq!(chart.matches("<svg ").count(), 1, "{section}");
    }
    assert!(dom.contains("<b id=\"active\">wan1</b>"), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");

    let out = chromium(
        &lab,
        &dir.0,
        &[
            "--hide-scrollbars",
            "--window-size=740,760",
            "--screenshot=page.png",
        ],
    );
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(dir.0.join("page.png")).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let size = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!((size(16), size(20)), (740, 760), "width and height");
    if let Some(keep) = std::env::var_os("WF_PAGE_SCREENSHOT") {
        std::fs::write(keep, &png).expect("keep the screenshot");
    }
}

"""The HTTP, DNS and TCP checks in the benchmark (scripts/bench.py --only checks).

  checks-detect  an HTTP-only outage: wan1 answers pings but its ISP drops TCP port 80;
                 targets = [ping, http], reliability = 2. Timed from the nft rule in place
                 to the deletion of wan1's route at its healthy metric (as blackhole-*),
                 default and fast profile; bound down × interval + timeout + 50 ms.
  checks-cpu     the daemon's CPU (utime + stime, static musl build) per 1000 HTTP checks
                 and per 1000 DNS checks: 4 WANs × 4 checks of one kind, fast profile
                 (80 checks/s), the checks counted by nft in the ISPs (TCP SYNs to port 80,
                 UDP datagrams to port 53). Includes everything else the daemon does
                 meanwhile (link counters once a second, the control requests of the
                 measurement itself).
  checks-rss     VmHWM of the static musl build, 4 WANs × (3 ICMP + 1 HTTP + 1 DNS), fast
                 profile, and its CPU.
  checks-size    the stripped aarch64-musl binary with and without the `checks` feature.

The servers are real: busybox httpd (a CGI 204 endpoint, a static page) on port 80 of every
address of each ISP's `lo`, and dnsmasq answering `*.example.test` with 203.0.113.53.
"""
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = "203.0.113.53"
DNS = "198.51.100.53"
NAME = "example.test"
# Every address on the lo of an ISP namespace (scripts/lab.sh).
LO = ["198.51.100.53", "198.51.100.54", "203.0.113.53", "203.0.113.54"]
ONLINE = "NetworkManager is online"
SIZE_TARGET = "aarch64-unknown-linux-musl"


def http_204(addr=WEB):
    return f'{{ http = "http://{addr}/cgi-bin/generate_204" }}'


def http_page(addr):
    return f'{{ http = "http://{addr}/online.txt", body = "{ONLINE}" }}'


def dns(name=NAME):
    return f'{{ dns = "{DNS}", name = "{name}" }}'


class Servers:
    """busybox httpd and dnsmasq in every ISP of `lab`, with nft counters of what reaches
    them; stopped on exit."""

    COUNTERS = """table inet bench_checks
delete table inet bench_checks
table inet bench_checks {
	chain in {
		type filter hook prerouting priority -200;
		tcp dport 80 tcp flags & (syn | ack) == syn counter
		udp dport 53 counter
	}
}
"""

    def __init__(self, b, lab):
        self.lab, self.procs = lab, []
        self.root = Path(tempfile.mkdtemp(prefix="wf-bench-www-"))
        cgi = self.root / "cgi-bin"
        cgi.mkdir()
        (cgi / "generate_204").write_text("#!/bin/sh\nprintf 'Status: 204 No Content\\r\\n\\r\\n'\n")
        (cgi / "generate_204").chmod(0o755)
        (self.root / "online.txt").write_text(ONLINE + "\n")
        for i in range(1, lab.n + 1):
            ns = self.isp(i)
            self.spawn(ns, ["busybox", "httpd", "-f", "-p", "80", "-h", str(self.root)])
            self.spawn(ns, ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                            "--no-hosts", f"--address=/{NAME}/{WEB}", "--bind-interfaces",
                            f"--pid-file={self.root}/dnsmasq-{i}.pid"]
                       + [f"--listen-address={a}" for a in LO])
            subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=self.COUNTERS,
                           text=True, check=True)
        for i in range(1, lab.n + 1):
            for port in ("80", "53"):
                listening = lambda: subprocess.run(
                    ["ip", "netns", "exec", self.isp(i), "ss", "-Hln", "sport", "=", f":{port}"],
                    capture_output=True, text=True).stdout.strip()
                if not b.wait(5, listening):
                    raise SystemExit(f"bench: nothing listens on port {port} in {self.isp(i)}")

    def isp(self, i):
        return f"{self.lab.prefix}isp{i}"

    def spawn(self, ns, args):
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", ns, *args],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def counts(self):
        """(TCP SYNs to port 80, UDP datagrams to port 53) over every ISP."""
        syn = udp = 0
        for i in range(1, self.lab.n + 1):
            out = subprocess.run(["ip", "netns", "exec", self.isp(i), "nft", "list", "table", "inet",
                                  "bench_checks"], capture_output=True, text=True).stdout
            packets = [int(n) for n in re.findall(r"counter packets (\d+)", out)]
            syn, udp = syn + packets[0], udp + packets[1]
        return syn, udp

    def drop_web(self, i, on):
        """ISP `i` drops TCP to port 80 of the web server (pings still pass)."""
        rules = f"ip daddr {WEB} tcp dport 80 drop" if on else ""
        ruleset = ("table inet bench_drop\ndelete table inet bench_drop\ntable inet bench_drop {\n"
                   f"\tchain in {{\n\t\ttype filter hook prerouting priority -300;\n\t\t{rules}\n\t}}\n}}\n")
        subprocess.run(["ip", "netns", "exec", self.isp(i), "nft", "-f", "-"], input=ruleset, text=True,
                       check=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def all_up(d, n):
    states = d.states()
    return len(states) == n and all(s == "up" for s in states.values())


def measure_detect(b, profile, trials):
    """Seconds from TCP 80 dropped on wan1's ISP to wan1's healthy route deleted."""
    with b.Lab(2, "bk") as lab, Servers(b, lab) as srv:
        d = b.Daemon(lab, 2, [LO[0], http_204()], profile, reliability=2)
        mon = b.Monitor(lab)
        try:
            b.wait(30, lambda: all_up(d, 2))
            lat = []
            for _ in range(trials):
                b.wait(60, lambda: d.states().get("wan1") == "up" and b.route_dev(lab) == "wan1")
                healthy = b.our_metric(lab, "wan1")
                time.sleep(0.37)  # land at varying points of the round
                srv.drop_web(1, True)
                t0 = time.time()
                b.wait(15, lambda: b.route_dev(lab) == "wan2")
                time.sleep(0.05)
                t_rank = mon.first(t0, rf"^Deleted default .*dev wan1 proto 87 metric {healthy}\b")
                if t_rank:
                    lat.append(t_rank - t0)
                srv.drop_web(1, False)
            return lat
        finally:
            mon.close()
            d.stop()


def measure_cpu(b, kind, seconds):
    """4 WANs × 4 checks of `kind` (http: a static page on each lo address; dns: four names)
    at 5 rounds/s: CPU ms per 1000 checks, the checks counted, and whether all stayed up."""
    targets = [http_page(a) for a in LO] if kind == "http" else [dns(f"{c}.{NAME}") for c in "abcd"]
    with b.Lab(4, "bc" + kind[0]) as lab, Servers(b, lab) as srv:
        d = b.Daemon(lab, 4, targets, "fast", b.BIN_STATIC)
        try:
            b.wait(30, lambda: all_up(d, 4))
            n0, c0, t0 = srv.counts(), b.proc_cpu_seconds(d.pid()), time.time()
            time.sleep(seconds)
            n1, c1, t1 = srv.counts(), b.proc_cpu_seconds(d.pid()), time.time()
            checks = (n1[0] - n0[0]) if kind == "http" else (n1[1] - n0[1])
            return dict(checks=checks, cpu_ms=1000 * (c1 - c0), per_1000_ms=1e6 * (c1 - c0) / max(checks, 1),
                        cpu_pct=100 * (c1 - c0) / (t1 - t0), all_up=all_up(d, 4))
        finally:
            d.stop()


def measure_rss(b, seconds):
    """4 WANs × (3 ICMP + 1 HTTP + 1 DNS), fast profile, static musl build."""
    targets = b.TARGETS4[:3] + [http_page(LO[3]), dns()]
    with b.Lab(4, "bcr") as lab, Servers(b, lab):
        d = b.Daemon(lab, 4, targets, "fast", b.BIN_STATIC)
        try:
            b.wait(30, lambda: all_up(d, 4))
            c0, t0 = b.proc_cpu_seconds(d.pid()), time.time()
            time.sleep(seconds)
            c1, t1 = b.proc_cpu_seconds(d.pid()), time.time()
            return dict(hwm_kib=b.proc_status_kib(d.pid()), cpu_pct=100 * (c1 - c0) / (t1 - t0),
                        all_up=all_up(d, 4))
        finally:
            d.stop()


def size(features):
    """Bytes of the stripped release binary for SIZE_TARGET built with these cargo flags."""
    args = ["cargo", "build", "--locked", "--release", "--target", SIZE_TARGET, *features]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    f = ROOT / "target" / SIZE_TARGET / "release" / "wanfailover"
    return f.stat().st_size if r.returncode == 0 and f.exists() else None


def rows(b, args, want):
    """The table rows of every checks measurement `want` asks for."""
    on = lambda part: want("checks") or want("checks-" + part)
    out = []
    if on("detect"):
        for profile, bound in [("default", 3 * 1.0 + 1.0 + 0.05), ("fast", 3 * 0.2 + 0.2 + 0.05)]:
            lat = measure_detect(b, profile, 10 if args.full else 5)
            worst = max(lat) if lat else float("inf")
            med = b.ms(statistics.median(lat)) if lat else "-"
            out.append((f"HTTP-only outage (pings pass, TCP 80 dropped) -> re-ranked, {profile} profile",
                        f"<= {b.ms(bound)}", f"median {med}, max {b.ms(worst)} ({len(lat)} trials)",
                        worst <= bound))
    if on("cpu"):
        secs = 120 if args.full else 30
        for kind in ("http", "dns"):
            r = measure_cpu(b, kind, secs)
            out.append((f"CPU per 1000 {kind.upper()} checks (4 WANs x 4 checks, 5 rounds/s, static musl)",
                        "(reported)", f"{r['per_1000_ms']:.0f} ms ({r['checks']} checks in {secs} s, "
                        f"{r['cpu_pct']:.2f} % CPU)" + ("" if r["all_up"] else ", NOT all up"),
                        None if r["all_up"] else False))
    if on("rss"):
        r = measure_rss(b, 60 if args.full else 30)
        # DESIGN.md §8's 1 MiB is for 4 WANs x 3 ICMP targets (`--only resources`)
        out.append(("daemon RSS (VmHWM, static musl), 4 WANs x (3 ICMP + 1 HTTP + 1 DNS)", "(reported)",
                    f"{r['hwm_kib']} KiB, CPU {r['cpu_pct']:.2f} % at 5 rounds/s"
                    + ("" if r["all_up"] else ", NOT all up"),
                    None if r["hwm_kib"] is not None and r["all_up"] else False))
    if on("size"):
        with_checks = size([])
        without = size(["--no-default-features", "--features", "snmp,watch"])
        if with_checks and without:
            got = (f"{with_checks} B with, {without} B without: +{with_checks - without} B "
                   f"(+{(with_checks - without) / 1024:.1f} KiB)")
        else:
            got = "build failed"
        out.append((f"size the checks feature adds, {SIZE_TARGET} (stripped)", "(reported)", got,
                    None if with_checks and without else False))
    return out


if __name__ == "__main__":
    raise SystemExit("run scripts/bench.py --only checks")

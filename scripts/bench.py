#!/usr/bin/env python3
"""The benchmark: puts a number on every budget of DESIGN.md section 8, from one run.

Runs the real daemon in the namespace lab (scripts/lab.sh) and times what matters from the
kernel's own notifications, read with `ip -ts monitor link route` inside the gateway
namespace:

  carrier loss -> re-ranked   from the RTM_NEWLINK that reports NO-CARRIER on wan1 to the
                              deletion of wan1's route at its healthy metric (from then on
                              wan2 holds the lowest metric)
  upstream loss -> re-ranked  from the moment the ISP starts dropping (nft rule in place) to
                              that same deletion
  DHCP renew -> taken back    from the foreign route's RTM_NEWROUTE to its deletion

and counts the work one carrier loss costs the daemon: decision passes of the engine and
route dumps asked of the kernel (the `counters` of `status --json`), with probes slowed down
so that nothing else happens in the window.

and, for the HTTP, DNS and TCP checks (`--only checks`, or one of its parts), the time an
HTTP-only outage takes to move the traffic, the daemon's CPU per 1000 HTTP and per 1000 DNS
checks (counted by nft in the ISPs), its RSS with checks beside the probes, and the size the
`checks` feature adds to the aarch64-musl binary,
and what the metrics listener costs: CPU and memory of the daemon while its /metrics is
scraped every second (and its page fetched every 30 s, as the page reloads itself),
and multi-WAN routing (`--only routing`, scripts/bench_routing.py): a UDP flow's recovery
after a failover with and without the conntrack flush, the flush of one WAN's entries out
of 50 000, and the time from a state change to rules and multipath route in force.

Usage (root):  scripts/bench.py [--full] [--record docs/benchmarks.md] [--only NAME,...]
               scripts/bench.py --soak DURATION [--seed N] [--record docs/benchmarks.md]
  NAME: carrier work blackhole-default blackhole-fast renew loss resources scale probes size
        checks (= checks-detect checks-cpu checks-rss checks-size)
        metrics
        routing (= routing-recovery routing-flush routing-apply routing-size)
  --full   the long version: 10 minutes of 20 % loss instead of 60 s, more trials
  --soak   random faults over the real-DHCP-client lab for DURATION (30m, 90s), the
           routing invariant checked every 100 ms (scripts/soak.py)
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "scripts" / "lab.sh"
BIN = ROOT / "target" / "release" / "wanfailover"
# Memory is measured on a static musl build, like the gateway binaries: a glibc build's RSS
# is mostly shared-library pages.
STATIC_TARGET = "x86_64-unknown-linux-musl"
BIN_STATIC = ROOT / "target" / STATIC_TARGET / "release" / "wanfailover"
TARGETS4 = ["198.51.100.53", "198.51.100.54", "203.0.113.53", "203.0.113.54"]
CLK_TCK = os.sysconf("SC_CLK_TCK")

PROFILES = {
    "default": dict(interval="1s", timeout="1s", failure_interval="300ms",
                    recovery_interval="1s", down=3, up=5, hold="10s"),
    "fast": dict(interval="200ms", timeout="200ms", failure_interval="100ms",
                 recovery_interval="200ms", down=3, up=3, hold="1s"),
    # Few probes, so that a carrier loss is nearly the only thing the daemon hears about.
    "quiet": dict(interval="5s", timeout="1s", failure_interval="1s",
                  recovery_interval="500ms", down=3, up=1, hold="1s"),
}


def sh(*args, check=True):
    return subprocess.run([str(a) for a in args], check=check, capture_output=True, text=True).stdout


class Lab:
    def __init__(self, n, prefix, *opts):
        self.prefix, self.n = prefix, n
        sh(LAB, "down", prefix)
        sh(LAB, "up", prefix, n, *opts)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        sh(LAB, "down", self.prefix, check=False)

    @property
    def gw(self):
        return self.prefix + "gw"

    def run(self, *args):
        return sh(LAB, *args[:1], self.prefix, *args[1:])

    def routes(self):
        return sh("ip", "-n", self.gw, "route", "show", "default")


def config_text(tmp, n, targets, profile, reliability=1, dns=None, extra_top="", wan_extra=None, tail=""):
    """Targets are addresses (ICMP) or check tables already written as TOML (`{ http = … }`);
    `wan_extra` maps a WAN's number to lines for its table, `tail` goes at the end."""
    p = PROFILES[profile]
    toml = lambda t: t if t.startswith("{") else f'"{t}"'
    lines = [f'socket = "{tmp}/wf.sock"', f'hooks_dir = "{tmp}/hooks"', extra_top, "", "[defaults]",
             "targets = [" + ", ".join(toml(t) for t in targets) + "]"]
    lines += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in p.items()]
    lines.append(f"reliability = {reliability}")
    if dns:
        lines.append("dns = [" + ", ".join(f'"{d}"' for d in dns) + "]")
    for i in range(1, n + 1):
        lines += ["", "[[wan]]", f'name = "wan{i}"', f'interface = "wan{i}"', f"priority = {i}"]
        lines += [(wan_extra or {}).get(i, "")]
    return "\n".join(lines) + "\n" + tail


class Daemon:
    def __init__(self, lab, n, targets, profile, binary=BIN, **config):
        self.tmp = tempfile.mkdtemp(prefix="wf-bench-")
        self.conf = Path(self.tmp) / "wanfailover.conf"
        self.conf.write_text(config_text(self.tmp, n, targets, profile, **config))
        self.sock = Path(self.tmp) / "wf.sock"
        self.log = open(Path(self.tmp) / "daemon.log", "w")
        self.gw, self.binary = lab.gw, binary
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.gw, str(self.binary), "daemon", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        if not wait(10, lambda: self.status() is not None):
            raise SystemExit("daemon did not start: " + (Path(self.tmp) / "daemon.log").read_text())

    def restart(self):
        """After a crash: the same config, state file and socket path."""
        self.start()

    def cli(self, *args):
        r = subprocess.run([str(BIN), *args, "--socket", str(self.sock)], capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None

    def status(self):
        out = self.cli("status", "--json")
        return json.loads(out)["wans"] if out else None

    def states(self):
        return {w["name"]: w["state"] for w in (self.status() or [])}

    def counters(self):
        out = self.cli("status", "--json")
        return json.loads(out).get("counters", {}) if out else {}

    def history(self):
        out = self.cli("history", "--json")
        return json.loads(out)["entries"] if out else []

    def pid(self):
        # `ip netns exec` execs the daemon: same pid.
        return self.proc.pid

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Monitor:
    """`ip -ts monitor link route` (or `what`) in the gateway namespace, parsed into
    (time, text)."""

    STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\] (.*)$")

    def __init__(self, lab, what=("link", "route")):
        self.path = tempfile.mktemp(prefix="wf-mon-")
        self.out = open(self.path, "w")
        self.proc = subprocess.Popen(["ip", "-n", lab.gw, "-ts", "monitor", *what],
                                     stdout=self.out, stderr=subprocess.STDOUT)
        time.sleep(0.3)

    def events(self):
        self.out.flush()
        events = []
        for line in Path(self.path).read_text().splitlines():
            m = self.STAMP.match(line)
            if m:
                t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
                events.append((t, m.group(2)))
        return events

    def first(self, after, pattern):
        rx = re.compile(pattern)
        for t, text in self.events():
            if t >= after and rx.search(text):
                return t
        return None

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        self.out.close()
        os.unlink(self.path)


def wait(seconds, check, step=0.01):
    until = time.time() + seconds
    while time.time() < until:
        if check():
            return True
        time.sleep(step)
    return check()


def route_dev(lab, dst="198.51.100.53"):
    out = sh("ip", "-n", lab.gw, "route", "get", dst)
    m = re.search(r" dev (\S+)", out)
    return m.group(1) if m else None


def our_metric(lab, dev):
    m = re.search(rf"dev {dev} proto 87 metric (\d+)", lab.routes())
    return int(m.group(1)) if m else None


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def ms(x):
    return f"{x * 1000:.1f} ms"


def measure_carrier(trials):
    with Lab(2, "bc") as lab:
        d = Daemon(lab, 2, TARGETS4[:3], "fast")
        mon = Monitor(lab)
        try:
            wait(10, lambda: d.states().get("wan1") == "up" and d.states().get("wan2") == "up")
            lat = []
            for _ in range(trials):
                wait(10, lambda: route_dev(lab) == "wan1" and our_metric(lab, "wan1") is not None)
                healthy = our_metric(lab, "wan1")
                t0 = time.time()
                lab.run("carrier", 1, "off")
                wait(5, lambda: route_dev(lab) == "wan2")
                time.sleep(0.05)
                t_link = mon.first(t0 - 0.01, r"wan1.*NO-CARRIER")
                t_rank = mon.first(t0 - 0.01, rf"^Deleted default .*dev wan1 proto 87 metric {healthy}\b")
                if t_link and t_rank:
                    lat.append(t_rank - t_link)
                lab.run("carrier", 1, "on")
                wait(15, lambda: route_dev(lab) == "wan1")
            return lat
        finally:
            mon.close()
            d.stop()


def measure_work_per_carrier_loss(trials):
    """Decision passes and route dumps from a carrier loss on wan1 until the daemon is
    quiet again (re-ranked, ACKs and the kernel's notifications of its own route changes
    in): the median over the trials."""
    with Lab(2, "bw") as lab:
        d = Daemon(lab, 2, TARGETS4[:3], "quiet")
        try:
            wait(20, lambda: d.states().get("wan1") == "up" and d.states().get("wan2") == "up")
            passes, dumps = [], []
            for _ in range(trials):
                wait(20, lambda: route_dev(lab) == "wan1" and d.states().get("wan1") == "up")
                time.sleep(0.5)
                c0 = d.counters()
                lab.run("carrier", 1, "off")
                wait(5, lambda: route_dev(lab) == "wan2")
                time.sleep(1.0)
                c1 = d.counters()
                if "decision_passes" in c0 and "decision_passes" in c1:
                    passes.append(c1["decision_passes"] - c0["decision_passes"])
                    dumps.append(c1["route_dumps"] - c0["route_dumps"])
                lab.run("carrier", 1, "on")
            return passes, dumps
        finally:
            d.stop()


def measure_blackhole(profile, trials):
    with Lab(2, "bb") as lab:
        d = Daemon(lab, 2, TARGETS4[:3], profile)
        mon = Monitor(lab)
        try:
            wait(20, lambda: d.states().get("wan1") == "up" and d.states().get("wan2") == "up")
            lat = []
            for _ in range(trials):
                wait(60, lambda: d.states().get("wan1") == "up" and route_dev(lab) == "wan1")
                healthy = our_metric(lab, "wan1")
                time.sleep(0.37)  # land at varying points of the probe round
                lab.run("blackhole", 1, "on")
                t0 = time.time()
                wait(15, lambda: route_dev(lab) == "wan2")
                time.sleep(0.05)
                t_rank = mon.first(t0, rf"^Deleted default .*dev wan1 proto 87 metric {healthy}\b")
                if t_rank:
                    lat.append(t_rank - t0)
                lab.run("blackhole", 1, "off")
            return lat
        finally:
            mon.close()
            d.stop()


def measure_renew(trials):
    with Lab(2, "br") as lab:
        d = Daemon(lab, 2, TARGETS4[:3], "fast")
        mon = Monitor(lab)
        try:
            wait(10, lambda: "proto dhcp" not in lab.routes() and our_metric(lab, "wan2") is not None)
            lat = []
            for i in range(trials):
                t0 = time.time()
                sh("ip", "-n", lab.gw, "route", "add", "default", "via", "192.0.2.17", "dev", "wan2",
                   "proto", "dhcp", "metric", "0", check=False)
                wait(2, lambda: "proto dhcp" not in lab.routes())
                time.sleep(0.05)
                t_add = mon.first(t0 - 0.01, r"^default via 192\.0\.2\.17 dev wan2 proto dhcp")
                t_del = mon.first(t0 - 0.01, r"^Deleted default via 192\.0\.2\.17 dev wan2 proto dhcp")
                if t_add and t_del:
                    lat.append(t_del - t_add)
                time.sleep(0.1)
            return lat
        finally:
            mon.close()
            d.stop()


def measure_false_failovers(seconds):
    with Lab(2, "bl") as lab:
        d = Daemon(lab, 2, TARGETS4[:3], "default")
        try:
            wait(30, lambda: d.states().get("wan1") == "up")
            lab.run("loss", 1, 20)
            time.sleep(seconds)
            switches = [h for h in d.history() if h.get("kind") == "switch"]
            return len(switches) - 1 if switches else 0  # the first switch is the start-up choice
        finally:
            d.stop()


def proc_cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid, field="VmHWM"):
    m = re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) if m else None


def measure_resources(wans, targets, seconds, prefix):
    with Lab(wans, prefix) as lab:
        d = Daemon(lab, wans, TARGETS4[:targets], "fast", BIN_STATIC)
        try:
            wait(20, lambda: all(s == "up" for s in d.states().values()) and len(d.states()) == wans)
            c0, t0 = proc_cpu_seconds(d.pid()), time.time()
            time.sleep(seconds)
            c1, t1 = proc_cpu_seconds(d.pid()), time.time()
            status = d.status() or []
            late = sum(w.get("late_rounds", 0) for w in status)
            down = [w["name"] for w in status if w["state"] != "up"]
            return dict(cpu_pct=100 * (c1 - c0) / (t1 - t0), hwm_kib=proc_status_kib(d.pid()),
                        late_rounds=late, not_up=down)
        finally:
            d.stop()


METRICS_LISTEN = "127.0.0.1:9567"


def scrape(lab, path):
    """One GET from inside the gateway namespace: (seconds, bytes) or None."""
    r = subprocess.run(["ip", "netns", "exec", lab.gw, "curl", "-sf", "-o", "/dev/null",
                        "-w", "%{time_total} %{size_download}", f"http://{METRICS_LISTEN}{path}"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    took, size = r.stdout.split()
    return float(took), int(size)


def measure_metrics(seconds):
    """The daemon (static musl build, 4 WANs x 3 targets at 5 rounds/s, metrics listener
    on) for `seconds` without a client, then `seconds` with /metrics scraped every second
    and / fetched every 30 s: CPU of each phase, VmHWM after each, scrape times and sizes."""
    with Lab(4, "bx") as lab:
        d = Daemon(lab, 4, TARGETS4[:3], "fast", BIN_STATIC, extra_top=f'metrics_listen = "{METRICS_LISTEN}"')
        try:
            wait(20, lambda: all(s == "up" for s in d.states().values()) and len(d.states()) == 4)
            c0, t0 = proc_cpu_seconds(d.pid()), time.time()
            time.sleep(seconds)
            c1, t1 = proc_cpu_seconds(d.pid()), time.time()
            idle = dict(cpu_pct=100 * (c1 - c0) / (t1 - t0), hwm_kib=proc_status_kib(d.pid()),
                        anon_kib=proc_status_kib(d.pid(), "RssAnon"))
            scrapes, pages = [], []
            for i in range(seconds):
                due = t1 + i + 1
                scrapes.append(scrape(lab, "/metrics"))
                if i % 30 == 0:
                    pages.append(scrape(lab, "/"))
                time.sleep(max(0.0, due - time.time()))
            c2, t2 = proc_cpu_seconds(d.pid()), time.time()
            scraped = dict(cpu_pct=100 * (c2 - c1) / (t2 - t1), hwm_kib=proc_status_kib(d.pid()),
                           anon_kib=proc_status_kib(d.pid(), "RssAnon"))
            ok = [s for s in scrapes if s]
            return dict(idle=idle, scraped=scraped, failed=len(scrapes) - len(ok),
                        scrape_ms=statistics.median(s[0] for s in ok) * 1000 if ok else None,
                        scrape_bytes=ok[-1][1] if ok else None,
                        page_bytes=pages[-1][1] if pages and pages[-1] else None)
        finally:
            d.stop()


def measure_probes():
    """The prober alone (tests/icmp_e2e.rs, ignored measurement): RTT error against a 20 ms
    userspace responder and CPU per 1000 probes."""
    r = subprocess.run(["cargo", "test", "--locked", "--release", "--test", "icmp_e2e", "measure",
                        "--", "--ignored", "--nocapture"], cwd=ROOT, capture_output=True, text=True)
    err = re.search(r"mean \|err\| (\d+) us, max \|err\| (\d+) us", r.stdout)
    cpu = re.search(r"cpu ([\d.]+) ms per 1000 probes", r.stdout)
    return (int(err.group(1)), int(err.group(2))) if err else None, float(cpu.group(1)) if cpu else None


def binary_sizes():
    """The shipped binaries as scripts/cross-build.sh builds and checks them (static PIE,
    stripped, both feature sets): [(target, features, bytes, budget KiB, verdict)]."""
    r = subprocess.run(["scripts/cross-build.sh", "--budget-warn"], cwd=ROOT, capture_output=True, text=True)
    rows = []
    for m in re.finditer(r"^(\S+) +(everything on|failover only) +(\d+) +[\d.]+ +(\d+) KiB +(.*)$",
                         r.stdout, re.M):
        rows.append((m.group(1), m.group(2), int(m.group(3)), int(m.group(4)), m.group(5).strip()))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--record", metavar="FILE")
    ap.add_argument("--only", default="")
    ap.add_argument("--soak", metavar="DURATION")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.py: needs root (network namespaces)")
    only = set(filter(None, args.only.split(",")))
    want = lambda name: not only or name in only
    checks = [n for n in ("checks", "checks-detect", "checks-cpu", "checks-rss", "checks-size") if want(n)]
    routing = [n for n in ("routing", "routing-recovery", "routing-flush", "routing-apply", "routing-size")
               if want(n)]
    subprocess.run(["scripts/setup.sh"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--locked", "--release"], cwd=ROOT, check=True)
    if want("resources") or want("scale") or want("checks") or want("checks-cpu") or want("checks-rss") or want("metrics"):
        subprocess.run(["rustup", "target", "add", STATIC_TARGET], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["cargo", "build", "--locked", "--release", "--target", STATIC_TARGET], cwd=ROOT,
                       check=True)
    trials = 100 if args.full else 50
    rows = []
    started = time.time()
    if args.soak:
        import soak
        rows = soak.run(sys.modules[__name__], args.soak, args.seed)
        report(rows, args, time.time() - started)
        return 0 if all(r[3] is not False for r in rows) else 1
    if want("carrier"):
        lat = measure_carrier(trials)
        p99 = pct(lat, 99)
        rows.append(("carrier loss -> default route re-ranked", "p99 <= 10 ms",
                     f"p50 {ms(pct(lat, 50))}, p99 {ms(p99)}, max {ms(max(lat) if lat else float('nan'))} ({len(lat)} trials)",
                     p99 <= 0.010))
    if want("work"):
        passes, dumps = measure_work_per_carrier_loss(10 if args.full else 5)
        med = lambda v: f"{statistics.median(v):g}" if v else "-"
        rows.append(("decision passes per carrier loss (median)", "(reported)",
                     f"{med(passes)} (each trial: {' '.join(map(str, passes))})", None))
        rows.append(("route dumps per carrier loss (median)", "(reported)",
                     f"{med(dumps)} (each trial: {' '.join(map(str, dumps))})", None))
    for profile, bound in [("default", 3 * 1.0 + 1.0 + 0.05), ("fast", 1.0)]:
        if want("blackhole-" + profile):
            lat = measure_blackhole(profile, 10 if args.full else 5)
            worst = max(lat) if lat else float("inf")
            rows.append((f"total upstream loss -> re-ranked, {profile} profile", f"<= {ms(bound)}",
                         f"median {ms(statistics.median(lat)) if lat else '-'}, max {ms(worst)} ({len(lat)} trials)",
                         worst <= bound))
    if want("renew"):
        lat = measure_renew(trials)
        p99 = pct(lat, 99)
        rows.append(("DHCP re-add -> rewritten", "<= 20 ms",
                     f"p50 {ms(pct(lat, 50))}, p99 {ms(p99)} ({len(lat)} trials)", p99 <= 0.020))
    if want("loss"):
        secs = 600 if args.full else 60
        n = measure_false_failovers(secs)
        rows.append((f"false failovers, {secs} s at 20 % loss on the primary, 3 targets, defaults",
                     "0", str(n), n == 0))
    if want("resources"):
        r = measure_resources(4, 3, 60 if args.full else 30, "bm")
        rows.append(("daemon RSS (VmHWM, static musl build), 4 WANs x 3 targets", "<= 1024 KiB", f"{r['hwm_kib']} KiB",
                     r["hwm_kib"] is not None and r["hwm_kib"] <= 1024))
        rows.append(("CPU, 4 WANs x 3 targets at 5 rounds/s", "<= 0.5 %", f"{r['cpu_pct']:.2f} %",
                     r["cpu_pct"] <= 0.5))
    if want("scale"):
        r = measure_resources(32, 4, 60 if args.full else 30, "bs")
        rows.append(("scale: 32 WANs x 4 targets at 5 rounds/s", "no late rounds",
                     f"{r['late_rounds']} late rounds, CPU {r['cpu_pct']:.2f} %, VmHWM {r['hwm_kib']} KiB"
                     + (f", not up: {','.join(r['not_up'])}" if r["not_up"] else ""),
                     r["late_rounds"] == 0 and not r["not_up"]))
    if want("metrics"):
        secs = 300 if args.full else 60
        r = measure_metrics(secs)
        idle, scraped = r["idle"], r["scraped"]
        rows.append((f"metrics listener: CPU, 4 WANs x 3 targets, {secs} s without a client", "(reported)",
                     f"{idle['cpu_pct']:.2f} %, VmHWM {idle['hwm_kib']} KiB (anonymous {idle['anon_kib']} KiB)", None))
        rows.append((f"metrics listener: CPU, {secs} s of /metrics every 1 s and / every 30 s", "(reported)",
                     f"{scraped['cpu_pct']:.2f} %, VmHWM {scraped['hwm_kib']} KiB (anonymous {scraped['anon_kib']} KiB), "
                     f"{r['failed']} failed, "
                     f"median scrape {r['scrape_ms']:.1f} ms for {r['scrape_bytes']} B, page {r['page_bytes']} B",
                     r["failed"] == 0))
    if want("probes"):
        err, cpu = measure_probes()
        rows.append(("probe RTT error vs a 20 ms userspace responder, 100 probes", "max <= 2 ms",
                     f"mean {err[0]} us, max {err[1]} us" if err else "measurement failed",
                     bool(err) and err[1] <= 2000))
        rows.append(("CPU per 1000 probes (send, poll, receive, match)", "(reported)",
                     f"{cpu:.1f} ms" if cpu is not None else "measurement failed", None))
    if want("size"):
        sizes = binary_sizes()
        for target, features, size, budget, verdict in sizes:
            rows.append((f"static stripped binary, {target}, {features}", f"<= {budget} KiB",
                         f"{size / 1024:.1f} KiB ({verdict})", size <= budget * 1024))
        if not sizes:
            rows.append(("static stripped binaries (scripts/cross-build.sh)", "(budgets)", "build failed", False))
    if checks:
        import bench_checks
        rows += bench_checks.rows(sys.modules[__name__], args, want)
    if routing:
        import bench_routing
        rows += bench_routing.rows(sys.modules[__name__], args, want)
    report(rows, args, time.time() - started)
    return 0 if all(r[3] is not False for r in rows) else 1


def report(rows, args, elapsed):
    w = max(len(r[0]) for r in rows)
    lines = [f"| {'what'.ljust(w)} | budget | measured | ok |", f"|{'-' * (w + 2)}|---|---|---|"]
    verdict = {True: "yes", False: "NO", None: "-"}
    lines += [f"| {r[0].ljust(w)} | {r[1]} | {r[2]} | {verdict[r[3]]} |" for r in rows]
    table = "\n".join(lines)
    print(table)
    if args.record:
        cmd = "scripts/bench.py" + (" --full" if args.full else "") + (f" --only {args.only}" if args.only else "")
        cmd += f" --soak {args.soak} --seed {args.seed}" if args.soak else ""
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}"
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with open(args.record, "a") as f:
            f.write(f"\n## {when}\n\nCommand: `{cmd}` (root), {elapsed:.0f} s; machine: {machine}.\n\n{table}\n")


if __name__ == "__main__":
    sys.exit(main())

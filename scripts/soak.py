"""The soak (`scripts/bench.py --soak DURATION`): random faults over the real-client lab for
DURATION, with the routing invariant checked every 100 ms.

The lab has three WANs, each configured by a real DHCP client against a real server in its
ISP namespace (busybox udhcpc, ISC dhclient, dhcpcd; short leases, so they renew all the
time). Faults, one starting every few seconds at random (seeded): carrier flaps, upstream
blackholes, lossy links, forced renews, interface replugs, reloads, bursts of silent and
garbage control clients, and kill -9 followed by a restart.

Invariant, checked every 100 ms: every WAN whose interface exists has exactly one default
route of ours (proto 87), at the metric its state in `status` calls for (a WAN in `noroute`
may have none). The daemon's status and the kernel's table are read a few milliseconds
apart and a route change is make-before-break, so a violation counts as a break only when
it lasts longer than GRACE. RSS is sampled every 5 s per daemon instance; its growth after
the warm-up is reported.
"""
import random
import re
import socket
import subprocess
import time
from pathlib import Path

WANS = 3
TICK = 0.1
GRACE = 1.0
WARMUP = 60.0
FAULTS = ["carrier", "blackhole", "loss", "renew", "reload", "clients", "crash"]
CLIENTS = {1: "udhcpc", 2: "dhclient", 3: "dhcpcd"}


def parse_duration(text):
    m = re.fullmatch(r"(\d+)(s|m|h)?", text)
    if not m:
        raise SystemExit(f"--soak: bad duration {text!r} (e.g. 90s, 30m, 1h)")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def vm_rss_kib(pid):
    try:
        m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return int(m.group(1)) if m else None


class Soak:
    def __init__(self, bench, seconds, seed):
        self.b, self.seconds, self.rng = bench, seconds, random.Random(seed)
        self.counts = {f: 0 for f in FAULTS}
        self.checks = 0
        self.breaks = []  # (time into the run, description)
        self.open_violations = {}  # wan -> (since, description)
        self.ending = []  # (at, callable) for faults that undo themselves
        self.quiet_until = 0.0  # no checks before this (a restart is converging)
        self.instances = []  # per daemon instance: [(t, rss_kib), ...]

    # ----- the run -----------------------------------------------------------------------

    def run(self):
        b = self.b
        with b.Lab(WANS, "sk", "--dhcp") as lab:
            self.lab = lab
            for i, client in CLIENTS.items():
                lab.run("dhcp", i, client, "start")
            self.d = b.Daemon(lab, WANS, b.TARGETS4[:3], "fast")
            self.instances.append([])
            self.t0 = time.time()
            try:
                self.loop()
            finally:
                self.d.stop()
        return self.rows()

    def loop(self):
        next_fault = self.t0 + 5
        next_rss = self.t0
        while (now := time.time()) < self.t0 + self.seconds:
            for at, undo in [e for e in self.ending if e[0] <= now]:
                self.ending.remove((at, undo))
                undo()
            if now >= next_fault and not self.ending:
                self.fault(self.rng.choice(FAULTS))
                next_fault = now + self.rng.uniform(2, 8)
            if now >= next_rss:
                self.instances[-1].append((now, vm_rss_kib(self.d.pid())))
                next_rss = now + 5
            if now >= self.quiet_until:
                self.check(now)
            time.sleep(max(0.0, TICK - (time.time() - now)))
        for _, undo in self.ending:
            undo()

    def later(self, seconds, undo):
        self.ending.append((time.time() + seconds, undo))

    # ----- faults ------------------------------------------------------------------------

    def fault(self, kind):
        self.counts[kind] += 1
        lab, rng, i = self.lab, self.rng, self.rng.randint(1, WANS)
        if kind == "carrier":
            lab.run("carrier", i, "off")
            self.later(rng.uniform(0.3, 4), lambda: lab.run("carrier", i, "on"))
        elif kind == "blackhole":
            lab.run("blackhole", i, "on")
            self.later(rng.uniform(1, 8), lambda: lab.run("blackhole", i, "off"))
        elif kind == "loss":
            lab.run("loss", i, rng.choice([10, 20, 40]))
            self.later(rng.uniform(5, 20), lambda: lab.run("loss", i, 0))
        elif kind == "renew":
            lab.run("dhcp", i, CLIENTS[i], "stop")
            lab.run("dhcp", i, CLIENTS[i], "start")
        elif kind == "reload":
            self.d.cli("reload")
        elif kind == "clients":
            self.crowd()
        elif kind == "crash":
            self.d.proc.kill()
            self.d.proc.wait()
            self.d.restart()
            self.instances.append([])
            self.quiet_until = time.time() + 3

    def crowd(self):
        """More silent and garbage clients than the control socket's table holds; `status`
        must still be answered."""
        held = []
        for k in range(40):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(self.d.sock))
                if k % 5 == 0:
                    s.sendall(b"\xff\xff\xff\xffgarbage")
                held.append(s)
            except OSError:
                s.close()
        answered = self.d.status() is not None
        if not answered:
            self.breaks.append((time.time() - self.t0, "status refused with a crowded socket"))
        self.later(self.rng.uniform(1, 5), lambda: [s.close() for s in held])

    # ----- the invariant ---------------------------------------------------------------

    def check(self, now):
        status = self.d.status()
        if status is None:
            self.violation(now, "daemon", "status not answered")
            return
        self.violation(now, "daemon", None)
        routes = self.b.sh("ip", "-n", self.lab.gw, "route", "show", "default")
        links = self.b.sh("ip", "-n", self.lab.gw, "-o", "link", "show")
        self.checks += 1
        for w in status:
            dev = w["interface"]
            if f" {dev}:" not in links:
                self.violation(now, dev, None)
                continue
            ours = [int(m) for m in re.findall(rf"dev {dev} proto 87 metric (\d+)", routes)]
            if w["state"] == "noroute" and not ours:
                problem = None
            elif ours == [w["metric"]]:
                problem = None
            else:
                problem = f"{dev} {w['state']} wants metric {w['metric']}, kernel has ours at {ours}"
            self.violation(now, dev, problem)

    def violation(self, now, key, problem):
        if problem is None:
            self.open_violations.pop(key, None)
            return
        since, _, counted = self.open_violations.get(key, (now, problem, False))
        if not counted and now - since > GRACE:
            self.breaks.append((now - self.t0, problem))
            counted = True
        self.open_violations[key] = (since, problem, counted)

    # ----- the report ------------------------------------------------------------------

    def rss_growth(self):
        """Largest RSS growth after the warm-up, over the instances that outlived it."""
        growths = []
        for samples in self.instances:
            samples = [(t, r) for t, r in samples if r is not None]
            if not samples or samples[-1][0] - samples[0][0] < 2 * WARMUP:
                continue
            after = [r for t, r in samples if t - samples[0][0] >= WARMUP]
            growths.append((max(after) - after[0], after[0], max(after)))
        return growths

    def rows(self):
        faults = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        growth = self.rss_growth()
        worst = max(growth, default=None)
        rss = (f"+{worst[0]} KiB ({worst[1]} -> {worst[2]} KiB) over {len(growth)} instance(s)"
               if worst else "no instance outlived the warm-up")
        breaks = "; ".join(f"{t:.1f} s: {p}" for t, p in self.breaks[:5])
        span = f"{self.seconds // 60} min" if self.seconds % 60 == 0 else f"{self.seconds} s"
        return [
            (f"soak {span}, faults", "(reported)", faults, None),
            (f"soak {span}, invariant breaks ({self.checks} checks every 100 ms)", "0",
             f"{len(self.breaks)}" + (f": {breaks}" if breaks else ""), not self.breaks),
            (f"soak {span}, RSS growth after {WARMUP:.0f} s warm-up", "<= 64 KiB", rss,
             worst is None or worst[0] <= 64),
        ]


def run(bench, duration, seed):
    return Soak(bench, parse_duration(duration), seed).run()

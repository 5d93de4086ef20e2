"""Multi-WAN routing in the benchmark (scripts/bench.py --only routing, or one part).

  routing-recovery  a LAN host's UDP flow (a datagram every 100 ms to an echo responder in
                    the ISP, scripts/labnet.py) through per-WAN `snat to`; wan1 blackholed:
                    from the switch (the kernel's deletion of wan1's route at its healthy
                    metric, `ip -ts monitor`) to the flow's first answer through wan2. With
                    `flush_conntrack = true` and `false`, and with `masquerade` (flush on).
                    Fast probe profile.
  routing-flush     50 000 conntrack entries in the gateway: 25 000 UDP flows NATed to wan1
                    (main table) and 25 000 NATed to wan2 (a policy route to 198.51.100.54),
                    made by real datagrams from the LAN. wan1 blackholed: from the switch to
                    the first deletion and to the last of wan1's 25 000 (the kernel's own
                    count, nf_conntrack_count, read every millisecond in the gateway).
  routing-apply     balance over three WANs with a policy route on wan3: from the
                    RTM_NEWLINK that reports NO-CARRIER on wan3 to the multipath route
                    replaced without it and to the policy's rule deleted (`ip -ts monitor
                    link route rule`).
  routing-size      the stripped aarch64-musl binary without `routing`, with `routing` alone
                    and with `balance` (the default set).
"""
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABNET = ROOT / "scripts" / "labnet.py"
TARGET = "198.51.100.53"
LAN_HOSTS = ["203.0.113.130", "203.0.113.131", "203.0.113.132", "203.0.113.133"]
# How the kernel counts its conntrack entries, per namespace.
CT_COUNT = "/proc/sys/net/netfilter/nf_conntrack_count"


def all_up(d, n):
    states = d.states()
    return len(states) == n and all(s == "up" for s in states.values())


class Flow:
    """labnet.py flow in the LAN namespace: its sends and answers with their times."""

    def __init__(self, lab, sport, dst=TARGET, dport=7):
        self.path = tempfile.mktemp(prefix="wf-flow-")
        self.proc = subprocess.Popen(["ip", "netns", "exec", lab.prefix + "lan", "python3", str(LABNET), "flow",
                                      "--src", LAN_HOSTS[0], "--sport", str(sport), "--dst", dst,
                                      "--dport", str(dport), "--out", self.path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def replies(self):
        try:
            text = Path(self.path).read_text()
        except FileNotFoundError:
            return []
        return [float(l.split()[2]) for l in text.splitlines() if l.startswith("reply ")]

    def first_reply(self, after):
        return next((t for t in self.replies() if t >= after), None)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        Path(self.path).unlink(missing_ok=True)


def switch_time(b, mon, t0, healthy):
    """When the kernel deleted wan1's route at its healthy metric (the switch), after t0."""
    return mon.first(t0, rf"^Deleted default .*dev wan1 proto 87 metric {healthy}\b")


def measure_recovery(b, nat, flush, trials, wait_answer):
    """Seconds from the switch to the flow's first answer; None for a trial with no answer
    within `wait_answer` seconds of the switch."""
    with b.Lab(2, "bf", "--lan") as lab:
        lab.run("nat", nat)
        for i in (1, 2):
            lab.run("echo", i)
        d = b.Daemon(lab, 2, b.TARGETS4[:3], "fast", extra_top=f"flush_conntrack = {str(flush).lower()}")
        mon = b.Monitor(lab)
        try:
            out = []
            for k in range(trials):
                b.wait(30, lambda: all_up(d, 2) and b.route_dev(lab) == "wan1")
                healthy = b.our_metric(lab, "wan1")
                flow = Flow(lab, 40000 + k)
                try:
                    b.wait(5, lambda: flow.replies())
                    time.sleep(0.37 + 0.05 * k)  # land at varying points of the round
                    lab.run("blackhole", 1, "on")
                    t0 = time.time()
                    b.wait(5, lambda: b.route_dev(lab) == "wan2")
                    time.sleep(0.05)
                    t_switch = switch_time(b, mon, t0, healthy)
                    if t_switch is None:
                        continue
                    b.wait(t_switch + wait_answer - time.time(), lambda: flow.first_reply(t0 + 0.05))
                    t_reply = flow.first_reply(t0 + 0.05)
                    out.append(t_reply - t_switch if t_reply and t_reply - t_switch <= wait_answer else None)
                finally:
                    flow.close()
                    lab.run("blackhole", 1, "off")
            return out
        finally:
            mon.close()
            d.stop()


def ct_poller(lab, floor, seconds):
    """A process in the gateway printing `time count` each time the conntrack count changes,
    every millisecond, until it is at most `floor` or `seconds` pass."""
    code = (f"import time\nf=open('{CT_COUNT}')\nlast=None\nend=time.time()+{seconds}\n"
            "while time.time()<end:\n f.seek(0); n=int(f.read())\n"
            " if n!=last: print(f'{time.time():.6f} {n}', flush=True); last=n\n"
            f" if n<={floor}: break\n time.sleep(0.001)\n")
    return subprocess.Popen(["ip", "netns", "exec", lab.gw, "python3", "-c", code], stdout=subprocess.PIPE,
                            text=True)


def make_flows(lab, dst, count, first_port):
    per_host = count // len(LAN_HOSTS)
    out = subprocess.run(["ip", "netns", "exec", lab.prefix + "lan", "python3", str(LABNET), "flows", "--dst", dst,
                          "--srcs", ",".join(LAN_HOSTS), "--count", str(per_host * len(LAN_HOSTS)),
                          "--first-port", str(first_port)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def measure_flush(b, trials, total=50_000):
    """Per trial: (entries before, switch -> first deletion, switch -> last of wan1's,
    entries the daemon reports deleted)."""
    half = total // 2
    policy = ('\n[[policy]]\nname = "second"\nwan = "wan2"\ndestination = "198.51.100.54/32"\n'
              "fallback = true\n")
    out = []
    for k in range(trials):
        # a fresh lab each time: 30 s of unanswered UDP flows would otherwise linger
        with b.Lab(2, "bz", "--lan") as lab:
            lab.run("nat", "snat")
            d = b.Daemon(lab, 2, b.TARGETS4[:1], "fast", tail=policy)
            mon = b.Monitor(lab)
            try:
                b.wait(30, lambda: all_up(d, 2) and b.route_dev(lab) == "wan1")
                b.wait(5, lambda: "198.51.100.54 lookup 102" in sh_rules(b, lab))
                healthy = b.our_metric(lab, "wan1")
                sent = make_flows(lab, TARGET, half, 20000) + make_flows(lab, "198.51.100.54", half, 20000)
                before = int(b.sh("ip", "netns", "exec", lab.gw, "cat", CT_COUNT))
                late0 = late_rounds(d)
                poll = ct_poller(lab, before - sent // 2 + 50, 25)
                time.sleep(0.2)
                lab.run("blackhole", 1, "on")
                t0 = time.time()
                samples = [tuple(map(float, l.split())) for l in poll.communicate(timeout=30)[0].splitlines()]
                t_switch = switch_time(b, mon, t0, healthy)
                drops = [(t, n) for t, n in samples if t >= t0 and n < before - 20]
                done = [t for t, n in drops if n <= before - sent // 2 + 50]
                flushed = [e for e in d.history() if e.get("kind") == "flush"]
                if t_switch and drops and done:
                    out.append(dict(before=before, first=drops[0][0] - t_switch, last=done[0] - t_switch,
                                    history=flushed[-1].get("cause", "") if flushed else "none",
                                    late=late_rounds(d) - late0))
            finally:
                mon.close()
                d.stop()
    return out


def late_rounds(d):
    """Probe rounds that started late, over every WAN (a loop the flush blocked)."""
    return sum(w.get("late_rounds", 0) for w in d.status() or [])


def sh_rules(b, lab):
    return b.sh("ip", "-n", lab.gw, "rule", "show")


def measure_apply(b, trials):
    """Per trial: (NO-CARRIER -> multipath replaced, NO-CARRIER -> policy rule deleted)."""
    policy = ('\n[[policy]]\nname = "vpn"\nwan = "wan3"\nprotocol = "udp"\ndport = 1194\n'
              "fallback = true\n")
    with b.Lab(3, "ba") as lab:
        d = b.Daemon(lab, 3, b.TARGETS4[:3], "fast", extra_top='mode = "balance"', tail=policy)
        mon = b.Monitor(lab, ("link", "route", "rule"))
        try:
            out = []
            for _ in range(trials):
                three = lambda: all_up(d, 3) and "dev wan3 weight" in lab.routes() \
                    and "dport 1194" in sh_rules(b, lab)
                if not b.wait(30, three):
                    continue
                time.sleep(0.2)
                t0 = time.time()
                lab.run("carrier", 3, "off")
                b.wait(5, lambda: "dev wan3 weight" not in lab.routes() and "dport 1194" not in sh_rules(b, lab))
                time.sleep(0.05)
                t_link = mon.first(t0 - 0.01, r"wan3.*NO-CARRIER")
                t_mp = t_link and mon.first(t_link, r"^default proto 87\b")
                t_rule = t_link and mon.first(t_link, r"^Deleted .*dport 1194")
                if t_link and t_mp and t_rule:
                    out.append((t_mp - t_link, t_rule - t_link))
                lab.run("carrier", 3, "on")
            return out
        finally:
            mon.close()
            d.stop()


def rows(b, args, want):
    """The table rows of every routing measurement `want` asks for."""
    on = lambda part: want("routing") or want("routing-" + part)
    out = []
    fmt = lambda v: f"median {b.ms(statistics.median(v))}, max {b.ms(max(v))}" if v else "-"
    if on("recovery"):
        trials = 10 if args.full else 5
        for nat, flush in [("snat", True), ("snat", False), ("masquerade", True)]:
            got = measure_recovery(b, nat, flush, trials, 3.0)
            answered = [x for x in got if x is not None]
            what = f"UDP flow answered again after a failover, {nat}, flush_conntrack = {str(flush).lower()}"
            if flush:
                out.append((what, "<= 1000.0 ms", f"{fmt(answered)} ({len(answered)} of {len(got)} trials answered)",
                            len(answered) == len(got) > 0 and max(answered) <= 1.0))
            else:
                out.append((what, "(reported)", f"{len(got) - len(answered)} of {len(got)} trials: no answer "
                            "within 3 s of the switch" + (f"; answered: {fmt(answered)}" if answered else ""), None))
    if on("flush"):
        got = measure_flush(b, 3 if args.full else 2)
        first, last = [r["first"] for r in got], [r["last"] for r in got]
        desc = "; ".join(f"{r['before']} entries, daemon: {r['history']}, {r['late']} late probe rounds"
                         for r in got)
        out.append(("flush of one WAN's 25 000 conntrack entries out of 50 000: switch -> first deleted", "(reported)",
                    fmt(first) + f" ({len(got)} trials)", None if got else False))
        out.append(("flush of one WAN's 25 000 conntrack entries out of 50 000: switch -> all deleted", "(reported)",
                    fmt(last) + f" ({desc})", None if got else False))
    if on("apply"):
        got = measure_apply(b, 20 if args.full else 10)
        mp, rule = [g[0] for g in got], [g[1] for g in got]
        out.append(("carrier loss -> multipath route replaced (balance, 3 WANs)", "(reported)",
                    fmt(mp) + f" ({len(got)} trials)", None if got else False))
        out.append(("carrier loss -> policy rule deleted (fallback = true)", "(reported)",
                    fmt(rule) + f" ({len(got)} trials)", None if got else False))
    if on("size"):
        import bench_checks
        others = "snmp,watch,metrics,checks"
        sizes = [bench_checks.size(["--no-default-features", "--features", f]) for f in (others, others + ",routing")]
        sizes.append(bench_checks.size([]))
        for what, (a, b2) in [("routing", sizes[0:2]), ("balance (on top of routing)", sizes[1:3])]:
            got = f"{b2} B with, {a} B without: +{b2 - a} B (+{(b2 - a) / 1024:.1f} KiB)" if a and b2 else "build failed"
            out.append((f"size the {what} feature adds, {bench_checks.SIZE_TARGET} (stripped)", "(reported)", got,
                        None if a and b2 else False))
    return out

#!/usr/bin/env python3
"""Traffic for the namespace lab (scripts/lab.sh), run inside one of its namespaces with
`ip netns exec` (or `lab.sh isp|lan|gw PREFIX ...`). Standard library only. Addresses are
IPv4 or IPv6 (a colon makes a socket IPv6).

  labnet.py echo [--ports 7,1194] [--addrs A,B] [--ready FILE]
      UDP echo responder: answers every datagram to ADDR:PORT from that same address and
      port (one socket per pair, so the answer's source is what the sender expects). Writes
      `ready` to FILE (or stdout) once every socket is bound; runs until killed.
  labnet.py flow --src A --dst B [--sport P] [--dport 7] [--interval 0.1] [--duration S]
      [--out FILE]
      One UDP flow: the same 5-tuple every INTERVAL, as a VPN or SIP client keeps it. Writes
      `sent SEQ UNIXTIME` and `reply SEQ UNIXTIME` lines (flushed at once) to FILE.
  labnet.py flows --dst B [--dport 9] [--srcs A,B] [--count N] [--first-port 20000]
      N new UDP flows (one datagram each, distinct source ports, round robin over SRCS);
      prints how many it sent.
  labnet.py tcp-serve --addr A --port P [--ready FILE]
      TCP server answering `ping` lines with `pong`, one connection after another.
  labnet.py tcp-connect --src A --dst B --port P [--timeout 2]
      Opens a TCP connection from A to B:P, exchanges one ping/pong; exit status 0 if it did.
"""
import argparse
import select
import socket
import sys
import time

TARGETS = "198.51.100.53,198.51.100.54,203.0.113.53,203.0.113.54"


def family(addr):
    """The socket family of an address: IPv6 if it has a colon."""
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def say_ready(path):
    if path:
        with open(path, "w") as f:
            f.write("ready\n")
    else:
        print("ready", flush=True)


def echo(args):
    socks = []
    for addr in args.addrs.split(","):
        for port in args.ports.split(","):
            s = socket.socket(family(addr), socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, int(port)))
            socks.append(s)
    say_ready(args.ready)
    while True:
        ready, _, _ = select.select(socks, [], [])
        for s in ready:
            try:
                data, peer = s.recvfrom(65536)
                s.sendto(data, peer)
            except OSError:
                pass  # no route back (a flow NATed to another WAN's address): no answer


def flow(args):
    s = socket.socket(family(args.src), socket.SOCK_DGRAM)
    s.bind((args.src, args.sport))
    s.connect((args.dst, args.dport))
    s.setblocking(False)
    out = open(args.out, "w", buffering=1) if args.out else sys.stdout
    start = time.time()
    due, seq = start, 0
    while args.duration <= 0 or time.time() - start < args.duration:
        now = time.time()
        if now >= due:
            try:
                s.send(b"%d" % seq)
                out.write(f"sent {seq} {now:.6f}\n")
            except OSError as e:  # no route (a kill switch), refused: the flow goes on
                out.write(f"error {seq} {now:.6f} {e.errno}\n")
            seq += 1
            due += args.interval
        ready, _, _ = select.select([s], [], [], max(0.0, due - time.time()))
        if ready:
            try:
                data = s.recv(65536)
                out.write(f"reply {int(data)} {time.time():.6f}\n")
            except (OSError, ValueError):
                pass  # ICMP errors queued on the connected socket


def flows(args):
    srcs = args.srcs.split(",")
    sent = 0
    for k in range(args.count):
        src = srcs[k % len(srcs)]
        port = args.first_port + k // len(srcs)
        s = socket.socket(family(src), socket.SOCK_DGRAM)
        try:
            s.bind((src, port))
            s.sendto(b"flow", (args.dst, args.dport))
            sent += 1
        except OSError:
            pass
        finally:
            s.close()
    print(sent)


def tcp_serve(args):
    srv = socket.socket(family(args.addr), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.addr, args.port))
    srv.listen(8)
    say_ready(args.ready)
    while True:
        conn, _ = srv.accept()
        conn.settimeout(5)
        try:
            f = conn.makefile("rwb")
            for line in f:
                if line.strip() == b"ping":
                    f.write(b"pong\n")
                    f.flush()
        except OSError:
            pass
        finally:
            conn.close()


def tcp_connect(args):
    s = socket.socket(family(args.src), socket.SOCK_STREAM)
    s.bind((args.src, 0))
    s.settimeout(args.timeout)
    try:
        s.connect((args.dst, args.port))
        s.sendall(b"ping\n")
        got = s.makefile("rb").readline()
    except OSError as e:
        print(f"tcp-connect: {e}", file=sys.stderr)
        return 1
    if got.strip() != b"pong":
        print(f"tcp-connect: got {got!r}", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("echo")
    p.add_argument("--ports", default="7,1194")
    p.add_argument("--addrs", default=TARGETS)
    p.add_argument("--ready")
    p = sub.add_parser("flow")
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--sport", type=int, default=0)
    p.add_argument("--dport", type=int, default=7)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--duration", type=float, default=0)
    p.add_argument("--out")
    p = sub.add_parser("flows")
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, default=9)
    p.add_argument("--srcs", default="203.0.113.130")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--first-port", type=int, default=20000)
    p = sub.add_parser("tcp-serve")
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ready")
    p = sub.add_parser("tcp-connect")
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()
    run = {"echo": echo, "flow": flow, "flows": flows, "tcp-serve": tcp_serve, "tcp-connect": tcp_connect}
    return run[args.cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())

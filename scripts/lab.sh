#!/usr/bin/env bash
# The namespace lab: a gateway namespace with N simulated WANs, each behind its own "ISP"
# namespace. Shared by the end-to-end tests, the demo and the benchmark.
#
#   lab.sh up PREFIX N [--no-routes] [--ipv6]   build it (fails if PREFIX is in use)
#   lab.sh down PREFIX                          remove every namespace of PREFIX (idempotent)
#   lab.sh carrier PREFIX I on|off              carrier of WAN I (the ISP end of the veth)
#   lab.sh blackhole PREFIX I on|off            ISP I silently drops everything past its edge
#   lab.sh loss PREFIX I PCT                    ISP I drops PCT % of ICMP at random (0 = none)
#   lab.sh replug PREFIX I                      delete and re-create WAN I's link (new ifindex),
#                                               like a USB modem re-enumerating (IPv4 only)
#   lab.sh delay PREFIX I DELAY [JITTER]        ISP I answers pings from userspace after DELAY
#                                               (+ up to JITTER); `delay PREFIX I off` restores
#                                               the kernel's own replies. Needs the example
#                                               echo_responder built (cargo build --examples).
#   lab.sh gw PREFIX CMD...                     run CMD in the gateway namespace
#   lab.sh isp PREFIX I CMD...                  run CMD in ISP I's namespace
#
# Topology (documentation addresses only; nothing leaves the namespaces):
#   ${PREFIX}gw:   wanI  192.0.2.(8I+2)/29  2001:db8:I::2/64
#   ${PREFIX}ispI: up0   192.0.2.(8I+1)/29  2001:db8:I::1/64
#                  lo    targets 198.51.100.53, 198.51.100.54, 203.0.113.53, 203.0.113.54,
#                        2001:db8:ff::53
# (WANs 31..40 use 198.51.100.(8(I-30)+128)/29 instead, for the scale benchmark.)
# Unless --no-routes, every WAN gets a default route as a DHCP client would leave it:
# `default via 192.0.2.(8I+1) dev wanI proto dhcp metric I-1` (IPv4 keys routes by metric:
# two metric-0 defaults on different devices collide with EEXIST), and with --ipv6
# `default via 2001:db8:I::1 dev wanI proto static metric 1024+I-1` (IPv6 refuses an equal
# metric on another device without NLM_F_APPEND, which would make it multipath).
set -euo pipefail

die() { echo "lab.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: lab.sh up|down|carrier|blackhole|loss|gw|isp PREFIX ..."
cmd=$1 p=$2; shift 2
case "$p" in *[!A-Za-z0-9_-]*|"") die "bad prefix '$p'";; esac
gw="${p}gw"
isp() { echo "${p}isp$1"; }
in_gw() { ip netns exec "$gw" "$@"; }

# The first three octets and the base of WAN I's /29 link network.
wan_net() {
	if [ "$1" -le 30 ]; then echo "192.0.2 $((8 * $1))"; else echo "198.51.100 $((8 * ($1 - 30) + 128))"; fi
}

# The ISP-side address (the WAN's gateway) of WAN I.
wan_gateway() {
	local net base
	read -r net base <<<"$(wan_net "$1")"
	echo "$net.$((base + 1))"
}

# The veth of WAN I with its IPv4 addresses (both ends left down).
wan_link() {
	local i=$1 ns net base
	ns=$(isp "$i")
	read -r net base <<<"$(wan_net "$i")"
	ip -n "$ns" link add up0 type veth peer name "wan$i" netns "$gw"
	ip -n "$ns" addr add "$net.$((base + 1))/29" dev up0
	in_gw sysctl -qw "net.ipv4.conf.wan$i.rp_filter=2"
	ip -n "$gw" addr add "$net.$((base + 2))/29" dev "wan$i"
}

lab_up() {
	local n=$1 routes=1 v6=0
	shift
	for a in "$@"; do
		case "$a" in
		--no-routes) routes=0 ;;
		--ipv6) v6=1 ;;
		*) die "unknown option $a" ;;
		esac
	done
	if [ "$n" -lt 1 ] || [ "$n" -gt 40 ]; then die "1..40 WANs"; fi
	ip netns list | grep -q "^$gw\b" && die "lab $p already exists"
	ip netns add "$gw"
	in_gw ip link set lo up
	in_gw sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.default.rp_filter=2
	in_gw sysctl -qw net.ipv4.ping_group_range="0 2147483647"
	for i in $(seq 1 "$n"); do
		local ns
		ns=$(isp "$i")
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		wan_link "$i"
		for t in 198.51.100.53/32 198.51.100.54/32 203.0.113.53/32 203.0.113.54/32; do
			ip -n "$ns" addr add "$t" dev lo
		done
		if [ "$v6" = 1 ]; then
			in_gw sysctl -qw "net.ipv6.conf.wan$i.accept_ra=0" "net.ipv6.conf.wan$i.accept_dad=0"
			ip netns exec "$ns" sysctl -qw net.ipv6.conf.up0.accept_dad=0
			ip -n "$ns" addr add "2001:db8:$i::1/64" dev up0 nodad
			ip -n "$gw" addr add "2001:db8:$i::2/64" dev "wan$i" nodad
			ip -n "$ns" addr add 2001:db8:ff::53/128 dev lo
		fi
		ip -n "$ns" link set up0 up
		ip -n "$gw" link set "wan$i" up
		if [ "$routes" = 1 ]; then
			ip -n "$gw" route add default via "$(wan_gateway "$i")" dev "wan$i" proto dhcp metric "$((i - 1))"
			if [ "$v6" = 1 ]; then
				ip -n "$gw" -6 route add default via "2001:db8:$i::1" dev "wan$i" proto static metric "$((1024 + i - 1))"
			fi
		fi
	done
}

lab_down() {
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^${p}(gw|isp[0-9]+)$" || true); do
		# Processes still inside would keep the namespace alive: end them first.
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
		rm -f "/run/netns-lab-$ns-responder.pid"
	done
}

nft_isp() {
	local i=$1 rule=$2
	ip netns exec "$(isp "$i")" nft -f - <<NFT
table inet lab
delete table inet lab
table inet lab {
	chain in {
		type filter hook prerouting priority -300;
		$rule
	}
}
NFT
}

case "$cmd" in
up) [ $# -ge 1 ] || die "up PREFIX N"; lab_up "$@" ;;
down) lab_down ;;
carrier)
	[ $# -eq 2 ] || die "carrier PREFIX I on|off"
	case "$2" in on) s=up ;; off) s=down ;; *) die "on|off" ;; esac
	ip -n "$(isp "$1")" link set up0 "$s"
	;;
blackhole)
	[ $# -eq 2 ] || die "blackhole PREFIX I on|off"
	case "$2" in on) nft_isp "$1" "iifname \"up0\" drop" ;; off) nft_isp "$1" "" ;; *) die "on|off" ;; esac
	;;
loss)
	[ $# -eq 2 ] || die "loss PREFIX I PCT"
	if [ "$2" = 0 ]; then nft_isp "$1" ""; else
		nft_isp "$1" "iifname \"up0\" meta l4proto { icmp, ipv6-icmp } numgen random mod 100 < $2 drop"
	fi
	;;
replug)
	[ $# -eq 1 ] || die "replug PREFIX I"
	ip -n "$(isp "$1")" link del up0
	sleep 0.2
	wan_link "$1"
	ip -n "$(isp "$1")" link set up0 up
	ip -n "$gw" link set "wan$1" up
	;;
delay)
	[ $# -ge 2 ] || die "delay PREFIX I DELAY [JITTER] | delay PREFIX I off"
	ns=$(isp "$1")
	pidfile="/run/netns-lab-$ns-responder.pid"
	if [ -f "$pidfile" ]; then
		kill "$(cat "$pidfile")" 2>/dev/null || true
		rm -f "$pidfile"
	fi
	if [ "$2" = off ]; then
		ip netns exec "$ns" sysctl -qw net.ipv4.icmp_echo_ignore_all=0 net.ipv6.icmp.echo_ignore_all=0
		exit 0
	fi
	responder=""
	for r in "${WF_RESPONDER:-}" target/release/examples/echo_responder target/debug/examples/echo_responder; do
		if [ -n "$r" ] && [ -x "$r" ]; then responder=$r; break; fi
	done
	[ -n "$responder" ] || die "echo_responder not built (cargo build --examples)"
	ip netns exec "$ns" sysctl -qw net.ipv4.icmp_echo_ignore_all=1 net.ipv6.icmp.echo_ignore_all=1
	ready="/run/netns-lab-$ns-responder.out"
	ip netns exec "$ns" "$responder" --delay "$2" --jitter "${3:-0ms}" --duration 86400s \
		>"$ready" 2>/dev/null &
	echo $! >"$pidfile"
	for _ in $(seq 1 200); do
		grep -q ready "$ready" 2>/dev/null && break
		sleep 0.01
	done
	rm -f "$ready"
	;;
gw) in_gw "$@" ;;
isp) i=$1; shift; ip netns exec "$(isp "$i")" "$@" ;;
*) die "unknown command $cmd" ;;
esac

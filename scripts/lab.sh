#!/usr/bin/env bash
# The namespace lab: a gateway namespace with N simulated WANs, each behind its own "ISP"
# namespace. Shared by the end-to-end tests, the demo and the benchmark.
#
#   lab.sh up PREFIX N [--no-routes] [--ipv6] [--dhcp] [--lan]
#                                               build it (fails if PREFIX is in use)
#   lab.sh down PREFIX                          remove every namespace of PREFIX, the processes
#                                               in them and the lab's files (idempotent)
#   lab.sh dhcp PREFIX I CLIENT start|stop      run (stop: SIGTERM) a real DHCP client on wanI
#                                               in the gateway; CLIENT is udhcpc (busybox, with
#                                               Debian's /etc/udhcpc/default.script), dhclient
#                                               (ISC) or dhcpcd. Needs a --dhcp lab.
#   lab.sh carrier PREFIX I on|off              carrier of WAN I (the ISP end of the veth)
#   lab.sh blackhole PREFIX I on|off            ISP I silently drops everything past its edge
#   lab.sh loss PREFIX I PCT                    ISP I drops PCT % of ICMP at random (0 = none)
#   lab.sh replug PREFIX I                      delete and re-create WAN I's link (new ifindex),
#                                               like a USB modem re-enumerating (IPv4 only, not
#                                               in a --dhcp lab)
#   lab.sh delay PREFIX I DELAY [JITTER]        ISP I answers pings from userspace after DELAY
#                                               (+ up to JITTER); `delay PREFIX I off` restores
#                                               the kernel's own replies. Needs the example
#                                               echo_responder built (cargo build --examples).
#   lab.sh nat PREFIX snat|masquerade|off       source NAT out of every WAN in the gateway:
#                                               `snat to` the WAN's own address (as many
#                                               firewalls write it), `masquerade`, or none
#   lab.sh echo PREFIX I [PORTS] [ADDRS]        UDP echo responder in ISP I on PORTS (default
#                                               7,1194) of its target addresses (or ADDRS,
#                                               comma-separated, IPv6 too), answering from
#                                               the address asked (scripts/labnet.py echo);
#                                               returns once it listens, runs until `down`
#   lab.sh count PREFIX I                       nft counters in ISP I: every TCP/UDP packet that
#                                               arrives from the gateway, per protocol and
#                                               destination port, counted before any drop of
#                                               `blackhole` (installing them again zeroes them)
#   lab.sh counted PREFIX I                     print ISP I's counters: `PROTO PORT PACKETS` lines
#   lab.sh gw PREFIX CMD...                     run CMD in the gateway namespace
#   lab.sh isp PREFIX I CMD...                  run CMD in ISP I's namespace
#   lab.sh lan PREFIX CMD...                    run CMD in the LAN namespace (--lan)
#
# Topology (documentation addresses only; nothing leaves the namespaces):
#   ${PREFIX}gw:   wanI  192.0.2.(8I+2)/29  2001:db8:I::2/64
#   ${PREFIX}ispI: up0   192.0.2.(8I+1)/29  2001:db8:I::1/64
#                  lo    targets 198.51.100.53, 198.51.100.54, 203.0.113.53, 203.0.113.54,
#                        2001:db8:ff::53
# (WANs 31..40 use 198.51.100.(8(I-30)+128)/29 instead, for the scale benchmark.)
# With --lan, a LAN behind the gateway, which forwards between them (no NAT until `nat`):
#   ${PREFIX}gw:   lan0  203.0.113.129/26
#   ${PREFIX}lan:  eth0  203.0.113.130/26 .. 203.0.113.133/26 (four hosts' addresses),
#                        default via 203.0.113.129
# With --lan and --ipv6 also 2001:db8:100::1/64 on lan0, 2001:db8:100::130..133/64 on eth0
# (default via 2001:db8:100::1), IPv6 forwarding, and in each ISP a route to that prefix
# via the WAN's address (routed, not NATed).
# Unless --no-routes, every WAN gets a default route as a DHCP client would leave it:
# `default via 192.0.2.(8I+1) dev wanI proto dhcp metric I-1` (IPv4 keys routes by metric:
# two metric-0 defaults on different devices collide with EEXIST), and with --ipv6
# `default via 2001:db8:I::1 dev wanI proto static metric 1024+I-1` (IPv6 refuses an equal
# metric on another device without NLM_F_APPEND, which would make it multipath).
#
# With --dhcp the gateway's WANs start without IPv4 address and route (implies --no-routes):
# every ISP runs busybox udhcpd leasing the WAN's usual address 192.0.2.(8I+2) with router
# 192.0.2.(8I+1), DNS 198.51.100.53 and a 20 s lease (`min_lease 10`), so clients renew often
# (dhclient and dhcpcd about every 10 s, busybox udhcpc every 15 s); `dhcp` starts them. Their files stay out of the host's: the gateway's
# resolv.conf is /etc/netns/${PREFIX}gw/resolv.conf (`ip netns exec` binds it over
# /etc/resolv.conf), each client sees /etc through an overlay whose writes land in the lab's
# directory (dhclient-script writes a temporary file beside resolv.conf), and dhcpcd's /run
# and /var/lib directories are the lab's. Every client script call is appended to
# /run/netns-lab-${PREFIX}/events as `<unix time> <client> <interface> <reason> <router>`.
set -euo pipefail

die() { echo "lab.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: lab.sh up|down|dhcp|carrier|blackhole|loss|replug|delay|nat|echo|count|counted|gw|isp|lan PREFIX ..."
cmd=$1 p=$2; shift 2
case "$p" in *[!A-Za-z0-9_-]*|"") die "bad prefix '$p'";; esac
gw="${p}gw"
# The lab's own files (DHCP configs, leases, pidfiles, logs, client events).
dir="/run/netns-lab-$p"
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

# The veth of WAN I with its IPv4 addresses (both ends left down); with `dhcp` as second
# argument the gateway end gets its address from a DHCP client later.
wan_link() {
	local i=$1 ns net base
	ns=$(isp "$i")
	read -r net base <<<"$(wan_net "$i")"
	ip -n "$ns" link add up0 type veth peer name "wan$i" netns "$gw"
	ip -n "$ns" addr add "$net.$((base + 1))/29" dev up0
	in_gw sysctl -qw "net.ipv4.conf.wan$i.rp_filter=2"
	[ "${2:-}" = dhcp ] || ip -n "$gw" addr add "$net.$((base + 2))/29" dev "wan$i"
}

# busybox udhcpd in ISP I, leasing the gateway's usual address on WAN I.
dhcp_server() {
	local i=$1 ns net base conf
	ns=$(isp "$i")
	read -r net base <<<"$(wan_net "$i")"
	conf="$dir/isp$i.udhcpd.conf"
	cat >"$conf" <<CONF
interface up0
start $net.$((base + 2))
end $net.$((base + 2))
max_leases 1
lease_file $dir/isp$i.leases
pidfile $dir/isp$i.udhcpd.pid
min_lease 10
option subnet 255.255.255.248
option router $net.$((base + 1))
option dns 198.51.100.53
option lease 20
CONF
	: >"$dir/isp$i.leases"
	ip netns exec "$ns" busybox udhcpd -f "$conf" >"$dir/isp$i.udhcpd.log" 2>&1 &
}

# The gateway's resolv.conf and the lab's directory, before any client starts.
dhcp_files() {
	mkdir -p "$dir"
	# Another lab's `down` may remove /etc/netns between our mkdir of it and of its child.
	for _ in 1 2 3; do mkdir -p "/etc/netns/$gw" 2>/dev/null && break; done
	echo "# lab $p: written by the gateway's DHCP clients" >"/etc/netns/$gw/resolv.conf"
}

lab_up() {
	local n=$1 routes=1 v6=0 dhcp="" lan=0
	shift
	for a in "$@"; do
		case "$a" in
		--no-routes) routes=0 ;;
		--ipv6) v6=1 ;;
		--dhcp) dhcp=dhcp routes=0 ;;
		--lan) lan=1 ;;
		*) die "unknown option $a" ;;
		esac
	done
	if [ "$n" -lt 1 ] || [ "$n" -gt 40 ]; then die "1..40 WANs"; fi
	ip netns list | grep -q "^$gw\b" && die "lab $p already exists"
	ip netns add "$gw"
	[ -z "$dhcp" ] || dhcp_files
	in_gw ip link set lo up
	in_gw sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.default.rp_filter=2
	in_gw sysctl -qw net.ipv4.ping_group_range="0 2147483647"
	for i in $(seq 1 "$n"); do
		local ns
		ns=$(isp "$i")
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		wan_link "$i" "$dhcp"
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
		[ -z "$dhcp" ] || dhcp_server "$i"
		if [ "$routes" = 1 ]; then
			ip -n "$gw" route add default via "$(wan_gateway "$i")" dev "wan$i" proto dhcp metric "$((i - 1))"
			if [ "$v6" = 1 ]; then
				ip -n "$gw" -6 route add default via "2001:db8:$i::1" dev "wan$i" proto static metric "$((1024 + i - 1))"
			fi
		fi
	done
	[ "$lan" = 0 ] || lan_up
}

# The LAN namespace behind the gateway (documentation addresses, away from the targets
# 203.0.113.53/.54 that every ISP holds).
lan_up() {
	local ns="${p}lan"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$gw" link add lan0 type veth peer name eth0 netns "$ns"
	ip -n "$gw" addr add 203.0.113.129/26 dev lan0
	for h in 130 131 132 133; do ip -n "$ns" addr add "203.0.113.$h/26" dev eth0; done
	ip -n "$gw" link set lan0 up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via 203.0.113.129
	in_gw sysctl -qw net.ipv4.ip_forward=1
	[ "$v6" = 1 ] || return 0
	# with --ipv6: a routed IPv6 LAN prefix (no NAT), every ISP routing it back to its WAN
	ip -n "$gw" addr add 2001:db8:100::1/64 dev lan0 nodad
	for h in 130 131 132 133; do ip -n "$ns" addr add "2001:db8:100::$h/64" dev eth0 nodad; done
	ip -n "$ns" -6 route add default via 2001:db8:100::1
	in_gw sysctl -qw net.ipv6.conf.all.forwarding=1
	for i in $(seq 1 "$n"); do ip -n "$(isp "$i")" -6 route add 2001:db8:100::/64 via "2001:db8:$i::2"; done
}

# Source NAT out of every WAN of the gateway: snat to the WAN's address, masquerade, or off.
nat() {
	local mode=$1 rules="" i net base
	for i in $(ip -n "$gw" -o link show | grep -o 'wan[0-9]*@' | tr -d 'wan@'); do
		read -r net base <<<"$(wan_net "$i")"
		case "$mode" in
		snat) rules+="oifname \"wan$i\" snat ip to $net.$((base + 2))"$'\n' ;;
		masquerade) rules+="oifname \"wan$i\" masquerade"$'\n' ;;
		off) ;;
		*) die "nat: snat|masquerade|off" ;;
		esac
	done
	in_gw nft -f - <<NFT
table ip lab_nat
delete table ip lab_nat
table ip lab_nat {
	chain post {
		type nat hook postrouting priority srcnat;
		$rules
	}
}
NFT
}

lab_down() {
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^${p}(gw|lan|isp[0-9]+)$" || true); do
		# Processes still inside would keep the namespace alive: end them first.
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
		rm -f "/run/netns-lab-$ns-responder.pid"
	done
	rm -rf "$dir" "/etc/netns/$gw"
	rmdir /etc/netns 2>/dev/null || true
}

# The real script each client runs, and the variables holding the interface, the reason and
# the router in its environment.
# shellcheck disable=SC2016 # the variables are the client script's, expanded when it runs
client_script() {
	case "$1" in
	udhcpc) echo '/etc/udhcpc/default.script $interface $1 $router' ;;
	dhclient) echo '/sbin/dhclient-script $interface $reason $new_routers' ;;
	dhcpcd) echo '/usr/lib/dhcpcd/dhcpcd-run-hooks $interface $reason $new_routers' ;;
	*) die "unknown DHCP client '$1' (udhcpc, dhclient, dhcpcd)" ;;
	esac
}

# Starts CLIENT on WAN I: a wrapper script that logs every call to the events file and runs
# the client's real script, then the client in the foreground, in a mount namespace of its
# own (`ip netns exec` makes one) that keeps its writes in the lab's directory.
dhcp_start() {
	local i=$1 client=$2 script real vars w="wan$1" pidfile="$dir/wan$1.$2.pid"
	[ -d "$dir" ] || die "lab $p was not built with --dhcp"
	[ ! -e "$pidfile" ] || die "$client already runs on $w"
	read -r real vars <<<"$(client_script "$client")"
	script="$dir/$w.$client.script"
	cat >"$script" <<SCRIPT
#!/bin/sh
echo "\$(date +%s.%N) $client $vars" >>"$dir/events"
exec $real "\$@"
SCRIPT
	chmod +x "$script"
	mkdir -p "$dir/$w.etc/upper" "$dir/$w.etc/work" "$dir/dhcpcd/run" "$dir/dhcpcd/db"
	: >"$dir/resolv.conf"
	local argv
	case "$client" in
	udhcpc) argv=(udhcpc -f -i "$w" -s "$script") ;;
	dhclient) argv=(dhclient -4 -d -sf "$script" -lf "$dir/$w.dhclient.leases"
		-pf "$dir/$w.dhclient.own.pid" "$w") ;;
	dhcpcd)
		mkdir -p /run/dhcpcd # the mount point; dhcpcd itself would create it
		argv=(dhcpcd -B -c "$script" "$w") ;;
	esac
	# `ip` execs sh, which execs the client: $! is the client's pid.
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$gw" sh -ec '
		dir=$1 w=$2
		shift 2
		mount --bind /etc/resolv.conf "$dir/resolv.conf"
		mount -t overlay lab-etc -o "lowerdir=/etc,upperdir=$dir/$w.etc/upper,workdir=$dir/$w.etc/work" /etc
		mount --bind "$dir/resolv.conf" /etc/resolv.conf
		if [ "$1" = dhcpcd ]; then
			mount --bind "$dir/dhcpcd/run" /run/dhcpcd
			mount --bind "$dir/dhcpcd/db" /var/lib/dhcpcd
		fi
		exec "$@"' sh "$dir" "$w" "${argv[@]}" >"$dir/$w.$client.log" 2>&1 &
	echo $! >"$pidfile"
}

# Whether process PID is gone (a zombie nobody reaps counts as gone).
gone() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$state" = Z ]
}

dhcp_stop() {
	local pidfile="$dir/wan$1.$2.pid" pid
	[ -e "$pidfile" ] || die "$2 does not run on wan$1"
	pid=$(cat "$pidfile")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		gone "$pid" && break
		sleep 0.05
	done
	gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidfile"
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
dhcp)
	[ $# -eq 3 ] || die "dhcp PREFIX I udhcpc|dhclient|dhcpcd start|stop"
	client_script "$2" >/dev/null
	case "$3" in start) dhcp_start "$1" "$2" ;; stop) dhcp_stop "$1" "$2" ;; *) die "start|stop" ;; esac
	;;
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
	[ ! -d "$dir" ] || die "replug: not in a --dhcp lab (its DHCP server is bound to the old link)"
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
	for _ in $(seq 1 1500); do
		grep -q ready "$ready" 2>/dev/null && break
		sleep 0.01
	done
	rm -f "$ready"
	;;
nat) [ $# -eq 1 ] || die "nat PREFIX snat|masquerade|off"; nat "$1" ;;
echo)
	[ $# -ge 1 ] || die "echo PREFIX I [PORTS] [ADDRS]"
	mkdir -p "$dir"
	ready="$dir/isp$1.echo.ready"
	rm -f "$ready"
	ip netns exec "$(isp "$1")" python3 "$(dirname "$0")/labnet.py" echo --ports "${2:-7,1194}" \
		${3:+--addrs "$3"} --ready "$ready" >/dev/null 2>"$dir/isp$1.echo.log" &
	# up to 15 s: a python start-up on a loaded machine can take seconds
	for _ in $(seq 1 1500); do
		[ -e "$ready" ] && exit 0
		sleep 0.01
	done
	die "echo responder in ISP $1 did not start: $(cat "$dir/isp$1.echo.log")"
	;;
count)
	[ $# -eq 1 ] || die "count PREFIX I"
	ip netns exec "$(isp "$1")" nft -f - <<NFT
table inet lab_count
delete table inet lab_count
table inet lab_count {
	set seen {
		type inet_proto . inet_service
		flags dynamic
		counter
		size 65536
	}
	chain in {
		type filter hook prerouting priority -400;
		iifname "up0" meta l4proto { tcp, udp } update @seen { meta l4proto . th dport }
	}
}
NFT
	;;
counted)
	[ $# -eq 1 ] || die "counted PREFIX I"
	set=$(ip netns exec "$(isp "$1")" nft list set inet lab_count seen)
	{ grep -oE '(tcp|udp) \. [0-9]+ counter packets [0-9]+' <<<"$set" || true; } | awk '{print $1, $3, $6}'
	;;
gw) in_gw "$@" ;;
lan) ip netns exec "${p}lan" "$@" ;;
isp) i=$1; shift; ip netns exec "$(isp "$i")" "$@" ;;
*) die "unknown command $cmd" ;;
esac

#!/usr/bin/env bash
# Installs what building, testing and the lab need on a Debian 12 machine. Idempotent: what
# is already there is not installed again.
#   setup.sh          tools for the tests and the lab (iproute2, nftables, ping, the DHCP
#                     server and clients of the lab: busybox udhcpd/udhcpc with Debian's
#                     udhcpc script, ISC dhclient, dhcpcd; net-snmp, mosquitto and curl
#                     for the SNMP agent and the example hooks; conntrack, which checks
#                     the daemon's own conntrack deletes; promtool and chromium for
#                     the metrics listener; dnsmasq, the DNS server of the check tests;
#                     python3 for scripts/labnet.py, the lab traffic of the routing tests)
#   setup.sh --full   also MSRV toolchain, cross targets and linkers, qemu-user, fuzzing and
#                     packaging linters (what .ci/run needs)
set -euo pipefail
full=0
[ "${1:-}" = "--full" ] && full=1

need_apt=()
command -v ip >/dev/null || need_apt+=(iproute2)
command -v nft >/dev/null || need_apt+=(nftables)
command -v ping >/dev/null || need_apt+=(iputils-ping)
command -v busybox >/dev/null || need_apt+=(busybox)
[ -x /etc/udhcpc/default.script ] || need_apt+=(udhcpc)
command -v dhclient >/dev/null || need_apt+=(isc-dhcp-client)
command -v dhcpcd >/dev/null || need_apt+=(dhcpcd-base)
command -v snmpd >/dev/null || need_apt+=(snmpd)
command -v snmpwalk >/dev/null || need_apt+=(snmp)
command -v snmptrapd >/dev/null || need_apt+=(snmptrapd)
command -v smilint >/dev/null || need_apt+=(smitools)
command -v mosquitto >/dev/null || need_apt+=(mosquitto)
command -v mosquitto_pub >/dev/null || need_apt+=(mosquitto-clients)
command -v curl >/dev/null || need_apt+=(curl)
command -v conntrack >/dev/null || need_apt+=(conntrack)
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
command -v python3 >/dev/null || need_apt+=(python3)
if [ "$full" = 1 ]; then
	command -v qemu-aarch64-static >/dev/null || need_apt+=(qemu-user-static)
	command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu)
	command -v arm-linux-gnueabihf-gcc >/dev/null || need_apt+=(gcc-arm-linux-gnueabihf)
	command -v shellcheck >/dev/null || need_apt+=(shellcheck)
	command -v systemd-analyze >/dev/null || need_apt+=(systemd)
	command -v file >/dev/null || need_apt+=(file)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup.sh: need root to install: ${need_apt[*]}" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ "$full" = 1 ]; then
	rustup toolchain list | grep -q '^1\.75\.0' || rustup toolchain install 1.75.0 --profile minimal
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	rustup target add aarch64-unknown-linux-musl aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf thumbv7neon-unknown-linux-gnueabihf >/dev/null
	command -v cargo-fuzz >/dev/null || cargo +nightly install cargo-fuzz --locked
	command -v oelint-adv >/dev/null || pip install -q oelint-adv
fi

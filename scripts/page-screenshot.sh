#!/usr/bin/env bash
# Makes docs/metrics-page.png: the metrics listener's status page after a quarter of an
# hour of a lab with three WANs and some trouble, as headless chromium renders it.
#
#   scripts/page-screenshot.sh [OUT.png]     (root; about 15 minutes)
#
# fiber (wan1) is plain, cable (wan2) answers after ~12 ms, lte (wan3) after ~45 ms with
# jitter. At 2 min lte loses 15 % for 4 min; at 5 min fiber loses its carrier for 2 min
# (the traffic moves to cable); at 9 min cable's ISP drops everything for a minute; at
# 14 min the page is taken. Documentation addresses only, inside the lab only; everything
# is cleaned up on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "page-screenshot.sh: run as root (network namespaces)" >&2; exit 1; }
OUT=$(realpath -m "${1:-docs/metrics-page.png}")
cargo build --locked --release --bins --examples --quiet
BIN=$PWD/target/release/wanfailover
export WF_RESPONDER=$PWD/target/release/examples/echo_responder
P=wfshot
TMP=$(mktemp -d)
DAEMON=""
cleanup() {
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	scripts/lab.sh down "$P"
	rm -rf "$TMP"
}
trap cleanup EXIT

scripts/lab.sh down "$P"
scripts/lab.sh up "$P" 3
cat >"$TMP/wf.conf" <<CONF
socket = "$TMP/wf.sock"
hooks_dir = "$TMP/hooks"
metrics_listen = "127.0.0.1:9567"

[defaults]
targets = ["198.51.100.53", "198.51.100.54", "203.0.113.53"]
interval = "1s"
max_loss = "10%"
recovery_loss = "5%"

[[wan]]
name = "fiber"
interface = "wan1"
priority = 1

[[wan]]
name = "cable"
interface = "wan2"
priority = 2

[[wan]]
name = "lte"
interface = "wan3"
priority = 3
CONF
ip netns exec "${P}gw" "$BIN" daemon -c "$TMP/wf.conf" 2>"$TMP/daemon.log" &
DAEMON=$!
scripts/lab.sh delay "$P" 2 12ms 2ms
scripts/lab.sh delay "$P" 3 45ms 20ms
# at SECONDS: waits until that many seconds since the daemon started
at() {
	local left=$(($1 - SECONDS))
	if [ "$left" -gt 0 ]; then sleep "$left"; fi
}
SECONDS=0
at 120 && scripts/lab.sh loss "$P" 3 15
at 300 && scripts/lab.sh carrier "$P" 1 off
at 360 && scripts/lab.sh loss "$P" 3 0
at 420 && scripts/lab.sh carrier "$P" 1 on
at 540 && scripts/lab.sh blackhole "$P" 2 on
at 600 && scripts/lab.sh blackhole "$P" 2 off
at 840
profile="$TMP/chromium"
mkdir -p "$profile"
ip netns exec "${P}gw" chromium --headless --no-sandbox --disable-gpu --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--user-data-dir="$profile" --hide-scrollbars --window-size=740,1080 \
	--screenshot="$OUT" http://127.0.0.1:9567/ 2>/dev/null
echo "wrote $OUT"

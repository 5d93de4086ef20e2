#!/usr/bin/env bash
# The main job, live: builds the binary, creates a namespace lab with three simulated WANs
# (fiber: plain; lte: ~45 ms with jitter; dsl: ~12 ms), starts the daemon, shows its status,
# breaks the primary (carrier loss, then an upstream blackhole), shows the failover and the
# failback as they happen, stops the daemon and shows the routes it gave back. Everything is
# cleaned up on exit, Ctrl-C or failure. Documentation addresses only, inside the lab only.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/as-root.sh
. scripts/as-root.sh
reexec_as_root "$PWD/scripts/demo.sh" "$@"
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (network namespaces)" >&2; exit 1; }

scripts/setup.sh
echo "building..."
cargo build --locked --release --bins --examples --quiet
BIN=$PWD/target/release/wanfailover
export WF_RESPONDER=$PWD/target/release/examples/echo_responder
P=wfdemo
TMP=$(mktemp -d)
DAEMON=""

cleanup() {
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	scripts/lab.sh down "$P"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cli() { "$BIN" "$@" --socket "$TMP/wf.sock"; }
route_dev() { ip -n "${P}gw" route get 198.51.100.53 | grep -o 'dev [^ ]*' | cut -d' ' -f2; }
show() {
	cli status
	echo "kernel: 198.51.100.53 goes via $(route_dev)"
}
# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 100 ms.
wait_for() {
	local secs=$1 what=$2
	shift 2
	for _ in $(seq 1 $((secs * 10))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "demo.sh: timed out waiting for: $what" >&2
	tail -n 30 "$TMP/daemon.log" >&2
	exit 1
}
via() { [ "$(route_dev)" = "$1" ]; }
state_is() { cli status --json | tr -d ' \n' | grep -q "\"name\":\"$1\",[^}]*\"state\":\"$2\""; }

scripts/lab.sh down "$P"
scripts/lab.sh up "$P" 3
scripts/lab.sh delay "$P" 2 40ms 10ms
scripts/lab.sh delay "$P" 3 12ms 2ms

cat >"$TMP/wanfailover.conf" <<CONF
socket = "$TMP/wf.sock"
hooks_dir = "$TMP/hooks"

[defaults]
targets = ["198.51.100.53", "198.51.100.54", "203.0.113.53"]
interval = "500ms"
timeout = "300ms"
failure_interval = "200ms"
recovery_interval = "500ms"
down = 3
up = 3
hold = "2s"

[[wan]]
name = "fiber"
interface = "wan1"
priority = 1

[[wan]]
name = "lte"
interface = "wan2"
priority = 2
max_latency = "150ms"

[[wan]]
name = "dsl"
interface = "wan3"
priority = 3
CONF

say "the lab: three WANs, each with a DHCP-style default route"
BEFORE=$(ip -n "${P}gw" route show default)
echo "$BEFORE"

say "starting the daemon (log: $TMP/daemon.log)"
ip netns exec "${P}gw" "$BIN" daemon -c "$TMP/wanfailover.conf" 2>"$TMP/daemon.log" &
DAEMON=$!
wait_for 10 "the control socket" cli status
wait_for 15 "all WANs up" state_is dsl up
state_is fiber up && state_is lte up
show
echo "routes now (the daemon adopted them, proto 87, metric = priority):"
ip -n "${P}gw" route show default

say "pulling the fiber's cable (carrier loss)"
scripts/lab.sh carrier "$P" 1 off
wait_for 5 "failover to lte" via wan2
show

say "plugging it back in: fiber must pass 3 rounds and a 2 s hold before it wins again"
scripts/lab.sh carrier "$P" 1 on
wait_for 15 "failback to fiber" via wan1
show

say "the fiber's ISP goes dark upstream (carrier stays up, probes get no answer)"
scripts/lab.sh blackhole "$P" 1 on
wait_for 10 "failover to lte" via wan2
show

say "the ISP comes back"
scripts/lab.sh blackhole "$P" 1 off
wait_for 15 "failback to fiber" via wan1
show

say "history"
cli history

say "stopping the daemon: the routes the other actors left come back"
kill "$DAEMON"
wait "$DAEMON" || true
DAEMON=""
AFTER=$(ip -n "${P}gw" route show default)
echo "$AFTER"
if [ "$AFTER" != "$BEFORE" ]; then
	echo "demo.sh: the routes after stop differ from those before start" >&2
	exit 1
fi
say "done: the routing table is as the DHCP clients left it"

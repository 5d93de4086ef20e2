#!/usr/bin/env bash
# The cross-built gateway binaries, run under qemu-user on this machine:
#   aarch64-unknown-linux-musl           through end-to-end scenarios in the namespace lab
#                                        (carrier loss -> switch, SIGTERM -> routes
#                                        restored, hooks started through musl's
#                                        posix_spawn, DNS and HTTP checks against real
#                                        servers); the failover-only build through the
#                                        failover scenarios
#   thumbv7neon-unknown-linux-gnueabihf  both builds through --version, check-config on
#                                        every shipped config and the failover scenarios
#                                        (not the hook scenario: glibc's posix_spawn reads
#                                        its child's exec result from memory the two share,
#                                        and qemu-user runs that child as a plain fork, so
#                                        the spawn reports garbage under qemu only)
# Expects scripts/cross-build.sh to have built them (it builds what is missing; a budget it
# reports missed does not stop this script). Root.
set -euo pipefail
cd "$(dirname "$0")/.."
a64=target/aarch64-unknown-linux-musl/release/wanfailover
arm=target/thumbv7neon-unknown-linux-gnueabihf/release/wanfailover
for b in "$a64" "$arm"; do
	if [ ! -x "$b-everything" ] || [ ! -x "$b-failover-only" ]; then
		scripts/cross-build.sh || true
		break
	fi
done

for build in everything failover-only; do
	echo "armv7 (Thumb-2) under qemu-arm-static, $build:"
	qemu-arm-static "$arm-$build" --version
	for conf in etc/wanfailover.conf board/*/wanfailover.conf; do
		qemu-arm-static "$arm-$build" check-config -c "$conf" >/dev/null
		echo "  check-config ok: $conf"
	done
done

# lab EMULATOR BINARY TEST...: the failover scenarios named, with BINARY run under EMULATOR.
failover=(carrier_loss_fails_over_and_carrier_return_fails_back
	sigterm_restores_the_routes_other_actors_left dhcp_renew_is_taken_back)
lab() {
	local emulator=$1 binary=$2
	shift 2
	echo "$binary under $emulator, in the namespace lab:"
	WF_TEST_BINARY="$PWD/$binary" WF_TEST_RUNNER="$emulator" \
		cargo test --locked --test scenarios -- --test-threads=1 "$@"
}
for build in everything failover-only; do
	lab qemu-arm-static "$arm-$build" "${failover[@]}"
	lab qemu-aarch64-static "$a64-$build" "${failover[@]}" hooks_run_with_the_transition_environment
done
echo "aarch64 under qemu-aarch64-static, everything, checks in the namespace lab:"
WF_TEST_BINARY="$PWD/$a64-everything" WF_TEST_RUNNER=qemu-aarch64-static \
	cargo test --locked --test checks_daemon_e2e -- --test-threads=1 \
	a_dead_dns_server_fails_that_wans_dns_and_http_by_name_only

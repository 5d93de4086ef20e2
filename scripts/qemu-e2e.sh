#!/usr/bin/env bash
# The cross-built gateway binaries, run under qemu-user on this machine:
#   aarch64-unknown-linux-musl     through end-to-end scenarios in the namespace lab
#                                  (carrier loss -> switch, SIGTERM -> routes restored,
#                                  DNS and HTTP checks against real servers)
#   armv7-unknown-linux-gnueabihf  through --version and check-config on every shipped config
# Expects scripts/cross-build.sh to have built both (it builds them if missing). Root.
set -euo pipefail
cd "$(dirname "$0")/.."
a64=target/aarch64-unknown-linux-musl/release/wanfailover
arm=target/armv7-unknown-linux-gnueabihf/release/wanfailover
if [ ! -x "$a64" ] || [ ! -x "$arm" ]; then scripts/cross-build.sh; fi

echo "armv7 under qemu-arm-static:"
qemu-arm-static "$arm" --version
for conf in etc/wanfailover.conf board/*/wanfailover.conf; do
	qemu-arm-static "$arm" check-config -c "$conf" >/dev/null
	echo "  check-config ok: $conf"
done

echo "aarch64 under qemu-aarch64-static, in the namespace lab:"
WF_TEST_BINARY="$PWD/$a64" WF_TEST_RUNNER=qemu-aarch64-static \
	cargo test --locked --test scenarios -- --test-threads=1 \
	carrier_loss_fails_over_and_carrier_return_fails_back \
	sigterm_restores_the_routes_other_actors_left \
	dhcp_renew_is_taken_back
WF_TEST_BINARY="$PWD/$a64" WF_TEST_RUNNER=qemu-aarch64-static \
	cargo test --locked --test checks_daemon_e2e -- --test-threads=1 \
	a_dead_dns_server_fails_that_wans_dns_and_http_by_name_only

#!/usr/bin/env bash
# The project's test command: unit tests, the pure simulation and, as root, the end-to-end
# tests in network namespaces. As a sudo user it re-runs itself under sudo; without root the
# namespace tests are skipped. A test that cannot run here (not root, a tool missing) still
# shows `ok` in cargo's list, so the tests record every skip in $WF_SKIPPED_FILE and the run
# ends with how many and which; under CI=true they fail rather than skip, and any recorded
# skip fails the run. Every test binary runs even when an earlier one failed
# (--no-fail-fast), so one failure hides no other.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/as-root.sh
. scripts/as-root.sh
reexec_as_root "$PWD/scripts/test.sh" "$@"
scripts/setup.sh
# The end-to-end tests drive the real binary: build it first so they test this tree.
cargo build --locked --bins --examples
WF_SKIPPED_FILE=$(mktemp)
export WF_SKIPPED_FILE
trap 'rm -f "$WF_SKIPPED_FILE"' EXIT
status=0
cargo test --locked --no-fail-fast -- --test-threads="${TEST_THREADS:-2}" || status=$?
skipped=$(wc -l <"$WF_SKIPPED_FILE")
if [ "$skipped" -gt 0 ]; then
	echo "test.sh: $skipped tests skipped (did not run, or not all of them):"
	sed 's/^/  /' "$WF_SKIPPED_FILE"
	if [ "${CI:-}" = true ]; then
		echo "test.sh: under CI=true every test must run" >&2
		status=1
	fi
fi
exit "$status"

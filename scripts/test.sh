#!/usr/bin/env bash
# The project's test command: unit tests, the pure simulation and, as root, the end-to-end
# tests in network namespaces. Run it as root to include the namespace tests (under CI=true
# they are required and fail rather than skip).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The end-to-end tests drive the real binary: build it first so they test this tree.
cargo build --locked --bins --examples
cargo test --locked -- --test-threads="${TEST_THREADS:-2}"

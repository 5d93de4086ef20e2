#!/usr/bin/env bash
# The main job. Until the daemon exists, this checks the shipped example configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --locked --release
echo "The daemon is not written yet; checking the shipped example configuration instead:"
exec target/release/wanfailover check-config -c etc/wanfailover.conf

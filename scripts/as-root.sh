#!/usr/bin/env bash
# Sourced by the README's two commands: `reexec_as_root "$0" "$@"` re-runs the calling
# script under sudo when it is not root, keeping the user's Rust toolchain on the PATH, so
# the commands run as written for root and for a sudo user alike. Without sudo (a bare root
# shell has no need of it; a plain user has no way to it) the script carries on as it is.
reexec_as_root() {
	[ "$(id -u)" = 0 ] && return 0
	command -v sudo >/dev/null || return 0
	# a test run without a terminal (a CI runner as a plain user) must not wait on a prompt
	[ -t 0 ] || sudo -n true 2>/dev/null || return 0
	exec sudo env "PATH=$PATH" "CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}" \
		"RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}" "$@"
}

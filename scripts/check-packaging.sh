#!/usr/bin/env bash
# Packaging checks: Yocto layer, Buildroot package, init integration, board examples.
#
#   scripts/check-packaging.sh                     everything below except the board configs
#   scripts/check-packaging.sh --no-build          skip the Buildroot-style vendored build
#   scripts/check-packaging.sh --with-binary PATH  also `PATH check-config -c` every shipped config
#   scripts/check-packaging.sh --budget-warn       report a binary over the size budget instead
#                                                  of failing (see scripts/cross-build.sh)
#
# 1. files: everything the recipe and the package install from the source tree exists;
#    LIC_FILES_CHKSUM (md5) and wanfailover.hash (sha256) match the license files
# 2. Yocto: wanfailover-crates.inc is exactly what Cargo.lock gives (regenerated and diffed);
#    oelint-adv is clean for scarthgap, whinlatter and wrynose (minus the known false
#    positive on the generated .inc's `SRC_URI += " \` line)
# 3. init: shellcheck on the init scripts and packaging scripts; systemd-analyze verify and
#    security (exposure must stay <= 3.0) on the unit, where systemd-analyze exists
# 4. Buildroot: what its cargo infrastructure does, in a copy of the tree: `cargo vendor
#    --locked` over .cargo/config.toml, then `cargo build --offline --release --locked` and
#    `cargo install` for aarch64-unknown-linux-musl with Buildroot's forced profile
#    environment followed by WANFAILOVER_CARGO_ENV from wanfailover.mk; the installed binary
#    must be static, within budget and run --version under qemu-aarch64-static
# 5. boards (--with-binary): check-config on etc/wanfailover.conf and board/*/wanfailover.conf
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

build=1
budget_warn=0
binary=""
while [ $# -gt 0 ]; do
	case "$1" in
	--no-build) build=0; shift ;;
	--budget-warn) budget_warn=1; shift ;;
	--with-binary)
		[ $# -ge 2 ] || { echo "check-packaging.sh: --with-binary needs a path" >&2; exit 2; }
		binary=$(realpath "$2")
		shift 2
		;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "check-packaging.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done

failed=0
fail() {
	echo "FAIL: $*" >&2
	failed=1
}
step() { printf '\n--- %s\n' "$*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

layer=meta-wanfailover/recipes-connectivity/wanfailover
recipe=$layer/wanfailover_0.1.0.bb
inc=$layer/wanfailover-crates.inc
brpkg=buildroot-package/package/wanfailover

step "files installed from the source tree"
for f in etc/wanfailover.conf dist/wanfailover.service dist/wanfailover.init \
	LICENSE-MIT LICENSE-APACHE "$brpkg/S50wanfailover"; do
	[ -f "$f" ] || fail "$f is missing (the Yocto recipe or the Buildroot package installs it)"
done
for lic in LICENSE-MIT LICENSE-APACHE; do
	[ -f "$lic" ] || continue
	md5=$(md5sum "$lic" | cut -d' ' -f1)
	grep -q "file://$lic;md5=$md5" "$recipe" || fail "$recipe: LIC_FILES_CHKSUM for $lic is not md5=$md5"
	sha=$(sha256sum "$lic" | cut -d' ' -f1)
	grep -Eq "^sha256 +$sha +$lic\$" "$brpkg/wanfailover.hash" ||
		fail "$brpkg/wanfailover.hash: no 'sha256  $sha  $lic'"
done
echo "ok"

step "Yocto: $inc matches Cargo.lock"
scripts/gen-crates-inc.py -o "$tmp/crates.inc"
if diff -u "$inc" "$tmp/crates.inc"; then
	echo "ok ($(grep -c 'crate://' "$inc") crates)"
else
	fail "$inc is stale: run scripts/gen-crates-inc.py -o $inc"
fi

step "Yocto: oelint-adv"
if command -v oelint-adv >/dev/null; then
	for release in scarthgap whinlatter wrynose; do
		# The generated .inc opens with `SRC_URI += " \`, oe-core's own format, which
		# oelint.vars.inconspaces reports; that one finding is expected.
		out=$(oelint-adv --quiet --release "$release" --noinfo \
			--suppress oelint.vars.homepageping "$recipe" 2>&1 |
			grep -v -- '-crates\.inc:[0-9]*:error:oelint\.vars\.inconspaces:' || true)
		if [ -n "$out" ]; then
			printf '%s\n' "$out" >&2
			fail "oelint-adv --release $release"
		else
			echo "$release: clean"
		fi
	done
else
	fail "oelint-adv not installed (pip install oelint-adv)"
fi

step "init scripts and packaging scripts: shellcheck"
shellcheck -s sh dist/wanfailover.init "$brpkg/S50wanfailover" || fail "shellcheck (init scripts)"
shellcheck -x scripts/*.sh || fail "shellcheck (scripts)"
for f in board/*/*.sh; do
	[ -e "$f" ] || continue
	shellcheck -x "$f" || fail "shellcheck $f"
done
echo "ok"

step "systemd unit"
if command -v systemd-analyze >/dev/null; then
	# verify wants the executables to exist: check a copy that runs /bin/true instead.
	sed 's|/usr/bin/wanfailover|/bin/true|g' dist/wanfailover.service >"$tmp/wanfailover.service"
	if systemd-analyze verify --man=no "$tmp/wanfailover.service"; then
		echo "verify: ok"
	else
		fail "systemd-analyze verify dist/wanfailover.service"
	fi
	exposure=$(systemd-analyze security --offline=yes "$tmp/wanfailover.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$exposure" ]; then
		echo "security: no score (systemd-analyze too old for --offline?)"
	elif awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }'; then
		echo "security: exposure $exposure"
	else
		fail "systemd-analyze security: exposure $exposure > 3.0"
	fi
elif [ "${CI:-}" = true ]; then
	fail "systemd-analyze not installed (apt-get install systemd); required under CI=true"
else
	echo "systemd-analyze not installed: skipped"
fi

if [ "$build" = 1 ]; then
	step "Buildroot: vendored offline build (aarch64-unknown-linux-musl)"
	target=aarch64-unknown-linux-musl
	src="$tmp/src"
	mkdir -p "$src"
	# The tarball Buildroot makes from the git tag: the tracked files.
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$src" --
	(
		cd "$src"
		mkdir -p .cargo
		# Buildroot's download post-process replaces .cargo/config.toml with cargo
		# vendor's source replacement.
		cargo vendor --locked --quiet VENDOR >.cargo/config.toml
	)
	# PKG_CARGO_ENV of Buildroot's package/pkg-cargo.mk for a default configuration
	# (BR2_OPTIMIZE_2, no BR2_ENABLE_LTO, no BR2_ENABLE_DEBUG, no runtime debug) ...
	envs=(
		__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS=nightly
		CARGO_UNSTABLE_HOST_CONFIG=true
		CARGO_UNSTABLE_TARGET_APPLIES_TO_HOST=true
		CARGO_TARGET_APPLIES_TO_HOST=false
		CARGO_BUILD_TARGET="$target"
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
		CARGO_TARGET_DIR="$repo/target/buildroot-check"
	)
	for p in DEV RELEASE; do
		envs+=(
			"CARGO_PROFILE_${p}_INCREMENTAL=false"
			"CARGO_PROFILE_${p}_CODEGEN_UNITS=16"
			"CARGO_PROFILE_${p}_SPLIT_DEBUGINFO=off"
			"CARGO_PROFILE_${p}_OPT_LEVEL=2"
			"CARGO_PROFILE_${p}_LTO=false"
			"CARGO_PROFILE_${p}_DEBUG=0"
			"CARGO_PROFILE_${p}_DEBUG_ASSERTIONS=false"
			"CARGO_PROFILE_${p}_OVERFLOW_CHECKS=false"
		)
	done
	# ... then the package's own WANFAILOVER_CARGO_ENV, which comes last and wins.
	mapfile -t pkg_env < <(awk '
		/^WANFAILOVER_CARGO_ENV *[+:]?=/ { on = 1; sub(/^[^=]*= */, "") }
		on { line = $0; more = sub(/ *\\$/, "", line); gsub(/"/, "", line)
		     n = split(line, w, /[ \t]+/); for (i = 1; i <= n; i++) if (w[i] != "") print w[i]
		     if (!more) on = 0 }' "$brpkg/wanfailover.mk")
	[ ${#pkg_env[@]} -gt 0 ] || fail "no WANFAILOVER_CARGO_ENV found in $brpkg/wanfailover.mk"
	echo "WANFAILOVER_CARGO_ENV: ${pkg_env[*]}"
	envs+=("${pkg_env[@]}")
	if (cd "$src" && env "${envs[@]}" cargo build --offline --release \
		--manifest-path Cargo.toml --locked --quiet) &&
		(cd "$src" && env "${envs[@]}" cargo install --offline --root "$tmp/rootfs/usr" \
			--bins --path ./ --no-track --force --locked -Z target-applies-to-host --quiet); then
		bin="$tmp/rootfs/usr/bin/wanfailover"
		desc=$(file -b "$bin")
		size=$(stat -c %s "$bin")
		echo "installed /usr/bin/wanfailover: $size bytes, $desc"
		grep -q 'ARM aarch64' <<<"$desc" || fail "buildroot build: wrong machine: $desc"
		if [ "$size" -gt $((600 * 1024)) ] && [ "$budget_warn" = 1 ]; then
			echo "WARNING: buildroot build: $size bytes is over the 600 KiB budget" >&2
		elif [ "$size" -gt $((600 * 1024)) ]; then
			fail "buildroot build: $size bytes > 600 KiB"
		fi
		if command -v qemu-aarch64-static >/dev/null; then
			qemu-aarch64-static "$bin" --version || fail "buildroot build: --version failed"
		fi
	else
		fail "Buildroot-style vendored build"
	fi
fi

if [ -n "$binary" ]; then
	step "configs: $binary check-config"
	for conf in etc/wanfailover.conf board/*/wanfailover.conf; do
		[ -e "$conf" ] || continue
		if "$binary" check-config -c "$conf"; then
			echo "$conf: ok"
		else
			fail "check-config -c $conf"
		fi
	done
fi

echo
if [ "$failed" = 0 ]; then
	echo "check-packaging: all passed"
else
	echo "check-packaging: FAILED" >&2
fi
exit "$failed"

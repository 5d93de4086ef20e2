#!/usr/bin/env bash
# Packaging checks: Yocto layer, Buildroot package, init integration, board examples.
#
#   scripts/check-packaging.sh                     everything below except the board configs
#   scripts/check-packaging.sh --no-build          skip the Buildroot-style build
#   scripts/check-packaging.sh --with-binary PATH  also `PATH check-config -c` every shipped config
#
# 1. files: everything the recipe and the package install from the source tree exists;
#    LIC_FILES_CHKSUM (md5) and wanfailover.hash (sha256) match the license files, also the
#    vendored crates' ones (against `cargo vendor --locked`, offline); the recipe's tarball
#    sum matches `git archive` of the tag v$PV when that tag is here
# 2. optional parts: every Cargo feature has a Yocto PACKAGECONFIG and a Buildroot option
#    mapped to it and nothing else, with the same defaults
# 3. Yocto: wanfailover-crates.inc is exactly what Cargo.lock gives (regenerated and diffed);
#    oelint-adv is clean for scarthgap, whinlatter and wrynose (minus the known false
#    positive on the generated .inc's `SRC_URI += " \` line)
# 4. init: the two SysV scripts are one behaviour (identical from DAEMON= on); shellcheck on
#    them and the scripts; systemd-analyze verify and security (exposure <= 3.0) on the unit,
#    whose ExecReload checks the configuration its ExecStart runs
# 5. Buildroot: what its cargo infrastructure does with a glibc toolchain, in a copy of the
#    tree: `cargo vendor --locked` over .cargo/config.toml, then `cargo build --offline
#    --release --locked` and `cargo install` for aarch64-unknown-linux-gnu linked by
#    aarch64-linux-gnu-gcc, with Buildroot's profile environment for BR2_OPTIMIZE_S and
#    BR2_ENABLE_LTO plus the package's feature options (Config.in defaults); the binary must
#    be a dynamically linked aarch64 PIE and run --version under qemu-aarch64-static
# 6. init scripts (--with-binary, root): both scripts, with Debian's and BusyBox's
#    start-stop-daemon, against the daemon in a namespace lab (scripts/lab.sh): start, status,
#    reload, a broken config, restart, stop handing the routes back, a daemon that exits at
#    once, a stop that gives up after STOP_TIMEOUT
# 7. boards (--with-binary): check-config on etc/wanfailover.conf and board/*/wanfailover.conf
# shellcheck disable=SC2016 # literal ${...} of recipes, makefiles and units in patterns
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

build=1
binary=""
while [ $# -gt 0 ]; do
	case "$1" in
	--no-build) build=0; shift ;;
	--budget-warn)
		# The old musl imitation's budget; this build has none (see docs/packaging.md).
		echo "check-packaging.sh: --budget-warn is obsolete, ignored" >&2
		shift
		;;
	--with-binary)
		[ $# -ge 2 ] || { echo "check-packaging.sh: --with-binary needs a path" >&2; exit 2; }
		binary=$(realpath "$2")
		shift 2
		;;
	-h | --help) sed -n '2,32p' "$0"; exit 0 ;;
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
recipe=$(ls "$layer"/wanfailover_*.bb)
[ "$(wc -l <<<"$recipe")" = 1 ] || { echo "FAIL: not exactly one recipe in $layer" >&2; exit 1; }
pv=${recipe##*_}
pv=${pv%.bb}
inc=$layer/wanfailover-crates.inc
brpkg=buildroot-package/package/wanfailover

step "files installed from the source tree"
for f in etc/wanfailover.conf dist/wanfailover.service dist/wanfailover.init \
	mibs/WANFAILOVER-MIB.txt LICENSE-MIT LICENSE-APACHE "$brpkg/S50wanfailover"; do
	[ -f "$f" ] || fail "$f is missing (the Yocto recipe or the Buildroot package installs it)"
done
echo "ok"

# The crates as Buildroot and Yocto get them: `cargo vendor --locked` (offline, from cargo's
# cache) into the copy of the tree that the Buildroot-style build below uses too.
src="$tmp/src"
mkdir -p "$src"
# What a release tarball holds: the tracked files (the packaging directories are
# export-ignored there; nothing below needs them in the copy).
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$src" --
(
	cd "$src"
	mkdir -p .cargo
	# Buildroot's download post-process replaces .cargo/config.toml with cargo vendor's
	# source replacement.
	cargo vendor --offline --locked --quiet VENDOR >.cargo/config.toml
) || fail "cargo vendor --offline --locked"

step "license files: recipe (md5) and Buildroot hash file (sha256)"
for lic in LICENSE-MIT LICENSE-APACHE; do
	md5=$(md5sum "$lic" | cut -d' ' -f1)
	grep -q "file://$lic;md5=$md5" "$recipe" || fail "$recipe: LIC_FILES_CHKSUM for $lic is not md5=$md5"
done
# Vendored crates' license files in the recipe: file://${CARGO_VENDORING_DIRECTORY}/N-V/F,
# N V as locked, the md5 of the crate's own file.
n=0
while read -r crate file md5; do
	name=${crate%-*} ver=${crate##*-}
	dir="$src/VENDOR/$name"
	[ ! -d "$src/VENDOR/$crate" ] || dir="$src/VENDOR/$crate"
	if [ ! -f "$dir/Cargo.toml" ] || ! grep -q "^version = \"$ver\"" "$dir/Cargo.toml"; then
		fail "$recipe: LIC_FILES_CHKSUM names $crate, which Cargo.lock does not lock"
	elif [ "$(md5sum "$dir/$file" | cut -d' ' -f1)" != "$md5" ]; then
		fail "$recipe: md5 of $crate/$file is $(md5sum "$dir/$file" | cut -d' ' -f1), not $md5"
	fi
	n=$((n + 1))
done < <(sed -n 's|.*file://${CARGO_VENDORING_DIRECTORY}/\([^/]*\)/\([^;]*\);md5=\([0-9a-f]*\).*|\1 \2 \3|p' "$recipe")
[ "$n" -gt 0 ] || fail "$recipe: no vendored crate license in LIC_FILES_CHKSUM (neli's BSD-3-Clause notice must ship)"
# Buildroot: every WANFAILOVER_LICENSE_FILES entry has its sha256 in the hash file.
licfiles=$(awk '/^WANFAILOVER_LICENSE_FILES *=/ { on = 1; sub(/^[^=]*= */, "") }
	on { more = sub(/ *\\$/, ""); print; if (!more) on = 0 }' "$brpkg/wanfailover.mk" | tr -s ' \t' '\n' | grep -v '^$')
for lic in $licfiles; do
	f=$lic
	[ "${lic#VENDOR/}" = "$lic" ] || f="$src/$lic"
	if [ ! -f "$f" ]; then
		fail "$brpkg/wanfailover.mk: license file $lic does not exist"
		continue
	fi
	sha=$(sha256sum "$f" | cut -d' ' -f1)
	grep -Eq "^sha256 +$sha +$lic\$" "$brpkg/wanfailover.hash" ||
		fail "$brpkg/wanfailover.hash: no 'sha256  $sha  $lic'"
done
# The recipe names the crates whose licenses are neither MIT nor Apache-2.0 at our choice;
# the Buildroot package the same ones.
while read -r crate; do
	grep -q "VENDOR/$crate/" <<<"$licfiles" || fail "$brpkg/wanfailover.mk: no license file of $crate"
done < <(sed -n 's|.*file://${CARGO_VENDORING_DIRECTORY}/\([^/]*\)-[0-9][^/]*/.*|\1|p' "$recipe")
echo "ok ($n vendored crate licenses)"

step "Yocto: the release tarball's sum"
if git rev-parse -q --verify "refs/tags/v$pv" >/dev/null; then
	sha=$(git -c tar.umask=0022 archive --format=tar --prefix="wanfailover-$pv/" \
		--mtime="@$(git log -1 --format=%ct "v$pv")" "v$pv^{tree}" | gzip -9 -n | sha256sum | cut -d' ' -f1)
	if grep -q "^SRC_URI\[sha256sum\] = \"$sha\"$" "$recipe"; then
		echo "ok: v$pv"
	else
		fail "$recipe: SRC_URI[sha256sum] is not $sha (git archive of v$pv, see scripts/release.sh)"
	fi
else
	echo "no tag v$pv here: not checked (scripts/release.sh writes it)"
fi
if git -c tar.umask=0022 archive --format=tar HEAD | tar t | grep -Eq '^(meta-wanfailover|buildroot-package)/'; then
	fail "git archive holds the packaging directories: .gitattributes must export-ignore them"
fi

step "optional parts: Cargo features, PACKAGECONFIG, Buildroot options"
cargo_features=$(python3 -c '
import tomllib
f = tomllib.load(open("Cargo.toml", "rb")).get("features", {})
print(" ".join(sorted(k for k in f if k != "default")))
print(" ".join(sorted(f.get("default", []))))')
features=$(sed -n 1p <<<"$cargo_features")
defaults=$(sed -n 2p <<<"$cargo_features")
pkgconfigs=$(sed -n 's/^PACKAGECONFIG\[\([a-z0-9_-]*\)\] = "--features \1".*/\1/p' "$recipe" | sort | xargs)
[ "$pkgconfigs" = "$features" ] ||
	fail "$recipe: PACKAGECONFIG[x] = \"--features x\" for '$pkgconfigs', Cargo features are '$features'"
yocto_defaults=$(sed -n 's/^PACKAGECONFIG ??= "\(.*\)"/\1/p' "$recipe" | tr ' ' '\n' | sort | xargs)
# A default feature's own requirements are on by default too (balance = ["routing"]).
cargo_on=$(python3 -c '
import tomllib
f = tomllib.load(open("Cargo.toml", "rb")).get("features", {})
on, todo = set(), list(f.get("default", []))
while todo:
    x = todo.pop()
    if x in f and x not in on:
        on.add(x)
        todo += f[x]
print(" ".join(sorted(on)))')
[ "$yocto_defaults" = "$cargo_on" ] ||
	fail "$recipe: PACKAGECONFIG ??= '$yocto_defaults', Cargo's default turns on '$cargo_on'"
grep -q '^CARGO_BUILD_FLAGS:append = " --no-default-features"$' "$recipe" ||
	fail "$recipe: without --no-default-features PACKAGECONFIG cannot turn a feature off"
br_features=$(sed -n 's/^[[:space:]]*$(if $(BR2_PACKAGE_WANFAILOVER_\([A-Z0-9_]*\)),\([a-z0-9_-]*\)).*/\1 \2/p' "$brpkg/wanfailover.mk")
br_names=$(awk '{ print $2 }' <<<"$br_features" | sort | xargs)
[ "$br_names" = "$features" ] ||
	fail "$brpkg/wanfailover.mk: features '$br_names', Cargo features are '$features'"
br_on=""
while read -r opt feature; do
	[ "$opt" = "$(tr 'a-z-' 'A-Z_' <<<"$feature")" ] || fail "$brpkg: BR2_PACKAGE_WANFAILOVER_$opt builds feature $feature"
	block=$(awk -v o="config BR2_PACKAGE_WANFAILOVER_$opt" '$0 == o { on = 1; next } on && /^config / { exit } on' "$brpkg/Config.in")
	[ -n "$block" ] || fail "$brpkg/Config.in: no BR2_PACKAGE_WANFAILOVER_$opt"
	! grep -q "^[[:space:]]*default y" <<<"$block" || br_on="$br_on $feature"
done <<<"$br_features"
br_on=$(tr ' ' '\n' <<<"$br_on" | sort | xargs)
[ "$br_on" = "$cargo_on" ] || fail "$brpkg/Config.in: on by default '$br_on', Cargo's default turns on '$cargo_on'"
grep -q -- '--no-default-features' "$brpkg/wanfailover.mk" || fail "$brpkg/wanfailover.mk: no --no-default-features"
echo "features: $features (default: $defaults)"

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

step "init scripts: one behaviour; shellcheck"
if diff -u <(sed -n '/^DAEMON=/,$p' dist/wanfailover.init) <(sed -n '/^DAEMON=/,$p' "$brpkg/S50wanfailover"); then
	echo "dist/wanfailover.init and $brpkg/S50wanfailover: the same from DAEMON= on"
else
	fail "dist/wanfailover.init and $brpkg/S50wanfailover differ (keep them one behaviour)"
fi
shellcheck -s sh dist/wanfailover.init "$brpkg/S50wanfailover" || fail "shellcheck (init scripts)"
shellcheck -x scripts/*.sh || fail "shellcheck (scripts)"
for f in board/*/*.sh; do
	[ -e "$f" ] || continue
	shellcheck -x "$f" || fail "shellcheck $f"
done
echo "ok"

step "systemd unit"
unit=dist/wanfailover.service
# ExecReload checks the file ExecStart runs with: both name it through WANFAILOVER_CONFIG.
grep -q '^ExecStart=/usr/bin/wanfailover daemon -c ${WANFAILOVER_CONFIG} ' "$unit" ||
	fail "$unit: ExecStart does not run -c \${WANFAILOVER_CONFIG}"
grep -q '^ExecReload=/usr/bin/wanfailover check-config -c ${WANFAILOVER_CONFIG}$' "$unit" ||
	fail "$unit: ExecReload does not check -c \${WANFAILOVER_CONFIG}"
if command -v systemd-analyze >/dev/null; then
	# verify wants the executables to exist: check a copy that runs /bin/true instead.
	sed 's|/usr/bin/wanfailover|/bin/true|g' "$unit" >"$tmp/wanfailover.service"
	if systemd-analyze verify --man=no "$tmp/wanfailover.service"; then
		echo "verify: ok"
	else
		fail "systemd-analyze verify $unit"
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
	target=aarch64-unknown-linux-gnu
	step "Buildroot: vendored offline build ($target, glibc toolchain)"
	for tool in aarch64-linux-gnu-gcc qemu-aarch64-static; do
		command -v "$tool" >/dev/null || fail "$tool not installed (scripts/setup.sh --full)"
	done
	# The one download here: the target's standard library, once (scripts/setup.sh --full
	# does not add it yet).
	rustup target list --installed | grep -qx "$target" || rustup target add "$target" >/dev/null ||
		fail "rustup target add $target"
	# PKG_CARGO_ENV of Buildroot's package/pkg-cargo.mk for BR2_OPTIMIZE_S, BR2_ENABLE_LTO,
	# no BR2_ENABLE_DEBUG, no runtime debug, with an external glibc toolchain whose
	# TARGET_CROSS is aarch64-linux-gnu- (no WANFAILOVER_CARGO_ENV: the package sets none).
	envs=(
		__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS=nightly
		CARGO_UNSTABLE_HOST_CONFIG=true
		CARGO_UNSTABLE_TARGET_APPLIES_TO_HOST=true
		CARGO_TARGET_APPLIES_TO_HOST=false
		CARGO_BUILD_TARGET="$target"
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
		CC=aarch64-linux-gnu-gcc
		CARGO_TARGET_DIR="$repo/target/buildroot-check"
	)
	for p in DEV RELEASE; do
		envs+=(
			"CARGO_PROFILE_${p}_INCREMENTAL=false"
			"CARGO_PROFILE_${p}_CODEGEN_UNITS=16"
			"CARGO_PROFILE_${p}_SPLIT_DEBUGINFO=off"
			"CARGO_PROFILE_${p}_OPT_LEVEL=s"
			"CARGO_PROFILE_${p}_LTO=true"
			"CARGO_PROFILE_${p}_DEBUG=0"
			"CARGO_PROFILE_${p}_DEBUG_ASSERTIONS=false"
			"CARGO_PROFILE_${p}_OVERFLOW_CHECKS=false"
		)
	done
	grep -q '^WANFAILOVER_CARGO_ENV' "$brpkg/wanfailover.mk" &&
		fail "$brpkg/wanfailover.mk sets WANFAILOVER_CARGO_ENV: imitate it here or drop it"
	# The package's feature options with every Config.in default (all on).
	feature_list=$(awk '{ print $2 }' <<<"$br_features" | xargs | tr ' ' ',')
	opts=(--no-default-features --features "$feature_list")
	echo "features: $feature_list"
	if (cd "$src" && env "${envs[@]}" cargo build --offline --release \
		--manifest-path Cargo.toml --locked --quiet "${opts[@]}") &&
		(cd "$src" && env "${envs[@]}" cargo install --offline --root "$tmp/rootfs/usr" \
			--bins --path ./ --no-track --force --locked -Z target-applies-to-host --quiet \
			"${opts[@]}"); then
		bin="$tmp/rootfs/usr/bin/wanfailover"
		desc=$(file -b "$bin")
		size=$(stat -c %s "$bin")
		# Buildroot strips the target tree after installing (BR2_STRIP_strip).
		aarch64-linux-gnu-strip -o "$tmp/stripped" "$bin"
		echo "installed /usr/bin/wanfailover: $size bytes ($(stat -c %s "$tmp/stripped") stripped), $desc"
		grep -q 'ARM aarch64' <<<"$desc" || fail "buildroot build: wrong machine: $desc"
		grep -q 'pie executable' <<<"$desc" || fail "buildroot build: not a PIE: $desc"
		grep -q 'dynamically linked' <<<"$desc" || fail "buildroot build: not linked against the toolchain's libc: $desc"
		qemu-aarch64-static -L /usr/aarch64-linux-gnu "$bin" --version ||
			fail "buildroot build: --version failed under qemu-aarch64-static"
	else
		fail "Buildroot-style vendored build"
	fi
fi

# The init scripts against the real daemon, in a namespace lab with two WANs: the script
# runs as installed (paths moved below a scratch root the way the Yocto recipe moves them),
# with each start-stop-daemon there is (Debian's, BusyBox's).
init_lab() {
	local bin=$1 root="$tmp/initroot" script ssd out rc pid name
	lab=pk$$
	local gw=(ip netns exec "${lab}gw")
	mkdir -p "$root/usr/bin" "$root/etc/default" "$root/etc/wanfailover.d" "$root/var/run" "$tmp/bb"
	cp "$bin" "$root/usr/bin/wanfailover"
	cat >"$root/etc/wanfailover.conf" <<-EOF
		socket = "$root/var/run/wanfailover.sock"
		hooks_dir = "$root/etc/wanfailover.d"
		[defaults]
		targets = ["198.51.100.53"]
		interval = "300ms"
		timeout = "300ms"
		failure_interval = "300ms"
		recovery_interval = "300ms"
		[[wan]]
		name = "wan1"
		interface = "wan1"
		priority = 1
		[[wan]]
		name = "wan2"
		interface = "wan2"
		priority = 2
	EOF
	cp "$root/etc/wanfailover.conf" "$tmp/good.conf"
	ln -sf "$(command -v busybox)" "$tmp/bb/start-stop-daemon"
	scripts/lab.sh up "$lab" 2 >/dev/null || { fail "init: lab.sh up"; return; }
	# shellcheck disable=SC2317 # called through the trap
	lab_down() { scripts/lab.sh down "$lab" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
	trap lab_down EXIT
	run() { # run EXPECTED-RC EXPECTED-TEXT ARG: the script with ARG in the gateway
		out=$("${gw[@]}" env PATH="$path" sh "$script" "$3" 2>&1) && rc=0 || rc=$?
		if [ "$rc" != "$1" ] || ! grep -q -- "$2" <<<"$out"; then
			fail "init $name ($ssd): '$3' gave $rc '$out', expected $1 '$2'"
		fi
	}
	routes() { "${gw[@]}" ip -4 route show default | grep -c "proto $1" || true; }
	for script in dist/wanfailover.init "$brpkg/S50wanfailover"; do
		name=$(basename "$script")
		sed -e "s,/usr/bin/,$root/usr/bin/,g" -e "s,/etc/,$root/etc/,g" \
			-e "s,/var/run/,$root/var/run/,g" "$script" >"$tmp/$name"
		script="$tmp/$name"
		for ssd in debian busybox; do
			path=$PATH
			if [ "$ssd" = busybox ]; then
				command -v busybox >/dev/null || { fail "init: busybox not installed"; continue; }
				path="$tmp/bb:$PATH"
			fi
			rm -f "$root/etc/default/wanfailover"
			run 0 '^Starting wanfailover: OK$' start
			run 0 'is running' status
			[ "$(routes 87)" = 2 ] || fail "init $name ($ssd): the daemon does not manage both routes"
			run 0 'already running' start
			run 0 'Reloading wanfailover: OK' reload
			echo 'bogus = 1' >>"$root/etc/wanfailover.conf"
			run 1 'FAIL (configuration kept' reload
			run 0 'is running' status
			run 1 'FAIL (configuration' restart
			cp "$tmp/good.conf" "$root/etc/wanfailover.conf"
			run 0 '^Starting wanfailover: OK$' start
			pid=$(cat "$root/var/run/wanfailover.pid")
			run 0 'Starting wanfailover: OK' restart
			[ "$(cat "$root/var/run/wanfailover.pid")" != "$pid" ] || fail "init $name ($ssd): restart kept PID $pid"
			run 0 '^Stopping wanfailover: OK$' stop
			[ "$(routes dhcp)" = 2 ] || fail "init $name ($ssd): stop did not hand the routes back"
			run 3 'is not running' status
			run 0 'not running' stop
			run 1 'FAIL (not running)' reload
			# A daemon that cannot start (its socket's directory is missing).
			sed -i "s,^socket = .*,socket = \"$root/missing/wanfailover.sock\"," "$root/etc/wanfailover.conf"
			run 1 'FAIL (exited' start
			cp "$tmp/good.conf" "$root/etc/wanfailover.conf"
			# A daemon that does not exit: stop gives up after STOP_TIMEOUT, loudly.
			echo 'STOP_TIMEOUT=1' >"$root/etc/default/wanfailover"
			run 0 '^Starting wanfailover: OK$' start
			pid=$(cat "$root/var/run/wanfailover.pid")
			kill -STOP "$pid"
			run 1 'FAIL (still running after 1s' stop
			kill -CONT "$pid"
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			! kill -0 "$pid" 2>/dev/null || { fail "init $name ($ssd): PID $pid survived SIGTERM"; kill -KILL "$pid"; }
			rm -f "$root/var/run/wanfailover.pid"
		done
	done
	scripts/lab.sh down "$lab" >/dev/null
	trap 'rm -rf "$tmp"' EXIT
}

if [ -n "$binary" ]; then
	step "init scripts against the daemon ($binary), namespace lab"
	if [ "$(id -u)" = 0 ]; then
		before=$failed
		failed=0
		init_lab "$binary"
		[ "$failed" = 1 ] || echo "ok: start, status, reload, broken config, restart, stop, early exit, bounded stop"
		[ "$before" = 0 ] || failed=1
	elif [ "${CI:-}" = true ]; then
		fail "init scripts: needs root for the namespace lab (required under CI=true)"
	else
		echo "not root: skipped"
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

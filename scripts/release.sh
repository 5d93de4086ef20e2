#!/usr/bin/env bash
# Make a release: bump the version, regenerate the Yocto crates list, build the source
# tarball, write its checksums into the Yocto recipe and the Buildroot hash file, commit
# and tag.
#
#   scripts/release.sh VERSION [--buildroot DIR]... [--no-buildroot-hash] [--no-commit]
#
#   VERSION               x.y.z; Cargo.toml's `version` becomes VERSION, the tag vVERSION
#   --buildroot DIR       a Buildroot tree of a release to support (repeatable): its own
#                         download post-process vendors the crates (with `cargo +R`, R the
#                         Rust version that Buildroot ships, installed with rustup) and
#                         the sha256 of wanfailover-VERSION-cargoN.tar.gz goes into the hash
#                         file. Needs GNU tar >= 1.35 as `tar` or in $BR_TAR, like Buildroot.
#   --no-buildroot-hash   release without any vendored-tarball line (Buildroot users then
#                         get "No hash found"); without it, at least one --buildroot is needed
#   --no-commit           leave the changes in the work tree (no commit, no tag)
#
# The tarball is target/release/wanfailover-VERSION.tar.gz: `git archive` of the release
# commit's tree with every file dated at the commit, gzip -n. The packaging directories are
# export-ignored (.gitattributes), so the sums written into them do not change the tarball,
# and GitHub's archive of the tag holds the same files, which is what Buildroot fetches.
# Rebuild it from the tag: `git -c tar.umask=0022 archive --format=tar --prefix=wanfailover-VERSION/
# --mtime=@$(git log -1 --format=%ct vVERSION) vVERSION^{tree} | gzip -9n`.
# Offline: cargo runs with --offline (the crates must be in cargo's cache already).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "release.sh: $*" >&2; exit 1; }

version=""
buildroots=()
no_br_hash=0
commit=1
while [ $# -gt 0 ]; do
	case "$1" in
	--buildroot) [ $# -ge 2 ] || die "--buildroot needs a directory"; buildroots+=("$(realpath "$2")"); shift 2 ;;
	--no-buildroot-hash) no_br_hash=1; shift ;;
	--no-commit) commit=0; shift ;;
	-h | --help) sed -n '2,26p' "$0"; exit 0 ;;
	-*) die "unknown option: $1" ;;
	*) [ -z "$version" ] || die "one VERSION only"; version=$1; shift ;;
	esac
done
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "usage: release.sh x.y.z [--buildroot DIR]..."
[ ${#buildroots[@]} -gt 0 ] || [ "$no_br_hash" = 1 ] ||
	die "name a Buildroot tree (--buildroot DIR) for the vendored tarball's hash, or --no-buildroot-hash"
[ -z "$(git status --porcelain --untracked-files=no)" ] || die "the work tree has uncommitted changes"
! git rev-parse -q --verify "refs/tags/v$version" >/dev/null || die "tag v$version exists"

# What each Buildroot tree needs, checked before anything changes: prints its cargo
# tarball suffix, its Rust version and the tar to use.
br_info() {
	local br=$1 suffix rust brtar
	[ -x "$br/support/download/cargo-post-process" ] || die "$br: not a Buildroot tree"
	suffix=$(sed -n 's/^BR_FMT_VERSION_cargo = //p' "$br/package/pkg-download.mk")
	rust=$(sed -n 's/^RUST_VERSION = //p' "$br/package/rust/rust.mk")
	{ [ -n "$suffix" ] && [ -n "$rust" ]; } || die "$br: no cargo format or Rust version found"
	cargo +"$rust" --version >/dev/null 2>&1 ||
		die "$br ships Rust $rust: rustup toolchain install $rust --profile minimal"
	brtar=$("$br/support/dependencies/check-host-tar.sh" "${BR_TAR:-tar}") ||
		die "$br needs GNU tar >= 1.35 (as tar or \$BR_TAR); $(tar --version | head -1)"
	echo "$suffix $rust $brtar"
}
for br in "${buildroots[@]}"; do
	br_info "$br" >/dev/null
done

layer=meta-wanfailover/recipes-connectivity/wanfailover
brpkg=buildroot-package/package/wanfailover
old_recipe=$(ls "$layer"/wanfailover_*.bb)
[ "$(wc -l <<<"$old_recipe")" = 1 ] || die "more than one recipe in $layer"
recipe=$layer/wanfailover_$version.bb
name=wanfailover-$version
out=target/release
mkdir -p "$out"

echo "== version $version"
# The [package] version line only (the first `version =` at the start of a line).
sed -i '0,/^version = ".*"$/s//version = "'"$version"'"/' Cargo.toml
grep -q "^version = \"$version\"$" Cargo.toml || die "Cargo.toml: no version line changed"
# Cargo.lock follows (only this crate's own entry changes).
cargo metadata --offline --format-version 1 >/dev/null
if git diff -U0 Cargo.lock | grep '^[-+][^-+]' | grep -qv '^[-+]version = '; then
	git diff Cargo.lock >&2
	die "Cargo.lock changed beyond this crate's version"
fi
[ "$old_recipe" = "$recipe" ] || git mv "$old_recipe" "$recipe"
sed -i "s/^WANFAILOVER_VERSION = .*/WANFAILOVER_VERSION = $version/" "$brpkg/wanfailover.mk"
# the layer README's clone command names the tag
sed -i "s|^git clone -b v[0-9.]* |git clone -b v$version |" meta-wanfailover/README.md
scripts/gen-crates-inc.py -o "$layer/wanfailover-crates.inc"
git add Cargo.toml Cargo.lock "$layer" "$brpkg" meta-wanfailover/README.md

echo "== source tarball"
# The commit's date, fixed now: the tarball's files carry it, and so does GitHub's archive.
date=$(date +%s)
tree=$(git write-tree)
tarball=$out/$name.tar.gz
git -c tar.umask=0022 archive --format=tar --prefix="$name/" --mtime="@$date" "$tree" |
	gzip -9 -n >"$tarball"
sha=$(sha256sum "$tarball" | cut -d' ' -f1)
if tar tzf "$tarball" | grep -Eq "^$name/(meta-wanfailover|buildroot-package)/"; then
	die "$tarball holds the packaging directories: check .gitattributes"
fi
sed -i "s/^SRC_URI\[sha256sum\] = \".*\"$/SRC_URI[sha256sum] = \"$sha\"/" "$recipe"
grep -q "^SRC_URI\[sha256sum\] = \"$sha\"$" "$recipe" || die "$recipe: no SRC_URI[sha256sum] line"
echo "$tarball: sha256 $sha"

echo "== Buildroot vendored tarballs"
hashfile=$brpkg/wanfailover.hash
# Old tarball lines go; the license lines stay.
sed -i '/-cargo[0-9]*\.tar\.gz$/d' "$hashfile"
for br in "${buildroots[@]}"; do
	read -r suffix rust brtar <<<"$(br_info "$br")"
	work=$(mktemp -d)
	cp "$tarball" "$work/$name$suffix.tar.gz"
	# Buildroot's own post-process, as its download step runs it (in the download dir;
	# here offline, from cargo's cache).
	(
		cd "$work"
		export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} CARGO_NET_OFFLINE=true TAR=$brtar
		export RUSTUP_TOOLCHAIN=$rust
		"$br/support/download/cargo-post-process" -n "$name" -o "$work/$name$suffix.tar.gz" \
			>"$work/post-process.log" 2>&1
	) || { cat "$work/post-process.log" >&2; die "$br: cargo-post-process failed"; }
	brsha=$(sha256sum "$work/$name$suffix.tar.gz" | cut -d' ' -f1)
	printf 'sha256  %s  %s\n' "$brsha" "$name$suffix.tar.gz" >>"$hashfile"
	echo "$name$suffix.tar.gz (Rust $rust): sha256 $brsha"
	rm -rf "$work"
done
git add "$recipe" "$hashfile"

if [ "$commit" = 0 ]; then
	echo "== not committed (--no-commit)"
	exit 0
fi
echo "== commit and tag"
GIT_AUTHOR_DATE="@$date +0000" GIT_COMMITTER_DATE="@$date +0000" \
	git commit -q -m "Release $version" -m "Source tarball $name.tar.gz sha256 $sha"
[ "$(git rev-parse "HEAD^{tree}")" != "$tree" ] || die "internal: the sums did not land in the commit"
# The tarball again, from the commit: the same bytes (the sums are export-ignored).
again=$(git -c tar.umask=0022 archive --format=tar --prefix="$name/" \
	--mtime="@$(git log -1 --format=%ct)" "HEAD^{tree}" | gzip -9 -n | sha256sum | cut -d' ' -f1)
[ "$again" = "$sha" ] || die "the tarball from the commit differs ($again): check .gitattributes"
GIT_COMMITTER_DATE="@$date +0000" git tag -a "v$version" -m "wanfailover $version"
echo "tagged v$version; upload $tarball as the release asset"

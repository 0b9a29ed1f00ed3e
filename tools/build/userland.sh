#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Debian userland of the real-programs lane (tests/programs/) as an
# ext4 image, cached in $CKPT_CACHE/userland/ and keyed by its package list,
# its suite and this recipe.  A warm cache makes this a no-op.  Prints the
# image's path on stdout.
#
#   tools/build/userland.sh [--cpio] [PACKAGE-LIST]   (default tests/programs/packages)
#
#   --cpio   print instead the path of a gzip'ed newc cpio archive of the same
#            tree (made from the image with debugfs on first use, then
#            cached beside it): for kernels that cannot mount the image
#            (Debian's stock kernel has ext4 and virtio-blk as modules), the
#            tree is appended to the initramfs
#
# How (no root needed, nothing of the system's apt touched):
#   1. read the suite (CKPT_USERLAND_SUITE, default trixie: Debian's stable
#      release, so the lists rarely change) through a private apt
#      configuration in $CKPT_CACHE/apt/userland (re-read when older than a
#      day, or when a download fails);
#   2. let apt resolve the packages of the list and their dependencies
#      (--no-install-recommends) and download them into the same directory;
#      the resolved names and versions are kept next to the image
#      (packages.lock);
#   3. unpack each .deb (dpkg-deb --fsys-tarfile) into a merged-/usr tree,
#      then do by hand the little of the maintainer scripts the tests need:
#      /etc/passwd and /etc/group from base-passwd, the awk alternative,
#      /bin/sh, Python's compiled modules (compileall, run by the tree's
#      own python through the tree's loader); drop documentation, manual
#      pages and locales;
#   4. mke2fs -d: an ext4 image (no journal) of the tree, without mounting
#      anything.
# The guest mounts the image read-only (tests/vm/guest/programs.sh).  Packages
# are unpacked, not configured: what a program needs from a maintainer script
# has to be added in step 3.  Essential packages (dash, coreutils, ...) are
# never pulled in as dependencies, so the list names the ones the tests use.
#
# Environment:
#   CKPT_CACHE             default ~/.cache/ckpt
#   CKPT_USERLAND_SUITE    default trixie
#   CKPT_REFRESH=1         re-read the suite's lists and rebuild the image
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/env.sh"
log() { printf '[userland] %s\n' "$*" >&2; }
die() { printf '[userland] ERROR: %s\n' "$*" >&2; exit 1; }

cpio=0
[ "${1:-}" != --cpio ] || { cpio=1; shift; }
list=${1:-$top/tests/programs/packages}
[ -f "$list" ] || die "no package list $list"
suite=${CKPT_USERLAND_SUITE:-trixie}
# Bump when the way the tree is made changes (invalidates the cache).
recipe=2
mapfile -t pkgs < <(sed 's/#.*//' "$list" | tr -s ' \t' '\n' | sed '/^$/d' | LC_ALL=C sort -u)
[ ${#pkgs[@]} -gt 0 ] || die "$list names no package"
key=$( { echo "recipe $recipe"; echo "suite $suite"; printf '%s\n' "${pkgs[@]}"; } | sha256sum | cut -c1-12)
out=$CKPT_CACHE/userland/$suite-$key
img=$out/root.ext4
mkdir -p "$out"
# One build per key at a time: a second caller waits for the first.
exec 9>"$out/.lock"
if ! flock -n 9; then
	log "another build of $out is running; waiting for it"
	flock 9
fi
# as_cpio: the tree of the image as $out/root.cpio.gz, under /debian.
as_cpio() {
	if [ ! -f "$out/root.cpio.gz" ]; then
		log "cpio archive of $img"
		rm -rf "$out/x"
		mkdir -p "$out/x/debian"
		debugfs -R "rdump / $out/x/debian" "$img" 2>/dev/null || die "debugfs rdump of $img failed"
		rm -rf "$out/x/debian/lost+found"
		(cd "$out/x" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
			gzip -1 > "$out/root.cpio.gz.tmp"
		mv "$out/root.cpio.gz.tmp" "$out/root.cpio.gz"
		rm -rf "$out/x"
	fi
	echo "$out/root.cpio.gz"
}
if [ -f "$out/.built" ] && [ -f "$img" ] && [ "${CKPT_REFRESH:-0}" != 1 ]; then
	log "Debian $suite userland ($(wc -l < "$out/packages.lock") packages) cached in $out"
	if [ $cpio = 1 ]; then as_cpio; else echo "$img"; fi
	exit 0
fi
rm -f "$out/.built" "$out/root.cpio.gz"
t0=$(date +%s)

# --- 1. the suite, through a private apt configuration ---------------------------
apt_dir=$CKPT_CACHE/apt/userland
mkdir -p "$apt_dir"/{lists/partial,archives/partial,etc}
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
	> "$apt_dir/etc/sources.list"
: > "$apt_dir/status"
AOPT=(-o Dir::Etc::SourceList="$apt_dir/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
      -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir"
      -o Dir::Cache::archives="$apt_dir/archives" -o Dir::State::status="$apt_dir/status"
      -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
      -o Debug::NoLocking=1 -o Acquire::Languages=none -o APT::Architecture=amd64
      -o APT::Architectures::=amd64 -o APT::Install-Recommends=0 -o APT::Install-Suggests=0
      -o APT::Sandbox::User=root -o APT::Get::List-Cleanup=0
      -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
      -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
      -o Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false)
HAPT() { apt-get -q "${AOPT[@]}" "$@"; }
stamp=$apt_dir/updated
update() {
	log "reading Debian $suite (private apt configuration in $apt_dir)"
	HAPT update >&2 || die "apt-get update of $suite failed (network?)"
	touch "$stamp"
}
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ] || [ "${CKPT_REFRESH:-0}" = 1 ]; then
	update
fi

# --- 2. resolve and download -----------------------------------------------------
resolve() {	# "name version arch" of every package apt would install
	HAPT -s install "${pkgs[@]}" 2>"$out/resolve.err" |
		sed -nE 's/^Inst ([^ ]+) \(([^ ]+) [^[]*\[([^]]+)\].*/\1 \2 \3/p' | LC_ALL=C sort
}
if ! resolve > "$out/packages.lock.new" || [ ! -s "$out/packages.lock.new" ]; then
	update
	resolve > "$out/packages.lock.new" || { cat "$out/resolve.err" >&2; die "apt cannot resolve: ${pkgs[*]}"; }
fi
[ -s "$out/packages.lock.new" ] || { cat "$out/resolve.err" >&2; die "apt resolved nothing for: ${pkgs[*]}"; }
debs=()
while read -r name ver arch; do
	debs+=("$apt_dir/archives/${name}_${ver//:/%3a}_${arch}.deb")
done < "$out/packages.lock.new"
fetch() { HAPT install --download-only -y "${pkgs[@]}" >"$out/download.log" 2>&1; }
missing() { local d; for d in "${debs[@]}"; do [ -f "$d" ] || return 0; done; return 1; }
if missing; then
	log "downloading $(wc -l < "$out/packages.lock.new") packages"
	if ! fetch || missing; then
		# The lists may name versions the mirror no longer has.
		update
		fetch || { tail -n 20 "$out/download.log" >&2; die "download failed (log: $out/download.log)"; }
		missing && die "apt downloaded, but not every package of $out/packages.lock.new"
	fi
fi
mv "$out/packages.lock.new" "$out/packages.lock"

# --- 3. the tree ----------------------------------------------------------------
root=$out/root
rm -rf "$root" "$img.tmp"
mkdir -p "$root/usr"/{bin,sbin,lib,lib64}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
log "unpacking $(wc -l < "$out/packages.lock") packages"
for d in "${debs[@]}"; do
	dpkg-deb --fsys-tarfile "$d" | tar -x --keep-directory-symlink -C "$root" ||
		die "cannot unpack $d"
done
# What maintainer scripts would have done, as far as the tests need it.
for f in passwd group; do
	[ -f "$root/usr/share/base-passwd/$f.master" ] && cp "$root/usr/share/base-passwd/$f.master" "$root/etc/$f"
done
[ -e "$root/usr/bin/awk" ] || { [ -e "$root/usr/bin/mawk" ] && ln -s mawk "$root/usr/bin/awk"; } || true
[ -e "$root/usr/bin/sh" ] || ln -s dash "$root/usr/bin/sh"
echo ckpt-lane > "$root/etc/hostname"
# Python's compiled modules (python3's postinst would make them): the guest's
# tree is read-only, and compiling under TCG costs seconds per run.  The
# tree's own python runs here through the tree's dynamic loader.
for py in "$root"/usr/bin/python3.[0-9]*; do
	case $py in *[!0-9.]) continue ;; esac
	v=${py##*/}
	log "compiling the $v standard library"
	PYTHONHOME=$root/usr "$root/usr/lib64/ld-linux-x86-64.so.2" --library-path "$root/usr/lib/x86_64-linux-gnu" \
		"$py" -m compileall -q -s "$root" -p / \
		-x '/(test|tests|idlelib|tkinter|turtledemo|lib2to3|ensurepip|pydoc_data)/' \
		"$root/usr/lib/$v" >&2 || die "compiling the $v standard library failed"
done
# Mount points of the guest (tests/vm/guest/programs.sh) and a clean /tmp.
mkdir -p "$root"/{proc,sys,dev,tmp,run,root,lane,oldroot,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
rm -rf "$root"/usr/share/{doc,man,info,locale,lintian,linda} "$root/var/cache/debconf"
{
	echo "# Debian $suite userland of the ckpt real-programs lane, from $list"
	echo "# built $(date -u +%Y-%m-%dT%H:%M:%SZ) by tools/build/userland.sh (recipe $recipe)"
	cat "$out/packages.lock"
} > "$root/etc/ckpt-lane-packages"

# --- 4. the ext4 image ------------------------------------------------------------
kb=$(du -sk "$root" | cut -f1)
size=$(( (kb * 5 / 4 + 65536) / 1024 ))M
log "mke2fs -d: $((kb / 1024)) MiB of files into a $size image"
mke2fs -q -F -t ext4 -O ^has_journal -L ckpt-lane -E root_owner=0:0 -d "$root" "$img.tmp" "$size" >&2 ||
	die "mke2fs -d failed (e2fsprogs 1.43 or newer needed)"
mv "$img.tmp" "$img"
rm -rf "$root"
touch "$out/.built"
log "built in $(( $(date +%s) - t0 )) s: $img"
if [ $cpio = 1 ]; then as_cpio; else echo "$img"; fi

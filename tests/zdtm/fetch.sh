#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch CRIU's ZDTM tests from Debian's `criu` source package and unpack
# test/zdtm/{lib,static,transition} (and the make fragment they include)
# into $CKPT_CACHE/zdtm/criu-<version>/.  Prints that directory on stdout.
#
#   tests/zdtm/fetch.sh
#
# The package is read through a private apt configuration under
# $CKPT_CACHE/zdtm/apt (deb-src lines for $CKPT_APT_SUITES); the system's
# apt sources are never touched.  Only the upstream ("orig") tarball is
# used; apt checks it against the signed Sources index.  The tarball stays
# in the cache, so later runs need no network; CKPT_REFRESH=1 looks for a
# newer version.  Nothing fetched here is ever part of the ckpt tree.
# Exits 1 (with the reason) if the tests cannot be fetched, for example
# because the network is down and nothing is cached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/build/env.sh"
log() { printf '[zdtm] %s\n' "$*" >&2; }

top=$CKPT_CACHE/zdtm
apt_dir=$top/apt
mkdir -p "$apt_dir"/{lists/partial,archives/partial,etc} "$top/src"
exec 9> "$top/.lock"
flock 9

src_list=$apt_dir/etc/sources.list
: > "$src_list.new"
for s in $CKPT_APT_SUITES; do
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $s main" >> "$src_list.new"
done
mv "$src_list.new" "$src_list"
APTOPTS=(-o Dir::Etc::SourceList="$src_list" -o Dir::Etc::SourceParts=/dev/null
	-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir"
	-o Dir::Cache::archives="$apt_dir/archives" -o Dir::State::status=/dev/null
	-o Debug::NoLocking=1 -o Acquire::Check-Valid-Until=false
	-o APT::Sandbox::User=root -o APT::Get::List-Cleanup=0)

orig=$(ls -v "$top"/src/criu_*.orig.tar.* 2>/dev/null | tail -n1 || true)
if [ -z "$orig" ] || [ "${CKPT_REFRESH:-0}" = 1 ]; then
	log "reading the source indexes of $CKPT_APT_SUITES"
	apt-get -q "${APTOPTS[@]}" update >&2 ||
		{ log "apt-get update failed (network down?): cannot fetch the ZDTM tests"; exit 1; }
	ver=$(apt-cache "${APTOPTS[@]}" showsrc criu 2>/dev/null |
		sed -n 's/^Version: //p' | sort -V | tail -n1)
	[ -n "$ver" ] || { log "no criu source package in $CKPT_APT_SUITES"; exit 1; }
	log "downloading the criu $ver source package"
	dl=$(mktemp -d "$top/src/.dl.XXXXXX")
	# Debian's part of the package (debian.tar.xz) is not needed: apt's exit
	# status only matters if the upstream tarball did not arrive.
	(cd "$dl" && apt-get -q "${APTOPTS[@]}" source --download-only "criu=$ver" >&2) || true
	got=$(ls "$dl"/criu_*.orig.tar.* 2>/dev/null | head -n1 || true)
	if [ -z "$got" ]; then
		rm -rf "$dl"
		log "could not download criu_${ver%-*}.orig.tar.* (network down?)"
		exit 1
	fi
	mv "$got" "$top/src/"
	rm -rf "$dl"
	orig=$top/src/$(basename "$got")
fi

uver=$(basename "$orig" | sed -E 's/^criu_(.*)\.orig\.tar\..*$/\1/')
dir=$top/criu-$uver
# .unpacked names what was unpacked: a cache unpacked by an older fetch.sh
# (an empty .unpacked: lib and static only) is unpacked again.  Older
# fetch.sh only look for the file, and find what they need in this one.
parts="lib static transition"
if [ "$(cat "$dir/.unpacked" 2>/dev/null)" != "$parts" ]; then
	log "unpacking test/zdtm/{${parts// /,}} of $(basename "$orig")"
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	tar -xf "$orig" -C "$dir.tmp" --strip-components=1 "criu-$uver/test/zdtm/Makefile.inc" \
		$(for p in $parts; do echo "criu-$uver/test/zdtm/$p"; done)
	mv "$dir.tmp" "$dir"
	echo "$parts" > "$dir/.unpacked"
fi
echo "$dir"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch the newest linux-source-$KSERIES that Debian's newer suites offer,
# reading them through a private apt configuration (the system's sources are
# never touched), and unpack it into $CKPT_CACHE/src/linux-<version>.
# Prints the unpacked directory on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
log() { printf '[ksrc] %s\n' "$*" >&2; }

apt_dir=$CKPT_CACHE/apt
mkdir -p "$apt_dir"/{lists/partial,archives/partial,etc} "$CKPT_CACHE/src"
# One fetch/unpack at a time: two callers unpacking into the same directory
# (two worktrees building at once) removed each other's files.
exec 8>"$CKPT_CACHE/src/.lock"
flock 8
src_list=$apt_dir/etc/sources.list
: > "$src_list.new"
for s in $CKPT_APT_SUITES; do
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $s main" >> "$src_list.new"
done
mv "$src_list.new" "$src_list"
APT=(apt-get -q
     -o Dir::Etc::SourceList="$src_list" -o Dir::Etc::SourceParts=/dev/null
     -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir"
     -o Dir::Cache::archives="$apt_dir/archives"
     -o Dir::State::status=/dev/null -o Debug::NoLocking=1
     -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root -o APT::Get::List-Cleanup=0)

stamp=$apt_dir/updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ] || [ "${CKPT_REFRESH:-0}" = 1 ]; then
    if [ -z "$(ls "$CKPT_CACHE"/src/linux-source-"$KSERIES"_*.deb 2>/dev/null)" ] || [ "${CKPT_REFRESH:-0}" = 1 ]; then
        log "reading $CKPT_APT_SUITES"
        "${APT[@]}" update >&2
        touch "$stamp"
    fi
fi

deb=$(ls -v "$CKPT_CACHE"/src/linux-source-"$KSERIES"_*.deb 2>/dev/null | tail -n1 || true)
if [ -z "$deb" ] || [ "${CKPT_REFRESH:-0}" = 1 ]; then
    ver=$(apt-cache -o Dir::Etc::SourceList="$src_list" -o Dir::Etc::SourceParts=/dev/null \
          -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir" -o Dir::State::status=/dev/null \
          madison "linux-source-$KSERIES" | awk '{print $3}' | sort -V | tail -n1)
    [ -n "$ver" ] || { log "no linux-source-$KSERIES in $CKPT_APT_SUITES"; exit 1; }
    log "downloading linux-source-$KSERIES=$ver"
    (cd "$CKPT_CACHE/src" && "${APT[@]}" download "linux-source-$KSERIES=$ver" >&2)
    deb=$(ls -v "$CKPT_CACHE"/src/linux-source-"$KSERIES"_*.deb | tail -n1)
fi
debver=$(dpkg-deb -f "$deb" Version)
dir=$CKPT_CACHE/src/linux-$debver
if [ ! -f "$dir/.unpacked" ]; then
    log "unpacking $deb"
    rm -rf "$dir" "$dir.tmp"; mkdir -p "$dir.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir.tmp" --wildcards '*.tar.xz'
    tarball=$(find "$dir.tmp" -name 'linux-source-*.tar.xz' | head -n1)
    tar -xJf "$tarball" -C "$dir.tmp"
    inner=$(find "$dir.tmp" -maxdepth 1 -type d -name 'linux-source-*' | head -n1)
    mv "$inner" "$dir"; rm -rf "$dir.tmp"
    touch "$dir/.unpacked"
fi
echo "$dir"

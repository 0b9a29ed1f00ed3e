#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the ZDTM static tests listed in tests/zdtm/scope as static binaries
# (glibc, gcc -static: they run in the VM's busybox initramfs) and describe
# how to start each one.
#
#   tests/zdtm/build.sh [OUTDIR]        (default: build/zdtm)
#
# Fetches the tests first (tests/zdtm/fetch.sh; fails if that fails) and
# builds them with CRIU's own makefiles in the cache, under a lock (the
# cache is shared by work trees).  Leaves in OUTDIR:
#   bin/NAME    the stripped test programs
#   tests       one line per test: NAME SCOPE AREA SUID NS ARGS...
#               (SUID is 1 if ZDTM runs the test as root, 0 if as an
#               unprivileged user; NS is 1 for a test marked `ns` in the
#               scope list, started under bin/zdtm-reaper, 2 for `ns-noreap`
#               (the reaper with ZDTM_NOREAP); ARGS are the
#               options ZDTM's makefile starts it with, paths relative to
#               the test's directory)
#   bin/zdtm-reaper  the stand-in for a pid namespace's init
#               (tests/zdtm/reaper.c)
#   skip        NAME REASON: tests marked `hang` in the scope list, which
#               the lane reports as HANG without running them
#   version     the CRIU version the tests come from
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-$top/build/zdtm}
log() { printf '[zdtm] %s\n' "$*" >&2; }

src=$("$here/fetch.sh")
static=$src/test/zdtm/static

# NAME SCOPE AREA from the scope list (comments and blank lines dropped).
mapfile -t rows < <(sed -e 's/#.*//' "$here/scope" | awk 'NF >= 3 { print $1, $2, $3, $4 }')
names=()
for r in "${rows[@]}"; do
	set -- $r
	case $2 in in|check|out) ;; *) log "scope: $1: bad scope '$2'"; exit 1 ;; esac
	case ${4:-} in ''|hang|ns|ns-noreap) ;; *) log "scope: $1: bad flag '$4'"; exit 1 ;; esac
	[ -f "$static/$1.c" ] || { log "scope: $1: no such test in $(basename "$src")"; exit 1; }
	names+=("$1")
done

exec 9> "$(dirname "$src")/.lock"
flock 9
log "building ${#names[@]} tests of $(basename "$src") (static)"
# LDFLAGS=-static links every test (and the library's helper) statically;
# -Wno-error: newer compilers warn where the tests were written for older ones.
make -s -C "$static" -j"$(nproc)" LDFLAGS=-static USERCFLAGS=-Wno-error "${names[@]}" >&2 ||
	{ log "make failed"; exit 1; }
# The command line of each test, as ZDTM's makefile would start it.
make -s -n -C "$static" LDFLAGS=-static USERCFLAGS=-Wno-error "${names[@]/%/.pid}" 2>/dev/null |
	grep -E '^\./' > "$static/.ckpt-cmdlines" ||
	{ log "cannot read the tests' command lines"; exit 1; }

rm -rf "$out.new"
mkdir -p "$out.new/bin"
for r in "${rows[@]}"; do
	set -- $r
	name=$1
	cp "$static/$name" "$out.new/bin/$name"
	strip "$out.new/bin/$name"
	suid=0
	if [ -f "$static/$name.desc" ] &&
		python3 -c 'import ast, sys
d = ast.literal_eval(open(sys.argv[1]).read())
sys.exit(0 if "suid" in d.get("flags", "").split() else 1)' "$static/$name.desc"; then
		suid=1
	fi
	cmd=$(grep -F -- "./$name --pidfile=" "$static/.ckpt-cmdlines" | head -n1)
	[ -n "$cmd" ] || { log "$name: no command line"; exit 1; }
	case ${4:-} in ns) ns=1 ;; ns-noreap) ns=2 ;; *) ns=0 ;; esac
	echo "$name $2 $3 $suid $ns ${cmd#"./$name "}"
done > "$out.new/tests"
sed -n 's/^\([^#[:space:]]*\)[[:space:]].*[[:space:]]hang[[:space:]]*\(#[[:space:]]*\(.*\)\)\{0,1\}$/\1 \3/p' \
	"$here/scope" > "$out.new/skip"
${CC:-gcc} -static -O2 -Wall -o "$out.new/bin/zdtm-reaper" "$here/reaper.c" ||
	{ log "cannot build zdtm-reaper"; exit 1; }
strip "$out.new/bin/zdtm-reaper"
basename "$src" | sed 's/^criu-//' > "$out.new/version"
rm -rf "$out"
mv "$out.new" "$out"
log "$(wc -l < "$out/tests") tests in $out"

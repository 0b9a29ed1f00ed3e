#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the ZDTM tests listed in tests/zdtm/scope as static binaries
# (glibc, gcc -static: they run in the VM's busybox initramfs) and describe
# how to start each one.  A name is a test of test/zdtm/static, or
# transition/NAME for one of test/zdtm/transition (tests that keep working,
# forking, writing, mapping, while they are checkpointed).
#
#   tests/zdtm/build.sh [OUTDIR]        (default: build/zdtm)
#
# Fetches the tests first (tests/zdtm/fetch.sh; fails if that fails) and
# builds them with CRIU's own makefiles in the cache, under a lock (the
# cache is shared by work trees).  Leaves in OUTDIR:
#   bin/NAME    the stripped test programs (bin/transition/NAME)
#   tests       one line per test: NAME SCOPE AREA SUID NS NOTIFY ARGS...
#               (SUID is 1 if ZDTM runs the test as root, 0 if as an
#               unprivileged user; NS is 1 for a test marked `ns` in the
#               scope list, started under bin/zdtm-reaper, 2 for `ns-noreap`
#               (the reaper with ZDTM_NOREAP); NOTIFY is 1 for a test with
#               ZDTM's `pre-dump-notify` flag (started with its notification
#               fds, ZDTM_NOTIFY_FDIN and ZDTM_NOTIFY_FDOUT); ARGS are the
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
zsrc=$src/test/zdtm
# suite NAME: the directory of test NAME under test/zdtm (static, or
# transition for transition/NAME); base NAME: its file name there.
suite() { case $1 in */*) echo "${1%%/*}" ;; *) echo static ;; esac; }
base() { echo "${1##*/}"; }

# NAME SCOPE AREA from the scope list (comments and blank lines dropped).
mapfile -t rows < <(sed -e 's/#.*//' "$here/scope" | awk 'NF >= 3 { print $1, $2, $3, $4 }')
declare -A names=()
for r in "${rows[@]}"; do
	set -- $r
	case $2 in in|check|out) ;; *) log "scope: $1: bad scope '$2'"; exit 1 ;; esac
	case ${4:-} in ''|hang|ns|ns-noreap) ;; *) log "scope: $1: bad flag '$4'"; exit 1 ;; esac
	s=$(suite "$1")
	case $s in static|transition) ;; *) log "scope: $1: no suite '$s'"; exit 1 ;; esac
	[ -f "$zsrc/$s/$(base "$1").c" ] || { log "scope: $1: no such test in $(basename "$src")"; exit 1; }
	names[$s]+=" $(base "$1")"
done

exec 9> "$(dirname "$src")/.lock"
flock 9
for s in "${!names[@]}"; do
	# shellcheck disable=SC2206 # names are words
	n=(${names[$s]})
	log "building ${#n[@]} tests of $(basename "$src")/$s (static)"
	# LDFLAGS=-static links every test (and the library's helper)
	# statically; -Wno-error: newer compilers warn where the tests were
	# written for older ones.
	make -s -C "$zsrc/$s" -j"$(nproc)" LDFLAGS=-static USERCFLAGS=-Wno-error "${n[@]}" >&2 ||
		{ log "make failed"; exit 1; }
	# The command line of each test, as ZDTM's makefile would start it.
	make -s -n -C "$zsrc/$s" LDFLAGS=-static USERCFLAGS=-Wno-error "${n[@]/%/.pid}" 2>/dev/null |
		grep -E '^\./' > "$zsrc/$s/.ckpt-cmdlines" ||
		{ log "cannot read the tests' command lines"; exit 1; }
done

rm -rf "$out.new"
mkdir -p "$out.new/bin/transition"
for r in "${rows[@]}"; do
	set -- $r
	name=$1
	d=$zsrc/$(suite "$name")
	b=$(base "$name")
	cp "$d/$b" "$out.new/bin/$name"
	strip "$out.new/bin/$name"
	# flag FLAG: is FLAG among the flags of the test's .desc file?
	flag() {
		[ -f "$d/$b.desc" ] && python3 -c 'import ast, sys
d = ast.literal_eval(open(sys.argv[1]).read())
sys.exit(0 if sys.argv[2] in d.get("flags", "").split() else 1)' "$d/$b.desc" "$1"
	}
	suid=0 notify=0
	! flag suid || suid=1
	! flag pre-dump-notify || notify=1
	cmd=$(grep -F -- "./$b --pidfile=" "$d/.ckpt-cmdlines" | head -n1)
	[ -n "$cmd" ] || { log "$name: no command line"; exit 1; }
	case ${4:-} in ns) ns=1 ;; ns-noreap) ns=2 ;; *) ns=0 ;; esac
	echo "$name $2 $3 $suid $ns $notify ${cmd#"./$b "}"
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

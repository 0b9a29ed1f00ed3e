#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# GNU sort of 150000 numbers through pipes: awk makes them, sort (two
# threads, 512 KiB of buffer, so it spills sorted runs into temporary files
# and merges them) sorts, sha256sum digests.  The producer holds the pipe
# open 4 s after its numbers (on an idle machine the whole pipeline would
# otherwise end before the checkpoint).  The tree (sh, awk, sleep, sort,
# sha256sum) is checkpointed once sort has written temporary files, killed
# and restarted: the digest is the one of the same pipeline run untouched
# before.
name=sort
. /lane/lib.sh
ktap_plan 6
mkdir -p "$W/tmp" "$W/reftmp"
pipeline='{ awk "BEGIN { srand(7); for (i = 0; i < 150000; i++) print int(rand() * 1e9) }"; sleep 4; } |
	sort -n -S 512K --parallel=2 -T "$T" | sha256sum > "$O"'
t0=$(date +%s)
T=$W/reftmp O=$W/ref setsid sh -c "$pipeline" 2> "$W/ref.err" < /dev/null
note "untouched: $(( $(date +%s) - t0 )) s: $(cat "$W/ref" 2>/dev/null)"
ktap_check reference test -s "$W/ref"
T=$W/tmp O=$W/out setsid sh -c "$pipeline" 2> "$W/err" < /dev/null &
root=$!
sessions=$root
spilled() { [ -n "$(ls "$W/tmp")" ]; }
ktap_check spilled within 120 spilled
note "temporary files: $(ls "$W/tmp" | tr '\n' ' ')"
cycle "$root"
gated $up finished within 300 gone "$root"
gated $up same_digest cmp -s "$W/ref" "$W/out"
show "$W/out"
show "$W/err"
lane_end

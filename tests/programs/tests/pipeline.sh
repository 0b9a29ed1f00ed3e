#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A shell pipeline (dash, its subshell and mawk): a loop counts 1, 2, 3, ...
# into a pipe, awk sums what it reads and prints "n sum" every 500 numbers.
# Checkpointed (the tree of three) in the middle, killed, restarted: the
# lines go on, each 500 numbers after the one before, and each sum is
# n(n+1)/2 (a byte lost or repeated in the pipe, or a lost variable, breaks
# it).
name=pipeline
. /lane/lib.sh
ktap_plan 6
setsid sh -c 'i=0; while :; do i=$((i + 1)); echo $i; done |
	awk "{ s += \$1 } NR % 500 == 0 { print NR, s; fflush() }"' > "$W/out" 2> "$W/err" < /dev/null &
root=$!
sessions=$root
ktap_check started wait_for "$W/out" '^1500 ' 60
before=$(lines "$W/out")
cycle "$root"
gated $up continues within 60 more_lines "$W/out" $((before + 4))
ok() {
	awk 'NR * 500 != $1 || $2 != $1 * ($1 + 1) / 2 { print "# bad line " NR ": " $0; bad = 1 }
	     END { exit bad || NR == 0 }' "$W/out"
}
gated $up sums_exact ok
note "$before lines before the checkpoint, $(lines "$W/out") after"
show "$W/out" 3
show "$W/err"
lane_end

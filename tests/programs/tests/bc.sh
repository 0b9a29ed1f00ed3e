#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bc doing arbitrary precision arithmetic (n! for n = 100, 200, ... 4800,
# printing for each its number of digits and its remainder modulo 1000003),
# checkpointed in the middle, killed and restarted: it goes on and prints
# the same lines as an untouched bc doing the same beside it.
name=bc
. /lane/lib.sh
ktap_plan 5
cat > "$W/f.bc" <<'BC'
define f(n) { auto i, r; r = 1; for (i = 2; i <= n; i++) r *= i; return (r); }
for (k = 1; k <= 48; k++) { x = f(k * 100); print k, " ", length(x), " ", x % 1000003, "\n"; }
quit
BC
setsid bc -q "$W/f.bc" > "$W/ref" 2>&1 < /dev/null &
ref=$!
sessions=$ref
setsid bc -q "$W/f.bc" > "$W/out" 2>&1 < /dev/null &
root=$!
# Its output is buffered: half a second of CPU time (a few percent of the
# work under TCG) tells that it is in the middle of it.
cpu() { stat_of "$root" | awk '{ print $12 + $13 }'; }
busy() { c=$(cpu); [ "${c:-0}" -ge 50 ]; }
ktap_check working within 60 busy
note "$(cpu) ticks of CPU time, $(lines "$W/out") of 48 lines out at the checkpoint"
cycle "$root"
gated $up finished within 300 gone "$root"
wait "$ref"
gated $up same_output cmp -s "$W/ref" "$W/out"
cmp -s "$W/ref" "$W/out" || { note "differs from the untouched bc ($(lines "$W/ref") and $(lines "$W/out") lines):"
	diff "$W/ref" "$W/out" | head -n 20 | sed "s/^/# $name: /"; od -c "$W/out" | head -n 5 | sed "s/^/# $name: /"; }
show "$W/out" 2
lane_end

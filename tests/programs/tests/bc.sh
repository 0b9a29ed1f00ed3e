#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bc doing arbitrary precision arithmetic (n! for n = 100, 200, ... 2400,
# printing for each its number of digits and its remainder modulo 1000003),
# checkpointed in the middle, killed and restarted: it goes on and prints
# the same lines as an untouched bc doing the same beside it.
name=bc
. /lane/lib.sh
ktap_plan 5
cat > "$W/f.bc" <<'BC'
define f(n) { auto i, r; r = 1; for (i = 2; i <= n; i++) r *= i; return (r); }
for (k = 1; k <= 24; k++) { x = f(k * 100); print k, " ", length(x), " ", x % 1000003, "\n"; }
quit
BC
setsid bc -q "$W/f.bc" > "$W/ref" 2>&1 < /dev/null &
ref=$!
sessions=$ref
setsid bc -q "$W/f.bc" > "$W/out" 2>&1 < /dev/null &
root=$!
ktap_check working wait_for "$W/out" '^4 ' 60
note "$(lines "$W/out") of 24 lines at the checkpoint"
cycle "$root"
gated $up finished within 300 gone "$root"
wait "$ref"
gated $up same_output cmp -s "$W/ref" "$W/out"
show "$W/out" 2
lane_end

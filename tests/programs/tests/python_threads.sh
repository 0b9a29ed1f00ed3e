#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# python3 with four threads, each hashing a SHA-256 chain and logging to its
# own file, the main thread writing a progress file (tests/programs/threads.py):
# checkpointed in the middle, killed, restarted.  The threads go on where
# they were (every log line continues its chain: the logs hold each step's
# digest once, in order) and end with the digests of the same chains
# computed serially by another python3.
name=python_threads
. /lane/lib.sh
ktap_plan 7
python3 /lane/threads.py "$W" --expect > "$W/expect" 2> "$W/expect.err"
ktap_check expected test "$(lines "$W/expect")" = 4
setsid python3 /lane/threads.py "$W" > "$W/out" 2>&1 < /dev/null &
root=$!
sessions=$root
halfway() { p=$(cat "$W/progress" 2>/dev/null); [ "${p:-0}" -ge 16000 ]; }
ktap_check working within 120 halfway
note "progress at the checkpoint: $(cat "$W/progress") of 160000 rounds; threads: $(ls /proc/$root/task | tr '\n' ' ')"
cycle "$root"
gated $up finished within 300 gone "$root"
gated $up same_digests cmp -s "$W/expect" "$W/result"
# Each log: steps 1000, 2000, ... 40000, once each, in order.
logs_ok() {
	for i in 0 1 2 3; do
		awk -v i=$i '$1 != i || $2 != NR * 1000 { bad = 1 } END { exit bad || NR != 40 }' "$W/t$i.log" || return 1
	done
}
gated $up logs_in_order logs_ok
show "$W/result"
show "$W/out"
lane_end

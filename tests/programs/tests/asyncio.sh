#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A python3 asyncio program (tests/programs/aio.py): a unix-socket server,
# client A in the same event loop, client B a subprocess whose stdout pipe
# the loop reads, a timer.  The tree (server and subprocess) is checkpointed
# in the middle of the conversation, killed and restarted: both
# conversations go on with the right sequence numbers (every reply matches
# what was sent, the server's per-connection count included; the logs count
# 1, 2, 3, ... without a gap or a repeat across the restart), the timer
# ticks on, and on request everything ends cleanly.
name=asyncio
. /lane/lib.sh
ktap_plan 9
setsid python3 /lane/aio.py "$W" > "$W/out" 2>&1 < /dev/null &
root=$!
sessions=$root
talking() { [ "$(lines "$W/a.log")" -ge "$1" ] && [ "$(lines "$W/b.log")" -ge "$1" ]; }
ktap_check talking within 90 talking 10
na=$(lines "$W/a.log") nb=$(lines "$W/b.log") nt=$(lines "$W/server.log")
note "before the checkpoint: A $na, B $nb, ticks $nt"
cycle "$root"
gated $up conversations_go_on within 60 talking $((na + 20 > nb + 20 ? na + 20 : nb + 20))
gated $up timer_ticks_on within 30 more_lines "$W/server.log" $((nt + 4))
[ "$up" = 1 ] && : > "$W/stop"
gated $up ended within 60 gone "$root"
gated $up ok_line grep -q '^OK ' "$W/server.log"
# "NAME 1", "NAME 2", ... and "tick 1", "tick 2", ...: no gap, no repeat, no FAIL.
seq_ok() { awk -v w="$2" '$1 != w || $2 != NR { print "# " FILENAME ":" NR ": " $0; bad = 1 } END { exit bad || NR == 0 }' "$1"; }
in_order() { seq_ok "$W/a.log" A && seq_ok "$W/b.log" B && grep -v '^OK ' "$W/server.log" | seq_ok /dev/stdin tick; }
gated $up sequences_exact in_order
note "after: A $(lines "$W/a.log"), B $(lines "$W/b.log"), server: $(tail -n 1 "$W/server.log")"
show "$W/out"
lane_end

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A tmux server (its unix socket, libevent's event loop, a pty) with a
# session whose shell prints "tick N" every 0.2 s.  The server and its
# pane's shell are checkpointed (--tree), killed and restarted; then a new
# tmux client reaches the restored server through its socket, and
# `tmux capture-pane` shows the loop still advancing: ticks after the last
# one seen before the checkpoint, the counter going on from where it was.
name=tmux
. /lane/lib.sh
ktap_plan 7
sock=$W/tmux.sock
TMUX= tmux -S "$sock" -f /dev/null new-session -d -s lane -x 80 -y 24 \
	'i=0; while :; do i=$((i + 1)); echo "tick $i"; sleep 0.2; done' > "$W/tmux.out" 2>&1 < /dev/null
server=$(tmux -S "$sock" display-message -p '#{pid}' 2>/dev/null)
note "tmux server: ${server:-none}"
[ -n "$server" ] && sessions=$(stat_of "$server" | cut -d' ' -f4)
# last_tick: the highest tick on the pane.
last_tick() { tmux -S "$sock" capture-pane -p -t lane 2>/dev/null | sed -n 's/^tick \([0-9]*\)$/\1/p' | tail -n 1; }
ticking() { t=$(last_tick); [ -n "$t" ] && [ "$t" -ge "$1" ]; }
ktap_check ticking within 60 ticking 5
t1=$(last_tick)
note "last tick before the checkpoint: $t1"
cycle "$server"
gated $up client_reaches_server within 30 ticking 1
t2=$(last_tick)
gated $up advancing within 60 ticking $((t1 + 5))
t3=$(last_tick)
note "after the restart: tick $t2, then $t3"
# The pane holds the ticks before and after the checkpoint, one apart.
pane() {
	tmux -S "$sock" capture-pane -p -t lane -S -100 | sed -n 's/^tick \([0-9]*\)$/\1/p' |
		awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad || NR < 10 }'
}
gated $up pane_continuous pane
cleanup() { tmux -S "$sock" kill-server 2>/dev/null; }
lane_end

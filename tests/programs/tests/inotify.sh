#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# inotifywait (inotify-tools) watching a directory for created files
# (-m, one line per event).  Checkpointed after it reported three files,
# killed, restarted: the files created after the restart are reported, each
# once and in order, after the first three (its inotify instance, its watch
# and its output offset came back).
name=inotify
. /lane/lib.sh
ktap_plan 6
mkdir "$W/watched"
setsid inotifywait -m -e create --format '%f' "$W/watched" > "$W/out" 2> "$W/err" < /dev/null &
root=$!
sessions=$root
ktap_check watching wait_for "$W/err" 'Watches established' 30
for f in a1 a2 a3; do : > "$W/watched/$f"; done
ktap_check events_before wait_for "$W/out" '^a3$' 30
cycle "$root"
[ "$up" = 1 ] && for f in b1 b2 b3; do : > "$W/watched/$f"; sleep 0.1; done
gated $up events_after wait_for "$W/out" '^b3$' 30
gated $up each_once_in_order test "$(cat "$W/out" | tr '\n' ' ')" = "a1 a2 a3 b1 b2 b3 "
show "$W/out"
show "$W/err"
lane_end

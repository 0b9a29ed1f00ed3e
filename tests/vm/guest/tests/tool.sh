#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The ckpt tool end to end, as a user would run it: checkpoint a running
# program with `ckpt checkpoint --kill`, inspect the image with `ckpt show`,
# bring the program back with `ckpt restart`, and check from its own output
# that it continued: the next number, the same pid, its buffer intact.
. /guest/ktap.sh
ktap_plan 7
out=/tmp/tool-counter.out img=/tmp/tool-counter.img
rm -f "$out" "$img"

/samples/counter > "$out" &
pid=$!
sleep 1
ktap_check tool_checkpoint /ckpt checkpoint "$pid" -o "$img" --kill --quiet
wait "$pid" 2>/dev/null
last=$(tail -n 1 "$out" | awk '{ print $2 }')
ktap_check tool_show_json sh -c "/ckpt show --json '$img' | grep -q '\"comm\": *\"counter\"'"
ktap_check tool_check_refuses_gone sh -c "! /ckpt check $pid >/dev/null 2>&1"

/ckpt restart "$img" --detach --quiet > /tmp/tool-restart.pid
sleep 1
kill "$pid" 2>/dev/null
sleep 0.3
next=$(awk -v l="$last" '$2 == l + 1' "$out" | head -n 1)
echo "# last before: $last; first after: $next"
ktap_check tool_restart_continues test -n "$next"
ktap_check tool_restart_same_pid sh -c "echo '$next' | grep -q ' pid $pid '"
ktap_check tool_restart_buffer_ok sh -c "! grep -q CORRUPT '$out'"
ktap_check tool_restart_printed_pid grep -qx "$pid" /tmp/tool-restart.pid
rm -f "$img"
ktap_finish

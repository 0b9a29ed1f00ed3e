#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# dbus-daemon --session on a unix socket, with three clients in its tree:
# dbus-monitor (a monitor connection, printing every Tick signal) and a
# python3 service speaking the D-Bus wire protocol itself
# (tests/programs/dbus_svc.py: owns org.ckpt.Lane, counts Incr() calls,
# emits Tick(n) every 0.3 s, answers Slow() 4 s late).  dbus-send calls it
# through the bus; the third client, a dbus-send, waits for Slow()'s answer.  The tree
# is checkpointed, killed, restarted: the bus has the same id, the name has
# the same owner (the same connection), the waiting dbus-send gets its
# answer, Incr() goes on from where it was,
# the monitor prints every tick once, in order, across the restart, and the
# service quits cleanly on request.
name=dbus
. /lane/lib.sh
ktap_plan 16
bus=unix:path=$W/bus
setsid sh -c 'dbus-daemon --session --address="unix:path=$0/bus" --nofork --print-address=1 > "$0/address" 2> "$0/daemon.err" &
	while [ ! -S "$0/bus" ]; do sleep 0.1; done
	dbus-monitor --address "unix:path=$0/bus" "type=signal,interface=org.ckpt.Lane" > "$0/monitor.log" 2>&1 &
	python3 /lane/dbus_svc.py "unix:path=$0/bus" > "$0/svc.log" 2>&1 &
	until [ -e "$0/go-slow" ]; do sleep 0.1; done
	dbus-send --bus="unix:path=$0/bus" --reply-timeout=120000 --print-reply=literal --dest=org.ckpt.Lane \
		/org/ckpt/Lane org.ckpt.Lane.Slow > "$0/slow.out" 2>&1 &
	wait' "$W" < /dev/null &
root=$!
sessions=$root
# call DEST PATH IFACE.MEMBER [ARGS]: the values of the reply, one a line.
call() { dbus-send --bus="$bus" --print-reply=literal --dest="$1" "$2" "$3" 2>&1; }
dbus() { call org.freedesktop.DBus /org/freedesktop/DBus "org.freedesktop.DBus.$1" | sed 's/^ *//'; }
lane() { dbus-send --bus="$bus" --print-reply=literal --dest=org.ckpt.Lane /org/ckpt/Lane "org.ckpt.Lane.$1" ${2:+"$2"} 2>&1 | sed 's/^ *//'; }
named() { dbus ListNames | grep -qw org.ckpt.Lane; }
ktap_check service_up within 60 named
id1=$(dbus GetId)
owner1=$(dbus-send --bus="$bus" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.GetNameOwner string:org.ckpt.Lane 2>&1 | sed 's/^ *//')
i=0; while [ $i -lt 5 ]; do lane Incr >> "$W/incr"; i=$((i + 1)); done
ktap_check incr_before test "$(cat "$W/incr" | tr '\n' ' ')" = "uint32 1 uint32 2 uint32 3 uint32 4 uint32 5 "
# ticks: the Tick numbers the monitor printed.
ticks() { sed -n 's/^ *uint32 \([0-9]*\)$/\1/p' "$W/monitor.log"; }
ticking() { [ "$(ticks | wc -l)" -ge "$1" ]; }
ktap_check monitor_sees_ticks within 60 ticking 5
# A call in flight: dbus-send (in the tree) waits for Slow()'s reply.
: > "$W/go-slow"
ktap_check call_pending wait_for "$W/svc.log" '^slow pending$' 30
nt=$(ticks | wc -l)
note "before: bus $id1, owner $owner1, $nt ticks seen"
daemon=$(for p in $(tree "$root"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = dbus-daemon ] && echo $p; done)
note "dbus-daemon's files: $(for f in /proc/$daemon/fd/*; do printf '%s ' "$(readlink "$f")"; done)"
cycle "$root"
gated $up bus_answers within 30 named
gated $up same_bus_id test "$(dbus GetId)" = "$id1"
owner2=$(dbus-send --bus="$bus" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.GetNameOwner string:org.ckpt.Lane 2>&1 | sed 's/^ *//')
gated $up same_owner test "$owner2" = "$owner1"
[ "$up" = 1 ] && { i=0; while [ $i -lt 5 ]; do lane Incr >> "$W/incr"; i=$((i + 1)); done; }
gated $up incr_goes_on test "$(tail -n 5 "$W/incr" | tr '\n' ' ')" = "uint32 6 uint32 7 uint32 8 uint32 9 uint32 10 "
gated $up echo test "$(lane Echo string:lane)" = "10:lane"
slow_answered() { [ "$(sed 's/^ *//' "$W/slow.out")" = slow ]; }
gated $up call_answered within 30 slow_answered
gated $up ticks_go_on within 60 ticking $((nt + 10))
seq_ok() { ticks | awk '$1 != NR { print "# tick " NR ": " $0; bad = 1 } END { exit bad || NR == 0 }'; }
gated $up ticks_in_order seq_ok
[ "$up" = 1 ] && lane Quit > /dev/null
gated $up service_quits wait_for "$W/svc.log" '^quit$' 30
gone_name() { ! named; }
gated $up name_released within 30 gone_name
note "after: $(ticks | wc -l) ticks seen; service: $(grep -c '^tick' "$W/svc.log") ticks, $(grep '^incr' "$W/svc.log" | tail -n 1)"
show "$W/svc.log" 3
show "$W/daemon.err"
lane_end

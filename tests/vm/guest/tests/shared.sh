#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Shared objects beyond the tree test: a memfd (contents with holes, size,
# seals, offset, a dup, a MAP_SHARED mapping of it) survives checkpoint,
# kill and restart; /samples/memfd checks itself and says OK.  SysV shared
# memory (a keyed segment attached twice, a private one marked for
# removal) survives too, once while the keyed segment still exists and
# once after it was removed (recreated with its shmid); /samples/sysv
# checks itself.  Two processes sharing one fd table (CLONE_FILES) still
# share it after a restart of their tree (/samples/sharedfd).
. /guest/ktap.sh
ktap_plan 16
out=/tmp/memfd.out res=/tmp/memfd.result img=/tmp/memfd.img
rm -f "$out" "$res" "$img"

/samples/memfd "$res" > "$out" </dev/null 2>&1 &
pid=$!
i=0
while ! grep -q '^ready' "$out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ktap_check memfd_checkpoint timeout 60 /ckpt checkpoint "$pid" -o "$img" --kill --quiet
i=0
while [ -d "/proc/$pid" ] && [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" != Z ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ktap_check memfd_restart sh -c "timeout 60 /ckpt restart '$img' --detach --quiet | grep -qx '$pid'"
kill -USR1 "$pid" 2>/dev/null
i=0
while [ ! -s "$res" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.2
sed 's/^/# memfd: /' "$res" 2>/dev/null
ktap_check memfd_ok grep -qx "OK memfd" "$res"
ktap_check memfd_show sh -c "/ckpt show '$img' | grep -q 'memfd .*/memfd:ckpt-sample.* size 28772 seals 0x6'"
kill -9 "$pid" 2>/dev/null
rm -f "$img"

# wait_ready OUT: waits for the "ready" line of a sample.
wait_ready() {
	i=0
	while ! grep -q '^ready' "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
# gone PID: waits until PID is dead or a zombie.
gone() {
	i=0
	while [ -d "/proc/$1" ] && [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" != Z ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
}
# verify_sysv TAG: restart the sysv image, signal it, check its result.
verify_sysv() {
	rm -f "$res"
	ktap_check "sysv_restart_$1" sh -c "timeout 60 /ckpt restart '$img' --detach --quiet | grep -qx '$pid'"
	kill -USR1 "$pid" 2>/dev/null
	i=0
	while [ ! -s "$res" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 0.2
	sed "s/^/# sysv $1: /" "$res" 2>/dev/null
	ktap_check "sysv_ok_$1" grep -qx "OK sysv" "$res"
	gone "$pid"
}
out=/tmp/sysv.out res=/tmp/sysv.result img=/tmp/sysv.img
rm -f "$out" "$res" "$img"
/samples/sysv "$res" rmid > "$out" </dev/null 2>&1 &
pid=$!
wait_ready "$out"
set -- $(cat "$out")
kid=$3
echo "# sysv: pid $pid, keyed segment $kid, private segment $4"
ktap_check sysv_checkpoint timeout 60 /ckpt checkpoint "$pid" -o "$img" --kill --quiet
gone "$pid"
# The keyed segment outlives the process; the private one went with it.
ktap_check sysv_segment_kept grep -q " $kid " /proc/sysvipc/shm
verify_sysv kept
# "rmid": the restored program removed the keyed segment before it exited.
ktap_check sysv_segment_removed sh -c "! grep -q ' $kid ' /proc/sysvipc/shm"
verify_sysv recreated
rm -f "$img"

out=/tmp/sharedfd.out res=/tmp/sharedfd.result img=/tmp/sharedfd.img
rm -f "$out" "$res" "$img"
/samples/sharedfd "$res" > "$out" </dev/null 2>&1 &
pid=$!
wait_ready "$out"
set -- $(cat "$out")
child=$3
ktap_check sharedfd_checkpoint timeout 60 /ckpt checkpoint "$pid" -o "$img" --tree --kill --quiet
gone "$pid"; gone "$child"
ktap_check sharedfd_restart sh -c "timeout 60 /ckpt restart '$img' --detach --quiet | grep -qx '$pid'"
ktap_check sharedfd_same_table sh -c "[ \"\$(readlink /proc/$pid/fd/1)\" = \"\$(readlink /proc/$child/fd/1)\" ]"
kill -USR1 "$pid" 2>/dev/null
i=0
while [ ! -s "$res" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
sed "s/^/# sharedfd: /" "$res" 2>/dev/null
ktap_check sharedfd_ok grep -qx "OK sharedfd" "$res"
ktap_check sharedfd_show sh -c "/ckpt show '$img' | grep -c '^fd table' | grep -qx 1"
rm -f "$img"
ktap_finish

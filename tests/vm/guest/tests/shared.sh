#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Shared objects beyond the tree test: a memfd (contents with holes, size,
# seals, offset, a dup, a MAP_SHARED mapping of it) survives checkpoint,
# kill and restart; /samples/memfd checks itself and says OK.
. /guest/ktap.sh
ktap_plan 4
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
ktap_finish

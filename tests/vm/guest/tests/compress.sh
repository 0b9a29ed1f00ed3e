#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Compressed images (`ckpt checkpoint --compress`): a 16 MiB worker
# (/selftests/ckpt_migrate --worker, writing 1% of its pages over and over)
# is checkpointed compressed and restarted; the restored worker sees another
# parent, checks every page and exits 0.  Then a chain: a compressed tracking
# image and a compressed incremental one against it, restarted; `ckpt show`
# reads the compressed images.
. /guest/ktap.sh
ktap_plan 5
cd /tmp || exit 1
d=/tmp/compress-test
rm -rf "$d"; mkdir -p "$d"

start() {
	rm -f "$d/ready"
	/selftests/ckpt_migrate --worker 16 1 "$d/ready" </dev/null >/dev/null 2>&1 &
	wpid=$!
	i=0
	while [ ! -f "$d/ready" ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
}

# The worker's pages are random-looking: the ratio is measured on a sleep.
sleep 1000 &
spid=$!
/ckpt checkpoint "$spid" -o "$d/sleep.img" --leave-running --quiet
/ckpt checkpoint "$spid" -o "$d/sleep.zst" --kill --compress --quiet
rc=$?
wait "$spid"
plain=$(wc -c < "$d/sleep.img") size=$(wc -c < "$d/sleep.zst")
echo "# a sleep's image: $plain bytes, compressed $size"
ktap_check compress_checkpoint test "$rc" = 0 -a "$((size * 2))" -lt "$plain"
start
/ckpt checkpoint "$wpid" -o "$d/full.img" --compress --kill --quiet
wait "$wpid"
/ckpt show "$d/full.img" > /dev/null
ktap_check compress_show test $? = 0
/ckpt restart "$d/full.img" --quiet
ktap_check compress_restart test $? = 0

if grep -q ' sd' /proc/self/smaps; then
	start
	/ckpt checkpoint "$wpid" -o "$d/base.img" --track --leave-running --compress --quiet
	rc1=$?
	sleep 1
	/ckpt checkpoint "$wpid" -o "$d/next.img" --parent "$d/base.img" --kill --compress --quiet
	rc2=$?
	wait "$wpid"
	ktap_check compress_incremental test "$rc1" = 0 -a "$rc2" = 0
	/ckpt restart "$d/next.img" --quiet
	ktap_check compress_incremental_restart test $? = 0
else
	ktap_skip compress_incremental "no soft-dirty bits in this kernel"
	ktap_skip compress_incremental_restart "no soft-dirty bits in this kernel"
fi
[ ! -f /tmp/ckpt-migrate-worker.log ] || sed 's/^/# worker: /' /tmp/ckpt-migrate-worker.log
rm -rf "$d"
ktap_finish

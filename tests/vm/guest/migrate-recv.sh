#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The receiving VM of the live-migration lane (tests/migrate.sh): `ckpt
# receive --listen 169.254.77.2:7070 --key` (the lane's key) restores what migrate-send.sh sends
# and waits for it: the migrated worker checks its memory and exits 0.  With
# ckpt.xsave=1 a first migration must be refused (its worker holds AVX state
# this VM's CPU lacks).
xsave=0
for w in $(cat /proc/cmdline); do
	case $w in ckpt.xsave=*) xsave=${w#*=} ;; esac
done
. /guest/ktap.sh
# result NAME RC: one KTAP test (the judge reads KTAP between the markers).
result() {
	ktap_plan 1
	if [ "$2" = 0 ]; then ktap_pass "$1"; else ktap_fail "$1"; fi
	echo "# Totals: pass:$ktap_npass fail:$ktap_nfail xfail:0 xpass:0 skip:0 error:0"
	ktap_n=0 ktap_npass=0 ktap_nfail=0
}
ip link set lo up
ip link set eth0 mtu 65000 2>/dev/null
ip link set eth0 up && ip addr add 169.254.77.2/16 dev eth0 || echo "# migrate-recv: no eth0"
ip link show eth0 | sed "s/^/# /"
grep -q ' avx ' /proc/cpuinfo && echo "# migrate-recv: this CPU has AVX" || echo "# migrate-recv: this CPU has no AVX"
cd / || exit 1
# The lane's shared secret (the same in migrate-send.sh).
(umask 077; printf 'ckpt migrate lane key 0123456789\n' > /tmp/migrate.key)
if [ "$xsave" = 1 ]; then
	echo "CKPT-TEST-BEGIN migrate:xsave-refused-recv"
	/ckpt receive --listen 169.254.77.2:7070 --key /tmp/migrate.key > /tmp/recv1.out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/recv1.out
	# Refused: the restart failed with the reason, and said so to the sender.
	[ $rc = 1 ] && rc=0 || rc=1
	result xsave_refused "$rc"
	echo "CKPT-TEST-END migrate:xsave-refused-recv rc=$rc"
fi
echo "CKPT-TEST-BEGIN migrate:receive"
# The tool's marks (ckpt-timing ... on its standard error), in ms since it
# started (CLOCK_MONOTONIC, which /proc/uptime shows): when the last image
# came, the chain was read, the restart was done.
read -r up _ < /proc/uptime
export CKPT_TIMING_T0=$(( ${up%.*} * 1000000000 + 1${up#*.} * 10000000 - 1000000000 ))
/ckpt receive --listen 169.254.77.2:7070 --key /tmp/migrate.key > /tmp/recv2.out 2>&1
rc=$?
sed 's/^/# /' /tmp/recv2.out
[ ! -f /tmp/ckpt-migrate-worker.log ] || sed 's/^/# worker: /' /tmp/ckpt-migrate-worker.log
result migrate_receive "$rc"
echo "CKPT-TEST-END migrate:receive rc=$rc"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make migrate-demo`: live migration between two QEMU VMs on this machine,
# joined by a QEMU socket network (-netdev socket over 127.0.0.1; the guests
# are 169.254.77.1 and .2, link-local, reachable only from each other).
# The sending VM (tests/vm/guest/migrate-send.sh) starts a worker that fills
# its memory and keeps writing 1% of its pages, and runs `ckpt migrate`; the
# receiving VM (migrate-recv.sh) runs `ckpt receive`, which restores it; the
# worker then checks every page and exits 0.  Prints the rounds, the
# downtime (from the last round's freeze until the worker runs on the
# receiver) and a full dump's frozen time (round 0's).  Both boots are
# judged like `make check` boots.
#
#   tests/migrate.sh             a 1 GiB worker; says whether the downtime is
#                                at most 10% of the full dump's frozen time
#                                (a measure: not failed on)
#   tests/migrate.sh --quick     (the `migrate` stage of `make check`) 32 MiB
#                                workers, and the receiving VM's CPU lacks
#                                AVX (-cpu max,-avx,-avx2,...): a worker
#                                holding AVX state is refused (with the
#                                reason) and goes on on the sender; one that
#                                holds none moves and checks itself there
#
# Environment: CKPT_MIGRATE_MIB (the worker's size), CKPT_MIGRATE_RECV_CPU
# (the receiver's -cpu with --quick), CKPT_VM_TIMEOUT.  Consoles:
# build/vm/console-migrate-send.log and console-migrate-recv.log.  Prints
# "N passed, N failed"; exits 1 on failure.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=$top/build
log() { printf '[migrate] %s\n' "$*" >&2; }
[ -f "$B/ckpt.ko" ] && [ -x "$B/ckpt" ] && [ -x "$B/selftests/ckpt_migrate" ] ||
	{ log "run 'make all' first"; exit 2; }

how=${1:---full}
mib=1024 xsave=0 maxpct=10 smem=3G rmem=4G rcpu=max
case $how in
--full) ;;
--quick|--xsave) mib=32 maxpct= smem=2G rmem=2G xsave=1
	rcpu=${CKPT_MIGRATE_RECV_CPU:-max,-avx,-avx2,-fma,-f16c,-avx-vnni,-vaes,-vpclmulqdq} ;;
*) log "usage: tests/migrate.sh [--quick]"; exit 2 ;;
esac
mib=${CKPT_MIGRATE_MIB:-$mib}

# A free port for the socket network (QEMU listens on it, the other QEMU
# connects; nothing else may connect to it).
port=
for _ in $(seq 50); do
	p=$((30000 + RANDOM % 30000))
	hex=$(printf ':%04X ' "$p")
	grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || { log "no free port"; exit 2; }
listening() { awk -v h="$(printf '%04X' "$port")" '$4 == "0A" && $2 ~ (":" h "$") { f = 1 } END { exit !f }' /proc/net/tcp; }

out=$B/vm/migrate
mkdir -p "$out"
app="ckpt.mib=$mib ckpt.xsave=$xsave${maxpct:+ ckpt.maxpct=$maxpct}"
log "receiver: -cpu $rcpu, $rmem; sender: -cpu max, $smem; a $mib MiB worker; network on 127.0.0.1:$port"
CKPT_VM_NET="listen=127.0.0.1:$port" CKPT_VM_MAC=52:54:00:c7:00:02 CKPT_VM_MEM=$rmem \
	CKPT_VM_CPU=$rcpu CKPT_VM_APPEND="$app ${CKPT_VM_APPEND:-}" \
	tests/vm/run.sh migrate-recv > "$out/recv.log" 2>&1 &
rpid=$!
for _ in $(seq 600); do
	listening && break
	kill -0 "$rpid" 2>/dev/null || break
	sleep 0.1
done
if ! listening; then
	log "the receiving VM's QEMU does not listen on $port"
	wait "$rpid" || true
	cat "$out/recv.log"
	echo "0 passed, 1 failed"
	exit 1
fi
set +e
CKPT_VM_NET="connect=127.0.0.1:$port" CKPT_VM_MAC=52:54:00:c7:00:01 CKPT_VM_MEM=$smem \
	CKPT_VM_CPU=max CKPT_VM_APPEND="$app ${CKPT_VM_APPEND:-}" \
	tests/vm/run.sh migrate-send > "$out/send.log" 2>&1
src=$?
wait "$rpid"
rrc=$?
set -e
for side in send recv; do
	tr -d '\r' < "$B/vm/console-migrate-$side.log" | sed -n 's/^# //p' |
		grep -E '^(ckpt: |ckpt-timing |migrated |MIGRATE-RESULT|migrate-)' | sed "s/^/$side: /" || true
done
p=0 f=0
for side in send recv; do
	echo "--- $side:"
	grep -vE '^(\[|$)' "$out/$side.log" | tail -n 8
	read -r a b < <(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1 \2/p' "$out/$side.log" | tail -n1) || true
	p=$((p + ${a:-0})) f=$((f + ${b:-0}))
done
{ [ $src = 0 ] && [ $rrc = 0 ]; } || [ $f != 0 ] || f=1
echo "$p passed, $f failed"
[ $f = 0 ]

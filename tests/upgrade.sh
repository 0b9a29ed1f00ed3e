#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make upgrade-demo`: a kernel upgrade and downgrade under running jobs, in
# one QEMU boot.  The guest kernel 7.2.13 starts jobs (a process tree with
# pipes, a shared file and shared memory; a threaded program; a program
# keeping a checksum of a 64 MiB buffer; a program calling the vDSO),
# checkpoints them onto a disk and kexecs into 7.3.4, which loads its own
# ckpt.ko and restarts them; they continue, checkpointed again, back to
# 7.2.13 (the downgrade), restarted again, and then check their whole state
# themselves (tests/vm/guest/upgrade.sh).  Each boot is judged like a `make
# check` boot (KTAP, no WARN/BUG/lockdep/leak); the downtime of each switch
# is printed.
#
#   tests/upgrade.sh            7.2 -> 7.3 -> 7.2 (builds the 7.3 guest
#                               kernel first if it is not cached:
#                               CKPT_KSERIES=7.3, ~30 min on 2 cores)
#   tests/upgrade.sh --quick    7.2 -> 7.2: one kexec into the same kernel
#                               (the `upgrade` stage of `make check`)
#   tests/upgrade.sh --same     7.2 -> 7.2 -> 7.2 (the demo without 7.3)
#   ... --kho                   (with any of the above) the images cross each
#                               kexec in memory the kernel preserves (kexec
#                               handover, booted with kho=on), not on the
#                               disk: `ckpt handover put` before the kexec,
#                               `get` after (the jobs' own files stay on it)
#
# CKPT_OTHER_KDIR=DIR: the 7.3 kernel build to use instead of building it.
# Needs what `make all` leaves in build/.  The 7.3 module is built from a
# copy of the sources in build/src-7.3 (the tree's own objects stay
# 7.2's).  Console: build/vm/console-upgrade.log.  Exits 1 on failure.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tools/build/env.sh
B=$top/build
X=$B/upgrade
log() { printf '[upgrade] %s\n' "$*" >&2; }

[ -f "$B/ckpt.ko" ] && [ -f "$B/kdir" ] && [ -x "$B/ckpt" ] && [ -x "$B/samples/tree" ] ||
	{ log "run 'make all' first"; exit 2; }
k72=$(cat "$B/kdir")
mkdir -p "$X"
cp "$B/ckpt.ko" "$X/ckpt-7.2.ko"

how=--full kho=0
for a in "$@"; do
	case $a in
	--kho) kho=1 ;;
	*) how=$a ;;
	esac
done
case $how in
--quick)
	slots="$k72:$X/ckpt-7.2.ko" plan="0 0" ;;
--same)
	slots="$k72:$X/ckpt-7.2.ko" plan="0 0 0" ;;
--full)
	log "the 7.3 guest kernel (built once, cached)"
	k73=${CKPT_OTHER_KDIR:-$(CKPT_KSERIES=7.3 nice -n 19 tools/build/kernel.sh)}
	log "ckpt.ko for $(basename "$k73") (sources copied to $B/src-7.3)"
	src=$B/src-7.3
	mkdir -p "$src"
	# tar keeps the mtimes: only what changed is rebuilt.
	tar -C "$top" -cf - Kbuild include rust | (cd "$src" && tar -xf - --overwrite)
	make -s -C "$k73" M="$src" LLVM="$LLVM" modules >&2
	cp "$src/ckpt.ko" "$X/ckpt-7.3.ko"
	slots="$k72:$X/ckpt-7.2.ko $k73:$X/ckpt-7.3.ko" plan="0 1 0" ;;
*) log "usage: tests/upgrade.sh [--quick|--same] [--kho]"; exit 2 ;;
esac

CKPT_UPGRADE_KHO=$kho CKPT_UPGRADE_SLOTS=$slots CKPT_UPGRADE_PLAN=$plan tests/vm/run.sh upgrade

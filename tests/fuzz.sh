#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make fuzz N=...`: the two fuzzers, with N cases each.
#
#   1. the image reader's (host, `cargo test --test fuzz`): blind damage
#      and semantic attacks fed to the tool's reader and printers;
#   2. the module's restart, in the VM under the KASAN kernel
#      (CKPT_KFLAVOR=kasan, tools/build/ckpt-kasan.config: KASAN, KFENCE,
#      UBSAN, lockdep, kmemleak, failslab; built once into ~/.cache/ckpt,
#      about 40 minutes on 2 cores): `tests/vm/run.sh fuzz`, where
#      /ckpt-fuzz feeds mutated and crafted images to CKPT_IOC_RESTART and
#      the judge fails the run on any kernel report, hang or leak.
#
# Environment:
#   CKPT_FUZZ_HOST=0      skip the reader's fuzzer
#   CKPT_FUZZ_KERNEL=normal  run the VM lane on the ordinary guest kernel
#                         (build/kdir, build/ckpt.ko) instead of KASAN's
#   CKPT_FUZZ_SEED=S      the campaign's seed (cases are reproducible:
#                         ckpt.fuzz_start=I in CKPT_VM_APPEND starts at case I)
#   CKPT_FUZZ_TIMEOUT=MS  per case, before a case counts as stalled
#                         (default 3000; 8000 under KASAN)
# The module for the KASAN kernel is built from a copy of the sources in
# build/kasan/src (the tree's own objects stay the ordinary kernel's).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tools/build/env.sh
B=$top/build
n=${1:-${N:-10000}}
log() { printf '[fuzz] %s\n' "$*" >&2; }

if [ "${CKPT_FUZZ_HOST:-1}" != 0 ]; then
	log "the image reader: $n cases (cargo test --test fuzz)"
	CKPT_FUZZ_CASES=$n cargo test --release --locked --manifest-path tools/ckpt/Cargo.toml \
		--test fuzz -- --nocapture
fi

make --no-print-directory tool userprogs
if [ "${CKPT_FUZZ_KERNEL:-kasan}" = normal ]; then
	make --no-print-directory module
	kdir=$(cat "$B/kdir") ko=$B/ckpt.ko timeout=${CKPT_FUZZ_TIMEOUT:-3000}
else
	log "the KASAN guest kernel (built once, cached; niced)"
	kdir=$(CKPT_KFLAVOR=kasan nice -n 19 tools/build/kernel.sh)
	X=$B/kasan src=$B/kasan/src
	mkdir -p "$src"
	# tar keeps the mtimes: only what changed is rebuilt.
	tar -C "$top" -cf - Kbuild include rust | (cd "$src" && tar -xf - --overwrite)
	log "ckpt.ko for $(basename "$kdir") in $src"
	nice -n 19 make -s -C "$kdir" M="$src" LLVM="$LLVM" modules >&2
	cp "$src/ckpt.ko" "$X/ckpt.ko"
	ko=$X/ckpt.ko timeout=${CKPT_FUZZ_TIMEOUT:-8000}
fi
log "the restart: $n cases in the VM ($(basename "$kdir"))"
append="ckpt.fuzz_cases=$n ckpt.fuzz_timeout=$timeout"
[ -z "${CKPT_FUZZ_SEED:-}" ] || append+=" ckpt.fuzz_seed=$CKPT_FUZZ_SEED"
CKPT_KDIR=$kdir CKPT_KO=$ko CKPT_VM_APPEND="$append ${CKPT_VM_APPEND:-}" exec tests/vm/run.sh fuzz

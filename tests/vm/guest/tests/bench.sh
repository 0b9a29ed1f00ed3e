#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The bench's smallest useful case in `make check`: one process with 16 MiB
# of touched memory, checkpointed with `ckpt checkpoint --kill` and restarted,
# verifying its memory afterwards (/bench/ckpt_vs_criu -n: ckpt alone, no
# CRIU on this kernel). Its times and the tool's breakdown are printed as
# diagnostics ("# BENCH ..."); the module's own breakdown only if it was
# loaded with timing=1. Fails on errors only, never on times (`make bench`
# is the measure).
. /guest/ktap.sh
ktap_plan 1
out=/tmp/bench-check.out
/bench/ckpt_vs_criu -n -r 1 -w mem:16 -d /tmp/bench-check > "$out" 2>&1
rc=$?
sed -n 's/^/# /p' "$out"
rm -rf /tmp/bench-check
ktap_check bench_mem16_roundtrip test "$rc" = 0
ktap_finish

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
ktap_plan 2
out=/tmp/bench-check.out
/bench/ckpt_vs_criu -n -r 1 -w mem:16 -d /tmp/bench-check > "$out" 2>&1
rc=$?
sed -n 's/^/# /p' "$out"
rm -rf /tmp/bench-check
ktap_check bench_mem16_roundtrip test "$rc" = 0
# The LSM observer's cost, one short round (printed, not asserted: `make
# bench` measures it with 5 rounds; the bar is a ratio of 0.98).
. /guest/observer-bench.sh
ktap_check observer_bench_runs observer_bench 1 200 "# BENCH "
ktap_finish

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmarks inside the VM.  Each result is one console line starting
# with "BENCH " (the host prints exactly those lines).
#
# With CRIU in the guest (the Debian stock kernel's bench boot,
# `tools/build/debian-stock.sh bench`, which `make bench` runs):
# /bench/ckpt_vs_criu, ckpt and CRIU side by side on the same workloads,
# interleaved (kernel command line: ckpt.bench_runs=N runs per tool,
# ckpt.bench_work=LIST workloads).  Without CRIU (tests/vm/run.sh bench,
# the project's own kernel): /bench/ckpt_bench, checkpoint and restart of
# a ckpt.bench_mb MiB process as ratios to memcpy in the same run.
# Both end with the LSM observer's cost (/guest/observer-bench.sh:
# fork+exit and socket+close with ckpt.ko loaded vs not,
# ckpt.bench_observer_rounds=N rounds, default 5; 0 skips it).  With CRIU,
# ckpt.bench_incr_mb=0 skips the incremental checkpoints' bench (a quicker
# run: CKPT_VM_APPEND="ckpt.bench_incr_mb=0 ckpt.bench_observer_rounds=0"
# with CKPT_BENCH_WORK=mem:16,mem:1024 CKPT_BENCH_RUNS=3).
mb=1024 runs=5 work=
for w in $(cat /proc/cmdline); do
	case $w in
	ckpt.bench_mb=*) mb=${w#*=} ;;
	ckpt.bench_runs=*) runs=${w#*=} ;;
	ckpt.bench_work=*) work=${w#*=} ;;
	ckpt.bench_incr_mb=*) incr_mb=${w#*=} ;;
	ckpt.bench_observer_rounds=*) obs_rounds=${w#*=} ;;
	esac
done
if [ -x /usr/sbin/criu ] && [ -x /bench/ckpt_vs_criu ]; then
	# CRIU's kernel feature detection connects to itself over TCP.
	ip link set lo up
	echo "BENCH kernel $(uname -r); criu $(/usr/sbin/criu --version 2>&1 | sed -n 's/^Version: //p');" \
		"$(/ckpt version 2>&1 | tr -s ' \n' ' ')"
	/usr/sbin/criu check >/tmp/criu-check.log 2>&1 || { echo "# criu check:"; sed 's/^/#   /' /tmp/criu-check.log; }
	/bench/ckpt_vs_criu -r "$runs" ${work:+-w "$work"}
	# The LSM observer's cost on fork, exit and socket (module loaded vs not).
	if [ "${obs_rounds:-5}" != 0 ]; then
		. /guest/observer-bench.sh
		observer_bench "${obs_rounds:-5}" 1000 "BENCH " timing=1
	fi
	# Incremental checkpoints: frozen time against a full checkpoint's
	# (needs soft-dirty bits: new mappings show "sd" in smaps).
	if [ "${incr_mb:-1024}" = 0 ]; then
		echo "BENCH incr: skipped (ckpt.bench_incr_mb=0)"
	elif grep -q '^VmFlags:.* sd' /proc/self/smaps && [ -x /bench/ckpt_incr_bench ]; then
		/bench/ckpt_incr_bench -m "${incr_mb:-1024}" -r "$(( runs < 3 ? runs : 3 ))"
	else
		echo "BENCH incr: skipped (no soft-dirty bits, CONFIG_MEM_SOFT_DIRTY, in this kernel)"
	fi
else
	/bench/ckpt_bench "$mb"
	. /guest/observer-bench.sh
	observer_bench "${obs_rounds:-5}" 1000 "BENCH "
fi

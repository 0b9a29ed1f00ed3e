#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` inside the VM.  Each result is one console line starting with
# "BENCH " (the host prints exactly those lines): checkpoint and restart of a
# 1 GiB process as ratios to memcpy measured in the same run, and the
# latency of checkpoint and restart of a 10 MiB process.
mb=1024
for w in $(cat /proc/cmdline); do case $w in ckpt.bench_mb=*) mb=${w#*=} ;; esac; done
/bench/ckpt_bench "$mb"

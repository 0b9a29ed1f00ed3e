#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` inside the VM.  Each result is one console line starting with
# "BENCH " (the host prints exactly those lines).
# TODO: real benchmarks; there are none yet, so this prints no BENCH lines.
echo "bench: placeholder, no benchmarks yet"

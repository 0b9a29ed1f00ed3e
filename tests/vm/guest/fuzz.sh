#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make fuzz` in the VM (tests/vm/run.sh fuzz): one long restart-fuzzing
# campaign, ckpt.fuzz_cases=N cases (default 10000), framed as one test
# program so that the host judges it like `check` (KTAP, kernel reports,
# kmemleak).
echo "CKPT-TEST-BEGIN fuzz"
sh /guest/tests/fuzz.sh 2>&1
echo "CKPT-TEST-END fuzz rc=$?"
exit 0

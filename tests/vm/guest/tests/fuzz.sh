#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check's short restart-fuzzing campaign (the long one is `make fuzz`,
# under KASAN): hostile images fed to CKPT_IOC_RESTART by /ckpt-fuzz.  The
# host's judge fails the run on any kernel report (WARN, BUG, KASAN, lockdep,
# kmemleak); the fuzzer itself fails on a tainted kernel, a hang or a stray
# process.
. /guest/fuzz-lib.sh
. /guest/ktap.sh
ktap_plan 2
[ -x /ckpt-fuzz ] || { ktap_skip fuzz_seeds "no /ckpt-fuzz"; ktap_skip fuzz_campaign "no /ckpt-fuzz"; ktap_finish; }
ktap_check fuzz_seeds fuzz_seeds
ktap_check fuzz_campaign fuzz_run "${fuzz_cases:-250}"
ktap_finish

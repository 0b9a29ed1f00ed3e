#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /ckpt-verify (tests/verify): `ckpt show --json` of an image of restartee
# agrees with /proc/PID/* at the time of the checkpoint.  It prints KTAP.
if [ -x /ckpt-verify ] && [ -x /ckpt ]; then
	exec /ckpt-verify
fi
. /guest/ktap.sh
ktap_plan 1
ktap_skip "ckpt_verify" "/ckpt-verify or /ckpt is not in the initramfs"
ktap_finish

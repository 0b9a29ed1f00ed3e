#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# First boot of the carry-over test (tests/check.sh): checkpoint restartee,
# save the image to the disk /dev/vda, restart it once after reloading the
# module.  carry-load.sh restarts the same image after a fresh boot.
echo "CKPT-TEST-BEGIN /selftests/ckpt_restart:save"
/selftests/ckpt_restart --save /dev/vda
echo "CKPT-TEST-END /selftests/ckpt_restart:save rc=$?"

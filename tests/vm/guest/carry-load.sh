#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Second boot of the carry-over test: restart the image carry-save.sh left
# on /dev/vda in this freshly booted kernel.
echo "CKPT-TEST-BEGIN /selftests/ckpt_restart:load"
/selftests/ckpt_restart --load /dev/vda
echo "CKPT-TEST-END /selftests/ckpt_restart:load rc=$?"

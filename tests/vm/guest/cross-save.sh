#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# First boot of a cross-kernel test (tests/cross-kernel.sh): start
# /samples/vdsoclock (vDSO calls through pointers resolved at start),
# checkpoint it with --kill, and write a tar of the image, its output so far
# and this kernel's name to the carrier: the disk /dev/vda (the guest
# kernel) or the virtio serial port /dev/vport0p1 (Debian's kernel, whose
# virtio-blk is a module).
. /guest/ktap.sh
. /guest/vdso-lib.sh
ktap_plan 3
cd /tmp || exit 1
rm -f x.img x.out
pid=$(vdso_start /tmp/x.out)
ktap_check cross_save_ticks grep -q '^tick 3 ok' /tmp/x.out
ktap_check cross_save_checkpoint /ckpt checkpoint "$pid" -o /tmp/x.img --kill --quiet
wait "$pid" 2>/dev/null
uname -r > /tmp/x.kernel
echo "# $(uname -r): $(vdso_last /tmp/x.out) ticks, image $(wc -c < /tmp/x.img) bytes"
/ckpt show /tmp/x.img | grep -A3 'vdso' | sed 's/^/# /'
if [ -b /dev/vda ]; then
	out=/dev/vda
else
	out=$(ls /dev/vport*p1 2>/dev/null | head -n 1)
fi
echo "# carrier: ${out:-none}"
ktap_check cross_save_written sh -c "[ -n '$out' ] && tar -cf - -C /tmp x.img x.out x.kernel > '$out' && sync"
ktap_finish

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make demo` inside the VM; its output is shown live on the terminal.
# TODO(lead): replace this placeholder with the real checkpoint/restart demo
# (start a sample, checkpoint it with /ckpt, kill it, restart it, show that
# it carries on from where it was).
echo "demo: placeholder (TODO: the real checkpoint/restart demo)"
if [ -x /ckpt ]; then
	/ckpt version
else
	echo "demo: /ckpt (the tool) is not in the initramfs"
fi

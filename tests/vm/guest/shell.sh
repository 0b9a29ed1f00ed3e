#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make vm`: an interactive shell on the serial console with job control.
# ckpt.ko is loaded; leaving the shell unloads it, checks for leaks and
# powers the VM off.  Ctrl-A X kills QEMU at once.
echo "ckpt test VM: ckpt.ko loaded; /ckpt, /samples, /selftests; exit to power off"
setsid cttyhack sh -l

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Shell-level checks of the loaded module, KTAP via /guest/ktap.sh.
. /guest/ktap.sh
ktap_plan 7
ktap_check "module_listed" grep -q '^ckpt ' /proc/modules
ktap_check "sysfs_module_dir" test -d /sys/module/ckpt
ktap_check "misc_device_registered" grep -qw ckpt /proc/misc
if [ -x /ckpt ]; then
	ktap_check "tool_version" /ckpt version
else
	ktap_skip "tool_version" "/ckpt (the tool) is not in the initramfs"
fi
# Kexec handover without kho=on (a check boot): off, nothing came in, and
# a put is refused with the reason.
if [ -x /ckpt ] && ! grep -qw 'kho=on' /proc/cmdline; then
	ktap_check "handover_status_off" sh -c "/ckpt handover status | tee /dev/stderr |
		grep -q '^kexec handover off.*previous kernel: 0 bytes; for the next kernel: 0 bytes'"
	mkdir -p /tmp/handover-off && echo x > /tmp/handover-off/f
	ktap_check "handover_put_refused_when_off" sh -c "! /ckpt handover put /tmp/handover-off &&
		/ckpt handover status | grep -q 'next kernel: 0 bytes'"
	ktap_check "handover_get_nothing" sh -c "! /ckpt handover get /tmp/handover-in 2>/dev/null && [ ! -e /tmp/handover-in ]"
	rm -rf /tmp/handover-off
else
	ktap_skip "handover_status_off" "no tool, or booted with kho=on"
	ktap_skip "handover_put_refused_when_off" "no tool, or booted with kho=on"
	ktap_skip "handover_get_nothing" "no tool, or booted with kho=on"
fi
ktap_finish

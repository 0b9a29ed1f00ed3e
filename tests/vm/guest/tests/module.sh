#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Shell-level checks of the loaded module, KTAP via /guest/ktap.sh.
. /guest/ktap.sh
ktap_plan 4
ktap_check "module_listed" grep -q '^ckpt ' /proc/modules
ktap_check "sysfs_module_dir" test -d /sys/module/ckpt
ktap_check "misc_device_registered" grep -qw ckpt /proc/misc
if [ -x /ckpt ]; then
	ktap_check "tool_version" /ckpt version
else
	ktap_skip "tool_version" "/ckpt (the tool) is not in the initramfs"
fi
ktap_finish

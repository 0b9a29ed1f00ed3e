#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make check` inside the VM: every /selftests/* program (kselftest_harness,
# KTAP on stdout), then every /guest/tests/*.sh.  Each program is framed by
# CKPT-TEST-BEGIN/END markers so the host can attribute KTAP lines and exit
# codes to it.  Exits 0; the host judges the output.
run() {
	name=$1
	shift
	echo "CKPT-TEST-BEGIN $name"
	"$@" 2>&1
	echo "CKPT-TEST-END $name rc=$?"
}
cd /tmp || exit 1
# ckpt.only=NAME on the kernel command line (CKPT_VM_APPEND): only that
# program (a selftest or a guest test), while working on it.
only=
for w in $(cat /proc/cmdline); do
	case $w in ckpt.only=*) only=${w#*=} ;; esac
done
for t in /selftests/*; do
	[ -z "$only" ] || [ "${t##*/}" = "$only" ] || continue
	[ -x "$t" ] && run "$t" "$t"
done
for t in /guest/tests/*.sh; do
	[ -z "$only" ] || [ "${t##*/}" = "$only" ] || continue
	[ -f "$t" ] && run "$t" sh "$t"
done
exit 0

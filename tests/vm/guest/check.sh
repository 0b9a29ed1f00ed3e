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
# ckpt.only=NAME[,NAME...] on the kernel command line (CKPT_VM_APPEND): only
# those programs (selftests or guest tests), while working on them.
only=
for w in $(cat /proc/cmdline); do
	case $w in ckpt.only=*) only=${w#*=} ;; esac
done
for t in /selftests/*; do
	[ -z "$only" ] || case ",$only," in *",${t##*/},"*) ;; *) continue ;; esac
	[ -x "$t" ] && run "$t" "$t"
done
for t in /guest/tests/*.sh; do
	[ -z "$only" ] || case ",$only," in *",${t##*/},"*) ;; *) continue ;; esac
	[ -f "$t" ] && run "$t" sh "$t"
done
exit 0

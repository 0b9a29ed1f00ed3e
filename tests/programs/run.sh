#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The real-programs lane, run by Debian's /bin/sh as the root of its own
# mount namespace (tests/vm/guest/programs.sh sets it up): every
# /lane/tests/NAME.sh (tests/programs/tests/), framed by CKPT-TEST-BEGIN/END
# like the selftests, then one PROGRAMS-SUMMARY line.  ckpt.only=NAME on the
# kernel command line runs only that test.
export PATH=/usr/sbin:/usr/bin HOME=/root TERM=vt100 LANG=C.UTF-8
# The tree is read-only; its standard library is compiled already
# (tools/build/userland.sh).
export PYTHONDONTWRITEBYTECODE=1
cd /tmp || exit 1
only=
for w in $(cat /proc/cmdline); do
	case $w in ckpt.only=*) only=${w#*=} ;; esac
done
echo "programs: $(uname -r); $(python3 --version 2>&1); sqlite3 $(sqlite3 --version 2>&1 | cut -d' ' -f1); $(tmux -V 2>&1); $(bc --version 2>&1 | head -n 1)"
echo "programs: $(redis-server --version 2>&1 | cut -d' ' -f1-3); $(make --version 2>&1 | head -n 1); $(dbus-daemon --version 2>&1 | head -n 1)"
for t in /lane/tests/*.sh; do
	n=${t##*/}
	n=${n%.sh}
	[ -z "$only" ] || [ "$n" = "$only" ] || [ "$n.sh" = "$only" ] || continue
	echo "CKPT-TEST-BEGIN programs/$n"
	t0=$(date +%s)
	sh "$t" < /dev/null 2>&1
	rc=$?
	echo "# programs/$n: $(( $(date +%s) - t0 )) s"
	echo "CKPT-TEST-END programs/$n rc=$rc"
done
exit 0

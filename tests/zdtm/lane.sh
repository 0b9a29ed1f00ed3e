#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The ZDTM lane, in the VM (busybox sh): runs CRIU's ZDTM static tests
# (built by tests/zdtm/build.sh, packed into /zdtm by tests/vm/run.sh)
# through ckpt, following ZDTM's protocol.
#
#   sh /zdtm/lane.sh [--ktap] [--scope check|in|all] [NAME...]
#
# For each test (from /zdtm/tests: NAME SCOPE AREA SUID NS NOTIFY ARGS...;
# NAME is a test of ZDTM's static/ or transition/NAME):
#   1. native run: start it in its own directory with ZDTM's options
#      (--pidfile, --outfile, ...; as an unprivileged user unless ZDTM runs
#      it as root), wait for its pid file, SIGTERM, wait until it is gone,
#      PASS if the last line of its output file says PASS;
#      a test ZDTM runs only in a new pid namespace (NS 1, or 2: without
#      reaping, ZDTM_NOREAP) is started
#      under /zdtm/bin/zdtm-reaper (tests/zdtm/reaper.c), a subreaper that
#      stands in for the namespace's init, and the reaper's tree is the one
#      checkpointed and restarted;
#   2. ckpt run: start it again, wait for the pid file, `ckpt checkpoint
#      PID --tree --kill` into tmpfs, wait until every process of the tree
#      is gone, `ckpt restart --detach` (the same pids), kill the restored
#      tree, restart the same image a second time, then SIGTERM and read
#      PASS or FAIL as above.
# One line per test: "ZDTM-RESULT NAME CLASS SCOPE AREA REASON", CLASS one
# of PASS, FAIL, REFUSED, RESTART-FAILED, HANG, NATIVE-FAIL; then
# "ZDTM-SUMMARY ...".  The lane fails if a test in scope (SCOPE in or
# check) is anything but PASS or NATIVE-FAIL, or any test FAILs; it then
# says "lane=failed" and exits 1.
# --ktap prints KTAP (for `make check`, tests/vm/guest/tests/zdtm.sh) as
# well.  --scope: only tests of that scope (check: the `make check` subset;
# in: all tests in scope; default all).  ZDTM_TIMEOUT: seconds per step
# (default 60).
Z=${ZDTM_DIR:-/zdtm}
CKPT=${CKPT:-/ckpt}
T=${ZDTM_TIMEOUT:-60}
# poll: the longest a poll() may take (from the test's start to the SIGTERM
# that ends it), 5 s by default: the test's own knob for slow machines; a
# checkpoint, two restarts and the kills between them take longer in a TCG VM.
export ZDTM_DELTA=${ZDTM_DELTA:-30}
# transition/thread-bomb: 32 chains of threads, each thread making the next
# and exiting, instead of 1024 (which kept the 2-CPU TCG VM too busy for the
# lane to go on: no step had ended after 5 minutes).
export ZDTM_THREAD_BOMB=${ZDTM_THREAD_BOMB:-32}
work=/tmp/zdtm
imgdir=/tmp/zdtm-img
ktap=0 only=all
while [ $# -gt 0 ]; do
	case $1 in
	--ktap) ktap=1; shift ;;
	--scope) only=$2; shift 2 ;;
	*) break ;;
	esac
done

if [ ! -f "$Z/tests" ]; then
	echo "zdtm: $Z/tests missing: the ZDTM tests were not built (tests/zdtm/build.sh)"
	if [ $ktap = 1 ]; then
		echo "TAP version 13"; echo "1..1"; echo "not ok 1 zdtm_built"
		echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	fi
	exit 1
fi
mkdir -p "$work" "$imgdir"
chmod 777 "$work"

# --- helpers --------------------------------------------------------------------
# alive, tree (and the other waits of the guest's tests).
. /guest/wait-lib.sh
# wait_dead PID SECONDS: until PID is a zombie or gone.
wait_dead() {
	n=0
	while alive "$1"; do
		[ $n -lt $(($2 * 10)) ] || return 1
		sleep 0.1; n=$((n + 1))
	done
}
# wait_vanish SECONDS PID...: until none of the PIDs exists (reaped).
wait_vanish() {
	s=$1; shift
	n=0
	for p in "$@"; do
		while [ -d "/proc/$p" ]; do
			[ $n -lt $((s * 10)) ] || return 1
			sleep 0.1; n=$((n + 1))
		done
	done
}
# kill_tree PID: SIGKILL PID and its descendants, wait until they are reaped.
kill_tree() {
	pids=$(tree "$1")
	kill -STOP $pids 2>/dev/null
	pids=$(tree "$1")
	kill -KILL $pids 2>/dev/null
	wait_vanish 20 $pids
}
# last_words FILE...: the last lines of the first existing FILE, on one line.
last_words() {
	for f in "$@"; do
		if [ -s "$f" ]; then
			tail -n 3 "$f" | sed -E 's/^[0-9:.]+: +[0-9]+: +//' | tr '\n' ' ' | cut -c1-240
			return
		fi
	done
	echo "(no output)"
}
# slow PID: while PID (a `timeout` running ckpt) runs, every 20 s, the kernel
# stacks of its descendants' threads, for the console log (where a slow step
# spends its time).
slow() {
	n=0
	while [ -d "/proc/$1" ] && alive "$1"; do
		sleep 0.2; n=$((n + 1))
		[ $((n % 100)) = 0 ] || continue
		for p in $(tree "$1"); do
			for t in /proc/$p/task/*; do
				[ -r "$t/stack" ] || continue
				echo "zdtm: slow $((n / 5))s: $p/${t##*/} $(tr '\n' ' ' < "$t/comm" 2>/dev/null)"
				sed 's/^/zdtm:   /' "$t/stack" 2>/dev/null
			done
		done
	done
}
passed() { [ -f "$1" ] && tail -n 1 "$1" | grep -qw PASS; }

# start NAME SUID NS ARGS...: start the test in $dir (with ZDTM's pre-dump
# notification fds if $notify is 1: the test waits in them, and no
# notification ever comes, as for a dump without pre-dumps); sets $pid, and $root:
# the root of the tree to checkpoint ($pid, or with NS 1 or 2 the reaper the
# test runs under).  The test forks its daemon and exits once the daemon is ready
# and the pid file written.
start() {
	name=$1 suid=$2 ns=$3
	shift 3
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 777 "$dir"
	reaper= noreap=
	[ "$ns" = 0 ] || reaper=$Z/bin/zdtm-reaper
	[ "$ns" != 2 ] || noreap=1
	if [ "$suid" = 1 ]; then
		(cd "$dir" || exit 1; [ -z "$noreap" ] || export ZDTM_NOREAP=1
		 [ "$notify" = 0 ] || export ZDTM_NOTIFY_FDIN=100 ZDTM_NOTIFY_FDOUT=101
		 exec timeout "$T" $reaper "$Z/bin/$name" "$@" </dev/null >"$dir.stdout" 2>&1)
	else
		(cd "$dir" || exit 1; [ -z "$noreap" ] || export ZDTM_NOREAP=1
		 [ "$notify" = 0 ] || export ZDTM_NOTIFY_FDIN=100 ZDTM_NOTIFY_FDOUT=101
		 ZDTM_UID=18943 ZDTM_GID=58467 ZDTM_GROUPS="27495 48244" \
			exec timeout "$T" $reaper "$Z/bin/$name" "$@" </dev/null >"$dir.stdout" 2>&1)
	fi
	src=$?
	pid= root=
	[ -s "$dir/${name##*/}.pid" ] && read -r pid < "$dir/${name##*/}.pid"
	[ $src = 0 ] && [ -n "$pid" ] && alive "$pid" || return 1
	root=$pid
	if [ "$ns" != 0 ]; then
		{ read -r st < "/proc/$pid/stat"; } 2>/dev/null || return 1
		set -- ${st##*) }
		root=$2
	fi
}
# stop NAME: SIGTERM, wait, PASS?  Sets $why when it did not pass.
stop() {
	why=
	set -- "${1##*/}"
	kill -TERM "$pid" 2>/dev/null
	if ! wait_dead "$pid" "$T"; then
		why="did not exit within ${T}s of SIGTERM: $(last_words "$dir/$1.out.inprogress")"
		kill_tree "$pid"
		return 2
	fi
	wait_vanish 10 "$pid"
	passed "$dir/$1.out" && return 0
	why=$(last_words "$dir/$1.out" "$dir/$1.out.inprogress" "$dir.stdout")
	return 1
}
# restart NAME IMAGE NTH [OPTION]: sets $why on failure; 0 ok, 1 refused or
# failed, 2 hung, 3 wrong.
restart() {
	why=
	set -- "${1##*/}" "$2" "$3" "$4"
	timeout "$T" "$CKPT" restart "$2" --detach --quiet $4 > "$dir.rst" 2> "$dir.rst.err"
	rc=$?
	if [ $rc = 124 ] || [ $rc = 143 ]; then
		why="$3 restart did not finish within ${T}s"
		[ -n "$root" ] && alive "$root" && kill_tree "$root"
		return 2
	fi
	if [ $rc != 0 ]; then
		why="$3 restart: $(grep . "$dir.rst.err" | tail -n 1 | sed 's/^ckpt: //')"
		return 1
	fi
	read -r rpid < "$dir.rst"
	if [ "$rpid" != "$root" ]; then
		why="$3 restart gave pid $rpid, not $root"
		return 3
	fi
	sleep 0.1
	if ! alive "$pid"; then
		why="the process died just after the $3 restart: $(last_words "$dir/$1.out" "$dir/$1.out.inprogress")"
		return 3
	fi
	return 0
}

# put_back SNAP DIR: the regular files of SNAP (a copy of DIR) written back
# into DIR's files of the same names, which keep their inodes.
put_back() {
	(cd "$1" && find . -type f) | while read -r f; do
		if [ -f "$2/$f" ]; then
			cat "$1/$f" > "$2/$f"
		else
			cp -a "$1/$f" "$2/$f"
		fi
	done
}

npass=0 nfail=0 nref=0 nrst=0 nhang=0 nnat=0 lanefail=0 kn=0 kpass=0 kfail=0
# details NAME: what the test and ckpt said, for the console log.
details() {
	set -- "${1##*/}"
	for f in "$dir/$1.out" "$dir/$1.out.inprogress" "$dir.stdout" "$dir.ckpt.err" "$dir.rst.err"; do
		[ -s "$f" ] || continue
		echo "zdtm: $1: --- ${f##*/}"
		tail -n 12 "$f" | sed "s/^/zdtm: $1: | /"
	done
}
report() { # NAME CLASS SCOPE AREA REASON
	[ "$2" = PASS ] || details "$1"
	echo "ZDTM-RESULT $1 $2 $3 $4 $5"
	case $2 in
	PASS) npass=$((npass + 1)) ;;
	FAIL) nfail=$((nfail + 1)) ;;
	REFUSED) nref=$((nref + 1)) ;;
	RESTART-FAILED) nrst=$((nrst + 1)) ;;
	HANG) nhang=$((nhang + 1)) ;;
	NATIVE-FAIL) nnat=$((nnat + 1)) ;;
	esac
	bad=0
	case $3:$2 in
	*:FAIL) bad=1 ;;
	in:PASS|check:PASS|*:NATIVE-FAIL|out:*) ;;
	*) bad=1 ;;
	esac
	[ $bad = 0 ] || lanefail=1
	if [ $ktap = 1 ]; then
		kn=$((kn + 1))
		if [ $bad = 0 ] && [ "$2" != NATIVE-FAIL ]; then
			kpass=$((kpass + 1)); echo "ok $kn zdtm_$(echo "$1" | tr / _)"
		else
			kfail=$((kfail + 1)); echo "not ok $kn zdtm_$(echo "$1" | tr / _)"; echo "# $1: $2 $5"
		fi
	fi
}

# run_one NAME SCOPE AREA SUID NS NOTIFY ARGS...
run_one() {
	name=$1 scope=$2 area=$3 suid=$4 ns=$5 notify=$6
	shift 6
	# transition/NAME: NAME's files in $work/transition.NAME
	base=${name##*/}
	dir=$work/$(echo "$name" | tr / .)
	img=$imgdir/${dir##*/}.img
	rm -f "$img"
	echo "zdtm: $name ($scope, $area)"
	skip=$(awk -v n="$name" '$1 == n { $1 = ""; print substr($0, 2) }' "$Z/skip" 2>/dev/null)
	if [ -n "$skip" ]; then
		report "$name" HANG "$scope" "$area" "not run (marked hang in the scope list): $skip"
		return
	fi

	# 1. native
	if ! start "$name" "$suid" "$ns" "$@"; then
		[ -n "$pid" ] && kill_tree "${root:-$pid}"
		report "$name" NATIVE-FAIL "$scope" "$area" "start: $(last_words "$dir/$base.out.inprogress" "$dir/$base.out" "$dir.stdout")"
		return
	fi
	stop "$name"
	rc=$?
	[ "$root" = "$pid" ] || kill_tree "$root"
	case $rc in
	0) ;;
	*) report "$name" NATIVE-FAIL "$scope" "$area" "$why"; return ;;
	esac

	# 2. through ckpt
	if ! start "$name" "$suid" "$ns" "$@"; then
		[ -n "$pid" ] && kill_tree "${root:-$pid}"
		report "$name" NATIVE-FAIL "$scope" "$area" "second start: $(last_words "$dir/$base.out.inprogress" "$dir.stdout")"
		return
	fi
	# A transition test works all the time (forks, writes, maps): let it
	# be at it when it is checkpointed.
	case $name in transition/*) sleep 1 ;; esac
	pids=$(tree "$root")
	echo "zdtm: $name: checkpoint $pids"
	timeout "$T" "$CKPT" checkpoint "$root" --tree --kill --quiet -o "$img" > "$dir.ckpt" 2> "$dir.ckpt.err" &
	slow "$!"
	wait "$!"
	rc=$?
	if [ $rc = 124 ] || [ $rc = 143 ]; then
		kill_tree "$root"
		report "$name" HANG "$scope" "$area" "checkpoint did not finish within ${T}s"
		return
	fi
	if [ $rc != 0 ]; then
		reason=$(tail -n 1 "$dir.ckpt.err" | sed 's/^ckpt: //')
		# The checkpoint's error is generic; `ckpt check` names the cause
		# (and should have known it in advance).
		if alive "$pid"; then
			chk=$(timeout "$T" "$CKPT" check "$root" --tree 2>&1 | tail -n 1)
			case $chk in
			*"cannot be checkpointed: "*) reason=${chk#*cannot be checkpointed: } ;;
			*) reason="$reason [ckpt check: $chk]" ;;
			esac
		fi
		if ! alive "$pid"; then
			report "$name" FAIL "$scope" "$area" "checkpoint refused ($reason) but the process died"
			kill_tree "$root"
			return
		fi
		stop "$name"
		rc=$?
		[ "$root" = "$pid" ] || kill_tree "$root"
		case $rc in
		0) report "$name" REFUSED "$scope" "$area" "$reason" ;;
		*) report "$name" FAIL "$scope" "$area" "checkpoint refused ($reason), then the process failed: $why" ;;
		esac
		rm -f "$img"
		return
	fi
	if ! wait_vanish "$T" $pids; then
		kill_tree "$root"
		report "$name" HANG "$scope" "$area" "the checkpointed tree was not gone ${T}s after --kill"
		rm -f "$img"
		return
	fi
	note=
	# A transition test's data files (file_read's, fifo_loop's) are what its
	# image expects now: kept, and put back in place (same inodes) before the
	# second restore, so that the first copy's writes do not look like a
	# wrong restore of the second.
	snap=
	case $name in transition/*) snap=$dir.snap; rm -rf "$snap"; cp -a "$dir" "$snap" ;; esac
	for nth in first second; do
		[ -z "$snap" ] || [ $nth = first ] || put_back "$snap" "$dir"
		echo "zdtm: $name: $nth restart"
		restart "$name" "$img" "$nth"
		rc=$?
		# The first copy ran a moment and may have written to its files
		# (its log): then the image cannot be restored again as it is.
		if [ $rc = 1 ] && [ $nth = second ]; then
			case $why in
			*"changed since the checkpoint"*)
				note=" (second restore with --ignore-changed: $why)"
				restart "$name" "$img" "$nth" --ignore-changed
				rc=$? ;;
			esac
		fi
		# Its SysV objects outlive the first copy, which changed them
		# (transition/ipc works on its semaphore all the time): removed
		# as the refusal says, as an administrator would, and restored
		# again.
		tries=0
		while [ $rc = 1 ] && [ $nth = second ] && [ $tries -lt 4 ]; do
			rm_ipc=$(printf '%s\n' "$why" | sed -n 's/.*(\(ipcrm -[smq] [0-9][0-9]*\)).*/\1/p' | head -n1)
			[ -n "$rm_ipc" ] || break
			$rm_ipc || break
			note=" (second restore after $rm_ipc:${note:-} $why)"
			restart "$name" "$img" "$nth" ${snap:+--ignore-changed}
			rc=$?
			tries=$((tries + 1))
		done
		case $rc in
		0) ;;
		1) report "$name" RESTART-FAILED "$scope" "$area" "$why" ;;
		2) report "$name" HANG "$scope" "$area" "$why" ;;
		*) report "$name" FAIL "$scope" "$area" "$why"; alive "$root" && kill_tree "$root" ;;
		esac
		[ $rc = 0 ] || { rm -f "$img"; return; }
		# Restore the same image a second time, after killing the first copy.
		[ $nth = second ] || kill_tree "$root"
	done
	echo "zdtm: $name: SIGTERM"
	stop "$name"
	rc=$?
	[ "$root" = "$pid" ] || kill_tree "$root"
	case $rc in
	0) report "$name" PASS "$scope" "$area" "${note# }" ;;
	2) report "$name" HANG "$scope" "$area" "after restart: $why$note" ;;
	*) report "$name" FAIL "$scope" "$area" "after restart: $why$note" ;;
	esac
	rm -f "$img"
	[ -z "$snap" ] || rm -rf "$snap"
}

total=0
[ $# -gt 0 ] && want=" $* " || want=
sel=$(while read -r name scope rest; do
	[ -z "$want" ] || case $want in *" $name "*) ;; *) continue ;; esac
	case $only:$scope in all:* | in:in | in:check | check:check) echo "$name" ;; esac
done < "$Z/tests")
ntests=$(echo $sel | wc -w)
[ $ktap = 0 ] || { echo "TAP version 13"; echo "1..$ntests"; }
echo "zdtm: $ntests tests of CRIU $(cat "$Z/version" 2>/dev/null), ${T}s per step"
sel=" $(echo $sel) "
while read -r name scope area suid ns notify args <&3; do
	case $sel in *" $name "*) ;; *) continue ;; esac
	# shellcheck disable=SC2086 # ARGS are words
	run_one "$name" "$scope" "$area" "$suid" "$ns" "$notify" $args < /dev/null 3<&-
	n=$(echo "$name" | tr / .)
	rm -rf "${work:?}/$n" "$work/$n".*
done 3< "$Z/tests"

[ $lanefail = 0 ] && verdict=ok || verdict=failed
echo "ZDTM-SUMMARY pass=$npass fail=$nfail refused=$nref restart-failed=$nrst hang=$nhang native-fail=$nnat lane=$verdict"
[ $ktap = 0 ] || echo "# Totals: pass:$kpass fail:$kfail xfail:0 xpass:0 skip:0 error:0"
[ $lanefail = 0 ]

# SPDX-License-Identifier: GPL-2.0
#
# Helpers of the real-programs lane's tests (tests/programs/tests/*.sh),
# sourced by Debian's dash inside the VM after setting $name:
#
#   name=sort; . /lane/lib.sh
#   ktap_plan N
#   setsid prog ... > "$W/out" 2>&1 < /dev/null &
#   root=$!
#   ...wait until the program is in the middle of its work...
#   cycle "$root"       # checkpoint --tree --kill, reap, restart --detach
#   ...check the restored program's behaviour with ktap_check / gated...
#   lane_end            # kills what is left, prints the result, exits
#
# Test functions must not use variables starting with _ (the helpers' own).
# A test runs its programs in their own session (setsid), in $W
# (/tmp/prog-NAME); lane_end kills every process of the sessions named in
# $sessions (the root's is added by cycle) and whatever the test's optional
# `cleanup` function stops.
#
# Refusals: when `ckpt checkpoint` refuses, the test fails, unless NAME is in
# /lane/refused (tests/programs/refused: the tests known to be refused until
# a feature lands); then the checkpoint case is a SKIP "REFUSED (known)"
# with ckpt's reason, and the test ends there.  A listed test whose
# checkpoint is accepted runs on as usual and is reported loudly, so that
# the list gets trimmed.  Each test prints one line
# "PROGRAMS-RESULT NAME CLASS REASON" (PASS, FAIL, REFUSED, REFUSED-KNOWN,
# UNEXPECTED-PASS) for the host's table.
. /lane/ktap.sh
. /lane/wait-lib.sh
CKPT=/lane/ckpt
W=/tmp/prog-$name
rm -rf "$W"
mkdir -p "$W"
cd "$W" || exit 1
sessions=
known=$(awk -v n="$name" '$1 == n { $1 = ""; sub(/^ +/, ""); print; exit }' /lane/refused 2>/dev/null)

note() { echo "# $name: $*"; }
# show FILE [LINES]: the last lines of FILE as KTAP comments.
show() { [ -f "$1" ] && tail -n "${2:-8}" "$1" | sed "s|^|# $name: ${1##*/}: |"; true; }
# lines FILE: its number of lines (0 if missing).
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
# more_lines FILE N: FILE has more than N lines.
more_lines() { [ "$(lines "$1")" -gt "$2" ]; }
# session SID: the pids of session SID.
session() {
	_want=$1
	for _s in /proc/[0-9]*/stat; do
		{ read -r _x < "$_s"; } 2>/dev/null || continue
		_r=${_x##*) }
		set -- $_r
		[ "$4" = "$_want" ] 2>/dev/null && echo "${_x%% *}"
	done
	true
}
# kill_sessions SID...: SIGKILL every process of these sessions until none is left.
kill_sessions() {
	for _sid in "$@"; do
		_n=0
		while _ps=$(session "$_sid") && [ -n "$_ps" ] && [ $_n -lt 50 ]; do
			kill -9 $_ps 2>/dev/null
			sleep 0.1
			_n=$((_n + 1))
		done
	done
}
result_class=
result() { result_class=$1; shift; echo "PROGRAMS-RESULT $name $result_class $*"; }

# lane_end: stop what is left, print the result line, finish the KTAP.
lane_end() {
	command -v cleanup >/dev/null 2>&1 && cleanup
	kill_sessions $sessions
	if [ -z "$result_class" ]; then
		if [ "$ktap_nfail" != 0 ]; then
			result FAIL "$ktap_nfail case(s) failed"
		elif [ -n "$known" ]; then
			result UNEXPECTED-PASS "listed in tests/programs/refused ($known) but passed: remove it from the list"
			echo "# !!! $name passed but tests/programs/refused lists it as refused: trim the list !!!"
		else
			result PASS
		fi
	fi
	ktap_finish
}

# cycle ROOT [WAITPID]: checkpoint the tree of ROOT (--tree --kill), wait
# until every process of it is gone (WAITPID, default ROOT, is reaped with
# `wait` if it is a child of this shell), restart it (--detach) and check
# that it came back with ROOT's pid.  Two cases: checkpoint, restart.  A
# refused checkpoint ends the test (see the top).  Sets $up to 1 when the
# tree runs again.
cycle() {
	_root=$1
	up=0
	_sid=$(stat_of "$_root" | cut -d' ' -f4)
	[ -n "$_sid" ] && sessions="$sessions $_sid"
	_pids=$(tree "$_root")
	note "checkpoint of $(echo $_pids | wc -w) processes: $(for _p in $_pids; do printf '%s(%s) ' "$_p" "$(cat /proc/$_p/comm 2>/dev/null)"; done)"
	_t0=$(date +%s%N)
	if timeout 120 "$CKPT" checkpoint "$_root" -o "$W/image" --tree --kill --quiet 2> "$W/ckpt.err"; then
		note "checkpoint: $(( ($(date +%s%N) - _t0) / 1000000 )) ms, $(stat -c %s "$W/image") bytes"
		ktap_pass checkpoint
	else
		_reason=$(tail -n 1 "$W/ckpt.err" | sed 's/^ckpt: //')
		if alive "$_root"; then
			_chk=$(timeout 60 "$CKPT" check "$_root" --tree 2>&1 | tail -n 1)
			case $_chk in
			# ckpt check does not stop the tree: its answer may be about a
			# moment after the checkpoint's, which is kept too.
			*"cannot be checkpointed: "*) _reason="${_chk#*cannot be checkpointed: } [ckpt checkpoint: $_reason]" ;;
			*) _reason="$_reason [ckpt check: $_chk]" ;;
			esac
		else
			_reason="$_reason (the program has ended since)"
		fi
		# Not a refusal: the program was gone before its checkpoint (too
		# fast for the test; make its work longer).
		case $_reason in
		*"is exiting"* | *"no such process"* | *"No such process"*)
			_reason="the program ended before its checkpoint: $_reason"
			known= ;;
		esac
		if [ -n "$known" ]; then
			ktap_skip checkpoint "REFUSED (known): $_reason"
			note "known refusal (tests/programs/refused): $known"
			result REFUSED-KNOWN "$_reason"
		else
			ktap_fail checkpoint
			note "checkpoint refused: $_reason"
			result REFUSED "$_reason"
		fi
		lane_end
	fi
	kill -9 $_pids 2>/dev/null
	wait "${2:-$_root}" 2>/dev/null
	if ! within 20 gone $_pids; then
		note "still there after the checkpoint: $(for _p in $_pids; do [ -e /proc/$_p ] && echo "$_p $(stat_of $_p | cut -d' ' -f1-2)"; done)"
	fi
	_t0=$(date +%s%N)
	if timeout 120 "$CKPT" restart "$W/image" --detach --quiet > "$W/restart.pid" 2> "$W/restart.err" &&
		[ "$(cat "$W/restart.pid")" = "$_root" ]; then
		up=1
		note "restart: $(( ($(date +%s%N) - _t0) / 1000000 )) ms"
		ktap_pass restart
	else
		note "restart failed: $(cat "$W/restart.pid" "$W/restart.err" 2>/dev/null | tr '\n' ' ')"
		ktap_fail restart
	fi
}

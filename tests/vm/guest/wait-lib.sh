# SPDX-License-Identifier: GPL-2.0
#
# Waits with a timeout and /proc probes for the guest's shell tests
# (sourced): /guest/tests/tree.sh, /guest/upgrade.sh, the ZDTM lane
# (/zdtm/lane.sh) and the programs lane (as /lane/wait-lib.sh).  POSIX sh
# (busybox and Debian's dash).  The helpers' own variables start with _;
# gated needs ktap.sh.

# wait_for FILE ERE SECONDS: until a line of FILE matches ERE.
wait_for() {
	_w=0
	while [ "$_w" -lt $(($3 * 5)) ]; do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
		_w=$((_w + 1))
	done
	return 1
}
# within SECONDS CMD...: until CMD succeeds.
within() {
	_w=0 _n=$(($1 * 5))
	shift
	while ! "$@"; do
		_w=$((_w + 1))
		[ "$_w" -lt "$_n" ] || return 1
		sleep 0.2
	done
}
# stat_of PID: the fields of /proc/PID/stat after "(comm) ": state ppid pgrp
# session ...; empty if PID is gone.
stat_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null; }
state_of() { stat_of "$1" | cut -d' ' -f1; }
# alive PID: PID exists and is not a zombie.
alive() {
	_s=$(state_of "$1")
	[ -n "$_s" ] && [ "$_s" != Z ]
}
# runs PID COMM: PID exists, is not a zombie, and is called COMM.
runs() { alive "$1" && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]; }
# dead PID...: every PID is gone or a zombie.
dead() {
	for _d in "$@"; do
		_s=$(state_of "$_d")
		[ -z "$_s" ] || [ "$_s" = Z ] || return 1
	done
}
# gone PID...: no PID exists any more (not even as a zombie).
gone() {
	for _d in "$@"; do
		[ ! -e "/proc/$_d" ] || return 1
	done
}
# tree PID: PID and all its descendants (from the ppid of every process).
tree() {
	for _s in /proc/[0-9]*/stat; do
		{ read -r _x < "$_s"; } 2>/dev/null || continue
		_r=${_x##*) }
		set -- $_r
		echo "${_x%% *} $2"
	done | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			q = root; out = root
			while (q != "") {
				n = split(q, a, " "); q = ""
				for (i = 1; i <= n; i++) if (a[i] in kids) { q = q kids[a[i]]; out = out kids[a[i]] }
			}
			print out
		}'
}
# gated GATE NAME CMD...: ktap_check if GATE is 1, else fails at once.
gated() {
	_g=$1
	shift
	if [ "$_g" = 1 ]; then ktap_check "$@"; else ktap_fail "$1"; fi
}

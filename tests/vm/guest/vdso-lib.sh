# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the vDSO tests (sourced): /samples/vdsoclock calls the vDSO
# through pointers it resolved at start and prints "tick N ok|BAD ... pid P"
# every 50 ms.

# vdso_start OUT: starts vdsoclock writing to OUT; prints its pid once it ticks.
vdso_start() {
	/samples/vdsoclock > "$1" &
	_p=$!
	_i=0
	while [ "$_i" -lt 100 ] && ! grep -q '^tick 3 ' "$1" 2>/dev/null; do
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "$_p"
}

# vdso_last OUT: the number of the last tick in OUT (0 if none).
vdso_last() {
	awk '$1 == "tick" { n = $2 } END { print n + 0 }' "$1"
}

# vdso_continues OUT LAST: at least 5 ticks after LAST, waiting up to 10 s.
vdso_continues() {
	_i=0
	while [ "$_i" -lt 100 ]; do
		[ "$(vdso_last "$1")" -ge $(($2 + 5)) ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "# only $(vdso_last "$1") ticks (last before: $2); tail:"
	tail -n 3 "$1" | sed 's/^/# /'
	return 1
}

# vdso_all_ok OUT: no BAD tick.
vdso_all_ok() {
	if grep -q ' BAD ' "$1"; then
		grep ' BAD ' "$1" | head -n 3 | sed 's/^/# /'
		return 1
	fi
}

# vdso_proxied PID OUT: the process's vDSO is no longer where it started (a
# proxy is there, anonymous memory) and a [vdso] is mapped elsewhere.
vdso_proxied() {
	_old=$(awk '$1 == "vdso" { sub(/^0x/, "", $2); print $2; exit }' "$2")
	_line=$(grep "^0*$_old-" "/proc/$1/maps")
	echo "# at the old vDSO address: $_line"
	echo "# vdso now: $(grep '\[vdso\]' "/proc/$1/maps")"
	[ -n "$_line" ] && ! echo "$_line" | grep -q '\[vdso\]' && grep -q '\[vdso\]' "/proc/$1/maps"
}

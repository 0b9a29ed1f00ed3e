# SPDX-License-Identifier: GPL-2.0
#
# KTAP helpers for guest shell tests (tests/vm/guest/tests/*.sh), sourced as
# `. /guest/ktap.sh`.  Usage:
#
#   . /guest/ktap.sh
#   ktap_plan 2
#   if some_check; then ktap_pass "name"; else ktap_fail "name"; fi
#   ktap_skip "other" "why"
#   ktap_finish            # prints "# Totals: ..." and exits 1 on failure
#
# A test that ends without the Totals line counts as failed on the host.
ktap_n=0 ktap_npass=0 ktap_nfail=0 ktap_nskip=0
ktap_plan() { echo "TAP version 13"; echo "1..$1"; }
ktap_pass() { ktap_n=$((ktap_n + 1)); ktap_npass=$((ktap_npass + 1)); echo "ok $ktap_n $1"; }
ktap_fail() { ktap_n=$((ktap_n + 1)); ktap_nfail=$((ktap_nfail + 1)); echo "not ok $ktap_n $1"; }
ktap_skip() { ktap_n=$((ktap_n + 1)); ktap_nskip=$((ktap_nskip + 1)); echo "ok $ktap_n $1 # SKIP $2"; }
# ktap_check NAME CMD...: runs CMD, passes if it exits 0.
ktap_check() { n=$1; shift; if "$@"; then ktap_pass "$n"; else ktap_fail "$n"; fi; }
ktap_finish() {
	echo "# Totals: pass:$ktap_npass fail:$ktap_nfail xfail:0 xpass:0 skip:$ktap_nskip error:0"
	[ "$ktap_nfail" = 0 ]
	exit
}

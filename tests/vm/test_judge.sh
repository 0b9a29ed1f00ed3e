#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Unit tests of tests/vm/judge.py: feed it small synthetic console logs and
# check its verdict (exit status and summary line).  Prints KTAP and a final
# "N passed, N failed" line; exits 1 if any case failed.
set -euo pipefail
shopt -s lastpipe       # `log | expect ...` runs expect in this shell (counters)
here=$(cd "$(dirname "$0")" && pwd)
judge=$here/judge.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- pieces of a console log ------------------------------------------------------
boot() {
	printf '\033c\033[?7l\033[2JSeaBIOS (version 1.16.2)\r\n'
	echo '[    0.000000] Linux version 7.2.13 (root@vm) #1 SMP PREEMPT'
	echo '[    0.000000] rcu: 	RCU lockdep checking is enabled.'
	echo '[    0.000000] ... MAX_LOCKDEP_KEYS:        8192'
	echo '[    3.004411] Run /init as init process'
	echo 'CKPT-VM-BEGIN mode=check kernel=7.2.13 t=3.10'
	echo '[    3.251363] ckpt: loading out-of-tree module taints kernel.'
}
kunit() {       # kunit [RESULT-OF-CASE-2]
	echo '[    3.262062]     KTAP version 1'
	echo '[    3.262100]     # Subtest: ckpt_image'
	echo '[    3.262200]     # module: ckpt'
	echo '[    3.262300]     1..3'
	echo '[    3.263000]     ok 1 header_roundtrip'
	echo '[    3.263500]         KTAP version 1'
	echo '[    3.263600]         # Subtest: param_case'
	echo '[    3.263700]         ok 1 param-0'
	echo '[    3.263800]         not ok 2 param-1'
	echo '[    3.263900]     # param_case: pass:1 fail:1 skip:0 total:2'
	echo "[    3.264000]     ${1:-ok 2 param_case}"
	echo '[    3.264100]     ok 3 needs_disk # SKIP no disk'
	echo '[    3.264200] # ckpt_image: pass:2 fail:0 skip:1 total:3'
	echo '[    3.264300] # Totals: pass:3 fail:1 skip:1 total:5'
	echo '[    3.264400] ok 1 ckpt_image'
}
insmod_ok() { echo 'CKPT-VM-INSMOD ok t=3.30'; }
selftest() {    # selftest NAME [RESULT-OF-CASE-2] [TOTALS] [RC]
	echo "CKPT-TEST-BEGIN /selftests/$1"
	echo 'TAP version 13'
	echo '1..3'
	echo '# Starting 3 tests from 1 test cases.'
	echo '#  RUN           dev.version ...'
	echo '#            OK  dev.version'
	echo 'ok 1 dev.version'
	echo '#  RUN           dev.unknown_ioctl ...'
	echo "${2:-ok 2 dev.unknown_ioctl}"
	echo 'ok 3 dev.disk # SKIP no disk'
	echo "${3:-# Totals: pass:2 fail:0 xfail:0 xpass:0 skip:1 error:0}"
	echo "CKPT-TEST-END /selftests/$1 rc=${4:-0}"
}
finish() {      # finish [RMMOD-RESULT] [KMEMLEAK-BODY]
	echo 'CKPT-VM-MODE rc=0 t=3.50'
	echo "CKPT-VM-RMMOD ${1:-ok t=3.60}"
	echo '----- CKPT-VM-KMEMLEAK BEGIN t=9.10 -----'
	[ -z "${2:-}" ] || printf '%s\n' "$2"
	echo '----- CKPT-VM-KMEMLEAK END t=9.20 -----'
	echo 'CKPT-VM-DONE rc=0'
	echo '[    9.300000] reboot: Power down'
}
clean() { boot; kunit; insmod_ok; selftest ckpt_dev; finish; }

# --- cases ------------------------------------------------------------------------
n=0 npass=0 nfail=0
echo "TAP version 13"
# expect NAME RC SUMMARY [JUDGE-ARGS...] < log
expect() {
	local name=$1 want_rc=$2 want=$3 rc=0 out
	shift 3
	cat > "$tmp/log"
	out=$("$judge" "$@" "$tmp/log" 2>&1) || rc=$?
	n=$((n + 1))
	local got
	got=$(printf '%s\n' "$out" | tail -n1)
	if [ "$rc" = "$want_rc" ] && [ "$got" = "$want" ]; then
		npass=$((npass + 1))
		echo "ok $n $name"
	else
		nfail=$((nfail + 1))
		echo "not ok $n $name"
		echo "# wanted rc=$want_rc \"$want\", got rc=$rc; judge said:"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}
# expect_output NAME REGEX: the previous judge output matched REGEX.
expect_output() {
	n=$((n + 1))
	local out
	out=$("$judge" "${@:3}" "$tmp/log" 2>&1) || true
	if grep -Eq -- "$2" <<< "$out"; then
		npass=$((npass + 1)); echo "ok $n $1"
	else
		nfail=$((nfail + 1)); echo "not ok $n $1"
	fi
}

clean | expect clean 0 "4 passed, 0 failed, 2 skipped"

clean | sed 's/$/\r/' | expect clean_crlf 0 "4 passed, 0 failed, 2 skipped"

{ boot; kunit; insmod_ok; selftest ckpt_dev "not ok 2 dev.unknown_ioctl" \
	"# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0" 1; finish; } |
	expect selftest_not_ok 1 "3 passed, 1 failed, 2 skipped"
expect_output selftest_not_ok_named "^FAIL: /selftests/ckpt_dev: not ok dev.unknown_ioctl"

{ boot; kunit "not ok 2 param_case"; insmod_ok; selftest ckpt_dev; finish; } |
	expect kunit_not_ok 1 "3 passed, 1 failed, 2 skipped"
expect_output kunit_not_ok_named "^FAIL: kunit ckpt_image.param_case: not ok"

# The programs lane's boot: KUnit cases are judged, only failures counted.
clean | expect programs_mode_kunit_uncounted 0 "2 passed, 0 failed, 1 skipped" --mode programs
{ boot; kunit "not ok 2 param_case"; insmod_ok; selftest ckpt_dev; finish; } |
	expect programs_mode_kunit_failure 1 "2 passed, 1 failed, 1 skipped" --mode programs

{ boot; echo '[    3.261000] ------------[ cut here ]------------'
  echo '[    3.262279] WARNING: CPU: 0 PID: 1 at rust/ckpt_main.rs:42 init_module+0x13/0x1000 [ckpt]'
  echo '[    3.262613] Modules linked in: ckpt(O+)'
  echo '[    3.265322] Call Trace:'
  echo '[    3.265630]  <TASK>'
  echo '[    3.265700]  do_one_initcall+0x100/0x280'
  echo '[    3.265800]  </TASK>'
  echo '[    3.265900] ---[ end trace 0000000000000000 ]---'
  kunit; insmod_ok; selftest ckpt_dev; finish; } |
	expect warning 1 "4 passed, 1 failed, 2 skipped"
expect_output warning_named "^FAIL: kernel log: WARNING$"
expect_output warning_with_context "^ +[0-9]+ \| .*WARNING: CPU: 0 PID: 1 at"

{ boot; kunit; insmod_ok; selftest ckpt_dev
  echo '[    4.100000] WARNING: CPU: 0 PID: 1 at fs/file.c:99 fd_install+0x1/0x2'; finish; } |
	expect bare_warning_line 1 "4 passed, 1 failed, 2 skipped"

{ boot; kunit; insmod_ok; selftest ckpt_dev
  echo '[    4.000000] ======================================================'
  echo '[    4.000000] WARNING: possible circular locking dependency detected'
  echo '[    4.000000] 7.2.13 #1 Tainted: G           O'
  echo '[    4.000000] ------------------------------------------------------'
  echo '[    4.000000] other info that might help us debug this:'
  echo '[    4.000000] *** DEADLOCK ***'
  echo '[    4.000000] INFO: lockdep is turned off.'
  echo '[    4.000000] Call Trace:'
  finish; } | expect lockdep_one_report 1 "4 passed, 1 failed, 2 skipped"

{ boot; kunit; insmod_ok; selftest ckpt_dev
  echo '[    5.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008'
  echo '[    5.000000] #PF: supervisor read access in kernel mode'
  echo '[    5.000000] Oops: Oops: 0000 [#1] SMP'
  echo '[    5.000000] Call Trace:'
  echo '[    5.100000] Kernel panic - not syncing: Fatal exception'; } |
	expect oops_panic_no_done 1 "4 passed, 2 failed, 2 skipped"
expect_output missing_done_reported "^FAIL: no CKPT-VM-DONE marker"

{ boot; kunit; insmod_ok; selftest ckpt_dev; echo 'CKPT-VM-MODE rc=0'; } |
	expect missing_done 1 "4 passed, 1 failed, 2 skipped"

{ boot; kunit; insmod_ok; echo "CKPT-TEST-BEGIN /selftests/ckpt_dev"; echo "1..3"; echo "ok 1 dev.version"; } |
	expect timeout 1 "3 passed, 3 failed, 1 skipped" --timed-out 600
expect_output timeout_reported "^FAIL: VM timed out after 600 s" --timed-out 600

{ boot; kunit; insmod_ok; selftest ckpt_dev
  echo '[    9.000000] kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)'
  finish "" 'unreferenced object 0xff110000034c0c00 (size 128):
  comm "insmod", pid 51, jiffies 4294893221
  backtrace (crc 3981d73f):
    __kmalloc_cache_noprof+0x40/0xb0
    do_init_module+0x62/0x230'; } |
	expect kmemleak 1 "4 passed, 1 failed, 2 skipped"

{ boot; kunit; insmod_ok; selftest ckpt_dev; finish "" 'unreferenced object 0xff11 (size 8):'; } |
	expect kmemleak_section_only 1 "4 passed, 1 failed, 2 skipped"

{ boot; kunit; insmod_ok; selftest ckpt_dev; finish; } | sed '/KMEMLEAK/d' |
	sed 's/^CKPT-VM-DONE/CKPT-VM-KMEMLEAK unavailable\nCKPT-VM-DONE/' |
	expect kmemleak_unavailable 1 "4 passed, 1 failed, 2 skipped"

{ boot; kunit; insmod_ok
  echo "CKPT-TEST-BEGIN /selftests/crashy"; echo "1..2"; echo "ok 1 a"; echo "Segmentation fault"
  echo "CKPT-TEST-END /selftests/crashy rc=139"; finish; } |
	expect crash_without_totals 1 "3 passed, 1 failed, 1 skipped"

{ boot; kunit; insmod_ok; selftest ckpt_dev "" "# (no Totals line)" 0; finish; } |
	expect no_totals 1 "4 passed, 1 failed, 2 skipped"

{ boot; kunit; insmod_ok; selftest ckpt_dev "" "" 2; finish; } |
	expect bad_exit_status 1 "4 passed, 1 failed, 2 skipped"

{ boot; kunit; insmod_ok; selftest ckpt_dev "" "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:3 error:0" 4; finish; } |
	expect all_skipped_rc4 0 "2 passed, 0 failed, 4 skipped"

# A kernel message splices into a selftest's line; Totals still counts.
{ boot; kunit; insmod_ok
  selftest ckpt_dev "ok 2 dev.unk[    3.400000] ckpt: restored pid 42"; finish; } |
	expect interleaved_output 0 "4 passed, 0 failed, 2 skipped"

{ boot; echo 'CKPT-VM-INSMOD FAILED rc=1'; echo 'CKPT-VM-DONE rc=1'; } |
	expect insmod_failed 1 "0 passed, 1 failed, 0 skipped"

{ boot; kunit; insmod_ok; selftest ckpt_dev; finish "FAILED rc=1"; } |
	expect rmmod_failed 1 "4 passed, 1 failed, 2 skipped"

{ boot; insmod_ok; selftest ckpt_dev; finish; } |
	expect no_kunit 1 "2 passed, 1 failed, 1 skipped"
{ boot; insmod_ok; selftest ckpt_dev; finish; } |
	expect no_kunit_allowed 0 "2 passed, 0 failed, 1 skipped" --allow-no-kunit

kunit > "$tmp/kunit"
{ boot; head -n 6 "$tmp/kunit"; } |
	expect kunit_unfinished 1 "1 passed, 2 failed, 0 skipped"

{ boot; kunit; insmod_ok; echo 'demo: checkpointed pid 7'; finish; } |
	expect demo_mode 0 "2 passed, 0 failed, 1 skipped" --mode demo

# Kernel switches (kexec) in one VM: each boot is judged on its own.
kexec_to_next() { echo 'CKPT-VM-KEXEC t=9.25'; echo '[    9.260000] kexec_core: Starting new kernel'; }
{ clean; kexec_to_next; clean; } | sed '/Power down/d' |
	expect kexec_two_boots 0 "8 passed, 0 failed, 4 skipped" --boots 2
{ clean; kexec_to_next; clean; } |
	expect kexec_boot_missing 1 "8 passed, 1 failed, 4 skipped" --boots 3
expect_output kexec_boot_missing_named "^FAIL: 2 boot\(s\) of the guest, 3 expected" --boots 3
{ clean; kexec_to_next; boot; kunit; insmod_ok; selftest ckpt_dev; echo 'CKPT-VM-MODE rc=0'; } |
	expect kexec_second_boot_unfinished 1 "8 passed, 1 failed, 4 skipped" --boots 2
{ boot; kunit; insmod_ok; selftest ckpt_dev; finish "" 'unreferenced object 0xff11 (size 8):'
  kexec_to_next; clean; } |
	expect kexec_first_boot_leak 1 "8 passed, 1 failed, 4 skipped" --boots 2
{ clean; echo 'CKPT-VM-KEXEC FAILED: kexec_file_load: Operation not permitted'; } |
	expect kexec_failed 1 "4 passed, 1 failed, 2 skipped"

echo "1..$n"
echo "# Totals: pass:$npass fail:$nfail xfail:0 xpass:0 skip:0 error:0"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]

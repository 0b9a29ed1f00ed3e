# SPDX-License-Identifier: GPL-2.0
#
# The restart fuzzer's guest side, sourced by /guest/tests/fuzz.sh (make
# check's short campaign) and /guest/fuzz.sh (make fuzz).  fuzz_seeds makes
# the seed images: /samples/fuzzseed (plain, and "more" mappings), started
# with its stdin on a pipe from a sleeping writer, checkpointed with --kill.
# fuzz_run N runs /ckpt-fuzz over them (tools/ckpt/src/bin/ckpt-fuzz.rs).
#
# Kernel command line: ckpt.fuzz_cases=N, ckpt.fuzz_seed=S,
# ckpt.fuzz_timeout=MS (per case), ckpt.fuzz_start=I.
fuzz_dir=/tmp/fuzz
fuzz_seed=0xc4ec4b01 fuzz_timeout=3000 fuzz_start=0 fuzz_cases=
for w in $(cat /proc/cmdline); do
	case $w in
	ckpt.fuzz_cases=*) fuzz_cases=${w#*=} ;;
	ckpt.fuzz_seed=*) fuzz_seed=${w#*=} ;;
	ckpt.fuzz_timeout=*) fuzz_timeout=${w#*=} ;;
	ckpt.fuzz_start=*) fuzz_start=${w#*=} ;;
	esac
done

# The pid of the running process named $1 (the newest), or nothing.
fuzz_pidof() {
	for c in /proc/[0-9]*/comm; do
		[ "$(cat "$c" 2>/dev/null)" = "$1" ] && { p=${c#/proc/}; echo "${p%/comm}"; }
	done | sort -n | tail -n 1
}

fuzz_seeds() {
	rm -rf "$fuzz_dir" && mkdir -p "$fuzz_dir" && cd "$fuzz_dir" || return 1
	{ printf 'fuzz data '; head -c 8192 /dev/zero | tr '\0' 'x'; } > data
	for v in plain more; do
		arg=; [ $v = more ] && arg=more
		(sleep 100000 | /samples/fuzzseed "$fuzz_dir/data" "$fuzz_dir/ready.$v" $arg >/dev/null 2>&1) &
		i=0
		while [ ! -e "ready.$v" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		pid=$(fuzz_pidof fuzzseed)
		[ -n "$pid" ] || { echo "# fuzzseed $v did not start"; return 1; }
		/ckpt checkpoint "$pid" -o "$fuzz_dir/seed-$v.img" --kill --quiet ||
			{ echo "# cannot checkpoint fuzzseed $v"; kill -9 "$pid"; return 1; }
		# Its writer, gone with it.
		kill "$(fuzz_pidof sleep)" 2>/dev/null
		wait
	done
	ls -l "$fuzz_dir"/seed-*.img | sed 's/^/# /'
}

# fuzz_run N: N cases; prints the fuzzer's lines; returns its status.
fuzz_run() {
	cd "$fuzz_dir" || return 1
	# Each refused restart logs its reason at KERN_INFO: kept in the kernel's
	# buffer, not printed on the (slow, emulated) serial console; warnings
	# and errors (WARN, KASAN, UBSAN, lockdep, hung tasks) still are.
	read -r printk < /proc/sys/kernel/printk
	echo 5 > /proc/sys/kernel/printk
	/ckpt-fuzz --cases "$1" --start "$fuzz_start" --seed "$fuzz_seed" --timeout "$fuzz_timeout" \
		"$fuzz_dir/seed-plain.img" "$fuzz_dir/seed-more.img"
	rc=$?
	echo "$printk" > /proc/sys/kernel/printk
	# Nothing of a case may be left behind.
	left=$(fuzz_pidof fuzzseed)
	[ -z "$left" ] || { echo "# stray restored process $left"; rc=1; }
	return $rc
}

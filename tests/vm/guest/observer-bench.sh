# SPDX-License-Identifier: GPL-2.0
#
# The LSM observer's cost: /bench/ckpt_observer_bench's loops (fork+exit by
# an unmarked and by a watched process, socket+close) with ckpt.ko loaded
# and unloaded, alternately, ROUNDS times; for each loop the median time per
# operation in each state and the ratio unloaded/loaded (the throughput with
# the module as a fraction of the throughput without; 1.00: no cost).
# Sourced; `observer_bench ROUNDS ITERATIONS PREFIX` prints
# "PREFIXobserver LOOP: loaded X ns/op, unloaded Y ns/op, ratio R" lines
# (PREFIX "BENCH " in make bench, "# BENCH " in make check) and
# "PREFIXobserver min-ratio R".  Leaves the module loaded again
# (ckpt.ko= on the command line, /ckpt.ko otherwise), with the module
# arguments ARGS if given (`observer_bench ROUNDS ITERATIONS PREFIX ARGS`).
observer_bench() {
	rounds=$1 iters=$2 prefix=$3 args=${4:-} ko=/ckpt.ko
	for w in $(cat /proc/cmdline); do case $w in ckpt.ko=*) ko=${w#*=} ;; esac; done
	out=/tmp/observer-bench.$$
	: > "$out"
	r=0
	while [ $r -lt "$rounds" ]; do
		for state in loaded unloaded; do
			if [ $state = unloaded ]; then
				rmmod ckpt || { echo "${prefix}observer: rmmod failed"; return 1; }
			fi
			for t in fork fork-marked socket; do
				/bench/ckpt_observer_bench -n "$iters" -r 3 "$t" | sed "s/^/$state /" >> "$out"
			done
			if [ $state = unloaded ]; then
				insmod "$ko" $args >/dev/null || { echo "${prefix}observer: insmod failed"; return 1; }
			fi
		done
		r=$((r + 1))
	done
	awk -v p="$prefix" '
		function median(list,   n, a, i, j, t) {
			n = split(list, a, " ")
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ v[$1, $2] = v[$1, $2] " " $3; seen[$2] = 1 }
		END {
			min = 9
			for (t in seen) {
				l = median(v["loaded", t]); u = median(v["unloaded", t])
				r = l > 0 ? u / l : 0
				if (r < min) min = r
				printf "%sobserver %s: loaded %d ns/op, unloaded %d ns/op, ratio %.3f\n", p, t, l, u, r
			}
			printf "%sobserver min-ratio %.3f\n", p, min
		}' "$out"
	rm -f "$out"
}

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Threads, process trees and shared objects, end to end with the tool:
#
# 1. /samples/threads 16: `ckpt checkpoint --kill`, `ckpt restart --detach`,
#    then SIGUSR1: the program checks its 16 threads itself (tids, TLS,
#    stacks, signal masks, counters) and prints OK.
# 2. /samples/tree (P, A, G, B, zombie Z; pipes, a shared file offset, a
#    shared mapping): `ckpt checkpoint --tree --kill`, restart, the same pids
#    and shape in /proc; then, with the first copy still running, the same
#    image again with `--pid-ns` (its pids are taken outside); SIGUSR1 to
#    each copy: each checks itself and prints OK.
# 3. `setsid sh -c 'yes | cat > /dev/null'`: --tree --kill, restart, sh, yes
#    and cat run again with their pids, the pipe flows, sh reaps them.
# 4. A shell forking short-lived children without pause (a sleep, a sh that
#    runs a sleep): 60 checkpoints of its tree in a row (--leave-running) all
#    succeed; a child that exits while the tree is being looked at is taken
#    as the zombie it becomes a moment later, not a reason to fail.
#
# The helpers' own variables start with _ (ktap_check uses $n, the tree $g).
# Every wait has a timeout (the VM is 2 TCG CPUs); a step that cannot run
# because an earlier one failed fails at once.
. /guest/ktap.sh
. /guest/wait-lib.sh
ktap_plan 27
T=/tmp/tree-test
rm -rf "$T"
mkdir -p "$T"
cleanup_pids=

# kids PID: the pids whose parent is PID.
kids() {
	for _d in /proc/[0-9]*; do
		set -- "$1" $(stat_of "${_d#/proc/}")
		[ "$3" = "$1" ] && echo "${_d#/proc/}"
	done
	true
}
# cpu PID: utime + stime of PID in ticks.
cpu() { stat_of "$1" | awk '{ print $12 + $13 }'; }
# kill9 PID...: SIGKILL, quietly, to what is still there.
kill9() { for _k in "$@"; do kill -9 "$_k" 2>/dev/null; done; true; }

# --- 1. threads ----------------------------------------------------------------
out=$T/threads.out img=$T/threads.img
: > "$out"
/samples/threads 16 > "$out" 2>&1 &
pid=$!
ktap_check threads_ready wait_for "$out" '^ready' 30
tids_before=$(ls "/proc/$pid/task" 2>/dev/null | sort -n | tr '\n' ' ')
sleep 0.5
ktap_check threads_checkpoint timeout 120 /ckpt checkpoint "$pid" -o "$img" --kill --quiet
ktap_check threads_killed within 10 dead "$pid"
kill9 "$pid"
wait "$pid" 2>/dev/null
up=0
timeout 120 /ckpt restart "$img" --detach --quiet > "$T/threads.pid" &&
	[ "$(cat "$T/threads.pid")" = "$pid" ] && up=1
cleanup_pids="$cleanup_pids $pid"
[ "$up" = 1 ] && ktap_pass threads_restart_same_pid || ktap_fail threads_restart_same_pid
echo "# tids before: $tids_before"
echo "# tids after:  $(ls "/proc/$pid/task" 2>/dev/null | sort -n | tr '\n' ' ')"
same_tids() { [ "$(ls "/proc/$pid/task" | sort -n | tr '\n' ' ')" = "$tids_before" ]; }
gated $up threads_same_tids same_tids
[ "$up" = 1 ] && kill -USR1 "$pid" && wait_for "$out" '^(OK|FAIL)' 90
sed 's/^/# threads: /' "$out"
gated $up threads_ok grep -q '^OK threads=16 ' "$out"
kill9 "$pid"

# --- 2. a process tree, then a second copy of it in a pid namespace -----------
out=$T/tree.out data=$T/tree.data img=$T/tree.img
: > "$out"
setsid /samples/tree "$data" > "$out" 2>&1 &
spid=$!
ktap_check tree_ready wait_for "$out" '^ready' 60
# ready P a=A b=B g=G z=Z
set -- $(grep '^ready' "$out") x x x x x x
p=$2 a=${3#a=} b=${4#b=} g=${5#g=} z=${6#z=}
echo "# tree: P=$p A=$a B=$b G=$g Z=$z (setsid pid $spid)"
case "$p$a$b$g$z" in *[!0-9]*|'') p=$spid a= b= g= z= ;; esac
sleep 1
ktap_check tree_checkpoint timeout 120 /ckpt checkpoint "$p" -o "$img" --tree --kill --quiet
ktap_check tree_killed within 10 dead $p $a $b $g
kill9 $g $a $b $p $spid
wait "$spid" 2>/dev/null
# The zombie and the killed children go to init, which reaps them.
within 20 gone $p $a $b $g $z || echo "# tree: some pids are still taken"
up=0
timeout 120 /ckpt restart "$img" --detach --quiet > "$T/tree.pid" &&
	[ "$(cat "$T/tree.pid")" = "$p" ] && up=1
cleanup_pids="$cleanup_pids $p $a $b $g"
[ "$up" = 1 ] && ktap_pass tree_restart_same_pid || ktap_fail tree_restart_same_pid
for x in $p $a $b $g $z; do
	echo "# after restart: $x $(cat /proc/$x/comm 2>/dev/null) $(stat_of $x | cut -d' ' -f1-4)"
done
tree_runs() { runs "$p" tree && runs "$a" tree && runs "$b" tree && runs "$g" tree; }
gated $up tree_same_pids tree_runs
zombie() { [ "$(state_of "$z")" = Z ] && [ "$(cat "/proc/$z/comm" 2>/dev/null)" = tree ]; }
gated $up tree_zombie_restored zombie
# ppid pgrp session: A, B and Z under P, G under A, B alone in its group,
# all in P's session (P's own parent is whoever restarted it).
shape() { [ "$(stat_of "$1" | cut -d' ' -f"$2")" = "$3" ]; }
tree_shape() {
	shape "$p" 3-4 "$p $p" && shape "$a" 2-4 "$p $p $p" && shape "$g" 2-4 "$a $p $p" &&
		shape "$b" 2-4 "$p $b $p" && shape "$z" 2-4 "$p $p $p"
}
gated $up tree_shape tree_shape

# The second copy, in a new pid namespace, while the first one holds the
# pids.  Both would write the same files: the first copy keeps the renamed
# ones, the second reopens fresh copies by the old names (changed, hence
# --ignore-changed).
up2=0
if [ "$up" = 1 ]; then
	mv "$out" "$out.1" && mv "$data" "$data.1" && cp "$out.1" "$out" && cp "$data.1" "$data"
	timeout 120 /ckpt restart "$img" --pid-ns --ignore-changed --detach --quiet \
		> "$T/tree2.pid" && up2=1
	root2=$(cat "$T/tree2.pid")
	cleanup_pids="$cleanup_pids $root2"
	echo "# pid-ns copy: root $root2, $(grep NSpid /proc/$root2/status 2>/dev/null)"
	out1=$out.1
else
	ktap_fail tree_pidns_restart
	out1=$out
fi
pidns_up() { [ "$up2" = 1 ] && [ -n "$root2" ] && [ "$root2" != "$p" ]; }
[ "$up" = 1 ] && ktap_check tree_pidns_restart pidns_up
# NSpid: the pid outside (printed by ckpt), then the one inside: P's own.
nspid() { [ "$(grep NSpid "/proc/$root2/status" | awk '{ print $2 " " $NF }')" = "$root2 $p" ]; }
gated $up2 tree_pidns_nspid nspid

[ "$up" = 1 ] && kill -USR1 "$p" && wait_for "$out1" '^(OK|FAIL)' 90
sed 's/^/# tree: /' "$out1"
gated $up tree_ok grep -q "^OK tree P=$p A=$a B=$b G=$g Z=$z " "$out1"
# P reaped Z, A and B, A reaped G; P itself goes to its parent.
tree_exited() { dead "$p" && gone $a $b $g $z; }
gated $up tree_exited within 30 tree_exited

[ "$up2" = 1 ] && kill -USR1 "$root2" && wait_for "$out" '^(OK|FAIL)' 90 &&
	sed 's/^/# tree in pid ns: /' "$out"
gated $up2 tree_pidns_ok grep -q "^OK tree P=$p A=$a B=$b G=$g Z=$z " "$out"
kill9 $root2

# --- 3. a shell pipeline -------------------------------------------------------
img=$T/pipeline.img
setsid sh -c 'yes | cat > /dev/null' > "$T/pipeline.out" 2>&1 &
sh=$!
y= c=
pipeline_up() {
	for _k in $(kids "$sh"); do
		case $(cat "/proc/$_k/comm" 2>/dev/null) in
		yes) y=$_k ;;
		cat) c=$_k ;;
		esac
	done
	[ -n "$y" ] && [ -n "$c" ]
}
ktap_check pipeline_started within 20 pipeline_up
echo "# pipeline: sh $sh yes $y cat $c"
ktap_check pipeline_checkpoint timeout 120 /ckpt checkpoint "$sh" -o "$img" --tree --kill --quiet
ktap_check pipeline_killed within 10 dead $sh $y $c
kill9 $y $c $sh
wait "$sh" 2>/dev/null
within 20 gone $sh $y $c || echo "# pipeline: some pids are still taken"
up=0
# Attached this time: ckpt restart waits for sh with /dev/ckpt still open.
timeout 120 /ckpt restart "$img" --quiet > "$T/pipeline.tool" 2>&1 &
tool=$!
within 30 runs "$sh" sh && up=1
cleanup_pids="$cleanup_pids $y $c $sh"
[ "$up" = 1 ] && ktap_pass pipeline_restart_same_pid || ktap_fail pipeline_restart_same_pid
pipeline_runs() { runs "$sh" sh && runs "$y" yes && runs "$c" cat; }
gated $up pipeline_same_pids pipeline_runs
# The pipe flows: cat keeps using CPU time.
c0=$(cpu "$c")
cpu_grows() { [ "$(cpu "$c")" -gt "${c0:-0}" ] 2>/dev/null; }
gated $up pipeline_flows within 10 cpu_grows
# yes killed, cat reads the end of the pipe (nothing else may hold its write
# end: not the restart's open /dev/ckpt either) and ends; the restored sh
# reaps both and ends; so does the attached ckpt restart.
kill9 $y
gated $up pipeline_sh_reaps within 20 dead $sh $c
gated $up pipeline_tool_ends within 20 dead $tool

# 4. A tree whose children come and go all the time.
setsid sh -c 'while :; do sleep 0.02; sh -c "sleep 0.01; true"; done' < /dev/null > /dev/null 2>&1 &
churn=$!
cleanup_pids="$cleanup_pids $churn"
_ok=0
_i=0
while [ $_i -lt 60 ]; do
	_i=$((_i + 1))
	if /ckpt checkpoint "$churn" --tree --leave-running -q -o "$T/churn.img" > "$T/churn.out" 2>&1; then
		_ok=$((_ok + 1))
	else
		sed 's/^/# churn: /' "$T/churn.out"
	fi
done
echo "# churning tree: $_ok of 60 checkpoints succeeded"
ktap_check churning_tree_checkpoints test "$_ok" = 60
kill -9 -"$churn" 2>/dev/null

# Only what is still ours: pids may have been reused since.
for _k in $cleanup_pids; do
	case $(cat "/proc/$_k/comm" 2>/dev/null) in
	threads | tree | sh | yes | cat) kill -9 "$_k" 2>/dev/null ;;
	esac
done
rm -rf "$T"
ktap_finish

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# redis-server in the middle of a BGSAVE: it forked a child that writes a
# snapshot of its 20000 keys (slowly: rdb-key-save-delay) as they were at
# the fork, while the parent changes keys (copy-on-write keeps the child's
# copies).  Parent and child are checkpointed, killed, restarted; the
# parent changes more keys.  The child finishes its snapshot, the parent
# reaps it and reports the save a success, the dump passes redis-check-rdb,
# and a second redis-server loading it has every key exactly as it was at
# the fork (none of the changes made before or after the restart), while
# the restored parent has all of them.
name=redis_bgsave
. /lane/lib.sh
ktap_plan 11
sock=$W/r.sock
setsid redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no --dir "$W" \
	> "$W/server.log" 2>&1 < /dev/null &
root=$!
sessions=$root
rcli() { redis-cli -s "$sock" "$@"; }
up_() { [ "$(rcli PING 2>/dev/null)" = PONG ]; }
ktap_check server_up within 60 up_
N=20000
awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++) printf "SET k:%d v%d\n", i, i }' | rcli --pipe > "$W/pipe.out" 2>&1
ktap_check loaded grep -q "errors: 0, replies: $N" "$W/pipe.out"
# hash SOCK: the sha1 of every value in order, computed in the server.
lua='local t = {} for i = 1, tonumber(ARGV[1]) do t[#t + 1] = redis.call("GET", "k:" .. i) or "nil" end return redis.sha1hex(table.concat(t, ","))'
hash() { redis-cli -s "$1" EVAL "$lua" 0 $N; }
# want FROM: the expected hash once k:1..k:FROM-1 are "new".
want() { awk -v n=$N -v m="$1" 'BEGIN { for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? "," : ""), (i < m ? "new" i : "v" i) }' | sha1sum | cut -d' ' -f1; }
# 0.4 ms per key: the child takes 8 s or more (minutes under TCG).
rcli CONFIG SET rdb-key-save-delay 400 > /dev/null
info() { rcli INFO persistence | tr -d '\r' | sed -n "s/^$1://p"; }
rcli BGSAVE > "$W/bgsave.out" 2>&1
saving() { [ "$(info rdb_bgsave_in_progress)" = 1 ] && [ -n "$(tree "$root" | cut -d' ' -f2)" ]; }
ktap_check child_saving within 30 saving
# Changes after the fork: the child must not see them.
awk 'BEGIN { for (i = 1; i <= 100; i++) printf "SET k:%d new%d\n", i, i }' | rcli --pipe > /dev/null 2>&1
note "child: $(for p in $(tree "$root" | cut -d' ' -f2-); do echo "$p $(cat /proc/$p/comm 2>/dev/null)"; done); temp files: $(ls "$W" | grep '^temp' | tr '\n' ' ')"
cycle "$root"
[ "$up" = 1 ] && awk 'BEGIN { for (i = 101; i <= 200; i++) printf "SET k:%d new%d\n", i, i }' | rcli --pipe > /dev/null 2>&1
done_() { [ "$(info rdb_bgsave_in_progress)" = 0 ]; }
gated $up save_finished within 180 done_
gated $up save_ok test "$(info rdb_last_bgsave_status)" = ok
check_rdb() { redis-check-rdb "$W/dump.rdb" > "$W/check.out" 2>&1; }
gated $up rdb_checks check_rdb
# The snapshot, loaded by a second server: the keys as at the fork.
if [ "$up" = 1 ]; then
	mkdir "$W/2" && cp "$W/dump.rdb" "$W/2/"
	redis-server --port 0 --unixsocket "$W/2/s.sock" --save '' --appendonly no --dir "$W/2" \
		> "$W/2/server.log" 2>&1 < /dev/null &
	second=$!
fi
up2() { [ "$(redis-cli -s "$W/2/s.sock" PING 2>/dev/null)" = PONG ]; }
gated $up snapshot_loads within 60 up2
gated $up snapshot_as_at_fork test "$(hash "$W/2/s.sock")" = "$(want 1)"
gated $up parent_has_changes test "$(hash "$sock")" = "$(want 201)"
note "$(grep -iE 'background saving|child' "$W/server.log" | tail -n 3 | tr '\n' '|')"
show "$W/check.out" 2
cleanup() {
	rcli SHUTDOWN NOSAVE > /dev/null 2>&1
	[ -n "$second" ] && { redis-cli -s "$W/2/s.sock" SHUTDOWN NOSAVE > /dev/null 2>&1; kill -9 "$second" 2>/dev/null; }
}
lane_end

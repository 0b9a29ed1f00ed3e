#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# redis-server on a unix socket only (--port 0, no RDB or AOF), holding
# 20000 strings, a hash, a list, a sorted set and keys with a TTL, with two
# clients in its tree: a redis-cli on one long-lived connection reading
# commands from a FIFO its parent shell holds open (it has done SELECT 3,
# CLIENT SETNAME and INCRs: per-connection state in the server), and a
# shell loop starting a new redis-cli for each INCR of another counter.
# All are checkpointed mid-work, killed, restarted: the long-lived
# connection is the same one (same client id, name and db) and its counter
# goes on from where it was; the loop's counter has no gap and no repeat;
# every value is the one written (a Lua script hashes the strings in the
# server, DEBUG DIGEST-VALUE the other types), TTLs went on counting down,
# and new connections work.
name=redis
. /lane/lib.sh
ktap_plan 17
sock=$W/r.sock
mkfifo "$W/cmd"
setsid sh -c 'redis-server --port 0 --unixsocket "$0/r.sock" --save "" --appendonly no \
		--dir "$0" --enable-debug-command yes > "$0/server.log" 2>&1 &
	while [ ! -S "$0/r.sock" ]; do sleep 0.1; done
	redis-cli -s "$0/r.sock" < "$0/cmd" > "$0/cli.out" 2>&1 &
	exec 3> "$0/cmd"
	while [ ! -e "$0/stop" ]; do redis-cli -s "$0/r.sock" INCR loop >> "$0/loop.log" 2>&1; sleep 0.1; done &
	wait' "$W" < /dev/null &
root=$!
sessions=$root
rcli() { redis-cli -s "$sock" "$@"; }
up_() { [ "$(rcli PING 2>/dev/null)" = PONG ]; }
ktap_check server_up within 60 up_
# The data, through redis-cli --pipe (inline commands): db 1.
N=20000
{
	echo 'SELECT 1'
	awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++) printf "SET k:%d v%d:%d\n", i, i, i * i }'
	awk 'BEGIN { for (i = 1; i <= 1000; i++) printf "HSET h f%d %d\nRPUSH l e%d\nZADD z %d m%d\n", i, i * 7, i, i % 97, i }'
	echo 'SET ttl1 x EX 3600'
	echo 'SET ttl2 y PX 7200000'
} | rcli --pipe > "$W/pipe.out" 2>&1
ktap_check loaded grep -q 'errors: 0, replies: 23003' "$W/pipe.out"
# The long-lived client: its connection's db and name, and a counter.
printf 'SELECT 3\nCLIENT SETNAME lane-a\nCLIENT ID\n' > "$W/cmd"
i=0; while [ $i -lt 10 ]; do echo 'INCR pc'; i=$((i + 1)); done > "$W/cmd"
ktap_check client_counting wait_for "$W/cli.out" '^10$' 30
ktap_check loop_counting within 60 more_lines "$W/loop.log" 5
# strings: the sha1 of every value in order, computed in the server.
lua='local t = {} for i = 1, tonumber(ARGV[1]) do t[#t + 1] = redis.call("GET", "k:" .. i) or "nil" end return redis.sha1hex(table.concat(t, ","))'
want=$(awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++) printf "%sv%d:%d", (i > 1 ? "," : ""), i, i * i }' | sha1sum | cut -d' ' -f1)
strings() { [ "$(rcli -n 1 EVAL "$lua" 0 $N)" = "$want" ]; }
digests() { rcli -n 1 DEBUG DIGEST-VALUE h l z | tr '\n' ' '; }
d1=$(digests)
ttl1=$(rcli -n 1 TTL ttl1)
cid=$(sed -n 3p "$W/cli.out")
note "before: client id $cid, digests $d1, ttl $ttl1, loop at $(tail -n 1 "$W/loop.log")"
cycle "$root"
gated $up new_connection within 30 up_
gated $up strings_exact strings
d2=$(digests)
note "after: digests $d2"
gated $up digests_same test "$d1" = "$d2"
gated $up counts test "$(rcli -n 1 DBSIZE) $(rcli -n 1 HLEN h) $(rcli -n 1 LLEN l) $(rcli -n 1 ZCARD z)" = "20005 1000 1000 1000"
ttl_ok() { t=$(rcli -n 1 TTL ttl1); t2=$(rcli -n 1 PTTL ttl2); [ "$t" -le "$ttl1" ] && [ "$t" -gt 3000 ] && [ "$t2" -gt 6000000 ] && [ "$t2" -le 7200000 ]; }
gated $up ttls_counting ttl_ok
# The long-lived connection: same id, still on db 3 with its name.
[ "$up" = 1 ] && { printf 'CLIENT ID\nCLIENT INFO\n'; i=0; while [ $i -lt 10 ]; do echo 'INCR pc'; i=$((i + 1)); done; } > "$W/cmd"
gated $up client_goes_on wait_for "$W/cli.out" '^20$' 30
same() { [ "$(sed -n 14p "$W/cli.out")" = "$cid" ] && sed -n 15p "$W/cli.out" | grep -q "id=$cid .*name=lane-a .*db=3 "; }
gated $up same_connection same
# "OK OK id 1 2 ... 10 id info 11 ... 20": nothing lost, nothing repeated.
client_seq() {
	awk -v id="$cid" 'NR <= 2 { bad = bad || $0 != "OK"; next } NR == 3 || NR == 14 { bad = bad || $0 != id; next }
		NR == 15 { next } { bad = bad || $0 != (NR < 14 ? NR - 3 : NR - 5) } END { exit bad || NR != 25 }' "$W/cli.out"
}
gated $up client_sequence client_seq
gated $up in_db3 test "$(rcli -n 3 GET pc) $(rcli GET pc)" = "20 "
nl=$(lines "$W/loop.log")
gated $up loop_goes_on within 60 more_lines "$W/loop.log" $((nl + 5))
: > "$W/stop"
loop_seq() { awk '$0 != NR { print "# loop.log:" NR ": " $0; bad = 1 } END { exit bad || NR == 0 }' "$W/loop.log"; }
gated $up loop_sequence loop_seq
note "after: loop at $(tail -n 1 "$W/loop.log"), server: $(rcli INFO server | grep -E '^(uptime_in_seconds|process_id):' | tr -d '\r' | tr '\n' ' ')"
show "$W/cli.out" 4
show "$W/server.log" 4
cleanup() { rcli SHUTDOWN NOSAVE > /dev/null 2>&1; }
lane_end

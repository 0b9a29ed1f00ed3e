#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# PostgreSQL 17 (Debian's postgresql-17): a cluster made by initdb and run
# by the postmaster as nobody (postgres refuses root), on a unix socket
# only (listen_addresses = ''), 16 MB of shared_buffers, with its
# background processes (checkpointer, background writer, WAL writer,
# autovacuum launcher, logical replication launcher) and three clients in
# its tree: a psql on one long-lived connection reading SQL from a FIFO
# its parent shell holds open, in a transaction that holds an advisory
# lock, has updated row 1, inserted 500 rows and taken 5 values of a
# sequence, none of it committed; a second psql whose UPDATE of row 1
# waits for the first one's row lock; and a shell loop starting a new psql
# for each insert of the next value of another sequence.  The tree is
# checkpointed mid-work, killed, restarted (the backends, the shared
# memory, SysV and POSIX shared memory segments, semaphores, latches'
# signalfd and epoll sets, the postmaster's death pipe and its listening
# socket all come back): the lock and the waiter are still there, the open
# transaction goes on (its sequence values continue exactly: a crash
# recovery would have made them jump) and commits, the waiter's UPDATE
# then goes through, the loop's values have no gap and no repeat, new
# connections work, CHECKPOINT and a clean (fast) shutdown succeed, the
# log shows no crash recovery, and a new server started on the same data
# finds everything, without recovery.
name=postgres
. /lane/lib.sh
ktap_plan 26
P=${PGBIN:-/usr/lib/postgresql/17/bin}
U=65534
# as_pg CMD...: CMD as nobody (the cluster's owner).
as_pg() { setpriv --reuid=$U --regid=$U --clear-groups -- "$@"; }
chown $U:$U "$W"
initdb_() { as_pg "$P/initdb" -D "$W/data" -U pg --auth=trust --no-locale -E UTF8 --no-sync > "$W/initdb.log" 2>&1; }
ktap_check initdb initdb_ || show "$W/initdb.log"
cat >> "$W/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$W'
shared_buffers = 16MB
huge_pages = off
max_connections = 20
jit = off
log_line_prefix = '%m [%p] '
EOF
mkfifo "$W/sql" "$W/sql2"
setsid sh -c 'setpriv --reuid=65534 --regid=65534 --clear-groups -- "$1/postgres" -D "$0/data" > "$0/server.log" 2>&1 &
	until "$1/pg_isready" -q -h "$0" -U pg -d postgres; do sleep 0.2; done
	"$1/psql" -X -q -A -t -h "$0" -U pg -d postgres < "$0/sql" > "$0/psql.out" 2>&1 &
	"$1/psql" -X -q -A -t -h "$0" -U pg -d postgres < "$0/sql2" > "$0/psql2.out" 2>&1 &
	exec 3> "$0/sql" 4> "$0/sql2"
	until [ -e "$0/go-loop" ]; do sleep 0.1; done
	while [ ! -e "$0/stop" ]; do
		"$1/psql" -X -q -A -t -h "$0" -U pg -d postgres -c "$2" >> "$0/loop.log" 2>&1
		sleep 0.1
	done &
	wait' "$W" "$P" "INSERT INTO l VALUES (nextval('ls')) RETURNING k" < /dev/null &
root=$!
sessions=$root
# q SQL: one statement on a new connection, unaligned, tuples only.
q() { "$P/psql" -X -q -A -t -h "$W" -U pg -d postgres -c "$1" 2>&1; }
ready() { "$P/pg_isready" -q -h "$W" -U pg -d postgres; }
ktap_check server_up within 120 ready
q 'CREATE TABLE t(k int PRIMARY KEY, v text NOT NULL); CREATE TABLE l(k bigint PRIMARY KEY); CREATE SEQUENCE s; CREATE SEQUENCE ls' > "$W/setup.out"
q "INSERT INTO t SELECT g, 'committed ' || g FROM generate_series(1, 100) g" >> "$W/setup.out"
ktap_check setup test "$(q 'SELECT count(*) FROM t')" = 100
: > "$W/go-loop"
# The long-lived transaction.
cat > "$W/sql" <<'SQL'
SELECT 'pid', pg_backend_pid();
BEGIN;
SELECT 'locked' FROM (SELECT pg_advisory_xact_lock(42)) x;
UPDATE t SET v = 'open update' WHERE k = 1;
INSERT INTO t SELECT g, 'open ' || g FROM generate_series(101, 600) g;
SELECT 'seq', nextval('s') FROM generate_series(1, 5);
SELECT 'ready';
SQL
ktap_check transaction_open wait_for "$W/psql.out" '^ready$' 60
pid_a=$(sed -n 's/^pid|//p' "$W/psql.out")
# The waiter: its UPDATE of row 1 waits for the open transaction.
printf "SELECT 'pid', pg_backend_pid();\nUPDATE t SET v = 'waiter' WHERE k = 1;\nSELECT 'updated', v FROM t WHERE k = 1;\n" > "$W/sql2"
ktap_check waiter_connected wait_for "$W/psql2.out" '^pid\|' 60
pid_b=$(sed -n 's/^pid|//p' "$W/psql2.out")
waiting() { [ "$(q "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid_b")" = Lock ]; }
# What another session sees while the transaction is open: no new row,
# row 1 as committed, the advisory lock taken (by the open transaction's
# backend), the waiter waiting.
held() {
	[ "$(q "SELECT count(*), min(v) FILTER (WHERE k = 1), pg_try_advisory_lock(42) FROM t")" = "100|committed 1|f" ] &&
		[ "$(q "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")" = "$pid_a" ] && waiting
}
ktap_check held_before within 60 held
ktap_check loop_going within 60 more_lines "$W/loop.log" 5
note "backends: open transaction $pid_a, waiter $pid_b; loop at $(tail -n 1 "$W/loop.log")"
note "postmaster's files: $(pm=$(head -n 1 "$W/data/postmaster.pid"); for f in /proc/$pm/fd/*; do printf '%s ' "$(readlink "$f")"; done)"
cycle "$root"
gated $up new_connection within 60 ready
gated $up held_after held
# The open transaction goes on where it was, and commits.
[ "$up" = 1 ] && printf "SELECT 'seq', nextval('s') FROM generate_series(1, 5);\nCOMMIT;\nSELECT 'count', count(*) FROM t;\nSELECT 'committed';\n" > "$W/sql"
gated $up committed wait_for "$W/psql.out" '^committed$' 60
want_a=$(printf 'pid|%s\nlocked\nseq|1\nseq|2\nseq|3\nseq|4\nseq|5\nready\nseq|6\nseq|7\nseq|8\nseq|9\nseq|10\ncount|600\ncommitted' "$pid_a")
gated $up transaction_output test "$(cat "$W/psql.out")" = "$want_a"
gated $up waiter_goes_through wait_for "$W/psql2.out" '^updated\|waiter$' 60
gated $up rows_visible test "$(q "SELECT count(*), count(*) FILTER (WHERE v LIKE 'open %'), pg_try_advisory_lock(42) FROM t")" = "600|500|t"
gated $up sequence_continues test "$(q "SELECT nextval('s')")" = 11
nl=$(lines "$W/loop.log")
gated $up loop_goes_on within 60 more_lines "$W/loop.log" $((nl + 5))
: > "$W/stop"
loop_seq() { awk '$0 != NR { print "# loop.log:" NR ": " $0; bad = 1 } END { exit bad || NR == 0 }' "$W/loop.log"; }
loop_done() { n=$(lines "$W/loop.log"); sleep 1; [ "$(lines "$W/loop.log")" = "$n" ]; }
within 30 loop_done
gated $up loop_sequence loop_seq
gated $up loop_rows test "$(q 'SELECT count(*), max(k) FROM l')" = "$(lines "$W/loop.log")|$(lines "$W/loop.log")"
gated $up checkpoint_sql test "$(q 'CHECKPOINT' && echo ok)" = ok
pm=$(head -n 1 "$W/data/postmaster.pid")
note "after: postmaster $pm, loop at $(tail -n 1 "$W/loop.log"); $(q "SELECT string_agg(backend_type, ', ' ORDER BY backend_type) FROM pg_stat_activity")"
# No crash, no recovery, nothing killed, in the restored server's log.
bad_log='PANIC|not properly shut down|redo starts|automatic recovery|was terminated by signal|terminating any other active|exited with exit code|invalid record|server process'
clean_log() { ! grep -E "$bad_log" "$1"; }
gated $up no_recovery clean_log "$W/server.log"
stop_() { as_pg "$P/pg_ctl" stop -D "$W/data" -m fast -w -t 60 > "$W/stop.out" 2>&1; }
gated $up clean_shutdown stop_
gated $up shut_down wait_for "$W/server.log" 'database system is shut down' 30
gated $up postmaster_gone within 30 dead "$pm"
controldata() { as_pg "$P/pg_controldata" -D "$W/data" | grep -q '^Database cluster state: *shut down$'; }
gated $up state_shut_down controldata
# A new server on the same data: no recovery, every row, the sequences on.
start_() { as_pg "$P/pg_ctl" start -D "$W/data" -l "$W/server2.log" -w -t 120 > "$W/start2.out" 2>&1; }
restarted() {
	start_ && [ "$(q "SELECT count(*), min(v) FILTER (WHERE k = 1), nextval('s'), (SELECT count(*) FROM l) FROM t")" = "600|waiter|12|$(lines "$W/loop.log")" ] &&
		clean_log "$W/server2.log"
}
gated $up data_kept restarted
show "$W/psql2.out" 2
show "$W/server.log" 12
show "$W/server2.log" 4
cleanup() {
	[ -f "$W/data/postmaster.pid" ] && as_pg "$P/pg_ctl" stop -D "$W/data" -m immediate -w -t 30 > /dev/null 2>&1
	true
}
lane_end

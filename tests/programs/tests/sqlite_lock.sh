#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The sqlite3 shell holding a write transaction (BEGIN IMMEDIATE: its POSIX
# lock on the database, and the rollback journal) with 500 rows inserted,
# while a watcher in the same tree (tests/programs/lockwatch.sh: a shell
# loop starting a new sqlite3 for each try) tries every 0.2 s to take the
# write lock.  The shell reads SQL from a FIFO
# its parent holds open (see sqlite.sh).  All are checkpointed, killed and
# restarted together: the watcher found the lock taken at every try before
# and after, until the test sends COMMIT; then the lock is free and the 500
# rows are there, for the watcher and for a new sqlite3.
name=sqlite_lock
. /lane/lib.sh
ktap_plan 9
db=$W/db
sqlite3 -batch "$db" 'CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT NOT NULL)'
mkfifo "$W/sql"
setsid sh -c 'sqlite3 -batch "$0" < "$1" > "$2" 2>&1 & exec 3> "$1"; sleep 1
	sh /lane/lockwatch.sh "$0" > "$3" 2>&1 & wait' "$db" "$W/sql" "$W/out" "$W/watch" < /dev/null &
root=$!
sessions=$root
cat > "$W/sql" <<'SQL'
BEGIN IMMEDIATE;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500)
INSERT INTO t SELECT x, printf('row %d', x) FROM c;
SQL
locked() { nl=$(grep -c '^locked ' "$W/watch" 2>/dev/null); [ "${nl:-0}" -ge "$1" ]; }
ktap_check lock_seen within 60 locked 3
before=$(lines "$W/watch")
cycle "$root"
gated $up lock_seen_after within 60 locked $((before + 3))
sent=$(lines "$W/watch")
# The COMMIT waits for the watcher's reader of the moment (its shared lock)
# instead of failing with SQLITE_BUSY: sqlite3 has no busy timeout unless set.
[ "$up" = 1 ] && printf '.timeout 10000\nCOMMIT;\nSELECT count(*) FROM t;\n.quit\n' > "$W/sql"
gated $up free_after_commit wait_for "$W/watch" '^free ' 60
# Every try until the commit was sent found the lock taken, none saw a row.
held() { head -n "$sent" "$W/watch" | awk '$1 != "locked" || $3 != 0 { bad = 1 } END { exit bad || NR == 0 }'; }
gated $up held_throughout held
gated $up committed_rows_seen wait_for "$W/watch" '^free [0-9]+ 500$' 30
count() { [ "$(sqlite3 -batch "$db" 'SELECT count(*) FROM t' 2>&1)" = 500 ]; }
gated $up committed count
gated $up integrity test "$(sqlite3 -batch "$db" 'PRAGMA integrity_check' 2>&1)" = ok
note "watcher: $(grep -c '^locked' "$W/watch") locked, $before before the checkpoint, $sent before COMMIT"
show "$W/watch" 4
show "$W/out"
lane_end

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The sqlite3 shell, no transaction open, reading SQL from a FIFO that its
# parent shell holds open for writing (so it never sees the end of it; the
# test writes SQL into the FIFO and closes it each time): it has created a
# table of 1000 rows (another sqlite3 sees them).  Both are checkpointed
# while sqlite3 waits for more SQL, killed, restarted: sqlite3 goes on
# reading the same FIFO, adds 1000 rows, and its output (buffered in its
# memory across the restart, flushed at exit) holds both answers; the
# database passes its integrity check.
name=sqlite
. /lane/lib.sh
ktap_plan 8
db=$W/db
mkfifo "$W/sql"
setsid sh -c 'sqlite3 -batch "$0" < "$1" > "$2" 2>&1 & exec 3> "$1"; wait' "$db" "$W/sql" "$W/out" < /dev/null &
root=$!
sessions=$root
# The checker below reads the database while the shell writes it: both wait
# for the other's lock (a busy timeout), as programs sharing a database do.
cat > "$W/sql" <<'SQL'
.timeout 60000
CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT NOT NULL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000)
INSERT INTO t SELECT x, printf('row %d', x) FROM c;
SELECT 'one', count(*), sum(k) FROM t;
SQL
count() { [ "$(sqlite3 -batch -cmd '.timeout 5000' "$db" 'SELECT count(*) FROM t' 2>/dev/null)" = "$1" ]; }
ktap_check created within 60 count 1000
cycle "$root"
# The restored shell reads on from the FIFO.
[ "$up" = 1 ] && cat > "$W/sql" <<'SQL'
WITH RECURSIVE c(x) AS (SELECT 1001 UNION ALL SELECT x + 1 FROM c WHERE x < 2000)
INSERT INTO t SELECT x, printf('row %d', x) FROM c;
SELECT 'two', count(*), sum(k) FROM t;
.quit
SQL
gated $up added within 60 count 2000
gated $up exited within 60 gone "$root"
both() { grep -qx 'one|1000|500500' "$W/out" && grep -qx 'two|2000|2001000' "$W/out"; }
gated $up answers both
gated $up integrity test "$(sqlite3 -batch "$db" 'PRAGMA integrity_check' 2>&1)" = ok
show "$W/out"
lane_end

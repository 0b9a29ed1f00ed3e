#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Watch an SQLite database's write lock, for tests/sqlite_lock.sh:
#
#   sh lockwatch.sh DB
#
# Every 0.2 s, a new sqlite3 counts the rows of table t (a reader may read
# while a writer holds the write lock) and another one tries to take the
# write lock (BEGIN IMMEDIATE, no busy timeout; ROLLBACK at once if it got
# it).  One line per try: "locked N ROWS" or "free N ROWS".  Ends after the
# third "free".
n=0 free=0
while [ $free -lt 3 ]; do
	n=$((n + 1))
	rows=$(sqlite3 -batch "$1" 'SELECT count(*) FROM t' 2>&1)
	if sqlite3 -batch "$1" 'BEGIN IMMEDIATE; ROLLBACK;' > /dev/null 2>&1; then
		free=$((free + 1))
		echo "free $n $rows"
	else
		echo "locked $n $rows"
	fi
	sleep 0.2
done

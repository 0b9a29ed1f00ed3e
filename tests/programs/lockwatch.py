# SPDX-License-Identifier: GPL-2.0
"""Watch an SQLite database's write lock, for tests/programs/tests/sqlite_lock.sh.

    python3 lockwatch.py DB

Every 0.2 s, tries to take the write lock (BEGIN IMMEDIATE, no busy
timeout) on its own connection and prints one line: "locked N ROWS" if
another connection holds it, or "free N ROWS" (and lets it go at once);
ROWS is what a reader sees in table t.  Ends after the third "free".
"""
import sqlite3
import sys
import time

con = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
n = free = 0
while free < 3:
    n += 1
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        if "locked" not in str(e):
            raise
        print("locked", n, rows, flush=True)
    else:
        con.execute("ROLLBACK")
        free += 1
        print("free", n, rows, flush=True)
    time.sleep(0.2)

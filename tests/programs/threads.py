# SPDX-License-Identifier: GPL-2.0
"""Python threads computing into files, for tests/programs/tests/python_threads.sh.

    python3 threads.py DIR            # 4 threads, each a SHA-256 chain
    python3 threads.py DIR --expect   # the same chains, serially, no files

Each thread i hashes its seed ROUNDS times, appending "i k hexdigest" to
DIR/t<i>.log every STEP rounds (kept open, flushed), and keeps its progress
in a shared dict under a lock.  The main thread writes DIR/progress (the
sum of all rounds so far) every 0.2 s.  At the end, DIR/result holds one
digest per thread; --expect prints the digests the chains must end with.
"""
import hashlib
import os
import sys
import threading
import time

THREADS, ROUNDS, STEP = 4, 40000, 1000
PAUSE = 0.15


def chain(i, log=None, progress=None, lock=None):
    h = hashlib.sha256(b"seed %d" % i).digest()
    for k in range(1, ROUNDS + 1):
        h = hashlib.sha256(h).digest()
        if log is not None and k % STEP == 0:
            log.write("%d %d %s\n" % (i, k, h.hex()))
            log.flush()
            with lock:
                progress[i] = k
            # A pause per step: the run lasts at least PAUSE * ROUNDS / STEP
            # seconds however fast the CPU is, so the checkpoint finds it at
            # work (on an idle machine it once ended before its checkpoint).
            time.sleep(PAUSE)
    return h.hex()


def main():
    d = sys.argv[1]
    if "--expect" in sys.argv:
        for i in range(THREADS):
            print(i, chain(i))
        return
    progress, lock, out = {}, threading.Lock(), {}

    def run(i):
        with open(os.path.join(d, "t%d.log" % i), "w") as log:
            out[i] = chain(i, log, progress, lock)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        with lock:
            n = sum(progress.values())
        with open(os.path.join(d, "progress"), "w") as f:
            f.write("%d\n" % n)
        time.sleep(0.2)
    for t in threads:
        t.join()
    with open(os.path.join(d, "result"), "w") as f:
        for i in range(THREADS):
            f.write("%d %s\n" % (i, out[i]))


main()

# SPDX-License-Identifier: GPL-2.0
"""An asyncio program for tests/programs/tests/asyncio.sh.

    python3 aio.py DIR             # the server, client A, the timer, and
                                   # client B as a subprocess
    python3 aio.py DIR client B    # client B (started by the server)

The server listens on the unix socket DIR/sock.  Each client sends
"NAME SEQ" every 0.1 s, SEQ counting from 1; the server answers
"ack NAME SEQ COUNT", COUNT being the number of messages it got on that
connection; the client checks that both equal what it sent, and stops
when DIR/stop exists (it then sends "bye").  Client A runs in the
server's own event loop and logs "A SEQ" to DIR/a.log; client B is a
subprocess (subprocess.Popen; its stdout is a pipe the server reads in
its event loop, logging "B SEQ" lines to DIR/b.log, and it is reaped
by a thread of the default executor).  A timer (call_later, every 0.25 s)
logs "tick N" to DIR/server.log.  Any mismatch is logged as a line
starting with FAIL.  At the end the server logs "OK a=N b=N ticks=N".
"""
import asyncio
import os
import subprocess
import sys

D = sys.argv[1]
SOCK = os.path.join(D, "sock")


def log(name, line):
    with open(os.path.join(D, name), "a") as f:
        f.write(line + "\n")


async def client(name, out):
    reader, writer = await asyncio.open_unix_connection(SOCK)
    seq = 0
    while not os.path.exists(os.path.join(D, "stop")):
        seq += 1
        writer.write(b"%s %d\n" % (name.encode(), seq))
        await writer.drain()
        reply = (await reader.readline()).decode().split()
        if reply != ["ack", name, str(seq), str(seq)]:
            out("FAIL %s sent %d, got %r" % (name, seq, reply))
        else:
            out("%s %d" % (name, seq))
        await asyncio.sleep(0.1)
    writer.write(b"bye\n")
    await writer.drain()
    await reader.readline()
    writer.close()
    await writer.wait_closed()
    return seq


async def serve(reader, writer):
    count = 0
    while True:
        line = await reader.readline()
        if not line or line == b"bye\n":
            break
        count += 1
        name, seq = line.decode().split()
        writer.write(b"ack %s %s %d\n" % (name.encode(), seq.encode(), count))
        await writer.drain()
    writer.write(b"bye\n")
    await writer.drain()
    writer.close()


async def server():
    loop = asyncio.get_running_loop()
    ticks = 0

    def tick():
        nonlocal ticks
        ticks += 1
        log("server.log", "tick %d" % ticks)
        timer[0] = loop.call_later(0.25, tick)

    timer = [loop.call_later(0.25, tick)]
    srv = await asyncio.start_unix_server(serve, path=SOCK)
    proc = subprocess.Popen([sys.executable, __file__, D, "client", "B"],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), proc.stdout)
    a = asyncio.create_task(client("A", lambda s: log("a.log", s)))
    b = 0
    while line := await reader.readline():
        line = line.decode().rstrip("\n")
        log("b.log", line)
        if line.startswith("B "):
            b = int(line.split()[1])
    rc = await loop.run_in_executor(None, proc.wait)
    if rc != 0:
        log("server.log", "FAIL client B exited with status %d" % rc)
    a = await a
    timer[0].cancel()
    srv.close()
    await srv.wait_closed()
    log("server.log", "OK a=%d b=%d ticks=%d" % (a, b, ticks))


def say(s):
    print(s, flush=True)


if len(sys.argv) > 2 and sys.argv[2] == "client":
    asyncio.run(client(sys.argv[3], say))
else:
    asyncio.run(server())

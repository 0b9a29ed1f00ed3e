# SPDX-License-Identifier: GPL-2.0
"""A D-Bus service for tests/dbus.sh, speaking the wire protocol itself
(the userland has libdbus but no Python binding): it connects to the bus
at the address in argv[1] (unix:path=...), authenticates (EXTERNAL), says
Hello, owns the name org.ckpt.Lane, and then, on one connection,

  - answers org.ckpt.Lane.Incr() with a uint32 counter (1, 2, 3, ...),
  - answers org.ckpt.Lane.Echo(s) with "N:s" (N the Incr counter),
  - answers org.ckpt.Lane.Slow() with "slow" 4 s later (the caller waits),
  - emits the signal org.ckpt.Lane.Tick(uint32 n) every 0.3 s,
  - exits when it gets org.ckpt.Lane.Quit().

Every answer and tick is also a line of its stdout ("incr N", "tick N",
"slow pending", "slow replied")."""
import os
import select
import socket
import struct
import sys
import time

NAME = "org.ckpt.Lane"
PATH = "/org/ckpt/Lane"


class Out:
    """A little-endian D-Bus marshaller (offsets from the message's start)."""

    def __init__(self):
        self.b = bytearray()

    def pad(self, n):
        self.b += b"\0" * (-len(self.b) % n)

    def byte(self, v):
        self.b.append(v)

    def u32(self, v):
        self.pad(4)
        self.b += struct.pack("<I", v)

    def str(self, s):
        e = s.encode()
        self.u32(len(e))
        self.b += e + b"\0"

    def sig(self, s):
        e = s.encode()
        self.byte(len(e))
        self.b += e + b"\0"

    def value(self, t, v):
        {"s": self.str, "o": self.str, "g": self.sig, "u": self.u32}[t](v)


def message(mtype, serial, fields, sig="", body=()):
    """fields: (code, type, value); body: values of signature sig."""
    bo = Out()
    for t, v in zip(sig, body):
        bo.value(t, v)
    if sig:
        fields = fields + [(8, "g", sig)]
    h = Out()
    h.b += b"l" + bytes([mtype, 0, 1])
    h.u32(len(bo.b))
    h.u32(serial)
    h.u32(0)  # the fields' length, below
    start = len(h.b)
    for code, t, v in fields:
        h.pad(8)
        h.byte(code)
        h.sig(t)
        h.value(t, v)
    struct.pack_into("<I", h.b, 12, len(h.b) - start)
    h.pad(8)
    return bytes(h.b + bo.b)


class In:
    def __init__(self, b):
        self.b, self.i = b, 0

    def pad(self, n):
        self.i += -self.i % n

    def byte(self):
        self.i += 1
        return self.b[self.i - 1]

    def u32(self):
        self.pad(4)
        self.i += 4
        return struct.unpack_from("<I", self.b, self.i - 4)[0]

    def str(self):
        n = self.u32()
        self.i += n + 1
        return self.b[self.i - n - 1 : self.i - 1].decode()

    def sig(self):
        n = self.byte()
        self.i += n + 1
        return self.b[self.i - n - 1 : self.i - 1].decode()

    def value(self, t):
        return {"s": self.str, "o": self.str, "g": self.sig, "u": self.u32}[t]()


class Bus:
    def __init__(self, address):
        assert address.startswith("unix:path=")
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(address[len("unix:path=") :])
        self.buf = b""
        self.serial = 0
        uid = str(os.getuid()).encode().hex()
        self.s.sendall(b"\0AUTH EXTERNAL " + uid.encode() + b"\r\n")
        line = self.line()
        assert line.startswith(b"OK "), line
        self.s.sendall(b"BEGIN\r\n")

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            sys.exit("the bus closed the connection")
        self.buf += d

    def send(self, mtype, fields, sig="", body=()):
        self.serial += 1
        self.s.sendall(message(mtype, self.serial, fields, sig, body))
        return self.serial

    def call(self, dest, path, iface, member, sig="", body=()):
        f = [(1, "o", path), (2, "s", iface), (3, "s", member), (6, "s", dest)]
        return self.send(1, f, sig, body)

    def pending(self):
        """A whole message in the buffer: (type, serial, fields, body values)."""
        if len(self.buf) < 16:
            return None
        assert self.buf[0:1] == b"l", self.buf[0:1]
        blen, serial, flen = struct.unpack_from("<III", self.buf, 4)
        hlen = 16 + flen + (-(16 + flen) % 8)
        if len(self.buf) < hlen + blen:
            return None
        m, self.buf = self.buf[: hlen + blen], self.buf[hlen + blen :]
        r = In(m[:hlen])
        r.i = 16
        fields = {}
        while r.i < 16 + flen:
            r.pad(8)
            code = r.byte()
            fields[code] = r.value(r.sig())
        body = []
        b = In(m[hlen:])
        for t in fields.get(8, ""):
            body.append(b.value(t) if t in "sogu" else None)
        return m[1], serial, fields, body

    def wait_reply(self, serial):
        while True:
            m = self.pending()
            if m is None:
                self.fill()
                continue
            if m[0] in (2, 3) and m[2].get(5) == serial:
                assert m[0] == 2, m
                return m[3]


def main():
    bus = Bus(sys.argv[1])
    unique = bus.wait_reply(bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello"))[0]
    r = bus.wait_reply(bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "su", (NAME, 4)))
    print(f"unique {unique} requestname {r[0]}", flush=True)
    count = tick = 0
    slow = []  # (when, reply fields): Slow() calls not answered yet
    next_tick = time.monotonic()
    while True:
        m = bus.pending()
        if m is None:
            if slow and slow[0][0] <= time.monotonic():
                bus.send(2, slow.pop(0)[1], "s", ("slow",))
                print("slow replied", flush=True)
                continue
            wait = min([next_tick] + [w for w, _ in slow]) - time.monotonic()
            if wait <= 0:
                tick += 1
                bus.send(4, [(1, "o", PATH), (2, "s", NAME), (3, "s", "Tick")], "u", (tick,))
                print(f"tick {tick}", flush=True)
                next_tick += 0.3
                continue
            if select.select([bus.s], [], [], wait)[0]:
                bus.fill()
            continue
        mtype, serial, f, body = m
        if mtype != 1 or f.get(2) != NAME:
            continue
        reply = [(5, "u", serial), (6, "s", f[7])]
        if f.get(3) == "Incr":
            count += 1
            bus.send(2, reply, "u", (count,))
            print(f"incr {count}", flush=True)
        elif f.get(3) == "Echo":
            bus.send(2, reply, "s", (f"{count}:{body[0]}",))
        elif f.get(3) == "Slow":
            slow.append((time.monotonic() + 4, reply))
            print("slow pending", flush=True)
        elif f.get(3) == "Quit":
            bus.send(2, reply)
            print("quit", flush=True)
            return
        else:
            bus.send(3, [(4, "s", NAME + ".Error.UnknownMethod")] + reply)


main()

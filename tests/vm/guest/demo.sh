#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make demo` inside the VM: a real program is checkpointed, killed,
# restored from its image, and carries on where it stopped.
set -e
say() { printf '\n=== %s\n' "$*"; }

say "ckpt $(/ckpt version 2>&1 | head -n 1)"
say "starting /samples/counter (counts, keeps a checksum of a 64 MiB buffer)"
/samples/counter &
pid=$!
sleep 2

say "checkpointing pid $pid to /tmp/counter.img and killing it"
/ckpt checkpoint "$pid" -o /tmp/counter.img --kill
wait "$pid" 2>/dev/null || true
ls -l /tmp/counter.img
say "the image (ckpt show):"
/ckpt show /tmp/counter.img | grep -v '^  *\(r1[0-5]\|r[89]\|rax\|rbx\|rcx\|rdx\|rsi\|rdi\|rbp\|rsp\|rip\|eflags\)' | head -n 40
say "pid $pid is gone: $(kill -0 "$pid" 2>&1 || true)"

say "restoring it (ckpt restart --inherit-stdio): it continues where it stopped"
/ckpt restart /tmp/counter.img --inherit-stdio --detach
sleep 2
say "stopping the restored program"
kill "$pid"
sleep 0.5
echo "demo done"

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge the serial console log of a ckpt test VM run.

    tests/vm/judge.py [--mode check|demo|bench|zdtm|programs] [--timed-out SECONDS]
                      [--allow-no-kunit] [--boots N] [-v] console.log

Counts every test case and every problem, prints each failure with context
and ends with one line "N passed, N failed, N skipped".  Exits 1 if anything
failed, 2 on usage errors.  What is judged:

  (a) KUnit KTAP from the module, printed by the kernel at insmod: every
      case line ("ok N name", "not ok N name", "ok N name # SKIP ...") at
      the indentation of its suite's "# Subtest:" line.  A suite without
      its closing "ok N suite" line did not finish: one failure.  In
      programs mode (the real-programs lane boots after the check mode has
      counted them) passed and skipped cases are not counted, failures are.
  (b) each guest test program, framed by CKPT-TEST-BEGIN/END markers from
      /guest/check.sh: its "# Totals:" line is authoritative (it survives
      kernel messages interleaved with the program's output); "not ok"
      lines name the failures.  No Totals line, no END marker, or an exit
      status other than 0 or 4 (KSFT_SKIP) without a failed case: one
      failure each.
  (c) the kernel log: each WARNING, BUG, Oops, lockdep report, hung task,
      kmemleak report, ... is one failure, printed with context.
  (d) the CKPT-VM-* markers from /init: insmod and rmmod succeeded, the
      mode script exited 0, and "CKPT-VM-DONE rc=0" is present -- in each
      boot when the guest kexecs into other kernels (each /init prints
      CKPT-VM-BEGIN; --boots N: exactly N boots), with its own kmemleak
      report; "CKPT-VM-KEXEC FAILED" is a failure.
"""

import argparse
import re
import sys

# Kernel lines carry a printk timestamp (CONFIG_PRINTK_TIME=y).
TS = re.compile(r"\[\s*\d+\.\d+\] ?")
ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][0-9A-Za-z]|[A-Za-z])")
RESULT = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: (?:- )?(.*?))?"
                    r"(?:\s+#\s*(SKIP|TODO|XFAIL|XPASS)\b.*)?\s*$")
SUBTEST = re.compile(r"^(\s*)# Subtest: (\S+)")
TOTALS = re.compile(r"^# Totals: pass:(\d+) fail:(\d+)(?: xfail:(\d+))?"
                    r"(?: xpass:(\d+))?(?: skip:(\d+))?(?: error:(\d+))?")
TEST_BEGIN = re.compile(r"CKPT-TEST-BEGIN (\S+)")
TEST_END = re.compile(r"CKPT-TEST-END (\S+) rc=(\d+)")

# Kernel log problems.  A report "header" starts a new incident (unless it
# is within a few lines of the previous one: BUG: ... Oops: of one fault);
# a "follow-up" only does when no incident began in the lines just before
# (a Call Trace or "lockdep is turned off" belongs to the report above it).
HEADERS = [
    ("WARNING", re.compile(r"WARNING:")),
    ("BUG", re.compile(r"BUG:|kernel BUG at")),
    ("Oops", re.compile(r"\bOops\b")),
    ("general protection fault", re.compile(r"general protection fault")),
    ("kernel panic", re.compile(r"kernel panic", re.I)),
    ("hung task", re.compile(r"INFO: task .* blocked")),
    ("RCU stall", re.compile(r"detected stalls?\b|self-detected stall")),
    ("memory leak", re.compile(r"suspected memory leak")),
    ("UBSAN", re.compile(r"UBSAN:")),
    ("bad kernel access", re.compile(r"Unable to handle kernel")),
    ("kmemleak disabled", re.compile(r"Kernel memory leak detector disabled")),
]
FOLLOWUPS = [
    ("KASAN", re.compile(r"KASAN")),
    ("lockdep", re.compile(r"possible recursive locking|circular locking|"
                           r"\blockdep\b|DEBUG_LOCKS_WARN_ON|"
                           r"turning off the locking correctness validator|"
                           r"INFO: trying to register non-static key")),
    ("Call Trace", re.compile(r"Call Trace")),
    ("kmemleak report", re.compile(r"unreferenced object 0x")),
]
# Benign lines that would match a pattern above.
BENIGN = re.compile(r"RCU lockdep checking is enabled")
SAME_REPORT = 8         # a header this close to the previous one: same report
INCIDENT_SPAN = 60      # lines a report may span
CONTEXT_BEFORE, CONTEXT_AFTER = 2, 18


class Judge:
    def __init__(self, lines, args):
        self.lines = lines
        self.args = args
        self.passed = self.failed = self.skipped = 0
        self.failures = []      # (title, [(lineno, text), ...])
        self.notes = []
        self.tallies = []       # (what, passed, failed, skipped)

    # -- helpers -----------------------------------------------------------
    def fail(self, title, start=None, end=None, count=1):
        ctx = []
        if start is not None:
            end = start + 1 if end is None else end
            lo = max(0, start)
            hi = min(len(self.lines), max(end, lo + 1))
            ctx = [(i + 1, self.lines[i]) for i in range(lo, hi)]
        self.failures.append((title, ctx))
        self.failed += count

    @staticmethod
    def kernel_text(line):
        """The printk message of a kernel line, or None for user output."""
        m = TS.match(line)
        return line[m.end():] if m else None

    @staticmethod
    def user_text(line):
        """User output, cut where an interleaved kernel message starts."""
        if TS.match(line):
            return None
        m = TS.search(line)
        return line[:m.start()] if m else line

    def find(self, regex, kernel=False):
        for i, line in enumerate(self.lines):
            text = self.kernel_text(line) if kernel else line
            if text is not None:
                m = regex.search(text)
                if m:
                    yield i, m

    # -- (a) KUnit -----------------------------------------------------------
    def kunit(self):
        count = 0 if self.args.mode == "programs" else 1
        suites = 0
        suite = None      # [name, indent, passed, failed, skipped, start]
        last = 0          # line after the previous case result

        def close(i, finished):
            name, _, p, f, s, start = suite
            if not finished:
                self.fail(f"kunit {name}: suite did not finish", max(start, i - 20), i)
            self.tallies.append((f"kunit {name}", p, f, s))

        for i, line in enumerate(self.lines):
            text = self.kernel_text(line)
            if text is None:
                continue
            m = SUBTEST.match(text)
            if m:
                indent = len(m.group(1))
                if suite is None or indent <= suite[1]:
                    if suite is not None:
                        close(i, False)
                    suite = [m.group(2), indent, 0, 0, 0, i]
                    suites += 1
                    last = i + 1
                continue
            if suite is None:
                continue
            m = RESULT.match(text)
            if not m:
                continue
            indent, status, name, directive = (len(m.group(1)), m.group(2),
                                               m.group(4) or "?", m.group(5))
            if indent < suite[1]:
                close(i, True)
                suite = None
            elif indent == suite[1]:
                if directive == "SKIP":
                    suite[4] += 1
                    self.skipped += count
                elif status == "ok":
                    suite[2] += 1
                    self.passed += count
                else:
                    suite[3] += 1
                    self.fail(f"kunit {suite[0]}.{name}: not ok",
                              max(last, i - 30), i + 1, count=0)
                    self.failed += 1
                last = i + 1
        if suite is not None:
            close(len(self.lines), False)
        return suites

    # -- (b) test programs ---------------------------------------------------
    def programs(self):
        n = 0
        i = 0
        while i < len(self.lines):
            text = self.user_text(self.lines[i])
            m = TEST_BEGIN.search(text) if text is not None else None
            if not m:
                i += 1
                continue
            n += 1
            i = self.program(m.group(1), i)
        return n

    def program(self, name, begin):
        counted = [0, 0, 0]     # passed, failed, skipped by result lines
        totals = None
        rc = None
        not_ok = []
        last = begin + 1
        i = begin + 1
        while i < len(self.lines):
            text = self.user_text(self.lines[i])
            if text is None:
                i += 1
                continue
            if TEST_BEGIN.search(text):
                break
            m = TEST_END.search(text)
            if m:
                rc = int(m.group(2))
                i += 1
                break
            m = TOTALS.match(text)
            if m:
                v = [int(x) if x else 0 for x in m.groups()]
                pas, fai, xfail, xpass, skip, err = v
                totals = (pas + xfail, fai + xpass + err, skip)
            m = RESULT.match(text)
            if m and not m.group(1):
                status, case, directive = m.group(2), m.group(4) or "?", m.group(5)
                if directive == "SKIP":
                    counted[2] += 1
                elif status == "ok" or directive == "XFAIL":
                    counted[0] += 1
                else:
                    counted[1] += 1
                    not_ok.append((case, max(last, i - 30), i + 1))
                last = i + 1
            i += 1
        end = i

        p, f, s = totals if totals else counted
        self.passed += p
        self.skipped += s
        for case, lo, hi in not_ok:
            self.fail(f"{name}: not ok {case}", lo, hi, count=0)
        self.failed += f
        if totals and tuple(counted) != totals and f == len(not_ok):
            self.notes.append(f"{name}: {sum(counted)} result lines but Totals "
                              f"says {sum(totals)} (output interleaved?)")
        if f > len(not_ok):
            self.fail(f"{name}: {f - len(not_ok)} failed case(s) without a "
                      f"readable 'not ok' line", max(begin, end - 40), end, count=0)
        if totals is None:
            f += 1
            self.fail(f"{name}: no '# Totals:' line (crashed or not KTAP?)",
                      max(begin, end - 15), end)
        if rc is None:
            f += 1
            self.fail(f"{name}: did not finish (no CKPT-TEST-END marker)",
                      max(begin, end - 15), end)
        elif rc not in (0, 4) and f == 0:
            f += 1
            self.fail(f"{name}: exited with status {rc}", max(begin, end - 15), end)
        self.tallies.append((name, p, f, s))
        return end

    # -- (c) kernel log problems ---------------------------------------------
    def kernel_log(self):
        leaks = self.leak_sections()
        last = -10 ** 9         # line of the last incident's start
        for i, line in enumerate(self.lines):
            if BENIGN.search(line):
                continue
            if any(b - 5 <= i <= e for b, e in leaks):
                continue        # judged as one report by kmemleak()
            kind = next((w for w, rx in HEADERS if rx.search(line)), None)
            if kind is not None:
                if i - last <= SAME_REPORT:
                    continue
            else:
                kind = next((w for w, rx in FOLLOWUPS if rx.search(line)), None)
                if kind is None or i - last <= INCIDENT_SPAN:
                    continue
            last = i
            self.fail(f"kernel log: {kind}", i - CONTEXT_BEFORE, i + CONTEXT_AFTER)

    def leak_sections(self):
        """(begin, end) of each non-empty kmemleak report printed by /init."""
        found = []
        begin = None
        for i, line in enumerate(self.lines):
            if "CKPT-VM-KMEMLEAK BEGIN" in line and begin is None:
                begin = i
            elif "CKPT-VM-KMEMLEAK END" in line and begin is not None:
                body = [ln for ln in self.lines[begin + 1:i]
                        if ln.strip() and self.kernel_text(ln) is None]
                if body:
                    found.append((begin, i))
                begin = None
        return found

    def kmemleak(self, lo, hi):
        begin = None
        for i in range(lo, hi):
            line = self.lines[i]
            if "CKPT-VM-KMEMLEAK unavailable" in line:
                self.fail("kmemleak unavailable (CONFIG_DEBUG_KMEMLEAK off or disabled)", i)
                return
            if "CKPT-VM-KMEMLEAK BEGIN" in line and begin is None:
                begin = i
        for b, e in self.leak_sections():
            if lo <= b < hi:
                n = sum(1 for ln in self.lines[b:e] if "unreferenced object 0x" in ln)
                self.fail(f"kmemleak: {n} unreferenced object(s) after rmmod",
                          b - 1, min(e + 1, b + 60))
                return
        if begin is not None and not any(
                "CKPT-VM-KMEMLEAK END" in ln for ln in self.lines[begin:hi]):
            self.fail("kmemleak report is incomplete", begin, begin + CONTEXT_AFTER)

    # -- (d) markers ---------------------------------------------------------
    def boots(self):
        """[lo, hi) line ranges, one per boot: a kexec boots the next kernel
        in the same VM, whose /init prints its own markers."""
        starts = [i for i, _ in self.find(re.compile(r"CKPT-VM-BEGIN mode="))]
        if not starts:
            return [(0, len(self.lines))]
        starts[0] = 0
        return list(zip(starts, starts[1:] + [len(self.lines)]))

    def markers(self, lo, hi, last_boot):
        def marker(rx):
            for i in range(lo, hi):
                m = re.search(rx, self.lines[i])
                if m:
                    return i, m
            return None, None

        i_ins, m_ins = marker(r"CKPT-VM-INSMOD (ok|FAILED.*)")
        i_rm, m_rm = marker(r"CKPT-VM-RMMOD (ok|FAILED.*)")
        i_mode, m_mode = marker(r"CKPT-VM-MODE rc=(\d+)")
        i_done, m_done = marker(r"CKPT-VM-DONE rc=(\d+)")
        explained = False
        if m_ins is None:
            if m_done is not None:
                self.fail("no CKPT-VM-INSMOD marker")
        elif m_ins.group(1) != "ok":
            self.fail(f"insmod ckpt.ko {m_ins.group(1)}", i_ins - 10, i_ins + 1)
            explained = True
        if m_mode is not None and m_mode.group(1) != "0":
            self.fail(f"guest mode script exited with status {m_mode.group(1)}",
                      i_mode - 10, i_mode + 1)
            explained = True
        if m_ins is not None and m_ins.group(1) == "ok":
            if m_rm is None:
                if m_done is not None:
                    self.fail("no CKPT-VM-RMMOD marker")
            elif m_rm.group(1) != "ok":
                self.fail(f"rmmod ckpt {m_rm.group(1)}", i_rm - 10, i_rm + 1)
                explained = True
        n = hi
        i_kx, m_kx = marker(r"CKPT-VM-KEXEC (FAILED.*)")
        if m_kx is not None:
            self.fail(f"kexec {m_kx.group(1)}", i_kx - 10, i_kx + 1)
        if m_done is None:
            if self.args.timed_out and last_boot:
                title = (f"VM timed out after {self.args.timed_out} s "
                         "(no CKPT-VM-DONE marker); last lines")
            else:
                title = ("no CKPT-VM-DONE marker: the guest crashed, hung or "
                         "was killed; last lines")
            self.fail(title, n - 25, n)
        elif m_done.group(1) != "0" and not explained:
            self.fail(f"CKPT-VM-DONE rc={m_done.group(1)}", i_done - 10, i_done + 1)
        elif self.args.timed_out and last_boot:
            self.fail(f"VM timed out after {self.args.timed_out} s", n - 10, n)

    def run(self):
        suites = self.kunit()
        insmod_ok = any(re.search(r"CKPT-VM-INSMOD ok", ln) for ln in self.lines)
        if (suites == 0 and insmod_ok and self.args.mode == "check"
                and not self.args.allow_no_kunit):
            self.fail("no KUnit suite ran at insmod (expected the module's "
                      "#[kunit_tests] suite)")
        self.programs()
        self.kernel_log()
        boots = self.boots()
        for k, (lo, hi) in enumerate(boots):
            self.kmemleak(lo, hi)
            self.markers(lo, hi, k == len(boots) - 1)
        if self.args.boots and len(boots) != self.args.boots:
            self.fail(f"{len(boots)} boot(s) of the guest, {self.args.boots} expected "
                      "(a kexec did not happen or did not boot)",
                      len(self.lines) - 25, len(self.lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log")
    ap.add_argument("--mode", default="check", choices=["check", "demo", "bench", "zdtm", "programs"])
    ap.add_argument("--timed-out", type=int, metavar="SECONDS", default=0)
    ap.add_argument("--allow-no-kunit", action="store_true")
    ap.add_argument("--boots", type=int, metavar="N", default=0,
                    help="the guest must boot N kernels (kexec), each judged like one boot")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    try:
        with open(args.log, "rb") as f:
            raw = f.read().decode("utf-8", "replace")
    except OSError as e:
        print(f"judge: {e}", file=sys.stderr)
        return 2
    lines = [ANSI.sub("", ln).replace("\r", "") for ln in raw.split("\n")]
    j = Judge(lines, args)
    j.run()

    if args.verbose:
        for what, p, f, s in j.tallies:
            print(f"  {what}: {p} passed, {f} failed, {s} skipped")
    for note in j.notes:
        print(f"note: {note}")
    for title, ctx in j.failures:
        print(f"FAIL: {title}")
        for no, text in ctx:
            print(f"  {no:6d} | {text}")
    print(f"{j.passed} passed, {j.failed} failed, {j.skipped} skipped")
    return 1 if j.failed else 0


if __name__ == "__main__":
    sys.exit(main())

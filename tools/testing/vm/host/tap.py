# SPDX-License-Identifier: GPL-2.0
"""TAP: the one stream make check prints (Tap), the guests' TAP files
(parse_tap), how a guest run went (guest_results, and the kernel splats in
its console, splats), the bytes the host checks in BAR2's file
(host_checks)."""
import glob
import json
import os
import re

from . import util

SPLAT = re.compile(
    r"(WARNING:|BUG:|Oops|general protection|KASAN|UBSAN|kmemleak|"
    r"possible circular locking|possible recursive locking|"
    r"inconsistent lock state|suspicious RCU usage|Call Trace:|"
    r"Kernel panic|INFO: task .* blocked|refcount_t:|list_(add|del) corruption|"
    r"ODEBUG:|DMAR: \[DMA (Read|Write)[^]]*\]|DMAR: DRHD: handling fault)")
# Kernel lines that match SPLAT but are no splat: the boot-time advisory
# Debian's 6.x print on an AMD Zen guest CPU (the rig uses -cpu EPYC), and
# the debug kernel's kmemleak saying it started.
NOT_SPLAT = re.compile(
    r"Speculative Return Stack Overflow: WARNING: See https://kernel.org/doc/"
    r"html/latest/admin-guide/hw-vuln/srso.html for mitigation options\.$|"
    r"kmemleak: Kernel memory leak detector initialized \(mem pool available: \d+\)$")


class Tap:
    def __init__(self):
        self.n = self.passed = self.failed = self.skipped = 0
        util.emit("TAP version 13")

    def result(self, ok, name, diag="", skip=None):
        self.n += 1
        if skip is not None:
            self.skipped += 1
            util.emit("ok %d - %s # SKIP %s" % (self.n, name, skip))
            return True
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        lines = ["%s %d - %s" % ("ok" if ok else "not ok", self.n, name)]
        if not ok and diag:
            lines += ["#   " + l for l in diag.rstrip().splitlines()[-40:]]
        util.emit(*lines)
        return ok

    def replay(self, rec):
        """Print what a Record took down, in its order."""
        for args in rec.results:
            self.result(*args)

    def finish(self):
        util.emit("1..%d" % self.n)
        line = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        util.emit(line)
        return 0 if self.failed == 0 and self.n > 0 else 1


class Record:
    """Takes results down as Tap.result does, to print later (a job that
    runs beside others, in a lane of its own: see check)."""

    def __init__(self):
        self.results = []
        self.passed = self.failed = self.skipped = 0

    def result(self, ok, name, diag="", skip=None):
        self.results.append((ok, name, diag, skip))
        if skip is not None:
            self.skipped += 1
            return True
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


def vmrun(share):
    """How the guest run went: qemu.py's summary in share/out/vmrun.json."""
    try:
        with open(os.path.join(share, "out", "vmrun.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"reached_userspace": False, "guest_rc": None, "timed_out": False, "splats": []}


def guest_results(tap, name, share, status, err):
    """TAP for how the guest run itself went, from vmrun's summary."""
    v = vmrun(share)
    tap.result(v["guest_rc"] == 0 and not v["timed_out"],
               "%s: guest booted and ran its script to the end" % name, err)
    tap.result(not v["splats"], "%s: no kernel splat (WARNING/BUG/lockdep/KASAN/Oops)" % name,
               "\n".join(v["splats"][:40]))


def pattern(length, seed):
    """The host twin of vd_pattern() in selftests/vfio-dmabuf/lib; seed 0
    stands for bytes never written (zeroes)."""
    if not seed:
        return bytes(length)
    x = seed
    out = bytearray(length)
    for i in range(length):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


def host_checks(share, shm):
    """Yield (ok, name, diag) for each check the guest asked the host for."""
    path = os.path.join(share, "out", "host-verify.txt")
    if not os.path.exists(path):
        return
    data = open(shm, "rb").read()
    for line in open(path):
        what, off, length, seed = line.split()
        off, length, seed = int(off, 16), int(length, 16), int(seed, 16)
        got = data[off:off + length]
        want = pattern(length, seed)
        if got == want:
            yield True, "host sees %s bytes (0x%x bytes at BAR2+0x%x)" % (what, length, off), ""
        else:
            bad = next(i for i in range(length) if i >= len(got) or got[i] != want[i])
            yield False, "host sees %s bytes (0x%x bytes at BAR2+0x%x)" % (what, length, off), \
                "first difference at +0x%x: file has %s, guest wrote %s" % (
                    bad, got[bad:bad + 8].hex(), want[bad:bad + 8].hex())


TAP_LINE = re.compile(r"^(not ok|ok)\s+\d+\s*-?\s*(.*?)(\s+#\s*(SKIP|skip)\b\s*(.*))?$")


def parse_tap(path):
    """Yield (ok, name, diag, skip) for a guest TAP file; a program that
    stopped before its plan was done, or exited non-zero with nothing failed,
    yields a failure too."""
    lines = open(path, errors="replace").read().splitlines()
    plan = None
    seen = 0
    any_fail = False
    diag = []
    results = []
    status = None
    for l in lines:
        m = re.match(r"^1\.\.(\d+)", l)
        if m:
            plan = int(m.group(1))
            continue
        m = re.match(r"^# exit status (\d+)", l)
        if m:
            status = int(m.group(1))
            continue
        m = TAP_LINE.match(l)
        if m:
            seen += 1
            ok = m.group(1) == "ok"
            any_fail |= not ok
            results.append((ok, m.group(2).strip(), "\n".join(diag),
                            m.group(5) if m.group(4) else None))
            diag = []
        elif l.startswith("#"):
            diag.append(l[1:].strip())
    for r in results:
        yield r
    if plan is not None and seen < plan:
        yield False, "all %d planned tests ran" % plan, "\n".join(lines[-30:]), None
    elif plan is None and status is not None:
        yield False, "printed a TAP plan", "\n".join(lines[-30:]), None
    elif status not in (None, 0) and not any_fail:
        yield False, "exit status 0", "exit status %d\n%s" % (status, "\n".join(lines[-30:])), None


def guest_taps(share):
    """Yield (prog, ok, name, diag, skip) for every result in the TAP files
    a guest left in share/out (NN-PROG.tap), in file order."""
    for path in sorted(glob.glob(os.path.join(share, "out", "*.tap"))):
        prog = os.path.basename(path)[3:-4]
        for r in parse_tap(path):
            yield (prog,) + r


# An IOMMU fault a test provokes on purpose (iommufd_p2p_test: a DMA into
# a revoked IOVA) is no splat, but only inside the window the test opens
# around that DMA in the kernel log, and only for the device it names: the
# fault report's two lines, its status line and the line naming the device.
# Anything else in the window, and a DMAR fault of any other device or
# outside a window, still counts. The marker lines are the test's writes to
# /dev/kmsg.
EXPECT_DMAR = re.compile(r"vfio-dmabuf: expect DMAR faults from (\S+)$")
EXPECT_DMAR_END = re.compile(r"vfio-dmabuf: end of expected DMAR faults$")


def expected_dmar(line, bdf):
    """A line of the fault report of @bdf (0000:00:0b.0; 7.x names it so,
    6.x without the domain)."""
    domain, dev = bdf.split(":", 1)
    return ("DMAR: DRHD: handling fault status reg" in line or
            re.search(r"DMAR: \[DMA (Read|Write)[^]]*\] Request device \[(%s:)?%s\] "
                      % (re.escape(domain), re.escape(dev)), line) is not None)


def splats(paths):
    found = []
    for path in paths:
        try:
            lines = open(path, errors="replace").read().splitlines()
        except OSError:
            continue
        window = None	# the device whose DMAR faults are expected now
        for i, l in enumerate(lines):
            m = EXPECT_DMAR.search(l)
            if m or EXPECT_DMAR_END.search(l):
                window = m and m.group(1)
                continue
            if SPLAT.search(l) and not NOT_SPLAT.search(l) and \
                    not (window and expected_dmar(l, window)):
                found.append("%s:%d: %s" % (os.path.basename(path), i + 1, l.strip()))
    return found

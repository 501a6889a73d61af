# SPDX-License-Identifier: GPL-2.0
"""The host half of the rig: build what the guests need, boot them, and turn
what they leave in the 9p share into TAP. Used by check.py and demo.py."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

VM = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(VM, "..", "..", ".."))
# What runs inside the VM: the initramfs's init, the scripts a share runs.
GUEST = os.path.join(VM, "guest")
# The host's scripts: fetch and build kernels, the initramfs, chroots.
HOST = os.path.join(VM, "host")
CACHE = os.environ.get("VD_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vfio-dmabuf")
SHM_SIZE = 16 << 20
# Lets two runs share the cache without sharing their work and run dirs,
# e.g. VD_RUN_SUFFIX=-b for a second make check beside the first.
RUN_SUFFIX = os.environ.get("VD_RUN_SUFFIX", "")
# The Debian kernels, fetched. make check runs DEBUG_TAG after them.
TAGS = ["6.1", "6.12", "7.x"]
# 6.12 built from Debian's source with lockdep,
# KASAN, kmemleak and debugobjects (build-debug-kernel.sh). A WARN or a KASAN
# report there panics (panic_on_warn): the run stops where it happened.
DEBUG_TAG = "dbg"
BOOT_APPEND = {DEBUG_TAG: "panic_on_warn=1"}
# Its guest runs several times slower than the Debian kernels' under TCG.
BOOT_TIMEOUT_SCALE = {DEBUG_TAG: 3}


def log(msg):
    print("# " + msg, flush=True)


def sh(cmd, **kw):
    """Run a command, return (rc, combined output)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    return p.returncode, p.stdout


def tag_file(tag, name):
    try:
        return open(os.path.join(CACHE, "k", tag, name)).read().strip()
    except OSError:
        return ""


def krel(tag):
    return tag_file(tag, "krel")


def label(tag):
    """6.12.95+deb12-amd64 -> 6.12: what the run is called in test names;
    the debug kernel is 6.12-dbg, apart from Debian's 6.12."""
    m = re.match(r"(\d+\.\d+)", krel(tag))
    if not m:
        return tag
    return m.group(1) + ("-" + tag if tag == DEBUG_TAG else "")


def ours(tag):
    """Our driver is under test on 6.x (dbg is a 6.12); 7.x runs mainline
    vfio-pci."""
    return tag.startswith("6.") or tag == DEBUG_TAG


def driver(tag):
    return "vfio-pci-dmabuf" if ours(tag) else "vfio-pci"


class Tap:
    def __init__(self):
        self.n = self.passed = self.failed = self.skipped = 0
        print("TAP version 13", flush=True)

    def result(self, ok, name, diag="", skip=None):
        self.n += 1
        if skip is not None:
            self.skipped += 1
            print("ok %d - %s # SKIP %s" % (self.n, name, skip), flush=True)
            return True
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, name), flush=True)
        if not ok and diag:
            for l in diag.rstrip().splitlines()[-40:]:
                print("#   " + l, flush=True)
        return ok

    def finish(self):
        print("1..%d" % self.n)
        line = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        print(line, flush=True)
        return 0 if self.failed == 0 and self.n > 0 else 1


def fetch(tags):
    # Passed on as it comes: building the debug kernel takes minutes, and
    # says how far it got every 30 s.
    p = subprocess.Popen([os.path.join(HOST, "fetch-kernels.sh")] + tags,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        log(line.rstrip("\n"))
    if p.wait():
        raise SystemExit("fetching kernels failed")
    for t in tags:
        log("%s: %s (Debian %s)" % (label(t), krel(t), tag_file(t, "version")))


def ksft_dir():
    rc, out = sh([os.path.join(HOST, "fetch-source.sh"), "6.12",
                  "tools/testing/selftests/kselftest_harness.h",
                  "tools/testing/selftests/kselftest.h"])
    if rc:
        sys.stderr.write(out)
        raise SystemExit("fetching linux-source failed")
    return os.path.join(out.strip().splitlines()[-1], "tools/testing/selftests")


def build_selftests():
    out = os.path.join(CACHE, "build", "selftests" + RUN_SUFFIX)
    rc, msg = sh(["make", "-s", "-C", os.path.join(TOP, "selftests", "vfio-dmabuf"),
                  "KSFT_DIR=" + ksft_dir(), "O=" + out])
    if rc == 0:
        # the command line tool, which cli_test drives; static, with rxe
        rc, msg2 = sh(["make", "-s", "-C", os.path.join(TOP, "tools", "vfio-dmabuf"),
                       "STATIC=1", "O=" + out])
        if rc:	# on success, only static glibc's warnings about getaddrinfo
            msg += msg2
    return rc == 0, msg, out


def build_module(tag, subdir="drivers/vfio/pci/dmabuf", name="vfio-pci-dmabuf"):
    """Build one of the project's modules against TAG's headers, in a private
    copy of the tree (kbuild of these kernels writes objects next to the
    sources). Returns (ok, log, path of the .ko)."""
    work = os.path.join(CACHE, "build", tag + RUN_SUFFIX)
    os.makedirs(work, exist_ok=True)
    for d in ("drivers", "include", "selftests"):
        sh(["rsync", "-a", "--delete", "--exclude", "*.o", "--exclude", "*.ko",
            os.path.join(TOP, d) + "/", os.path.join(work, d) + "/"])
    mdir = os.path.join(work, subdir)
    if tag_file(tag, "kdir"):
        rc, msg = sh(["make", "-C", tag_file(tag, "kdir"), "M=" + mdir, "modules"])
    else:
        # 7.x's kbuild needs sid's toolchain: build in a cached sid chroot.
        rc, msg = sh([os.path.join(HOST, "k7-build.sh"), mdir])
    ko = os.path.join(mdir, name + ".ko")
    if rc == 0:
        rc2, vm = sh(["modinfo", "-F", "vermagic", ko])
        if vm.split()[0] != krel(tag):
            return False, "vermagic %r does not match %s" % (vm.strip(), krel(tag)), ko
    return rc == 0, msg, ko


def dkms_build(tag):
    """`dkms build` of the tree `make dkms-src` stages, against TAG's
    headers, with DKMS's trees in the cache (the host's stay untouched).
    Returns (ok, log)."""
    top = os.path.join(CACHE, "dkms" + RUN_SUFFIX)
    shutil.rmtree(top, ignore_errors=True)
    ver = re.search(r'PACKAGE_VERSION="([^"]+)"',
                    open(os.path.join(TOP, "dkms.conf")).read()).group(1)
    src = os.path.join(top, "src", "vfio-pci-dmabuf-" + ver)
    rc, msg = sh(["make", "-s", "-C", TOP, "dkms-src", "DKMS_SRC=" + src])
    if rc:
        return False, msg
    for d in ("tree", "inst"):
        os.makedirs(os.path.join(top, d))
    cmd = ["dkms", "build", "vfio-pci-dmabuf/" + ver,
           "--dkmstree", os.path.join(top, "tree"), "--sourcetree", os.path.join(top, "src"),
           "--installtree", os.path.join(top, "inst"), "-k", krel(tag),
           "--kernelsourcedir", tag_file(tag, "kdir")]
    rc, msg = sh(cmd)
    ko = os.path.join(top, "tree", "vfio-pci-dmabuf", ver, krel(tag), "x86_64", "module",
                      "vfio-pci-dmabuf.ko")
    ok = rc == 0 and os.path.exists(ko)
    return ok, " ".join(cmd) + "\n" + msg


def build_importer(tag):
    return build_module(tag, "selftests/vfio-dmabuf/importer", "vd_test_importer")


def build_edu_p2p(tag):
    return build_module(tag, "drivers/p2p/edu", "edu-p2p")


def initramfs(tag):
    rc, out = sh([os.path.join(HOST, "mkinitramfs.sh"), tag])
    if rc:
        raise SystemExit("initramfs for %s failed:\n%s" % (tag, out))
    return out.strip().splitlines()[-1]


def prepare_share(tag, run_sh, bins, ko=None, env=None, importer=None, p2p=None):
    run = os.path.join(CACHE, "run", tag + RUN_SUFFIX)
    share = os.path.join(run, "share")
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(os.path.join(share, "out"))
    os.makedirs(os.path.join(share, "bin"))
    shutil.copy(run_sh, os.path.join(share, "run.sh"))
    shutil.copy(os.path.join(GUEST, "guest-lib.sh"), share)
    for b in bins:
        shutil.copy(b, os.path.join(share, "bin"))
    e = {"VD_DRIVER": driver(tag), "VD_KO": "", "VD_IMPORTER_KO": "", "VD_P2P_KO": ""}
    if p2p:
        shutil.copy(p2p, share)
        e["VD_P2P_KO"] = os.path.basename(p2p)
    if ko:
        shutil.copy(ko, share)
        e["VD_KO"] = os.path.basename(ko)
    if importer:
        shutil.copy(importer, share)
        e["VD_IMPORTER_KO"] = os.path.basename(importer)
    e.update(env or {})
    with open(os.path.join(share, "env"), "w") as f:
        for k, v in e.items():
            f.write("%s='%s'\n" % (k, v))
    shm = os.path.join(run, "ivshmem.bin")
    with open(shm, "wb") as f:
        f.truncate(SHM_SIZE)
    return run, share, shm


def boot(tag, run, share, shm, timeout=900, verbose=False, append=""):
    """Boot TAG with the share; return (status, stderr text, seconds)."""
    t0 = time.time()
    append = (BOOT_APPEND.get(tag, "") + " " + append).strip()
    timeout *= BOOT_TIMEOUT_SCALE.get(tag, 1)
    cmd = [sys.executable, os.path.join(VM, "vmrun.py"),
           "--kernel", os.path.join(CACHE, "k", tag, "vmlinux"),
           "--initrd", initramfs(tag), "--share", share, "--shm", shm,
           "--shm-size", str(SHM_SIZE), "--log", os.path.join(run, "console.log"),
           "--timeout", str(timeout), "--append", append]
    if verbose:
        cmd.append("--verbose")
        p = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    else:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stderr, time.time() - t0


def guest_results(tap, name, share, status, err):
    """TAP for how the guest run itself went, from vmrun's summary."""
    try:
        with open(os.path.join(share, "out", "vmrun.json")) as f:
            v = json.load(f)
    except (OSError, ValueError):
        v = {"reached_userspace": False, "guest_rc": None, "timed_out": False, "splats": []}
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


class DocTable:
    """A table in docs/ generated from what the guests recorded: one row per
    string its test file passes first to one of @calls, or names as a variant's
    .input, in source order; one column
    for our driver and one for mainline."""

    def __init__(self, name, doc, source, calls, rows_file, first_col):
        self.name, self.doc, self.rows_file, self.first_col = name, doc, rows_file, first_col
        self.begin = "<!-- %s: generated by make check from the kernels' answers -->" % name
        self.end = "<!-- %s: end -->" % name
        src = open(os.path.join(TOP, "selftests", "vfio-dmabuf", source)).read()
        # a call's first string argument, or a table variant's .input
        order = re.findall(r'(?:(?:%s)\([^"();]*|\.input = )"([^"]+)"' % "|".join(calls), src)
        self.order = list(dict.fromkeys(order))

    def rows(self, share):
        rows = {}
        try:
            for line in open(os.path.join(share, "out", self.rows_file)):
                key, _, val = line.rstrip("\n").partition("\t")
                rows[key] = val
        except OSError:
            pass
        return rows

    def render(self, ours, ours_label, mainline, mainline_label):
        lines = [self.begin,
                 "| %s | ours (%s) | mainline (%s) |" % (self.first_col, ours_label, mainline_label),
                 "|---|---|---|"]
        for key in self.order:
            a, b = ours.get(key, "not run"), mainline.get(key, "not run")
            lines.append("| %s | %s | %s%s |" % (key, a, b, "" if a == b else " **differs**"))
        lines.append(self.end)
        return "\n".join(lines) + "\n"

    def check(self, table, update):
        """(ok, message): compare with the doc, rewriting it when @update."""
        path = os.path.join(TOP, "docs", self.doc)
        text = open(path).read()
        head, _, rest = text.partition(self.begin)
        _, _, tail = rest.partition(self.end)
        current = text[len(head):len(text) - len(tail)] + "\n"
        if current == table:
            return True, ""
        if update:
            open(path, "w").write(head + table + tail.lstrip("\n"))
            log("rewrote the table in %s" % path)
            return True, ""
        return False, "run tools/testing/vm/check.py --update-docs; measured:\n" + table


DOC_TABLES = [
    DocTable("errno-table", "errno-table.md", "dmabuf_export_test.c",
             ["expect_export", "vd_errno_row"], "errno-table.txt", "input"),
    DocTable("trigger-table", "revoke-triggers.md", "dmabuf_revoke_test.c",
             ["EXPECT_TRIGGER", "vd_trigger_row"], "trigger-table.txt", "trigger"),
]

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make check: build the module and the selftests, boot every guest kernel,
run the selftests there, and print one TAP stream ending in
'N passed, N failed'. Exit status 0 only when nothing failed.

usage: check.py [-k TAG[,TAG]] [-v] [--only PROG:FIXTURE.TEST ...]
TAG: 6.1, 6.12, 7.x, dbg (default: all). dbg is the lockdep+KASAN+kmemleak
6.12 built from Debian's source. --only runs just those tests (each its own
process, in one boot), e.g. to replay one on the kernel where it failed."""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

import rig


def check_doc_tables(tap, shares, update):
    """The generated tables in docs/ are what the kernels answered."""
    if not set(rig.TAGS) <= set(shares):
        rig.log("docs/ tables are compared on a run of every Debian kernel only")
        return
    ours = [t for t in rig.TAGS if rig.ours(t)]
    main = [t for t in rig.TAGS if not rig.ours(t)]
    # the debug kernel must answer as Debian's do; the table shows Debian's
    also = [t for t in shares if rig.ours(t) and t not in ours]
    for dt in rig.DOC_TABLES:
        rows = {t: dt.rows(shares[t]) for t in shares}
        for t in ours[1:] + also:
            tap.result(rows[t] == rows[ours[0]], "%s and %s alike in docs/%s" % (
                rig.label(ours[0]), rig.label(t), dt.doc), "%s\n%s" % (rows[ours[0]], rows[t]))
        table = dt.render(rows[ours[0]], ", ".join(rig.label(t) for t in ours),
                          rows[main[0]], rig.label(main[0]))
        ok, msg = dt.check(table, update)
        tap.result(ok, "docs/%s matches what the kernels answered" % dt.doc, msg)


def check_packages(tap):
    """make deb, then the packages installed as the README says in fresh
    Debian 13 and 12 chroots, with kernels added under them (pkg-test.sh);
    what the tool and make dkms-src do on the host."""
    out = os.path.join(rig.CACHE, "build", "deb" + rig.RUN_SUFFIX)
    rc, msg = rig.sh(["make", "-s", "-C", rig.TOP, "deb", "DEB_OUT=" + out])
    debs = sorted(glob.glob(os.path.join(out, "vfio-*_*.deb")))
    debs = [d for d in debs if "dbgsym" not in d]
    if not tap.result(rc == 0 and len(debs) == 2,
                      "make deb: vfio-pci-dmabuf-dkms and vfio-dmabuf-tools", msg):
        return
    for suite in ("trixie", "bookworm"):
        t0 = time.time()
        p = subprocess.run([os.path.join(rig.HOST, "pkg-test.sh"), suite] + debs,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        tapfile = os.path.join(out, "pkg-%s.tap" % suite)
        with open(tapfile, "w") as f:
            f.write(p.stdout + "# exit status %d\n" % p.returncode)
        for ok, test, diag, skip in rig.parse_tap(tapfile):
            tap.result(ok, "packages: " + test, diag or p.stderr[-3000:], skip)
        rig.log("packages: %s took %.0fs" % (suite, time.time() - t0))
    host_tool_checks(tap, out)


def host_tool_checks(tap, out):
    """The command line tool's words for a driver that will not load, and
    make dkms-src staging sources only, on the host (nothing is changed)."""
    tool = os.path.join(out, "host-tool")
    rc, msg = rig.sh(["make", "-s", "-C", os.path.join(rig.TOP, "tools", "vfio-dmabuf"),
                      "O=" + tool])
    if not tap.result(rc == 0, "host: build vfio-dmabuf", msg):
        return
    fake = os.path.join(out, "fake-modprobe")
    os.makedirs(fake, exist_ok=True)
    bdf = sorted(os.listdir("/sys/bus/pci/devices"))[0]
    for what, said, want in (
            ("a Secure Boot refusal", "modprobe: ERROR: could not insert 'vfio_pci_dmabuf': "
             "Key was rejected by service", "mokutil --import /var/lib/dkms/mok.pub"),
            ("a module not built for this kernel", "modprobe: FATAL: Module vfio-pci-dmabuf "
             "not found in directory /lib/modules/x", "install the vfio-pci-dmabuf-dkms package")):
        with open(os.path.join(fake, "modprobe"), "w") as f:
            f.write("#!/bin/sh\necho \"%s\" >&2\nexit 1\n" % said)
        os.chmod(os.path.join(fake, "modprobe"), 0o755)
        if os.path.exists("/sys/bus/pci/drivers/vfio-pci-dmabuf"):
            tap.result(True, "host: vfio-dmabuf bind explains %s" % what,
                       skip="vfio-pci-dmabuf is loaded on this host")
            continue
        rc, msg = rig.sh([os.path.join(tool, "vfio-dmabuf"), "bind", bdf],
                         env=dict(os.environ, PATH=fake + ":" + os.environ["PATH"]))
        tap.result(rc == 1 and want in msg, "host: vfio-dmabuf bind explains %s" % what, msg)
    # an in-tree build's leftovers must not reach /usr/src
    tree = os.path.join(out, "tree")
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(rig.TOP, tree, ignore=shutil.ignore_patterns(".git", "build"))
    mdir = os.path.join(tree, "drivers", "vfio", "pci", "dmabuf")
    for junk in ("Module.symvers", "modules.order", "main.o", "vfio-pci-dmabuf.ko",
                 "compat_probed.h", ".main.o.cmd"):
        open(os.path.join(mdir, junk), "w").close()
    src = os.path.join(out, "dkms-src")
    rc, msg = rig.sh(["make", "-s", "-C", tree, "dkms-src", "DKMS_SRC=" + src])
    staged = sorted(os.path.relpath(os.path.join(d, f), src)
                    for d, _, fs in os.walk(src) for f in fs)
    bad = [f for f in staged if re.search(r"\.(o|ko|cmd)$|symvers|modules\.order|compat_probed",
                                          f)]
    tap.result(rc == 0 and not bad and "dkms.conf" in staged,
               "host: make dkms-src stages sources only", msg + "\n".join(staged))


def run_kernel(tap, tag, bins, verbose, only=()):
    name = rig.label(tag)
    ko = None
    if rig.ours(tag):
        ok, msg, ko = rig.build_module(tag)
        if not tap.result(ok, "%s: build vfio-pci-dmabuf.ko against %s" % (name, rig.krel(tag)), msg):
            return None
        ok, msg = rig.dkms_build(tag)
        tap.result(ok, "%s: dkms build against %s" % (name, rig.krel(tag)), msg)
    else:
        # vfio-pci has the feature: our build must stop and say so
        ok, msg, ko = rig.build_module(tag)
        ko = None
        tap.result(not ok and "already exports BARs as dma-bufs" in msg,
                   "%s: vfio-pci-dmabuf refuses to build, naming vfio-pci's own export" % name,
                   msg)
    ok, msg, importer = rig.build_importer(tag)
    if not tap.result(ok, "%s: build vd_test_importer.ko" % name, msg):
        return None
    ok, msg, p2p = rig.build_edu_p2p(tag)
    if not tap.result(ok, "%s: build edu-p2p.ko" % name, msg):
        return None
    # VD_FUZZ_SEED / _ITER / _COUNT / _SECS replay or resize the uAPI fuzz
    env = {k: v for k, v in os.environ.items() if k.startswith("VD_FUZZ_")}
    if only:
        env["VD_ONLY"] = " ".join(only)
    run, share, shm = rig.prepare_share(tag, os.path.join(rig.GUEST, "guest-run.sh"), bins, ko,
                                        env=env, importer=importer, p2p=p2p)
    status, err, secs = rig.boot(tag, run, share, shm, verbose=verbose)
    rig.log("%s: guest ran %.0fs, status %d (console: %s)" % (
        name, secs, status, os.path.join(run, "console.log")))
    for path in sorted(glob.glob(os.path.join(share, "out", "*.tap"))):
        prog = os.path.basename(path)[3:-4]
        for ok, test, diag, skip in rig.parse_tap(path):
            tap.result(ok, "%s: %s: %s" % (name, prog, test), diag, skip)
    for ok, test, diag in rig.host_checks(share, shm):
        tap.result(ok, "%s: %s" % (name, test), diag)
    rig.guest_results(tap, name, share, status, err)
    return share


def config_notes(tag):
    """The kernel options that change what the suite exercises."""
    try:
        cfg = open(os.path.join(rig.CACHE, "k", tag, "config")).read()
    except OSError:
        return "?"
    notes = []
    for opt in ("DMABUF_MOVE_NOTIFY", "PCI_P2PDMA", "IOMMUFD", "VFIO_PCI_DMABUF",
                "PROVE_LOCKING", "KASAN", "FAULT_INJECTION"):
        on = re.search(r"^CONFIG_%s=[ym]" % opt, cfg, re.M) is not None
        if on or opt in ("DMABUF_MOVE_NOTIFY", "PCI_P2PDMA", "IOMMUFD"):
            notes.append("%s=%s" % (opt, "y" if on else "n"))
    return " ".join(notes)


def summary(rows):
    """One table at the end: which kernel ran what, and how it went."""
    rig.log("summary:")
    rig.log("%-9s %-28s %-66s %6s %6s %7s %6s" % (
        "kernel", "package", "config", "passed", "failed", "skipped", "wall"))
    for r in rows:
        rig.log("%-9s %-28s %-66s %6d %6d %7d %5.0fs" % r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--kernels", default=",".join(rig.TAGS + [rig.DEBUG_TAG]))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--update-docs", action="store_true",
                    help="rewrite generated tables in docs/ from this run")
    ap.add_argument("--only", nargs="+", default=[], metavar="PROG:FIXTURE.TEST",
                    help="run only these tests (no docs tables, no demo, no packages)")
    ap.add_argument("--no-packages", action="store_true",
                    help="skip the Debian package tests (make deb, the chroots)")
    a = ap.parse_args()
    tags = [t for t in a.kernels.split(",") if t]
    t0 = time.time()
    tap = rig.Tap()
    rig.fetch(tags)
    rc, msg = rig.sh([os.path.join(rig.HOST, "checkpatch.sh")])
    tap.result(rc == 0, "checkpatch --strict: drivers/ include/", msg)
    ok, msg, out = rig.build_selftests()
    rows = []
    if tap.result(ok, "build selftests", msg):
        bins = sorted(glob.glob(os.path.join(out, "*_test"))) + [
            os.path.join(out, "vfio-dmabuf")]
        shares = {}
        for tag in tags:
            before = (tap.passed, tap.failed, tap.skipped, time.time())
            share = run_kernel(tap, tag, bins, a.verbose, a.only)
            if share:
                shares[tag] = share
            rows.append((rig.label(tag), rig.tag_file(tag, "version"), config_notes(tag),
                         tap.passed - before[0], tap.failed - before[1],
                         tap.skipped - before[2], time.time() - before[3]))
        if not a.only:
            check_doc_tables(tap, shares, a.update_docs)
    if not a.only and not a.no_packages:
        check_packages(tap)
    if "6.12" in tags and not a.only:
        # the main job, as a user runs it: make demo
        # in run dirs of its own: the suite's shares stay for a post-mortem
        rc, msg = rig.sh([os.path.join(rig.VM, "demo.py")],
                         env=dict(os.environ, VD_RUN_SUFFIX=rig.RUN_SUFFIX + "-demo"))
        tap.result(rc == 0 and "demo OK" in msg, "make demo: export, peer-to-peer DMA, "
                   "revoke and re-grant, checked on the host", msg)
    if rows:
        summary(rows)
    rig.log("wall time %.0fs" % (time.time() - t0))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())

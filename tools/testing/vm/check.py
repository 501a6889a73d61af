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
import sys
import time

from host import build, config, docs, packages, qemu, util
from host.tap import Tap, guest_results, host_checks, parse_tap


def run_kernel(tap, tag, bins, verbose, only=()):
    name = config.label(tag)
    ko = None
    if config.ours(tag):
        ok, msg, ko = build.build_module(tag)
        if not tap.result(ok, "%s: build vfio-pci-dmabuf.ko against %s" % (name, config.krel(tag)), msg):
            return None
        ok, msg = build.dkms_build(tag)
        tap.result(ok, "%s: dkms build against %s" % (name, config.krel(tag)), msg)
    else:
        # vfio-pci has the feature: our build must stop and say so
        ok, msg, ko = build.build_module(tag)
        ko = None
        tap.result(not ok and "already exports BARs as dma-bufs" in msg,
                   "%s: vfio-pci-dmabuf refuses to build, naming vfio-pci's own export" % name,
                   msg)
    ok, msg, importer = build.build_importer(tag)
    if not tap.result(ok, "%s: build vd_test_importer.ko" % name, msg):
        return None
    ok, msg, p2p = build.build_edu_p2p(tag)
    if not tap.result(ok, "%s: build edu-p2p.ko" % name, msg):
        return None
    # VD_FUZZ_SEED / _ITER / _COUNT / _SECS replay or resize the uAPI fuzz
    env = {k: v for k, v in os.environ.items() if k.startswith("VD_FUZZ_")}
    if only:
        env["VD_ONLY"] = " ".join(only)
    run, share, shm = qemu.prepare_share(tag, os.path.join(config.GUEST, "guest-run.sh"), bins, ko,
                                        env=env, importer=importer, p2p=p2p)
    status, err, secs = qemu.boot(tag, run, share, shm, verbose=verbose)
    util.log("%s: guest ran %.0fs, status %d (console: %s)" % (
        name, secs, status, os.path.join(run, "console.log")))
    for path in sorted(glob.glob(os.path.join(share, "out", "*.tap"))):
        prog = os.path.basename(path)[3:-4]
        for ok, test, diag, skip in parse_tap(path):
            tap.result(ok, "%s: %s: %s" % (name, prog, test), diag, skip)
    for ok, test, diag in host_checks(share, shm):
        tap.result(ok, "%s: %s" % (name, test), diag)
    guest_results(tap, name, share, status, err)
    return share


def config_notes(tag):
    """The kernel options that change what the suite exercises."""
    try:
        cfg = open(os.path.join(config.CACHE, "k", tag, "config")).read()
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
    util.log("summary:")
    util.log("%-9s %-28s %-66s %6s %6s %7s %6s" % (
        "kernel", "package", "config", "passed", "failed", "skipped", "wall"))
    for r in rows:
        util.log("%-9s %-28s %-66s %6d %6d %7d %5.0fs" % r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--kernels", default=",".join(config.TAGS + [config.DEBUG_TAG]))
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
    tap = Tap()
    build.fetch(tags)
    rc, msg = util.sh([os.path.join(config.HOST, "checkpatch.sh")])
    tap.result(rc == 0, "checkpatch --strict: drivers/ include/", msg)
    ok, msg, out = build.build_selftests()
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
            rows.append((config.label(tag), config.tag_file(tag, "version"), config_notes(tag),
                         tap.passed - before[0], tap.failed - before[1],
                         tap.skipped - before[2], time.time() - before[3]))
        if not a.only:
            docs.check_doc_tables(tap, shares, a.update_docs)
    if not a.only and not a.no_packages:
        packages.check_packages(tap)
    if "6.12" in tags and not a.only:
        # the main job, as a user runs it: make demo
        # in run dirs of its own: the suite's shares stay for a post-mortem
        rc, msg = util.sh([os.path.join(config.VM, "demo.py")],
                         env=dict(os.environ, VD_RUN_SUFFIX=config.RUN_SUFFIX + "-demo"))
        tap.result(rc == 0 and "demo OK" in msg, "make demo: export, peer-to-peer DMA, "
                   "revoke and re-grant, checked on the host", msg)
    if rows:
        summary(rows)
    util.log("wall time %.0fs" % (time.time() - t0))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())

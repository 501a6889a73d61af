#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make check: build the module and the selftests, boot every guest kernel,
run the selftests there, and print one TAP stream ending in
'N passed, N failed'. Exit status 0 only when nothing failed.

usage: check.py [-k TAG[,TAG]] [-v]     TAG: 6.1, 6.12, 7.x (default: all)"""
import argparse
import glob
import os
import sys
import time

import rig


def run_kernel(tap, tag, bins, verbose):
    name = rig.label(tag)
    ko = None
    if rig.ours(tag):
        ok, msg, ko = rig.build_module(tag)
        if not tap.result(ok, "%s: build vfio-pci-dmabuf.ko against %s" % (name, rig.krel(tag)), msg):
            return
    run, share, shm = rig.prepare_share(tag, os.path.join(rig.VM, "guest-run.sh"), bins, ko)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--kernels", default=",".join(rig.TAGS))
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    tags = [t for t in a.kernels.split(",") if t]
    t0 = time.time()
    tap = rig.Tap()
    rig.fetch(tags)
    rc, msg = rig.sh([os.path.join(rig.VM, "checkpatch.sh")])
    tap.result(rc == 0, "checkpatch --strict: drivers/ include/", msg)
    ok, msg, out = rig.build_selftests()
    if tap.result(ok, "build selftests", msg):
        bins = sorted(glob.glob(os.path.join(out, "*_test")))
        for tag in tags:
            run_kernel(tap, tag, bins, a.verbose)
    rig.log("wall time %.0fs" % (time.time() - t0))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())

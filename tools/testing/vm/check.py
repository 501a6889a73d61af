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


def check_errno_table(tap, shares, update):
    """The table in docs/errno-table.md is what the kernels answered."""
    ours = [t for t in shares if rig.ours(t)]
    main = [t for t in shares if not rig.ours(t)]
    if not ours or not main:
        return
    rows = {t: rig.errno_rows(shares[t]) for t in shares}
    for t in ours[1:]:
        tap.result(rows[t] == rows[ours[0]], "%s and %s answer every bad input alike" % (
            rig.label(ours[0]), rig.label(t)), "%s\n%s" % (rows[ours[0]], rows[t]))
    table = rig.errno_table(rows[ours[0]], ", ".join(rig.label(t) for t in ours),
                            rows[main[0]], rig.label(main[0]))
    doc = os.path.join(rig.TOP, "docs", "errno-table.md")
    text = open(doc).read()
    head, sep, rest = text.partition(rig.ERRNO_BEGIN)
    _, sep2, tail = rest.partition(rig.ERRNO_END)
    current = sep + rest[:len(rest) - len(tail) - len(sep2)] + sep2 + "\n"
    if update and current != table:
        open(doc, "w").write(head + table + tail.lstrip("\n"))
        rig.log("rewrote the table in %s" % doc)
        current = table
    tap.result(current == table, "docs/errno-table.md matches what the kernels answered",
               "run tools/testing/vm/check.py --update-docs; measured:\n" + table)


def run_kernel(tap, tag, bins, verbose):
    name = rig.label(tag)
    ko = importer = None
    if rig.ours(tag):
        ok, msg, ko = rig.build_module(tag)
        if not tap.result(ok, "%s: build vfio-pci-dmabuf.ko against %s" % (name, rig.krel(tag)), msg):
            return None
        ok, msg, importer = rig.build_importer(tag)
        if not tap.result(ok, "%s: build vd_test_importer.ko" % name, msg):
            return None
    run, share, shm = rig.prepare_share(tag, os.path.join(rig.VM, "guest-run.sh"), bins, ko,
                                        importer=importer)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--kernels", default=",".join(rig.TAGS))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--update-docs", action="store_true",
                    help="rewrite generated tables in docs/ from this run")
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
        shares = {}
        for tag in tags:
            share = run_kernel(tap, tag, bins, a.verbose)
            if share:
                shares[tag] = share
        check_errno_table(tap, shares, a.update_docs)
    rig.log("wall time %.0fs" % (time.time() - t0))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())

# SPDX-License-Identifier: GPL-2.0
"""Mainline's VFIO selftests as a guard of "behaves like vfio-pci": a boot
of a 6.x kernel on the vfio-selftests machine (host/qemu.py) that runs
the suite (build-vfio-selftests.sh) with the devices bound to vfio-pci,
then to ours (guest/vfio-selftests-guest.sh), and a comparison of the two
case by case. A case whose result differs fails the run; a case that
fails on both drivers is reported as a skip with the reason it fails
(BOTH_FAIL), and fails the run when no reason is known."""
import glob
import os
import re

from . import build, config, qemu, util
from .tap import guest_results, guest_taps, parse_tap

NAME = "vfio-selftests"
# Where the results of both drivers are the same failure, why: (pattern
# over "PROG@DEVICE[@MODE]: CASE", whether it explains the failure on a
# kernel (tag), why). The first match is the reason; a failure on both
# that none explains fails the run.
BOTH_FAIL = [
    (r"iommufd", lambda t: "IOMMUFD" not in config.kconfig_on(t),
     "the kernel has no IOMMUFD (/dev/iommu)"),
    (r"^vfio_iommufd_setup_test@", lambda t: "VFIO_DEVICE_CDEV" not in config.kconfig_on(t),
     "the kernel has no VFIO device cdev (/dev/vfio/devices)"),
    # 7.3's type1 answers EOVERFLOW there, Debian's 6.12 source has none
    (r": vfio_dma_map_limit_test\.vfio_type1v?2?_iommu\.overflow$",
     lambda t: config.krel(t).startswith("6."),
     "6.x's vfio_iommu_type1 answers a map or unmap past the end of the IOVA space "
     "with EINVAL, not 7.x's EOVERFLOW"),
]


def source_version():
    """Debian's version of the linux-source the suite is built from."""
    try:
        return open(os.path.join(config.CACHE, "src", "src7", "version")).read().strip()
    except OSError:
        return "?"


def results(share, drv):
    """{"PROG@DEVICE[@MODE]: CASE": (outcome, diag)} for one driver's run;
    outcome "pass", "fail" or "skip: WHY"."""
    out = {}
    for path in sorted(glob.glob(os.path.join(share, "out", NAME, drv, "*.tap"))):
        run = os.path.basename(path)[:-4]
        text = open(path, errors="replace").read()
        m = re.search(r"^# exit status (\d+)", text, re.M)
        if m and m.group(1) == "4" and not re.search(r"^(not )?ok ", text, re.M):
            # the program skipped as a whole: no device driver, no SR-IOV
            why = re.search(r"# SKIP (.*)", text) or re.search(r"^(.+)$", text, re.M)
            out[run + ": (whole program)"] = ("skip: " + why.group(1).strip(), text)
            continue
        for ok, case, diag, skip in parse_tap(path):
            # the harness names each case PROG.VARIANT.TEST or FIXTURE.TEST
            key = "%s: %s" % (run, case)
            if skip is not None:
                out[key] = ("skip: " + skip.strip(), diag)
            else:
                out[key] = ("pass" if ok else "fail", diag)
    return out


def both_fail_reason(tag, key):
    for pat, explains, why in BOTH_FAIL:
        if re.search(pat, key) and explains(tag):
            return why
    return None


def compare(tap, name, tag, ref, ours):
    """One TAP result per case; returns {run: (pass, skip, fail, differ)}."""
    counts = {}
    for key in sorted(set(ref) | set(ours)):
        a, da = ref.get(key, ("not run", ""))
        b, db = ours.get(key, ("not run", ""))
        run = key.split(": ", 1)[0]
        c = counts.setdefault(run, [0, 0, 0, 0])
        label = "%s: %s: %s" % (name, NAME, key)
        # a skip too: its reason is what the driver answered (no reset,
        # no MSI-X...)
        if a != b:
            c[3] += 1
            tap.result(False, label + " (vfio-pci and ours differ)",
                       "vfio-pci: %s\n%s\nours: %s\n%s" % (a, da, b, db))
        elif a == "pass":
            c[0] += 1
            tap.result(True, label)
        elif a.startswith("skip"):
            c[1] += 1
            tap.result(True, label, skip="on both drivers: " + a[len("skip: "):])
        else:
            why = both_fail_reason(tag, key)
            if why:
                c[2] += 1
                tap.result(True, label, skip="fails on vfio-pci and ours alike: " + why)
            else:
                c[3] += 1
                tap.result(False, label + " (fails on both drivers, for no known reason)",
                           "vfio-pci:\n%s\nours:\n%s" % (da, db))
    return counts


def run(tap, tag, ko, verbose):
    """Returns {run: [pass, skip, fail, differ]} for the docs table, or
    None when the suite did not run."""
    name = config.label(tag)
    ok, msg, bindir = build.build_vfio_selftests()
    if not tap.result(ok, "%s: build mainline's VFIO selftests (Debian's linux-source %s) "
                      "with selftests/mainline-vfio/" % (name, source_version()), msg):
        return None
    bins = sorted(glob.glob(os.path.join(bindir, "*_test")))
    run_dir, share, shm = qemu.prepare_share(
        tag, os.path.join(config.GUEST, "vfio-selftests-guest.sh"), bins, ko,
        name=tag + "-" + NAME)
    status, err, secs = qemu.boot(tag, run_dir, share, shm, timeout=900, verbose=verbose,
                                  machine=NAME)
    util.log("%s-%s: guest ran %.0fs, status %d (console: %s)" % (
        name, NAME, secs, status, os.path.join(run_dir, "console.log")))
    for prog, ok, test, diag, skip in guest_taps(share):
        tap.result(ok, "%s: %s: %s" % (name, NAME, test), diag, skip)
    ref = results(share, "vfio-pci")
    ours = results(share, config.driver(tag))
    tap.result(bool(ref) and bool(ours), "%s: %s: both drivers ran the suite (%d and %d "
               "cases)" % (name, NAME, len(ref), len(ours)), "nothing ran: see the console")
    counts = compare(tap, name, tag, ref, ours)
    guest_results(tap, "%s: %s" % (name, NAME), share, status, err)
    return counts

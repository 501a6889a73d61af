# SPDX-License-Identifier: GPL-2.0
"""make check's package tests: make deb, the packages installed in fresh
Debian chroots (host/pkg-test.sh), and what the command line tool,
make dkms-src and check-host do on the host."""
import glob
import os
import re
import shutil
import subprocess
import time

from . import config, util
from .tap import parse_tap


def check_packages(tap):
    """make deb, then the packages installed as the README says in fresh
    Debian 13 and 12 chroots, with kernels added under them (pkg-test.sh);
    what the tool and make dkms-src do on the host."""
    out = os.path.join(config.CACHE, "build", "deb" + config.RUN_SUFFIX)
    rc, msg = util.sh(["make", "-s", "-C", config.TOP, "deb", "DEB_OUT=" + out])
    debs = sorted(glob.glob(os.path.join(out, "vfio-*_*.deb")))
    debs = [d for d in debs if "dbgsym" not in d]
    if not tap.result(rc == 0 and len(debs) == 2,
                      "make deb: vfio-pci-dmabuf-dkms and vfio-dmabuf-tools", msg):
        return
    for suite in ("trixie", "bookworm"):
        t0 = time.time()
        p = subprocess.run([os.path.join(config.HOST, "pkg-test.sh"), suite] + debs,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        tapfile = os.path.join(out, "pkg-%s.tap" % suite)
        with open(tapfile, "w") as f:
            f.write(p.stdout + "# exit status %d\n" % p.returncode)
        for ok, test, diag, skip in parse_tap(tapfile):
            tap.result(ok, "packages: " + test, diag or p.stderr[-3000:], skip)
        util.log("packages: %s took %.0fs" % (suite, time.time() - t0))
    host_tool_checks(tap, out)


def host_tool_checks(tap, out):
    """The command line tool's words for a driver that will not load, and
    make dkms-src staging sources only, on the host (nothing is changed)."""
    tool = os.path.join(out, "host-tool")
    rc, msg = util.sh(["make", "-s", "-C", os.path.join(config.TOP, "tools", "vfio-dmabuf"),
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
        rc, msg = util.sh([os.path.join(tool, "vfio-dmabuf"), "bind", bdf],
                         env=dict(os.environ, PATH=fake + ":" + os.environ["PATH"]))
        tap.result(rc == 1 and want in msg, "host: vfio-dmabuf bind explains %s" % what, msg)
    # an in-tree build's leftovers must not reach /usr/src
    tree = os.path.join(out, "tree")
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(config.TOP, tree, ignore=shutil.ignore_patterns(".git", "build"))
    mdir = os.path.join(tree, "drivers", "vfio", "pci", "dmabuf")
    for junk in ("Module.symvers", "modules.order", "main.o", "vfio-pci-dmabuf.ko",
                 "compat_probed.h", ".main.o.cmd"):
        open(os.path.join(mdir, junk), "w").close()
    src = os.path.join(out, "dkms-src")
    rc, msg = util.sh(["make", "-s", "-C", tree, "dkms-src", "DKMS_SRC=" + src])
    staged = sorted(os.path.relpath(os.path.join(d, f), src)
                    for d, _, fs in os.walk(src) for f in fs)
    bad = [f for f in staged if re.search(r"\.(o|ko|cmd)$|symvers|modules\.order|compat_probed",
                                          f)]
    tap.result(rc == 0 and not bad and "dkms.conf" in staged,
               "host: make dkms-src stages sources only", msg + "\n".join(staged))


def check_host_refusals(tap):
    """make check-host on this (build) host, which has no device bound to a
    VFIO driver: it refuses, saying why, and leaves every device as it was."""
    cmd = os.path.join(config.VM, "check-host")
    devs = "/sys/bus/pci/devices"
    before = {b: util.pci_driver(b) for b in os.listdir(devs)}
    bound = sorted(b for b, d in before.items() if d and not d.startswith("vfio"))
    cases = [([], "name the device: make check-host BDF="),
             (["0000:ff:1f.7"], "no PCI device 0000:ff:1f.7")]
    if bound:
        cases.append(([bound[0]], "is bound to %s, not to vfio-pci-dmabuf or vfio-pci: "
                       "bind it first" % before[bound[0]]))
    for args, want in cases:
        rc, msg = util.sh([cmd] + args)
        tap.result(rc == 2 and want in msg,
                   "host: check-host %s refuses: %s" % (" ".join(args) or "(no BDF)", want),
                   "exit %d\n%s" % (rc, msg))
    after = {b: util.pci_driver(b) for b in os.listdir(devs)}
    tap.result(after == before, "host: check-host left every device bound as it was",
               "before %s\nafter %s" % (before, after))

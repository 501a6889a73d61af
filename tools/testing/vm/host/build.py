# SPDX-License-Identifier: GPL-2.0
"""What the guests need, fetched or built on the host: the kernels, the
project's modules against each kernel's headers (DKMS too), the test
programs, the initramfs."""
import os
import re
import shutil
import subprocess
import sys

from . import config, util

# The module prove-splat builds, beside it (not a selftest: it fails any
# run it is loaded in).
SPLAT = os.path.relpath(os.path.join(config.VM, "splat"), config.TOP)


def fetch(tags):
    # Passed on as it comes: building the debug kernel takes minutes, and
    # says how far it got every 30 s.
    p = subprocess.Popen([os.path.join(config.HOST, "fetch-kernels.sh")] + tags,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        util.log(line.rstrip("\n"))
    if p.wait():
        raise SystemExit("fetching kernels failed")
    for t in tags:
        util.log("%s: %s (Debian %s)" % (config.label(t), config.krel(t), config.tag_file(t, "version")))


def fetched(script, *args, what):
    """The path a fetch script prints last; the run stops when it fails."""
    rc, out = util.sh([os.path.join(config.HOST, script)] + list(args))
    if rc:
        sys.stderr.write(out)
        raise SystemExit("fetching %s failed" % what)
    return out.strip().splitlines()[-1]


def ksft_dir():
    return os.path.join(fetched("fetch-source.sh", "6.12",
                                "tools/testing/selftests/kselftest_harness.h",
                                "tools/testing/selftests/kselftest.h", what="linux-source"),
                        "tools/testing/selftests")


def newer_qemu():
    """The root of the QEMU the vfio-selftests machine runs (fetch-qemu.sh)."""
    return fetched("fetch-qemu.sh", what="QEMU")


def build_vfio_selftests():
    """Mainline's VFIO selftests (build-vfio-selftests.sh): (ok, log, the
    dir of the programs)."""
    rc, out = util.sh([os.path.join(config.HOST, "build-vfio-selftests.sh")])
    return rc == 0, out, out.strip().splitlines()[-1] if rc == 0 else None


def build_selftests():
    out = os.path.join(config.CACHE, "build", "selftests" + config.RUN_SUFFIX)
    rc, msg = util.sh(["make", "-s", "-C", os.path.join(config.TOP, "selftests", "vfio-dmabuf"),
                  "KSFT_DIR=" + ksft_dir(), "O=" + out])
    if rc == 0:
        # the command line tool, which cli_test drives; static, with rxe
        rc, msg2 = util.sh(["make", "-s", "-C", os.path.join(config.TOP, "tools", "vfio-dmabuf"),
                       "STATIC=1", "O=" + out])
        if rc:	# on success, only static glibc's warnings about getaddrinfo
            msg += msg2
    return rc == 0, msg, out


def build_module(tag, subdir="drivers/vfio/pci/dmabuf", name="vfio-pci-dmabuf",
                 kdir=None, krel=None):
    """Build one of the project's modules against TAG's headers, in a private
    copy of the tree (kbuild of these kernels writes objects next to the
    sources); or, given @kdir and @krel, against those of a kernel the rig
    did not fetch (check-host: the running one). Returns (ok, log, path of
    the .ko)."""
    kdir = kdir or config.tag_file(tag, "kdir")
    krel = krel or config.krel(tag)
    work = os.path.join(config.CACHE, "build", tag + config.RUN_SUFFIX)
    os.makedirs(work, exist_ok=True)
    for d in ("drivers", "include", "selftests", SPLAT):
        os.makedirs(os.path.dirname(os.path.join(work, d)), exist_ok=True)
        util.sh(["rsync", "-a", "--delete", "--exclude", "*.o", "--exclude", "*.ko",
            os.path.join(config.TOP, d) + "/", os.path.join(work, d) + "/"])
    mdir = os.path.join(work, subdir)
    if kdir:
        # with the compiler the kernel was built with (Debian's headers
        # name it too; the debug kernel's build dir does not)
        cc = re.search(r'^CONFIG_CC_VERSION_TEXT="(\S+)', config.tag_file(tag, "config"), re.M)
        rc, msg = util.sh(["make", "-C", kdir, "M=" + mdir, "modules"] +
                          (["CC=" + cc.group(1)] if cc else []))
    else:
        # its kbuild needs its suite's toolchain: build in a cached chroot
        rc, msg = util.sh([os.path.join(config.HOST, "chroot-build.sh"), tag, mdir])
    ko = os.path.join(mdir, name + ".ko")
    if rc == 0:
        rc2, vm = util.sh(["modinfo", "-F", "vermagic", ko])
        if vm.split()[0] != krel:
            return False, "vermagic %r does not match %s" % (vm.strip(), krel), ko
    return rc == 0, msg, ko


def dkms_build(tag):
    """`dkms build` of the tree `make dkms-src` stages, against TAG's
    headers, with DKMS's trees in the cache (the host's stay untouched); in
    the tag's build chroot for those that have one. Returns (ok, log)."""
    # per tag: kernels' jobs run side by side (check's lanes)
    top = os.path.join(config.CACHE, "dkms" + config.RUN_SUFFIX + "-" + tag)
    shutil.rmtree(top, ignore_errors=True)
    ver = re.search(r'PACKAGE_VERSION="([^"]+)"',
                    open(os.path.join(config.TOP, "dkms.conf")).read()).group(1)
    src = os.path.join(top, "src", "vfio-pci-dmabuf-" + ver)
    rc, msg = util.sh(["make", "-s", "-C", config.TOP, "dkms-src", "DKMS_SRC=" + src])
    if rc:
        return False, msg
    for d in ("tree", "inst"):
        os.makedirs(os.path.join(top, d))
    if config.build_root(tag):
        # as its modules: dkms runs in the tag's build chroot
        cmd = [os.path.join(config.HOST, "chroot-build.sh"), "--dkms", tag, top,
               "vfio-pci-dmabuf/" + ver]
    else:
        cmd = ["dkms", "build", "vfio-pci-dmabuf/" + ver,
               "--dkmstree", os.path.join(top, "tree"), "--sourcetree", os.path.join(top, "src"),
               "--installtree", os.path.join(top, "inst"), "-k", config.krel(tag),
               "--kernelsourcedir", config.tag_file(tag, "kdir")]
    rc, msg = util.sh(cmd)
    ko = os.path.join(top, "tree", "vfio-pci-dmabuf", ver, config.krel(tag), "x86_64", "module",
                      "vfio-pci-dmabuf.ko")
    ok = rc == 0 and os.path.exists(ko)
    return ok, " ".join(cmd) + "\n" + msg


def build_importer(tag):
    return build_module(tag, "selftests/vfio-dmabuf/importer", "vd_test_importer")


def build_edu_p2p(tag):
    return build_module(tag, "drivers/p2p/edu", "edu-p2p")


def build_splat(tag):
    """prove-splat's module, which makes the kernel report a problem."""
    return build_module(tag, SPLAT, "vd_splat")


def initramfs(tag):
    rc, out = util.sh([os.path.join(config.HOST, "mkinitramfs.sh"), tag])
    if rc:
        raise SystemExit("initramfs for %s failed:\n%s" % (tag, out))
    return out.strip().splitlines()[-1]

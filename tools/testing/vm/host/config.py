# SPDX-License-Identifier: GPL-2.0
"""The one place that says which guest kernels the rig runs and where its
cache is. The host's Python imports it; its shell scripts take the same
values from `python3 host/config.py --shell` (host/lib.sh evaluates the
VAR=value lines it prints)."""
import os
import re
import shlex
import sys

HOST = os.path.dirname(os.path.abspath(__file__))
VM = os.path.dirname(HOST)
TOP = os.path.abspath(os.path.join(VM, "..", "..", ".."))
# What runs inside the VM: the initramfs's init, the scripts a share runs.
GUEST = os.path.join(VM, "guest")
CACHE = os.environ.get("VD_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vfio-dmabuf")
# Lets two runs share the cache without sharing their work and run dirs,
# e.g. VD_RUN_SUFFIX=-b for a second make check beside the first.
RUN_SUFFIX = os.environ.get("VD_RUN_SUFFIX", "")
# The Debian kernels, fetched: tag -> the Debian suites whose metapackage
# names the kernel. The exact version is resolved at fetch time
# (host/fetch-kernels.sh) and recorded in CACHE/k/<tag>/krel.
SUITES = {
    "6.1": ["bookworm", "bookworm-security"],
    "6.12": ["bookworm-backports"],
    "deb13": ["trixie", "trixie-security"],
    "7.x": ["sid"],
}
TAGS = list(SUITES)
# Suites the rig takes only a linux-source from, to build a kernel (not a
# guest tag of their own): src7 is the newest mainline 7.x Debian packages
# (trixie-backports' linux-source meta-package names it).
SOURCE_SUITES = {"src7": ["trixie-backports"]}
# The suite the vfio-selftests machine's QEMU comes from
# (host/fetch-qemu.sh): one with igb, which Debian 12's QEMU 7.2 lacks.
QEMU_SUITES = {"qemu": ["bookworm-backports"]}
# Tags whose headers the host cannot use (their kbuild tools are linked
# against a newer glibc, their Makefile names a newer gcc): their modules
# are built in a cached minbase chroot of this suite, with the headers and
# toolchain Debian built the kernel with (host/chroot-build.sh). A tag not
# named here builds on the host, with the compiler its headers name
# (host/deps.sh installs it).
BUILD_ROOT = {"deb13": "trixie", "7.x": "sid"}
# Where vfio-pci itself exports BARs as dma-bufs (mainline): our driver
# must refuse to build there and the suite runs vfio-pci. Every other tag
# has our driver under test.
MAINLINE = {"7.x", "dbg7", "dbg7f"}
# More tags, built rather than fetched, run by make check after the
# Debian kernels (host/build-debug-kernel.sh TAG), each with lockdep,
# KASAN, kmemleak and debugobjects. A WARN or a KASAN report there panics
# (panic_on_warn): the run stops where it happened. Each tag: the suffix
# its tests are named with (X.Y-<suffix>), the config fragments applied,
# in order, on top of allnoconfig (a later line for a symbol overrides an
# earlier one), and the source tag whose linux-source it is built from.
# dbg has Debian's dma-buf and PCI options; dbg2 has those Fedora, RHEL and
# Ubuntu turn on (host/debug-p2p.config). dbg7 is mainline 7.x as Debian
# packages its newest source, with what Debian's 7.x kernels leave off:
# IOMMUFD, the VFIO cdev and P2PDMA (host/debug-7.config); dbg7f is the
# same source with upstream/*.patch applied (DEBUG_PATCHES).
DEBUG_KERNELS = {
    "dbg": ("dbg", ["debug.config"], "6.12"),
    "dbg2": ("dbg-p2p", ["debug.config", "debug-p2p.config"], "6.12"),
    "dbg7": ("dbg", ["debug.config", "debug-7.config"], "src7"),
    "dbg7f": ("dbg-fixed", ["debug.config", "debug-7.config"], "src7"),
}
DEBUG_TAGS = list(DEBUG_KERNELS)
# The first one: prove-splat's.
DEBUG_TAG = DEBUG_TAGS[0]
# Per source tag: the dir under CACHE/src its whole tree is unpacked in
# (every tag built from it shares it), and the compiler; None: the one
# Debian built that tag's own kernel with (its config names it). src7 has
# no Debian kernel the rig fetches: the host's gcc builds it.
DEBUG_SOURCES = {"6.12": ("dbg", None), "src7": ("dbg7", "gcc")}
# Tags built with patches applied to their source: the folder of the
# project holding them (applied in the order its series file gives), and
# the tag built from the same source and config without them, in whose
# build dir they are built (build-debug-kernel.sh: only what the patches
# touch is compiled again).
# The two have one release string (uname -r); the tests' names tell them
# apart.
DEBUG_PATCHES = {"dbg7f": ("upstream", "dbg7")}
# The stock twin of each patched tag: instead of the suite, it runs the
# reproducers the patches name, each expecting its fix, and each must fail
# there (host/upstream.py); and the tests whose kernel it is above all
# (PROOF_TESTS: iommufd's peer-to-peer, which needs a mainline with IOMMUFD).
PROOF_TAGS = {"dbg7": "dbg7f"}
PROOF_TESTS = ["iommufd_p2p_test"]
# The kernels that also boot the vfio-selftests machine (host/qemu.py)
# for mainline's VFIO selftests, vfio-pci against ours
# (host/vfio_selftests.py): the 6.x kernels, dbg for the iommufd modes.
# Not dbg2: it is dbg with DMABUF_MOVE_NOTIFY and PCI_P2PDMA, and the
# suite exports no dma-buf and maps no peer: the same run again, 9 min of
# a lane.
VFIO_SELFTESTS_TAGS = ["6.1", "6.12", "deb13", "dbg"]
BOOT_APPEND = {t: "panic_on_warn=1" for t in DEBUG_TAGS}
# Their guests run several times slower than the Debian kernels' under TCG.
BOOT_TIMEOUT_SCALE = {t: 3 for t in DEBUG_TAGS}
# The kernels make check boots a second time, on the topology machine, for
# the peer-to-peer reachability check (host/topology.py): ours where the
# kernel has CONFIG_PCI_P2PDMA, and mainline's, the reference.
TOPOLOGY_TAGS = ["dbg2", "7.x"]
# What a run is called in test names: its kernel's major.minor (from krel)
# and this suffix, so that two tags of one kernel version read apart.
LABEL_SUFFIX = dict({"deb13": "-deb13"}, **{t: "-" + s for t, (s, _, _) in DEBUG_KERNELS.items()})


def built(tag):
    """A kernel the rig builds from source, not one it fetches."""
    return tag in DEBUG_KERNELS


def tag_file(tag, name):
    try:
        return open(os.path.join(CACHE, "k", tag, name)).read().strip()
    except OSError:
        return ""


def kconfig_on(tag):
    """The options TAG's kernel has built in or as modules ("KASAN", ...);
    empty when its config is not there."""
    return set(re.findall(r"^CONFIG_(\w+)=[ym]$", tag_file(tag, "config"), re.M))


def krel(tag):
    return tag_file(tag, "krel")


def label(tag):
    """6.12.95+deb12-amd64 -> 6.12: what the run is called in test names;
    trixie's is 6.12-deb13 and the debug kernels 6.12-dbg and
    6.12-dbg-p2p (LABEL_SUFFIX), apart from bookworm-backports' 6.12."""
    m = re.match(r"(\d+\.\d+)", krel(tag))
    if not m:
        return tag
    return m.group(1) + LABEL_SUFFIX.get(tag, "")


def ours(tag):
    """Our driver is under test everywhere but on mainline (7.x), which
    runs vfio-pci."""
    return tag not in MAINLINE


def build_root(tag):
    """The Debian suite whose chroot builds TAG's modules; None: the host."""
    return BUILD_ROOT.get(tag)


def driver(tag):
    return "vfio-pci-dmabuf" if ours(tag) else "vfio-pci"


def shell():
    """VAR=value lines for host/lib.sh: the cache, the tags, each tag's
    suites as VD_SUITES_<tag with . as _>, the build chroot's suite of
    those that have one as VD_BUILD_ROOT_<tag>, each debug tag's fragments
    as VD_FRAGS_<tag>."""
    v = [("VD_CACHE", CACHE), ("VD_TAGS", " ".join(TAGS)), ("VD_DEBUG_TAG", DEBUG_TAG),
         ("VD_DEBUG_TAGS", " ".join(DEBUG_TAGS))]
    v += [("VD_SUITES_" + re.sub(r"\W", "_", t), " ".join(s)) for t, s in dict(SUITES, **SOURCE_SUITES, **QEMU_SUITES).items()]
    v += [("VD_BUILD_ROOT_" + re.sub(r"\W", "_", t), s) for t, s in BUILD_ROOT.items()]
    v += [("VD_FRAGS_" + re.sub(r"\W", "_", t), " ".join(f))
          for t, (_, f, _) in DEBUG_KERNELS.items()]
    v += [("VD_DBG_SOURCE_" + re.sub(r"\W", "_", t), src)
          for t, (_, _, src) in DEBUG_KERNELS.items()]
    v += [("VD_DBG_SRCDIR_" + re.sub(r"\W", "_", t), d) for t, (d, _) in DEBUG_SOURCES.items()]
    v += [("VD_DBG_CC_" + re.sub(r"\W", "_", t), cc or "")
          for t, (_, cc) in DEBUG_SOURCES.items()]
    v += [("VD_DBG_PATCHES_" + re.sub(r"\W", "_", t), os.path.join(TOP, d))
          for t, (d, _) in DEBUG_PATCHES.items()]
    v += [("VD_DBG_BASE_" + re.sub(r"\W", "_", t), b) for t, (_, b) in DEBUG_PATCHES.items()]
    return "".join("%s=%s\n" % (k, shlex.quote(val)) for k, val in v)


if __name__ == "__main__":
    if sys.argv[1:] != ["--shell"]:
        sys.exit("usage: config.py --shell")
    sys.stdout.write(shell())

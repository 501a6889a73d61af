# SPDX-License-Identifier: GPL-2.0
"""The topology boot: a second, short boot of a kernel on the "topology"
machine (host/qemu.py) running p2p_topology alone, for the peer-to-peer
reachability check (config.TOPOLOGY_TAGS: a kernel of ours with
CONFIG_PCI_P2PDMA, and mainline's for reference)."""
import os

from . import config, qemu, util
from .tap import guest_results, guest_taps, host_checks


def run(tap, tag, bins, ko, importer, p2p, verbose):
    name = config.label(tag) + "-topology"
    prog = os.path.join(os.path.dirname(bins[0]), "p2p_topology")
    run_dir, share, shm = qemu.prepare_share(
        tag, os.path.join(config.GUEST, "topology-guest.sh"), [prog], ko,
        importer=importer, p2p=p2p, name=tag + "-topology")
    status, err, secs = qemu.boot(tag, run_dir, share, shm, timeout=300, verbose=verbose,
                                  append="iommu=pt", machine="topology")
    util.log("%s: guest ran %.0fs, status %d (console: %s)" % (
        name, secs, status, os.path.join(run_dir, "console.log")))
    for prog, ok, test, diag, skip in guest_taps(share):
        tap.result(ok, "%s: %s: %s" % (name, prog, test), diag, skip)
    for ok, test, diag in host_checks(share, shm):
        tap.result(ok, "%s: %s" % (name, test), diag)
    guest_results(tap, name, share, status, err)
    return secs

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make demo: boot Debian's 6.12 kernel in a VM, bind the ivshmem device to
vfio-pci-dmabuf, write into its BAR from the guest, and show the same bytes
arriving in the host file behind that BAR."""
import os
import subprocess
import sys
import time

import rig

TAG = os.environ.get("VD_DEMO_KERNEL", "6.12")
MSG_OFFSET = 0x1000


def say(s=""):
    print(s, flush=True)


def main():
    say("== vfio-dmabuf demo ==")
    say("host: fetching Debian's %s kernel (cached after the first run)" % TAG)
    rig.fetch([TAG])
    say("host: kernel %s (Debian %s)" % (rig.krel(TAG), rig.tag_file(TAG, "version")))
    ok, msg, ko = rig.build_module(TAG)
    if not ok:
        say(msg)
        return 1
    say("host: built vfio-pci-dmabuf.ko against its headers")
    demo_dir = os.path.join(rig.CACHE, "build", "demo")
    rc, out = rig.sh(["make", "-s", "-C", os.path.join(rig.TOP, "tools", "demo"), "O=" + demo_dir])
    if rc:
        say(out)
        return 1
    message = "hello from the guest, written through BAR2 at %s" % time.strftime("%H:%M:%S")
    run, share, shm = rig.prepare_share(
        TAG, os.path.join(rig.VM, "demo-guest.sh"), [os.path.join(demo_dir, "vd_demo")], ko,
        {"VD_MESSAGE": message})
    say("host: ivshmem BAR2 is backed by %s" % shm)
    say("host: booting the guest under QEMU (TCG, q35 + intel-iommu + ivshmem + edu)...")
    status, err, secs = rig.boot(TAG, run, share, shm)
    try:
        say(open(os.path.join(share, "out", "demo.txt")).read().rstrip())
    except OSError:
        pass
    say("host: guest finished in %.0f s (console log: %s)" % (secs, os.path.join(run, "console.log")))
    if status != 0:
        say(err)
        say("demo FAILED: the guest did not finish cleanly")
        return 1
    with open(shm, "rb") as f:
        f.seek(MSG_OFFSET)
        got = f.read(256).split(b"\0", 1)[0].decode(errors="replace")
    say("host: the backing file holds at offset 0x%x: \"%s\"" % (MSG_OFFSET, got))
    if got != message:
        say("demo FAILED: the host file does not hold what the guest wrote")
        return 1
    say("demo OK: the bytes the guest wrote into the BAR are the bytes in the host file")
    return 0


if __name__ == "__main__":
    sys.exit(main())

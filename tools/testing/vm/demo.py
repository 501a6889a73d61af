#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make demo: boot Debian's 6.12 kernel in a VM, bind the ivshmem device to
vfio-pci-dmabuf, export part of its BAR as a dma-buf, have the edu DMA engine
write into it peer to peer through the IOMMU, take the BAR away and give it
back, and show on the host the bytes that arrived in the file behind the BAR."""
import os
import sys
import time

from host import build, config, qemu, util

TAG = os.environ.get("VD_DEMO_KERNEL", "6.12")
# BAR2 offsets vd_demo writes its messages at, and what each shows
MESSAGES = [
    (0x1000, "", "written by the CPU through the VFIO mmap"),
    (0x102000, " [written by the edu DMA engine]", "written by edu's DMA, peer to peer"),
    (0x103000, " [after re-grant]", "written by edu's DMA after the revoke and re-grant"),
]
REVOKED_OFF = 0x104000  # the DMA refused while revoked was aimed here


def say(s=""):
    print(s, flush=True)


def main():
    say("== vfio-dmabuf demo ==")
    say("host: fetching Debian's %s kernel (cached after the first run)" % TAG)
    build.fetch([TAG])
    say("host: kernel %s (Debian %s)" % (config.krel(TAG), config.tag_file(TAG, "version")))
    ok, msg, ko = build.build_module(TAG)
    if not ok:
        say(msg)
        return 1
    ok2, msg2, p2p = build.build_edu_p2p(TAG)
    if not ok2:
        say(msg2)
        return 1
    say("host: built vfio-pci-dmabuf.ko and edu-p2p.ko against its headers")
    demo_dir = os.path.join(config.CACHE, "build", "demo")
    rc, out = util.sh(["make", "-s", "-C", os.path.join(config.TOP, "tools", "demo"), "O=" + demo_dir])
    if rc:
        say(out)
        return 1
    message = "hello from the guest at %s" % time.strftime("%H:%M:%S")
    run, share, shm = qemu.prepare_share(
        TAG, os.path.join(config.GUEST, "demo-guest.sh"), [os.path.join(demo_dir, "vd_demo")], ko,
        {"VD_MESSAGE": message}, p2p=p2p)
    say("host: ivshmem BAR2 is backed by %s" % shm)
    say("host: booting the guest under QEMU (TCG, q35 + intel-iommu + ivshmem + edu)...")
    status, err, secs = qemu.boot(TAG, run, share, shm)
    try:
        say(open(os.path.join(share, "out", "demo.txt")).read().rstrip())
    except OSError:
        pass
    say("host: guest finished in %.0f s (console log: %s)" % (secs, os.path.join(run, "console.log")))
    if status != 0:
        say(err)
        say("demo FAILED: the guest did not finish cleanly")
        return 1
    bad = 0
    with open(shm, "rb") as f:
        for off, suffix, how in MESSAGES:
            f.seek(off)
            got = f.read(256).split(b"\0", 1)[0].decode(errors="replace")
            ok = got == message + suffix
            bad += not ok
            say("host: BAR2+0x%x in the backing file: \"%s\" (%s)%s" % (
                off, got, how, "" if ok else "  <-- WRONG"))
        f.seek(REVOKED_OFF)
        untouched = f.read(256) == bytes(256)
        bad += not untouched
        say("host: BAR2+0x%x, where the refused DMA was aimed: %s" % (
            REVOKED_OFF, "untouched (all zero)" if untouched else "WRITTEN  <-- WRONG"))
    if bad:
        say("demo FAILED: the host file does not hold what the guest wrote")
        return 1
    say("demo OK: the guest's CPU and edu's DMA wrote into the BAR; the host sees every byte,")
    say("         and the DMA attempted while the BAR was revoked never landed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

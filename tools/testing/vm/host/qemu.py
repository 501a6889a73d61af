# SPDX-License-Identifier: GPL-2.0
"""The rig's machine: the 9p share a guest runs (prepare_share), and a boot
of a guest kernel under QEMU TCG (boot), which runs main() below as
`python3 -m host.qemu` in a process of its own."""
import argparse
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time

from . import build, config, tap

SHM_SIZE = 16 << 20
RUNNER_DOC = """Boot a guest kernel under QEMU TCG with the rig's machine and run the
share's run.sh in it.

The machine: q35, intel-iommu (intremap, caching-mode), ivshmem-plain whose
BAR2 is the host file --shm (behind a root port: bus reset), two virtio-rng-pci
(each behind a root port: FLR, PCI PM, AER; the first port's link reset
succeeds, the second's fails, for both outcomes of AER recovery), the edu DMA
engine, pci-testdev (it has an I/O port BAR), an NVMe controller with one
SR-IOV VF, virtio-net, a second ivshmem-plain with a 1 GiB BAR2 (a sparse
file beside --shm, for PUD entries), a third edu (a VFIO device beside the
ivshmem in one iommufd IOAS), and a 9p share (--share) mounted at
/mnt/host. The guest writes its results to share/out/.

Exit status (also written to share/out/vmrun.json with the splat lines):
the guest's run.sh status; 124 on a timeout; 125 when the guest
never reached userspace (after one retry) or the share did not mount; 126 when
the kernel printed a splat (WARNING, BUG, lockdep, KASAN, Oops...), whatever
run.sh returned.
"""


def prepare_share(tag, run_sh, bins, ko=None, env=None, importer=None, p2p=None, name=None):
    """@name: the run dir's, when not the tag's (a second boot of TAG)."""
    run = os.path.join(config.CACHE, "run", (name or tag) + config.RUN_SUFFIX)
    share = os.path.join(run, "share")
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(os.path.join(share, "out"))
    os.makedirs(os.path.join(share, "bin"))
    shutil.copy(run_sh, os.path.join(share, "run.sh"))
    shutil.copy(os.path.join(config.GUEST, "guest-lib.sh"), share)
    for b in bins:
        shutil.copy(b, os.path.join(share, "bin"))
    e = {"VD_DRIVER": config.driver(tag), "VD_KO": "", "VD_IMPORTER_KO": "", "VD_P2P_KO": ""}
    if p2p:
        shutil.copy(p2p, share)
        e["VD_P2P_KO"] = os.path.basename(p2p)
    if ko:
        shutil.copy(ko, share)
        e["VD_KO"] = os.path.basename(ko)
    if importer:
        shutil.copy(importer, share)
        e["VD_IMPORTER_KO"] = os.path.basename(importer)
    # the kernel's config, for tests whose answer depends on an option
    kconfig = os.path.join(config.CACHE, "k", tag, "config")
    if os.path.exists(kconfig):
        shutil.copy(kconfig, os.path.join(share, "kconfig"))
        e["VD_KCONFIG"] = "/mnt/host/kconfig"
    e.update(env or {})
    with open(os.path.join(share, "env"), "w") as f:
        for k, v in e.items():
            f.write("%s='%s'\n" % (k, v))
    shm = os.path.join(run, "ivshmem.bin")
    with open(shm, "wb") as f:
        f.truncate(SHM_SIZE)
    return run, share, shm


def boot(tag, run, share, shm, timeout=900, verbose=False, append="", machine="suite"):
    """Boot TAG with the share on @machine (MACHINES); return (status,
    stderr text, seconds)."""
    t0 = time.time()
    append = (config.BOOT_APPEND.get(tag, "") + " " + append).strip()
    timeout *= config.BOOT_TIMEOUT_SCALE.get(tag, 1)
    # QEMU runs under this module's main() in a process of its own (as
    # python3 -m host.qemu, by hand too).
    cmd = [sys.executable, "-m", "host.qemu",
           "--kernel", os.path.join(config.CACHE, "k", tag, "vmlinux"),
           "--initrd", build.initramfs(tag), "--share", share, "--shm", shm,
           "--shm-size", str(SHM_SIZE), "--log", os.path.join(run, "console.log"),
           "--timeout", str(timeout), "--append", append, "--machine", machine]
    if machine == "vfio-selftests":
        cmd += ["--qemu-root", build.newer_qemu()]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [config.VM] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    if verbose:
        cmd.append("--verbose")
        p = subprocess.run(cmd, stderr=subprocess.PIPE, text=True, env=env)
    else:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=env)
    return p.returncode, p.stderr, time.time() - t0


# The machines: "suite", the one every test program but p2p_topology runs
# on (RUNNER_DOC); "topology", for p2p_topology alone
# (guest/topology-guest.sh): an Intel CPU, so that only a PCIe switch, not
# q35's host bridge, may route peer to peer; ivshmem and an edu below one
# switch (x3130-upstream, two xio3130-downstream ports); another edu behind
# a root port of its own. Booted with iommu=pt (host/topology.py): QEMU's
# vIOMMU translates every DMA, switch-local or not, so a bus address only
# lands where the IOMMU passes it through.
# "vfio-selftests", for mainline's VFIO selftests alone
# (host/vfio_selftests.py): ivshmem (a BAR smaller than a page, a 16 MiB
# one), a virtio-rng (MSI-X, FLR, PM) and igb, the SR-IOV NIC whose
# driver the suite carries: it copies memory through igb's PHY loopback,
# real DMA through the vIOMMU. Only a QEMU newer than Debian 12's has
# igb: this machine runs bookworm-backports' (host/fetch-qemu.sh),
# unpacked in the cache; the other two run the system's. 4 GiB, a 1 GiB
# hugetlb page reserved at boot (vfio_dma_mapping_test's 1 GiB variant).
MACHINES = ("suite", "topology", "vfio-selftests")


def vfio_selftests_devices():
    return [
        "-device", "pcie-root-port,id=rp0,chassis=1,slot=1",
        "-device", "ivshmem-plain,memdev=ivshm,bus=rp0",
        "-device", "pcie-root-port,id=rp1,chassis=2,slot=2",
        "-device", "virtio-rng-pci,bus=rp1",
        "-device", "pcie-root-port,id=rp2,chassis=3,slot=3",
        "-netdev", "user,id=n0", "-device", "igb,netdev=n0,bus=rp2,romfile=",
    ]


def topology_devices():
    return [
        "-device", "pcie-root-port,id=rp0,chassis=1,slot=1",
        "-device", "x3130-upstream,id=up0,bus=rp0",
        "-device", "xio3130-downstream,id=ds0,bus=up0,chassis=2,slot=0",
        "-device", "ivshmem-plain,memdev=ivshm,bus=ds0",
        "-device", "xio3130-downstream,id=ds1,bus=up0,chassis=3,slot=0",
        # its engine reaching every bus address, not 28 bits: the BAR's bus
        # address is what it is given, with no IOMMU mapping below 2^28
        "-device", "edu,bus=ds1,dma_mask=0xffffffffffffffff",
        "-device", "pcie-root-port,id=rp1,chassis=4,slot=2",
        "-device", "edu,bus=rp1",
    ]


# A second ivshmem on the suite machine, whose BAR2 is 1 GiB: room for a
# PUD entry in a CPU mapping of a dma-buf. Its backing file is sparse; the
# guest touches a few pages of it.
HUGE_SHM_SIZE = 1 << 30


def huge_shm(a):
    return os.path.splitext(a.shm)[0] + "-1g.bin"


def suite_devices(a):
    return [
        # Each behind its own root port, so a bus reset resets it alone.
        "-device", "pcie-root-port,id=rp0,chassis=1,slot=1",
        "-device", "ivshmem-plain,memdev=ivshm,bus=rp0",
        # FLR, PCI PM (D3hot) and AER, for the revoke triggers ivshmem lacks.
        # A port faster than 2.5 GT/s reports Data Link Layer Link Active,
        # so the link reset of AER recovery succeeds and resume runs...
        "-device", "pcie-root-port,id=rp1,chassis=2,slot=2,x-speed=5",
        "-device", "virtio-rng-pci,bus=rp1,aer=on",
        # ...and at its default speed the kernel waits for Link Active in
        # vain: recovery fails, resume never runs.
        "-device", "pcie-root-port,id=rp2,chassis=3,slot=3",
        "-device", "virtio-rng-pci,bus=rp2,aer=on",
        # An SR-IOV PF (QEMU's NVMe controller, one VF), for sriov_configure.
        "-device", "pcie-root-port,id=rp3,chassis=4,slot=4",
        "-device", "nvme-subsys,id=nvs0",
        "-device", "nvme,serial=vd0,subsys=nvs0,bus=rp3,sriov_max_vfs=1,"
        "sriov_vq_flexible=2,sriov_vi_flexible=1,max_ioqpairs=4,msix_qsize=4",
        # Two edu DMA engines: one for the test importer, one for edu-p2p.
        "-device", "edu",
        "-device", "edu",
        "-device", "pci-testdev",
        "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
        # Last, so that every device above keeps its address.
        "-object", "memory-backend-file,id=ivshm1g,mem-path=%s,size=%d,share=on"
        % (huge_shm(a), HUGE_SHM_SIZE),
        "-device", "pcie-root-port,id=rp4,chassis=5,slot=5",
        "-device", "ivshmem-plain,memdev=ivshm1g,bus=rp4",
        # A third edu, for iommufd_p2p_test: bound to the driver under test
        # (a VFIO device, like the ivshmem), so that both are attached to
        # one IOAS and it DMAs into the BAR through iommufd, as a VMM's
        # passthrough devices do. At the very end, so that no device above
        # changes its address.
        "-device", "edu",
    ]


def qemu_cmd(a):
    append = ("console=ttyS0 intel_iommu=on no_timer_check panic=-1 "
              "oops=panic " + a.append).strip()
    topology = a.machine == "topology"
    qemu = ["qemu-system-x86_64"]
    devices = topology_devices() if topology else suite_devices(a)
    if a.machine == "vfio-selftests":
        # its own firmware (fetch-qemu.sh)
        qemu = [os.path.join(a.qemu_root, "usr/bin/qemu-system-x86_64"),
                "-L", os.path.join(a.qemu_root, "usr/share/seabios"),
                "-L", os.path.join(a.qemu_root, "usr/share/qemu")]
        devices = vfio_selftests_devices()
        append += " hugepagesz=1G hugepages=1"
    return qemu + [
        "-accel", "tcg,thread=single",
        # The suite's: an AMD Zen CPU. Mainline's P2PDMA allows peer-to-peer
        # through the host bridge only on those or on listed bridges, and
        # q35's is not. The topology machine's: an Intel one, which is not.
        "-cpu", "Skylake-Client" if topology else "EPYC",
        "-machine", "q35", "-smp", str(a.smp), "-m", a.mem,
        "-nographic", "-no-reboot",
        "-device", "intel-iommu,intremap=on,caching-mode=on",
        "-object", "memory-backend-file,id=ivshm,mem-path=%s,size=%s,share=on"
        % (a.shm, a.shm_size),
    ] + devices + [
        "-virtfs", "local,path=%s,mount_tag=host,security_model=none,id=host"
        % a.share,
        "-kernel", a.kernel, "-initrd", a.initrd, "-append", append,
    ]


def run_qemu(a, log, attempt):
    """One boot. Returns (reached_userspace, guest_rc or None, timed_out)."""
    t0 = time.time()
    env = None
    if a.qemu_root:
        # its own modules first; it finds Debian 12's ui-opengl.so too, and
        # says it will not load it (another build): harmless, and no module
        # the machine uses
        env = dict(os.environ,
                   QEMU_MODULE_DIR=os.path.join(a.qemu_root, "usr/lib/x86_64-linux-gnu/qemu"))
    p = subprocess.Popen(qemu_cmd(a), stdin=subprocess.DEVNULL, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = b""
    reached = False
    rc = None
    timed_out = False

    def line_out(raw):
        nonlocal reached, rc
        s = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "",
                   raw.decode(errors="replace")).rstrip("\r")
        log.write("[%7.2f] %s\n" % (time.time() - t0, s))
        log.flush()
        if a.verbose:
            print("  | " + s, flush=True)
        if "VD: userspace reached" in s:
            reached = True
        m = re.search(r"VD: exit=(\d+)", s)
        if m:
            rc = int(m.group(1))

    while True:
        left = a.timeout - (time.time() - t0)
        if left <= 0:
            timed_out = True
            log.write("VMRUN: timeout after %ds (attempt %d)\n" % (a.timeout, attempt))
            p.kill()
            break
        r, _, _ = select.select([p.stdout], [], [], min(left, 1.0))
        if not r:
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line_out(raw)
    if buf:
        line_out(buf)
    p.wait()
    log.write("VMRUN: qemu rc=%s wall=%.1fs\n" % (p.returncode, time.time() - t0))
    return reached, rc, timed_out


def main():
    ap = argparse.ArgumentParser(description=RUNNER_DOC.splitlines()[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--share", required=True)
    ap.add_argument("--shm", required=True)
    ap.add_argument("--shm-size", default="16M")
    ap.add_argument("--log", required=True)
    ap.add_argument("--append", default="")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", default="2G")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--machine", choices=MACHINES, default="suite")
    ap.add_argument("--qemu-root", help="the vfio-selftests machine's QEMU (fetch-qemu.sh)")
    a = ap.parse_args()
    if a.machine == "vfio-selftests":
        if not a.qemu_root:
            ap.error("the vfio-selftests machine needs --qemu-root")
        a.mem = "4G"

    out = os.path.join(a.share, "out")
    os.makedirs(out, exist_ok=True)
    if a.machine == "suite":
        with open(huge_shm(a), "wb") as f:
            f.truncate(HUGE_SHM_SIZE)
    with open(a.log, "w") as log:
        for attempt in (1, 2):
            reached, rc, timed_out = run_qemu(a, log, attempt)
            if reached or timed_out:
                break
            # Seen here under TCG, rarely: the guest dies before userspace.
            # One more boot; never a retry of a test that ran.
            log.write("VMRUN: guest never reached userspace; retrying the boot\n")
            print("vmrun: guest never reached userspace; retrying the boot", file=sys.stderr)
    found = tap.splats([a.log, os.path.join(out, "dmesg.txt")])
    status = rc if rc is not None else 125
    if timed_out:
        status = 124
    if found:
        status = 126
    if status != 0:
        tail = open(a.log, errors="replace").read().splitlines()[-40:]
        print("vmrun: guest failed (status %d); console tail:" % status, file=sys.stderr)
        for l in tail:
            print("  | " + l, file=sys.stderr)
    for f in found[:20]:
        print("vmrun: kernel splat: " + f, file=sys.stderr)
    with open(os.path.join(out, "vmrun.json"), "w") as f:
        json.dump({"reached_userspace": reached, "guest_rc": rc, "timed_out": timed_out,
                   "splats": found}, f)
    return status


if __name__ == "__main__":
    sys.exit(main())

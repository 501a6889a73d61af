# SPDX-License-Identifier: GPL-2.0
"""Log lines and subprocesses, for every host module."""
import os
import subprocess


def log(msg):
    print("# " + msg, flush=True)


def pci_driver(bdf):
    """The driver PCI device @bdf is bound to on this machine, "" if none."""
    try:
        return os.path.basename(os.readlink("/sys/bus/pci/devices/%s/driver" % bdf))
    except OSError:
        return ""


def sh(cmd, **kw):
    """Run a command, return (rc, combined output)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    return p.returncode, p.stdout

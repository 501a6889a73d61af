# SPDX-License-Identifier: GPL-2.0
"""Log lines and subprocesses, for every host module."""
import os
import subprocess
import sys
import threading

_out_lock = threading.Lock()


def emit(*lines):
    """Print whole lines to the TAP stream, from any thread."""
    with _out_lock:
        sys.stdout.write("".join(l + "\n" for l in lines))
        sys.stdout.flush()


def log(msg):
    """A '# ' line of the TAP stream."""
    emit("# " + msg)


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

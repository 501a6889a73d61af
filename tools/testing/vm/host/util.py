# SPDX-License-Identifier: GPL-2.0
"""Log lines and subprocesses, for every host module."""
import subprocess


def log(msg):
    print("# " + msg, flush=True)


def sh(cmd, **kw):
    """Run a command, return (rc, combined output)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    return p.returncode, p.stdout

# SPDX-License-Identifier: GPL-2.0
"""upstream/: the patches this project sends mainline, as the rig uses them.
upstream/series lists them in order with the name the selftests know each
fix by (vd_env_mainline_bug()); each patch's commit message names the tests
that reproduce its bug ("Reproducer: PROG:FIXTURE.TEST" lines). The patched
debug kernel (config.DEBUG_PATCHES) runs the suite with every fix expected;
its stock twin (config.PROOF_TAGS) runs each patch's reproducers expecting
the fix, and each must fail there."""
import os
import re

from . import config

REPRODUCER = re.compile(r"^Reproducer:\s+(\S+:\S+)", re.M)
# Kernel lines a fix's bug prints on the stock kernel wherever the suite
# goes, not in its reproducer alone: the stock boots take them for that
# bug, not for a splat. sg-leak: every map leaks, and any kmemleak scan says so.
STOCK_SPLATS = {"sg-leak": re.compile(r"kmemleak: \d+ new suspected memory leaks")}


def stock_splats(tag, splats):
    """@splats less the lines the bugs fixed for TAG print on the stock
    kernel (STOCK_SPLATS)."""
    pats = [STOCK_SPLATS[f] for _, f, _ in patches(tag) if f in STOCK_SPLATS]
    return [l for l in splats if not any(p.search(l) for p in pats)]


def patches(tag):
    """[(patch file name, fix name, [reproducer tests])] of the patches
    built into TAG, in series order; [] for a tag built without."""
    d = config.DEBUG_PATCHES.get(tag)
    if not d:
        return []
    top = os.path.join(config.TOP, d[0])
    out = []
    for line in open(os.path.join(top, "series")):
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        name, fix = line
        text = open(os.path.join(top, name)).read()
        out.append((name, fix, REPRODUCER.findall(text.split("\n---\n", 1)[0])))
    return out


def check_series(tag):
    """(ok, message): series names every patch in the folder, once each,
    with a fix name (build-debug-kernel.sh applies what it names, in its
    order), and every patch names a reproducer."""
    d = config.DEBUG_PATCHES.get(tag)
    top = os.path.join(config.TOP, d[0])
    try:
        listed = patches(tag)
    except (OSError, ValueError) as e:
        return False, "upstream/series: %s" % e
    names = [p for p, _, _ in listed]
    files = sorted(f for f in os.listdir(top) if f.endswith(".patch"))
    bad = []
    if sorted(names) != files or len(set(names)) != len(names):
        bad.append("series lists %s; the folder has %s" % (names, files))
    bad += ["%s names no reproducer" % p for p, _, r in listed if not r]
    return not bad, "\n".join(bad)


def fixed_env(tag):
    """VD_MAINLINE_FIXED for a boot of TAG: the fixes built into it."""
    return " ".join(f for _, f, _ in patches(tag))

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prove that the rig's splat detector fails a run. For each guest kernel and
# trigger: build selftests/vfio-dmabuf/splat/vd_splat.ko against that kernel
# (as check.py builds the project's modules), boot the rig's machine with a
# run.sh that loads it and writes the trigger, and ask the rig what check.py
# would report for the run (guest_results). Each trigger must fail the
# run through its splat check; "none", the control, loads the module and
# triggers nothing, and must pass.
#
# usage: prove-splat.sh [TAG[:TRIGGER,...]]...
#   default: 6.12:none,warn, plus dbg:none,warn,lockdep,kasan when the debug
#   kernel is built ($VD_CACHE/k/dbg/vmlinux). Triggers: none, warn, lockdep,
#   kasan (see vd_splat.c; lockdep and kasan need the debug kernel).
# Prints TAP, ending in "N passed, N failed"; exit status 0 when all passed.
# Runs in $VD_CACHE/run/TAG$VD_RUN_SUFFIX-splat, beside check.py's.
set -euo pipefail
. "$(dirname "$0")/host/lib.sh"

export VD_RUN_SUFFIX="${VD_RUN_SUFFIX:-}-splat"
args=("$@")
# shellcheck disable=SC2054  # TAG:TRIGGER,TRIGGER is one argument
if [ ${#args[@]} -eq 0 ]; then
	args=(6.12:none,warn)
	[ -s "$VD_CACHE/k/dbg/vmlinux" ] && args+=(dbg:none,warn,lockdep,kasan)
fi
exec python3 - "$(dirname "$0")" "${args[@]}" <<'EOF'
import json
import os
import shutil
import sys

sys.path.insert(0, sys.argv[1])
from host import build, config, qemu, util  # noqa: E402
from host.tap import Tap, guest_results, parse_tap  # noqa: E402

RUN_SH = r'''#!/bin/sh
# prove-splat.sh's guest script: load vd_splat, write the trigger.
H=/mnt/host
. $H/env
T=$H/out/50-splat.tap
echo "TAP version 13" >$T
if insmod "$H/$VD_SPLAT_KO"; then echo "ok 1 load vd_splat" >>$T; else
	echo "not ok 1 load vd_splat" >>$T; exit 1; fi
if echo "$VD_SPLAT" >/sys/module/vd_splat/parameters/trigger 2>$H/out/trigger.err; then
	echo "ok 2 trigger $VD_SPLAT" >>$T
elif grep -q "not supported" $H/out/trigger.err; then
	echo "ok 2 trigger $VD_SPLAT # SKIP this kernel cannot make that report" >>$T
else
	echo "not ok 2 trigger $VD_SPLAT" >>$T; exit 1
fi
sleep 1
echo "1..2" >>$T
exit 0
'''


class Record(Tap):
    """A Tap that keeps what it was told instead of printing it."""

    def __init__(self):
        self.results = []

    def result(self, ok, name, diag="", skip=None):
        self.results.append((ok, name, diag))
        return ok


def main():
    tap = Tap()
    plan = []
    for a in sys.argv[2:]:
        tag, _, trig = a.partition(":")
        plan.append((tag, (trig or "none,warn").split(",")))
    build.fetch([t for t, _ in plan])
    for tag, triggers in plan:
        name = config.label(tag)
        ok, msg, ko = build.build_module(tag, "selftests/vfio-dmabuf/splat", "vd_splat")
        if not tap.result(ok, "%s: build vd_splat.ko against %s" % (name, config.krel(tag)), msg):
            continue
        script = os.path.join(config.CACHE, "build", "prove-splat-run.sh")
        with open(script, "w") as f:
            f.write(RUN_SH)
        for trig in triggers:
            run, share, shm = qemu.prepare_share(
                tag, script, [], env={"VD_SPLAT_KO": os.path.basename(ko), "VD_SPLAT": trig})
            shutil.copy(ko, share)
            status, err, secs = qemu.boot(tag, run, share, shm, timeout=300)
            rec = Record()
            skipped = None
            path = os.path.join(share, "out", "50-splat.tap")
            if os.path.exists(path):
                for ok, test, diag, skip in parse_tap(path):
                    skipped = skipped or skip
                    rec.result(ok, "splat: " + test, diag)
            guest_results(rec, name, share, status, err)
            try:
                splats = json.load(open(os.path.join(share, "out", "vmrun.json")))["splats"]
            except (OSError, ValueError):
                splats = []
            failed = [n for ok, n, _ in rec.results if not ok]
            splat_check = [ok for ok, n, _ in rec.results if "no kernel splat" in n]
            util.log("%s %s: vmrun status %d in %.0fs; check would report: %s" % (
                name, trig, status, secs,
                "; ".join("%s %s" % ("ok" if ok else "NOT OK", n) for ok, n, _ in rec.results)))
            for s in splats[:6]:
                util.log("  detected: " + s)
            if skipped:
                tap.result(True, "%s: trigger %s" % (name, trig), skip=skipped)
            elif trig == "none":
                tap.result(status == 0 and not failed,
                           "%s: control (vd_splat loaded, nothing triggered): the run passes" % name,
                           "vmrun status %d, failed: %s\n%s" % (status, failed, "\n".join(splats)))
            else:
                tap.result(status == 126 and splat_check == [False],
                           "%s: trigger %s: the splat check fails the run" % (name, trig),
                           "vmrun status %d, splat check %s; console %s" % (
                               status, splat_check, os.path.join(run, "console.log")))
    return tap.finish()


sys.exit(main())
EOF

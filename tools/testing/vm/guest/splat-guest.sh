#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest half of prove-splat (runs as /mnt/host/run.sh): load vd_splat,
# write the trigger. A trigger this kernel cannot make (lockdep or KASAN
# without the debug kernel) is a skip.
H=/mnt/host
. $H/env			# VD_SPLAT_KO, VD_SPLAT (the trigger)
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

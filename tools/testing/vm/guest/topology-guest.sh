#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest of the "topology" machine (host/qemu.py): ivshmem
# and an edu below one PCIe switch, another edu behind a root port of its
# own. Binds ivshmem to the driver under test, edu-p2p to the edu below
# the switch, the test importer to the other, and runs p2p_topology.
H=/mnt/host
. $H/env
# shellcheck disable=SC2046
export $(sed -n 's/=.*//p' $H/env)
OUT=$H/out
export VD_OUT=$OUT VD_DRIVER
. $H/guest-lib.sh

S=$OUT/00-setup.tap
echo "TAP version 13" >$S
BDF=$(find_dev 0x1af4:0x1110) || { tap $S not-ok "find the ivshmem device"; exit 1; }
# the switch's upstream port: ivshmem's grandparent
SW=$(dirname "$(dirname "$(readlink -f /sys/bus/pci/devices/$BDF)")")
SW_EDU= RP_EDU=
for e in $(find_devs 0x1234:0x11e8); do
	case $(readlink -f /sys/bus/pci/devices/$e) in
	"$SW"/*) SW_EDU=$e ;;
	*) RP_EDU=$e ;;
	esac
done
[ -n "$SW_EDU" ] && [ -n "$RP_EDU" ] ||
	{ tap $S not-ok "find an edu below ivshmem's switch and one outside it"; exit 1; }
export VD_BDF=$BDF VD_P2P_BDF=$SW_EDU VD_IMPORTER_BDF=$RP_EDU
# what the machine looks like to the kernel, for the record
for d in /sys/bus/pci/devices/*; do
	echo "$(basename $d) $(cat $d/vendor):$(cat $d/device)" \
		"group $(basename "$(readlink $d/iommu_group)")" \
		"path $(readlink -f $d | sed 's|/sys/devices/||')"
done >$OUT/topology.txt
grep -m1 '^vendor_id' /proc/cpuinfo >>$OUT/topology.txt
# the switch's ports' config space, for the ACS capability (or its absence)
for p in $(ls /sys/bus/pci/devices/); do
	case $(cat /sys/bus/pci/devices/$p/device) in
	0x8232|0x8233) echo "$p:"; od -A x -t x4 /sys/bus/pci/devices/$p/config | head -n 80 ;;
	esac
done >>$OUT/topology.txt
step $S "load $VD_DRIVER" load || exit 1
step $S "bind ivshmem $BDF to $VD_DRIVER" bind "$BDF" "$VD_DRIVER" || exit 1
# ib_umem mode needs ib_core and ib_uverbs where they are modules; a kernel
# without them builds edu-p2p without that mode
load_p2p() { modprobe ib_uverbs 2>/dev/null; insmod "$H/$VD_P2P_KO"; }
step $S "load edu-p2p" load_p2p || exit 1
step $S "bind edu $SW_EDU (below the switch) to edu-p2p" bind "$SW_EDU" edu-p2p || exit 1
step $S "load vd_test_importer" insmod "$H/$VD_IMPORTER_KO" || exit 1
step $S "bind edu $RP_EDU (own root port) to vd_test_importer" \
	bind "$RP_EDU" vd_test_importer || exit 1
echo "1..$n" >>$S

$H/bin/p2p_topology >"$OUT/50-p2p_topology.tap" 2>&1
echo "# exit status $?" >>"$OUT/50-p2p_topology.tap"

T=$OUT/99-teardown.tap
n=0
echo "TAP version 13" >$T
step $T "unbind $SW_EDU from edu-p2p" unbind "$SW_EDU"
step $T "unload edu-p2p" rmmod edu_p2p
step $T "unbind $RP_EDU from vd_test_importer" unbind "$RP_EDU"
step $T "unload vd_test_importer" rmmod vd_test_importer
step $T "unbind $BDF from $VD_DRIVER" unbind "$BDF"
echo "1..$n" >>$T
exit 0

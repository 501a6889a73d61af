#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest half of `make demo` (runs as /mnt/host/run.sh).
H=/mnt/host
. $H/env
. $H/guest-lib.sh			# find_dev
say() { echo "$*" >>$H/out/demo.txt; }
modprobe vfio && modprobe vfio_iommu_type1 && modprobe vfio_pci_core || exit 1
insmod $H/$VD_KO || exit 1
say "guest: loaded $VD_DRIVER (out-of-tree module, taint flags $(cat /sys/module/vfio_pci_dmabuf/taint))"
# the first: the machine's second ivshmem has a 1 GiB BAR2 no host file shows
BDF=$(find_dev 0x1af4:0x1110) || exit 1
say "guest: ivshmem device is $BDF"
echo "$VD_DRIVER" >/sys/bus/pci/devices/$BDF/driver_override
[ -e /sys/bus/pci/devices/$BDF/driver ] && echo $BDF >/sys/bus/pci/devices/$BDF/driver/unbind
echo $BDF >/sys/bus/pci/drivers_probe
# its ib_umem mode links against ib_core/ib_uverbs where they have it
modprobe ib_uverbs 2>/dev/null
insmod $H/$VD_P2P_KO || exit 1
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor):$(cat $d/device)" = "0x1234:0x11e8" ] && EDU=$(basename $d) && break
done
echo edu-p2p >/sys/bus/pci/devices/$EDU/driver_override
echo $EDU >/sys/bus/pci/drivers_probe
say "guest: loaded edu-p2p and bound the edu DMA engine $EDU to it"
$H/bin/vd_demo $BDF "$VD_MESSAGE" >>$H/out/demo.txt 2>&1

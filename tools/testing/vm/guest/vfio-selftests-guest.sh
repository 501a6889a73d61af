#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest on the vfio-selftests machine (as
# /mnt/host/run.sh): mainline's VFIO selftests (host/vfio_selftests.py
# builds them) against each device, once with every device bound to
# vfio-pci and once bound to $VD_DRIVER, ours. Each run of a program
# leaves its TAP in out/vfio-selftests/DRIVER/PROG@DEVICE[@MODE].tap; the
# host compares the two drivers case by case.
H=/mnt/host
. $H/env			# VD_DRIVER, VD_KO
# shellcheck disable=SC2046
export $(sed -n 's/=.*//p' $H/env)
OUT=$H/out
. $H/guest-lib.sh

S=$OUT/00-setup.tap
echo "TAP version 13" >$S
IVSHMEM=$(find_dev 0x1af4:0x1110) || { tap $S not-ok "find the ivshmem device"; exit 1; }
RNG=$(find_dev 0x1af4:0x1044) || { tap $S not-ok "find the virtio-rng device"; exit 1; }
IGB=$(find_dev 0x8086:0x10c9) || { tap $S not-ok "find the igb (82576) device"; exit 1; }
DEVS="ivshmem=$IVSHMEM rng=$RNG igb=$IGB"
# hugetlb pages for vfio_dma_mapping_test's 2 MiB and 1 GiB variants
step $S "reserve 2 MiB pages" sh -c 'echo 64 >/proc/sys/vm/nr_hugepages &&
	[ "$(cat /proc/sys/vm/nr_hugepages)" = 64 ]'
step $S "1 GiB page reserved at boot" sh -c \
	'[ "$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages)" -ge 1 ]'
# Shared anonymous memory, the driver test's buffers for igb's DMA, in
# transparent huge pages: with 4 KiB pages the test takes five times as
# long under TCG (on 6.12, 127 s per driver instead of 27).
step $S "shmem in transparent huge pages" sh -c \
	'echo always >/sys/kernel/mm/transparent_hugepage/shmem_enabled'
step $S "load the VFIO stack" sh -c 'modprobe vfio && modprobe vfio_iommu_type1 &&
	modprobe vfio_pci_core && modprobe vfio-pci enable_sriov=1'
if [ -n "$VD_KO" ]; then
	step $S "load $VD_DRIVER" insmod "$H/$VD_KO" enable_sriov=1
fi
echo "1..$n" >>$S
# The IOMMU modes this kernel has: the VFIO container's always;
# iommufd's compat container with IOMMUFD, and its cdev with the VFIO
# device cdev too (its class is there once vfio is loaded).
MODES="vfio_type1_iommu vfio_type1v2_iommu"
if [ -e /dev/iommu ]; then
	MODES="$MODES iommufd_compat_type1 iommufd_compat_type1v2"
	[ -d /sys/class/vfio-dev ] && MODES="$MODES iommufd"
fi
# the mode of the programs run once: the last, iommufd's where there is one
DEFAULT_MODE=${MODES##* }
# vfio_pci_core of Debian's 6.12 enables SR-IOV under the PF's
# memory_lock, the reverse of open's order: with lockdep (the debug
# kernels) the SR-IOV test would report that cycle for vfio-pci and ours
# alike, and lockdep would be off for the rest of the boot.
SRIOV_SKIP=
if [ -e /proc/lockdep ]; then
	case $(uname -r) in 6.12.*)
		SRIOV_SKIP="6.12's vfio_pci_core enables SR-IOV under memory_lock, which lockdep reports (for vfio-pci too; run on the Debian kernels)" ;;
	esac
fi

# run DRIVER DEV PROG [MODE]: one program against one device (all: the
# three), bound to DRIVER
BDF_all="$IVSHMEM $RNG $IGB"
run() {
	d=$OUT/vfio-selftests/$1
	mkdir -p "$d"
	f=$d/$3@$2${4:+@$4}.tap
	eval bdf=\$BDF_$2
	echo "vfio-dmabuf: run $1 $3 $2 $4" >/dev/kmsg
	# shellcheck disable=SC2086 # all: one argument per device
	VFIO_SELFTESTS_IOMMU_MODE=${4:-$DEFAULT_MODE} "$H/bin/$3" $bdf >"$f" 2>&1
	echo "# exit status $?" >>"$f"
	echo "vfio-dmabuf: ran $1 $3 $2 $4" >/dev/kmsg
}

k=1
for drv in vfio-pci $VD_DRIVER; do
	T=$OUT/${k}0-$drv.tap	# vfio-pci's steps first
	k=$((k + 1))
	n=0
	echo "TAP version 13" >$T
	for dv in $DEVS; do
		eval "BDF_${dv%%=*}=${dv#*=}"
		step $T "bind ${dv%%=*} ${dv#*=} to $drv" bind "${dv#*=}" "$drv"
	done
	# the programs whose fixtures set up the IOMMU in the default mode
	# (VFIO_SELFTESTS_IOMMU_MODE), once per mode
	for m in $MODES; do
		for dv in ivshmem rng igb; do
			run "$drv" $dv vfio_pci_device_test "$m"
		done
	done
	# those whose variants cover every mode themselves
	run "$drv" ivshmem vfio_dma_mapping_test
	run "$drv" ivshmem vfio_dma_mapping_mmio_test
	run "$drv" igb vfio_dma_mapping_mmio_test
	run "$drv" ivshmem vfio_iommufd_setup_test
	# its memcpy_{from,to}_unmapped_iova make igb fault in the IOMMU:
	# those DMAR reports are no splat (host/tap.py), igb's alone, here alone
	echo "vfio-dmabuf: expect DMAR faults from $IGB" >/dev/kmsg
	run "$drv" igb vfio_pci_driver_test
	sleep 1		# the fault reports come from the DMAR interrupt
	echo "vfio-dmabuf: end of expected DMAR faults" >/dev/kmsg
	if [ -z "$SRIOV_SKIP" ]; then
		run "$drv" igb vfio_pci_sriov_uapi_test
	else	# as the suite's own skips read: exit status 4 (KSFT_SKIP)
		printf '1..0 # SKIP %s\n# exit status 4\n' "$SRIOV_SKIP" \
			>"$OUT/vfio-selftests/$drv/vfio_pci_sriov_uapi_test@igb.tap"
	fi
	run "$drv" all vfio_pci_device_init_perf_test
	for dv in $DEVS; do
		step $T "unbind ${dv%%=*} ${dv#*=} from $drv" unbind "${dv#*=}"
	done
	echo "1..$n" >>$T
done
exit 0

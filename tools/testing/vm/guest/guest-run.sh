#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest (as /mnt/host/run.sh): load the driver under test,
# bind the ivshmem device to it, run every test program, unbind and unload.
# Each step and each program leaves a TAP stream in /mnt/host/out/*.tap.
H=/mnt/host
. $H/env			# VD_DRIVER, VD_KO (our module, if under test), VD_FUZZ_*
# shellcheck disable=SC2046
export $(sed -n 's/=.*//p' $H/env)
OUT=$H/out
export VD_OUT=$OUT VD_DRIVER
. $H/guest-lib.sh			# find_dev, bind, unbind, tap, step, load
rxe_up() { # the software RDMA device the ib_umem importer and rdma-reg use
	modprobe rdma_rxe && modprobe ib_uverbs && ip link set eth0 up &&
		rdma link add rxe0 type rxe netdev eth0
}
kmemleak_none() { # debug kernel: scan twice (objects must age), report any leak
	k=/sys/kernel/debug/kmemleak
	echo scan >$k && sleep 6 && echo scan >$k || return 1
	leaks=$(cat $k)
	[ -z "$leaks" ] || { echo "$leaks" | head -60; return 1; }
}
unload() {
	rmmod "$(echo "$VD_DRIVER" | tr - _)" || return 1
	! grep -q "^$(echo "$VD_DRIVER" | tr - _) " /proc/modules
}

S=$OUT/00-setup.tap
echo "TAP version 13" >$S
BDF=$(find_dev 0x1af4:0x1110) || { tap $S not-ok "find the ivshmem device"; exit 1; }
# the second ivshmem, whose BAR2 is 1 GiB (a PUD's worth)
HUGE_BDF=$(find_devs 0x1af4:0x1110 | sed -n 2p)
[ -n "$HUGE_BDF" ] || { tap $S not-ok "find the 1 GiB ivshmem device"; exit 1; }
IO_BDF=$(find_dev 0x1b36:0x0005) || { tap $S not-ok "find the pci-testdev device"; exit 1; }
# two virtio-rngs: AER recovery succeeds behind the first's port, fails behind the second's
RNG_BDFS=$(find_devs 0x1af4:0x1044)
PM_BDF=$(echo $RNG_BDFS | cut -d' ' -f1)
AER_BDF=$(echo $RNG_BDFS | cut -d' ' -f2)
[ -n "$AER_BDF" ] && [ "$AER_BDF" != "$PM_BDF" ] ||
	{ tap $S not-ok "find the two virtio-rng devices"; exit 1; }
SRIOV_BDF=$(find_dev 0x1b36:0x0010) || { tap $S not-ok "find the NVMe (SR-IOV PF) device"; exit 1; }
export VD_BDF=$BDF VD_HUGE_BDF=$HUGE_BDF VD_IO_BDF=$IO_BDF VD_PM_BDF=$PM_BDF VD_AER_BDF=$AER_BDF VD_SRIOV_BDF=$SRIOV_BDF
step $S "load $VD_DRIVER" load || exit 1
step $S "load aer_inject" modprobe aer_inject || exit 1
step $S "bind ivshmem $BDF to $VD_DRIVER" bind "$BDF" "$VD_DRIVER" || exit 1
step $S "bind pci-testdev $IO_BDF to $VD_DRIVER" bind "$IO_BDF" "$VD_DRIVER" || exit 1
step $S "bind ivshmem (1 GiB) $HUGE_BDF to $VD_DRIVER" bind "$HUGE_BDF" "$VD_DRIVER" || exit 1
step $S "bind virtio-rng $PM_BDF to $VD_DRIVER" bind "$PM_BDF" "$VD_DRIVER" || exit 1
step $S "bind virtio-rng $AER_BDF to $VD_DRIVER" bind "$AER_BDF" "$VD_DRIVER" || exit 1
step $S "bind NVMe (SR-IOV PF) $SRIOV_BDF to $VD_DRIVER" bind "$SRIOV_BDF" "$VD_DRIVER" || exit 1
EDU_BDFS=$(find_devs 0x1234:0x11e8)
EDU_BDF=$(echo $EDU_BDFS | cut -d' ' -f1)
P2P_BDF=$(echo $EDU_BDFS | cut -d' ' -f2)
# the third: a VFIO device too, the DMA engine iommufd_p2p_test drives from userspace
DMA_BDF=$(echo $EDU_BDFS | cut -d' ' -f3)
[ -n "$DMA_BDF" ] || { tap $S not-ok "find the third edu device"; exit 1; }
export VD_DMA_BDF=$DMA_BDF
step $S "bind edu $DMA_BDF to $VD_DRIVER" bind "$DMA_BDF" "$VD_DRIVER" || exit 1
if [ -n "$VD_IMPORTER_KO" ]; then
	step $S "load vd_test_importer" insmod "$H/$VD_IMPORTER_KO" || exit 1
	step $S "bind edu $EDU_BDF to vd_test_importer" bind "$EDU_BDF" vd_test_importer || exit 1
fi
step $S "create rxe0 on eth0" rxe_up || exit 1
if [ -n "$VD_P2P_KO" ]; then
	step $S "load edu-p2p" insmod "$H/$VD_P2P_KO" || exit 1
	step $S "bind edu $P2P_BDF to edu-p2p" bind "$P2P_BDF" edu-p2p || exit 1
fi
echo "1..$n" >>$S

# what tools/testing/vm/check-host runs
REAL_HOST_TESTS="vfio_device_test dmabuf_export_test dmabuf_lifetime_test dmabuf_map_test
	dmabuf_revoke_test"
if [ -n "$VD_ONLY" ]; then	# PROG:FIXTURE.TEST or PROG ...: just those
	for o in $VD_ONLY; do
		case $o in
		*:*) set -- -r "${o#*:}" ;;
		*) set -- ;;
		esac
		# in the kernel log too: a splat is told apart by the test it hit
		echo "vfio-dmabuf: run $o" >/dev/kmsg
		"$H/bin/${o%%:*}" "$@" >"$OUT/50-$o.tap" 2>&1
		echo "# exit status $?" >>"$OUT/50-$o.tap"
		echo "vfio-dmabuf: ran $o" >/dev/kmsg
	done
else
	for t in $H/bin/*_test; do
		name=$(basename "$t")
		"$t" >"$OUT/50-$name.tap" 2>&1
		echo "# exit status $?" >>"$OUT/50-$name.tap"
	done
	# The device-agnostic tests once more as make check-host runs them on
	# a real host: VD_REAL_HOST=1, the device a virtio-rng (its BAR the
	# one vd_env_bar() picks), none of the rig's other devices named. The
	# host checks that what they skip needs the rig or what the device
	# lacks. Their docs table rows go elsewhere.
	mkdir -p "$OUT/real-host"
	for name in $REAL_HOST_TESTS; do
		(
			unset VD_IO_BDF VD_AER_BDF VD_SRIOV_BDF
			export VD_REAL_HOST=1 VD_BDF="$PM_BDF" VD_OUT="$OUT/real-host"
			exec "$H/bin/$name"
		) >"$OUT/60-real-host-$name.tap" 2>&1
		echo "# exit status $?" >>"$OUT/60-real-host-$name.tap"
	done
fi

T=$OUT/99-teardown.tap
n=0
echo "TAP version 13" >$T
if [ -n "$VD_P2P_KO" ]; then
	step $T "unbind $P2P_BDF from edu-p2p" unbind "$P2P_BDF"
	step $T "unload edu-p2p" rmmod edu_p2p
fi
if [ -n "$VD_IMPORTER_KO" ]; then
	step $T "unbind $EDU_BDF from vd_test_importer" unbind "$EDU_BDF"
	step $T "unload vd_test_importer" rmmod vd_test_importer
fi
step $T "unbind $BDF from $VD_DRIVER" unbind "$BDF"
step $T "unbind $IO_BDF from $VD_DRIVER" unbind "$IO_BDF"
step $T "unbind $HUGE_BDF from $VD_DRIVER" unbind "$HUGE_BDF"
step $T "unbind $PM_BDF from $VD_DRIVER" unbind "$PM_BDF"
step $T "unbind $AER_BDF from $VD_DRIVER" unbind "$AER_BDF"
step $T "unbind $SRIOV_BDF from $VD_DRIVER" unbind "$SRIOV_BDF"
step $T "unbind edu $DMA_BDF from $VD_DRIVER" unbind "$DMA_BDF"
if [ -n "$VD_KO" ]; then step $T "unload $VD_DRIVER" unload; fi
step $T "delete rxe0" rdma link delete rxe0
# A stock kernel's proof boot (VD_PROOF) runs bugs on purpose, leaks too.
if [ -e /sys/kernel/debug/kmemleak ] && [ -z "$VD_PROOF" ]; then
	step $T "kmemleak: no leak after the whole suite" kmemleak_none
fi
echo "1..$n" >>$T
exit 0

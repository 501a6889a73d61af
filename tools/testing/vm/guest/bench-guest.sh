#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest half of `make bench` (runs as /mnt/host/run.sh): bind the
# ivshmem device to the tag's driver and the first edu to vd_test_importer,
# as guest-run.sh does, then run vd_bench. It writes out/bench.json; its
# table goes to out/guest.log.
H=/mnt/host
. $H/env			# VD_DRIVER, VD_KO, VD_IMPORTER_KO, VD_BENCH_ARGS
export VD_OUT=$H/out VD_DRIVER
# bench --graph-funcs/--graph-depth: what vd_bench -g traces
[ -n "$VD_BENCH_GRAPH" ] && export VD_BENCH_GRAPH
[ -n "$VD_BENCH_GRAPH_DEPTH" ] && export VD_BENCH_GRAPH_DEPTH
. $H/guest-lib.sh			# find_dev, bind, unbind
modprobe vfio && modprobe vfio_iommu_type1 && modprobe vfio_pci_core || exit 1
if [ -n "$VD_KO" ]; then insmod "$H/$VD_KO"; else modprobe "$VD_DRIVER"; fi || exit 1
BDF=$(find_dev 0x1af4:0x1110) || { echo "bench: no ivshmem device"; exit 1; }
EDU=$(find_dev 0x1234:0x11e8) || { echo "bench: no edu device"; exit 1; }
bind "$BDF" "$VD_DRIVER" || exit 1
insmod "$H/$VD_IMPORTER_KO" || exit 1
bind "$EDU" vd_test_importer || exit 1
export VD_BDF=$BDF
echo "bench: ivshmem $BDF on $VD_DRIVER, edu $EDU on vd_test_importer, $(nproc) CPUs"
$H/bin/vd_bench $VD_BENCH_ARGS -o $H/out/bench.json

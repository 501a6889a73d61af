#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch the QEMU the vfio-selftests machine runs (host/qemu.py): Debian
# 12's own QEMU (7.2) has no igb, the SR-IOV NIC with MSI-X whose driver
# mainline's VFIO selftests carry; bookworm-backports' QEMU (config.py's
# QEMU_SUITES; its version resolved at fetch time) has, and needs no
# library Debian 12 lacks. Its packages are unpacked in the cache, not
# installed: every other guest keeps the system's QEMU.
#
# usage: fetch-qemu.sh
# Prints the unpacked root; its usr/bin/qemu-system-x86_64 runs with
# -L ROOT/usr/share/seabios -L ROOT/usr/share/qemu, and QEMU_MODULE_DIR
# set to ROOT/usr/lib/x86_64-linux-gnu/qemu (ROOT/version: the packages'
# version). Its own SeaBIOS first: with Debian 12's, the firmware takes
# 35 s to load the kernel instead of 3.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tag=qemu
vd_apt_init "$tag" >&2
ver=$(vd_apt "$tag" apt-cache show qemu-system-x86 |
	awk '/^Version:/ && !v { v = $2 } END { print v }')
[ -n "$ver" ] || vd_die "cannot resolve qemu-system-x86 in $(vd_suites "$tag")"
root=$VD_CACHE/qemu/${ver//:/_}
if [ ! -x "$root/usr/bin/qemu-system-x86_64" ]; then
	(
	flock 9
	[ -x "$root/usr/bin/qemu-system-x86_64" ] && exit 0
	vd_log "fetching QEMU $ver from $(vd_suites "$tag")"
	rm -rf "$VD_CACHE/qemu"/*/ "$root.tmp"
	mkdir -p "$root.tmp/debs"
	# the packages the newer QEMU upgrades on a Debian 12 host (apt's
	# install simulation there names no more)
	(cd "$root.tmp/debs" && vd_apt "$tag" apt-get download qemu-system-x86 \
		qemu-system-common qemu-system-data seabios >/dev/null)
	for d in "$root.tmp"/debs/*.deb; do
		dpkg-deb -x "$d" "$root.tmp"
	done
	rm -rf "$root.tmp/debs"
	echo "$ver" >"$root.tmp/version"
	mv "$root.tmp" "$root"
	) 9>"$VD_CACHE/qemu.lock"
fi
echo "$root"

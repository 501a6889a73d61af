#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build an out-of-tree module for the 7.x (Debian sid) guest kernel with
# Debian's own toolchain. Its headers want sid's gcc and a linux-kbuild that
# needs a newer glibc than the host's, so the build runs in a minbase sid
# chroot, cached as $VD_CACHE/sid-root and rebuilt when the guest kernel
# changes. A warm chroot is used without touching the network.
#
# usage: k7-build.sh MODULE_DIR    -> the built *.ko land in MODULE_DIR
# MODULE_DIR lies in a project tree (an ancestor with drivers/ include/
# selftests/); that tree is copied to /build in the chroot, since the
# modules include files by paths relative to their directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -ne 1 ] || [ ! -d "$1" ]; then vd_die "usage: k7-build.sh MODULE_DIR"; fi
mdir=$(cd "$1" && pwd -P)
top=$mdir
until [ -d "$top/drivers" ] && [ -d "$top/include" ] && [ -d "$top/selftests" ]; do
	[ "$top" != / ] || vd_die "$mdir is not inside a project tree"
	top=$(dirname "$top")
done
rel=${mdir#"$top"}; rel=${rel#/}

[ -n "$(vd_krel 7.x)" ] || "$VD_RIG/fetch-kernels.sh" 7.x
krel=$(vd_krel 7.x)
ver=$(cat "$VD_CACHE/k/7.x/version" 2>/dev/null || true)
root=$VD_CACHE/sid-root
hdr=/usr/src/linux-headers-$krel

mkdir -p "$VD_CACHE"
exec 9>"$root.lock"
flock 9
if [ "$(cat "$root/.vd-stamp" 2>/dev/null)" != "$krel $ver" ] || [ ! -f "$root$hdr/Makefile" ]; then
	vd_debootstrap sid "$root.new"
	vd_log "7.x: installing linux-headers-$krel${ver:+ ($ver)} and its toolchain"
	apt=(apt-get -q -y -o Acquire::Check-Valid-Until=false)
	# the headers package pulls in the gcc and linux-kbuild it was built for
	vd_in_root "$root.new" sh -c 'pkg=$1; shift; "$@" update && DEBIAN_FRONTEND=noninteractive \
		"$@" install --no-install-recommends make "$pkg" && "$@" clean' \
		sh "linux-headers-$krel${ver:+=$ver}" "${apt[@]}" >>"$root.log" 2>&1 ||
		{ cat "$root.log" >&2; vd_die "installing the 7.x headers in the chroot failed" \
			"(has sid moved on? rerun fetch-kernels.sh 7.x)"; }
	rm -rf "$root.new/var/lib/apt/lists"/*_*
	echo "$krel $ver" >"$root.new/.vd-stamp"
	vd_drop_root "$root"
	mv "$root.new" "$root"
	vd_log "7.x: sid chroot ready ($(du -sh --one-file-system "$root" | cut -f1))"
fi

vd_log "7.x: building $rel against $krel"
rm -rf "$root/build"
mkdir -p "$root/build"
for d in drivers include selftests ${rel:+"${rel%%/*}"}; do
	rsync -a --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude=modules.order --exclude=Module.symvers \
		--exclude=compat_probed.h "$top/$d" "$root/build/"
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! vd_in_root "$root" make -C "$hdr" M="/build/$rel" -j"$(nproc)" modules >"$log" 2>&1 ||
   ! compgen -G "$root/build/$rel/*.ko" >/dev/null; then
	cat "$log" >&2
	vd_die "7.x: building $rel failed"
fi
cp "$root/build/$rel"/*.ko "$mdir/"
for k in "$root/build/$rel"/*.ko; do echo "$mdir/${k##*/}"; done

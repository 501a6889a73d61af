#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build mainline's VFIO selftests (tools/testing/selftests/vfio) from
# Debian's newest linux-source-7.* (config.py's src7, resolved at fetch
# time), statically, with selftests/mainline-vfio/*.patch applied in the
# order its series file gives. The guest has no libuuid, no libc of the
# source's age: a static binary runs on every guest kernel.
#
# usage: build-vfio-selftests.sh
# Prints the dir holding the test programs. Cache:
# $VD_CACHE/vfio-selftests/VERSION-HASH/bin, HASH covering the
# patches, the series and this script; the log of the last build in
# $VD_CACHE/vfio-selftests.log. The source's tarball is fetch-source.sh's
# (src7); a build unpacks what it needs in a work dir of its own.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

top=$(cd "$(dirname "$0")/../../../.." && pwd)
pdir=$top/selftests/mainline-vfio
tree=$("$(dirname "$0")/fetch-source.sh" src7)
ver=$(cat "$VD_CACHE/src/src7/version")
patches=$(sed -e 's/^#.*//' -e '/^[[:space:]]*$/d' "$pdir/series" | awk '{ print $1 }')
hash=$( (cat "$0" "$pdir/series"; for p in $patches; do cat "$pdir/$p"; done) |
	sha256sum | cut -c1-12)
out=$VD_CACHE/vfio-selftests/$ver-$hash
if [ -x "$out/bin/vfio_pci_device_test" ]; then
	echo "$out/bin"
	exit 0
fi
# in the background, so that set -e holds inside (it does not in a
# subshell left of ||)
(
flock 9
[ -x "$out/bin/vfio_pci_device_test" ] && exit 0
vd_log "building mainline's VFIO selftests from linux-source $ver"
rm -rf "$out"
w=$out/work
mkdir -p "$w/src" "$w/uapi" "$out/bin"
# the parts of the source the suite includes, unpacked here (with what
# its symlinks name: the drivers' register headers), and the patches
# applied to this copy
pkg=$(basename "$tree")
tar -C "$w/src" -xf "$VD_CACHE"/src/src7/pkg/usr/src/linux-source-*.tar.* \
	--strip-components=1 --wildcards "$pkg/tools/testing/selftests/vfio" \
	"$pkg/tools/testing/selftests/kselftest*.h" "$pkg/tools/include" \
	"$pkg/tools/arch/x86/include" "$pkg/include/uapi" "$pkg/arch/x86/include/uapi" \
	"$pkg/scripts/headers_install.sh" "$pkg/scripts/unifdef.c" \
	"$pkg/include/linux/pci_ids.h" "$pkg/drivers/dma/idxd/registers.h" \
	"$pkg/drivers/dma/ioat/hw.h" "$pkg/drivers/dma/ioat/registers.h" \
	"$pkg/drivers/net/ethernet/intel/igb/e1000_*.h"
for p in $patches; do
	patch -s -d "$w/src" -p1 --no-backup-if-mismatch <"$pdir/$p" ||
		vd_die "selftests/mainline-vfio/$p does not apply to linux-source $ver"
done
# The uAPI headers, installed as make headers_install does, file by file
# (the partial tree has no kbuild): the host's are those of Debian 12's
# 6.1 and lack what the suite uses.
gcc -O2 -o "$w/src/scripts/unifdef" "$w/src/scripts/unifdef.c"
(cd "$w/src" && find include/uapi arch/x86/include/uapi -name '*.h') | while read -r h; do
	case $h in
	arch/x86/include/uapi/*) d=$w/uapi/${h#arch/x86/include/uapi/} ;;
	*) d=$w/uapi/${h#include/uapi/} ;;
	esac
	mkdir -p "$(dirname "$d")"
	(cd "$w/src" && sh scripts/headers_install.sh "$h" "$d")
done
vd=$w/src/tools/testing/selftests/vfio
cflags=(-O2 -g -Wall -Werror -D_GNU_SOURCE -pthread
	-I"$w/src/tools/include" -I"$vd/lib/include" -I"$w/src/tools/testing/selftests"
	-isystem "$w/uapi")
objs=()
for c in $(cd "$vd" && sed -n 's/^LIBVFIO_C += //p; s/^LIBVFIO_C := //p' lib/libvfio.mk); do
	o=$w/obj/${c%.c}.o
	mkdir -p "$(dirname "$o")"
	gcc "${cflags[@]}" -c "$vd/lib/$c" -o "$o"
	objs+=("$o")
done
for t in $(sed -n 's/^TEST_GEN_PROGS += //p' "$vd/Makefile"); do
	gcc "${cflags[@]}" -static "$vd/$t.c" "${objs[@]}" -luuid -o "$out/bin/$t"
done
# the programs are what is kept (other versions' too: a run of another
# tree may be using them); the sources are in the tarball
rm -rf "$w"
) 9>"$VD_CACHE/vfio-selftests.lock" >"$VD_CACHE/vfio-selftests.log" 2>&1 &
wait $! ||
	{ tail -n 40 "$VD_CACHE/vfio-selftests.log" >&2; vd_die "building mainline's VFIO selftests failed"; }
echo "$out/bin"

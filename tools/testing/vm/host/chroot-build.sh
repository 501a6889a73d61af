#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build out-of-tree modules for a guest kernel whose headers the host cannot
# use (config.py's BUILD_ROOT: trixie's 6.12, sid's 7.x): their kbuild tools
# are linked against a newer glibc than the host's and their Makefile names
# a newer gcc. The build runs in a minbase chroot of the tag's suite with
# the headers, gcc and linux-kbuild Debian built that kernel with, and dkms.
# One chroot per suite, cached as $VD_CACHE/SUITE-root and rebuilt when the
# tag's kernel changes; a warm chroot is used without touching the network.
#
# usage: chroot-build.sh TAG MODULE_DIR
#            -> the built *.ko land in MODULE_DIR (their paths on stdout)
#        chroot-build.sh --dkms TAG DKMS_DIR MODULE/VERSION
#            -> `dkms build MODULE/VERSION` of DKMS_DIR/src with its trees
#               DKMS_DIR/tree and DKMS_DIR/inst (what build.dkms_build does
#               on the host for the others), run in the chroot
# MODULE_DIR lies in a project tree (an ancestor with drivers/ include/
# selftests/); that tree is copied to /build in the chroot, since the
# modules include files by paths relative to their directory.
#
# A new chroot starts from a copy of pkg-test.sh's base chroot of the same
# suite ($VD_CACHE/roots/SUITE, taken under its lock, without its apt
# archives) when there is one, else from vd_debootstrap: the package tests
# keep their dir without headers, this one has its own.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() { vd_die "usage: chroot-build.sh TAG MODULE_DIR | --dkms TAG DKMS_DIR MODULE/VERSION"; }
dkms=
if [ "${1:-}" = --dkms ]; then
	if [ $# -ne 4 ] || [ ! -d "$3/src" ]; then usage; fi
	tag=$2 dkms=$(cd "$3" && pwd -P) modver=$4
else
	if [ $# -ne 2 ] || [ ! -d "$2" ]; then usage; fi
	tag=$1
	mdir=$(cd "$2" && pwd -P)
	top=$mdir
	until [ -d "$top/drivers" ] && [ -d "$top/include" ] && [ -d "$top/selftests" ]; do
		[ "$top" != / ] || vd_die "$mdir is not inside a project tree"
		top=$(dirname "$top")
	done
	rel=${mdir#"$top"}; rel=${rel#/}
fi
suite=$(vd_build_root "$tag")
[ -n "$suite" ] || vd_die "$tag: config.py names no build chroot for it (BUILD_ROOT)"

[ -n "$(vd_krel "$tag")" ] || "$VD_RIG/fetch-kernels.sh" "$tag"
krel=$(vd_krel "$tag")
ver=$(cat "$VD_CACHE/k/$tag/version" 2>/dev/null || true)
root=$VD_CACHE/$suite-root
hdr=/usr/src/linux-headers-$krel

# a new chroot: a copy of the package tests' base, or debootstrap
new_root() {
	local base=$VD_CACHE/roots/$suite main sec s
	if [ -f "$base/.vd-stamp" ]; then
		vd_drop_root "$root.new"
		vd_log "$tag: copying $base for the $suite build chroot"
		(
			flock 8
			rsync -a --one-file-system --exclude='/var/cache/apt/archives/*.deb' \
				"$base/" "$root.new/"
		) 8>"$base.lock"
	else
		vd_debootstrap "$suite" "$root.new"
	fi
	# apt in the chroot knows the tag's suites, as fetch-kernels.sh does
	main=${VD_MIRROR:-$(vd_mirror '')}
	sec=${VD_SECURITY_MIRROR:-$(vd_mirror '-security')}
	: >"$root.new/etc/apt/sources.list"
	for s in $(vd_suites "$tag"); do
		case $s in
		*-security) [ -z "$sec" ] || echo "deb $sec $s main" ;;
		*) echo "deb $main $s main" ;;
		esac >>"$root.new/etc/apt/sources.list"
	done
	rm -f "$root.new/.vd-stamp"
}

mkdir -p "$VD_CACHE"
exec 9>"$root.lock"
flock 9
if [ "$(cat "$root/.vd-stamp" 2>/dev/null)" != "$krel $ver" ] || [ ! -f "$root$hdr/Makefile" ]; then
	new_root
	vd_log "$tag: installing linux-headers-$krel${ver:+ ($ver)}, its toolchain and dkms in the $suite chroot"
	apt=(apt-get -q -y -o Acquire::Check-Valid-Until=false)
	# the headers package pulls in the gcc and linux-kbuild it was built for
	vd_in_root "$root.new" sh -c 'pkg=$1; shift; "$@" update && DEBIAN_FRONTEND=noninteractive \
		"$@" install --no-install-recommends make dkms "$pkg" && "$@" clean' \
		sh "linux-headers-$krel${ver:+=$ver}" "${apt[@]}" >>"$root.log" 2>&1 ||
		{ cat "$root.log" >&2; vd_die "installing the $tag headers in the $suite chroot failed" \
			"(has $suite moved on? rerun fetch-kernels.sh $tag)"; }
	rm -rf "$root.new/var/lib/apt/lists"/*_*
	echo "$krel $ver" >"$root.new/.vd-stamp"
	vd_drop_root "$root"
	mv "$root.new" "$root"
	vd_log "$tag: $suite chroot ready ($(du -sh --one-file-system "$root" | cut -f1))"
fi

rm -rf "$root/build"
mkdir -p "$root/build"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ -n "$dkms" ]; then
	vd_log "$tag: dkms build $modver against $krel in the $suite chroot"
	rsync -a "$dkms/src" "$root/build/dkms/"
	mkdir -p "$root/build/dkms/tree" "$root/build/dkms/inst"
	if ! vd_in_root "$root" dkms build "$modver" --dkmstree /build/dkms/tree \
			--sourcetree /build/dkms/src --installtree /build/dkms/inst \
			-k "$krel" --kernelsourcedir "$hdr" >"$log" 2>&1; then
		cat "$log"
		rsync -a "$root/build/dkms/tree/" "$dkms/tree/"
		vd_die "$tag: dkms build failed"
	fi
	cat "$log"
	rsync -a "$root/build/dkms/tree/" "$dkms/tree/"
	exit 0
fi

vd_log "$tag: building $rel against $krel in the $suite chroot"
for d in drivers include selftests ${rel:+"${rel%%/*}"}; do
	rsync -a --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude=modules.order --exclude=Module.symvers \
		--exclude=compat_probed.h "$top/$d" "$root/build/"
done
if ! vd_in_root "$root" make -C "$hdr" M="/build/$rel" -j"$(nproc)" modules >"$log" 2>&1 ||
   ! compgen -G "$root/build/$rel/*.ko" >/dev/null; then
	cat "$log" >&2
	vd_die "$tag: building $rel failed"
fi
cp "$root/build/$rel"/*.ko "$mdir/"
for k in "$root/build/$rel"/*.ko; do echo "$mdir/${k##*/}"; done

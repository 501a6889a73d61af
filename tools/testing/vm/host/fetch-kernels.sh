#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch the Debian guest kernels (image, modules, headers for module builds)
# into the cache, resolving each version from its suite's metapackage.
#
# usage: fetch-kernels.sh [TAG...]        (default: all of $VD_TAGS)
# The debug tags ($VD_DEBUG_TAGS: dbg, dbg2, dbg7, dbg7f) are built from source instead:
# see build-debug-kernel.sh.
# Result per tag, under $VD_CACHE/k/TAG/:
#   krel        the kernel release, e.g. 6.12.95+deb12-amd64
#   version     the Debian package version
#   vmlinux     ELF kernel for QEMU's PVH entry
#   root/       the unpacked image (+modules) packages; modules in root/lib/modules/KREL
#   kdir        path of the headers tree to build out-of-tree modules against
#               (only tags built on the host: config.py's BUILD_ROOT)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fetch() { # TAG DIR PKG... : download PKGs of TAG into DIR unless present
	local tag=$1 dir=$2 p
	shift 2
	mkdir -p "$dir"
	local want=()
	for p in "$@"; do
		compgen -G "$dir/${p}_*.deb" >/dev/null || want+=("$p")
	done
	[ ${#want[@]} -eq 0 ] && return 0
	vd_log "downloading ${want[*]}"
	(cd "$dir" && vd_apt "$tag" apt-get download "${want[@]}" >/dev/null)
}

first_file() { # the first of its arguments that is a file
	local f
	for f in "$@"; do [ -f "$f" ] && { echo "$f"; return 0; }; done
	return 0
}

one_tag() {
	local tag=$1 out=$VD_CACHE/k/$1 img krel ver pkgs=() hdrs=() p dir kimg mods
	vd_apt_init "$tag"
	img=$(vd_depends "$tag" linux-image-amd64 | grep -E '^linux-image-[0-9].*-amd64$' | head -n1)
	[ -n "$img" ] || vd_die "$tag: cannot resolve linux-image-amd64"
	krel=${img#linux-image-}
	ver=$(vd_apt "$tag" apt-cache show "$img" | awk '/^Version:/ && !v { v = $2 } END { print v }')
	if [ "$(cat "$out/krel" 2>/dev/null)" = "$krel" ] &&
	   [ "$(cat "$out/version" 2>/dev/null)" = "$ver" ] && [ -s "$out/vmlinux" ]; then
		vd_log "$tag: $krel ($ver) cached"
		return 0
	fi
	vd_log "$tag: resolved $krel ($ver)"
	if vd_has_pkg "$tag" "linux-image-$krel-unsigned"; then
		pkgs=("linux-image-$krel-unsigned")
	else	# newer packaging: the image package is a meta package
		for p in "linux-binary-unsigned-$krel" "linux-modules-$krel" "linux-base-$krel"; do
			vd_has_pkg "$tag" "$p" && pkgs+=("$p")
		done
	fi
	[ ${#pkgs[@]} -gt 0 ] || vd_die "$tag: no unsigned image package for $krel"
	if [ -z "$(vd_build_root "$tag")" ]; then
		# headers, for the tags whose modules the host builds (the
		# others' are installed in their build chroot: chroot-build.sh)
		hdrs=("linux-headers-$krel")
		for p in $(vd_depends "$tag" "linux-headers-$krel"); do
			case $p in linux-headers-*|linux-kbuild-*) hdrs+=("$p") ;; esac
		done
	fi
	dir=$VD_CACHE/debs/$tag
	fetch "$tag" "$dir" "${pkgs[@]}" "${hdrs[@]}"

	rm -rf "$out.new"
	mkdir -p "$out.new/root" "$out.new/hdr"
	for p in "${pkgs[@]}"; do dpkg-deb -x "$(ls "$dir/${p}"_*.deb | tail -n1)" "$out.new/root"; done
	for p in "${hdrs[@]}"; do dpkg-deb -x "$(ls "$dir/${p}"_*.deb | tail -n1)" "$out.new/hdr"; done
	# merged-/usr packages put modules under usr/lib; the rig wants one place
	if [ -d "$out.new/root/usr/lib/modules/$krel" ] && [ ! -e "$out.new/root/lib/modules/$krel" ]; then
		mkdir -p "$out.new/root/lib/modules"
		mv "$out.new/root/usr/lib/modules/$krel" "$out.new/root/lib/modules/"
	fi
	mods=$out.new/root/lib/modules/$krel
	[ -d "$mods" ] || vd_die "$tag: no modules dir for $krel"
	kimg=$(first_file "$out.new/root/boot/vmlinuz-$krel" "$mods"/vmlinuz*)
	[ -n "$kimg" ] || vd_die "$tag: no kernel image in ${pkgs[*]}"
	python3 "$VD_RIG/extract-vmlinux.py" "$kimg" "$out.new/vmlinux"
	cp "$(first_file "$out.new/root/boot/config-$krel" "$mods/config")" "$out.new/config"
	depmod -b "$out.new/root" "$krel"
	if [ ${#hdrs[@]} -gt 0 ]; then
		# The -amd64 headers' Makefile names /usr/src/...: point it at this copy.
		local h=$out.new/hdr/usr/src/linux-headers-$krel
		[ -f "$h/Makefile" ] || vd_die "$tag: no headers for $krel"
		sed -i -e "s|/usr/src/|$out/hdr/usr/src/|g" "$h/Makefile"
		echo "$out/hdr/usr/src/linux-headers-$krel" >"$out.new/kdir"
	fi
	echo "$krel" >"$out.new/krel"
	echo "$ver" >"$out.new/version"
	rm -rf "$out"
	mv "$out.new" "$out"
	vd_log "$tag: ready ($(du -sh "$out" | cut -f1))"
}

for t in "${@:-$VD_TAGS}"; do
	# shellcheck disable=SC2086
	for one in $t; do
		case " $VD_DEBUG_TAGS " in
		*" $one "*) "$VD_RIG/build-debug-kernel.sh" "$one" ;;
		*) one_tag "$one" ;;
		esac
	done
done

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch Debian's linux-source for a guest tag and unpack the parts asked for.
#
# usage: fetch-source.sh TAG [PATH...]
# Prints the unpacked tree's path ($VD_CACHE/src/TAG/linux-source-X.Y). Paths
# already unpacked are not unpacked again; with no PATH only the tarball is fetched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tag=$1
shift
vd_apt_init "$tag" >&2
pkg=$(vd_depends "$tag" linux-source | grep -E '^linux-source-[0-9.]+$' | head -n1)
[ -n "$pkg" ] || vd_die "$tag: cannot resolve linux-source"
ver=$(vd_apt "$tag" apt-cache show "$pkg" | awk '/^Version:/ && !v { v = $2 } END { print v }')
dir=$VD_CACHE/debs/$tag
mkdir -p "$dir"
deb=$dir/${pkg}_${ver//:/%3a}_all.deb
if [ ! -f "$deb" ]; then
	vd_log "downloading $pkg ($ver)"
	rm -f "$dir/${pkg}"_*.deb
	(cd "$dir" && vd_apt "$tag" apt-get download "$pkg=$ver" >/dev/null)
fi
out=$VD_CACHE/src/$tag
tree=$out/$pkg
if [ "$(cat "$out/version" 2>/dev/null)" != "$ver" ]; then
	rm -rf "$out"
	mkdir -p "$out/pkg"
	dpkg-deb -x "$deb" "$out/pkg"
	echo "$ver" >"$out/version"
fi
tarball=$(ls "$out"/pkg/usr/src/linux-source-*.tar.*)
want=()
for p in "$@"; do
	[ -e "$tree/$p" ] || want+=("$pkg/$p")
done
if [ ${#want[@]} -gt 0 ]; then
	vd_log "unpacking ${want[*]#"$pkg/"} from $pkg"
	tar -C "$out" -xf "$tarball" --wildcards "${want[@]}"
fi
echo "$tree"

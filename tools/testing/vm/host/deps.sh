#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the host packages the rig needs (Debian 12 or 13), only those
# missing (uuid-dev: mainline's VFIO selftests link libuuid statically),
# and the compiler each guest kernel built on the host names in its
# headers (gcc-12 for bookworm's kernels, which the debug kernel is built
# with too), which is not the host's default gcc on Debian 13. The kernels
# built in a chroot (config.py's BUILD_ROOT) bring their own there.
# Uses the system's apt as configured; never changes its sources.
set -euo pipefail
pkgs=(
	qemu-system-x86 busybox-static kmod build-essential libelf-dev
	bc bison flex libssl-dev dwarves cpio xz-utils zstd python3 rsync
	iproute2 rdma-core ibverbs-providers libibverbs-dev pkg-config
	debian-archive-keyring ca-certificates debootstrap dkms
	debhelper dh-dkms dpkg-dev
	uuid-dev
)
updated=false
install() { # install PKG... unless installed
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "vfio-dmabuf: missing host packages: ${missing[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "vfio-dmabuf: installing host packages: ${missing[*]}" >&2
	$updated || apt-get update -q >/dev/null
	updated=true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null
}
install "${pkgs[@]}"

. "$(dirname "$0")/lib.sh"
ccs=()
for t in $VD_TAGS; do
	[ -z "$(vd_build_root "$t")" ] || continue
	# the fetched kernel's config names it; before the first fetch, the
	# dependencies of its suite's headers do (gcc-N or linux-compiler-gcc-N-x86)
	cc=$(vd_cc "$t")
	if [ -z "$cc" ]; then
		vd_apt_init "$t"
		h=$(vd_depends "$t" linux-headers-amd64 | grep -m1 -E '^linux-headers-[0-9]' || true)
		cc=$([ -z "$h" ] || vd_depends "$t" "$h" |
			sed -nE 's/^(linux-compiler-)?(gcc-[0-9]+)(-x86)?$/\2/p' | head -n1)
		[ -n "$cc" ] || vd_die "$t: cannot tell which compiler its headers want"
	fi
	cc=${cc#x86_64-linux-gnu-}
	command -v "$cc" >/dev/null || [[ " ${ccs[*]} " == *" $cc "* ]] || ccs+=("$cc")
done
[ ${#ccs[@]} -eq 0 ] || install "${ccs[@]}"

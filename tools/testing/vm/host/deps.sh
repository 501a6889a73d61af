#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the host packages the rig needs (Debian 12), only those missing.
# Uses the system's apt as configured; never changes its sources.
set -euo pipefail
pkgs=(
	qemu-system-x86 busybox-static kmod build-essential libelf-dev
	bc bison flex libssl-dev dwarves cpio xz-utils zstd python3 rsync
	iproute2 rdma-core ibverbs-providers libibverbs-dev pkg-config
	debian-archive-keyring ca-certificates debootstrap dkms
	debhelper dh-dkms dpkg-dev
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "vfio-dmabuf: missing host packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "vfio-dmabuf: installing host packages: ${missing[*]}" >&2
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the base initramfs for a guest tag: busybox, the module closure the
# tests need (resolved on the host against the unpacked package tree), the
# rdma tools, and init. Tests, our modules and results travel over 9p.
#
# usage: mkinitramfs.sh TAG        -> prints the path of the cached image
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tag=$1
kd=$VD_CACHE/k/$tag
krel=$(vd_krel "$tag")
[ -n "$krel" ] || vd_die "$tag: kernel not fetched (run fetch-kernels.sh)"
base=$kd/root
md=$base/lib/modules/$krel
want="vfio vfio_iommu_type1 vfio-pci vfio-pci-core iommufd virtio_pci virtio_net
 9p 9pnet_virtio rdma_rxe ib_uverbs ib_core aer_inject crc32_generic crc32c_generic
 crc32-pclmul crc32c-intel"
# The kernel's config is in the key: the dbg kernel keeps its release when
# debug.config changes, and its modules with it. So is a built kernel's
# build id (k/TAG/build): a patched kernel (dbg7f) keeps its config and
# release when its patches change, and its modules change.
key=$(cat "$0" "$VD_GUEST/guest-init" /bin/busybox /usr/bin/rdma "$kd/config" \
	$([ -e "$kd/build" ] && echo "$kd/build") | sha256sum | cut -c1-16)
out=$VD_CACHE/initramfs/$tag-$krel-$key.cpio.gz
if [ -s "$out" ]; then echo "$out"; exit 0; fi

mkdir -p "$VD_CACHE/initramfs" "$VD_CACHE/tmp"
r=$(mktemp -d "$VD_CACHE/tmp/initramfs.XXXXXX")
trap 'rm -rf "$r" "$r.cpio.gz"' EXIT
mkdir -p "$r"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,mnt/host,lib64,usr/bin,usr/sbin} "$r/lib/modules/$krel"
cp /bin/busybox "$r/bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
# request_module() runs /sbin/modprobe (crc32 for rxe, rdma-link-rxe, ...)
for a in modprobe insmod rmmod lsmod depmod modinfo poweroff; do ln -sf ../bin/busybox "$r/sbin/$a"; done

for m in $want; do
	# a module the kernel lacks or builds in prints nothing
	modprobe -d "$base" -S "$krel" --show-depends "$m" 2>/dev/null |
		awk '$1 == "insmod" { print $2 }' || true
done | sort -u | while read -r f; do
	rel=${f#"$md"/}
	mkdir -p "$r/lib/modules/$krel/$(dirname "$rel")"
	case $f in
	*.xz)  xz -dc "$f" >"$r/lib/modules/$krel/${rel%.xz}" ;;
	*.zst) zstd -qdc "$f" >"$r/lib/modules/$krel/${rel%.zst}" ;;
	*)     cp "$f" "$r/lib/modules/$krel/$rel" ;;
	esac
done
cp "$md"/modules.order "$md"/modules.builtin "$md"/modules.builtin.modinfo \
   "$r/lib/modules/$krel/" 2>/dev/null || true
depmod -b "$r" "$krel"

# rdma (iproute2) with its shared libraries, and the rxe verbs provider
copy_with_libs() {
	local b=$1 l
	mkdir -p "$r$(dirname "$b")"
	cp -L "$b" "$r$b"
	for l in $(ldd "$b" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }'); do
		[ -f "$l" ] && { mkdir -p "$r$(dirname "$l")"; cp -Ln "$l" "$r$l"; }
	done
	return 0
}
copy_with_libs /usr/bin/rdma
copy_with_libs /usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so
mkdir -p "$r/etc/libibverbs.d"
cp /etc/libibverbs.d/rxe.driver "$r/etc/libibverbs.d/"

install -m 755 "$VD_GUEST/guest-init" "$r/init"
# two jobs may make the same image at once (check's lanes): each writes its
# own file, and the rename is atomic
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) >"$r.cpio.gz"
mv "$r.cpio.gz" "$out"
vd_log "$tag: initramfs $(du -h "$out" | cut -f1), $(find "$r/lib/modules" -name '*.ko' | wc -l) modules"
echo "$out"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages `make deb` builds the way the README says, in a
# fresh chroot of a Debian suite, then upgrade and add kernels under them:
#
#   trixie:   apt install the packages; install trixie's linux-headers-amd64
#             (6.12) -> DKMS builds for it; install trixie-backports' 7.x
#             image and headers -> apt succeeds, DKMS skips our module for
#             that kernel (its vfio-pci has the feature), the initrd exists;
#             purge the packages -> nothing of ours is left.
#   bookworm: the same with bookworm-backports' 6.12 headers, and no 7.x.
#
# usage: pkg-test.sh SUITE DEB...   prints TAP on stdout, logs on stderr.
# The suite's base chroot is cached in $VD_CACHE/roots/SUITE (a day); each run
# works in a copy of it.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

suite=$1
shift
debs=("$@")
case $suite in
trixie)   bpo=trixie-backports ;;
bookworm) bpo=bookworm-backports ;;
*)        vd_die "usage: pkg-test.sh trixie|bookworm DEB..." ;;
esac
base=$VD_CACHE/roots/$suite
mkdir -p "$VD_CACHE/roots"

exec 9>"$base.lock"
flock 9
if [ -z "$(find "$base/.vd-stamp" -mmin -1440 2>/dev/null)" ]; then
	vd_debootstrap "$suite" "$base.new" "$suite-updates" "$bpo"
	vd_in_root "$base.new" apt-get -q update >>"$base.new.log" 2>&1 ||
		{ cat "$base.new.log" >&2; vd_die "$suite: apt-get update failed"; }
	touch "$base.new/.vd-stamp"
	vd_drop_root "$base"
	mv "$base.new" "$base"
fi
work=$(mktemp -d "$base-test.XXXXXX")
cp -a "$base/." "$work/"
flock -u 9
# keep what apt downloaded for the next run, then drop the copy
finish() {
	flock 9
	cp -n "$work"/var/cache/apt/archives/*.deb "$base/var/cache/apt/archives/" 2>/dev/null
	rm -f "$base"/var/cache/apt/archives/vfio-*.deb
	flock -u 9
	vd_drop_root "$work"
	rm -f "$last"
}
trap finish EXIT

n=0
failed=0
log=$base-test.log
last=$work.last
: >"$log"
# step NAME CMD...: run CMD in the chroot; a TAP line; its output in the log
step() {
	local name=$1
	shift
	n=$((n + 1))
	if vd_in_root "$work" "$@" >"$last" 2>&1; then
		echo "ok $n - $suite: $name"
	else
		tail -25 "$last" | sed 's/^/# /'	# diagnostics before the result, as kselftest
		echo "not ok $n - $suite: $name"
		failed=$((failed + 1))
	fi
	{ echo "### $name"; cat "$last"; } >>"$log"
}
# check NAME SHELL-TEST: like step, with a shell test in the chroot
check() { step "$1" sh -c "$2"; }
# seen NAME PATTERN: the output of the last step has a line matching PATTERN
seen() {
	n=$((n + 1))
	if grep -q -- "$2" "$last"; then
		echo "ok $n - $suite: $1"
	else
		echo "not ok $n - $suite: $1"
		failed=$((failed + 1))
	fi
}

mkdir -p "$work/root/deb"
cp "${debs[@]}" "$work/root/deb/"
apt=(apt-get -q -y -o Dpkg::Use-Pty=0)

# As the README says, with the packages `make deb` wrote.
step "apt install ./vfio-pci-dmabuf-dkms_*.deb ./vfio-dmabuf-tools_*.deb" \
	sh -c 'cd /root/deb && apt-get -q -y -o Dpkg::Use-Pty=0 install ./vfio-pci-dmabuf-dkms_*.deb ./vfio-dmabuf-tools_*.deb'
check "vfio-dmabuf --help runs" 'vfio-dmabuf --help >/dev/null'

# A kernel (headers) arrives after the packages: DKMS builds for it.
if [ "$suite" = trixie ]; then
	step "apt install linux-headers-amd64 (trixie's 6.12)" "${apt[@]}" install linux-headers-amd64
else
	step "apt install -t $bpo linux-headers-amd64 (6.12)" "${apt[@]}" install -t "$bpo" linux-headers-amd64
fi
check "DKMS built and installed the module for that kernel" \
	'k=$(ls /lib/modules | grep "^6\.12" | head -n1) && [ -n "$k" ] &&
	 dkms status -m vfio-pci-dmabuf -k "$k" | grep -q installed &&
	 modinfo -k "$k" -F vermagic vfio-pci-dmabuf | grep -q "^$k "'

if [ "$suite" = trixie ]; then
	# A kernel whose vfio-pci has the feature: installing it must not fail.
	step "apt install -t $bpo linux-image-amd64 linux-headers-amd64 (7.x) succeeds" \
		"${apt[@]}" install -t "$bpo" linux-image-amd64 linux-headers-amd64
	seen "DKMS says it skipped the module for 7.x" \
		"skipped for module(s) vfio-pci-dmabuf"
	seen "and why: use vfio-pci there" \
		"vfio-pci-dmabuf: not built for 7.*bind devices to vfio-pci there"
	check "dpkg has nothing left unconfigured" '[ -z "$(dpkg --audit)" ]'
	check "the 7.x kernel has CONFIG_VFIO_PCI_DMABUF and an initrd" \
		'k=$(ls /lib/modules | grep "^7\." | head -n1) && [ -n "$k" ] &&
		 grep -q "^CONFIG_VFIO_PCI_DMABUF=y" /boot/config-$k && [ -s /boot/initrd.img-$k ]'
	check "no module for the 7.x kernel" \
		'k=$(ls /lib/modules | grep "^7\." | head -n1) &&
		 ! dkms status -m vfio-pci-dmabuf -k "$k" | grep -q installed &&
		 ! modinfo -k "$k" vfio-pci-dmabuf >/dev/null 2>&1'
fi

step "apt purge vfio-pci-dmabuf-dkms vfio-dmabuf-tools" \
	"${apt[@]}" purge vfio-pci-dmabuf-dkms vfio-dmabuf-tools
check "nothing of ours is left" \
	'! ls -d /usr/src/vfio-pci-dmabuf-* /var/lib/dkms/vfio-pci-dmabuf 2>/dev/null | grep -q . &&
	 ! find /lib/modules -name "vfio-pci-dmabuf.ko*" | grep -q . &&
	 [ ! -e /usr/sbin/vfio-dmabuf ]'
# Without packages, from the tree: make dkms-install builds for every kernel
# with headers (here 6.12; 7.x skipped with the same words), dkms-remove.
mkdir -p "$work/root/src"
(cd "$VD_TOP" && cp -r Makefile dkms.conf drivers include "$work/root/src/")
step "make dkms-install (from the tree)" sh -c 'apt-get -q -y install make >/dev/null &&
	make -C /root/src clean-tree >/dev/null && make -C /root/src dkms-install'
if [ "$suite" = trixie ]; then
	seen "make dkms-install skips 7.x" "vfio-pci-dmabuf: skipped for 7\."
	seen "and says why: use vfio-pci there" \
		"vfio-pci-dmabuf: not built for 7.*bind devices to vfio-pci there"
fi
check "make dkms-install installed the module for every 6.x kernel" \
	'for k in $(ls /lib/modules | grep "^6\."); do
		dkms status -m vfio-pci-dmabuf -k "$k" | grep -q installed || exit 1; done'
step "make dkms-remove" make -C /root/src dkms-remove
check "nothing of ours is left after dkms-remove" \
	'! ls -d /usr/src/vfio-pci-dmabuf-* /var/lib/dkms/vfio-pci-dmabuf 2>/dev/null | grep -q . &&
	 ! find /lib/modules -name "vfio-pci-dmabuf.ko*" | grep -q .'
echo "1..$n"
[ "$failed" = 0 ]

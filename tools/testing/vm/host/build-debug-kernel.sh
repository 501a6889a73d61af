#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the "dbg" guest kernel: Debian's linux-source-6.12 (the 6.12 tag's
# suite, version resolved at fetch time) configured from allnoconfig plus
# debug.config: lockdep, KASAN, kmemleak, debugobjects, fault injection, and
# only the drivers the rig's machine and the suite use. fetch-kernels.sh dbg
# runs this; it can also be run by hand.
#
# usage: build-debug-kernel.sh [--config-only | --clean]
#   --config-only  make and check a .config (in a scratch dir), print its
#                  path, build nothing
#   --clean        build from scratch (default: kbuild redoes what changed)
#
# Result: $VD_CACHE/k/dbg/, laid out like the Debian tags (fetch-kernels.sh):
#   krel, version (Debian's source version), vmlinux (ELF with a PVH note),
#   config, root/lib/modules/KREL (modules_install + depmod), kdir (the O=
#   build dir: make -C $(cat kdir) M=DIR modules builds against it), and
#   build (the cache key below).
# Cache: the whole source tree in $VD_CACHE/src/dbg/, the build in
# $VD_CACHE/build/dbg-VERSION/{obj,build.log}. k/dbg/build records
# VERSION-HASH, HASH covering debug.config and this script: when either
# changes, the same obj/ is reconfigured and kbuild rebuilds only what the
# change touches (minutes instead of a cold build). A new source version
# gets a new build dir; the old one is removed once the new one succeeded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

config_only=false
clean=false
case ${1:-} in
--config-only) config_only=true ;;
--clean) clean=true ;;
"") ;;
*) vd_die "usage: build-debug-kernel.sh [--config-only | --clean]" ;;
esac

frag=$VD_RIG/debug.config
jobs=${VD_JOBS:-$(nproc)}
t0=$SECONDS
elapsed() { printf '%dm%02ds' $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)); }

# One build at a time (check.py runs may overlap); the lock is released
# when this script exits.
mkdir -p "$VD_CACHE/build"
exec 9>"$VD_CACHE/build/dbg.lock"
flock 9

# The source: fetch-source.sh resolves linux-source-6.12 from the 6.12 tag's
# suite and keeps the .deb's tarball in $VD_CACHE/src/6.12/pkg. It unpacks
# only the paths asked for, so the full tree lives apart, in src/dbg.
"$VD_RIG/fetch-source.sh" "$VD_DBG_SOURCE_TAG" >/dev/null
ver=$(cat "$VD_CACHE/src/$VD_DBG_SOURCE_TAG/version")
tarball=$(ls "$VD_CACHE/src/$VD_DBG_SOURCE_TAG"/pkg/usr/src/linux-source-*.tar.*)
sd=$VD_CACHE/src/dbg
if [ "$(cat "$sd/version" 2>/dev/null)" != "$ver" ]; then
	vd_log "dbg: unpacking $(basename "$tarball") ($ver)"
	rm -rf "$sd"
	mkdir -p "$sd.new"
	tar -C "$sd.new" -xf "$tarball"
	echo "$ver" >"$sd.new/version"
	mv "$sd.new" "$sd"
fi
src=$(ls -d "$sd"/linux-source-*/)
src=${src%/}

# The compiler: the one Debian built the source tag's kernel with (its
# config's CONFIG_CC_VERSION_TEXT, e.g. x86_64-linux-gnu-gcc-12; deps.sh
# installs it), not the host's default, which is gcc-14 on Debian 13. Its
# version is in the build dir's name and the key: a host switch never
# reuses objects another compiler built.
[ -n "$(vd_cc "$VD_DBG_SOURCE_TAG")" ] || "$VD_RIG/fetch-kernels.sh" "$VD_DBG_SOURCE_TAG"
cc=$(vd_cc "$VD_DBG_SOURCE_TAG")
command -v "$cc" >/dev/null || vd_die "dbg: no $cc on the host (host/deps.sh installs it)"
key=$( { cat "$frag" "$0"; "$cc" --version | head -n1; } | sha256sum | cut -c1-12)
# Debian versions hold '~' and '+': keep make's paths plain.
bd=$VD_CACHE/build/dbg-$(echo "$ver" | tr -c 'A-Za-z0-9.\n-' '_')
bd=$bd-$(echo "${cc#x86_64-linux-gnu-}-$("$cc" -dumpfullversion)" | tr -c 'A-Za-z0-9.\n-' '_')
id=$(basename "$bd")-$key
obj=$bd/obj
out=$VD_CACHE/k/dbg
if $config_only; then
	obj=$bd/config-only
elif ! $clean && [ "$(cat "$out/build" 2>/dev/null)" = "$id" ] &&
     [ -s "$out/vmlinux" ] && [ -d "$obj" ]; then
	vd_log "dbg: $(cat "$out/krel") (Debian source $ver, debug.config $key) cached"
	exit 0
else
	# obj/ is about to change under k/dbg/kdir: k/dbg is stale until done.
	rm -f "$out/build"
fi
if $clean; then rm -rf "$obj"; fi
cold=false
[ -e "$obj/.config" ] || cold=true
mkdir -p "$obj"
touch "$bd/.vd-kbuild"
log=$bd/build.log
$config_only && log=$obj/config.log
kmake() { make -C "$src" O="$obj" CC="$cc" "$@"; }

# allnoconfig with the fragment as its base: what the fragment does not
# name stays off, which is what keeps this build small.
vd_log "dbg: configuring $id (log: $log)"
kmake KCONFIG_ALLCONFIG="$frag" allnoconfig >"$log" 2>&1 ||
	{ tail -n 20 "$log" >&2; vd_die "dbg: allnoconfig failed"; }
# Kconfig silently drops a symbol whose dependencies are unmet: check that
# every line of the fragment made it into .config as written.
missing=()
while read -r line; do
	case $line in
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		if grep -q "^$sym=" "$obj/.config"; then
			missing+=("$line (got $(grep "^$sym=" "$obj/.config"))")
		fi ;;
	CONFIG_*)
		if ! grep -qxF -- "$line" "$obj/.config"; then
			got=$(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo "absent")
			missing+=("$line (got: $got)")
		fi ;;
	esac
done <"$frag"
if [ ${#missing[@]} -gt 0 ]; then
	vd_log "dbg: these debug.config lines did not make it into $obj/.config" \
		"(an unmet dependency?):"
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi
if $config_only; then
	echo "$obj/.config"
	exit 0
fi

# The build: 6-9 minutes cold on 2 cores. A line every 30 s says how far it
# is; a cold build against the number of files the last one compiled. The
# ticker lets go of the lock and stops by itself should this script die.
last=
$cold && last=$(cat "$VD_CACHE/build/dbg.files" 2>/dev/null || true)
vd_log "dbg: building vmlinux and modules with -j$jobs ($($cold && echo cold ||
	echo incremental)${last:+, $last files last time})"
(
	exec 9>&-
	while sleep 30 && kill -0 $$ 2>/dev/null; do
		n=$(grep -c '^  CC' "$log" || true)
		vd_log "dbg: building, $n${last:+/~$last} files compiled, $(elapsed)"
	done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null || true' EXIT
if ! kmake -j"$jobs" vmlinux modules >>"$log" 2>&1; then
	kill "$ticker" 2>/dev/null || true
	grep -E 'error|Error' "$log" | tail -n 20 >&2 || true
	vd_die "dbg: build failed after $(elapsed); see $log"
fi
kill "$ticker" 2>/dev/null || true
if $cold; then grep -c '^  CC' "$log" >"$VD_CACHE/build/dbg.files" || true; fi
krel=$(kmake -s kernelrelease)
vd_log "dbg: built $krel in $(elapsed)"

# Same layout as a fetched tag; populate beside it, then swap.
rm -rf "$out.new"
mkdir -p "$out.new/root"
# depmod as fetch-kernels.sh runs it, not the one modules_install would.
kmake INSTALL_MOD_PATH="$out.new/root" INSTALL_MOD_STRIP=1 DEPMOD=/bin/true \
	modules_install >>"$log" 2>&1 || vd_die "dbg: modules_install failed; see $log"
# No build/ or source/ links into the build trees in root/ (kdir says where).
rm -f "$out.new/root/lib/modules/$krel/build" "$out.new/root/lib/modules/$krel/source"
depmod -b "$out.new/root" "$krel"
cp "$obj/vmlinux" "$out.new/vmlinux"
cp "$obj/.config" "$out.new/config"
echo "$obj" >"$out.new/kdir"
echo "$krel" >"$out.new/krel"
echo "$ver" >"$out.new/version"
echo "$id" >"$out.new/build"
rm -rf "$out"
mv "$out.new" "$out"

# Builds of other source versions are no longer referenced by k/dbg/kdir
# (those of this version by another compiler stay for their host).
for d in "$VD_CACHE"/build/dbg-*/; do
	d=${d%/}
	case $d in "$VD_CACHE/build/dbg-$(echo "$ver" | tr -c 'A-Za-z0-9.\n-' '_')"*) continue ;; esac
	if [ -e "$d/.vd-kbuild" ]; then rm -rf "$d"; fi
done
vd_log "dbg: ready: $krel, vmlinux $(du -h "$out/vmlinux" | cut -f1), $(elapsed) in all"

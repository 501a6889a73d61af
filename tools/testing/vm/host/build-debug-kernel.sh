#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build a debug guest kernel, TAG one of config.py's DEBUG_KERNELS ("dbg",
# the default, "dbg2", "dbg7" or "dbg7f"): Debian's linux-source of the
# tag's source tag (6.12: the 6.12 tag's suite; src7: trixie-backports'
# newest 7.x; the version resolved at fetch time) configured from
# allnoconfig plus the tag's fragments (debug.config: lockdep, KASAN,
# kmemleak, debugobjects, fault injection, and only the drivers the rig's
# machine and the suite use; dbg2 adds debug-p2p.config, dbg7
# debug-7.config). A tag in DEBUG_PATCHES (dbg7f) is built with the
# project's upstream/ patches applied, in upstream/series's order.
# fetch-kernels.sh TAG runs this; it
# can also be run by hand.
#
# usage: build-debug-kernel.sh [TAG] [--config-only | --clean]
#   --config-only  make and check a .config (in a scratch dir), print its
#                  path, build nothing
#   --clean        build from scratch (default: kbuild redoes what changed)
#
# Result: $VD_CACHE/k/TAG/, laid out like the Debian tags (fetch-kernels.sh):
#   krel, version (Debian's source version), vmlinux (ELF with a PVH note),
#   config, root/lib/modules/KREL (modules_install + depmod), kdir (the O=
#   build dir: make -C $(cat kdir) M=DIR modules builds against it), and
#   build (the cache key below).
# Cache: the whole source tree in $VD_CACHE/src/DIR/ (DEBUG_SOURCES' DIR:
# one for every tag built from that source), the build in
# $VD_CACHE/build/TAG-VERSION/{obj,build.log}. k/TAG/build
# records TAG-VERSION-HASH, HASH covering the tag's merged fragments and this
# script: when one changes, the same obj/ is reconfigured and kbuild
# rebuilds only what the change touches (minutes instead of a cold build).
# A new source version gets a new build dir; the old one is removed once
# the new one succeeded.
#
# A patched tag (DEBUG_PATCHES) is built in its base tag's build dir, from
# the same tree and with the same config: kbuild then recompiles only what
# the patches touch (a copy of the objects elsewhere would not do: objtool
# is rebuilt for a new path, and every object after it). The patches are
# applied in place for the build and reverted after it, under the build
# lock; SRCDIR/.vd-applied/ holds what is applied while it is, and a build
# that died there is reverted by the next one. The objects left are the
# patched ones: a rebuild of the base tag recompiles the files the patches
# touched (their reverted sources are newer). Both tags' kdir is that dir;
# their configs are one, so the modules built against it load on both.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage="usage: build-debug-kernel.sh [TAG] [--config-only | --clean]"
tag=$VD_DEBUG_TAG
case ${1:-} in
-*|"") ;;
*) tag=$1; shift ;;
esac
config_only=false
clean=false
case ${1:-} in
--config-only) config_only=true ;;
--clean) clean=true ;;
"") ;;
*) vd_die "$usage" ;;
esac
tv=${tag//[^A-Za-z0-9]/_}
fv=VD_FRAGS_$tv
[ -n "${!fv:-}" ] || vd_die "$tag: not one of the debug tags ($VD_DEBUG_TAGS); $usage"
sv=VD_DBG_SOURCE_$tv
srctag=${!sv}
sv=VD_DBG_SRCDIR_${srctag//[^A-Za-z0-9]/_}
srcdir=${!sv}
sv=VD_DBG_CC_${srctag//[^A-Za-z0-9]/_}
srccc=${!sv}
# A patched tag's patches: the files its folder's series names, in order
# (host/upstream.py reads it the same way, and checks it names them all).
pv=VD_DBG_PATCHES_$tv
patches=()
if [ -n "${!pv:-}" ]; then
	for p in $(awk '{ sub(/#.*/, "") } NF { print $1 }' "${!pv}/series"); do
		patches+=("${!pv}/$p")
	done
	[ ${#patches[@]} -gt 0 ] || vd_die "$tag: no patches in ${!pv}/series"
fi
frags=()
for f in ${!fv}; do frags+=("$VD_RIG/$f"); done
jobs=${VD_JOBS:-$(nproc)}
t0=$SECONDS
elapsed() { printf '%dm%02ds' $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)); }

# One build at a time, of any tag (check.py runs may overlap, the tags
# share their source tree, and a patched tag patches it in place); the lock
# is released when this script exits.
mkdir -p "$VD_CACHE/build"
exec 9>"$VD_CACHE/build/dbg.lock"
flock 9

# The source: fetch-source.sh resolves linux-source-X.Y from the source
# tag's suite and keeps the .deb's tarball in $VD_CACHE/src/SRCTAG/pkg. It
# unpacks only the paths asked for, so the full tree lives apart, in
# src/SRCDIR.
"$VD_RIG/fetch-source.sh" "$srctag" >/dev/null
ver=$(cat "$VD_CACHE/src/$srctag/version")
tarball=$(ls "$VD_CACHE/src/$srctag"/pkg/usr/src/linux-source-*.tar.*)
sd=$VD_CACHE/src/$srcdir
if [ "$(cat "$sd/version" 2>/dev/null)" != "$ver" ]; then
	vd_log "$tag: unpacking $(basename "$tarball") ($ver)"
	rm -rf "$sd"
	mkdir -p "$sd.new"
	tar -C "$sd.new" -xf "$tarball"
	echo "$ver" >"$sd.new/version"
	mv "$sd.new" "$sd"
fi
src=$(ls -d "$sd"/linux-source-*/)
src=${src%/}

# Revert what is applied, the last patch first; a build that died with
# patches applied left them in .vd-applied/.
unpatch() {
	local p
	[ -d "$sd/.vd-applied" ] || return 0
	for p in $(ls -r "$sd/.vd-applied"); do
		patch -d "$src" -p1 -R -s -f <"$sd/.vd-applied/$p" >/dev/null ||
			vd_die "cannot revert $p in $src; remove $sd"
		rm -f "$sd/.vd-applied/$p"
	done
	rmdir "$sd/.vd-applied"
}
unpatch

# The fragments as one, a symbol's last line winning: kconfig would take
# the last too, but only after a warning, and the check below wants one
# line per symbol. With one fragment (dbg) this is that fragment's bytes.
merged=$(awk '{ s = ""; if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) s = substr($0, 1, RLENGTH - 1)
       else if (match($0, /^# CONFIG_[A-Za-z0-9_]+ is not set$/)) s = $2
       line[NR] = $0; sym[NR] = s; if (s != "") last[s] = NR }
     END { for (i = 1; i <= NR; i++) if (sym[i] == "" || last[sym[i]] == i) print line[i] }' \
	"${frags[@]}")
# The compiler: the one Debian built the source tag's kernel with (its
# config's CONFIG_CC_VERSION_TEXT, e.g. x86_64-linux-gnu-gcc-12; deps.sh
# installs it), not the host's default, which is gcc-14 on Debian 13. Its
# version is in the build dir's name and the key: a host switch never
# reuses objects another compiler built.
if [ -n "$srccc" ]; then
	cc=$srccc
else
	[ -n "$(vd_cc "$srctag")" ] || "$VD_RIG/fetch-kernels.sh" "$srctag"
	cc=$(vd_cc "$srctag")
fi
command -v "$cc" >/dev/null || vd_die "$tag: no $cc on the host (host/deps.sh installs it)"
# The key: what configures the kernel (the merged fragment), how it is
# built (this script), by which compiler, and the patches.
key=$( { printf '%s\n' "$merged"; cat "$0"; "$cc" --version | head -n1
	 [ ${#patches[@]} -eq 0 ] || cat "${patches[@]}"; } |
	sha256sum | cut -c1-12)
# Debian versions hold '~' and '+': keep make's paths plain.
bv=VD_DBG_BASE_$tv
base=${!bv:-}
vdir=${base:-$tag}-$(echo "$ver" | tr -c 'A-Za-z0-9.\n-' '_')
bd=$VD_CACHE/build/$vdir-$(echo "${cc#x86_64-linux-gnu-}-$("$cc" -dumpfullversion)" |
	tr -c 'A-Za-z0-9.\n-' '_')
id=$(basename "$bd")-$key
obj=$bd/obj
out=$VD_CACHE/k/$tag
if $config_only; then
	obj=$bd/config-only
elif ! $clean && [ "$(cat "$out/build" 2>/dev/null)" = "$id" ] &&
     [ -s "$out/vmlinux" ] && [ -d "$obj" ]; then
	vd_log "$tag: $(cat "$out/krel") (Debian source $ver, ${!fv} $key) cached"
	exit 0
else
	# obj/ is about to change under k/TAG/kdir: k/TAG is stale until done.
	rm -f "$out/build"
fi
if $clean; then rm -rf "$obj"; fi
cold=false
[ -e "$obj/.config" ] || cold=true
mkdir -p "$obj"
touch "$bd/.vd-kbuild"
log=$bd/build${base:+-$tag}.log
$config_only && log=$obj/config.log
kmake() { make -C "$src" O="$obj" CC="$cc" "$@"; }

frag=$obj/fragment.config
printf '%s\n' "$merged" >"$frag"

# The patches, applied in place until this script exits (see the top).
if [ ${#patches[@]} -gt 0 ]; then
	mkdir -p "$sd/.vd-applied"
	for p in "${patches[@]}"; do
		patch -d "$src" -p1 -s -f --dry-run <"$p" >"$obj/patch.log" 2>&1 ||
			{ cat "$obj/patch.log" >&2; vd_die "$tag: $(basename "$p") does not apply to $ver"; }
		cp "$p" "$sd/.vd-applied/"
		patch -d "$src" -p1 -s -f <"$p" >/dev/null
	done
	vd_log "$tag: applied ${#patches[@]} patches to $ver: ${patches[*]##*/}"
	trap unpatch EXIT
fi

# allnoconfig with the fragment as its base: what the fragment does not
# name stays off, which is what keeps this build small.
vd_log "$tag: configuring $id (log: $log)"
kmake KCONFIG_ALLCONFIG="$frag" allnoconfig >"$log" 2>&1 ||
	{ tail -n 20 "$log" >&2; vd_die "$tag: allnoconfig failed"; }
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
	vd_log "$tag: these lines of ${!fv} did not make it into $obj/.config" \
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
$cold && last=$(cat "$VD_CACHE/build/$tag.files" 2>/dev/null || true)
vd_log "$tag: building vmlinux and modules with -j$jobs ($($cold && echo cold ||
	echo incremental)${last:+, $last files last time})"
(
	exec 9>&-
	while sleep 30 && kill -0 $$ 2>/dev/null; do
		n=$(grep -c '^  CC' "$log" || true)
		vd_log "$tag: building, $n${last:+/~$last} files compiled, $(elapsed)"
	done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null || true; unpatch' EXIT
if ! kmake -j"$jobs" vmlinux modules >>"$log" 2>&1; then
	kill "$ticker" 2>/dev/null || true
	grep -E 'error|Error' "$log" | tail -n 20 >&2 || true
	vd_die "$tag: build failed after $(elapsed); see $log"
fi
kill "$ticker" 2>/dev/null || true
if $cold; then grep -c '^  CC' "$log" >"$VD_CACHE/build/$tag.files" || true; fi
krel=$(kmake -s kernelrelease)
vd_log "$tag: built $krel in $(elapsed)"

# Same layout as a fetched tag; populate beside it, then swap.
rm -rf "$out.new"
mkdir -p "$out.new/root"
# depmod as fetch-kernels.sh runs it, not the one modules_install would.
kmake INSTALL_MOD_PATH="$out.new/root" INSTALL_MOD_STRIP=1 DEPMOD=/bin/true \
	modules_install >>"$log" 2>&1 || vd_die "$tag: modules_install failed; see $log"
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

# Builds of other source versions are no longer referenced by k/TAG/kdir
# (those of this version by another compiler stay for their host).
for d in "$VD_CACHE/build/$tag"-*/; do
	d=${d%/}
	case $d in "$VD_CACHE/build/$vdir"-*) continue ;; esac
	if [ -e "$d/.vd-kbuild" ]; then rm -rf "$d"; fi
done
vd_log "$tag: ready: $krel, vmlinux $(du -h "$out/vmlinux" | cut -f1), $(elapsed) in all"

# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the rig's host scripts (host/*.sh). Sourced, not
# executed. The guest's are guest/guest-lib.sh.
#
# Everything fetched or built lives under $VD_CACHE; nothing outside it is
# written except the packages that deps.sh installs. The system's apt
# sources are never touched: each Debian suite gets its own private apt state.

VD_TOP=${VD_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)}
# The host scripts' folder (tools/testing/vm/host), and the guest's.
VD_RIG=$VD_TOP/tools/testing/vm/host
VD_GUEST=$VD_TOP/tools/testing/vm/guest

# The guest kernels and the cache, from the one place that defines them
# (host/config.py): VD_CACHE; VD_TAGS, the Debian kernels ("6.1 6.12 7.x");
# VD_DEBUG_TAGS, the ones built from source ("dbg dbg2 dbg7 dbg7f",
# build-debug-kernel.sh), each with its config fragments in
# VD_FRAGS_<tag> and the source tag whose linux-source it is built from in
# VD_DBG_SOURCE_<tag>, the first of them VD_DEBUG_TAG; per source tag,
# VD_DBG_SRCDIR_ and VD_DBG_CC_ (its unpacked tree's dir, its compiler);
# per patched tag, VD_DBG_PATCHES_ and VD_DBG_BASE_; and
# VD_SUITES_<tag>, the Debian suites whose metapackage names each kernel
# (or, for a source tag such as src7, its linux-source)
# (the exact version is resolved at fetch time and recorded in
# $VD_CACHE/k/<tag>/krel); VD_BUILD_ROOT_<tag>, the suite of the chroot
# that builds its modules, for the tags whose headers the host cannot use.
vd_config=$(python3 "$VD_RIG/config.py" --shell) || { echo "vfio-dmabuf: host/config.py failed" >&2; exit 1; }
eval "$vd_config"
unset vd_config
vd_suites() { # vd_suites TAG: its suites, as config.py's SUITES says
	local v=VD_SUITES_${1//[^A-Za-z0-9]/_}
	[ -n "${!v:-}" ] || return 1
	echo "${!v}"
}

vd_build_root() { # vd_build_root TAG: the suite of its build chroot; none: the host
	local v=VD_BUILD_ROOT_${1//[^A-Za-z0-9]/_}
	echo "${!v:-}"
}

vd_log() { printf '%s\n' "vfio-dmabuf: $*" >&2; }
vd_die() { vd_log "error: $*"; exit 1; }

# The mirror the system already uses; override with VD_MIRROR / VD_SECURITY_MIRROR.
vd_mirror() {
	local kind=$1 uri
	uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
		/etc/apt/sources.list.d/*.list 2>/dev/null |
	      grep -oE '(https?|file)://[^ ]+' | grep -E "/debian${kind}/?$" | head -n1)
	echo "${uri%/}"
}

# vd_apt SUITE-KEY apt-get|apt-cache ARGS...: run apt against a private state dir.
vd_apt() {
	local key=$1 tool=$2 st=$VD_CACHE/apt/$1
	shift 2
	"$tool" -q -o Dir::Etc::SourceList="$st/sources.list" \
		-o Dir::Etc::SourceParts="$st/parts" \
		-o Dir::State::Lists="$st/lists" \
		-o Dir::Cache="$st/cache" \
		-o Dir::State::status=/dev/null \
		-o APT::Sandbox::User=root \
		-o Acquire::Check-Valid-Until=false \
		-o Acquire::Languages=none \
		-o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false \
		"$@"
}

# vd_apt_init TAG: write the private sources for TAG's suites and update them
# (at most once an hour, so a warm cache works offline for a while). Jobs
# running side by side (check's lanes) take turns: apt locks its lists.
vd_apt_init() {
	mkdir -p "$VD_CACHE/apt"
	(
		flock 9
		vd_apt_init_locked "$1"
	) 9>"$VD_CACHE/apt/$1.lock" || exit 1
}

vd_apt_init_locked() {
	local tag=$1 st=$VD_CACHE/apt/$1 main sec s
	main=${VD_MIRROR:-$(vd_mirror '')}
	sec=${VD_SECURITY_MIRROR:-$(vd_mirror '-security')}
	[ -n "$main" ] || vd_die "no Debian mirror in the system's apt sources; set VD_MIRROR"
	mkdir -p "$st/lists/partial" "$st/cache/archives/partial" "$st/parts"
	: >"$st/sources.list.new"
	for s in $(vd_suites "$tag"); do
		case $s in
		*-security) [ -n "$sec" ] && echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $sec $s main" ;;
		*) echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $main $s main" ;;
		esac >>"$st/sources.list.new"
	done
	if ! cmp -s "$st/sources.list.new" "$st/sources.list" ||
	   [ -z "$(find "$st/stamp" -mmin -60 2>/dev/null)" ]; then
		mv "$st/sources.list.new" "$st/sources.list"
		vd_apt "$tag" apt-get update >"$st/update.log" 2>&1 ||
			{ cat "$st/update.log" >&2; vd_die "apt-get update for $tag failed"; }
		touch "$st/stamp"
	else
		rm -f "$st/sources.list.new"
	fi
}

# vd_depends TAG PKG: the names PKG depends on (first alternative of each).
vd_depends() {
	vd_apt "$1" apt-cache depends --no-recommends --no-suggests --no-enhances \
		--no-conflicts --no-breaks --no-replaces "$2" 2>/dev/null |
		awk '$1 == "Depends:" || $1 == "|Depends:" { print $2 }' | tr -d '<>'
}

vd_has_pkg() {
	vd_apt "$1" apt-cache show "$2" >/dev/null 2>&1
}

# vd_krel TAG: the resolved kernel release of a fetched tag.
vd_krel() { cat "$VD_CACHE/k/$1/krel" 2>/dev/null; }

# vd_cc TAG: the compiler a fetched tag's kernel was built with, as its
# config names it (e.g. x86_64-linux-gnu-gcc-12); its out-of-tree modules
# are built with it.
vd_cc() {
	sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$VD_CACHE/k/$1/config" 2>/dev/null || true
}

# vd_in_root DIR CMD...: run CMD in the chroot DIR with its own /proc (objtool,
# dkms and maintainer scripts want it); the mount dies with the namespace.
# When the rig itself runs in a chroot (as CI systems run it), / is no mount
# point and unshare cannot make the new namespace private; a proc mount in
# a namespace whose mounts still propagate would outlive it in the parent.
# There, proc is mounted in the rig's own namespace and unmounted when CMD
# ends (or the shell is killed by a signal); vd_drop_root removes what a
# SIGKILL leaves.
vd_in_root() {
	local env=(/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
		LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
	if unshare -m --propagation private true 2>/dev/null; then
		unshare -m --propagation private sh -c 'r=$1; shift
			mount -t proc proc "$r/proc" && exec chroot "$r" "$@"' sh "$1" "${env[@]}" "${@:2}"
		return
	fi
	(
		r=$1
		shift
		mount -t proc proc "$r/proc" || exit 1
		trap 'umount "$r/proc"' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM HUP
		chroot "$r" "${env[@]}" "$@"
	)
}

# vd_drop_root DIR: remove a (possibly half-made) chroot, mounts left by a kill first.
vd_drop_root() {
	findmnt -rn -o TARGET | awk -v p="$1/" 'index($0, p) == 1' | sort -r | xargs -r umount -l
	rm -rf --one-file-system "$1"
}

# vd_debootstrap SUITE DIR [APT-SUITE...]: a minbase chroot of SUITE in DIR
# whose apt knows SUITE and the APT-SUITEs (e.g. trixie-backports), from the
# mirror the system uses. The system's own apt sources are not touched.
vd_debootstrap() {
	local suite=$1 dir=$2 mirror s
	shift 2
	if ! command -v debootstrap >/dev/null; then
		vd_log "installing debootstrap on the host"
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
	fi
	mirror=${VD_MIRROR:-$(vd_mirror '')}
	[ -n "$mirror" ] || vd_die "no Debian mirror in the system's apt sources; set VD_MIRROR"
	vd_drop_root "$dir"
	vd_log "debootstrap $suite into $dir ($mirror)"
	debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$dir.log" 2>&1 ||
		{ cat "$dir.log" >&2; vd_die "debootstrap $suite failed"; }
	for s in "$@"; do
		echo "deb $mirror $s main" >>"$dir/etc/apt/sources.list"
	done
}

#!/bin/sh
# Fetch the Debian kernels the VM tests boot, and the host tools they need.
#
# The development and CI hosts run a kernel without kprobes, so the kprobe
# backend is tested under QEMU (TCG) on Debian's own kernels. This script
# installs what the harness uses (qemu, busybox, cpio, iproute2, tcpdump)
# when it is missing, resolves each kernel label to a package, downloads it
# with apt-get download and keeps only boot/vmlinuz-*, boot/config-* and
# the few modules the tests load (veth; see MODULES) in a cache outside
# the build tree:
#
#	$SOCKFLOW_VM_CACHE/<label>/	(default /var/cache/sockflow-vm)
#	    vmlinuz-KREL config-KREL	as in the package
#	    modules.cpio.gz		the modules, for boot.sh
#	    package			"name version" of the package
#
# Labels, never a hard-coded point release:
#	5.10	what linux-image-amd64 depends on in bullseye + bullseye-security
#	6.1	what linux-image-amd64 depends on in bookworm (+ security, updates)
#	6.12	the newest linux-image-6.12.N+deb12-amd64[-unsigned] for bookworm
#
# bookworm comes from the system's apt when its sources have bookworm and
# bookworm-security, else (and bullseye always) from a private apt
# configuration under the cache; the system's sources are never changed.
# A label already in the cache is not looked up again, so a second run
# needs no network; -u updates the package lists and fetches a label again
# when its package has changed. SOCKFLOW_VM_PRIVATE_APT=1 takes bookworm
# from a private configuration too; SOCKFLOW_VM_MIRROR and
# SOCKFLOW_VM_SECURITY_MIRROR name other mirrors for the private ones.
#
# usage: fetch.sh [-u] [5.10|6.1|6.12 ...]	(default: all three)
set -eu

CACHE=${SOCKFLOW_VM_CACHE:-/var/cache/sockflow-vm}
MIRROR=${SOCKFLOW_VM_MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${SOCKFLOW_VM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Bounded network waits: a dead mirror is an error, not a hang.
NETOPT="-o Acquire::Retries=2 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30"
# What the harness runs on the host (qemu, mkinitrd.sh) and puts in the
# guest for smoke.sh (ip with netns and veth, tcpdump).
TOOLS="qemu-system-x86 cpio gzip xz-utils zstd debian-archive-keyring"
TOOLS="$TOOLS iproute2 tcpdump"
# Kernel modules the tests need that Debian builds as modules: veth (the
# namespace tests' wire; IPv6 and everything tracing needs are built in).
MODULES=${SOCKFLOW_VM_MODULES:-veth}

usage() {
	echo "usage: fetch.sh [-u] [5.10|6.1|6.12 ...]" >&2
	exit 2
}

die() {
	echo "fetch.sh: $*" >&2
	exit 1
}

UPDATE=0
while getopts u opt; do
	case $opt in
	u) UPDATE=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- 5.10 6.1 6.12
for l in "$@"; do
	case $l in
	5.10|6.1|6.12) ;;
	*) echo "fetch.sh: unknown kernel label $l" >&2; usage ;;
	esac
done

[ "$(id -u)" = 0 ] || die "must run as root (apt-get install, $CACHE)"
command -v apt-get >/dev/null || die "needs apt-get (a Debian host)"

TMPD=$(mktemp -d /tmp/sockflow-fetch.XXXXXX)
trap 'rm -rf "$TMPD"' EXIT
trap 'exit 1' INT TERM
chmod 755 "$TMPD"

# Which apt states had their lists updated in this run: "system",
# "bullseye", "bookworm".
UPDATED=" "

# apt_update: update the lists of the apt state selected by use_apt (or
# the system's), at most once per run; false when that was done already.
apt_update() {
	case $UPDATED in
	*" $APTNAME "*) return 1 ;;
	esac
	UPDATED="$UPDATED$APTNAME "
	echo "fetch.sh: apt-get update ($APTNAME)"
	if [ "$APTNAME" = system ]; then
		# shellcheck disable=SC2086
		apt-get $NETOPT update ||
		    die "apt-get update failed: is the network (or a mirror) down?"
		return 0
	fi
	rm -f "$APTDIR/cache/"*.bin
	# shellcheck disable=SC2086
	if ! apt-get $APT $NETOPT update; then
		[ "${APT_SOFT:-0}" = 1 ] && return 1
		die "apt-get update ($APTNAME) failed: is the network (or the mirror) down?"
	fi
	# apt exits 0 when only some indexes failed; every suite must
	# have been fetched.
	for s in $SUITES; do
		if ! exists "$APTDIR"/lists/*_"${s}"_main_binary-amd64_Packages* &&
		    [ "${APT_SOFT:-0}" = 1 ]; then
			return 1
		fi
		exists "$APTDIR"/lists/*_"${s}"_main_binary-amd64_Packages* ||
		    die "no package list for $s: is the network (or the mirror) down?"
	done
}

# exists PATH...: does the first (a glob's expansion) exist?
exists() {
	[ -e "$1" ]
}

# Host tools. busybox is taken as it is when a (dynamic) busybox is
# installed: busybox-static would replace it, and mkinitrd.sh copies a
# dynamic one's libraries anyway.
missing=
for p in $TOOLS; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null |
	    grep -q "install ok installed" || missing="$missing $p"
done
if ! dpkg-query -W -f '${Status}\n' busybox 2>/dev/null |
    grep -q "install ok installed" &&
    ! dpkg-query -W -f '${Status}\n' busybox-static 2>/dev/null |
    grep -q "install ok installed"; then
	missing="$missing busybox-static"
fi
if [ -n "$missing" ]; then
	echo "fetch.sh: installing$missing"
	APTNAME=system
	apt_update || true
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get $NETOPT install -y \
	    --no-install-recommends $missing ||
	    die "apt-get install$missing failed"
fi

# private_apt NAME SUITE...: select a private apt state for a release
# the system does not carry: its own sources, lists and caches under
# $CACHE/apt-NAME, and no system preferences.
private_apt() {
	APTNAME=$1
	shift
	SUITES=$*
	APTDIR=$CACHE/apt-$APTNAME
	d=$APTDIR
	mkdir -p "$d/lists/partial" "$d/archives/partial" "$d/cache" "$d/prefs.d"
	private_sources "$MIRROR" "$SECMIRROR" "$@"
	APT="-o Dir::Etc::sourcelist=$d/sources.list -o Dir::Etc::sourceparts=-"
	APT="$APT -o Dir::Etc::preferences=/dev/null"
	APT="$APT -o Dir::Etc::preferencesparts=$d/prefs.d"
	APT="$APT -o Dir::State::Lists=$d/lists -o Dir::Cache=$d/cache"
	APT="$APT -o Dir::Cache::archives=$d/archives"
	# An archived release's Release files are past their Valid-Until.
	APT="$APT -o Acquire::Check-Valid-Until=false"
	# The first use ever needs lists; -u asks for fresh ones.
	if [ "$UPDATE" = 1 ] || ! exists "$d"/lists/*_Packages*; then
		# A release past its support leaves deb.debian.org for
		# archive.debian.org; unless mirrors were named, look there
		# when the first try finds nothing.
		APT_SOFT=1
		if [ -z "${SOCKFLOW_VM_MIRROR:-}" ] && ! apt_update; then
			echo "fetch.sh: $APTNAME not on $MIRROR; trying archive.debian.org"
			private_sources http://archive.debian.org/debian \
			    http://archive.debian.org/debian-security "$@"
			UPDATED=
		fi
		APT_SOFT=0
		apt_update || true
	fi
}

# private_sources MIRROR SECURITY_MIRROR SUITE...: the private sources.list.
private_sources() {
	m1=$1
	m2=$2
	shift 2
	: >"$d/sources.list.new"
	for s in "$@"; do
		case $s in
		*-security) m=$m2 ;;
		*) m=$m1 ;;
		esac
		echo "deb [signed-by=$KEYRING] $m $s main" >>"$d/sources.list.new"
	done
	mv "$d/sources.list.new" "$d/sources.list"
}

# Does the system's apt carry bookworm and bookworm-security (main)?
system_has_bookworm() {
	# shellcheck disable=SC2016
	t=$(apt-get indextargets --no-release-info \
	    --format '$(RELEASE) $(COMPONENT) $(TARGET_OF) $(IDENTIFIER)' \
	    2>/dev/null | sort -u)
	echo "$t" | grep -qx "bookworm main deb Packages" &&
	    echo "$t" | grep -qx "bookworm-security main deb Packages"
}

# use_apt LABEL: select the apt state (APT options, APTNAME) for a label.
use_apt() {
	case $1 in
	5.10)
		private_apt bullseye bullseye bullseye-security
		return 0
		;;
	esac
	if [ "${SOCKFLOW_VM_PRIVATE_APT:-0}" != 1 ] && system_has_bookworm; then
		APT=
		APTNAME=system
		if [ "$UPDATE" = 1 ] || ! exists \
		    /var/lib/apt/lists/*_bookworm-security_main_binary-amd64_Packages*; then
			apt_update || true
		fi
	else
		private_apt bookworm bookworm bookworm-updates bookworm-security
	fi
}

# The package a label stands for, on stdout. APT is set by the caller.
resolve() {
	case $1 in
	5.10|6.1)
		# shellcheck disable=SC2086
		apt-cache $APT depends linux-image-amd64 2>/dev/null |
		    awk '/^ *\|?Depends: linux-image-/ { print $2; exit }'
		;;
	6.12)
		# pkgnames also lists names that are only referenced; keep
		# those with a candidate, newest first, unsigned before
		# signed (the same kernel, without a PE signature).
		# shellcheck disable=SC2086
		names=$(apt-cache $APT pkgnames linux-image-6.12. 2>/dev/null |
		    grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64(-unsigned)?$' |
		    sed 's/-amd64$/-amd64-signed/' | sort -rV |
		    sed 's/-amd64-signed$/-amd64/')
		for n in $names; do
			# shellcheck disable=SC2086
			c=$(apt-cache $APT policy "$n" 2>/dev/null |
			    awk '/Candidate:/ { print $2 }')
			if [ -n "$c" ] && [ "$c" != "(none)" ]; then
				echo "$n"
				return 0
			fi
		done
		;;
	esac
}

# pack_modules LABEL DEB DIR: the modules in $MODULES and those they
# depend on, from the package, uncompressed (busybox insmod reads plain
# .ko files only), as DIR/modules.cpio.gz: usr/lib/modules/KREL/*.ko.
# boot.sh appends it to the test's initramfs (the kernel unpacks
# concatenated archives) and /init loads them.
pack_modules() {
	k=$(ls "$3"/vmlinuz-*)
	krel=${k##*/vmlinuz-}
	x=$TMPD/x-$1
	root=$TMPD/mods-$1
	mod=$root/usr/lib/modules/$krel
	rm -rf "$x" "$root"
	mkdir -p "$x" "$mod"
	# The archive's "." entry sets the mode of the guest's /.
	chmod 755 "$root"
	dpkg-deb -c "$2" | awk '{ print $6 }' |
	    grep -E '^\./lib/modules/.*\.ko(\.xz|\.zst|\.gz)?$' >"$x/list" || true
	want=$MODULES
	seen=
	n=0
	while [ -n "$want" ]; do
		# Dependency chains are short; a longer one is a loop.
		n=$((n + 1))
		[ $n -le 10 ] || die "$1: module dependencies go on and on: $want"
		paths=
		for m in $want; do
			pat=$(echo "$m" | sed 's/[-_]/[-_]/g')
			p=$(grep -E "/$pat\.ko(\.xz|\.zst|\.gz)?\$" "$x/list" |
			    head -n 1) || true
			[ -n "$p" ] || die "$1: no module $m in $2"
			paths="$paths $p"
			seen="$seen $m "
		done
		# shellcheck disable=SC2086
		dpkg-deb --fsys-tarfile "$2" | tar -xf - -C "$x" $paths ||
		    die "$1: cannot unpack modules from $2"
		want=
		for p in $paths; do
			f=${p##*/}
			case $f in
			*.ko) cp "$x/$p" "$mod/$f" ;;
			*.ko.xz) xz -dc "$x/$p" >"$mod/${f%.xz}" ;;
			*.ko.zst) zstd -qdc "$x/$p" >"$mod/${f%.zst}" ;;
			*.ko.gz) gzip -dc "$x/$p" >"$mod/${f%.gz}" ;;
			esac
			f=${f%.ko*}.ko
			deps=$(tr -c '[:print:]' '\n' <"$mod/$f" |
			    sed -n 's/^depends=//p' | head -n 1 | tr ',' ' ')
			for d in $deps; do
				case "$seen $want " in
				*" $d "*) ;;
				*) want="$want $d" ;;
				esac
			done
		done
	done
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	    gzip -1 >"$3/modules.cpio.gz"
	echo "$MODULES" >"$3/modules"
	rm -rf "$x" "$root"
}

# Is a whole kernel, with the modules now asked for, in DIR?
cached() {
	[ -f "$1/package" ] && [ -f "$1/modules.cpio.gz" ] &&
	    [ "$(cat "$1/modules" 2>/dev/null)" = "$MODULES" ] &&
	    ls "$1"/vmlinuz-* >/dev/null 2>&1 &&
	    ls "$1"/config-* >/dev/null 2>&1
}

# fetch_label LABEL: resolve, download and unpack into $CACHE/LABEL.
fetch_label() {
	label=$1
	dir=$CACHE/$label
	if [ "$UPDATE" = 0 ] && cached "$dir"; then
		echo "$label: $(cat "$dir/package") (cached in $dir)"
		return 0
	fi
	use_apt "$label"
	pkg=$(resolve "$label")
	if [ -z "$pkg" ] && apt_update; then
		# The lists may predate the package: refresh them once.
		pkg=$(resolve "$label")
	fi
	[ -n "$pkg" ] || die "$label: cannot resolve a kernel package (apt state: $APTNAME)"
	# shellcheck disable=SC2086
	cand=$(apt-cache $APT policy "$pkg" | awk '/Candidate:/ { print $2 }')
	if cached "$dir" && [ "$(cat "$dir/package")" = "$pkg $cand" ]; then
		echo "$label: $(cat "$dir/package") (unchanged, cached in $dir)"
		return 0
	fi
	echo "$label: downloading $pkg $cand (apt state: $APTNAME)"
	dl=$TMPD/$label
	mkdir -p "$dl"
	# apt-get download drops to user _apt, which must be able to write
	# here; without it apt downloads as root and says so.
	chown _apt "$dl" 2>/dev/null || true
	# shellcheck disable=SC2086
	if ! (cd "$dl" && apt-get $APT $NETOPT download "$pkg"); then
		# Old lists may name a version the mirror no longer has.
		apt_update ||
		    die "$label: apt-get download $pkg failed: is the network down?"
		pkg=$(resolve "$label")
		[ -n "$pkg" ] || die "$label: cannot resolve a kernel package"
		# shellcheck disable=SC2086
		(cd "$dl" && apt-get $APT $NETOPT download "$pkg") ||
		    die "$label: apt-get download $pkg failed: is the network down?"
	fi
	deb=$(ls "$dl"/*.deb)
	ver=$(dpkg-deb -f "$deb" Version)
	# Unpack beside the cache and swap in, so that an interrupted run
	# never leaves a half-written kernel that a later run would trust.
	new=$CACHE/.new-$label
	rm -rf "$new"
	mkdir -p "$new"
	dpkg-deb --fsys-tarfile "$deb" |
	    tar -xf - -C "$new" --wildcards './boot/vmlinuz-*' './boot/config-*' ||
	    die "$label: cannot unpack $deb"
	mv "$new"/boot/vmlinuz-* "$new"/boot/config-* "$new"/
	rmdir "$new/boot"
	pack_modules "$label" "$deb" "$new"
	echo "$pkg $ver" >"$new/package"
	rm -rf "$dir"
	mv "$new" "$dir"
	rm -rf "$dl"
	echo "$label: $pkg $ver (cached in $dir)"
}

mkdir -p "$CACHE"
# One fetch at a time per cache (parallel CI jobs on one host), bounded.
exec 9>"$CACHE/.lock"
flock -w 900 9 || die "$CACHE is locked by another fetch.sh for 15 minutes"
for l in "$@"; do
	fetch_label "$l"
done

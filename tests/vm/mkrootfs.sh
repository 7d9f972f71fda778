#!/bin/sh
# A Debian 12 system with systemd for tests/vm/systemd.sh, as an
# initramfs: systemd runs as the guest's init straight from it
# (rdinit=/lib/systemd/systemd), so no disk image, block driver or
# partition is needed.
#
# usage: mkrootfs.sh OUT.cpio.gz OVERLAY
#        mkrootfs.sh -d OUTDIR OVERLAY
#        mkrootfs.sh -b OVERLAY
#
# The base system (debootstrap --variant=minbase, bookworm, from the
# archive this host uses, with systemd, libnss-systemd for the units'
# dynamic users, kmod, iproute2 and the packages of the libraries that
# the executables in OVERLAY link) is made once and kept as a tarball
# under the VM cache. Each call unpacks it, copies the directory tree
# OVERLAY over it and packs the result into OUT; with -d, the system is
# left unpacked in the new directory OUTDIR instead (tests/pkg/deb.sh
# installs the package there); with -b, only the base tarball's path is
# printed (container/build.sh makes an image of it).
set -eu

CACHE=${SOCKFLOW_VM_CACHE:-/var/cache/sockflow-vm}
MIRROR=${SOCKFLOW_VM_MIRROR:-http://deb.debian.org/debian}

die() {
	echo "mkrootfs.sh: $*" >&2
	exit 1
}

TODIR=
BASEONLY=
if [ "${1:-}" = -d ]; then
	TODIR=1
	shift
elif [ "${1:-}" = -b ] && [ $# = 2 ]; then
	BASEONLY=1
	set -- - "$2"
fi
[ $# = 2 ] || die "usage: mkrootfs.sh [-d] out overlay | -b overlay"
OUT=$1
OVERLAY=$2
[ -d "$OVERLAY" ] || die "no directory $OVERLAY"
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap)"
command -v debootstrap >/dev/null ||
    die "needs debootstrap (tools/setup installs it)"

# The packages of the libraries the overlay's executables link.
libpkgs=
for src in $(find "$OVERLAY" -type f -perm -u+x); do
	for lib in $(ldd "$src" 2>/dev/null | awk '$3 ~ /^\// { print $3 }'); do
		real=$(readlink -f "$lib")
		p=$(dpkg -S "$real" 2>/dev/null || dpkg -S "$lib" 2>/dev/null) ||
		    die "no package holds $lib"
		p=${p%%:*}
		case " $libpkgs " in *" $p "*) ;; *) libpkgs="$libpkgs $p" ;; esac
	done
done
PKGS="systemd systemd-sysv libnss-systemd kmod iproute2$libpkgs"
key=$(echo "$PKGS" | tr ' ' '\n' | LC_ALL=C sort -u | tr '\n' ' ' |
    md5sum | cut -c1-12)
BASE=$CACHE/rootfs-bookworm-$key.tar.gz
if [ ! -f "$BASE" ]; then
	mkdir -p "$CACHE"
	tmp=$CACHE/rootfs.tmp.$$
	rm -rf "$tmp"
	echo "mkrootfs.sh: debootstrap bookworm with: $PKGS" >&2
	debootstrap --variant=minbase \
	    --include="$(echo "$PKGS" | tr ' ' ',')" \
	    bookworm "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
		tail -n 20 "$CACHE/debootstrap.log" >&2
		rm -rf "$tmp"
		die "debootstrap failed (log: $CACHE/debootstrap.log)"
	}
	# What the guest never needs: package caches, documentation.
	rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/usr/share/doc" \
	    "$tmp/usr/share/man" "$tmp/usr/share/locale"
	tar -C "$tmp" -czf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
	rm -rf "$tmp"
fi
if [ -n "$BASEONLY" ]; then
	echo "$BASE"
	exit 0
fi
if [ -n "$TODIR" ]; then
	mkdir "$OUT" || die "cannot make $OUT"
	tar -C "$OUT" -xzf "$BASE"
	cp -a "$OVERLAY/." "$OUT/"
	exit 0
fi
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rootfs.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
tar -C "$DIR" -xzf "$BASE"
cp -a "$OVERLAY/." "$DIR/"
(cd "$DIR" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    gzip -1 >"$OUT"

#!/bin/sh
# Builds the sockflow container image from local material only: nothing
# is pulled from a registry.
#
# usage: container/build.sh [-p sockflow_VERSION_ARCH.deb] [-t TAG]
#
#  - The package: the one -p names, else one built from this tree as
#    README.md's "Packaging" says ("make distdir" in a configured build
#    tree, BUILDDIR, default the top directory; then "dpkg-buildpackage
#    -us -uc -b").
#  - The base: the Debian 12 system that tests/vm/mkrootfs.sh makes with
#    debootstrap from the Debian archive (SOCKFLOW_VM_MIRROR) with the
#    libraries the package's programs link, kept as a tarball under
#    /var/cache/sockflow-vm (SOCKFLOW_VM_CACHE) and reused while that
#    set of libraries stays the same.
#  - The image: container/Dockerfile, built with no network
#    ("--network=none"): FROM scratch, the tarball, the package.
#
# DOCKER is the client command (default "docker"; the tests give it a
# private daemon's socket). TAG defaults to sockflow:VERSION. Runs as
# root (debootstrap, the first time). Prints the tag when done.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
DOCKER=${DOCKER:-docker}
BUILDDIR=${BUILDDIR:-$top}

die() {
	echo "container/build.sh: $*" >&2
	exit 1
}

deb=
tag=
while getopts p:t: opt; do
	case $opt in
	p) deb=$(cd "$(dirname "$OPTARG")" && pwd)/$(basename "$OPTARG") ;;
	t) tag=$OPTARG ;;
	*) die "usage: build.sh [-p package.deb] [-t tag]" ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 0 ] || die "usage: build.sh [-p package.deb] [-t tag]"
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap makes the base)"
for t in dpkg-deb dpkg-parsechangelog; do
	command -v "$t" >/dev/null || die "needs $t (tools/setup installs it)"
done

W=$(mktemp -d "${TMPDIR:-/tmp}/sockflow-image.XXXXXX")
trap 'rm -rf "$W"' EXIT

version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
[ -n "$tag" ] || tag=sockflow:$version

if [ -z "$deb" ]; then
	[ -f "$BUILDDIR/Makefile" ] ||
	    die "no Makefile in $BUILDDIR (configure first, or give -p)"
	command -v dpkg-buildpackage >/dev/null ||
	    die "needs dpkg-buildpackage (tools/setup installs it)"
	src=$W/src/sockflow-$version
	mkdir -p "$W/src"
	make -s -C "$BUILDDIR" distdir distdir="$src" >"$W/build.log" 2>&1 ||
	    { cat "$W/build.log" >&2; die "make distdir failed"; }
	(cd "$src" && DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" \
	    dpkg-buildpackage -us -uc -b) >"$W/build.log" 2>&1 ||
	    { tail -n 40 "$W/build.log" >&2; die "dpkg-buildpackage failed"; }
	deb=$(ls "$W"/src/sockflow_*.deb)
fi
[ -f "$deb" ] || die "no package $deb"

# The programs, unpacked, tell mkrootfs.sh which libraries the base needs.
mkdir -p "$W/overlay" "$W/context"
dpkg-deb -x "$deb" "$W/overlay"
base=$(sh "$top/tests/vm/mkrootfs.sh" -b "$W/overlay") ||
    die "cannot make the Debian 12 base system"
# A link where the cache shares the file system, else a copy.
ln "$base" "$W/context/rootfs.tar.gz" 2>/dev/null ||
    cp "$base" "$W/context/rootfs.tar.gz"
cp "$deb" "$W/context/sockflow.deb"
cp "$top/container/Dockerfile" "$W/context/Dockerfile"
$DOCKER build -q --network=none -t "$tag" "$W/context" >"$W/image.log" 2>&1 ||
    { cat "$W/image.log" >&2; die "$DOCKER build failed"; }
echo "$tag"

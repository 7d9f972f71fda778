#!/bin/sh
# The Debian package, built and installed as an administrator would.
#
#  1. "make distdir" (what a release holds, uncommitted work included)
#     is built with "dpkg-buildpackage -us -uc -b" into one package,
#     which "lintian --fail-on error" must accept.
#  2. The package is installed with dpkg into a Debian 12 system made by
#     tests/vm/mkrootfs.sh (debootstrap, cached in /var/cache/sockflow-vm,
#     with the libraries the package's programs link), chrooted into
#     with /proc, sysfs and tracefs mounted. Checked there: every file,
#     owner and mode; each unit Makefile.am's dist_systemdunit_DATA
#     lists; the conffile and its content; the sockflow user and group
#     made by systemd-sysusers; /run/sockflow and /var/lib/sockflow made
#     by systemd-tmpfiles; the units not enabled; "systemd-analyze
#     verify" of the installed units; "sockflow --check" and "sockflow
#     -n" with the installed configuration; the manual pages (mandoc
#     -Tlint, man -l); and a purge that leaves none of the package's
#     files.
#  3. Before the purge, that system boots under QEMU with systemd as
#     init (tests/pkg/guest-deb.sh): nothing of sockflow runs after boot,
#     "systemctl enable --now" starts the units, a loopback connection
#     is reported in the enricher's journal, and the aggregator and the
#     enricher run as the package's sockflow user.
# A package that cannot be built or installed is a failure, not a skip.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

# bad: fail, and count, so that each group of checks can say ok.
NBAD=0
bad() {
	fail "$@"
	NBAD=$((NBAD + 1))
}

for t in dpkg-buildpackage dh lintian debootstrap mandoc man; do
	command -v "$t" >/dev/null ||
	    { bad "needs $t (tools/setup installs it)"; finish; }
done

R=$TMP/root
# The chroot's mounts go before lib.sh removes $TMP; if one stays,
# $TMP is kept (FAILED) rather than removed across it.
umount_root() {
	for m in "$R/sys/kernel/tracing" "$R/sys" "$R/proc"; do
		if mountpoint -q "$m" 2>/dev/null; then
			umount "$m" 2>/dev/null || umount -l "$m" ||
			    { echo "FAIL: cannot unmount $m"; FAILED=1; }
		fi
	done
}
trap 'umount_root; cleanup' EXIT

abs_builddir=$(cd "$top_builddir" && pwd)
version=$(dpkg-parsechangelog -l "$top_srcdir/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb=sockflow_${version}_$arch.deb

# --- 1. Build and lintian.
B=$TMP/build
mkdir -p "$B"
if ! make -s -C "$abs_builddir" distdir distdir="$B/sockflow-$version" \
    >"$TMP/distdir.log" 2>&1; then
	bad "make distdir failed"
	cat "$TMP/distdir.log"
	finish
fi
for d in debian etc man; do
	[ -d "$B/sockflow-$version/$d" ] ||
	    bad "$d/ is not in the distribution (EXTRA_DIST)"
done
if (cd "$B/sockflow-$version" &&
    DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1; then
	echo "ok: dpkg-buildpackage -us -uc -b"
else
	bad "dpkg-buildpackage failed:"
	tail -n 40 "$TMP/build.log"
	finish
fi
debs=$(cd "$B" && ls ./*.deb)
[ "$debs" = "./$deb" ] || bad "expected one package, $deb; built: $debs"
if lintian --fail-on error "$B"/*.changes >"$TMP/lintian.log" 2>&1; then
	echo "ok: lintian --fail-on error"
else
	bad "lintian found errors:"
fi
grep -v "running with root privileges" "$TMP/lintian.log" | sed 's/^/  /'

# The units the package must hold: what Makefile.am installs.
printf 'print-units:\n\t@echo $(dist_systemdunit_DATA)\n' >"$TMP/units.mk"
units=
for u in $(make -s --no-print-directory -C "$abs_builddir" -f Makefile \
    -f "$TMP/units.mk" print-units); do
	units="$units ${u##*/}"
done
[ -n "$units" ] || bad "no unit in dist_systemdunit_DATA"

# --- 2. Install into a Debian 12 system.
O=$TMP/overlay
X=$O/tmp/sockflow-deb
mkdir -p "$X"
cp "$B/$deb" "$O/tmp/"
# The programs, unpacked, tell mkrootfs.sh which libraries to install.
dpkg-deb -x "$B/$deb" "$X"
if ! sh "$top_srcdir/tests/vm/mkrootfs.sh" -d "$R" "$O"; then
	bad "cannot build the Debian 12 system"
	finish
fi
rm -rf "$R/tmp/sockflow-deb"
mount -t proc proc "$R/proc" &&
    mount -t sysfs sysfs "$R/sys" &&
    mount -t tracefs nodev "$R/sys/kernel/tracing" ||
    { bad "cannot mount /proc, sysfs and tracefs in $R"; finish; }

inroot() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
	    DEBIAN_FRONTEND=noninteractive chroot "$R" "$@"
}

if inroot dpkg -i "/tmp/$deb" >"$TMP/dpkg.log" 2>&1; then
	echo "ok: dpkg -i $deb"
else
	bad "dpkg -i failed:"
	cat "$TMP/dpkg.log"
	finish
fi

# expect PATH OWNER:GROUP MODE: the file as the package must leave it.
expect() {
	got=$(inroot stat -c '%U:%G %a %F' "$1" 2>&1) ||
	    { bad "$1: missing"; return; }
	case "$got" in
	"$2 $3 "*) ;;
	*) bad "$1: $got, expected $2 $3" ;;
	esac
}
n0=$NBAD
expect /usr/sbin/sockflow root:root 755
for b in sockflow-probe sockflow-aggregator sockflow-enricher; do
	expect "/usr/libexec/sockflow/$b" root:root 755
done
for u in $units; do
	expect "/usr/lib/systemd/system/$u" root:root 644
	# Not enabled: disabled, or static (no [Install] section).
	st=$(inroot systemctl is-enabled "$u" 2>/dev/null)
	case $st in
	disabled|static) ;;
	*) bad "$u is $st, expected disabled" ;;
	esac
done
expect /etc/sockflow/sockflow.yml root:root 644
expect /usr/lib/sysusers.d/sockflow.conf root:root 644
expect /usr/lib/tmpfiles.d/sockflow.conf root:root 644
expect /run/sockflow root:root 755
expect /var/lib/sockflow sockflow:sockflow 750
expect /usr/share/man/man8/sockflow.8.gz root:root 644
expect /usr/share/man/man5/sockflow.yml.5.gz root:root 644
expect /usr/share/doc/sockflow/README.Debian root:root 644
cmp -s "$R/etc/sockflow/sockflow.yml" "$top_srcdir/etc/sockflow.yml" ||
    bad "/etc/sockflow/sockflow.yml differs from etc/sockflow.yml"
inroot dpkg-query -W -f='${Conffiles}\n' sockflow |
    grep -q '^ /etc/sockflow/sockflow.yml ' ||
    bad "/etc/sockflow/sockflow.yml is not a conffile"
# Nothing the package holds may be writable by others, or setuid.
bad=$(inroot dpkg -L sockflow | while read -r f; do
	inroot find "$f" -maxdepth 0 \( -perm -o+w -o -perm -u+s \
	    -o -perm -g+s \) ! -type l 2>/dev/null
done)
[ -z "$bad" ] || bad "writable by others or setuid: $bad"

# The user: a system account, no login, its own group.
pw=$(inroot getent passwd sockflow) ||
    bad "no user sockflow (systemd-sysusers)"
uid=$(echo "$pw" | cut -d: -f3)
if [ -n "$uid" ]; then
	[ "$uid" -lt 1000 ] || bad "sockflow has uid $uid, not a system uid"
	case $(echo "$pw" | cut -d: -f7) in
	*/nologin|*/false) ;;
	*) bad "sockflow may log in: $pw" ;;
	esac
fi
inroot getent group sockflow >/dev/null || bad "no group sockflow"
[ "$NBAD" = "$n0" ] &&
    echo "ok: files, owners, modes, conffile, units disabled, user, directories"

# The installed units, in that system (their ExecStart= files exist
# there). Anything said about a sockflow unit fails the test.
inroot sh -c 'systemd-analyze verify /usr/lib/systemd/system/sockflow-*' \
    >"$TMP/verify.log" 2>&1
st=$?
if [ $st != 0 ] || grep -q sockflow "$TMP/verify.log"; then
	bad "systemd-analyze verify (status $st):"
	cat "$TMP/verify.log"
else
	echo "ok: systemd-analyze verify of the installed units"
fi

# The installed programs with the installed configuration: the launcher
# finds the components in /usr/libexec/sockflow and the probe checks
# this kernel.
if inroot sockflow --check >"$TMP/check.log" 2>&1 &&
    grep -q '^result: ok' "$TMP/check.log"; then
	echo "ok: sockflow --check in the installed system"
else
	bad "sockflow --check in the installed system:"
	cat "$TMP/check.log"
fi
inroot sockflow -n >"$TMP/n.log" 2>&1 ||
    { bad "sockflow -n:"; cat "$TMP/n.log"; }

# The manual pages as installed.
n0=$NBAD
for m in man8/sockflow.8.gz man5/sockflow.yml.5.gz; do
	f=$R/usr/share/man/$m
	mandoc -Tlint -W warning "$f" >"$TMP/mandoc.log" 2>&1 ||
	    { bad "mandoc -Tlint: $m"; cat "$TMP/mandoc.log"; }
	MANWIDTH=80 man --warnings -l "$f" >"$TMP/man.out" 2>"$TMP/man.err"
	if [ $? != 0 ] || [ -s "$TMP/man.err" ] ||
	    ! grep -q 'SEE ALSO' "$TMP/man.out"; then
		bad "man -l $m:"
		cat "$TMP/man.err"
	fi
done
[ "$NBAD" = "$n0" ] && echo "ok: manual pages: mandoc -Tlint, man -l"

# --- 3. Boot it: systemd as init (rdinit=, as tests/vm/systemd.sh does)
# on bookworm's 6.1 kernel under QEMU, where tests/pkg/guest-deb.sh
# enables and starts the packaged units and looks for a flow.
VM=$top_srcdir/tests/vm
KERNEL=6.1
VMCACHE=${SOCKFLOW_VM_CACHE:-/var/cache/sockflow-vm}
SOCKFLOW_VM_MODULES=${SOCKFLOW_VM_MODULES:-veth inet_diag tcp_diag}
export SOCKFLOW_VM_MODULES
umount_root
if ! sh "$VM/fetch.sh" "$KERNEL"; then
	bad "cannot fetch kernel $KERNEL"
elif ! cp "$abs_builddir/tests/live/tcpflow" "$R/usr/local/bin/"; then
	bad "no tests/live/tcpflow (make check builds it)"
else
	sh "$VM/vmtest-unit.sh" "$R" "$top_srcdir/tests/pkg/guest-deb.sh" \
	    "sockflow's package test (tests/pkg/guest-deb.sh)" ||
	    bad "cannot install the guest's test"
	# The sock_diag modules fetch.sh keeps for the kernel.
	(cd "$R" && gzip -dc "$VMCACHE/$KERNEL/modules.cpio.gz" |
	    cpio -id --quiet) || bad "no modules for $KERNEL"
	(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	    gzip -1 >"$TMP/root.cpio.gz"
	SOCKFLOW_VM_APPEND="rdinit=/lib/systemd/systemd systemd.show_status=0" \
	SOCKFLOW_VM_MEM=2048 \
	    sh "$VM/boot.sh" "$KERNEL" "$TMP/root.cpio.gz" "$TMP/vm" \
	    "${SOCKFLOW_VM_TIMEOUT:-300}"
	st=$?
	sed 's/^/  guest: /' "$TMP/vm/driver.out"
	if [ "$st" != 0 ]; then
		bad "the guest ended with status $st"
		tail -n 40 "$TMP/vm/console.log"
	fi
fi

# Purge: none of the package's files stay.
inroot dpkg -L sockflow | sort -r >"$TMP/files"
if inroot dpkg --purge sockflow >"$TMP/purge.log" 2>&1; then
	left=
	while read -r f; do
		case $f in
		/.|/etc|/usr|/usr/*/|/usr/lib|/usr/lib/*.d|/usr/lib/systemd|\
		/usr/lib/systemd/system|/usr/libexec|/usr/sbin|/usr/share|\
		/usr/share/doc|/usr/share/man|/usr/share/man/man?|\
		/usr/share/lintian|/usr/share/lintian/overrides)
			;;
		*) [ -e "$R$f" ] && left="$left $f" ;;
		esac
	done <"$TMP/files"
	[ -z "$left" ] || bad "left after purge:$left"
	[ -z "$left" ] && echo "ok: dpkg --purge"
else
	bad "dpkg --purge failed:"
	cat "$TMP/purge.log"
fi
finish

#!/bin/sh
# sockflow's systemd units under a real systemd: a Debian 12 guest
# (tests/vm/mkrootfs.sh: debootstrap, systemd as init straight from the
# initramfs) on bookworm's own kernel (6.1, kprobe backend) under QEMU,
# with the build's binaries in /usr/libexec/sockflow and the units of
# systemd/ in /usr/lib/systemd/system, where "make install" puts them.
# tests/vm/guest-systemd.sh runs there at boot: the units start the
# pipeline, a kill -9 of each component is followed by systemd's restart
# and flows reported again, and the probe's stop leaves no kprobe. This
# machine has no systemd as init; a guest that cannot be built or booted
# is a failure, not a skip.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

VM=$top_srcdir/tests/vm
SOCKFLOW_VM_CACHE_DIR=${SOCKFLOW_VM_CACHE:-/var/cache/sockflow-vm}
KERNEL=6.1
# The modules kept for the kernel are the same as tests/vm/kprobe.sh's:
# fetch.sh makes the set again when it differs.
SOCKFLOW_VM_MODULES=${SOCKFLOW_VM_MODULES:-veth inet_diag tcp_diag}
export SOCKFLOW_VM_MODULES
sh "$VM/fetch.sh" "$KERNEL" || { fail "cannot fetch kernel $KERNEL"; finish; }

O=$TMP/overlay
mkdir -p "$O/usr/libexec/sockflow" "$O/usr/lib/systemd/system" \
    "$O/usr/local/bin" "$O/usr/local/sbin" \
    "$O/etc/systemd/system/multi-user.target.wants"
for b in sockflow-probe sockflow-aggregator sockflow-enricher sockflow-output; do
	cp "$top_builddir/$b" "$O/usr/libexec/sockflow/" ||
	    { fail "no $top_builddir/$b"; finish; }
done
cp "$top_srcdir"/systemd/*.service "$top_srcdir"/systemd/*.socket \
    "$O/usr/lib/systemd/system/"
cp "$top_builddir/tests/live/tcpflow" "$O/usr/local/bin/" ||
    { fail "no tests/live/tcpflow"; finish; }
sh "$VM/vmtest-unit.sh" "$O" "$VM/guest-systemd.sh" \
    "sockflow's systemd test (tests/vm/guest-systemd.sh)" ||
    { fail "cannot install the guest's test"; finish; }
# The sock_diag modules fetch.sh keeps for the kernel, in the guest's
# system (boot.sh appends them too, as a second archive).
(cd "$O" && gzip -dc "$SOCKFLOW_VM_CACHE_DIR/$KERNEL/modules.cpio.gz" |
    cpio -id --quiet) || { fail "no modules for $KERNEL"; finish; }

if ! sh "$VM/mkrootfs.sh" "$TMP/rootfs.cpio.gz" "$O"; then
	fail "cannot build the guest's system"
	finish
fi
SOCKFLOW_VM_APPEND="rdinit=/lib/systemd/systemd systemd.show_status=0" \
SOCKFLOW_VM_MEM=2048 \
    sh "$VM/boot.sh" "$KERNEL" "$TMP/rootfs.cpio.gz" "$TMP/vm" \
    "${SOCKFLOW_VM_TIMEOUT:-600}"
st=$?
cat "$TMP/vm/driver.out"
cat "$TMP/vm/timing" 2>/dev/null
if [ "$st" != 0 ]; then
	fail "the systemd guest ended with status $st"
	tail -n 60 "$TMP/vm/console.log"
fi
finish

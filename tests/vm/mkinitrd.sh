#!/bin/sh
# Build the initramfs that the VM tests boot (see boot.sh): busybox, the
# given host files at the same paths, or at GUESTPATH (executables with
# their shared libraries and the dynamic loader, found with ldd), a few
# /etc files a test usually needs (users root, nobody, sockflow and
# tcpdump), and an /init that mounts proc, sysfs, devtmpfs, tracefs and
# debugfs, loads the kernel's modules boot.sh adds, brings lo up, runs
# the caller's driver script between two console markers and powers off.
# The image does not depend on the kernel: one serves every boot.
#
# usage: mkinitrd.sh [-d DRIVER] OUT.gz [FILE | HOSTPATH=GUESTPATH ...]
#
# DRIVER (or $SOCKFLOW_VM_DRIVER) is a host file copied in as /driver.sh
# and read by busybox sh (". /driver.sh" in "sh -c") with stdout and
# stderr on the console; its exit status is the VM's (boot.sh's). Note
# that this shell prefers its own applets: see /etc/sockflow-vm.sh below.
# In the guest, "sendfile PATH [NAME]" prints PATH base64-encoded between
#	=== FILE NAME BEGIN
#	=== FILE NAME END size=BYTES sha256=HEX
# and boot.sh turns that back into OUTDIR/files/NAME: the serial console
# is the only way out, since the kernels' virtio drivers are modules.
#
# The guest has a merged /usr like the Debian 12 host (/bin, /sbin, /lib
# and /lib64 are links into /usr), so paths ldd prints work as they are,
# and a full program given by the caller (iproute2's /usr/sbin/ip, which
# has netns and veth; busybox's does not) takes precedence over the
# busybox applet of the same name.
set -eu

usage() {
	echo "usage: mkinitrd.sh [-d driver] out.gz [file | hostpath=guestpath ...]" >&2
	exit 2
}

die() {
	echo "mkinitrd.sh: $*" >&2
	exit 1
}

DRIVER=${SOCKFLOW_VM_DRIVER:-}
while getopts d: opt; do
	case $opt in
	d) DRIVER=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
OUT=$1
shift
[ -n "$DRIVER" ] || die "no driver script (-d or SOCKFLOW_VM_DRIVER)"
[ -r "$DRIVER" ] || die "cannot read driver $DRIVER"
for t in cpio gzip ldd getent; do
	command -v $t >/dev/null || die "needs $t (tests/vm/fetch.sh installs it)"
done
BUSYBOX=
for b in /bin/busybox /usr/bin/busybox; do
	[ -x "$b" ] && { BUSYBOX=$b; break; }
done
[ -n "$BUSYBOX" ] || die "needs busybox (apt-get install busybox-static)"

R=$(mktemp -d /tmp/sockflow-initrd.XXXXXX)
trap 'rm -rf "$R"' EXIT
trap 'exit 1' INT TERM
# The archive's "." entry sets the mode of the guest's /: unprivileged
# components must be able to get through it.
chmod 755 "$R"

for d in usr/bin usr/sbin usr/lib usr/lib64 etc proc sys dev run root \
    var/tmp; do
	mkdir -p "$R/$d"
done
for d in bin sbin lib lib64; do
	ln -s usr/$d "$R/$d"
done
ln -s ../run "$R/var/run"
mkdir -m 1777 "$R/tmp"
chmod 1777 "$R/var/tmp"
chmod 700 "$R/root"

# copy HOST GUEST: a file into the image; an executable brings the
# libraries ldd finds for it, at the paths ldd names (the loader's
# search path is the same inside, so no ld.so.cache is needed).
copy() {
	mkdir -p "$R$(dirname "$2")"
	cp -L "$1" "$R$2"
	[ -x "$1" ] || return 0
	# ldd fails on scripts and static programs: they need nothing.
	libs=$(ldd "$1" 2>/dev/null) || return 0
	if echo "$libs" | grep -q "not found"; then
		die "$1: a library is missing on the host: $(echo "$libs" | grep "not found")"
	fi
	echo "$libs" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
	    $1 ~ /^\// { print $1 }' | while read -r lib; do
		if [ ! -e "$R$lib" ]; then
			mkdir -p "$R$(dirname "$lib")"
			cp -L "$lib" "$R$lib"
		fi
	done
}

copy "$BUSYBOX" /usr/bin/busybox
for f in "$@"; do
	case $f in
	*=*) host=${f%%=*} guest=${f#*=} ;;
	*) host=$f guest=$f ;;
	esac
	case $guest in
	/*) ;;
	*) die "$guest: the guest path must be absolute" ;;
	esac
	[ -f "$host" ] || die "$host: no such file"
	copy "$host" "$guest"
	[ -x "$host" ] && echo "$guest" >>"$R/.progs"
done
cp "$DRIVER" "$R/driver.sh"
chmod 755 "$R/driver.sh"

# Debian's busybox-static shell runs its own applet for a bare command
# name whatever PATH says (FEATURE_SH_STANDALONE), so "ip" would be
# busybox's ip even with iproute2's in the image. An alias wins over an
# applet and, unlike a function, leaves "ip ... &" one process whose pid
# is $!: the driver is read after one alias per given program that has
# an applet's name. A nested "sh -c" does not see them; there, use the
# full path. Programs that exec others (ip netns exec) search PATH and
# find the given program first.
{
	echo "# Read before /driver.sh: given programs over busybox applets."
	if [ -f "$R/.progs" ]; then
		"$BUSYBOX" --list | sort -u >"$R/.applets"
		while read -r p; do
			n=${p##*/}
			case ${p%/*} in
			/usr/local/sbin|/usr/local/bin|/usr/sbin|/usr/bin|/sbin|/bin) ;;
			*) continue ;;
			esac
			grep -qx "$n" "$R/.applets" || continue
			echo "alias $n=$p"
		done <"$R/.progs"
	fi
} >"$R/etc/sockflow-vm.sh"
rm -f "$R/.progs" "$R/.applets"

# Users: root; nobody; sockflow, the user the launcher drops the
# aggregator and enricher to when it exists (as on the host when the
# host has one, else a system uid free on the host); tcpdump, the user
# Debian's tcpdump drops to (it refuses to run when that user is
# missing). Each with its primary group.
: >"$R/etc/passwd"
: >"$R/etc/group"
echo "root:x:0:0:root:/root:/bin/sh" >>"$R/etc/passwd"
echo "root:x:0:" >>"$R/etc/group"
adduser_host() {
	pw=$(getent passwd "$1") || return 1
	echo "$pw" >>"$R/etc/passwd"
	gid=$(echo "$pw" | cut -d: -f4)
	if ! cut -d: -f3 "$R/etc/group" | grep -qx "$gid"; then
		gr=$(getent group "$gid") || gr="$1:x:$gid:"
		# Only the name, password and gid: no host members.
		echo "$gr" | awk -F: -v OFS=: '{ print $1, $2, $3, "" }' \
		    >>"$R/etc/group"
	fi
}
adduser_host nobody || {
	echo "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin" >>"$R/etc/passwd"
	echo "nogroup:x:65534:" >>"$R/etc/group"
}
if ! adduser_host sockflow; then
	id=999
	while [ $id -gt 100 ] && { getent passwd $id || getent group $id; } \
	    >/dev/null; do
		id=$((id - 1))
	done
	echo "sockflow:x:$id:$id:sockflow:/nonexistent:/usr/sbin/nologin" >>"$R/etc/passwd"
	echo "sockflow:x:$id:" >>"$R/etc/group"
fi
adduser_host tcpdump || true

# Name lookups from files only: the host's nsswitch.conf may name
# modules (systemd, sss) that are not in the image.
cat >"$R/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
shadow: files
hosts: files
networks: files
protocols: files
services: files
EOF
cat >"$R/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
echo sockflow-vm >"$R/etc/hostname"
# Port and protocol names, for tcpdump and getaddrinfo.
for f in /etc/services /etc/protocols; do
	[ -f "$f" ] && cp "$f" "$R$f"
done
ln -s /proc/self/mounts "$R/etc/mtab"

cat >"$R/usr/bin/sendfile" <<'EOF'
#!/bin/sh
# sendfile PATH [NAME]: send a file to the host over the console, base64
# between markers; boot.sh writes it to OUTDIR/files/NAME. It writes to
# /dev/console, not stdout, so that it works from a driver whose output
# is redirected. NAME (default: the file's base name) is reduced to
# characters safe as a host file name.
set -eu
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: sendfile path [name]" >&2
	exit 2
fi
if [ ! -f "$1" ] || [ ! -r "$1" ]; then
	echo "sendfile: cannot read $1" >&2
	exit 1
fi
name=$(basename "${2:-$1}" | tr -c 'A-Za-z0-9._\n-' '_')
case $name in
.*|"") name=_$name ;;
esac
size=$(wc -c <"$1")
sum=$(sha256sum <"$1" | cut -d' ' -f1)
{
	echo "=== FILE $name BEGIN"
	base64 "$1"
	echo "=== FILE $name END size=$size sha256=$sum"
} >/dev/console
EOF
chmod 755 "$R/usr/bin/sendfile"

cat >"$R/init" <<'EOF'
#!/bin/busybox sh
# The guest's init: mount what the tests use, run /driver.sh between the
# markers boot.sh looks for, send the kernel log, power off.
# proc first: busybox --install -s points its links at /proc/self/exe
# when it cannot read that link, and such a link run by any other
# program would start that program again.
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
hostname -F /etc/hostname
# Modules boot.sh appended for this kernel (see fetch.sh), those that
# others depend on first: a few passes until none loads any more.
m=/lib/modules/$(uname -r)
if [ -d "$m" ]; then
	for _ in 1 2 3 4 5; do
		more=0
		for k in "$m"/*.ko; do
			n=$(basename "$k" .ko | tr - _)
			grep -q "^$n " /proc/modules && continue
			insmod "$k" 2>/dev/null && more=1
		done
		[ $more = 1 ] || break
	done
	for k in "$m"/*.ko; do
		n=$(basename "$k" .ko | tr - _)
		grep -q "^$n " /proc/modules || echo "init: cannot load $k"
	done
fi
ip link set lo up
# Only emergencies on the console while the driver runs: a kernel
# message in the middle of a line would spoil driver output or a file
# being sent. The whole kernel log is sent at the end instead.
echo 1 >/proc/sys/kernel/printk
up() { cut -d' ' -f1 /proc/uptime; }
echo "=== SOCKFLOW-VM START uptime=$(up)"
cd /
sh -c '. /etc/sockflow-vm.sh; . /driver.sh' </dev/null 2>&1
st=$?
cd /
dmesg >/tmp/dmesg.txt 2>&1 && sendfile /tmp/dmesg.txt dmesg
echo "=== SOCKFLOW-VM END status=$st uptime=$(up)"
sync
poweroff -f
# Not reached; if it were, init's exit panics and panic=-1 with
# qemu's -no-reboot ends the VM.
EOF
chmod 755 "$R/init"

# Owned by root in the guest whoever builds it.
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    gzip -1 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"

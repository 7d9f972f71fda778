#!/bin/sh
# Boot a cached Debian kernel (see fetch.sh) with an initramfs from
# mkinitrd.sh under QEMU, software emulation (TCG: KVM hangs on the CI and
# development hosts), and collect what the guest's driver said and sent.
#
# usage: boot.sh KERNEL INITRD OUTDIR [TIMEOUT_S]
#
# KERNEL is a label in the cache (5.10, 6.1, 6.12) or a path to a vmlinuz.
# TIMEOUT_S (default 300) bounds the whole VM run. SOCKFLOW_VM_APPEND is
# added to the kernel command line (nokaslr, for instance), SOCKFLOW_VM_MEM
# sets the guest's memory in MiB (1024). In OUTDIR:
#	console.log	the console as received (with \r and SeaBIOS noise)
#	qemu.err	qemu's own messages
#	driver.out	the driver's output between the markers, without
#			the files it sent
#	files/NAME	each file the guest sent with sendfile, checked
#			against the size and sha256 the guest computed
#	timing		seconds from launch to the start marker and to
#			the end of qemu, and the guest's uptime at both
#			markers
# The exit status is the driver's; when the guest sent no end marker it
# is 124 (timed out) or 125 (the guest died: panic, crash, no /init), and
# 126 when a sent file did not arrive intact.
set -eu

CACHE=${SOCKFLOW_VM_CACHE:-/var/cache/sockflow-vm}

usage() {
	echo "usage: boot.sh kernel initrd outdir [timeout_s]" >&2
	exit 2
}

die() {
	echo "boot.sh: $*" >&2
	exit 1
}

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	usage
fi
KLABEL=$1
INITRD=$2
OUTDIR=$3
TIMEOUT=${4:-300}
case $TIMEOUT in
''|*[!0-9]*) die "timeout must be a number of seconds" ;;
esac
command -v qemu-system-x86_64 >/dev/null ||
    die "needs qemu-system-x86_64 (tests/vm/fetch.sh installs it)"

case $KLABEL in
*/*) KERNEL=$KLABEL ;;
*)
	KERNEL=
	for k in "$CACHE/$KLABEL"/vmlinuz-*; do
		[ -f "$k" ] && KERNEL=$k
	done
	[ -n "$KERNEL" ] ||
	    die "no kernel for $KLABEL in $CACHE: run tests/vm/fetch.sh $KLABEL"
	;;
esac
[ -f "$KERNEL" ] || die "no kernel $KERNEL"
[ -f "$INITRD" ] || die "no initrd $INITRD"
# The kernel's own modules (veth), packed by fetch.sh, beside it.
MODS=${KERNEL%/*}/modules.cpio.gz

mkdir -p "$OUTDIR"
rm -rf "$OUTDIR/files" "$OUTDIR/.work"
rm -f "$OUTDIR/console.log" "$OUTDIR/driver.out" "$OUTDIR/timing"
mkdir -p "$OUTDIR/files" "$OUTDIR/.work"
LOG=$OUTDIR/console.log
: >"$LOG"

QPID=
# shellcheck disable=SC2317
cleanup() {
	if [ -n "$QPID" ]; then
		kill "$QPID" 2>/dev/null
	fi
	rm -rf "$OUTDIR/.work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Wall clock in milliseconds (GNU date).
now() { date +%s%3N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }

# The kernel unpacks concatenated archives one over the other, so the
# test's initramfs stays the same for every kernel.
RD=$INITRD
if [ -f "$MODS" ]; then
	RD=$OUTDIR/.work/initrd.gz
	cat "$INITRD" "$MODS" >"$RD"
fi

MARK="=== SOCKFLOW-VM"
t0=$(now)
# stdin from /dev/null: qemu's -nographic would otherwise put a terminal
# in raw mode and read the monitor's escape keys from it.
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 2 \
    -m "${SOCKFLOW_VM_MEM:-1024}" -nographic -no-reboot -net none \
    -kernel "$KERNEL" -initrd "$RD" \
    -append "console=ttyS0 quiet panic=-1 ${SOCKFLOW_VM_APPEND:-}" \
    </dev/null >"$LOG" 2>"$OUTDIR/qemu.err" &
QPID=$!

# Note when the driver starts (the boot's cost), polling the log a tenth
# of a second at a time; bounded by qemu's own timeout.
tstart=
while kill -0 "$QPID" 2>/dev/null; do
	if grep -qF "$MARK START" "$LOG"; then
		tstart=$(now)
		break
	fi
	sleep 0.1
done
qrc=0
wait "$QPID" || qrc=$?
QPID=
tend=$(now)

# \r from the tty, and the escape sequences SeaBIOS leaves at the start
# of the log, sometimes on the line of the first guest output (so
# markers are matched anywhere on a line, not at its start).
ESC=$(printf '\033')
CLEAN=$OUTDIR/.work/console.txt
tr -d '\r' <"$LOG" |
    sed "s/$ESC\[[0-9;?]*[A-Za-z]//g; s/${ESC}c//g" >"$CLEAN"

# Split the console: driver output between the markers, each sent file's
# base64 lines into .work/NAME, and a manifest of what came and what the
# guest said it sent.
awk -v dir="$OUTDIR/.work" -v out="$OUTDIR/driver.out" -v mark="$MARK" '
BEGIN { state = 0; file = ""; printf "" > out }
# A file block the guest did not finish (it died, or a marker came
# first) is recorded as truncated, and the line is read again as usual.
function cut() {
	print save, "truncated" > (dir "/manifest")
	close(dir "/" save ".b64")
	file = ""
}
{
	if (file != "") {
		if ((i = index($0, "=== FILE " file " END")) > 0) {
			split(substr($0, i), f, " ")
			print save, f[5], f[6] > (dir "/manifest")
			close(dir "/" save ".b64")
			file = ""
			next
		}
		if (index($0, "=== FILE ") == 0 && index($0, mark " ") == 0) {
			print > (dir "/" save ".b64")
			next
		}
		cut()
	}
	if ((i = index($0, "=== FILE ")) > 0) {
		split(substr($0, i), f, " ")
		if (f[4] == "BEGIN" && f[3] ~ /^[A-Za-z0-9_][A-Za-z0-9._-]*$/) {
			file = f[3]
			# A name sent again is kept as NAME.1, NAME.2, ...
			save = file
			if (sent[file]++)
				save = file "." (sent[file] - 1)
			printf "" > (dir "/" save ".b64")
			next
		}
	}
	if ((i = index($0, mark " START")) > 0) {
		state = 1
		split(substr($0, i), f, " ")
		sub(/^uptime=/, "", f[4])
		print "start_uptime", f[4] > (dir "/markers")
		next
	}
	if ((i = index($0, mark " END")) > 0) {
		state = 2
		split(substr($0, i), f, " ")
		sub(/^status=/, "", f[4])
		sub(/^uptime=/, "", f[5])
		print "status", f[4] > (dir "/markers")
		print "end_uptime", f[5] > (dir "/markers")
		next
	}
	if (state == 1)
		print > out
}
END {
	if (file != "")
		cut()
}' "$CLEAN"

marker() {
	[ -f "$OUTDIR/.work/markers" ] || return 0
	awk -v k="$1" '$1 == k { print $2 }' "$OUTDIR/.work/markers"
}
status=$(marker status)
{
	if [ -n "$tstart" ]; then
		echo "start_s $(secs "$t0" "$tstart")"
	else
		echo "start_s -"
	fi
	echo "total_s $(secs "$t0" "$tend")"
	echo "start_uptime $(marker start_uptime)"
	echo "end_uptime $(marker end_uptime)"
	echo "kernel $KERNEL"
} >"$OUTDIR/timing"

# Decode and check every file that came back.
bad=0
if [ -f "$OUTDIR/.work/manifest" ]; then
	while read -r name size sum; do
		if [ "$size" = truncated ]; then
			echo "boot.sh: file $name: the guest stopped while sending it" >&2
			bad=1
			continue
		fi
		if ! base64 -d <"$OUTDIR/.work/$name.b64" >"$OUTDIR/files/$name"; then
			echo "boot.sh: file $name: bad base64" >&2
			bad=1
			continue
		fi
		got_size=$(wc -c <"$OUTDIR/files/$name")
		got_sum=$(sha256sum <"$OUTDIR/files/$name" | cut -d' ' -f1)
		if [ "size=$got_size" != "$size" ] || [ "sha256=$got_sum" != "$sum" ]; then
			echo "boot.sh: file $name: damaged on the way (got size=$got_size sha256=$got_sum, the guest sent $size $sum)" >&2
			bad=1
		fi
	done <"$OUTDIR/.work/manifest"
fi

# The poll above can miss a start marker when the guest dies right
# after it; the marker itself is what says the driver ran.
if [ -n "$(marker start_uptime)" ]; then
	if [ -n "$tstart" ]; then
		when="after $(secs "$t0" "$tstart") s"
	else
		when="(not timed)"
	fi
	echo "boot.sh: $KLABEL: driver started $when, guest uptime" \
	    "$(marker start_uptime) s; qemu ran $(secs "$t0" "$tend") s" >&2
	ran="after the driver started"
else
	echo "boot.sh: $KLABEL: the driver never started;" \
	    "qemu ran $(secs "$t0" "$tend") s" >&2
	ran="before the driver started"
fi
if [ -z "$status" ]; then
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		echo "boot.sh: $KLABEL: timed out after $TIMEOUT s ($ran);" \
		    "see $LOG" >&2
		exit 124
	fi
	echo "boot.sh: $KLABEL: the guest ended without an end marker" \
	    "(qemu status $qrc, $ran): kernel panic or crash? see $LOG" >&2
	[ -s "$OUTDIR/qemu.err" ] && sed 's/^/qemu: /' "$OUTDIR/qemu.err" >&2
	exit 125
fi
[ $bad = 0 ] || exit 126
case $status in
''|*[!0-9]*) die "$KLABEL: bad end marker (status '$status')" ;;
esac
exit "$status"

#!/bin/sh
# The systemd units: they load cleanly and keep their hardening.
#
#  1. The facts the units and the code must agree on: socket paths given
#     to -c/-e are the ones the socket units listen on, and the enricher
#     checks its peer against the user the aggregator runs as.
#  2. "systemd-analyze verify" accepts all seven units and says nothing
#     about any of them on stderr.
#  3. "systemd-analyze security --offline=true" scores each service at or
#     below its budget: probe 2.5 (root with CAP_SYS_ADMIN, CAP_NET_ADMIN
#     and the host network is inherent; see below), aggregator 1.0,
#     enricher 1.0, output 1.5 (it needs the network; see below).
#
# Run by the automake harness with top_srcdir and top_builddir set (maybe
# relative; the cwd is the build directory). POSIX sh: /bin/sh is dash.
# Exit 0 on pass, 1 on failure; this test never skips.

LC_ALL=C
SYSTEMD_COLORS=0
SYSTEMD_PAGER='cat'
export LC_ALL SYSTEMD_COLORS SYSTEMD_PAGER

: "${top_srcdir:=.}"
: "${top_builddir:=.}"

UNITDIR=$top_srcdir/systemd
UNITS="sockflow-probe.service sockflow-aggregator.service
sockflow-aggregator.socket sockflow-enricher.service
sockflow-enricher.socket sockflow-output.service sockflow-output.socket"
BINARIES="sockflow-probe sockflow-aggregator sockflow-enricher sockflow-output"
LIBEXEC=/usr/libexec/sockflow

failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

die() {
	echo "FAIL: $*" >&2
	exit 1
}

command -v systemd-analyze >/dev/null 2>&1 ||
    die "systemd-analyze not found (Debian: the systemd package)"

for u in $UNITS; do
	[ -f "$UNITDIR/$u" ] || die "missing unit $UNITDIR/$u"
done

abs_builddir=$(cd "$top_builddir" && pwd) ||
    die "cannot enter top_builddir $top_builddir"
for b in $BINARIES; do
	[ -x "$abs_builddir/$b" ] ||
	    die "$abs_builddir/$b is not built (run make first)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/unitverify.XXXXXX") ||
    die "mktemp failed"
trap 'rm -rf "$tmp"' 0
trap 'exit 1' HUP INT TERM

# The value of the last "Key=" line of a unit file (socket units have one
# ListenStream=, services one User=, ...). Empty when absent.
unit_value() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# The word after option $2 on the ExecStart= line of unit $1.
exec_option() {
	unit_value "$1" ExecStart | awk -v opt="$2" '{
		for (i = 1; i < NF; i++)
			if ($i == opt) { print $(i + 1); exit }
	}'
}

# --- 1. Facts shared between units and code.

for b in $BINARIES; do
	u=$UNITDIR/$b.service
	case $(unit_value "$u" ExecStart) in
	"$LIBEXEC/$b "*|"$LIBEXEC/$b")
		;;
	*)
		fail "$b.service: ExecStart= must start with $LIBEXEC/$b"
		;;
	esac
done

agg_listen=$(unit_value "$UNITDIR/sockflow-aggregator.socket" ListenStream)
enr_listen=$(unit_value "$UNITDIR/sockflow-enricher.socket" ListenStream)
probe_c=$(exec_option "$UNITDIR/sockflow-probe.service" -c)
agg_e=$(exec_option "$UNITDIR/sockflow-aggregator.service" -e)
if [ -z "$agg_listen" ] || [ "$probe_c" != "$agg_listen" ]; then
	fail "probe connects to '$probe_c'," \
	    "aggregator.socket listens on '$agg_listen'"
fi
if [ -z "$enr_listen" ] || [ "$agg_e" != "$enr_listen" ]; then
	fail "aggregator connects to '$agg_e'," \
	    "enricher.socket listens on '$enr_listen'"
fi

agg_user=$(unit_value "$UNITDIR/sockflow-aggregator.service" User)
enr_user=$(unit_value "$UNITDIR/sockflow-enricher.service" User)
enr_a=$(exec_option "$UNITDIR/sockflow-enricher.service" -a)
# Both dynamic users must be the same name: that is what makes the uid the
# enricher resolves for -a the uid the aggregator connects with.
if [ -z "$agg_user" ] || [ "$agg_user" != "$enr_user" ]; then
	fail "aggregator User=$agg_user and enricher User=$enr_user differ"
fi
if [ "$enr_a" != "$agg_user" ]; then
	fail "enricher checks its peer against -a $enr_a," \
	    "the aggregator runs as $agg_user"
fi

# The enricher writes into the FIFO sockflow-output reads.
out_fifo=$(unit_value "$UNITDIR/sockflow-output.socket" ListenFIFO)
enr_out=$(unit_value "$UNITDIR/sockflow-enricher.service" StandardOutput)
if [ -z "$out_fifo" ] || [ "$enr_out" != "file:$out_fifo" ]; then
	fail "enricher's StandardOutput=$enr_out, output.socket's" \
	    "ListenFIFO=$out_fifo"
fi
if [ "$(unit_value "$UNITDIR/sockflow-enricher.service" StandardError)" != \
    journal ]; then
	fail "the enricher's logs would follow its stdout into the FIFO"
fi
case $(unit_value "$UNITDIR/sockflow-enricher.service" ExecStart) in
*" -n "*) ;;
*) fail "the enricher must begin with a newline (-n) on the shared FIFO" ;;
esac

# --- 2. systemd-analyze verify.
#
# verify checks that every ExecStart= binary exists, and they are only
# installed to /usr/libexec/sockflow by "make install". The test installs
# nothing outside its temporary directory: "verify --root=" would need a
# copy of the whole systemd unit tree (sysinit.target, ...) under that
# root, so instead the units are copied and only the directory part of
# their ExecStart= paths is rewritten to point at links to the binaries
# just built. Every other line is verified as shipped, and dependencies on
# system units (sockets.target, sys-kernel-tracing.mount) resolve against
# the host's own units.

mkdir "$tmp/units" "$tmp/libexec" || die "cannot populate $tmp"
for b in $BINARIES; do
	ln -s "$abs_builddir/$b" "$tmp/libexec/$b" || die "ln $b"
done
for u in $UNITS; do
	sed "s|^ExecStart=$LIBEXEC/|ExecStart=$tmp/libexec/|" \
	    "$UNITDIR/$u" >"$tmp/units/$u" || die "cannot copy $u"
done
for b in $BINARIES; do
	grep -q "^ExecStart=$tmp/libexec/$b" "$tmp/units/$b.service" ||
	    fail "$b.service: ExecStart= was not redirected for verify"
done

set --
for u in $UNITS; do
	set -- "$@" "$tmp/units/$u"
done
systemd-analyze verify "$@" >"$tmp/verify.out" 2>"$tmp/verify.err"
rc=$?
if [ $rc -ne 0 ]; then
	fail "systemd-analyze verify exited $rc"
	cat "$tmp/verify.err" >&2
elif grep -q 'sockflow' "$tmp/verify.err"; then
	fail "systemd-analyze verify complained about the units:"
	grep 'sockflow' "$tmp/verify.err" >&2
else
	echo "ok: systemd-analyze verify: all seven units"
	# Anything left is about host units, not ours: show, do not fail.
	if [ -s "$tmp/verify.err" ]; then
		echo "note: verify said about other units:"
		sed 's/^/  /' "$tmp/verify.err"
	fi
fi

# --- 3. systemd-analyze security: overall exposure within budget.

check_exposure() {
	unit=$1
	max=$2
	systemd-analyze security --offline=true --no-pager \
	    "$tmp/units/$unit" >"$tmp/security.out" 2>"$tmp/security.err"
	rc=$?
	level=$(awk -v u="$unit" '
		index($0, "Overall exposure level for " u ": ") {
			sub(/.*Overall exposure level for [^ ]*: */, "")
			print $1
		}' "$tmp/security.out")
	if [ $rc -ne 0 ]; then
		fail "$unit: systemd-analyze security exited $rc"
		cat "$tmp/security.err" "$tmp/security.out" >&2
		return
	fi
	if ! awk -v v="$level" 'BEGIN { exit !(v ~ /^[0-9]+(\.[0-9]+)?$/) }'
	then
		fail "$unit: no overall exposure level in the output"
		cat "$tmp/security.err" "$tmp/security.out" >&2
		return
	fi
	if awk -v v="$level" -v m="$max" 'BEGIN { exit !(v + 0 <= m + 0) }'
	then
		echo "ok: $unit exposure $level <= $max"
	else
		fail "$unit: exposure $level is above $max; findings:"
		# The rows that add to the score end in their weight.
		awk '$NF ~ /^[0-9]+\.[0-9]+$/ && !/Overall/' \
		    "$tmp/security.out" >&2
	fi
}

# The probe keeps what Debian 12's own kernel makes it need, each
# measured under systemd by tests/vm/systemd.sh (see the unit's
# comments): CAP_SYS_ADMIN (perf_event_paranoid 3), IPv4 and IPv6 on
# loopback (its self-test), /proc/sys readable, and tracefs writable
# (kprobe_events) through a bind mount of its own.
check_exposure sockflow-probe.service 2.5
check_exposure sockflow-aggregator.service 1.0
check_exposure sockflow-enricher.service 1.0
# The output process ships over the network (syslog, kafka, elasticsearch):
# the host's network namespace and AF_INET/AF_INET6 are its job, and
# systemd-analyze weighs them; everything else is as tight as the
# enricher's.
check_exposure sockflow-output.service 1.5

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all systemd unit checks passed"
exit 0

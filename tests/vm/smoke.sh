#!/bin/sh
# End-to-end check of the VM harness itself (fetch.sh, mkinitrd.sh,
# boot.sh) on each Debian kernel in turn. One initramfs holds the host's
# sockflow binaries (all four in /opt/sockflow: the launcher starts the
# others from its own directory), tests/live/truth and tcpflow,
# iproute2's ip and tcpdump; in each guest the driver
#	(a) registers a kprobe in a private group (sfsmoke/x on tcp_sendmsg),
#	    sees it in kprobe_events, counts its hits over one loopback
#	    connection and removes it again;
#	(b) joins two network namespaces with a veth pair (ip netns, a ping
#	    across), captures one loopback TCP exchange in one of them with
#	    tcpdump and sends the pcap back, which is read here;
#	(w) runs tests/live/truth's workload over those namespaces (with
#	    the addresses tests/live/truth.sh gives them);
#	(k) runs sockflow --check and sends its report back;
#	(c) runs sockflow (sockflow -r DIR, as tests/live do) for a few
#	    seconds around one loopback connection and sends back its stdout
#	    (flow JSON) and stderr; the connection's flow must be there;
#	(t) when the binary has socket.backend, does (c) again with the
#	    tracepoint backend forced.
# The tracepoint backend needs sock:sock_send_length, which exists from
# Linux 6.3 on, so it is expected to fail to start on 5.10 and 6.1: that
# is reported, not counted as a failure.
#
# usage: smoke.sh [5.10|6.1|6.12 ...]	(default: all three)
# SOCKFLOW_BUILDDIR (or top_builddir): where the binaries are (default:
# the source tree, built in-tree; tools/setup builds in ./build);
# SOCKFLOW_VM_TIMEOUT: seconds per boot (default 240).
# The work directory is removed unless something failed or
# SOCKFLOW_VM_KEEP is set.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# The build directory: as given, as automake's test harness gives it
# (top_builddir), or the source tree (an in-tree build).
B=${SOCKFLOW_BUILDDIR:-${top_builddir:-$(cd "$HERE/../.." && pwd)}}
TIMEOUT=${SOCKFLOW_VM_TIMEOUT:-240}
[ $# -gt 0 ] || set -- 5.10 6.1 6.12

[ "$(id -u)" = 0 ] || { echo "smoke.sh: must run as root" >&2; exit 1; }
for f in sockflow sockflow-probe sockflow-aggregator sockflow-enricher \
    tests/live/truth tests/live/tcpflow; do
	[ -x "$B/$f" ] || { echo "smoke.sh: no $B/$f (run make first)" >&2; exit 1; }
done

sh "$HERE/fetch.sh" "$@"
IP=$(command -v ip) || { echo "smoke.sh: no ip (iproute2)" >&2; exit 1; }
TCPDUMP=$(command -v tcpdump) || { echo "smoke.sh: no tcpdump" >&2; exit 1; }

W=$(mktemp -d /tmp/sockflow-smoke.XXXXXX)
FAILED=0
# shellcheck disable=SC2317
finish() {
	rc=$?
	if [ "$rc" = 0 ] && [ "$FAILED" = 0 ] && [ -z "${SOCKFLOW_VM_KEEP:-}" ]; then
		rm -rf "$W"
	elif [ "$rc" != 0 ] && [ "$FAILED" = 0 ]; then
		echo "smoke.sh: stopped by an error; files kept in $W" >&2
	fi
}
trap finish EXIT
trap 'exit 1' INT TERM

# The guest side. Each step prints "SMOKE <step> ok|FAIL <detail>"; the
# host reads those lines and the files sent back. Every wait is bounded.
# A binary with socket.backend (the kprobe backend) runs twice: as it
# chooses, and with the tracepoint backend forced.
TSTEP=
if "$B/sockflow" -n -o socket.backend=tracepoint >/dev/null 2>&1; then
	TSTEP=t
fi
echo "TSTEP=$TSTEP" >"$W/driver.sh"
cat >>"$W/driver.sh" <<'EOF'
S=/opt/sockflow
T=/sys/kernel/tracing
up() { cut -d' ' -f1 /proc/uptime; }
# since T0: seconds of uptime since T0.
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { print b - a }'; }
echo "kernel $(uname -r), $(nproc) cpus"

# (a) kprobe registration in a private group.
step_a() {
	: >$T/error_log 2>/dev/null
	if ! echo 'p:sfsmoke/x tcp_sendmsg' >>$T/kprobe_events; then
		echo "SMOKE a FAIL register: $(cat $T/error_log 2>/dev/null | tr '\n' ' ')"
		return
	fi
	grep -q '^p:sfsmoke/x tcp_sendmsg' $T/kprobe_events || {
		echo "SMOKE a FAIL not listed in kprobe_events: $(cat $T/kprobe_events)"
		return
	}
	echo 1 >$T/events/sfsmoke/x/enable
	timeout 20 $S/tcpflow 127.0.0.1 7001 1000 client-first >/dev/null
	echo 0 >$T/events/sfsmoke/x/enable
	hits=$(awk '$1 == "x" || $1 == "sfsmoke/x" { print $2 }' $T/kprobe_profile)
	if ! echo '-:sfsmoke/x' >>$T/kprobe_events; then
		echo "SMOKE a FAIL remove: $(cat $T/error_log 2>/dev/null | tr '\n' ' ')"
		return
	fi
	if grep -q sfsmoke $T/kprobe_events || [ -d $T/events/sfsmoke ]; then
		echo "SMOKE a FAIL still there after removal"
		return
	fi
	if [ "${hits:-0}" -gt 0 ]; then
		echo "SMOKE a ok hits=$hits"
	else
		echo "SMOKE a FAIL no hits over a connection ($(cat $T/kprobe_profile))"
	fi
}

# (b) two namespaces and a veth pair; one loopback exchange captured in A.
step_b() {
	if ! { ip netns add sfa && ip netns add sfb &&
	    ip link add sfva netns sfa type veth peer name sfvb netns sfb &&
	    ip -n sfa addr add 10.211.0.1/24 dev sfva &&
	    ip -n sfa addr add fd00:211::1/64 dev sfva nodad &&
	    ip -n sfb addr add 10.211.0.2/24 dev sfvb &&
	    ip -n sfb addr add fd00:211::2/64 dev sfvb nodad &&
	    ip -n sfa link set sfva gso_max_segs 1 &&
	    ip -n sfb link set sfvb gso_max_segs 1 &&
	    ip -n sfa link set lo up && ip -n sfb link set lo up &&
	    ip -n sfa link set sfva up && ip -n sfb link set sfvb up; }
	then
		echo "SMOKE b FAIL cannot set up the namespaces"
		return
	fi
	ip -n sfa -br link; ip -n sfb -br addr
	i=0
	until ip netns exec sfa ping -c 1 -W 1 10.211.0.2 >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 10 ] && { echo "SMOKE b FAIL no ping across the veth"; return; }
		sleep 0.2
	done
	# Immediate mode: otherwise packets wait in the capture ring for a
	# block timeout and are lost when tcpdump is stopped.
	ip netns exec sfa tcpdump -i lo -nn -U --immediate-mode \
	    -w /tmp/lo.pcap tcp port 7003 \
	    2>/tmp/tcpdump.err &
	td=$!
	i=0
	until grep -q "listening on" /tmp/tcpdump.err 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $td 2>/dev/null; then
			echo "SMOKE b FAIL tcpdump did not start: $(cat /tmp/tcpdump.err)"
			kill $td 2>/dev/null
			return
		fi
		sleep 0.1
	done
	ip netns exec sfa timeout 20 $S/tcpflow 127.0.0.1 7003 2000 client-first
	sleep 1
	kill -INT $td
	i=0
	while kill -0 $td 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 50 ] && { kill -KILL $td; break; }
		sleep 0.1
	done
	wait $td
	cat /tmp/tcpdump.err
	sendfile /tmp/lo.pcap
	echo "SMOKE b ok ping across the veth; pcap $(wc -c </tmp/lo.pcap) bytes"
}

# (w) tests/live/truth's workload over b's namespaces (its addresses,
# as tests/live/truth.sh sets them up), on its own.
step_w() {
	[ -e /run/netns/sfb ] || { echo "SMOKE w FAIL no namespaces"; return; }
	timeout 120 $S/truth sfa sfb >/tmp/truth.jsonl 2>/tmp/truth.err
	st=$?
	sendfile /tmp/truth.jsonl
	if [ $st = 0 ]; then
		echo "SMOKE w ok $(wc -l </tmp/truth.jsonl) flows of truth"
	else
		echo "SMOKE w FAIL status $st: $(tail -n 3 /tmp/truth.err | tr '\n' ' ')"
	fi
}

# sockflow --check: what the guest kernel offers each backend.
step_k() {
	$S/sockflow --check >/tmp/check.txt 2>&1
	st=$?
	sendfile /tmp/check.txt
	echo "SMOKE k status $st: $(grep -E '^(backend|result):' /tmp/check.txt | tr '\n' ' ')"
}

# run_sockflow NAME PORT [OPTION...]: sockflow around one loopback
# connection to PORT; its output comes back as sockflow-NAME.json and
# sockflow-NAME.err.
run_sockflow() {
	name=$1
	port=$2
	shift 2
	out=/tmp/sockflow-$name
	t0=$(up)
	$S/sockflow -r /run/sfsmoke "$@" >"$out.json" 2>"$out.err" &
	L=$!
	i=0
	started=0
	# The probe says "<kind> backend (<why>): N event(s) on ..." once
	# its events are on.
	while [ $i -lt 300 ]; do
		grep -qE 'backend \(.*event\(s\) on' "$out.err" && { started=1; break; }
		kill -0 $L 2>/dev/null || break
		i=$((i + 1))
		sleep 0.1
	done
	if [ $started = 1 ]; then
		echo "sockflow ($name) started in $(since "$t0") s"
		timeout 20 $S/tcpflow 127.0.0.1 "$port" 4000 client-first
		sleep 2
		kill -INT $L
	fi
	i=0
	while kill -0 $L 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { kill -KILL $L; break; }
		sleep 0.1
	done
	wait $L
	st=$?
	sendfile "$out.json"
	sendfile "$out.err"
	if [ $started = 1 ]; then
		echo "SMOKE $name ok ran: $(grep -oE '[a-z]+ backend \([^)]*\)' "$out.err" | head -n 1); exit status $st; $(wc -l <"$out.json") lines of JSON"
	else
		why=$(grep -m 1 -E 'fatal|error' "$out.err") || why=$(tail -n 1 "$out.err")
		echo "SMOKE $name FAIL did not start; exit status $st: $why"
	fi
}

# (c) sockflow as configured by default (socket.backend auto, where the
# binary has it).
step_c() {
	run_sockflow c 7002
}

# (t) the tracepoint backend forced, when the binary can be told so.
step_t() {
	run_sockflow t 7004 -o socket.backend=tracepoint
}

for s in a b w k c $TSTEP; do
	t0=$(up)
	"step_$s"
	echo "step $s took $(since "$t0") s of guest time"
done
EOF

sh "$HERE/mkinitrd.sh" -d "$W/driver.sh" "$W/initrd.gz" \
    "$B/sockflow=/opt/sockflow/sockflow" \
    "$B/sockflow-probe=/opt/sockflow/sockflow-probe" \
    "$B/sockflow-aggregator=/opt/sockflow/sockflow-aggregator" \
    "$B/sockflow-enricher=/opt/sockflow/sockflow-enricher" \
    "$B/tests/live/truth=/opt/sockflow/truth" \
    "$B/tests/live/tcpflow=/opt/sockflow/tcpflow" \
    "$IP=/usr/sbin/ip" "$TCPDUMP=/usr/bin/tcpdump"
echo "initramfs: $(wc -c <"$W/initrd.gz") bytes"

# step K STEP: the guest's verdict line for a step, without "SMOKE x ".
step() {
	grep "^SMOKE $2 " "$W/$1/driver.out" 2>/dev/null | head -n 1 | cut -d' ' -f3-
}

SUMMARY=$W/summary
: >"$SUMMARY"
for k in "$@"; do
	echo "=== $k"
	rc=0
	sh "$HERE/boot.sh" "$k" "$W/initrd.gz" "$W/$k" "$TIMEOUT" || rc=$?
	# boot.sh may have stopped before writing these.
	sed 's/^/  | /' "$W/$k/driver.out" 2>/dev/null || true
	total=$(awk '$1 == "total_s" { print $2 }' "$W/$k/timing" 2>/dev/null) || true
	start=$(awk '$1 == "start_s" { print $2 }' "$W/$k/timing" 2>/dev/null) || true
	a=$(step "$k" a)
	b=$(step "$k" b)
	w=$(step "$k" w)
	chk=$(grep "^SMOKE k " "$W/$k/driver.out" 2>/dev/null | cut -d' ' -f3-)
	# (b): the pcap must hold the whole exchange: handshake, data and
	# both FINs, as read by the host's tcpdump.
	pcap=$W/$k/files/lo.pcap
	case $b in
	ok*)
		n=$(tcpdump -nn -r "$pcap" 2>/dev/null | wc -l)
		syn=$(tcpdump -nn -r "$pcap" 'tcp[tcpflags] & tcp-syn != 0' 2>/dev/null | wc -l)
		fin=$(tcpdump -nn -r "$pcap" 'tcp[tcpflags] & tcp-fin != 0' 2>/dev/null | wc -l)
		if [ "$n" -ge 6 ] && [ "$syn" = 2 ] && [ "$fin" = 2 ]; then
			b="$b; host read $n packets ($syn SYN, $fin FIN)"
		else
			b="FAIL pcap: $n packets, $syn SYN, $fin FIN"
		fi
		;;
	esac
	{
		echo "$k: boot.sh status $rc; driver started after ${start:-?} s, qemu ran ${total:-?} s"
		echo "  (a) kprobe:   ${a:-FAIL no verdict (see $W/$k/console.log)}"
		echo "  (b) netns:    ${b:-FAIL no verdict}"
		echo "  (w) truth:    ${w:-FAIL no verdict}"
		echo "  --check:      ${chk:-none}"
	} | tee -a "$SUMMARY"
	[ "$rc" = 0 ] || FAILED=1
	case "$a|$b|$w" in
	*FAIL*|"|"*|*"||"*|*"|") FAILED=1 ;;
	esac
	# (c), (t): a run that started must show the connection's flow; one
	# that did not start is expected only with the tracepoint backend
	# before 6.3 (no sock:sock_send_length).
	for st in c $TSTEP; do
		v=$(step "$k" "$st")
		case $st in
		c) port=7002 what="(c) sockflow:" ;;
		t) port=7004 what="(t) tracepoint:" ;;
		esac
		err=$W/$k/files/sockflow-$st.err
		case $v in
		ok*)
			json=$W/$k/files/sockflow-$st.json
			if grep -q "\"port\":${port}[,}]" "$json" 2>/dev/null; then
				v="$v; the connection to port $port is there"
				# tcpflow sent 4000 bytes each way: a note, not
				# a verdict on sockflow's counters.
				if grep "\"port\":${port}[,}]" "$json" |
				    grep '"source":{"payload_bytes":4000}' |
				    grep -q '"destination":{"payload_bytes":4000}'; then
					v="$v with 4000 payload bytes each way"
				else
					v="$v (but not with 4000 payload bytes each way)"
				fi
			else
				v="FAIL ran, but no flow for port $port in its output"
			fi
			;;
		FAIL*)
			# The tracepoint backend's own words when the kernel
			# lacks what it needs, and the kernel is older.
			if grep -q "sock_send_length" "$err" 2>/dev/null &&
			    { [ "$st" = t ] || [ -z "$TSTEP" ]; } &&
			    { [ "$k" = 5.10 ] || [ "$k" = 6.1 ]; }; then
				v="expected: the tracepoint backend needs sock:sock_send_length (6.3+): $(echo "$v" | cut -d' ' -f2-)"
			fi
			;;
		esac
		echo "  $what ${v:-FAIL no verdict}" | tee -a "$SUMMARY"
		case $v in
		FAIL*|"") FAILED=1 ;;
		esac
	done
done

echo "=== summary"
cat "$SUMMARY"
if [ $FAILED = 0 ]; then
	echo "smoke.sh: all good${SOCKFLOW_VM_KEEP:+ (files in $W)}"
	exit 0
fi
echo "smoke.sh: something failed; logs kept in $W"
exit 1

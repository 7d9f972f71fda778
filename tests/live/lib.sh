# Shared helpers of sockflow's shell tests (POSIX sh). Each test sources
# this file, gets a private temporary directory in $TMP, and ends with
# finish. A test that needs root fails when it does not have it: a skip
# would hide a missing feature.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TMP=$(mktemp -d /tmp/sockflow-test.XXXXXX)
FAILED=0
LAUNCHER=
# Processes a test started by hand (not the launcher): killed at exit.
PIDS=

cleanup() {
	for p in $PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$LAUNCHER" ] && kill -0 "$LAUNCHER" 2>/dev/null; then
		kill -TERM "$LAUNCHER" 2>/dev/null
		sleep 1
		kill -KILL "$LAUNCHER" 2>/dev/null
	fi
	# SF_KEEP=1: keep them even when every check passed.
	if [ "$FAILED" = 0 ] && [ -z "${SF_KEEP:-}" ]; then
		rm -rf "$TMP"
	else
		echo "test files kept in $TMP"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	FAILED=1
}

finish() {
	if [ "$FAILED" != 0 ]; then
		for f in "$TMP"/err.log; do
			[ -f "$f" ] && { echo "--- $f"; cat "$f"; }
		done
		exit 1
	fi
	exit 0
}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "FAIL: this test needs root (it opens kernel tracepoints)"
		exit 1
	fi
}

# Start the launcher; wait until the probe has enabled its events.
# SF_NETNS: run it inside that network namespace (ip netns exec).
# SF_OUT: its stdout, appended to (a pipe, a file elsewhere); default
# $TMP/out.json, written afresh.
start_pipeline() {
	out=${SF_OUT:-$TMP/out.json}
	# Emptied here, not by a redirection below, which the background
	# job may do only after the wait below has read an earlier run's log.
	: >"$TMP/err.log"
	[ -n "${SF_OUT:-}" ] || : >"$out"
	if [ -n "${SF_RECORD:-}" ]; then
		record_pipeline "$@" >>"$out" 2>"$TMP/err.log" &
	else
		${SF_NETNS:+ip netns exec "$SF_NETNS"} "$top_builddir/sockflow" \
		    -r "$TMP/run" "$@" >>"$out" 2>"$TMP/err.log" &
	fi
	LAUNCHER=$!
	i=0
	while ! grep -qE "(tracepoint|kprobe) backend \(" "$TMP/err.log" 2>/dev/null; do
		i=$((i + 1))
		# Tenths of a second; a slow guest (tests/vm) may give more.
		if [ $i -gt "${START_WAIT:-100}" ] ||
		    ! kill -0 "$LAUNCHER" 2>/dev/null; then
			fail "pipeline did not start"
			cat "$TMP/err.log"
			exit 1
		fi
		sleep 0.1
	done
}

# The pipeline without the launcher, for start_pipeline when SF_RECORD
# names a file: the three components started by hand, the probe's stream
# passing through tests/replay/tap.py, which records it there. SIGTERM
# stops the probe, then the others in order, as the launcher would. (Not SIGINT: a background job of a shell without job
# control ignores it, and so do its children.)
record_pipeline() {
	rd=$TMP/run
	mkdir -p "$rd"
	"$top_builddir/sockflow-enricher" -l "$rd/enr.sock" -u nobody \
	    -a nobody "$@" &
	e=$!
	wait_socket "$rd/enr.sock"
	"$top_builddir/sockflow-aggregator" -l "$rd/agg.sock" \
	    -e "$rd/enr.sock" -u nobody "$@" &
	a=$!
	wait_socket "$rd/agg.sock"
	python3 "$top_srcdir/tests/replay/tap.py" "$rd/tap.sock" \
	    "$rd/agg.sock" "$SF_RECORD" &
	t=$!
	wait_socket "$rd/tap.sock"
	"$top_builddir/sockflow-probe" -c "$rd/tap.sock" "$@" &
	p=$!
	trap 'kill -TERM $p' TERM
	wait $p
	wait $p
	ps=$?
	wait $t
	ts=$?
	kill -TERM $a
	wait $a
	as=$?
	kill -TERM $e
	wait $e
	es=$?
	# The first component that failed, as the launcher's status would.
	for st in $ps $ts $as $es; do
		[ "$st" = 0 ] || return "$st"
	done
	return 0
}

# wait_socket PATH [TENTHS]: until a socket is there (TENTHS of a
# second at most, 100 unless given); 1 when it never came.
wait_socket() {
	i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1))
		[ $i -gt "${2:-100}" ] && return 1
		sleep 0.1
	done
	return 0
}

# rss_sum FIELD (VmRSS, VmHWM): print each component's, set RSS_SUM (KiB);
# a component that is gone is a failure.
rss_sum() {
	RSS_SUM=0
	for c in probe aggregator enricher; do
		pid=$(comp_pid $c)
		[ -n "$pid" ] || { fail "the $c is gone"; continue; }
		k=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/status")
		echo "$c $1 ${k} KiB"
		RSS_SUM=$((RSS_SUM + k))
	done
}

# Stop it as a user would, with SIGINT (SIGTERM for record_pipeline);
# sets STATUS.
stop_pipeline() {
	sig=INT
	[ -z "${SF_RECORD:-}" ] || sig=TERM
	kill -"$sig" "$LAUNCHER"
	wait "$LAUNCHER"
	STATUS=$?
	LAUNCHER=
}

# The pid of a component started by the launcher.
comp_pid() {
	pgrep -P "$LAUNCHER" -f "sockflow-$1( |\$)" | head -n 1
}

# Wait (up to $2 tenths of a second) for a process to be gone.
wait_gone() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt "$2" ] && return 1
		sleep 0.1
	done
	return 0
}

# capture NS IFACE NAME FILTER: tcpdump on IFACE into $TMP/NAME.pcap, in
# network namespace NS ("-": this one); returns once it listens.
# Immediate mode (otherwise packets wait for a block timeout and a slow
# guest loses them at the end), headers only (the checks read the IP
# header's length, and a ring slot is as large as the snap length: whole
# 256 KiB packets leave room for a few dozen), and a large buffer.
DUMPS=
CAPTURES=
capture() {
	if [ "$1" = - ]; then
		tcpdump -i "$2" -nn -U --immediate-mode -s 256 -B 16384 \
		    -w "$TMP/$3.pcap" "$4" 2>"$TMP/$3.err" &
	else
		ip netns exec "$1" tcpdump -i "$2" -nn -U --immediate-mode \
		    -s 256 -B 16384 -w "$TMP/$3.pcap" "$4" 2>"$TMP/$3.err" &
	fi
	DUMPS="$DUMPS $!"
	CAPTURES="$CAPTURES $3"
	i=0
	while ! grep -q "listening on" "$TMP/$3.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 50 ] && { fail "tcpdump on $2 did not start"; finish; }
		sleep 0.1
	done
}

# Stop every capture; each must have lost nothing.
stop_captures() {
	for p in $DUMPS; do
		kill -INT "$p"
		wait "$p"
	done
	DUMPS=
	for f in $CAPTURES; do
		grep -q "^0 packets dropped by kernel" "$TMP/$f.err" ||
		    fail "tcpdump ($f) lost packets: $(cat "$TMP/$f.err")"
	done
	CAPTURES=
}

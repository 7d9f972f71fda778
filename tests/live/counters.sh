#!/bin/sh
# Counters against a packet capture: TCP and UDP exchanges on loopback in
# the host's network namespace (where the sock_diag destroy notifications
# give exact TCP segment counts), captured with tcpdump at the same time;
# tests/live/checkcapture.py compares every packet and byte figure.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

TCPFLOW="$top_builddir/tests/live/tcpflow"
UDPFLOW="$top_srcdir/tests/live/udpflow.py"
start_pipeline -o socket.flow_inactive_timeout=1s

capture - lo cap 'port 5401 or port 5402 or port 5403 or port 5404'

{
	"$TCPFLOW" 127.0.0.1 5401 1000 client-first &&
	"$TCPFLOW" ::1 5402 5000 server-first &&
	python3 "$UDPFLOW" 127.0.0.1 5403 200 4 unconnected &&
	python3 "$UDPFLOW" ::1 5404 100 2 connected
} >"$TMP/truth.txt" 2>"$TMP/workload.err" ||
    fail "workload failed: $(cat "$TMP/workload.err")"
sleep 2.5
stop_captures
stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with status $STATUS"
python3 "$top_srcdir/tests/live/checkcapture.py" "$TMP/out.json" \
    "$TMP/cap.pcap" "$TMP/truth.txt" || fail "counters differ from the capture"
finish

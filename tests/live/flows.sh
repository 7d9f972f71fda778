#!/bin/sh
# Live test on this machine's kernel: start the whole pipeline, make TCP
# connections over IPv4 and IPv6 inside a private network namespace with a
# client and a server of known pids, stop, and check every document
# against that ground truth (tests/live/checkflows.py). Then the curl case:
# a flow document for curl against a local server appears while sockflow
# runs, within a second of the connection closing.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

TCPFLOW="$top_builddir/tests/live/tcpflow"
UDPFLOW="$top_srcdir/tests/live/udpflow.py"
# UDP flows end after flow_inactive_timeout of silence: 1 s here.
start_pipeline -o socket.flow_inactive_timeout=1s

unshare -n sh -c "
	ip link set lo up || exit 1
	'$TCPFLOW' 127.0.0.1 5101 1000 client-first || exit 1
	'$TCPFLOW' 127.0.0.1 5102 70000 server-first || exit 1
	'$TCPFLOW' ::1 5103 1000 client-first || exit 1
	'$TCPFLOW' ::1 5104 5000 server-first || exit 1
	python3 '$UDPFLOW' 127.0.0.1 5201 100 3 unconnected || exit 1
	python3 '$UDPFLOW' ::1 5202 512 4 unconnected || exit 1
	python3 '$UDPFLOW' 127.0.0.1 5203 64 5 connected || exit 1
" >"$TMP/truth.txt" 2>"$TMP/workload.err" || {
	fail "workload failed: $(cat "$TMP/workload.err")"
	finish
}
cat "$TMP/truth.txt"

# curl against a local server, in its own namespace too; its document must
# show up while sockflow runs.
unshare -n sh -c "
	ip link set lo up || exit 1
	python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 &
	srv=\$!
	i=0
	while ! curl -s -o /dev/null http://127.0.0.1:8765/; do
		i=\$((i + 1)); [ \$i -gt 50 ] && exit 1; sleep 0.1
	done
	curl -s -o /dev/null -w '%{local_port}\n' http://127.0.0.1:8765/
	kill \$srv
" >"$TMP/curl.txt" 2>&1 || fail "curl workload failed: $(cat "$TMP/curl.txt")"
CURL_PORT=$(tail -n 1 "$TMP/curl.txt")
closed=$(date +%s%N)
found=
i=0
while [ $i -lt 50 ]; do
	if grep "\"port\":$CURL_PORT[,}]" "$TMP/out.json" |
	    grep -q '"name":"curl"'; then
		found=$(date +%s%N)
		break
	fi
	i=$((i + 1))
	sleep 0.05
done
if [ -z "$found" ]; then
	fail "no document for curl (port $CURL_PORT) while sockflow runs"
else
	echo "curl flow reported $(( (found - closed) / 1000000 )) ms after curl exited"
fi

# Long enough for the UDP flows to time out and be reported as final.
sleep 2.5
stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with status $STATUS"
python3 "$top_srcdir/tests/live/checkflows.py" "$TMP/out.json" \
    "$TMP/truth.txt" || fail "flow documents do not match the ground truth"
finish

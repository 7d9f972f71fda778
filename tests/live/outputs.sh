#!/bin/sh
# The launcher with an output beyond the console: it must start
# sockflow-output, pipe the enricher into it, and flows must reach both
# the file output and the console (now written by sockflow-output).
# "sockflow stats" must bring the stats documents of the enricher and of
# sockflow-output onto the outputs. sockflow-output killed with SIGKILL
# must be started again with flows still arriving (the pipe, held by the
# launcher, outlives it); the enricher killed likewise must leave no cut
# line in the file (its successor's newline ends it, and sockflow-output
# drops it). A clean stop ends sockflow-output last, with status 0.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

TCPFLOW=$top_builddir/tests/live/tcpflow
user=nobody
id sockflow >/dev/null 2>&1 && user=sockflow
# The directory the unprivileged sockflow-output writes: reachable by it.
chmod 711 "$TMP"
mkdir "$TMP/files" && chown "$user" "$TMP/files"
FILE=$TMP/files/sockflow.ndjson
start_pipeline -o output.file.enabled=true -o "output.file.path=$TMP/files" \
    -o sockflow.stats_interval=0s
[ -n "$(comp_pid output)" ] || fail "no sockflow-output started"

# has FILE PORT: a tcpflow document for client port PORT is in FILE.
has() {
	grep "\"port\":$2[,}]" "$1" 2>/dev/null | grep -q '"name":"tcpflow"'
}

# until_has FILE PORT: wait up to 10 s.
until_has() {
	i=0
	until has "$1" "$2"; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.1
	done
}

flow_everywhere() {	# LABEL PORT
	out=$(unshare -n sh -c "ip link set lo up && \
	    '$TCPFLOW' 127.0.0.1 $2 100 client-first") ||
	    { fail "$1: workload failed"; return; }
	cport=$(echo "$out" | sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
	until_has "$FILE" "$cport" ||
	    fail "$1: no document for port $cport in the file"
	until_has "$TMP/out.json" "$cport" ||
	    fail "$1: no document for port $cport on the console"
	echo "ok: $1: the connection reached the file and the console"
}

flow_everywhere "at start" 5951

# Stats on request, through the launcher's processes.
"$top_builddir/sockflow" stats >"$TMP/stats.txt" 2>&1 ||
    fail "sockflow stats failed: $(cat "$TMP/stats.txt")"
grep -q "asked sockflow-output" "$TMP/stats.txt" &&
    grep -q "asked sockflow-enricher" "$TMP/stats.txt" ||
    fail "sockflow stats did not ask both: $(cat "$TMP/stats.txt")"
i=0
until grep '"sockflow.stats"' "$FILE" | grep -q '"stats":{"output":{' &&
    grep '"sockflow.stats"' "$FILE" | grep -q '"enricher":{'; do
	i=$((i + 1))
	[ $i -gt 100 ] && { fail "no stats documents in the file"; break; }
	sleep 0.1
done
echo "ok: sockflow stats brought both stats documents to the file"

# sockflow-output dies: started again, the pipe kept.
pid=$(comp_pid output)
kill -KILL "$pid"
i=0
until grep -q "output started again" "$TMP/err.log"; do
	i=$((i + 1))
	[ $i -gt 100 ] && { fail "sockflow-output not started again"; break; }
	sleep 0.1
done
flow_everywhere "after sockflow-output was killed" 5952

# The enricher dies; the aggregator connects to the next one.
kill -KILL "$(comp_pid enricher)"
i=0
until grep -q "enricher started again" "$TMP/err.log" &&
    grep -q "enricher connected again" "$TMP/err.log"; do
	i=$((i + 1))
	[ $i -gt 150 ] && { fail "the pipeline did not come back"; break; }
	sleep 0.1
done
flow_everywhere "after the enricher was killed" 5953

stop_pipeline
[ "$STATUS" = 0 ] || fail "the launcher exited $STATUS"
grep -q "sockflow-output: stopping" "$TMP/err.log" ||
    fail "sockflow-output did not stop cleanly"
# Every line of the file is one whole JSON object.
python3 - "$FILE" <<'EOF' || fail "the file holds a line that is not JSON"
import json, sys
data = open(sys.argv[1], "rb").read().decode()
assert data.endswith("\n"), "no newline at the end"
for n, line in enumerate(data.split("\n")[:-1], 1):
    json.loads(line)
print("ok: %d whole JSON lines in the file" % n)
EOF
mode=$(stat -c %a "$FILE")
[ "$mode" = 600 ] || fail "the file's mode is $mode"
finish

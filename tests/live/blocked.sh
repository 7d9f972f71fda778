#!/bin/sh
# Output blocked: sockflow's stdout is a pipe nobody reads while 10,000
# connections are made. The enricher blocks on its write; what it does
# not take waits in the aggregator's queue, which is bounded (64 MiB,
# beyond which flows are dropped and counted as output_dropped). Nothing
# may die, resident sizes must stay bounded, and once the pipe is read
# again every connection's final record must come out, with no drop
# counted (10,000 connections are far below the cap).
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

FLOWGEN=$top_builddir/bench/flowgen
N=10000
mkfifo "$TMP/out.fifo"
# Held open for reading, never read: writers neither fail nor get EOF.
exec 3<>"$TMP/out.fifo"
SF_OUT="$TMP/out.fifo"
start_pipeline -o sockflow.stats_interval=1s
unshare -n sh -c "ip link set lo up && '$FLOWGEN' tcp $N 100 7821 5000" ||
    fail "workload failed"
sleep 3
rss_sum VmRSS
[ "$RSS_SUM" -lt 196608 ] || fail "RSS ${RSS_SUM} KiB while blocked"
# Now read it: everything must come out.
cat "$TMP/out.fifo" >"$TMP/out.json" &
CAT=$!
i=0
until [ "$(grep -c '"port":7821' "$TMP/out.json")" -ge $((2 * N)) ]; do
	i=$((i + 1))
	[ $i -gt 300 ] && { fail "the records did not all come out"; break; }
	sleep 0.1
done
sleep 1.5
kill -INT "$LAUNCHER"
wait "$LAUNCHER"
STATUS=$?
LAUNCHER=
sleep 0.5
exec 3<&-
kill "$CAT" 2>/dev/null
[ "$STATUS" = 0 ] || fail "exit status $STATUS"
python3 - "$TMP/out.json" $N <<'PY' || fail "records or drops"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
c = [d for d in docs if d.get("event", {}).get("dataset") == "socket" and
     d["network"].get("direction") == "outbound" and
     d["destination"].get("port") == 7821 and d["flow"]["final"]]
st = [d for d in docs if d.get("event", {}).get("dataset") ==
      "sockflow.stats"][-1]["sockflow"]["stats"]["aggregator"]
print("final client records %d of %d; output_dropped %d" %
      (len(c), n, st.get("output_dropped", -1)))
sys.exit(0 if len(c) == n and st.get("output_dropped") == 0 else 1)
PY
finish

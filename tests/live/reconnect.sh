#!/bin/sh
# The enricher dies while the aggregator has a backlog for it: the
# enricher is stopped (SIGSTOP) while 3,000 connections are made, so that
# the aggregator's output to it fills the socket and queues behind it,
# and is then killed. The aggregator must live on, keep the batches the
# dead enricher had not begun to read, connect to the new enricher, and
# begin that connection with one hello and whole frames only (the new
# enricher drops a connection on any bad frame, and says so). The
# connections made while the enricher was stopped must then be reported,
# save what the dead one held: what it had not read from its socket (up
# to the socket's buffer, which the kernel frees with it) and the rest of
# the batch it was in (counted, enricher_lost_bytes). The new enricher
# must write at least as many flows as the carried bytes hold frames (a
# flow frame is well under 700 bytes); with the backlog dropped it would
# write only the few flows made after it started. A connection made
# afterwards must be reported too.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

FLOWGEN=$top_builddir/bench/flowgen
TCPFLOW=$top_builddir/tests/live/tcpflow
N=3000
start_pipeline -o sockflow.stats_interval=1s
apid=$(comp_pid aggregator)
epid=$(comp_pid enricher)
kill -STOP "$epid"
unshare -n sh -c "ip link set lo up && '$FLOWGEN' tcp $N 100 7831 2000" ||
    fail "workload failed"
sleep 2
kill -KILL "$epid"
kill -CONT "$epid" 2>/dev/null
i=0
until grep -q "enricher connected again" "$TMP/err.log"; do
	i=$((i + 1))
	[ $i -gt 100 ] && { fail "the aggregator did not connect again"; break; }
	sleep 0.1
done
[ "$(comp_pid aggregator)" = "$apid" ] ||
    fail "the aggregator was started again"
kept=$(sed -n 's/.*connecting again, \([0-9]*\) byte(s) kept.*/\1/p' \
    "$TMP/err.log" | head -n 1)
echo "the aggregator kept $kept byte(s) for the new enricher"
[ "${kept:-0}" -gt 0 ] || { fail "nothing was waiting for the enricher"; kept=0; }

out=$(unshare -n sh -c "ip link set lo up && \
    '$TCPFLOW' 127.0.0.1 7832 100 client-first") || fail "tcpflow failed"
cport=$(echo "$out" | sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
i=0
until grep "\"port\":$cport[,}]" "$TMP/out.json" | grep -q '"final":true'; do
	i=$((i + 1))
	[ $i -gt 100 ] && { fail "no document for the later connection"; break; }
	sleep 0.1
done
sleep 2
stop_pipeline
[ "$STATUS" = 0 ] || fail "the launcher exited $STATUS"
if grep -E "sockflow-enricher: (closing the aggregator connection|refusing)" \
    "$TMP/err.log"; then
	fail "the new enricher refused what the aggregator sent"
fi
grep -q "fatal in sockflow-aggregator" "$TMP/err.log" &&
    fail "the aggregator died"
python3 - "$TMP/out.json" "$N" "$kept" <<'EOF' || fail "reported flows or stats"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
n, kept = int(sys.argv[2]), int(sys.argv[3])
fin = [d for d in docs if d.get("event", {}).get("dataset") == "socket"
       and d["flow"]["final"] and d["network"]["transport"] == "tcp"
       and 7831 in (d["source"].get("port"), d["destination"].get("port"))]
st = [d["sockflow"]["stats"]["aggregator"] for d in docs
      if d.get("event", {}).get("dataset") == "sockflow.stats"
      and "aggregator" in d["sockflow"]["stats"]]
recon = max(s.get("enricher_reconnects", 0) for s in st)
lost = max(s.get("enricher_lost_bytes", 0) for s in st)
# What the enricher started again wrote.
new = max([d["sockflow"]["stats"]["enricher"]["flows_written"] for d in docs
           if d.get("event", {}).get("dataset") == "sockflow.stats"
           and d["sockflow"]["stats"].get("enricher", {}).get("restarts")]
          or [0])
print("final records of the %d connections: %d of %d; the new enricher "
      "wrote %d flows, the carried %d bytes hold more than %d frames; "
      "enricher_reconnects %d, enricher_lost_bytes %d" %
      (n, len(fin), 2 * n, new, kept, kept // 700, recon, lost))
sys.exit(0 if recon >= 1 and new >= kept // 700 > 0 else 1)
EOF
finish

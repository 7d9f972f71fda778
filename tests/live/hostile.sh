#!/bin/sh
# Hostile peers (tests/live/hostile.c). Towards the enricher, as its
# aggregator: random bytes, a flow before the hello, an unknown frame
# type, a frame claiming 512 MiB, a cut protobuf, another protocol
# version, a flood of 20,000 flows ended by an impossible one, and a
# second connection while one is open. Each must be closed by the
# enricher, counted, and the enricher must go on serving: the last, good
# connection's flow is written and the stats document counts the bad
# frames. Towards the aggregator, as its probe (the more privileged peer):
# a malformed frame must end the aggregator cleanly (exit status 1 and a
# message, no signal), the design for a broken invariant upstream.
# Flows announced in flight: the enricher writes one as the dead
# aggregator's only when that aggregator is gone for good, never twice.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

HOSTILE=$top_builddir/tests/live/hostile

# wait_for SOCKET: until it exists (5 s at most), or fail the test.
wait_for() {
	wait_socket "$1" 50 || { fail "$1 never appeared"; finish; }
}

"$top_builddir/sockflow-enricher" -l "$TMP/enr.sock" -u nobody \
    -o sockflow.stats_interval=1s >"$TMP/enr.json" 2>"$TMP/enr.err" &
ENR=$!
PIDS="$ENR"
wait_for "$TMP/enr.sock"

"$HOSTILE" enricher "$TMP/enr.sock" >"$TMP/h.out" 2>&1 &
H=$!
PIDS="$PIDS $H"
i=0
until grep -qE "good connection|FAIL" "$TMP/h.out"; do
	i=$((i + 1))
	[ $i -gt 300 ] && { fail "the hostile client did not finish"; break; }
	kill -0 "$H" 2>/dev/null || break
	sleep 0.1
done
sleep 0.5
cat "$TMP/h.out"
grep -q "^FAIL" "$TMP/h.out" && fail "a hostile case went wrong"
grep -q "^ok: good connection served" "$TMP/h.out" ||
    fail "the good connection was not served"
kill -0 "$ENR" 2>/dev/null || fail "the enricher died"
i=0
until grep -q '"dataset":"sockflow.stats"' "$TMP/enr.json"; do
	i=$((i + 1))
	[ $i -gt 50 ] && { fail "no stats document"; break; }
	sleep 0.1
done
grep -q '"port":40999' "$TMP/enr.json" ||
    fail "the good connection's flow was not written"
python3 - "$TMP/enr.json" <<'PY' || fail "stats do not count the bad peers"
import json, sys
st = [json.loads(l) for l in open(sys.argv[1])]
st = [d for d in st if d.get("event", {}).get("dataset") == "sockflow.stats"]
e = st[-1]["sockflow"]["stats"]["enricher"]
a = st[-1]["sockflow"]["stats"]["aggregator"]
print("enricher stats: bad_frames %d, refused_peers %d, hostile_counter %s"
      % (e["bad_frames"], e["refused_peers"], a.get("hostile_counter")))
sys.exit(0 if e["bad_frames"] == 7 and e["refused_peers"] == 1 and
         a.get("hostile_counter") == 7 else 1)
PY
kill "$H" 2>/dev/null
kill -TERM "$ENR"
wait "$ENR"
st=$?
[ "$st" = 0 ] || fail "the enricher exited with $st after SIGTERM"

# Flows in flight (hostile.c, inflight()): each announced flow written
# once at most, as the dead aggregator's only when it is dead.
"$top_builddir/sockflow-enricher" -l "$TMP/enr3.sock" -u nobody \
    >"$TMP/enr3.json" 2>"$TMP/enr3.err" &
ENR3=$!
PIDS="$PIDS $ENR3"
wait_for "$TMP/enr3.sock"
"$HOSTILE" inflight "$TMP/enr3.sock" || fail "in flight: a case went wrong"
# The enricher waits 5 s for an aggregator that went away to come back.
i=0
until grep -q '"port":43001' "$TMP/enr3.json"; do
	i=$((i + 1))
	[ $i -gt 100 ] && break
	sleep 0.1
done
python3 - "$TMP/enr3.json" <<'PY' || fail "flows in flight written wrong"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
ok = True
for port, n, lost, final in ((41001, 1, False, True), (41002, 1, True, False),
                             (41003, 1, False, False), (42001, 0, None, None),
                             (43001, 1, True, False)):
    d = [x for x in docs if x.get("source", {}).get("port") == port]
    got = [(bool(x["sockflow"].get("aggregator_lost")), x["flow"]["final"])
           for x in d]
    good = len(d) == n and all(g == (lost, final) for g in got)
    print("port %d: %d document(s), (aggregator_lost, final) %s: %s" %
          (port, len(d), got, "ok" if good else "WRONG"))
    ok = ok and good
sys.exit(0 if ok else 1)
PY
kill -TERM "$ENR3"
wait "$ENR3"

# The aggregator, with an enricher to talk to, and a bad probe.
"$top_builddir/sockflow-enricher" -l "$TMP/enr2.sock" -u nobody \
    >"$TMP/enr2.json" 2>"$TMP/enr2.err" &
ENR2=$!
PIDS="$PIDS $ENR2"
wait_for "$TMP/enr2.sock"
"$top_builddir/sockflow-aggregator" -l "$TMP/agg.sock" \
    -e "$TMP/enr2.sock" -u nobody >/dev/null 2>"$TMP/agg.err" &
AGG=$!
PIDS="$PIDS $AGG"
wait_for "$TMP/agg.sock"
"$HOSTILE" aggregator "$TMP/agg.sock" || fail "the aggregator kept the probe"
wait "$AGG"
st=$?
cat "$TMP/agg.err"
[ "$st" = 1 ] || fail "the aggregator ended with status $st, not a clean 1"
grep -q "probe: bad formats\|probe:" "$TMP/agg.err" ||
    fail "the aggregator did not say what was wrong"
sleep 0.5
kill -0 "$ENR2" 2>/dev/null || fail "the enricher died with the aggregator"
kill -TERM "$ENR2"
wait "$ENR2"
finish

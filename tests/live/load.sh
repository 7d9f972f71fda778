#!/bin/sh
# Load, in the reduced form CI can afford (the full figures are
# bench/run.sh's): 20,000 short TCP connections paced at 5,000 a second
# and a flood of 50,000 small UDP datagrams, in a private network
# namespace. No component may die, and the counts must reconcile: every
# connection made has its final record, unless the kernel lost or dropped
# samples and the stats say so; the flood's datagrams are all counted on
# the sending flow, unless that flow is marked as having lost samples.
# The components' peak resident sizes are printed, and must stay under
# 128 MiB together (the tables have fixed caps; this is far above them).
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

FLOWGEN=$top_builddir/bench/flowgen
N=20000
start_pipeline -o sockflow.stats_interval=1s \
    -o socket.flow_inactive_timeout=1s

unshare -n sh -c "
	ip link set lo up || exit 1
	'$FLOWGEN' tcp $N 100 7811 5000 || exit 1
	python3 '$top_srcdir/tests/live/udpflood.py' 7812 50000 32 || exit 1
" >"$TMP/work.txt" 2>"$TMP/work.err" || {
	fail "workload failed: $(cat "$TMP/work.err")"
	finish
}
cat "$TMP/work.txt"
sleep 2
rss_sum VmHWM
[ "$RSS_SUM" -lt 131072 ] || fail "peak RSS ${RSS_SUM} KiB together"
stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with $STATUS"
python3 - "$TMP/out.json" "$TMP/work.txt" $N <<'PY' || fail "counts do not reconcile"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
flows = [d for d in docs if d.get("event", {}).get("dataset") == "socket"]
stats = [d for d in docs if d.get("event", {}).get("dataset") ==
         "sockflow.stats"][-1]["sockflow"]["stats"]["aggregator"]
made = int(sys.argv[3])
lost = stats.get("lost_samples", 0) + stats.get("dropped_samples", 0)
tcp = [d for d in flows if d["network"]["transport"] == "tcp" and
       d["network"].get("direction") == "outbound" and
       d["destination"].get("port") == 7811 and d["flow"]["final"]]
# Ports are used again over 20,000 connections: a connection is its port
# and its start.
conns = {(d["source"]["port"], d["event"]["start"]) for d in tcp}
print("tcp: made %d, final client records %d (distinct %d); "
      "samples lost or dropped %d" % (made, len(tcp), len(conns), lost))
ok = True
if len(conns) != len(tcp):
    print("FAIL: a connection reported twice")
    ok = False
if len(tcp) != made and lost == 0:
    print("FAIL: %d connections missing and no loss counted" %
          (made - len(tcp)))
    ok = False
w = dict(x.split("=") for x in open(sys.argv[2]).read().split()
         if x.startswith(("sent=", "received=", "sport=")))
udp = [d for d in flows if d["network"]["transport"] == "udp" and
       d["source"].get("port") == int(w["sport"]) and
       d["destination"].get("port") == 7812]
pk = sum(d["source"].get("packets", 0) for d in udp)
marked = any(d.get("sockflow", {}).get("samples_lost") for d in udp)
print("udp: sent %s, counted on the sending flow %d%s" %
      (w["sent"], pk, " (marked samples_lost)" if marked else ""))
if pk != int(w["sent"]) and not marked:
    print("FAIL: datagrams missing and the flow not marked")
    ok = False
if pk > int(w["sent"]):
    print("FAIL: more datagrams counted than sent")
    ok = False
sys.exit(0 if ok else 1)
PY
finish

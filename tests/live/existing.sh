#!/bin/sh
# A connection open before sockflow starts (loopback, host network
# namespace, where the start-up sock_diag dump looks) is reported at start
# with its tuple and the direction of each side, and again when it ends.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

python3 "$top_srcdir/tests/live/holdconn.py" 127.0.0.1 5701 4 \
    >"$TMP/truth.txt" 2>"$TMP/workload.err" &
HOLD=$!
sleep 1
start_pipeline
wait $HOLD || fail "workload failed: $(cat "$TMP/workload.err")"
sleep 1
stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with status $STATUS"
python3 - "$TMP/out.json" "$TMP/truth.txt" <<'PY' || fail "existing connection"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
t = dict(kv.split("=", 1) for kv in open(sys.argv[2]).read().split())
cport, port, pid = int(t["client_port"]), int(t["port"]), int(t["pid"])
mine = [d for d in docs if "network" in d and
        d["source"].get("port") == cport and d["destination"].get("port") == port]
bad = []
for direction in ("outbound", "inbound"):
    ds = [d for d in mine if d["network"]["direction"] == direction]
    first = [d for d in ds if not d["flow"]["final"]]
    last = [d for d in ds if d["flow"]["final"]]
    if len(first) != 1 or len(last) != 1:
        bad.append(f"{direction}: {len(first)} start and {len(last)} final records")
        continue
    for d in first + last:
        if not d["sockflow"].get("existing"):
            bad.append(f"{direction}: not marked existing")
        if d["source"].get("ip") != "127.0.0.1":
            bad.append(f"{direction}: source {d['source']}")
    if last[0].get("process", {}).get("pid") != pid:
        bad.append(f"{direction}: pid {last[0].get('process')} expected {pid}")
    if last[0]["sockflow"]["source"]["payload_bytes"] <= 0 and direction == "outbound":
        bad.append("outbound: no payload counted since start")
for b in bad:
    print("FAIL:", b)
print(f"{len(mine)} documents for the connection open at start")
sys.exit(1 if bad else 0)
PY
finish

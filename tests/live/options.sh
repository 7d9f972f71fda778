#!/bin/sh
# Options that change what sockflow reports, on the live pipeline:
# socket.enable_ipv6=false follows no IPv6 socket; interim reports of a
# long connection (sockflow.flow_report_interval) come before its final
# record and carry the totals so far; stats documents come every
# sockflow.stats_interval with the aggregator's and the enricher's
# counters. The start-up self-test passes with IPv6 off (no IPv6 event
# is waited for) and its own flows carry the probe as their process.
# sockflow --check reports this kernel's backends.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

TCPFLOW="$top_builddir/tests/live/tcpflow"
# This kernel has no kprobes: auto selects the tracepoint backend, says
# why, and --check finds every event it needs; kprobe, asked for, is not
# possible and --check says so and fails.
"$top_builddir/sockflow" --check >"$TMP/check.txt" 2>&1 ||
    fail "sockflow --check failed: $(cat "$TMP/check.txt")"
grep -q "^backend: tracepoint (auto: this kernel has no kprobe_events" \
    "$TMP/check.txt" || fail "--check: $(grep backend "$TMP/check.txt")"
grep -q "^result: ok" "$TMP/check.txt" || fail "--check: not ok"
if "$top_builddir/sockflow" --check -o socket.backend=kprobe \
    >"$TMP/check-k.txt" 2>&1 ||
    ! grep -q "^result: NOT OK" "$TMP/check-k.txt"; then
	fail "--check with socket.backend=kprobe did not fail"
fi
start_pipeline -o socket.enable_ipv6=false \
    -o sockflow.flow_report_interval=1s -o sockflow.stats_interval=1s
grep -q "IPv6 off" "$TMP/err.log" || fail "the probe did not turn IPv6 off"
grep -q "tracepoint backend (auto: this kernel has no kprobe_events" \
    "$TMP/err.log" || fail "the probe did not say why it chose its backend"
grep -q "self-test: every event delivered a sample" "$TMP/err.log" ||
    fail "no self-test at start"
unshare -n sh -c "
	ip link set lo up || exit 1
	'$TCPFLOW' 127.0.0.1 5501 100 client-first || exit 1
	'$TCPFLOW' ::1 5502 100 client-first || exit 1
	python3 '$top_srcdir/tests/live/holdconn.py' 127.0.0.1 5503 4.5
" >"$TMP/truth.txt" 2>"$TMP/workload.err" ||
    fail "workload failed: $(cat "$TMP/workload.err")"
sleep 1
stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with status $STATUS"
python3 - "$TMP/out.json" <<'PY' || fail "options not honoured"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
bad = []
def ports(p):
    return [d for d in docs if d.get("destination", {}).get("port") == p]
if len(ports(5501)) != 2:
    bad.append(f"IPv4 flow: {len(ports(5501))} documents, expected 2")
if ports(5502):
    bad.append("an IPv6 flow was reported with socket.enable_ipv6=false")
selftest = [d for d in docs
            if d.get("process", {}).get("name") == "sockflow-probe"]
if not any(d["network"]["transport"] == "tcp" for d in selftest) or \
        not any(d["network"]["transport"] == "udp" for d in selftest):
    bad.append(f"self-test flows: {len(selftest)} of the probe's")
if any(d["network"]["type"] == "ipv6" for d in selftest):
    bad.append("an IPv6 self-test flow with socket.enable_ipv6=false")
held = [d for d in ports(5503) if d["network"]["direction"] == "outbound"]
interim = [d for d in held if not d["flow"]["final"]]
final = [d for d in held if d["flow"]["final"]]
if len(final) != 1:
    bad.append(f"held connection: {len(final)} final records")
if len(interim) < 2:
    bad.append(f"held connection: {len(interim)} interim reports, want >= 2")
sent = [d["sockflow"]["source"]["payload_bytes"] for d in interim + final]
if sent != sorted(sent) or len(set(sent)) < 2:
    bad.append(f"interim totals do not grow: {sent}")
if final and interim and final[0]["sockflow"]["source"]["payload_bytes"] < max(sent):
    bad.append("final total below an interim one")
stats = [d for d in docs if d.get("event", {}).get("dataset") == "sockflow.stats"]
if len(stats) < 2:
    bad.append(f"{len(stats)} stats documents in a run of about 6 s, want >= 2")
else:
    last = stats[-1]["sockflow"]["stats"]
    agg, enr = last.get("aggregator", {}), last.get("enricher", {})
    flows = [d for d in docs if "network" in d]
    if agg.get("flows", -1) < len(flows):
        bad.append(f"stats: aggregator flows {agg.get('flows')} < {len(flows)} written")
    if enr.get("flows_written") != len(flows):
        bad.append(f"stats: enricher flows_written {enr.get('flows_written')} != {len(flows)}")
    for k in ("lost_samples", "probe_records", "probe_lost", "reorder_late"):
        if k not in agg:
            bad.append(f"stats: no aggregator counter {k}")
for b in bad:
    print("FAIL:", b)
print(f"held connection: {len(interim)} interim report(s), totals {sent}")
sys.exit(1 if bad else 0)
PY
finish

#!/bin/sh
# Output to a full disk: sockflow's stdout is a file on a 256 KiB tmpfs
# while 3,000 connections are made. The enricher must go on, log that it
# cannot write and how many documents are lost, and count them; once the
# file is emptied (space again), later documents must be written, each on
# a line of its own that parses (stdout is opened to append, as a log
# file would be), and the stats document at the end must
# account for every document: written whole or counted lost.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

FLOWGEN=$top_builddir/bench/flowgen
SMALL=$TMP/small
mkdir "$SMALL"
mount -t tmpfs -o size=256k sockflow-test "$SMALL" ||
    { fail "cannot mount a small tmpfs"; finish; }
dk_cleanup() {
	[ -n "$LAUNCHER" ] && kill -KILL "$LAUNCHER" 2>/dev/null
	sleep 0.5
	umount "$SMALL" 2>/dev/null
	cleanup
}
trap dk_cleanup EXIT

SF_OUT="$SMALL/out.json"
start_pipeline -o sockflow.stats_interval=1s
unshare -n sh -c "ip link set lo up && '$FLOWGEN' tcp 3000 100 7831 2000" ||
    fail "workload failed"
i=0
until grep -q "cannot write the output" "$TMP/err.log"; do
	i=$((i + 1))
	[ $i -gt 100 ] && { fail "no message that the output failed"; break; }
	sleep 0.1
done
grep "cannot write the output" "$TMP/err.log" | head -n 1
for c in probe aggregator enricher; do
	[ -n "$(comp_pid $c)" ] || fail "the $c died on a full disk"
done
# Space again: what comes now is written.
cp "$SMALL/out.json" "$TMP/before.json"
: >"$SMALL/out.json"
unshare -n sh -c "ip link set lo up && '$FLOWGEN' tcp 40 100 7832 1000" ||
    fail "workload failed"
sleep 2.5
kill -INT "$LAUNCHER"
wait "$LAUNCHER"
STATUS=$?
LAUNCHER=
[ "$STATUS" = 0 ] || fail "exit status $STATUS"
cp "$SMALL/out.json" "$TMP/after.json"
python3 - "$TMP/before.json" "$TMP/after.json" <<'PY' || fail "not accounted for"
import json, sys
bad = 0
docs = []
for path in sys.argv[1:]:
    for line in open(path, errors="replace"):
        if not line.strip():
            continue
        try:
            docs.append(json.loads(line))
        except ValueError:
            bad += 1
after = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
late = [d for d in after if d.get("event", {}).get("dataset") == "socket"
        and d["destination"].get("port") == 7832]
st = [d for d in after if d.get("event", {}).get("dataset") ==
      "sockflow.stats"][-1]["sockflow"]["stats"]["enricher"]
print("cut lines before the file was emptied: %d; documents lost "
      "(counted): %d; flows written: %d; after space came back: %d "
      "records of the second workload" % (bad, st["documents_lost_output"],
                                          st["flows_written"], len(late)))
ok = st["documents_lost_output"] > 0 and len(late) == 80 and bad <= 1
sys.exit(0 if ok else 1)
PY
finish

#!/bin/sh
# sockflow's memory over a long run: short TCP connections and UDP
# exchanges at a steady rate for MINUTES, RSS of each component sampled
# every 30 s. Memory is flat when the last samples are no higher than the
# ones after the first minute (tables and buffers reach their working
# size within it). Not a test: run by hand or with `make bench-memory`.
#
# Usage (root, from the build directory): sh ../bench/memory.sh [MINUTES] [RATE]
set -u
MIN=${1:-10}
RATE=${2:-1000}
B=${top_builddir:-.}
. "$(dirname "$0")/lib.sh"
TMP=$(mktemp -d /tmp/sockflow-bench.XXXXXX)
trap 'kill $W 2>/dev/null; rm -rf "$TMP"' EXIT
[ "$(id -u)" = 0 ] || { echo "run as root"; exit 1; }

rss() { status_kib VmRSS "$1"; }

echo "command: sh bench/memory.sh $MIN $RATE   ($(date -u +%FT%TZ), $(nproc) cpus, $(uname -r))"
start_sockflow "$TMP" -o sockflow.stats_interval=30s
PP=$(pgrep -P $L -f sockflow-probe); PA=$(pgrep -P $L -f sockflow-aggregator)
PE=$(pgrep -P $L -f sockflow-enricher)
# The workload: TCP at RATE a second, with a UDP burst every 10 s.
(
	end=$(( $(date +%s) + MIN * 60 ))
	while [ "$(date +%s)" -lt "$end" ]; do
		"$B/bench/flowgen" tcp $((RATE * 10)) 500 7914 "$RATE" >/dev/null
		"$B/bench/flowgen" udp 2000 100 7915 >/dev/null
	done
) &
W=$!
printf "%6s %10s %10s %10s %10s\n" t_s probe_kib agg_kib enr_kib sum_kib
t=0
while [ $t -le $((MIN * 60)) ]; do
	p=$(rss $PP); a=$(rss $PA); e=$(rss $PE)
	printf "%6d %10s %10s %10s %10d\n" $t "$p" "$a" "$e" $((p + a + e))
	sleep 30
	t=$((t + 30))
done
wait $W
kill -INT $L
wait $L
python3 - "$TMP/sf.json" <<'PY'
import json, sys
n = 0
last = {}
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("event", {}).get("dataset") == "sockflow.stats":
        last = d["sockflow"]["stats"]["aggregator"]
    else:
        n += 1
print(f"flow records: {n}; aggregator: " + ", ".join(
    f"{k}={last.get(k, '?')}" for k in ("flows", "lost_samples", "dropped_samples", "socket_table_full",
                                          "reorder_forced", "reorder_late")))
PY

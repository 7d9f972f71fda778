#!/bin/sh
# sockflow with many connections open at once: N loopback TCP connections
# (2N sockets, so 2N flows) held for a while, then closed at CLOSE_RATE
# connections a second (0: all at once, a burst). Prints the
# summed RSS of sockflow's processes while they are all open, the summed
# peak RSS, and how many final flow records came out against 2N. Not a
# test: run by hand or with `make bench-concurrent`.
#
# Usage (root, from the build directory):
#	sh ../bench/concurrent.sh [N] [SECONDS] [CLOSE_RATE]
set -u
N=${1:-50000}
SECS=${2:-15}
CRATE=${3:-5000}
B=${top_builddir:-.}
. "$(dirname "$0")/lib.sh"
PORT=7713
TMP=$(mktemp -d /tmp/sockflow-bench.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT
[ "$(id -u)" = 0 ] || { echo "run as root"; exit 1; }


echo "command: sh bench/concurrent.sh $N $SECS $CRATE   ($(date -u +%FT%TZ), $(nproc) cpus, $(uname -r))"
start_sockflow "$TMP" -o sockflow.stats_interval=2s \
    -o sockflow.flow_report_interval=0s
PIDS="$(pgrep -P $L | tr '\n' ' ')"
R0=$(status_kib VmRSS $PIDS)
"$B/bench/flowgen" hold "$N" 100 "$PORT" "$SECS" "$CRATE" >"$TMP/hold.txt" &
G=$!
i=0
until grep -q held "$TMP/hold.txt" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 1200 ] && { echo "connections did not open"; exit 1; }
	sleep 0.1
done
sleep 3
R1=$(status_kib VmRSS $PIDS)
for p in $PIDS; do
	printf "  %s: rss %s KiB while held\n" "$(cat /proc/$p/comm)" "$(status_kib VmRSS $p)"
done
LOST_HELD=$(grep -o '"lost_samples":[0-9]*' "$TMP/sf.json" | tail -n 1)
OPEN=$(ss -Htn state established | wc -l)
wait $G
sleep 3
H=$(status_kib VmHWM $PIDS)
for p in $PIDS; do
	printf "  %s: peak rss %s KiB\n" "$(cat /proc/$p/comm)" "$(status_kib VmHWM $p)"
done
echo "  samples lost by the time all were open: ${LOST_HELD:-none}"
kill -INT $L
wait $L
python3 - "$TMP/sf.json" "$PORT" "$N" "$OPEN" "$R0" "$R1" "$H" <<'PY'
import json, sys
path, port, n, opn, r0, r1, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
final = other = 0
last = {}
for l in open(path):
    d = json.loads(l)
    if d.get("event", {}).get("dataset") == "sockflow.stats":
        last = d["sockflow"]["stats"]["aggregator"]
        continue
    if port <= d["destination"].get("port", 0) < port + 100:
        if d["flow"]["final"]:
            final += 1
        else:
            other += 1
print(f"established TCP sockets on the machine while held: {opn} ({n} connections held)")
print(f"summed RSS of probe+aggregator+enricher: idle {r0} KiB, all open {r1} KiB, peak {h} KiB")
print(f"final flow records: {final} of {2 * n}; not final: {other}")
print("aggregator: " + ", ".join(f"{k}={last.get(k, '?')}" for k in
      ("sockets_open", "sockets_reused", "sockets_evicted", "diag_missing", "socket_table_full", "flow_table_full", "lost_samples", "reorder_forced", "reorder_late", "diag_overruns", "output_dropped", "probe_output_paused")))
PY

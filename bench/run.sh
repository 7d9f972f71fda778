#!/bin/sh
# sockflow's benchmark: the same workload with no agent, with sockflow and
# with libbpf-tools' tcplife, one after the other in one run, and a table
# of what each agent cost and saw. Not a test: figures on a shared machine
# are noisy; compare the rows of one run.
#
# Usage (root, from the build directory): sh ../bench/run.sh [N] [BYTES] [RATE] [UDP_M]
#   N short TCP connections of BYTES each way (default 20000, 1000), paced
#   at RATE per second (0: as fast as possible), then UDP_M request/response
#   pairs (default 50000; sockflow only, tcplife does not see UDP).
# SOCKFLOW_OPTS: more options for sockflow, e.g. "-o socket.dns.enabled=false".
set -u
N=${1:-20000}
BYTES=${2:-1000}
RATE=${3:-0}
UDPM=${4:-50000}
B=${top_builddir:-.}
. "$(dirname "$0")/lib.sh"
PORT=7711
UPORT=7712
TMP=$(mktemp -d /tmp/sockflow-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

[ "$(id -u)" = 0 ] || { echo "run as root"; exit 1; }
command -v tcplife >/dev/null || { echo "tcplife missing (apt-get install libbpf-tools)"; exit 1; }

cpu_ns() {	# summed on-CPU ns of the given pids (schedstat)
	t=0
	for p in "$@"; do
		[ -r /proc/$p/schedstat ] || continue
		v=$(cut -d' ' -f1 /proc/$p/schedstat)
		t=$((t + v))
	done
	echo $t
}

hwm_kib() {	# summed peak RSS of the given pids
	status_kib VmHWM "$@"
}

row() {		# agent workload_line cpu_ns hwm flows lost
	wall=$(echo "$2" | sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p')
	wcpu=$(echo "$2" | sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p')
	awk -v a="$1" -v w="$wall" -v c="$wcpu" -v ns="$3" -v h="$4" \
	    -v f="$5" -v l="$6" -v n="$7" 'BEGIN {
		per = n > 0 ? ns / 1e6 / (n / 1000) : 0
		printf "%-10s %8s %8s %10.1f %9.2f %9.2f %9s %8s %8s\n", a,
		    w, c, ns / 1e6, per, per / 2, h, f, l }'
}

echo "command: ${SOCKFLOW_OPTS:+SOCKFLOW_OPTS='$SOCKFLOW_OPTS' }sh bench/run.sh $N $BYTES $RATE $UDPM   ($(date -u +%FT%TZ), $(nproc) cpus, $(uname -r))"
printf "%-10s %8s %8s %10s %9s %9s %9s %8s %8s\n" agent wall_s work_cpu \
    agent_cpu_ms ms/1kconn ms/1kflow rss_kib flows lost

# 1. No agent.
W=$("$B/bench/flowgen" tcp "$N" "$BYTES" "$PORT" "$RATE")
row none "$W" 0 0 - - "$N"

# 2. sockflow.
# shellcheck disable=SC2086
start_sockflow "$TMP" -o sockflow.stats_interval=1s \
    -o sockflow.flow_report_interval=0s ${SOCKFLOW_OPTS:-}
PIDS="$L $(pgrep -P $L | tr '\n' ' ')"
PP=$(pgrep -P $L -f sockflow-probe); PA=$(pgrep -P $L -f sockflow-aggregator)
PE=$(pgrep -P $L -f sockflow-enricher)
P0=$(cpu_ns $PP); A0=$(cpu_ns $PA); E0=$(cpu_ns $PE)
C0=$(cpu_ns $PIDS)
W=$("$B/bench/flowgen" tcp "$N" "$BYTES" "$PORT" "$RATE")
sleep 1.5
C1=$(cpu_ns $PIDS)
P1=$(cpu_ns $PP); A1=$(cpu_ns $PA); E1=$(cpu_ns $PE)
H=$(hwm_kib $PIDS)
U0=$C1
WU=$("$B/bench/flowgen" udp "$UDPM" 100 "$UPORT")
sleep 1.5
U1=$(cpu_ns $PIDS)
kill -INT $L
wait $L
F=$(python3 -c "
import json, sys
n = 0
for l in open('$TMP/sf.json'):
    d = json.loads(l)
    if d.get('network', {}).get('direction') == 'outbound' and d['destination'].get('port') == $PORT and d['flow']['final']:
        n += 1
print(n)")
LOST=$(python3 -c "
import json
last = None
for l in open('$TMP/sf.json'):
    d = json.loads(l)
    if d.get('event', {}).get('dataset') == 'sockflow.stats':
        last = d['sockflow']['stats']['aggregator']
print('%s/%s' % (last.get('lost_samples', '?'), last.get('dropped_samples', '?')) if last else '?')")
row sockflow "$W" $((C1 - C0)) "$H" "$F/$N" "$LOST" "$N"
awk -v p=$((P1 - P0)) -v a=$((A1 - A0)) -v e=$((E1 - E0)) -v n="$N" 'BEGIN {
	printf "  sockflow ms/1kconn by component: probe %.2f, aggregator %.2f, " \
	    "enricher %.2f\n", p / 1e6 / (n / 1000), a / 1e6 / (n / 1000),
	    e / 1e6 / (n / 1000) }'

# 3. tcplife.
tcplife >"$TMP/tl.txt" 2>&1 &
T=$!
sleep 3
C0=$(cpu_ns $T)
W=$("$B/bench/flowgen" tcp "$N" "$BYTES" "$PORT" "$RATE")
sleep 1.5
C1=$(cpu_ns $T)
H=$(hwm_kib $T)
kill -INT $T
wait $T 2>/dev/null
# A connection appears twice (client and server side); count the client's.
F=$(awk -v p=$PORT '$6 == p' "$TMP/tl.txt" | wc -l)
row tcplife "$W" $((C1 - C0)) "$H" "$F/$N" "?" "$N"

echo
echo "UDP, $UDPM request/response pairs of 100 bytes (sockflow only):"
echo "  $WU; sockflow cpu $(( (U1 - U0) / 1000000 )) ms"
echo "columns: wall_s and work_cpu of the workload (client and server);"
echo "agent_cpu_ms summed over the agent's processes (schedstat); ms/1kconn"
echo "per 1000 connections; ms/1kflow per 1000 flows: a loopback connection"
echo "is two sockets, two flows (tcplife, too, reports both ends); a"
echo "connection to another host is one; rss_kib summed peak RSS; flows: connections"
echo "the agent reported (client side, final records) out of those made;"
echo "lost: samples the kernel reported lost / dropped without a trace"
echo "(sockflow's stats document)."

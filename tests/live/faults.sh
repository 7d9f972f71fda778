#!/bin/sh
# Faults: each component in turn is killed with SIGKILL while sockflow
# runs. The launcher must start it again, and the others must live on
# and reconnect: the probe to the new aggregator, carrying what the rings
# gave meanwhile; the aggregator to the new enricher, keeping its flows.
# The pipeline must report flows made afterwards, and:
#  - a connection held across the probe's death alone is reported whole
#    but marked partial (sockflow.samples_lost: the new probe did not see
#    its gap);
#  - across the aggregator's death, with the launcher stopped so that no
#    aggregator runs for a second: a connection made and closed while
#    none ran is reported whole (the probe kept its samples); a UDP
#    exchange going on across it is reported, marked partial (the dead
#    aggregator held its start); one that ended before it, its sockets
#    left open, is written by the enricher from the dead aggregator's
#    notice (sockflow.aggregator_lost); a connection held open across it is
#    reported as one the new aggregator did not see begin
#    (sockflow.existing), with a final record;
#  - a connection held across the enricher's death is reported whole
#    (neither existing nor partial);
#  - the stats documents show the restarts and the reconnections.
# Then a component that dies RESTART_MAX (5) times in a minute makes the
# launcher stop everything and exit non-zero.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

TCPFLOW=$top_builddir/tests/live/tcpflow
start_pipeline -o sockflow.stats_interval=1s

starts() {	# how many times the probe has announced its backend
	grep -cE "(tracepoint|kprobe) backend \(" "$TMP/err.log"
}

# wait_restarted VICTIM STARTS_BEFORE: the victim is up again, and
# connected: a new probe said its backend, the probe connected to the new
# aggregator, or the aggregator to the new enricher.
wait_restarted() {
	i=0
	until grep -q "$1 started again" "$TMP/err.log" &&
	    case $1 in
	    probe) [ "$(starts)" -gt "$2" ] ;;
	    aggregator) grep -q "aggregator connected again" "$TMP/err.log" ;;
	    enricher) grep -q "enricher connected again" "$TMP/err.log" ;;
	    esac; do
		i=$((i + 1))
		[ $i -gt 150 ] && {
			fail "$1 not running again"
			tail -n 20 "$TMP/err.log"
			return 1
		}
		sleep 0.1
	done
	return 0
}

# A connection made now must show up (its client's final record).
flow_works() {	# LABEL PORT
	out=$(unshare -n sh -c "ip link set lo up && \
	    '$TCPFLOW' 127.0.0.1 $2 100 client-first") ||
	    { fail "$1: workload failed"; return; }
	cport=$(echo "$out" | sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
	i=0
	until grep "\"port\":$cport[,}]" "$TMP/out.json" |
	    grep -q '"name":"tcpflow"'; do
		i=$((i + 1))
		[ $i -gt 50 ] && { fail "$1: no document for port $cport"; return; }
		sleep 0.1
	done
	echo "ok: $1: a connection made afterwards was reported"
}

flow_works "before any fault" 5901
# Held open across the aggregator's death (in sockflow's own namespace,
# whose connections a new aggregator's start-up dump lists).
python3 "$top_srcdir/tests/live/holdconn.py" 127.0.0.1 5791 14 \
    >"$TMP/hold.txt" 2>&1 &
HOLD=$!
sleep 1
port=5902
for victim in probe aggregator enricher; do
	HOLD2=
	# Held across the probe's death alone, and across the enricher's.
	if [ $victim = probe ] || [ $victim = enricher ]; then
		python3 "$top_srcdir/tests/live/holdconn.py" 127.0.0.1 \
		    "$([ $victim = probe ] && echo 5792 || echo 5793)" 4 \
		    >"$TMP/hold-$victim.txt" 2>&1 &
		HOLD2=$!
		sleep 1
	fi
	before=$(starts)
	pid=$(comp_pid $victim)
	ppid=$(comp_pid probe)
	if [ $victim = aggregator ]; then
		# A UDP exchange that ends before the death, its sockets
		# left open and silent: the dead aggregator held its flows
		# (it reports a UDP flow after 30 s of silence) and no later
		# datagram brings them to the new one.
		unshare -n sh -c "ip link set lo up && python3 \
		    '$top_srcdir/tests/live/udpslow.py' 127.0.0.1 5798 40 2 6" \
		    >"$TMP/udpdone.txt" 2>&1 &
		UDPD=$!
		until grep -q client_port "$TMP/udpdone.txt"; do
			kill -0 $UDPD 2>/dev/null ||
			    { fail "the UDP exchange failed"; break; }
			sleep 0.1
		done
		# A UDP exchange across the death, one datagram each 0.2 s.
		unshare -n sh -c "ip link set lo up && python3 \
		    '$top_srcdir/tests/live/udpslow.py' 127.0.0.1 5795 40 5" \
		    >"$TMP/udpslow.txt" 2>&1 &
		UDPS=$!
		sleep 1.5
		# No aggregator for a second: the launcher cannot start one.
		kill -STOP "$LAUNCHER"
		kill -KILL "$pid"
		sleep 0.5
		gapout=$(unshare -n sh -c "ip link set lo up && \
		    '$TCPFLOW' 127.0.0.1 5796 300 client-first") ||
		    fail "the connection while no aggregator ran failed"
		gport=$(echo "$gapout" |
		    sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
		sleep 0.5
		kill -CONT "$LAUNCHER"
	else
		kill -KILL "$pid"
	fi
	wait_restarted $victim "$before" || continue
	if [ $victim != probe ]; then
		[ "$(comp_pid probe)" = "$ppid" ] ||
		    fail "the $victim's death took the probe with it"
	fi
	grep -q "$victim (pid $pid) was killed by signal 9 ([A-Za-z]*); starting it again" \
	    "$TMP/err.log" || fail "$victim: no message naming it"
	flow_works "after the $victim was killed" $port
	port=$((port + 1))
	# Ended and reported while the same aggregator runs, before the
	# next kill.
	if [ -n "$HOLD2" ]; then
		wait "$HOLD2"
		cat "$TMP/hold-$victim.txt"
		hp=$(sed -n 's/.*client_port=\([0-9]*\).*/\1/p' \
		    "$TMP/hold-$victim.txt")
		if [ $victim = probe ]; then
			hport2=$hp
		else
			hport3=$hp
		fi
		i=0
		until [ "$(grep "\"port\":$hp[,}]" "$TMP/out.json" |
		    grep -c '"final":true')" -ge 2 ]; do
			i=$((i + 1))
			[ $i -gt 100 ] && { fail "port $hp not reported"; break; }
			sleep 0.1
		done
	fi
done
wait "$UDPS" || fail "the UDP exchange failed"
wait "$UDPD" || fail "the UDP exchange that ended first failed"
cat "$TMP/udpslow.txt"
uport=$(sed -n 's/.*client_port=\([0-9]*\).*/\1/p' "$TMP/udpslow.txt")
cat "$TMP/udpdone.txt"
dport=$(sed -n 's/.*client_port=\([0-9]*\).*/\1/p' "$TMP/udpdone.txt")
wait "$HOLD"
cat "$TMP/hold.txt"
hport=$(sed -n 's/.*client_port=\([0-9]*\).*/\1/p' "$TMP/hold.txt")
sleep 2
kill -0 "$LAUNCHER" || fail "the launcher is gone"
stop_pipeline
[ "$STATUS" = 0 ] || fail "exit status $STATUS after the faults"
python3 - "$TMP/out.json" "$hport" "$hport2" "$hport3" "$gport" "$uport" "$dport" <<'PY' || fail "held connections or stats"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
port = int(sys.argv[2])
port2 = int(sys.argv[3])
port3 = int(sys.argv[4])
gport = int(sys.argv[5] or 0)
uport = int(sys.argv[6] or 0)
dport = int(sys.argv[7] or 0)


def of(transport, p):
    return [d for d in docs if d.get("event", {}).get("dataset") == "socket"
            and d["network"]["transport"] == transport
            and p in (d["source"].get("port"), d["destination"].get("port"))]


# Made and closed while no aggregator ran: whole, both ends.
gap = [d for d in of("tcp", gport) if d["flow"]["final"]]
gapc_ok = len(gap) == 2 and all(
    not d["sockflow"].get("samples_lost") and not d["sockflow"].get("existing")
    and d["flow"]["complete"] for d in gap)
print("connection made while no aggregator ran (port %d): %d final, "
      "whole %s" % (gport, len(gap), gapc_ok))
# UDP across the aggregator's death: reported, and only as partial.
udp = of("udp", uport)
udp_ok = len(udp) > 0 and all(d["sockflow"].get("samples_lost") and
                              not d["flow"]["complete"] for d in udp)
print("UDP exchange across the aggregator's death (port %d): %d record(s), "
      "samples_lost %s" % (uport, len(udp),
                           [d["sockflow"].get("samples_lost") for d in udp]))
# Ended before the aggregator's death, held by it: written by the
# enricher from the aggregator's notice, partial, marked as such.
done = of("udp", dport)
done_ok = len(done) > 0 and all(
    d["sockflow"].get("aggregator_lost") and d["sockflow"].get("samples_lost")
    and not d["flow"]["final"] for d in done)
print("UDP exchange ended before the aggregator's death (port %d): %d "
      "record(s), aggregator_lost %s" % (
          dport, len(done), [d["sockflow"].get("aggregator_lost")
                             for d in done]))
# Held across the enricher's death: the aggregator lived on, so the
# connection is whole, neither existing nor partial.
whole = [d for d in docs if d.get("event", {}).get("dataset") == "socket"
         and d["network"]["transport"] == "tcp" and d["flow"]["final"]
         and port3 in (d["source"].get("port"), d["destination"].get("port"))]
whole_ok = len(whole) == 2 and all(
    not d["sockflow"].get("samples_lost") and not d["sockflow"].get("existing")
    for d in whole)
print("connection held across the enricher's death (port %d): %d final, "
      "whole %s" % (port3, len(whole), whole_ok))
gap = [d for d in docs if d.get("event", {}).get("dataset") == "socket"
       and d["network"]["transport"] == "tcp" and d["flow"]["final"]
       and port2 in (d["source"].get("port"), d["destination"].get("port"))]
gap_ok = len(gap) == 2 and all(
    d["sockflow"].get("samples_lost") and not d["sockflow"].get("existing")
    for d in gap)
print("connection held across the probe's death (port %d): %d final, "
      "samples_lost %s" % (port2, len(gap),
                           [d["sockflow"].get("samples_lost") for d in gap]))
held = [d for d in docs if d.get("event", {}).get("dataset") == "socket"
        and d["network"]["transport"] == "tcp"
        and port in (d["source"].get("port"), d["destination"].get("port"))
        and d.get("sockflow", {}).get("existing")]
fin = [d for d in held if d["flow"]["final"]]
print("held connection (port %d): %d records as existing, %d final" %
      (port, len(held), len(fin)))
st = [d["sockflow"]["stats"] for d in docs
      if d.get("event", {}).get("dataset") == "sockflow.stats"]
agg = max(s["aggregator"].get("restarts", 0) for s in st)
probe = max(s["aggregator"].get("probe_restarts", 0) for s in st)
enr = max(s["enricher"].get("restarts", 0) for s in st)
recon = max(s["aggregator"].get("enricher_reconnects", 0) for s in st)
precon = max(s["aggregator"].get("probe_aggregator_reconnects", 0)
             for s in st)
gapf = max(s["aggregator"].get("gap_flows", 0) for s in st)
print("restarts in the stats: probe %d, aggregator %d, enricher %d; the "
      "aggregator connected to an enricher again %d time(s), the probe to "
      "an aggregator %d time(s); %d flow(s) partial after the gap" %
      (probe, agg, enr, recon, precon, gapf))
# Each died once, when killed: no death took another with it.
orph = max(s["enricher"].get("flows_orphaned", 0) for s in st)
print("flows the enricher wrote for the dead aggregator: %d" % orph)
sys.exit(0 if fin and gap_ok and whole_ok and gapc_ok and udp_ok and
         done_ok and orph >= 1 and
         agg >= 1 and probe == 1 and enr >= 1 and recon >= 1 and
         precon >= 1 and gapf >= 1 else 1)
PY

# Dying too often: the sixth death within a minute stops everything.
# (The first part's logs are kept apart, for a failure's report.)
cp "$TMP/out.json" "$TMP/faults-out.json"
cp "$TMP/err.log" "$TMP/faults-err.log"
start_pipeline
n=0
while [ $n -lt 6 ] && kill -0 "$LAUNCHER" 2>/dev/null; do
	pid=$(comp_pid enricher)
	[ -n "$pid" ] && kill -KILL "$pid"
	n=$((n + 1))
	sleep 1
done
wait_gone "$LAUNCHER" 100 || fail "repeated deaths: the launcher still runs"
wait "$LAUNCHER"
STATUS=$?
LAUNCHER=
[ "$STATUS" != 0 ] || fail "repeated deaths: launcher exit status 0"
grep -q "enricher (pid [0-9]*) was killed by signal 9 ([A-Za-z]*); it died too often" \
    "$TMP/err.log" || fail "repeated deaths: no message"
[ -e "$TMP/run" ] && fail "repeated deaths: runtime directory left"
finish

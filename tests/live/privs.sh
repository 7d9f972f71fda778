#!/bin/sh
# While the pipeline runs: the probe holds exactly CAP_PERFMON (on kernels
# before 5.8, which have none, and where perf_event_paranoid is above 2,
# CAP_SYS_ADMIN) and CAP_NET_ADMIN (effective
# and permitted), no_new_privs is set everywhere,
# and the aggregator and the enricher hold no capability, run as a non-root
# uid and are in seccomp filter mode.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root
start_pipeline

field() {	# pid name
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

# CAP_NET_ADMIN is bit 12, CAP_SYS_ADMIN bit 21, CAP_PERFMON bit 38.
# CAP_SYS_ADMIN also where perf_event_paranoid is above 2 (Debian's
# kernels; probe/probe_privs.c).
if [ "$(cat /proc/sys/kernel/cap_last_cap)" -ge 38 ] &&
    [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -le 2 ]; then
	WANT_PROBE=0000004000001000
else
	WANT_PROBE=0000000000201000
fi
for c in probe aggregator enricher; do
	pid=$(comp_pid $c)
	if [ -z "$pid" ]; then
		fail "no $c process"
		continue
	fi
	eff=$(field "$pid" CapEff)
	prm=$(field "$pid" CapPrm)
	inh=$(field "$pid" CapInh)
	amb=$(field "$pid" CapAmb)
	nnp=$(field "$pid" NoNewPrivs)
	sec=$(field "$pid" Seccomp)
	uid=$(field "$pid" Uid)
	echo "$c pid=$pid CapEff=$eff CapPrm=$prm NoNewPrivs=$nnp Seccomp=$sec Uid=$uid"
	[ "$nnp" = 1 ] || fail "$c: NoNewPrivs $nnp"
	[ "$inh" = 0000000000000000 ] || fail "$c: CapInh $inh"
	[ "$amb" = 0000000000000000 ] || fail "$c: CapAmb $amb"
	if [ $c = probe ]; then
		[ "$eff" = $WANT_PROBE ] || fail "probe: CapEff $eff"
		[ "$prm" = $WANT_PROBE ] || fail "probe: CapPrm $prm"
	else
		[ "$eff" = 0000000000000000 ] || fail "$c: CapEff $eff"
		[ "$prm" = 0000000000000000 ] || fail "$c: CapPrm $prm"
		[ "$sec" = 2 ] || fail "$c: Seccomp $sec"
		[ "$uid" != 0 ] || fail "$c: runs as uid 0"
		# All four of real, effective, saved and filesystem uid.
		awk '$1 == "Uid:" { for (i = 2; i <= 5; i++)
		    if ($i == 0) exit 1 }' "/proc/$pid/status" ||
		    fail "$c: some uid is still 0"
	fi
done
# SO_PEERCRED: with the file permissions opened up, a process of another
# uid reaches the enricher's socket but is refused by the enricher itself.
chmod 0755 "$TMP"
chmod 0777 "$TMP/run" "$TMP/run/enricher.sock"
setpriv --reuid=1 --regid=1 --clear-groups /usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(5)
sys.exit(0 if s.recv(1) == b'' else 1)
" "$TMP/run/enricher.sock" || fail "connection from uid 1 was not closed"
grep -q "refusing a connection from uid 1 " "$TMP/err.log" ||
    fail "the enricher did not refuse uid 1"
# And the aggregator admits only root, whatever the file permissions say.
chmod 0777 "$TMP/run/aggregator.sock"
setpriv --reuid=1 --regid=1 --clear-groups /usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(5)
sys.exit(0 if s.recv(1) == b'' else 1)
" "$TMP/run/aggregator.sock" || fail "connection from uid 1 was not closed"
grep -q "refusing a connection from uid 1: the probe runs as root" \
    "$TMP/err.log" || fail "the aggregator did not refuse uid 1"
# The pipeline is unaffected by the refused peers.
for c in probe aggregator enricher; do
	[ -n "$(comp_pid $c)" ] || fail "$c gone after a refused peer"
done

stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with status $STATUS"
finish

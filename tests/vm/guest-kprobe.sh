# The guest side of tests/vm/kprobe.sh, read by the guest's /init (busybox
# sh) as its driver. sockflow is in /opt/sockflow, the test scripts under
# /opt/sockflow/src. Each step prints "KPROBE <step> ok|FAIL <detail>" and
# sends its files back with sendfile; every wait is bounded.
#	check	sockflow --check selects the kprobe backend and says ok
#	crash	a kill -9 of the probe leaves its kprobes behind; the next
#		start removes them (and only them) and its own exit leaves
#		none
#	truth	tests/live/truthrun.sh with socket.backend=kprobe; the host
#		holds what comes back against the truth and the captures
#	creds	a client that becomes uid 1234 after its exec connects; its
#		flow must carry the new ids, and both sides the file and the
#		arguments of the exec (checked on the host); an exec with two
#		4,000-byte arguments makes no record the kernel refuses
#	clean	no sockflow kprobe group is left at the end
S=/opt/sockflow
T=/sys/kernel/tracing
echo "kernel $(uname -r), $(nproc) cpus"

step_check() {
	$S/sockflow --check >/tmp/check.txt 2>&1
	st=$?
	sendfile /tmp/check.txt
	if [ $st = 0 ] && grep -q '^backend: kprobe (auto:' /tmp/check.txt &&
	    grep -q '^result: ok' /tmp/check.txt; then
		echo "KPROBE check ok"
	else
		echo "KPROBE check FAIL status $st: $(grep -E '^(backend|result|kprobes):' /tmp/check.txt | tr '\n' ' ')"
	fi
}

# start_sf DIR: the launcher in the background (pid in L), output in DIR;
# 0 once the probe says its events are on.
start_sf() {
	mkdir -p "$1"
	$S/sockflow -r "$1/run" >"$1/out.json" 2>"$1/err.log" &
	L=$!
	i=0
	while [ $i -lt 300 ]; do
		grep -qE 'backend \(.*event\(s\) on' "$1/err.log" && return 0
		kill -0 $L 2>/dev/null || return 1
		i=$((i + 1))
		sleep 0.1
	done
	return 1
}

# stop_sf [SIGNAL]: stop the launcher, at most 10 s.
stop_sf() {
	kill -"${1:-INT}" $L 2>/dev/null
	i=0
	while kill -0 $L 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { kill -KILL $L; break; }
		sleep 0.1
	done
	wait $L
}

step_crash() {
	if ! start_sf /tmp/c1; then
		sendfile /tmp/c1/err.log crash1.err
		echo "KPROBE crash FAIL first start"
		return
	fi
	# This busybox has no pgrep.
	probe=
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = sockflow-probe ] &&
		    probe=${d#/proc/}
	done
	if [ -z "$probe" ]; then
		echo "KPROBE crash FAIL no probe process"
		stop_sf INT
		return
	fi
	kill -KILL "$probe"
	stop_sf TERM
	left=$(grep -c "^[pr][0-9]*:sockflow_${probe}_" $T/kprobe_events)
	# A group of another program's must survive the cleanup.
	echo 'p:sfother/keep tcp_sendmsg' >>$T/kprobe_events
	if ! start_sf /tmp/c2; then
		sendfile /tmp/c2/err.log crash2.err
		echo "KPROBE crash FAIL second start"
		return
	fi
	removed=$(grep -o 'removed [0-9]* probe(s) a stopped sockflow left behind' /tmp/c2/err.log)
	still=$(grep -c "sockflow_${probe}_" $T/kprobe_events)
	mine=$(grep -c "^[pr][0-9]*:sockflow_" $T/kprobe_events)
	stop_sf INT
	after=$(grep -c "sockflow_" $T/kprobe_events)
	other=$(grep -c "sfother/keep" $T/kprobe_events)
	echo '-:sfother/keep' >>$T/kprobe_events
	sendfile /tmp/c2/err.log crash2.err
	detail="left after kill -9: $left; second start: ${removed:-nothing removed}, $still of them still there, $mine of its own; after its exit: $after; other group kept: $other"
	if [ "$left" -gt 0 ] && [ -n "$removed" ] && [ "$still" = 0 ] &&
	    [ "$mine" -gt 0 ] && [ "$after" = 0 ] && [ "$other" = 1 ]; then
		echo "KPROBE crash ok $detail"
	else
		echo "KPROBE crash FAIL $detail"
	fi
}

step_truth() {
	sh /opt/sockflow/src/tests/vm/guest-truth.sh
	st=$?
	if [ $st = 0 ]; then
		echo "KPROBE truth ok (checked on the host)"
	else
		echo "KPROBE truth FAIL the workload or sockflow failed ($st)"
	fi
}

step_creds() {
	if ! start_sf /tmp/cr; then
		sendfile /tmp/cr/err.log creds.err
		echo "KPROBE creds FAIL did not start"
		return
	fi
	TCPFLOW_CLIENT_UID=1234 timeout 20 $S/tests/live/tcpflow 127.0.0.1 \
	    7005 100 client-first >/tmp/cr/truth.txt 2>&1
	st=$?
	# Long arguments must not make a record the kernel refuses.
	/bin/true "$(printf '%4000s' a)" "$(printf '%4000s' b)"
	if dmesg | grep -q "perf buffer not large enough"; then
		echo "KPROBE creds FAIL a long argument overflowed a record"
		st=1
	fi
	sleep 1
	stop_sf INT
	sendfile /tmp/cr/out.json creds.json
	sendfile /tmp/cr/truth.txt creds-truth.txt
	if [ $st = 0 ]; then
		echo "KPROBE creds ok (checked on the host)"
	else
		echo "KPROBE creds FAIL tcpflow: $(cat /tmp/cr/truth.txt)"
	fi
}

step_clean() {
	n=$(grep -c "sockflow_" $T/kprobe_events)
	if [ "$n" = 0 ]; then
		echo "KPROBE clean ok"
	else
		echo "KPROBE clean FAIL $n sockflow probe(s) left: $(grep sockflow_ $T/kprobe_events | tr '\n' ' ')"
	fi
}

for s in check crash truth creds clean; do
	"step_$s"
done

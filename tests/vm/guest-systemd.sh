#!/bin/sh
# In the systemd guest of tests/vm/systemd.sh, started at boot by
# sockflow-vmtest.service: sockflow's own units run the pipeline, and
# each component killed with SIGKILL must be started again by systemd
# (Restart=on-failure) with flows reported afterwards.
#
#  1. Start the three socket units and the probe's service, as an
#     administrator would; the probe's connection starts the aggregator,
#     the aggregator's the enricher, which starts sockflow-output. Each
#     service must be active and a TCP connection (tests/live/tcpflow on
#     loopback) must be reported in sockflow-output's journal (its
#     console output), with its process.
#  2. For the probe, the aggregator, the enricher and sockflow-output in
#     turn: kill -9 its main process. The unit must come back active
#     with another pid and a restart counted (NRestarts), the probe's
#     kprobes must not be doubled (the new probe removes the dead one's),
#     and a new connection must be reported. The aggregator's death must
#     leave the probe running, connected to the new aggregator; the
#     enricher's must leave the aggregator running, connected to the new
#     enricher.
#  3. Stop the probe's unit: its kprobes must be gone.
#  4. Start it again and kill it until systemd gives up: the unit must
#     end failed, its start refused (StartLimitBurst=).
# Output goes to the console between boot.sh's markers; the exit status
# is the number of failed checks.
exec >/dev/ttyS0 2>&1
up() { cut -d' ' -f1 /proc/uptime; }
echo "=== SOCKFLOW-VM START uptime=$(up)"

FAILS=0
bad() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

# until SECONDS COMMAND...: run COMMAND each half second until it
# succeeds; 1 when it never did, or when it said 2 (no use waiting).
until_ok() {
	n=$(($1 * 2))
	shift
	while [ "$n" -gt 0 ]; do
		"$@"
		case $? in
		0) return 0 ;;
		2) return 1 ;;
		esac
		sleep 0.5
		n=$((n - 1))
	done
	return 1
}

journal_has() {
	journalctl -q -u "$1" -o cat --no-pager | grep -q -- "$2"
}

prop() {
	systemctl show -p "$2" --value "$1"
}

# flow PORT: one connection to PORT; its client port must show up in a
# flow document on sockflow-output's console, with the client's pid.
flow() {
	line=$(/usr/local/bin/tcpflow 127.0.0.1 "$1" 1000 client-first) || {
		bad "tcpflow to port $1 failed"
		return
	}
	cport=$(echo "$line" | sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
	cpid=$(echo "$line" | sed -n 's/.*client_pid=\([0-9]*\).*/\1/p')
	if until_ok 60 journal_has sockflow-output.service \
	    "\"port\":$cport,.*\"process\":{\"pid\":$cpid,"; then
		echo "ok: connection from port $cport (pid $cpid) reported"
	elif until_ok 1 journal_has sockflow-output.service \
	    "\"port\":$cport"; then
		bad "connection from port $cport reported without pid $cpid"
		journalctl -q -u sockflow-output.service -o cat --no-pager |
		    grep -- "\"port\":$cport" | head -n 2 | cut -c1-1500
	else
		bad "connection from port $cport not reported"
	fi
}

kprobes() {
	grep -c sockflow /sys/kernel/tracing/kprobe_events 2>/dev/null ||
	    true
}

active() {
	[ "$(systemctl is-active "$1")" = active ]
}

probe_started() {
	p=$(prop sockflow-probe.service MainPID)
	[ "$p" -gt 1 ] && active sockflow-probe.service
}

echo 1 >/proc/sys/kernel/printk
M=/usr/lib/modules/$(uname -r)
for k in inet_diag tcp_diag; do
	insmod "$M/$k.ko" || bad "cannot load $k"
done
echo "perf_event_paranoid $(cat /proc/sys/kernel/perf_event_paranoid)"
mountpoint -q /sys/kernel/tracing ||
    mount -t tracefs nodev /sys/kernel/tracing

systemctl start sockflow-aggregator.socket sockflow-enricher.socket \
    sockflow-output.socket sockflow-probe.service || bad "systemctl start failed"
probe_up() {
	journal_has sockflow-probe.service "backend (" ||
	    { systemctl is-failed -q sockflow-probe.service && return 2; }
}
until_ok 120 probe_up || {
	bad "the probe never said its backend"
	journalctl -q -u 'sockflow-*' -o cat --no-pager | tail -n 40
	echo "=== SOCKFLOW-VM END status=$FAILS uptime=$(up)"
	systemctl poweroff -ff
	exit 1
}
journalctl -q -u sockflow-probe.service -o cat --no-pager | tail -n 3
for u in probe aggregator enricher output; do
	until_ok 30 active "sockflow-$u.service" ||
	    bad "sockflow-$u.service is $(systemctl is-active sockflow-$u.service)"
done
flow 4301
# Stats on request (what "sockflow stats" does): SIGUSR1 to the enricher
# and to sockflow-output; both documents come out on the console.
kill -USR1 "$(prop sockflow-enricher.service MainPID)" \
    "$(prop sockflow-output.service MainPID)"
if until_ok 20 journal_has sockflow-output.service \
    '"sockflow.stats".*"stats":{"output":{' &&
    until_ok 20 journal_has sockflow-output.service \
    '"sockflow.stats".*"enricher":{'; then
	echo "ok: stats documents of the enricher and the output on request"
else
	bad "no stats documents after SIGUSR1"
fi
fifo=$(stat -c '%F %a %U' /run/sockflow/output.fifo)
[ "$fifo" = "fifo 600 root" ] || bad "output FIFO is $fifo"
# The probe's capabilities after its drop: CAP_NET_ADMIN (bit 12) and,
# with this kernel's perf_event_paranoid of 3, CAP_SYS_ADMIN (bit 21).
pp=$(prop sockflow-probe.service MainPID)
eff=$(awk '$1 == "CapEff:" { print $2 }' "/proc/$pp/status")
echo "probe CapEff $eff"
[ "$eff" = 0000000000201000 ] || bad "probe CapEff $eff"
# ProtectKernelTunables=yes: /sys read-only for the probe, tracefs
# writable at the path of its own (BindPaths=) where it wrote its kprobes.
mi=/proc/$pp/mountinfo
sysopt=$(awk '$5 == "/sys" { print $6 }' "$mi")
tropt=$(awk '$5 == "/run/sockflow-probe/tracing" { print $6 }' "$mi")
echo "the probe's /sys: $sysopt; its tracefs: $tropt"
case $sysopt in ro*) ;; *) bad "the probe's /sys is not read-only" ;; esac
case $tropt in rw*) ;; *) bad "the probe's tracefs is not writable" ;; esac
k0=$(kprobes)
echo "kprobes of the probe: $k0"
[ "$k0" -gt 0 ] || bad "no kprobe of the probe (backend?)"

port=4310
for u in probe aggregator enricher output; do
	unit=sockflow-$u.service
	pid=$(prop "$unit" MainPID)
	ppid=$(prop sockflow-probe.service MainPID)
	apid=$(prop sockflow-aggregator.service MainPID)
	r0=$(prop "$unit" NRestarts)
	starts=$(journalctl -q -u sockflow-probe.service -o cat --no-pager |
	    grep -c "backend (")
	echo "kill -9 of the $u (pid $pid)"
	[ "$pid" -gt 1 ] || { bad "$unit has no main process"; continue; }
	kill -KILL "$pid"
	restarted() {
		p=$(prop "$unit" MainPID)
		[ "$p" != 0 ] && [ "$p" != "$pid" ] && active "$unit"
	}
	until_ok 60 restarted ||
	    bad "$unit not restarted: $(systemctl is-active "$unit")," \
	    "pid $(prop "$unit" MainPID)"
	r1=$(prop "$unit" NRestarts)
	[ "$r1" -gt "$r0" ] || bad "$unit: NRestarts $r0 then $r1"
	# No death takes the probe with it: flows count once every unit is
	# active and the probe (a new one after its own death) is running.
	probe_ready() {
		nstarts=$(journalctl -q -u sockflow-probe.service -o cat \
		    --no-pager | grep -c "backend (")
		[ "$(prop sockflow-probe.service MainPID)" = "$ppid" ] ||
		    [ "$nstarts" -gt "$starts" ]
	}
	for c in probe aggregator enricher output; do
		until_ok 120 active "sockflow-$c.service" ||
		    bad "after the $u: sockflow-$c.service is" \
		    "$(systemctl is-active "sockflow-$c.service")"
	done
	until_ok 120 probe_ready || {
		bad "after the $u: no probe ready (pid $ppid before," \
		    "$(prop sockflow-probe.service MainPID) now; $starts" \
		    "starts before, $nstarts now)"
		journalctl -q -u sockflow-probe.service -o cat --no-pager |
		    tail -n 20
	}
	# The death of the aggregator or the enricher ends nothing else:
	# the component above it lives on and connects to the new one
	# (which systemd starts from its socket).
	case $u in
	aggregator) above=probe abovepid=$ppid ;;
	enricher) above=aggregator abovepid=$apid ;;
	*) above= ;;
	esac
	if [ -n "$above" ]; then
		[ "$(prop "sockflow-$above.service" MainPID)" = "$abovepid" ] ||
		    bad "the $above was started again with the $u"
		until_ok 30 journal_has "sockflow-$above.service" \
		    "$u connected again" ||
		    bad "the $above did not connect to the new $u"
	fi
	k=$(kprobes)
	[ "$k" = "$k0" ] || bad "after the $u: $k kprobes, $k0 before"
	echo "$u: restarted (NRestarts $r0 -> $r1), $k kprobes"
	flow $port
	port=$((port + 1))
done

systemctl stop sockflow-probe.service
until_ok 30 sh -c '! systemctl is-active -q sockflow-probe.service' ||
    bad "the probe did not stop"
k=$(kprobes)
[ "$k" = 0 ] || bad "$k kprobes left after the probe's stop"
echo "probe stopped: $k kprobes left"

# The units' restart limit (StartLimitBurst=5 in StartLimitIntervalSec=60):
# a probe that keeps dying is given up ("Start request repeated too
# quickly"), the unit left failed, not restarted for ever. Starting it
# again and killing it as soon as each new one runs, until systemd gives
# up, must take at most six kills (it may have been started within the
# minute before).
systemctl start sockflow-probe.service
kills=0
gave_up() {
	systemctl is-failed -q sockflow-probe.service &&
	    journal_has sockflow-probe.service "Start request repeated too quickly"
}
# After each kill: a new probe, or systemd gave up; at once, so that the
# kills fall within the 60 s window.
respawned_or_gave_up() {
	gave_up && return 0
	p=$(prop sockflow-probe.service MainPID)
	[ "$p" -gt 1 ] && [ "$p" != "$victim" ] &&
	    active sockflow-probe.service
}
until_ok 60 probe_started
while ! gave_up && [ $kills -lt 8 ]; do
	victim=$(prop sockflow-probe.service MainPID)
	kill -KILL "$victim"
	kills=$((kills + 1))
	until_ok 30 respawned_or_gave_up || break
done
if gave_up && [ $kills -le 6 ]; then
	echo "ok: the probe's unit gave up after $kills kill(s)" \
	    "($(prop sockflow-probe.service NRestarts) restarts)"
else
	bad "after $kills kill(s) the probe's unit is" \
	    "$(systemctl is-active sockflow-probe.service)"
fi
journalctl -q -u 'sockflow-*' -o cat --no-pager | grep -v '^{' | tail -n 40
echo "=== SOCKFLOW-VM END status=$FAILS uptime=$(up)"
sync
systemctl poweroff -ff

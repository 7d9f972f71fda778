#!/bin/sh
# In the guest of tests/pkg/deb.sh (Debian 12 with the package installed
# by dpkg, booted with systemd as init), started at boot by
# sockflow-vmtest.service: the packaged units as an administrator meets
# them.
#
#  1. After boot nothing of sockflow runs (the units are installed
#     disabled) and systemd-tmpfiles made /run/sockflow.
#  2. "systemctl enable --now" of the three sockets and the probe, as
#     README.Debian says: the four services become active.
#  3. A TCP connection on loopback (tests/live/tcpflow) is reported in
#     sockflow-output's journal (its console) with its client's pid.
#  4. The aggregator, the enricher and sockflow-output run as the
#     package's static user sockflow (DynamicUser=yes takes the existing
#     user).
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

# within SECONDS COMMAND...: whether COMMAND succeeds within SECONDS.
within() {
	deadline=$(($(cut -d. -f1 /proc/uptime) + $1))
	shift
	until "$@"; do
		[ "$(cut -d. -f1 /proc/uptime)" -lt "$deadline" ] || return 1
		sleep 0.5
	done
}

the_end() {
	journalctl -q -u 'sockflow-*' -o cat --no-pager | grep -v '^{' |
	    tail -n 30
	echo "=== SOCKFLOW-VM END status=$FAILS uptime=$(up)"
	sync
	systemctl poweroff -ff
	exit "$FAILS"
}

services_active() {
	for s in probe aggregator enricher output; do
		[ "$(systemctl is-active "sockflow-$s.service")" = active ] ||
		    return 1
	done
}

reported() {
	journalctl -q -u sockflow-output.service -o cat --no-pager |
	    grep -q "\"port\":$cport,.*\"process\":{\"pid\":$cpid,"
}

echo 1 >/proc/sys/kernel/printk
M=/usr/lib/modules/$(uname -r)
for k in inet_diag tcp_diag; do
	insmod "$M/$k.ko" || bad "cannot load $k"
done

# 1. Installed, not started.
for u in sockflow-probe.service sockflow-aggregator.service \
    sockflow-enricher.service sockflow-output.service \
    sockflow-aggregator.socket sockflow-enricher.socket \
    sockflow-output.socket; do
	st=$(systemctl is-active "$u")
	[ "$st" = inactive ] || bad "$u is $st after boot, not inactive"
done
st=$(stat -c '%U:%G %a' /run/sockflow 2>&1)
[ "$st" = "root:root 755" ] || bad "/run/sockflow: $st"

# 2. Enabled and started by hand.
systemctl enable --now sockflow-aggregator.socket sockflow-enricher.socket \
    sockflow-output.socket sockflow-probe.service || bad "systemctl enable --now failed"
within 120 services_active || {
	bad "the services did not all become active"
	systemctl status --no-pager 'sockflow-*' | head -n 40
	the_end
}
echo "ok: the four services are active"
st=$(systemctl is-enabled sockflow-probe.service)
[ "$st" = enabled ] || bad "sockflow-probe.service is $st after enable"

# 3. A flow.
line=$(/usr/local/bin/tcpflow 127.0.0.1 4401 1000 client-first) ||
    bad "tcpflow failed"
cport=$(echo "$line" | sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
cpid=$(echo "$line" | sed -n 's/.*client_pid=\([0-9]*\).*/\1/p')
if [ -n "$cport" ] && within 60 reported; then
	echo "ok: connection from port $cport (pid $cpid) in the journal"
else
	bad "connection from port $cport (pid $cpid) not reported"
fi

# 4. The static user.
uid=$(id -u sockflow) || bad "no user sockflow"
for s in aggregator enricher output; do
	pid=$(systemctl show -p MainPID --value "sockflow-$s.service")
	ruid=$(awk '$1 == "Uid:" { print $2 }' "/proc/$pid/status")
	if [ -n "$uid" ] && [ "$ruid" = "$uid" ]; then
		echo "ok: $s runs as sockflow ($uid)"
	else
		bad "$s runs as uid $ruid, sockflow is $uid"
	fi
done
the_end

#!/bin/sh
# Make a guest script the one test a systemd guest runs at boot: it is
# installed in the system tree ROOT as /usr/local/sbin/sockflow-vmtest,
# started by sockflow-vmtest.service (wanted by multi-user.target), and
# has the serial console to itself (no getty there). The machine id is
# left empty, so that each boot makes its own. Used by tests/vm/systemd.sh
# and tests/pkg/deb.sh before they pack ROOT and boot it.
#
# usage: vmtest-unit.sh ROOT SCRIPT DESCRIPTION
set -eu
[ $# = 3 ] || { echo "usage: vmtest-unit.sh root script description" >&2; exit 2; }
ROOT=$1
mkdir -p "$ROOT/usr/local/sbin" \
    "$ROOT/etc/systemd/system/multi-user.target.wants"
install -m 755 "$2" "$ROOT/usr/local/sbin/sockflow-vmtest"
cat >"$ROOT/etc/systemd/system/sockflow-vmtest.service" <<UNIT
[Unit]
Description=$3

[Service]
Type=simple
ExecStart=/usr/local/sbin/sockflow-vmtest
UNIT
ln -sf ../sockflow-vmtest.service \
    "$ROOT/etc/systemd/system/multi-user.target.wants/sockflow-vmtest.service"
ln -sf /dev/null "$ROOT/etc/systemd/system/serial-getty@ttyS0.service"
: >"$ROOT/etc/machine-id"

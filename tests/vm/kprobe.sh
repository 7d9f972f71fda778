#!/bin/sh
# The kprobe backend on Debian's own kernels (bullseye's 5.10, bookworm's
# 6.1 and 6.12), each booted under QEMU (TCG) with the build's binaries:
# in each guest (tests/vm/guest-kprobe.sh) sockflow --check must select
# the kprobe backend and find every event; a kill -9 of the probe must
# leave its kprobes, the next start remove them (and no other group's),
# and its exit leave none; and the ground-truth workload of
# tests/live/truth.sh runs under sockflow with socket.backend=kprobe,
# whose documents, workload truth and captures come back here to be held
# against each other by tests/live/checktruth.py, as on this machine's
# kernel, with TCP's IP-level bytes required exact (summed per packet). A kernel that cannot be fetched or booted is a failure, not a
# skip.
#
# usage: kprobe.sh [5.10|6.1|6.12 ...]	(default: all three; root)
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

VM=$top_srcdir/tests/vm
[ $# -gt 0 ] || set -- 5.10 6.1 6.12
TIMEOUT=${SOCKFLOW_VM_TIMEOUT:-400}
# Debian builds sock_diag's TCP part as modules, which a real system
# loads on demand (modprobe); the guest has no modprobe.
SOCKFLOW_VM_MODULES=${SOCKFLOW_VM_MODULES:-veth inet_diag tcp_diag}
export SOCKFLOW_VM_MODULES

if ! sh "$VM/fetch.sh" "$@"; then
	fail "cannot fetch the kernels"
	finish
fi
IP=$(command -v ip) || { fail "no ip (iproute2)"; finish; }
TCPDUMP=$(command -v tcpdump) || { fail "no tcpdump"; finish; }
for f in sockflow sockflow-probe sockflow-aggregator sockflow-enricher \
    tests/live/truth; do
	[ -x "$top_builddir/$f" ] || { fail "no $top_builddir/$f"; finish; }
done
if ! sh "$VM/mkinitrd.sh" -d "$VM/guest-kprobe.sh" "$TMP/initrd.gz" \
    "$top_builddir/sockflow=/opt/sockflow/sockflow" \
    "$top_builddir/sockflow-probe=/opt/sockflow/sockflow-probe" \
    "$top_builddir/sockflow-aggregator=/opt/sockflow/sockflow-aggregator" \
    "$top_builddir/sockflow-enricher=/opt/sockflow/sockflow-enricher" \
    "$top_builddir/tests/live/truth=/opt/sockflow/tests/live/truth" \
    "$top_builddir/tests/live/tcpflow=/opt/sockflow/tests/live/tcpflow" \
    "$top_srcdir/tests/live/lib.sh=/opt/sockflow/src/tests/live/lib.sh" \
    "$top_srcdir/tests/live/truthrun.sh=/opt/sockflow/src/tests/live/truthrun.sh" \
    "$VM/guest-truth.sh=/opt/sockflow/src/tests/vm/guest-truth.sh" \
    "$IP=/usr/sbin/ip" "$TCPDUMP=/usr/bin/tcpdump" >"$TMP/mkinitrd.log" 2>&1
then
	fail "cannot build the initramfs: $(tail -n 3 "$TMP/mkinitrd.log")"
	finish
fi

# run_kernel K: one guest of kernel K and every check of its results.
run_kernel() {
	k=$1
	out=$TMP/$k
	rm -rf "$out"
	rc=0
	sh "$VM/boot.sh" "$k" "$TMP/initrd.gz" "$out" "$TIMEOUT" \
	    >"$TMP/boot-$k.log" 2>&1 || rc=$?
	echo "=== $k (boot.sh status $rc, $(awk '$1 == "total_s" { print $2 }' \
	    "$out/timing" 2>/dev/null) s)"
	grep -E "^(kernel |KPROBE |FAIL: )" "$out/driver.out" 2>/dev/null
	[ "$rc" = 0 ] || fail "$k: the guest did not finish: $(tail -n 2 \
	    "$TMP/boot-$k.log")"
	for s in check crash truth creds clean; do
		grep -q "^KPROBE $s ok" "$out/driver.out" 2>/dev/null ||
		    fail "$k: $s: $(grep "^KPROBE $s " "$out/driver.out" \
		    2>/dev/null || echo no verdict)"
	done
	f=$out/files
	if [ -f "$f/truth-out.json" ]; then
		grep -q "kprobe backend (socket.backend is kprobe)" \
		    "$f/truth-err.log" ||
		    fail "$k: the truth run did not use the kprobe backend"
		CHECKTRUTH_TCP_BYTES=per_packet \
		    python3 "$top_srcdir/tests/live/checktruth.py" \
		    "$f/truth-out.json" "$f/truth-truth.jsonl" \
		    "$f/truth-veth.pcap+$f/truth-vethb.pcap" \
		    "$f/truth-lo.pcap" ||
		    fail "$k: flow documents do not match the ground truth"
		# The stats at the end: every call paired, nothing lost.
		python3 - "$f/truth-out.json" <<'PY' || fail "$k: kprobe counters"
import json, sys
last = None
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("event", {}).get("dataset") == "sockflow.stats":
        last = d["sockflow"]["stats"]
if last is None:
    sys.exit("no stats document")
a, p = last["aggregator"], last.get("probe", {})
bad = {k: v for k, v in a.items()
       if k in ("kprobe_calls_mismatched", "kprobe_calls_table_full",
                "kprobe_returns_lost",
                "ip_packets_table_full", "ip_packets_beyond_tcp_info",
                "ip_packets_unparsed", "lost_samples",
                "dropped_samples") and v}
# The args probe reads 256 bytes from the argument strings: past the top
# of a small stack that faults, and Linux 5.10 counts a faulting fetch
# as misses of every probe on the function; no other probe may miss.
misses = {k: v for k, v in a.items() if k.endswith("_misses") and v and
          k != "probe_kprobe_args_misses"}
if bad or misses or not a.get("kprobe_calls_paired") or \
        not a.get("ip_packet_tuples_taken"):
    sys.exit(f"counters: {bad} {misses} paired={a.get('kprobe_calls_paired')}"
             f" taken={a.get('ip_packet_tuples_taken')}")
print(f"kprobe calls paired: {a['kprobe_calls_paired']}, "
      f"unmatched returns: {a.get('kprobe_returns_unmatched')}; "
      f"IP packets: {a['ip_packets']}, tuples taken by flows: "
      f"{a['ip_packet_tuples_taken']}, expired untaken: "
      f"{a.get('ip_packet_tuples_expired')}")
PY
	else
		fail "$k: the truth run sent nothing back"
	fi
	# The credentials a process took after its exec (commit_creds), the
	# file it executed (sched_process_exec) and its arguments
	# (finalize_exec), on both sides.
	if [ -f "$f/creds.json" ]; then
		python3 - "$f/creds.json" "$f/creds-truth.txt" <<'PY' ||
import json, re, sys
truth = dict(re.findall(r"(\w+)=(\S+)", open(sys.argv[2]).read()))
docs = [json.loads(l) for l in open(sys.argv[1])]
mine = [d for d in docs if d.get("network", {}).get("transport") == "tcp"
        and d.get("destination", {}).get("port") == 7005
        and d.get("source", {}).get("port") == int(truth["client_port"])]
bad = []
for d in mine:
    p, s = d.get("process", {}), d["system"]["audit"]["socket"]
    want = 1234 if d["network"]["direction"] == "outbound" else 0
    if p.get("executable") != "/opt/sockflow/tests/live/tcpflow":
        bad.append(f"{d['network']['direction']}: executable {p}")
    if p.get("args") != ["/opt/sockflow/tests/live/tcpflow", "127.0.0.1",
                         "7005", "100", "client-first"] or \
            p.get("args_count") != 5:
        bad.append(f"{d['network']['direction']}: args {p}")
    if d.get("user", {}).get("id") != str(want) or \
            d.get("group", {}).get("id") != str(want) or \
            [s.get(k) for k in ("uid", "gid", "euid", "egid")] != [want] * 4:
        bad.append(f"{d['network']['direction']}: user {d.get('user')} "
                   f"group {d.get('group')} socket {s}, expected {want}")
if len(mine) != 2:
    bad.append(f"{len(mine)} documents for the connection, expected 2")
if bad:
    sys.exit("creds: " + "; ".join(bad))
print("creds: the client's new ids, both sides' executable and "
      "arguments are right")
PY
		    fail "$k: credentials or executable wrong"
	else
		fail "$k: the creds run sent nothing back"
	fi
	[ "$FAILED" = 0 ] || cp "$TMP/boot-$k.log" "$out/" 2>/dev/null
}

# A kernel whose guest fails is booted once more, and passes only if that
# second run passes every check. Runs under TCG on a shared machine have
# failed this way (6.12, under load: one connection of the 50 concurrent
# ones reported without packet counts, its sock_diag notification later
# than its destroy sample; the aggregator now waits for it) and passed
# again at once; the first failure stays in the log, marked RETRY, with
# its files kept, and a regression fails twice.
for k in "$@"; do
	before=$FAILED
	FAILED=0
	run_kernel "$k"
	if [ "$FAILED" != 0 ]; then
		echo "RETRY: $k failed on its first run (above); running it" \
		    "again (its files kept in $TMP/$k-first)"
		rm -rf "$TMP/$k-first"
		mv "$TMP/$k" "$TMP/$k-first"
		SF_KEEP=1
		FAILED=0
		run_kernel "$k"
	fi
	[ "$before" = 0 ] || FAILED=$before
done
finish

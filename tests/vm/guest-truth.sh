# In a kprobe kernel's guest: the ground-truth workload under sockflow with
# the kprobe backend (tests/live/truthrun.sh), its files sent back to the
# host for tests/live/checktruth.py. Run by tests/vm/guest-kprobe.sh.
. /etc/sockflow-vm.sh
top_srcdir=/opt/sockflow/src
top_builddir=/opt/sockflow
# Starting takes longer under emulation: BTF is read, probes registered.
START_WAIT=300
TRUTH_OPTS="-o socket.backend=kprobe -o sockflow.stats_interval=1s"
. "$top_srcdir/tests/live/lib.sh"
need_root
. "$top_srcdir/tests/live/truthrun.sh"
for f in out.json err.log truth.jsonl veth.pcap vethb.pcap lo.pcap; do
	sendfile "$TMP/$f" "truth-$f"
done
finish

#!/bin/sh
# Make a recording for tests/replay/replay.sh (by hand, as root):
#
#	sh tests/replay/record.sh NAME
#
# runs the ground-truth workload of tests/live/truth.sh with the probe's
# stream recorded (start_pipeline with SF_RECORD, tests/replay/tap.py)
# and keeps in tests/replay/data/NAME/ what the replay needs: the
# recording, the workload's truth, the captures, and the live run's
# documents and error log, for comparison. The live run must pass
# checktruth.py itself, or nothing is kept. Run from the build
# directory with top_srcdir and top_builddir set, as make check would.
NAME=${1:?usage: record.sh NAME}
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root
SF_RECORD=$TMP/probe.rec
. "${top_srcdir:-.}/tests/live/truthrun.sh"
python3 "$top_srcdir/tests/live/checktruth.py" "$TMP/out.json" \
    "$TMP/truth.jsonl" "$TMP/veth.pcap+$TMP/vethb.pcap" "$TMP/lo.pcap" ||
    { fail "the recorded run does not match its ground truth"; finish; }
DEST=$top_srcdir/tests/replay/data/$NAME
mkdir -p "$DEST"
for f in probe.rec truth.jsonl veth.pcap vethb.pcap lo.pcap; do
	gzip -9n <"$TMP/$f" >"$DEST/$f.gz"
done
uname -r >"$DEST/kernel"
# The options truthrun.sh gave the pipeline; the replay gives them too.
echo "-o socket.flow_inactive_timeout=2s ${TRUTH_OPTS:-}" >"$DEST/options"
ls -l "$DEST"
finish

#!/usr/bin/env python3
"""Play a recording of tests/replay/tap.py to an aggregator.

Usage: play.py RECORDING AGGREGATOR_SOCKET

Connects as the probe would and sends each recorded read at the time it
was read, relative to the first, so that the aggregator's timers see the
pace of the recorded run; closes the connection at the end, as a probe
that stops does. A recording that ends in the middle of a record is an
error (exit 1)."""
import socket
import struct
import sys
import time

rec_path, agg_path = sys.argv[1:3]
with open(rec_path, "rb") as f:
    data = f.read()
agg = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
agg.connect(agg_path)
start = time.monotonic_ns()
off = 0
chunks = 0
while off < len(data):
    if len(data) - off < 12:
        sys.exit("play.py: %s: cut record header at %d" % (rec_path, off))
    ns, n = struct.unpack_from("<QI", data, off)
    off += 12
    if len(data) - off < n:
        sys.exit("play.py: %s: cut record at %d" % (rec_path, off))
    wait = (start + ns - time.monotonic_ns()) / 1e9
    if wait > 0:
        time.sleep(wait)
    agg.sendall(data[off:off + n])
    off += n
    chunks += 1
agg.close()
print("replayed %d reads, %d bytes" % (chunks, len(data)))

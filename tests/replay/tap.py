#!/usr/bin/env python3
"""Record the probe's stream to the aggregator (tests/replay/record.sh).

Usage: tap.py LISTEN_SOCKET AGGREGATOR_SOCKET RECORDING

Listens on LISTEN_SOCKET (the path the probe is given with -c), takes
one connection, connects to the aggregator and copies every byte the
probe sends to it, unchanged, while appending each read to RECORDING as
a record: 8 bytes of nanoseconds since the first read and 4 bytes of
length (both little-endian), then the bytes. tests/replay/play.py
plays a recording back at the same pace. The stream is one-way (the
aggregator never writes to the probe); the tap ends when either side
closes.

The probe's first bytes carry its sock_diag socket (SCM_RIGHTS); the tap
passes it on with them, so that the recorded run is a normal one, but
the recording cannot hold it: a replayed aggregator has no sock_diag,
and its TCP flows no packet counts (checktruth.py, CHECKTRUTH_REPLAY)."""
import os
import socket
import struct
import sys
import time

listen_path, agg_path, rec_path = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(listen_path)
srv.listen(1)
probe, _ = srv.accept()
srv.close()
os.unlink(listen_path)
agg = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
agg.connect(agg_path)
t0 = None
with open(rec_path, "wb") as rec:
    while True:
        buf, anc, _, _ = probe.recvmsg(1 << 20, socket.CMSG_SPACE(16))
        fds = []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(struct.unpack("%di" % (len(data) // 4),
                                          data[:len(data) // 4 * 4]))
        if not buf:
            break
        now = time.monotonic_ns()
        if t0 is None:
            t0 = now
        rec.write(struct.pack("<QI", now - t0, len(buf)))
        rec.write(buf)
        try:
            if fds:
                n = agg.sendmsg([buf], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                         struct.pack("%di" % len(fds), *fds))])
                for fd in fds:
                    os.close(fd)
                agg.sendall(buf[n:])
            else:
                agg.sendall(buf)
        except OSError:
            break
agg.close()
probe.close()

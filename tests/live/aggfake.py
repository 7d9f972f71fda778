#!/usr/bin/env python3
"""A fake aggregator for a real sockflow-probe (tests/live/probeagg.sh).

It listens on SOCK, starts the probe connecting there, and then:
 1. takes the first connection's hello (with its sock_diag socket) and
    reads nothing more while WORKLOAD (a command) makes connections, so
    that the probe's socket fills and it queues frames of its own; then
    closes the connection, in the middle of the probe's output;
 2. the probe must live on and connect again: the second hello must say
    resumed=1 with a gap time and the probe's pid, come with a sock_diag
    socket again, and be followed by the formats and then only whole,
    valid frames, among them samples and a new start-up dump;
 3. on that connection the fake aggregator sends a byte, which no
    aggregator does: the probe must drop the connection and connect a
    third time (resumed=2), not die;
 4. the third goes away right after the hello, and three more at once
    when they connect: the next must get the formats first and once;
 5. with no listener for a while the probe must say so and go on
    trying; the connection it makes once there is one again is never
    accepted while the workload runs again: SIGTERM must still end the
    probe, with status 0, within 15 s.
Exits non-zero with a message at the first check that fails.
Usage: aggfake.py PROBE SOCK ERRLOG WORKLOAD..."""
import os
import signal
import socket
import struct
import subprocess
import sys
import time

# The protobuf wire format, as the fuzz seeds' maker reads it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fuzz"))
from mkseeds import pb_fields  # noqa: E402

probe_bin, path, errlog = sys.argv[1], sys.argv[2], sys.argv[3]
workload = sys.argv[4:]
HELLO, FORMATS, SAMPLES, DIAG, NETNS, TYPE_MAX = 1, 2, 3, 8, 11, 13
MAX_PAYLOAD = 1024 * 1024


def bad(msg):
    print("FAIL: " + msg, flush=True)
    if probe.poll() is None:
        probe.kill()
    sys.exit(1)


def hello_fields(b):
    """The hello's protobuf fields: number -> int or bytes."""
    return {num: v for num, v, _ in pb_fields(b)}


def read_exact(c, n, deadline):
    buf = b""
    while len(buf) < n:
        c.settimeout(max(0.01, deadline - time.time()))
        try:
            d = c.recv(n - len(buf))
        except socket.timeout:
            return None
        if not d:
            return None
        buf += d
    return buf


def header(h):
    ln, ver, typ = struct.unpack("!IHH", h)
    if ver != 1 or not 0 < typ < TYPE_MAX or not 0 < ln <= MAX_PAYLOAD:
        bad("bad frame header: len %d version %d type %d" % (ln, ver, typ))
    return ln, typ


def frame_types(c, n, secs):
    """The types of the frames connection n brings in secs seconds, each
    frame whole and valid."""
    types = []
    deadline = time.time() + secs
    while time.time() < deadline:
        h = read_exact(c, 8, deadline)
        if h is None:
            break
        ln, typ = header(h)
        if read_exact(c, ln, time.time() + 5) is None:
            bad("connection %d: frame of type %d cut" % (n, typ))
        types.append(typ)
    return types


def take_hello(lst, n, exact=True):
    lst.settimeout(10)
    try:
        c, _ = lst.accept()
    except socket.timeout:
        bad("connection %d: the probe did not connect again in 10 s" % n)
    c.settimeout(5)
    msg, fds, _, _ = socket.recv_fds(c, 8, 4)
    if len(msg) != 8:
        bad("connection %d: short first read" % n)
    if len(fds) != 1:
        bad("connection %d: %d descriptor(s) with the hello" % (n, len(fds)))
    s = socket.socket(fileno=fds[0])
    if s.family != socket.AF_NETLINK:
        bad("connection %d: the descriptor is not a netlink socket" % n)
    s.close()
    ln, typ = header(msg)
    if typ != HELLO:
        bad("connection %d: first frame is type %d" % (n, typ))
    f = hello_fields(read_exact(c, ln, time.time() + 5) or bad("hello cut"))
    print("connection %d: hello component=%s pid=%s resumed=%s gap_ns=%s" %
          (n, f.get(2), f.get(4), f.get(7, 0), f.get(8, 0)), flush=True)
    if f.get(2) != b"probe" or f.get(4) != probe.pid:
        bad("connection %d: hello not from the probe" % n)
    if f.get(7, 0) != n - 1 and (exact or f.get(7, 0) < n - 1):
        bad("connection %d: resumed=%s, not %d" % (n, f.get(7, 0), n - 1))
    if n > 1 and not 0 < f.get(8, 0) <= f.get(6, 0):
        bad("connection %d: gap_ns %s, hello sent at %s" %
            (n, f.get(8), f.get(6)))
    return c


if os.path.exists(path):
    os.unlink(path)
lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lst.bind(path)
os.chmod(path, 0o600)
lst.listen(4)
err = open(errlog, "w")
probe = subprocess.Popen([probe_bin, "-c", path], stderr=err)

c1 = take_hello(lst, 1)
deadline = time.time() + 30
while b"backend (" not in open(errlog, "rb").read():
    if time.time() > deadline or probe.poll() is not None:
        bad("the probe did not start (see %s)" % errlog)
    time.sleep(0.1)
# Nothing read while the workload runs: the probe's output backs up.
if subprocess.call(workload) != 0:
    bad("workload failed")
time.sleep(0.3)
c1.close()

c2 = take_hello(lst, 2)
types = frame_types(c2, 2, 4)
print("connection 2: %d frames, types %s" % (len(types), sorted(set(types))),
      flush=True)
if not types or types[0] != FORMATS:
    bad("connection 2: the formats do not come first")
if SAMPLES not in types:
    bad("connection 2: no samples")
if DIAG not in types:
    bad("connection 2: no start-up dump")
log = open(errlog).read()
if "aggregator closed the connection" not in log and \
        "aggregator connection failed" not in log:
    bad("the probe did not say its aggregator went away")
if probe.poll() is not None:
    bad("the probe exited with %s" % probe.returncode)

# A peer that talks back is no aggregator: dropped, not obeyed.
c2.send(b"x")
c3 = take_hello(lst, 3)
if "aggregator sent data" not in open(errlog).read():
    bad("the probe did not name the byte it was sent")
c2.close()

# Ones that go away at once, before the probe wrote anything after its
# hello (or even before the hello): the next must get the formats once,
# first, not a dead one's too.
c3.close()
for _ in range(3):
    lst.settimeout(10)
    try:
        c, _ = lst.accept()
    except socket.timeout:
        bad("the probe did not connect again in 10 s")
    c.close()
c4 = take_hello(lst, 4, exact=False)
types = frame_types(c4, 4, 2)
print("connection 4: %d frames, %d formats" % (len(types),
                                              types.count(FORMATS)),
      flush=True)
if not types or types[0] != FORMATS or types.count(FORMATS) != 1:
    bad("connection 4: the formats are not first and once")

# No listener at all for a while: the probe says so, and goes on trying.
connected = open(errlog).read().count("aggregator connected again")
lst.close()
os.unlink(path)
c4.close()
deadline = time.time() + 10
while "no aggregator for" not in open(errlog).read():
    if time.time() > deadline or probe.poll() is not None:
        bad("the probe did not say it has no aggregator")
    time.sleep(0.1)
lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lst.bind(path)
os.chmod(path, 0o600)
lst.listen(4)
# The next connection waits in the listener's queue, never accepted,
# while the probe has more to send than its socket holds: SIGTERM must
# still end it, giving up on the peer that reads nothing.
deadline = time.time() + 10
while open(errlog).read().count("aggregator connected again") <= connected:
    if time.time() > deadline:
        bad("the probe did not connect a fifth time")
    time.sleep(0.1)
if subprocess.call(workload) != 0:
    bad("workload failed")
probe.send_signal(signal.SIGTERM)
try:
    rc = probe.wait(15)
except subprocess.TimeoutExpired:
    bad("the probe did not exit within 15 s of SIGTERM, its peer silent")
if rc != 0:
    bad("the probe exited with %d after SIGTERM" % rc)
if "reads nothing" not in open(errlog).read():
    bad("the probe did not say it gave up on the silent peer")
lst.close()
os.unlink(path)
print("ok: the probe lived through its aggregators and stopped cleanly",
      flush=True)

"""What shipping costs: sockflow-output's CPU time per document for the
local outputs, beside cat(1) reading the same lines, in one run.

Not a test: figures on a shared machine are noisy; compare the rows of
one run. Each row pipes the same N flow documents (taken from a real
document's shape, about 1 KB each) into one process and measures that
process's user and system CPU time (getrusage of the child) and the wall
time until it exited.

Usage (root, from the build directory):
    top_builddir=. python3 ../bench/output.py [N]
or  make bench-output [BENCH_ARGS=N]
"""
import json
import os
import pwd
import resource
import shutil
import subprocess
import sys
import tempfile
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
B = os.environ.get("top_builddir", ".")
OUT = os.path.join(B, "sockflow-output")

if os.geteuid() != 0:
    sys.exit("run as root (sockflow-output drops to its user)")
user = "sockflow"
try:
    pwd.getpwnam(user)
except KeyError:
    user = "nobody"
u = pwd.getpwnam(user)

doc = {
    "@timestamp": "2026-11-27T03:46:08.123456Z",
    "event": {"kind": "event", "category": ["network"], "type":
              ["connection", "end"], "action": "network_flow",
              "dataset": "socket", "module": "system",
              "start": "2026-11-27T03:46:07.000001Z",
              "end": "2026-11-27T03:46:08.123456Z", "duration": 1123455000},
    "network": {"transport": "tcp", "type": "ipv4", "direction": "egress",
                "bytes": 2310, "packets": 14,
                "community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
    "source": {"ip": "10.0.0.5", "port": 48012, "bytes": 1310,
               "packets": 8, "payload_bytes": 1000},
    "destination": {"ip": "10.0.0.9", "port": 443, "bytes": 1000,
                    "packets": 6, "payload_bytes": 600,
                    "domain": "example.internal"},
    "process": {"pid": 4242, "name": "curl", "executable": "/usr/bin/curl",
                "args": ["curl", "-s", "https://example.internal/"],
                "created": "2026-11-27T03:46:06.900000Z",
                "entity_id": "3QvJ0rJ3kYw9b2xh"},
    "user": {"id": "1000", "name": "alice"},
    "group": {"id": "1000", "name": "alice"},
    "host": {"hostname": "vm", "name": "vm", "id": "0123456789abcdef"},
    "flow": {"final": True, "complete": True},
}
tmp = tempfile.mkdtemp(prefix="sockflow-bench-out.")
os.chown(tmp, u.pw_uid, u.pw_gid)
os.chmod(tmp, 0o755)
data = os.path.join(tmp, "docs.ndjson")
with open(data, "w") as f:
    for i in range(N):
        doc["process"]["pid"] = 1000 + i
        doc["source"]["port"] = 1024 + i % 60000
        f.write(json.dumps(doc, separators=(",", ":")) + "\n")
size = os.path.getsize(data)


def run(label, cmd):
    """CPU and wall time of one process reading the documents."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(data, "rb") as src:
        p = subprocess.Popen(["sh", "-c", "cat \"$0\" | exec \"$@\"", data] +
                             cmd, stdin=src, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        p.wait()
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime -
                                                before.ru_stime)
    return label, cpu, wall, p.returncode


base = [OUT, "-i", "-u", user, "-o", "sockflow.stats_interval=0s"]
fdir = os.path.join(tmp, "files")
os.mkdir(fdir)
os.chown(fdir, u.pw_uid, u.pw_gid)
rows = [
    run("cat > /dev/null (baseline)", ["cat"]),
    run("console to /dev/null", base),
    run("file, fsync rotate", base + [
        "-o", "output.console.enabled=false", "-o",
        "output.file.enabled=true", "-o", "output.file.path=" + fdir]),
    run("console + file", base + [
        "-o", "output.file.enabled=true", "-o", "output.file.path=" + fdir]),
]
print("command: top_builddir=%s python3 %s %d" % (B, " ".join(sys.argv[:1]),
                                                  N))
print("%d documents, %.1f MB (%d bytes each); the cat feeding each pipe "
      "is counted in every row" % (N, size / 1e6, size // N))
print("%-28s %10s %10s %12s %6s" % ("process", "cpu s", "wall s",
                                     "cpu us/doc", "exit"))
for label, cpu, wall, rc in rows:
    print("%-28s %10.2f %10.2f %12.2f %6d" % (label, cpu, wall,
                                              cpu * 1e6 / N, rc))
shutil.rmtree(tmp)

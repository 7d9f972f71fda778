"""The console and file outputs of sockflow-output.

file: rotation by size with the configured number of files, the
permissions, a partial last line cut at start, a full disk (no partial
line, bounded queue, drops counted, recovery when space returns), the
fsync policies (fdatasync calls counted with strace). console: a stdout
reader that stalls (bounded queue, drops counted, whole lines once it
reads again) without holding back the file output.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time

from outlib import (OUTPUT, Output, check, cleanup, done, flow_doc, last_stats,
                    need_root, read_lines, tmpdir, user, wait_for)

need_root()
u = user()


def file_opts(d, *more):
    return ["output.console.enabled=false", "output.file.enabled=true",
            "output.file.path=" + d] + list(more)


def whole_json(lines):
    """Every line but the empty tail parses; returns the documents."""
    docs = []
    for l in lines[:-1]:
        try:
            docs.append(json.loads(l))
        except ValueError:
            return None
    return docs if lines and lines[-1] == "" else None


def final_counts(log, name):
    """sent, dropped_full, dropped_failed from an output's last log line."""
    m = re.findall(name + r"[^\n]*: (\d+) sent, (\d+) dropped \(queue "
                   r"full\), (\d+) dropped \(failed\)", log)
    return tuple(int(x) for x in m[-1]) if m else None


# --- rotation, content, permissions
d = tmpdir()
o = Output(file_opts(d, "output.file.rotate_every_kb=2",
                     "output.file.number_of_files=3"))
o.send([flow_doc(i) for i in range(200)])
check(o.close() == 0, "file: exits 0 at the end of its input")
names = sorted(os.listdir(d))
check(names == ["sockflow.ndjson", "sockflow.ndjson.1", "sockflow.ndjson.2"],
      "file: the current file and two rotated ones, no more (%s)" % names)
seqs = []
for n in ["sockflow.ndjson.2", "sockflow.ndjson.1", "sockflow.ndjson"]:
    p = os.path.join(d, n)
    st = os.stat(p)
    check(st.st_size <= 2048, "file: %s within rotate_every_kb (%d bytes)"
          % (n, st.st_size))
    check(st.st_mode & 0o777 == 0o600, "file: %s has mode 0600 (%o)"
          % (n, st.st_mode & 0o777))
    check(st.st_uid == u.pw_uid, "file: %s belongs to the process's user" % n)
    docs = whole_json(read_lines(p))
    check(docs is not None, "file: %s holds whole JSON lines only" % n)
    seqs += [x["seq"] for x in docs or []]
check(len(seqs) > 3 and seqs == list(range(200 - len(seqs), 200)),
      "file: the kept files hold the newest documents in order, none "
      "missing between them (%d kept)" % len(seqs))
check(final_counts(o.log(), "file") == (200, 0, 0),
      "file: 200 sent, nothing dropped")
cleanup(d)

# --- permissions of an existing file; a partial last line cut at start
d = tmpdir()
p = os.path.join(d, "flows.json")
with open(p, "w") as f:
    f.write('{"a":1}\n{"b":')
os.chown(p, u.pw_uid, u.pw_gid)
os.chmod(p, 0o644)
o = Output(file_opts(d, "output.file.filename=flows.json",
                     "output.file.permissions=0640"))
o.send([flow_doc(0)])
o.close()
lines = read_lines(p)
check(lines[:1] == ['{"a":1}'] and len(lines) == 3 and
      json.loads(lines[1])["seq"] == 0 and lines[2] == "",
      "file: a partial last line left by a crash is cut, the whole ones kept")
check("removed a partial last line (5 bytes)" in o.log(),
      "file: the cut is logged with its size")
check(os.stat(p).st_mode & 0o777 == 0o640,
      "file: an existing file gets the configured permissions")
# An absurd value: a clear error, and the file is left alone.
before = open(p).read()
r = subprocess.run([OUTPUT, "-i", "-u", u.pw_name, "-o", "output.file.enabled=true",
                    "-o", "output.file.path=" + d,
                    "-o", "output.file.permissions=0999"],
                   stdin=subprocess.DEVNULL, capture_output=True, text=True)
check(r.returncode != 0 and "output.file.permissions" in r.stderr and
      "octal" in r.stderr, "file: a bad mode is refused, naming the key")
check(open(p).read() == before, "file: a refused configuration writes "
      "nothing")
cleanup(d)

# --- a full disk: a 32 KiB tmpfs
d = tmpdir()
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k,mode=0755,uid=%d"
                % u.pw_uid, "sockflow-test", d], check=True)
try:
    side = os.path.join(tmpdir(), "console.out")
    with open(side, "w") as so:
        os.chown(side, u.pw_uid, u.pw_gid)
        o = Output(["output.file.enabled=true", "output.file.path=" + d,
                    "output.file.queue_size=50"], stdout=so)
        o.send([flow_doc(i) for i in range(150)])
        check(wait_for(lambda: "trying again" in o.log(), 10),
              "full disk: the failed write is logged")
        lines = read_lines(os.path.join(d, "sockflow.ndjson"))
        check(whole_json(lines) is not None,
              "full disk: the file holds whole lines only (%d)" %
              (len(lines) - 1))
        o.stats()
        check(wait_for(lambda: last_stats(read_lines(side)) is not None, 10),
              "full disk: the stats document reaches the console")
        st = last_stats(read_lines(side)) or {}
        fs = st.get("file", {})
        check(fs.get("up") is False and fs.get("dropped_full", 0) > 0 and
              fs.get("queued") == 50 and fs.get("retries", 0) > 0,
              "full disk: file is down, its queue full at its cap, drops "
              "counted: %s" % fs)
        check(fs.get("accepted", 0) + fs.get("dropped_full", 0) == 150 and
              fs.get("sent", 0) + fs.get("queued", 0) ==
              fs.get("accepted", -1),
              "full disk: accepted + dropped = documents, sent + queued = "
              "accepted")
        check(st.get("console", {}).get("sent") == 150,
              "full disk: the console output is not held back")
        # Room again: the queue drains by itself.
        subprocess.run(["mount", "-o", "remount,size=4m", d], check=True)
        check(wait_for(lambda: "writing again" in o.log(), 10),
              "full disk: writing resumes by itself")
        o.close()
        sent, full, failed = final_counts(o.log(), "file") or (-1, -1, -1)
        docs = whole_json(read_lines(os.path.join(d, "sockflow.ndjson")))
        flows = [x for x in docs or [] if "seq" in x]
        check(docs is not None and len(docs) == sent,
              "full disk: after recovery every line is whole, and the "
              "count matches what it says it sent (%d)" % sent)
        # The one stats document asked for met a full queue too.
        check(len(flows) + full == 150 + 1 and len(flows) == len(docs),
              "full disk: flows written + dropped = documents given "
              "(%d + %d)" % (len(flows), full))
        seqs = [x["seq"] for x in flows]
        check(seqs == sorted(seqs), "full disk: written in order")
finally:
    subprocess.run(["umount", d])
cleanup(d, os.path.dirname(side))

# --- fsync policies, counted with strace
for policy in ("never", "rotate", "always"):
    d = tmpdir()
    trace = os.path.join(d, "trace")
    o = Output(file_opts(d, "output.file.fsync=" + policy,
                         "output.file.rotate_every_kb=4"),
               wrap=["strace", "-f", "-qq", "-e", "trace=fdatasync,fsync",
                     "-o", trace],
               # An ASan build's leak check cannot run under ptrace.
               env=dict(os.environ, ASAN_OPTIONS=os.environ.get(
                   "ASAN_OPTIONS", "") + ":detect_leaks=0"))
    for i in range(30):
        o.send([flow_doc(i)])
        time.sleep(0.02)
    o.close()
    calls = sum(1 for l in read_lines(trace) if "fdatasync(" in l)
    rotations = len([n for n in os.listdir(d) if n.startswith(
        "sockflow.ndjson.")])
    if policy == "never":
        check(calls == 0, "fsync never: no fdatasync (%d)" % calls)
    elif policy == "rotate":
        check(rotations >= 1 and 1 <= calls <= 7,
              "fsync rotate: one per rotation and one at the end (%d calls, "
              "%d rotated files)" % (calls, rotations))
    else:
        check(calls >= 15, "fsync always: after every write (%d for 30 "
              "documents sent one by one)" % calls)
    cleanup(d)

# --- a rotation that cannot rename: tried again, no spin, counted
d = tmpdir()
os.chown(d, 0, 0)
p = os.path.join(d, "sockflow.ndjson")
with open(p, "w") as f:
    f.write("")
os.chown(p, u.pw_uid, u.pw_gid)
o = Output(file_opts(d, "output.file.rotate_every_kb=1"))
o.send([flow_doc(i) for i in range(60)])
t0 = time.monotonic()
o.close(30)
took = time.monotonic() - t0
log = o.log()
sent, full, failed = final_counts(log, "file") or (-1, -1, -1)
check(took < 15 and log.count("rotate") <= 3 and failed > 0 and
      sent + failed == 60,
      "file: a directory it may not rename in: the failure logged once, "
      "tried again, not spun; the rest counted at stop (%d sent, %d "
      "failed, %.1f s)" % (sent, failed, took))
cleanup(d)

# --- a stop with lines still in the pipe (its writer still holds it)
d = tmpdir()
r, w = os.pipe()
o = Output(file_opts(d), pipe_fd=r)
os.close(r)
buf = "".join(flow_doc(i) + "\n" for i in range(250)).encode()
while buf:
    buf = buf[os.write(w, buf):]
o.p.send_signal(signal.SIGTERM)
o.p.wait(20)
docs = whole_json(read_lines(os.path.join(d, "sockflow.ndjson")))
check(docs is not None and len(docs) == 250,
      "stop: the lines still in the pipe are read and written first "
      "(%d of 250)" % len(docs or []))
os.close(w)
cleanup(d)

# --- console: a reader that stalls
d = tmpdir()
r, w = os.pipe()
o = Output(["output.console.queue_size=100", "output.file.enabled=true",
            "output.file.path=" + d], stdout=w)
os.close(w)
N = 3000
o.send([flow_doc(i) for i in range(N)])
path = os.path.join(d, "sockflow.ndjson")
check(wait_for(lambda: len(read_lines(path)) >= N + 1, 20),
      "console stalled: the file output still gets every document")
o.stats()
check(wait_for(lambda: last_stats(read_lines(path)) is not None, 10),
      "console stalled: the stats document reaches the file")
cs = (last_stats(read_lines(path)) or {}).get("console", {})
check(cs.get("dropped_full", 0) > 0 and cs.get("queued", 0) <= 100 and
      cs.get("queue_cap") == 100,
      "console stalled: its queue stays at its cap, drops counted: %s" % cs)
got = []


def reader():
    with os.fdopen(r, "rb") as f:
        got.append(f.read())


t = threading.Thread(target=reader)
t.start()
o.close()
t.join(20)
out = (got[0] if got else b"").decode()
docs = whole_json(out.split("\n"))
sent, full, failed = final_counts(o.log(), "console") or (-1, -1, -1)
check(docs is not None and len(docs) == sent,
      "console: once read again, whole lines, as many as it says it sent "
      "(%d)" % sent)
flows = [x["seq"] for x in docs or [] if "seq" in x]
check(flows == sorted(flows) and len(flows) + full >= N and full > 0,
      "console: in order, and written + dropped covers every document "
      "(%d + %d)" % (len(flows), full))
cleanup(d)
done()

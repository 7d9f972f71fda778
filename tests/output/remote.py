"""The kafka and elasticsearch outputs through sockflow-output itself.

The modules have their own tests (test_kafka, test_es); this one runs them
in the real process, as its unprivileged user, under its seccomp filter
(kill on any call it does not allow), together with a file output, and
against the same stand-ins: librdkafka's mock brokers (kafka_mock) and the
bulk endpoint checker (es_server.py). Each document must come back
byte-identical; an outage must put the output down, keep its queue to its
cap, count the rest, and recover by itself.
"""
import json
import os
import signal
import subprocess
import time

from outlib import (TOP_BUILDDIR, Output, check, cleanup, done, flow_doc,
                    last_stats, need_root, read_lines, tmpdir, wait_for)

need_root()
TOP_SRCDIR = os.environ.get("top_srcdir", ".")
d = tmpdir()


def stats_until(o, side, pred, timeout=15):
    """Ask for stats until the newest satisfies pred; returns it."""
    got = [None]

    def ok():
        o.stats()
        time.sleep(0.2)
        got[0] = last_stats(read_lines(side))
        return got[0] is not None and pred(got[0])
    wait_for(ok, timeout)
    return got[0] or {}


def killed_by_filter(o):
    return o.p.returncode == -signal.SIGSYS


# --- kafka
mock = subprocess.Popen([os.path.join(TOP_BUILDDIR, "tests/output/kafka_mock"),
                         "-b", "3", "-p", "4"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=open(os.path.join(d, "mock.log"), "w"),
                        text=True, bufsize=1)
hosts = mock.stdout.readline().strip()
check(hosts.count(":") == 3, "kafka: mock cluster of 3 brokers at %s" % hosts)


def mock_cmd(line):
    mock.stdin.write(line + "\n")
    mock.stdin.flush()


def consume(n, ms):
    mock_cmd("consume %d %d" % (n, ms))
    out = []
    for l in mock.stdout:
        if l.startswith("end\t"):
            break
        part, key, value = l.rstrip("\n").split("\t", 2)
        out.append((int(part), key, value))
    return out


try:
    side = os.path.join(d, "kafka-stats")
    opts = ["output.console.enabled=false", "output.kafka.enabled=true",
            "output.kafka.hosts=" + hosts, "output.kafka.compression=lz4",
            "output.kafka.required_acks=-1", "output.kafka.queue_size=100",
            "output.file.enabled=true", "output.file.path=" + d,
            "output.file.filename=kafka-stats"]
    o = Output(opts)
    docs = [flow_doc(i) for i in range(200)]
    # In steps within the queue's cap, each acknowledged before the next.
    for i in range(0, 200, 50):
        o.send(docs[i:i + 50])
        stats_until(o, side, lambda s: s["kafka"]["sent"] >= i + 50)
    st = stats_until(o, side, lambda s: s["kafka"]["sent"] >= 200)
    # The stats documents asked for go to kafka too.
    ks = st.get("kafka", {})
    check(ks.get("sent", 0) >= 200 and ks.get("sent") == ks.get("accepted")
          and ks.get("dropped_full") == 0,
          "kafka: the 200 documents (and the stats) acknowledged with acks "
          "all, none dropped: %s" % ks)
    got = consume(0, 10000)
    values = sorted(v for _, _, v in got if '"seq"' in v)
    check(values == sorted(docs),
          "kafka: every document consumed back once, byte-identical "
          "(%d of %d)" % (len(values), len(docs)))
    keys = {json.loads(v)["network"]["community_id"]: set()
            for _, _, v in got if '"seq"' in v}
    for p, k, v in got:
        if '"seq"' in v:
            keys[json.loads(v)["network"]["community_id"]].add((p, k))
    check(all(len(s) == 1 and next(iter(s))[1] == cid
              for cid, s in keys.items()),
          "kafka: keyed by community_id, one partition per key")

    # All brokers down: bounded, counted; back up: delivered.
    mock_cmd("down")
    mock.stdout.readline()
    o.send([flow_doc(1000 + i) for i in range(150)])
    # 150 more than a queue of 100 can hold: at least 50 must be dropped
    # (more if stats documents took room); never if the cap did not hold.
    st = stats_until(o, side, lambda s: s["kafka"]["dropped_full"] >= 50 and
                     not s["kafka"]["up"])
    ks = st.get("kafka", {})
    check(ks.get("up") is False and ks.get("dropped_full", 0) >= 50 and
          ks.get("queued", 0) <= 100,
          "kafka down: queue at most its cap, the rest dropped and counted: "
          "%s" % ks)
    mock_cmd("up")
    mock.stdout.readline()
    st = stats_until(o, side, lambda s: s["kafka"]["queued"] == 0 and
                     s["kafka"]["up"], 30)
    ks = st.get("kafka", {})
    check(ks.get("up") is True and ks.get("queued") == 0 and
          ks.get("sent") == ks.get("accepted"),
          "kafka back: every queued document delivered: %s" % ks)
    rc = o.close()
    check(rc == 0 and not killed_by_filter(o),
          "kafka: the process ran under its filter and exited 0 (%d)" % rc)
    after = [v for _, _, v in consume(0, 5000)]
    seqs = sorted(json.loads(v)["seq"] for v in after if '"seq"' in v)
    later = [s for s in seqs if s >= 1000]
    check(len(later) == len(set(later)) and len(later) >= 1 and
          len(seqs) - len(later) == 200,
          "kafka: the documents of the outage arrived once each (%d), "
          "the earlier ones were not sent again" % len(later))
finally:
    mock_cmd("quit")
    mock.wait(10)

# --- elasticsearch
docs_file = os.path.join(d, "es-docs")
viol = os.path.join(d, "es-violations")
dead = os.path.join(d, "dead-letter")
server_cmd = ["python3", os.path.join(TOP_SRCDIR, "tests/output/es_server.py"),
              "--docs", docs_file, "--violations", viol,
              "--reject-marker", "REJECT-ME", "--user", "sf",
              "--password", "s3cret"]


def start_server(port=0):
    p = subprocess.Popen(server_cmd + ["--port", str(port)],
                         stdout=subprocess.PIPE, text=True,
                         stderr=open(os.path.join(d, "es.log"), "a"))
    return p, int(p.stdout.readline())


server, port = start_server()
try:
    side = os.path.join(d, "es-stats")
    o = Output(["output.console.enabled=false",
                "output.elasticsearch.enabled=true",
                "output.elasticsearch.hosts=http://127.0.0.1:%d" % port,
                "output.elasticsearch.username=sf",
                "output.elasticsearch.password=s3cret",
                "output.elasticsearch.dead_letter_path=" + dead,
                "output.elasticsearch.backoff.init=50ms",
                "output.elasticsearch.backoff.max=500ms",
                "output.elasticsearch.queue_size=100",
                "output.file.enabled=true", "output.file.path=" + d,
                "output.file.filename=es-stats"])
    docs = [flow_doc(i) for i in range(200)]
    bad = json.dumps({"seq": -1, "note": "REJECT-ME"})
    batch = docs[:100] + [bad] + docs[100:]
    for i in range(0, len(batch), 50):
        o.send(batch[i:i + 50])
        stats_until(o, side, lambda s: s["elasticsearch"]["queued"] == 0)
    st = stats_until(o, side, lambda s: s["elasticsearch"]["sent"] >= 200)
    es = st.get("elasticsearch", {})
    check(es.get("sent", 0) >= 200 and es.get("rejected") == 1 and
          es.get("dead_lettered") == 1 and
          es.get("sent") + 1 == es.get("accepted"),
          "elasticsearch: the 200 (and the stats) indexed, the bad one "
          "rejected and kept: %s" % es)
    got = [l for l in read_lines(docs_file) if '"seq"' in l]
    check(sorted(got) == sorted(docs),
          "elasticsearch: every document received once, byte-identical")
    dl = [json.loads(l) for l in read_lines(dead) if l]
    check(len(dl) == 1 and dl[0]["document"] == bad and
          dl[0]["status"] == 400,
          "elasticsearch: the dead-letter file holds the rejected document "
          "with its status")
    check(os.stat(dead).st_mode & 0o777 == 0o600,
          "elasticsearch: the dead-letter file is 0600")

    # The server away: down, bounded, counted; back: recovered.
    server.terminate()
    server.wait(10)
    o.send([flow_doc(1000 + i) for i in range(150)])
    st = stats_until(o, side, lambda s: not s["elasticsearch"]["up"] and
                     s["elasticsearch"]["dropped_full"] > 0)
    es = st.get("elasticsearch", {})
    check(es.get("up") is False and es.get("dropped_full", 0) >= 50 and
          es.get("queued", 0) <= 100,
          "elasticsearch down: queue at its cap, drops counted: %s" % es)
    server, port = start_server(port)
    st = stats_until(o, side, lambda s: s["elasticsearch"]["up"] and
                     s["elasticsearch"]["queued"] == 0, 30)
    es = st.get("elasticsearch", {})
    check(es.get("up") is True and es.get("queued") == 0 and
          es.get("reconnects", 0) + es.get("retries", 0) > 0,
          "elasticsearch back: the queue drained by itself: %s" % es)
    rc = o.close()
    check(rc == 0 and not killed_by_filter(o),
          "elasticsearch: the process ran under its filter and exited 0 "
          "(%d)" % rc)
    seqs = [json.loads(l)["seq"] for l in read_lines(docs_file)
            if '"seq"' in l]
    later = [s for s in seqs if s >= 1000]
    check(len(later) == len(set(later)) and len(later) >= 1,
          "elasticsearch: the outage's queued documents arrived once each "
          "(%d)" % len(later))
    check(not [l for l in read_lines(viol) if l],
          "elasticsearch: no wire-format violation")
finally:
    server.terminate()
    server.wait(10)
cleanup(d)
done()

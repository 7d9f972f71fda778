#!/usr/bin/env python3
"""A stand-in for an Elasticsearch _bulk endpoint, for the tests of the
elasticsearch output (python3 standard library only).

It listens on 127.0.0.1 (port 0 by default: the kernel picks one) and
prints the port alone on its first line of stdout, then serves until it is
killed. Every request is checked against the bulk wire format, line by
line: method POST, path /_bulk, Content-Type application/x-ndjson, a body
that ends with a newline, lines alternating action and document, each
action exactly {"<op>":{"_index":"<index>"}}, each document valid JSON.
A request that breaks any of these is answered 400 and the violation is
appended to the --violations file (and printed on stderr); a test fails
when that file is not empty.

Each document it accepts (per-item status 201) is appended, as received,
to the --docs file, one a line, and flushed at once: the file outlives a
restart, so a test may kill the server and start it again on the same
port (--port) and still read every document it got.

Options:
  --port N             port to listen on (0: any; print it)
  --docs FILE          documents accepted, one a line (appended)
  --violations FILE    wire-format violations, one a line (appended)
  --index NAME         the expected _index (default: sockflow)
  --op create|index    the expected action (default: create)
  --request-faults L   statuses for the whole request, for the first
                       requests in order, e.g. "429,503,503"
  --retry-marker S     a document that holds S gets a per-item 429 ...
  --retry-times N      ... the first N times it is seen (default 1)
  --reject-marker S    a document that holds S gets a per-item 400
                       (mapper_parsing_exception), every time
  --hang S             the first request gets no answer: its connection is
                       closed after S seconds, nothing of it kept
  --max-docs N         answer 413 to a request of more than N documents
  --user U --password P  require HTTP basic auth (401 otherwise)
  --log FILE           one line a request: its status and document count

Exit status: 0 when stopped by SIGTERM or SIGINT; the test kills it.
"""

import argparse
import base64
import http.server
import json
import signal
import sys
import threading
import time


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.faults = [int(s) for s in args.request_faults.split(",") if s]
        self.hang = args.hang
        self.seen = {}          # retry-marked document -> times seen
        self.docs = open(args.docs, "ab") if args.docs else None
        self.violations = (open(args.violations, "a")
                           if args.violations else None)
        self.log = open(args.log, "a") if args.log else None
        want = {args.op: {"_index": args.index}}
        self.action = json.dumps(want, separators=(",", ":")).encode()

    def violation(self, what):
        sys.stderr.write("es_server: violation: %s\n" % what)
        if self.violations:
            self.violations.write(what + "\n")
            self.violations.flush()

    def logline(self, status, ndocs):
        if self.log:
            self.log.write("%d %d\n" % (status, ndocs))
            self.log.flush()


def check_body(state, body):
    """The documents of a bulk body, or a string saying what is wrong."""
    if not body.endswith(b"\n"):
        return "body does not end with a newline"
    lines = body[:-1].split(b"\n")
    if len(lines) % 2 != 0:
        return "odd number of lines (%d)" % len(lines)
    docs = []
    for i in range(0, len(lines), 2):
        if lines[i] != state.action:
            return "line %d: action %r, expected %r" % (
                i + 1, lines[i][:200], state.action)
        try:
            json.loads(lines[i + 1])
        except ValueError as e:
            return "line %d: document is not JSON: %s" % (i + 2, e)
        docs.append(lines[i + 1])
    if not docs:
        return "no documents"
    return docs


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, obj, ndocs=0):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.server.state.logline(status, ndocs)

    def error(self, status, etype, reason):
        self.answer(status, {"error": {"type": etype, "reason": reason},
                             "status": status})

    def do_GET(self):
        self.server.state.violation("method GET %s" % self.path)
        self.error(405, "method_not_allowed", "GET")

    def do_PUT(self):
        self.server.state.violation("method PUT %s" % self.path)
        self.error(405, "method_not_allowed", "PUT")

    def do_POST(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if st.args.user is not None:
            token = base64.b64encode(("%s:%s" % (
                st.args.user, st.args.password)).encode()).decode()
            if self.headers.get("Authorization") != "Basic " + token:
                self.error(401, "security_exception",
                           "missing authentication credentials")
                return
        with st.lock:
            hang, st.hang = st.hang, 0
        if hang:
            time.sleep(hang)
            self.close_connection = True
            st.logline(0, 0)
            return
        with st.lock:
            fault = st.faults.pop(0) if st.faults else None
        if fault is not None:
            self.error(fault, "fault", "scripted fault %d" % fault)
            return
        if self.path != "/_bulk":
            st.violation("path %s" % self.path)
            self.error(404, "not_found", self.path)
            return
        ctype = self.headers.get("Content-Type", "")
        if ctype != "application/x-ndjson":
            st.violation("content type %r" % ctype)
            self.error(400, "bad_content_type", ctype)
            return
        docs = check_body(st, body)
        if isinstance(docs, str):
            st.violation(docs)
            self.error(400, "parse_exception", docs)
            return
        if st.args.max_docs and len(docs) > st.args.max_docs:
            self.error(413, "request_entity_too_large",
                       "%d documents" % len(docs))
            return
        items = []
        with st.lock:
            for d in docs:
                items.append({st.args.op: self.item(st, d)})
            st.docs and st.docs.flush()
        errors = any(it[st.args.op]["status"] >= 300 for it in items)
        self.answer(200, {"took": 1, "errors": errors, "items": items},
                    len(docs))

    def item(self, st, doc):
        a = st.args
        if a.reject_marker and a.reject_marker.encode() in doc:
            return {"_index": a.index, "status": 400,
                    "error": {"type": "mapper_parsing_exception",
                              "reason": "failed to parse field [marker]"}}
        if a.retry_marker and a.retry_marker.encode() in doc:
            n = st.seen.get(doc, 0)
            st.seen[doc] = n + 1
            if n < a.retry_times:
                return {"_index": a.index, "status": 429,
                        "error": {"type": "es_rejected_execution_exception",
                                  "reason": "rejected execution"}}
        if st.docs:
            st.docs.write(doc + b"\n")
        return {"_index": a.index, "_id": "x", "status": 201,
                "result": "created"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--docs")
    p.add_argument("--violations")
    p.add_argument("--log")
    p.add_argument("--index", default="sockflow")
    p.add_argument("--op", choices=("create", "index"), default="create")
    p.add_argument("--request-faults", default="")
    p.add_argument("--retry-marker")
    p.add_argument("--retry-times", type=int, default=1)
    p.add_argument("--reject-marker")
    p.add_argument("--hang", type=float, default=0)
    p.add_argument("--max-docs", type=int, default=0)
    p.add_argument("--user")
    p.add_argument("--password", default="")
    args = p.parse_args()

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    http.server.ThreadingHTTPServer.daemon_threads = True
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.state = State(args)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()

"""Shared helpers of the sockflow-output tests.

Each test runs sockflow-output with -i, feeds it JSON lines through a pipe,
asks for its stats document with SIGUSR1 and reads it back from an output
that works. Every wait is bounded; a failure is recorded, and the test ends
with done(), which exits 1 if anything failed.
"""
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP_BUILDDIR = os.environ.get("top_builddir", ".")
OUTPUT = os.path.join(TOP_BUILDDIR, "sockflow-output")
failures = []


def check(cond, what):
    if cond:
        print("ok:", what)
    else:
        print("FAIL:", what)
        failures.append(what)
    return cond


def done():
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def need_root():
    if os.geteuid() != 0:
        print("FAIL: this test needs root (it drops to an unprivileged "
              "user like the real process)")
        sys.exit(1)


def user():
    """The unprivileged user sockflow-output drops to."""
    for name in ("sockflow", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    raise SystemExit("no sockflow or nobody user")


def tmpdir():
    """A directory the unprivileged user can write."""
    d = tempfile.mkdtemp(prefix="sockflow-out.")
    u = user()
    os.chown(d, u.pw_uid, u.pw_gid)
    os.chmod(d, 0o755)
    return d


def flow_doc(i, pad=0):
    """A flow document shaped like the enricher's, numbered i."""
    doc = {
        "@timestamp": "2026-11-27T03:46:08.%06dZ" % (i % 1000000),
        "event": {"kind": "event", "category": ["network"],
                  "action": "network_flow", "dataset": "socket"},
        "network": {"transport": "tcp", "type": "ipv4",
                    "community_id": "1:%027d=" % (i % 7)},
        "source": {"ip": "127.0.0.1", "port": 40000 + i % 20000},
        "destination": {"ip": "127.0.0.1", "port": 443},
        "process": {"pid": 1000 + i, "name": "curl",
                    "args": ["curl", "-s", "h\u00e9llo \"quoted\""]},
        "seq": i,
    }
    if pad:
        doc["pad"] = "x" * pad
    return json.dumps(doc, separators=(",", ":"))


class Output:
    """sockflow-output -i with the given options, fed through a pipe."""

    def __init__(self, opts, stdout=None, stats="0s", env=None, wrap=None,
                 pipe_fd=None):
        """pipe_fd: the input is that pipe on fd 3 (LISTEN_FDS), as the
        launcher gives it, instead of stdin (-i)."""
        u = user()
        cmd = [OUTPUT, "-i", "-u", u.pw_name,
               "-o", "sockflow.stats_interval=" + stats]
        preexec = None
        if pipe_fd is not None:
            cmd = ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh",
                   OUTPUT, "-u", u.pw_name,
                   "-o", "sockflow.stats_interval=" + stats]

            def preexec():
                os.dup2(pipe_fd, 3)
        for o in opts:
            cmd += ["-o", o]
        if wrap:
            cmd = wrap + cmd
        self.err_path = tempfile.mktemp(prefix="sockflow-out-err.")
        self.err = open(self.err_path, "w")
        self.p = subprocess.Popen(
            cmd, stdin=subprocess.PIPE,
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=self.err, env=env, preexec_fn=preexec,
            pass_fds=(3,) if pipe_fd is not None else ())
        # Started: it logs "shipping" once its outputs are open.
        wait_for(lambda: "shipping to" in self.log() or
                 self.p.poll() is not None, 10)

    def log(self):
        with open(self.err_path) as f:
            return f.read()

    def send(self, lines):
        data = "".join(l + "\n" for l in lines).encode()
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def send_raw(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def stats(self):
        self.p.send_signal(signal.SIGUSR1)

    def close(self, timeout=20):
        """End the input; the process ships what it holds and exits."""
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
            check(False, "sockflow-output ended within %d s" % timeout)
        self.err.close()
        return rc

    def kill(self):
        self.p.kill()
        self.p.wait()
        self.err.close()


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode().split("\n")
    except FileNotFoundError:
        return []


def last_stats(lines):
    """The newest output stats document among JSON lines, or None."""
    found = None
    for l in lines:
        if '"sockflow.stats"' in l and '"output"' in l:
            found = json.loads(l)["sockflow"]["stats"]["output"]
    return found


def cleanup(*dirs):
    if failures:
        print("test files kept in", *dirs)
        return
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)

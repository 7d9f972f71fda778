/*
 * Tests of the elasticsearch output against tests/output/es_server.py,
 * which this program starts and stops itself (on 127.0.0.1, port 0):
 * every document arrives once and byte for byte in valid bulk requests;
 * whole-request 429/503 are retried; per-item 429 are retried and per-item
 * 400 rejected into the dead-letter file; a dead server fills the queue
 * (the excess dropped and counted) and its return drains it; a dead first
 * host gives way to the next; basic auth is sent; and every count
 * reconciles. Usage: test_es es_server.py tmpdir
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "check.h"
#include "log.h"
#include "out.h"
#include "readfile.h"
#include "sfconfig.h"

#define MS		1000000LL
#define SEC		(1000 * MS)
#define WAIT_MAX	(20 * SEC)	/* for anything to happen */
#define MAXDOCS		1024

static const char *server_script;
static const char *tmpdir;
static struct event_base *base;

struct server {
	pid_t	pid;
	int	port;
};

/* Start the server with its files named after tag; port 0: any. */
static int
server_start(struct server *s, const char *tag, int port,
    const char *const *extra)
{
	char docs[512], viol[512], log[512], portarg[16], line[32];
	const char *argv[32];
	struct pollfd pfd;
	size_t n = 0, len = 0;
	int fds[2];
	ssize_t r;

	snprintf(docs, sizeof(docs), "%s/%s.docs", tmpdir, tag);
	snprintf(viol, sizeof(viol), "%s/%s.violations", tmpdir, tag);
	snprintf(log, sizeof(log), "%s/%s.requests", tmpdir, tag);
	snprintf(portarg, sizeof(portarg), "%d", port);
	argv[n++] = "python3";
	argv[n++] = server_script;
	argv[n++] = "--port";
	argv[n++] = portarg;
	argv[n++] = "--docs";
	argv[n++] = docs;
	argv[n++] = "--violations";
	argv[n++] = viol;
	argv[n++] = "--log";
	argv[n++] = log;
	while (extra != NULL && *extra != NULL && n < 31)
		argv[n++] = *extra++;
	argv[n] = NULL;
	if (pipe(fds) == -1)
		fatal("pipe");
	if ((s->pid = fork()) == -1)
		fatal("fork");
	if (s->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	/* The first line is the port. */
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (len < sizeof(line) - 1 && memchr(line, '\n', len) == NULL) {
		if (poll(&pfd, 1, 10000) != 1 ||
		    (r = read(fds[0], line + len, sizeof(line) - 1 - len)) <= 0)
			break;
		len += r;
	}
	close(fds[0]);
	line[len] = '\0';
	s->port = atoi(line);
	if (s->port <= 0) {
		CHECK_MSG(0, "es_server.py did not start (%s)", tag);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = -1;
		return -1;
	}
	return 0;
}

static void
server_stop(struct server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	s->pid = -1;
}

/* Configure and open an output; the settings are key=value strings. */
static void *
es_start(const char *hosts, const char *const *settings)
{
	const char *const common[] = {
		"output.elasticsearch.enabled=true",
		"output.elasticsearch.backoff.init=10ms",
		"output.elasticsearch.backoff.max=200ms",
		"output.elasticsearch.timeout=5s",
		NULL
	};
	struct sf_config c;
	char arg[700], err[256];
	const char *const *p;
	void *o;

	config_defaults(&c);
	for (p = common; *p != NULL; p++)
		CHECK(config_set_arg(&c, *p, err, sizeof(err)) == 0);
	snprintf(arg, sizeof(arg), "output.elasticsearch.hosts=%s", hosts);
	CHECK_MSG(config_set_arg(&c, arg, err, sizeof(err)) == 0, "%s", err);
	for (p = settings; p != NULL && *p != NULL; p++)
		CHECK_MSG(config_set_arg(&c, *p, err, sizeof(err)) == 0,
		    "%s", err);
	CHECK(out_es_ops.enabled(&c));
	o = out_es_ops.open(base, &c, err, sizeof(err));
	CHECK_MSG(o != NULL, "open: %s", err);
	if (o == NULL)
		exit(check_done("test_es"));
	return o;
}

static void
counters(void *o, struct out_counters *oc)
{
	out_es_ops.counters(o, oc);
	CHECK_MSG(oc->accepted == oc->sent + oc->rejected +
	    oc->dropped_failed + oc->queued, "accepted %llu sent %llu "
	    "rejected %llu dropped_failed %llu queued %llu",
	    (unsigned long long)oc->accepted, (unsigned long long)oc->sent,
	    (unsigned long long)oc->rejected,
	    (unsigned long long)oc->dropped_failed,
	    (unsigned long long)oc->queued);
}

enum until { DRAINED, DOWN };

/* Poll the counters until the condition holds, bounded. */
static int
wait_for(void *o, enum until what, struct out_counters *oc)
{
	int64_t end = out_now() + WAIT_MAX;
	struct timespec ts = { 0, 10 * MS };

	for (;;) {
		out_es_ops.counters(o, oc);
		if (what == DRAINED && oc->queued == 0)
			break;
		if (what == DOWN && !oc->up && oc->retries > 0)
			break;
		if (out_now() > end) {
			CHECK_MSG(0, "timed out waiting (%s)",
			    what == DRAINED ? "drained" : "down");
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	counters(o, oc);
	return 0;
}

/* A flow document as the enricher writes them, unique by tag and i. */
static struct out_doc *
flow_doc(const char *tag, int i, const char *marker)
{
	char buf[1024];
	struct out_doc *d;
	int n;

	n = snprintf(buf, sizeof(buf),
	    "{\"@timestamp\":\"2026-11-27T03:%02d:%02d.%03dZ\","
	    "\"event\":{\"kind\":\"event\",\"category\":[\"network\"],"
	    "\"type\":[\"connection\",\"end\"],\"action\":\"network_flow\"},"
	    "\"source\":{\"ip\":\"10.1.%d.%d\",\"port\":%d,\"bytes\":%d,"
	    "\"packets\":%d},\"destination\":{\"ip\":\"2001:db8::%x\","
	    "\"port\":443,\"domain\":\"api.example.org\"},"
	    "\"network\":{\"transport\":\"tcp\",\"type\":\"ipv6\","
	    "\"direction\":\"egress\"},\"process\":{\"pid\":%d,"
	    "\"name\":\"curl\",\"executable\":\"/usr/bin/curl\","
	    "\"args\":[\"curl\",\"-H\",\"X: \\\"q\\\" \\\\ caf\xc3\xa9\"]},"
	    "\"flow\":{\"id\":\"%s-%d\"}%s%s%s}",
	    i / 60 % 60, i % 60, i % 1000, i / 256 % 256, i % 256,
	    32768 + i, 1000 + 37 * i, 3 + i % 11, i, 4000 + i, tag, i,
	    marker != NULL ? ",\"labels\":{\"test\":\"" : "",
	    marker != NULL ? marker : "", marker != NULL ? "\"}" : "");
	if ((d = out_doc_new(buf, n)) == NULL)
		fatal("out_doc_new");
	return d;
}

static void
push(void *o, struct out_doc *d)
{
	out_es_ops.push(o, d);
	out_doc_unref(d);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
slurp(const char *tag, const char *what, size_t *lenp)
{
	char path[512];
	char *s;

	snprintf(path, sizeof(path), "%s/%s.%s", tmpdir, tag, what);
	if ((s = read_file_all(path, 64 << 20, lenp, NULL)) == NULL) {
		if (errno != ENOENT)
			fatal("%s", path);
		*lenp = 0;
		if ((s = strdup("")) == NULL)
			fatal("strdup");
	}
	return s;
}

/* Split text into its lines, in place; the count. */
static size_t
lines(char *text, char **v, size_t max)
{
	size_t n = 0;
	char *p, *nl;

	for (p = text; *p != '\0' && n < max; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		v[n++] = p;
	}
	return n;
}

/*
 * The server got exactly the expected documents, once each and byte for
 * byte, and saw no wire-format violation.
 */
static void
check_arrived(const char *tag, char **want, size_t nwant)
{
	char *got[MAXDOCS + 1], *text, *viol;
	size_t ngot, i, len;

	viol = slurp(tag, "violations", &len);
	CHECK_MSG(len == 0, "%s: wire-format violations: %s", tag, viol);
	free(viol);
	text = slurp(tag, "docs", &len);
	ngot = lines(text, got, MAXDOCS + 1);
	CHECK_MSG(ngot == nwant, "%s: %zu documents arrived, %zu expected",
	    tag, ngot, nwant);
	qsort(got, ngot, sizeof(*got), cmp_str);
	qsort(want, nwant, sizeof(*want), cmp_str);
	for (i = 0; i < ngot && i < nwant; i++)
		CHECK_MSG(strcmp(got[i], want[i]) == 0, "%s: got %s, "
		    "expected %s", tag, got[i], want[i]);
	free(text);
}

/* Push n documents and keep their text in want; a marker every so often. */
static void
push_flows(void *o, const char *tag, int from, int n, char **want,
    size_t *nwant, int every, const char *marker)
{
	struct out_doc *d;
	int i;

	for (i = from; i < from + n; i++) {
		d = flow_doc(tag, i, every > 0 && i % every == 0 ? marker :
		    NULL);
		if (want != NULL && *nwant < MAXDOCS &&
		    (want[(*nwant)++] = strdup(d->data)) == NULL)
			fatal("strdup");
		push(o, d);
	}
}

/* Push n plain documents and wait until they are out of the queue. */
static void
deliver(void *o, const char *tag, int n, char **want, size_t *nwant,
    struct out_counters *oc)
{
	push_flows(o, tag, 0, n, want, nwant, 0, NULL);
	wait_for(o, DRAINED, oc);
}

static void
free_all(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
}

static void
stop(void *o)
{
	out_es_ops.close(o, out_now() + 5 * SEC);
}

static char *
url(const struct server *s)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d", s->port);
	return buf;
}

/* The most documents in a request the server took; how many it took. */
static int
largest_request(const char *tag, size_t *ntaken)
{
	char *text, *l[MAXDOCS];
	size_t len, n, i;
	int status, docs, most = 0;

	text = slurp(tag, "requests", &len);
	n = lines(text, l, MAXDOCS);
	*ntaken = 0;
	for (i = 0; i < n; i++) {
		if (sscanf(l[i], "%d %d", &status, &docs) != 2 ||
		    status != 200)
			continue;
		(*ntaken)++;
		if (docs > most)
			most = docs;
	}
	free(text);
	return most;
}

/* A server and an output sending to it; NULL when the server fails. */
static void *
start_pair(struct server *s, const char *tag, const char *const *extra,
    const char *const *settings)
{
	if (server_start(s, tag, 0, extra) == -1)
		return NULL;
	return es_start(url(s), settings);
}

/* (a) A few hundred documents, several requests of at most 50. */
static void
test_plain(void)
{
	const char *const set[] = { "output.elasticsearch.bulk_max_size=50",
	    NULL };
	struct out_counters oc;
	struct server s;
	char *want[MAXDOCS];
	size_t nwant = 0, nreq;
	int maxn;
	void *o;

	if ((o = start_pair(&s, "plain", NULL, set)) == NULL)
		return;
	deliver(o, "plain", 400, want, &nwant, &oc);
	CHECK(oc.accepted == 400 && oc.sent == 400);
	CHECK(oc.dropped_full == 0 && oc.rejected == 0 && oc.up == 1);
	stop(o);
	server_stop(&s);
	check_arrived("plain", want, nwant);
	maxn = largest_request("plain", &nreq);
	CHECK_MSG(nreq >= 8 && maxn == 50, "%zu requests, the largest of %d "
	    "documents", nreq, maxn);
	free_all(want, nwant);
}

/* (b) A timeout, 429 and 503 for whole requests, then success. */
static void
test_request_faults(void)
{
	const char *const extra[] = { "--hang", "2", "--request-faults",
	    "429,503,503", NULL };
	const char *const set[] = { "output.elasticsearch.timeout=1s", NULL };
	struct out_counters oc;
	struct server s;
	char *want[MAXDOCS];
	size_t nwant = 0;
	void *o;

	if ((o = start_pair(&s, "faults", extra, set)) == NULL)
		return;
	deliver(o, "faults", 100, want, &nwant, &oc);
	CHECK(oc.sent == 100 && oc.retries >= 4 && oc.up == 1);
	CHECK(oc.rejected == 0 && oc.dropped_failed == 0);
	stop(o);
	server_stop(&s);
	check_arrived("faults", want, nwant);
	free_all(want, nwant);
}

/*
 * The dead-letter file holds expect lines, each one of the n candidate
 * documents (byte for byte) with the status and the peer's error.
 */
static void
check_dead_letters(const char *path, char **cand, size_t ncand,
    size_t expect, int status, const char *type, const char *reason)
{
	struct json_object *o, *v, *err;
	char *text, *l[MAXDOCS];
	size_t len, n, i, j, found = 0;

	if ((text = read_file_all(path, 64 << 20, &len, NULL)) == NULL) {
		CHECK_MSG(0, "%s: %s", path, strerror(errno));
		return;
	}
	n = lines(text, l, MAXDOCS);
	CHECK_MSG(n == expect, "%zu dead letters, %zu expected", n, expect);
	for (i = 0; i < n; i++) {
		if ((o = json_tokener_parse(l[i])) == NULL) {
			CHECK_MSG(0, "dead letter not JSON: %s", l[i]);
			continue;
		}
		CHECK(json_object_object_get_ex(o, "status", &v) &&
		    json_object_get_int(v) == status);
		CHECK_MSG(json_object_object_get_ex(o, "error", &err) &&
		    json_object_object_get_ex(err, "type", &v) &&
		    strcmp(json_object_get_string(v), type) == 0 &&
		    json_object_object_get_ex(err, "reason", &v) &&
		    strstr(json_object_get_string(v), reason) != NULL,
		    "%s", l[i]);
		if (json_object_object_get_ex(o, "document", &v)) {
			for (j = 0; j < ncand; j++)
				if (strcmp(json_object_get_string(v),
				    cand[j]) == 0)
					found++;
		}
		json_object_put(o);
	}
	CHECK_MSG(found == n, "%zu of %zu dead letters hold a sent document",
	    found, n);
	free(text);
}

/*
 * (c) Per-item 429 for some documents (retried, they arrive), per-item
 * 400 for others (rejected, dead-lettered); and with fewer retries than
 * the server's 429s, the retried ones are given up.
 */
static void
test_items(void)
{
	const char *const extra[] = { "--retry-marker", "RETRYME",
	    "--retry-times", "2", "--reject-marker", "BADDOC", NULL };
	char dl[512], dlset[600];
	const char *set[] = { "output.elasticsearch.max_retries=3",
	    "output.elasticsearch.bulk_max_size=64", dlset, NULL };
	struct out_counters oc;
	struct server s;
	char *want[MAXDOCS], *bad[MAXDOCS];
	size_t nwant = 0, nbad = 0;
	void *o;

	snprintf(dl, sizeof(dl), "%s/items.deadletter", tmpdir);
	snprintf(dlset, sizeof(dlset),
	    "output.elasticsearch.dead_letter_path=%s", dl);
	if ((o = start_pair(&s, "items", extra, set)) == NULL)
		return;
	/* 0..199: every 10th retried twice; 1000..1029: every 7th bad. */
	push_flows(o, "items", 0, 200, want, &nwant, 10, "RETRYME");
	push_flows(o, "items", 1000, 7, bad, &nbad, 1, "BADDOC");
	push_flows(o, "items", 2000, 50, want, &nwant, 0, NULL);
	wait_for(o, DRAINED, &oc);
	CHECK_MSG(oc.sent == 250 && oc.rejected == 7 &&
	    oc.dead_lettered == 7 && oc.dropped_failed == 0 &&
	    oc.retries >= 40 && oc.up == 1, "sent %llu rejected %llu "
	    "dead_lettered %llu retries %llu", (unsigned long long)oc.sent,
	    (unsigned long long)oc.rejected,
	    (unsigned long long)oc.dead_lettered,
	    (unsigned long long)oc.retries);
	stop(o);
	check_arrived("items", want, nwant);
	check_dead_letters(dl, bad, nbad, nbad, 400, "mapper_parsing_exception",
	    "marker");
	free_all(want, nwant);
	free_all(bad, nbad);

	/* One retry against two 429s: given up, counted dropped_failed. */
	set[0] = "output.elasticsearch.max_retries=1";
	set[2] = NULL;
	o = es_start(url(&s), set);
	push_flows(o, "items", 3000, 30, NULL, NULL, 3, "RETRYME");
	wait_for(o, DRAINED, &oc);
	CHECK(oc.dropped_failed == 10 && oc.sent == 20 && oc.rejected == 0);
	stop(o);
	server_stop(&s);
}

/*
 * Whole requests refused: a 413 halves the batch until it fits, and a 400
 * rejects the request's documents into the dead-letter file.
 */
static void
test_refused(void)
{
	const char *const extra[] = { "--max-docs", "10", "--request-faults",
	    "400", NULL };
	char dl[512], dlset[600], *want[MAXDOCS];
	const char *const set[] = { "output.elasticsearch.bulk_max_size=64",
	    dlset, NULL };
	struct out_counters oc;
	struct server s;
	struct out_doc *d;
	size_t nwant = 0, nreq;
	void *o;
	int n;

	snprintf(dl, sizeof(dl), "%s/refused.deadletter", tmpdir);
	snprintf(dlset, sizeof(dlset),
	    "output.elasticsearch.dead_letter_path=%s", dl);
	if ((o = start_pair(&s, "refused", extra, set)) == NULL)
		return;
	/* The first request (one document) meets the 400. */
	deliver(o, "refused", 1, NULL, NULL, &oc);
	CHECK(oc.rejected == 1 && oc.dead_lettered == 1 && oc.up == 1);
	push_flows(o, "refused", 100, 200, want, &nwant, 0, NULL);
	wait_for(o, DRAINED, &oc);
	CHECK(oc.sent == 200 && oc.rejected == 1 && oc.up == 1);
	stop(o);
	server_stop(&s);
	check_arrived("refused", want, nwant);
	n = largest_request("refused", &nreq);
	CHECK_MSG(n > 0 && n <= 10, "the largest request: %d documents", n);
	free_all(want, nwant);
	d = flow_doc("refused", 0, NULL);
	want[0] = d->data;
	check_dead_letters(dl, want, 1, 1, 400, "fault", "scripted fault 400");
	out_doc_unref(d);
}

/*
 * (d) The server dies: the queue fills, the excess is dropped and counted
 * exactly, the output is down; it comes back on the same port: every
 * queued document arrives and the output is up.
 */
static void
test_down(void)
{
	const char *const set[] = { "output.elasticsearch.queue_size=100",
	    "output.elasticsearch.bulk_max_size=20", NULL };
	struct out_counters oc;
	struct server s;
	char *want[MAXDOCS];
	size_t nwant = 0;
	int port;
	void *o;

	if ((o = start_pair(&s, "down", NULL, set)) == NULL)
		return;
	port = s.port;
	deliver(o, "down", 50, want, &nwant, &oc);
	CHECK(oc.sent == 50 && oc.up == 1);
	server_stop(&s);
	push_flows(o, "down", 100, 1, want, &nwant, 0, NULL);
	wait_for(o, DOWN, &oc);
	CHECK(oc.up == 0 && oc.queued == 1);
	/* 137 more: 99 fit, 38 are the excess. */
	push_flows(o, "down", 200, 99, want, &nwant, 0, NULL);
	push_flows(o, "down", 300, 38, NULL, NULL, 0, NULL);
	counters(o, &oc);
	CHECK_MSG(oc.dropped_full == 38 && oc.queued == 100 &&
	    oc.accepted == 150 && oc.up == 0, "dropped_full %llu queued %llu",
	    (unsigned long long)oc.dropped_full,
	    (unsigned long long)oc.queued);
	if (server_start(&s, "down", port, NULL) == -1) {
		stop(o);
		return;
	}
	CHECK(s.port == port);
	wait_for(o, DRAINED, &oc);
	CHECK(oc.sent == 150 && oc.up == 1 && oc.dropped_full == 38 &&
	    oc.reconnects > 0);
	stop(o);
	server_stop(&s);
	check_arrived("down", want, nwant);
	free_all(want, nwant);
}

/* (f) A first host that refuses connections: the second takes over. */
static void
test_next_host(void)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct out_counters oc;
	struct server s;
	char hosts[128], *want[MAXDOCS];
	size_t nwant = 0;
	int fd;
	void *o;

	/* Bound and not listening: a port that refuses, held by us. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1)
		fatal("dead port");
	if (server_start(&s, "next", 0, NULL) == -1) {
		close(fd);
		return;
	}
	snprintf(hosts, sizeof(hosts), "http://127.0.0.1:%d/,%s",
	    ntohs(sin.sin_port), url(&s));
	o = es_start(hosts, NULL);
	deliver(o, "next", 20, want, &nwant, &oc);
	CHECK(oc.sent == 20 && oc.retries >= 1 && oc.up == 1);
	stop(o);
	server_stop(&s);
	close(fd);
	check_arrived("next", want, nwant);
	free_all(want, nwant);
}

/*
 * (e) Basic auth, with op_type index to another index: the right
 * password gets the documents in; a wrong one leaves the output down
 * with its documents queued, given up at close.
 */
static void
test_auth(void)
{
	const char *const extra[] = { "--user", "elastic", "--password",
	    "s3cr:et!", "--op", "index", "--index", "flows-test", NULL };
	const char *set[] = { "output.elasticsearch.username=elastic",
	    "output.elasticsearch.password=s3cr:et!",
	    "output.elasticsearch.op_type=index",
	    "output.elasticsearch.index=flows-test", NULL };
	struct out_counters oc;
	struct server s;
	char *want[MAXDOCS];
	size_t nwant = 0;
	void *o;

	if ((o = start_pair(&s, "auth", extra, set)) == NULL)
		return;
	deliver(o, "auth", 30, want, &nwant, &oc);
	CHECK(oc.sent == 30 && oc.up == 1);
	stop(o);

	set[1] = "output.elasticsearch.password=wrong";
	o = es_start(url(&s), set);
	push_flows(o, "auth", 100, 5, NULL, NULL, 0, NULL);
	wait_for(o, DOWN, &oc);
	CHECK(oc.sent == 0 && oc.queued == 5 && oc.rejected == 0);
	out_es_ops.close(o, out_now() + 100 * MS);
	server_stop(&s);
	check_arrived("auth", want, nwant);
	free_all(want, nwant);
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: test_es es_server.py tmpdir\n");
		return 2;
	}
	server_script = argv[1];
	tmpdir = argv[2];
	log_init("test_es", 1);
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	test_plain();
	test_request_faults();
	test_items();
	test_refused();
	test_down();
	test_next_host();
	test_auth();
	event_base_free(base);
	return check_done("test_es");
}

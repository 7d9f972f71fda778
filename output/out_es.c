/*
 * The elasticsearch output: documents sent in _bulk requests of at most
 * bulk_max_size, to the first host that answers. Per-item 429/5xx are
 * retried with backoff up to max_retries; other per-item refusals are
 * rejected for good and kept in the dead-letter file. A request that fails
 * as a whole (no connection, timeout, 429/5xx, 401/403) marks the output
 * down and is retried, on the next host, for as long as it takes; the
 * bounded queue is what limits memory meanwhile. retries counts both:
 * documents sent again and requests tried again.
 *
 * Other whole-request answers: a 413 means the peer's byte limit, so
 * requests are kept under half that size from then on (one document
 * always goes, and a lone one that meets a 413 is rejected); 401 and 403
 * are the operator's to mend (credentials, rights), not the documents'
 * fault, so they mark the output down rather than lose data; any other
 * 4xx (400, 404...) will not mend by sending again: the request's
 * documents are rejected.
 *
 * A dead-letter line is {"status":N,"error":{"type":..,"reason":..},
 * "document":"<the document as a JSON string>"}: a string, so that even
 * a document the peer could not parse is kept byte for byte.
 *
 * Why a worker thread with blocking curl_easy_perform rather than curl's
 * multi interface on the libevent loop: retries, backoff, host rotation
 * and the close deadline are then straight-line code in one thread, the
 * loop only ever takes a mutex for a few instructions (push, counters),
 * and a slow TLS handshake or a name lookup can never stall the loop.
 * Every document stays counted in the queue (queued) until it is sent,
 * rejected or given up, so that queue_size bounds what is in flight too.
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "log.h"
#include "out.h"
#include "out_es.h"
#include "readfile.h"
#include "sfconfig.h"

#define ES_MAX_HOSTS	16
#define ES_LINGER_NS	(5 * 1000000LL)		/* to batch a burst */
#define ES_DEAD_REASON_MAX 4096			/* of one in a dead letter */
#define ES_RESPONSE_MAX	(64 << 20)		/* bytes of one answer */
#define ES_CA_MAX	(8 << 20)		/* bytes of the CA bundle */

/* One document being sent, with the per-item failures it has had. */
struct es_item {
	struct out_doc	*doc;
	int64_t		 failures;
};

struct es_buf {
	char		*p;
	size_t		 len, cap;
};

struct es {
	/* Fixed by es_open(). */
	char		*urls[ES_MAX_HOSTS];	/* <host>/_bulk */
	char		*names[ES_MAX_HOSTS];	/* to log: no user:password@ */
	size_t		 nurls;
	char		*action;		/* the action line, "\n" ended */
	size_t		 actionlen;
	size_t		 bulk_max, cap;
	int64_t		 max_retries, backoff_init, backoff_max, timeout;
	int		 dlfd;			/* -1: no dead-letter file */
	CURL		*curl;
	struct curl_slist *headers;
	char		 curlerr[CURL_ERROR_SIZE];

	/* Shared by the loop and the worker, under mtx. */
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	struct out_queue q;			/* not taken by the worker yet */
	size_t		 inflight;		/* taken: in batch */
	struct out_counters c;
	int		 stopping;
	int64_t		 deadline;

	/* The worker's own. */
	pthread_t	 thread;
	struct es_item	*batch;
	struct es_verdict *verdicts;		/* of batch, by the answer */
	unsigned char	*kept;			/* of batch: to send again */
	size_t		 nbatch;
	size_t		 body_max;		/* bytes, learnt from a 413 */
	size_t		 url;			/* the host in use */
	int64_t		 down_backoff, item_backoff;
	int		 connected;		/* a connection was made before */
	struct es_buf	 body, resp;
};

static void
es_lock(struct es *e)
{
	if (pthread_mutex_lock(&e->mtx) != 0)
		fatalx("elasticsearch: pthread_mutex_lock");
}

static void
es_unlock(struct es *e)
{
	if (pthread_mutex_unlock(&e->mtx) != 0)
		fatalx("elasticsearch: pthread_mutex_unlock");
}

/* Wait on the condition until woken or until the monotonic time until. */
static void
es_wait_until(struct es *e, int64_t until)
{
	struct timespec ts;
	int rc;

	ts.tv_sec = until / 1000000000LL;
	ts.tv_nsec = until % 1000000000LL;
	rc = pthread_cond_timedwait(&e->cond, &e->mtx, &ts);
	if (rc != 0 && rc != ETIMEDOUT)
		fatalx("elasticsearch: pthread_cond_timedwait: %s",
		    strerror(rc));
}

/* Whether the worker is past the close deadline. Called locked. */
static int
es_expired(const struct es *e)
{
	return e->stopping && out_now() >= e->deadline;
}

static int
es_buf_add(struct es_buf *b, const char *s, size_t len)
{
	size_t ncap;
	char *p;

	if (len > b->cap - b->len) {
		ncap = b->cap == 0 ? 65536 : b->cap;
		while (ncap - b->len < len) {
			if (ncap > SIZE_MAX / 2)
				return -1;
			ncap *= 2;
		}
		if ((p = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = p;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	return 0;
}

static size_t
es_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct es_buf *b = arg;
	size_t len = size * nmemb;

	/* A short count makes curl fail the request: the answer is too big. */
	if (b->len + len > ES_RESPONSE_MAX || es_buf_add(b, data, len) == -1)
		return 0;
	return len;
}

/* Cuts a request short once close()'s deadline has passed. */
static int
es_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct es *e = arg;
	int expired;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	es_lock(e);
	expired = es_expired(e);
	es_unlock(e);
	return expired;
}

/*
 * Keep a refused document as one JSON line: the document as a string
 * (byte for byte, even if it is not valid JSON), the status and the
 * peer's error. The line is written whole or not at all.
 */
/* At most ES_DEAD_REASON_MAX bytes of s, not cutting a UTF-8 sequence. */
static int
es_cut_len(const char *s)
{
	size_t n = strnlen(s, ES_DEAD_REASON_MAX + 1);

	if (n > ES_DEAD_REASON_MAX) {
		n = ES_DEAD_REASON_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return (int)n;
}

static int
es_dead_letter(struct es *e, const struct out_doc *d, int status,
    const char *type, const char *reason)
{
	struct json_object *o, *err;
	const char *s;
	size_t len;
	ssize_t n;
	off_t off;
	char *line;
	int rc = -1;

	if (e->dlfd == -1)
		return -1;
	o = json_object_new_object();
	err = json_object_new_object();
	if (o == NULL || err == NULL) {
		json_object_put(o);
		json_object_put(err);
		log_warnx("elasticsearch: dead letter: out of memory");
		return -1;
	}
	/*
	 * The peer's words, cut to ES_DEAD_REASON_MAX bytes: a hostile or
	 * broken answer could repeat a huge reason for every document.
	 */
	json_object_object_add(err, "type", json_object_new_string_len(type,
	    es_cut_len(type)));
	json_object_object_add(err, "reason", json_object_new_string_len(reason,
	    es_cut_len(reason)));
	json_object_object_add(o, "status", json_object_new_int(status));
	json_object_object_add(o, "error", err);
	json_object_object_add(o, "document",
	    json_object_new_string_len(d->data, (int)d->len));
	s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	if ((line = malloc(len + 1)) == NULL) {
		log_warnx("elasticsearch: dead letter: out of memory");
		goto done;
	}
	memcpy(line, s, len);
	line[len++] = '\n';
	if ((off = lseek(e->dlfd, 0, SEEK_END)) == -1) {
		log_warn("elasticsearch: dead letter: lseek");
		goto done;
	}
	n = write(e->dlfd, line, len);
	if (n == (ssize_t)len)
		rc = 0;
	else {
		if (n == -1)
			log_warn("elasticsearch: dead letter: write");
		else
			log_warnx("elasticsearch: dead letter: short write");
		/* No half line left behind for the next one to follow. */
		if (n > 0 && ftruncate(e->dlfd, off) == -1)
			log_warn("elasticsearch: dead letter: ftruncate");
	}
done:
	free(line);
	json_object_put(o);
	return rc;
}

/* How many of one answer's documents ended which way. */
struct es_tally {
	uint64_t	sent, rejected, dead_lettered, failed, retried;
};

/* A rejected document: kept in the dead-letter file, if there is one. */
static void
es_reject(struct es *e, struct es_tally *t, const struct out_doc *d,
    const struct es_verdict *v)
{
	t->rejected++;
	if (es_dead_letter(e, d, v->status, v->type, v->reason) == 0)
		t->dead_lettered++;
}

/*
 * Account one request's outcome: the first n of the batch are done with
 * except those kept (kept[i] set, kept may be NULL), which stay at the
 * front for a retry.
 */
static void
es_settle(struct es *e, size_t n, const unsigned char *kept,
    const struct es_tally *t, const struct es_reply *a)
{
	size_t i, j;

	for (i = 0, j = 0; i < e->nbatch; i++) {
		if (i < n && (kept == NULL || !kept[i])) {
			out_doc_unref(e->batch[i].doc);
			continue;
		}
		e->batch[j++] = e->batch[i];
	}
	e->nbatch = j;
	if (t->rejected > 0)
		log_warnx("elasticsearch: %" PRIu64 " documents rejected "
		    "(%" PRIu64 " kept in the dead-letter file), the first "
		    "with %d %s: %s", t->rejected, t->dead_lettered,
		    a->first_status, a->first_type, a->first_reason);
	if (t->failed > 0)
		log_warnx("elasticsearch: %" PRIu64 " documents dropped "
		    "after %" PRId64 " retries", t->failed, e->max_retries);
	es_lock(e);
	e->c.sent += t->sent;
	e->c.rejected += t->rejected;
	e->c.dead_lettered += t->dead_lettered;
	e->c.dropped_failed += t->failed;
	e->c.retries += t->retried;
	e->inflight = e->nbatch;
	es_unlock(e);
}

static int64_t
es_next_backoff(const struct es *e, int64_t *b)
{
	int64_t wait = *b;

	*b = *b > e->backoff_max / 2 ? e->backoff_max : *b * 2;
	return wait;
}

/*
 * The request failed as a whole: the output is down. Its documents stay
 * in the batch; the next try goes to the next host after a backoff.
 */
static int64_t
es_down(struct es *e, const char *why)
{
	es_lock(e);
	if (e->c.up)
		log_warnx("elasticsearch: %s: %s; retrying until it answers",
		    e->names[e->url], why);
	else
		log_debug("elasticsearch: %s: %s", e->names[e->url], why);
	e->c.up = 0;
	e->c.retries++;
	es_unlock(e);
	e->url = (e->url + 1) % e->nurls;
	return es_next_backoff(e, &e->down_backoff);
}

static void
es_up(struct es *e)
{
	e->down_backoff = e->backoff_init;
	es_lock(e);
	if (!e->c.up)
		log_info("elasticsearch: %s answers", e->names[e->url]);
	e->c.up = 1;
	es_unlock(e);
}

/* A 2xx answer read (a): each of the n documents by its verdict. */
static int64_t
es_items(struct es *e, size_t n, const struct es_reply *a)
{
	struct es_tally t;
	size_t i;

	memset(e->kept, 0, n);
	memset(&t, 0, sizeof(t));
	for (i = 0; i < n; i++) {
		switch (e->verdicts[i].fate) {
		case ES_FATE_SENT:
			t.sent++;
			break;
		case ES_FATE_RETRY:
			if (++e->batch[i].failures > e->max_retries) {
				t.failed++;
			} else {
				e->kept[i] = 1;
				t.retried++;
			}
			break;
		case ES_FATE_REJECT:
			es_reject(e, &t, e->batch[i].doc, &e->verdicts[i]);
			break;
		default:
			fatalx("elasticsearch: document %zu without a verdict",
			    i);
		}
	}
	es_up(e);
	es_settle(e, n, e->kept, &t, a);
	if (t.retried == 0) {
		e->item_backoff = e->backoff_init;
		return 0;
	}
	return es_next_backoff(e, &e->item_backoff);
}

/*
 * A request refused as a whole with a 4xx that sending again will not
 * mend (400, 404, 413 for a single document...): its documents are
 * rejected and kept in the dead-letter file, with the peer's reason.
 */
static int64_t
es_refused(struct es *e, size_t n, const struct es_reply *a)
{
	struct es_tally t;
	size_t i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < n; i++)
		es_reject(e, &t, e->batch[i].doc, &e->verdicts[i]);
	es_up(e);
	es_settle(e, n, NULL, &t, a);
	return 0;
}

/* Act on the answer to a request of the batch's first n documents. */
static int64_t
es_answer(struct es *e, size_t n, long status)
{
	struct es_reply a;
	int64_t wait;

	es_reply_read(&a, status, e->resp.p, e->resp.len, n, e->verdicts);
	switch (a.outcome) {
	case ES_OUTCOME_ITEMS:
		wait = es_items(e, n, &a);
		break;
	case ES_OUTCOME_REFUSED:
		wait = es_refused(e, n, &a);
		break;
	case ES_OUTCOME_SHRINK:
		/*
		 * The peer's limit is on bytes (http.max_content_length):
		 * requests stay under half of this one from now on, and the
		 * first half goes at once.
		 */
		e->body_max = e->body.len / 2;
		log_warnx("elasticsearch: %s: 413 for %zu documents (%zu "
		    "bytes); requests kept under %zu bytes", e->names[e->url],
		    n, e->body.len, e->body_max);
		wait = 0;
		break;
	case ES_OUTCOME_DOWN:
		/*
		 * 401 and 403 among them: the documents are not at fault
		 * and must not be lost for a fault the operator can mend, so
		 * the output is down (and the queue bounds what waits).
		 */
		wait = es_down(e, a.why);
		break;
	default:
		fatalx("elasticsearch: answer without an outcome");
	}
	es_reply_free(&a);
	return wait;
}

/* One request of the batch's first documents; the ns to wait after it. */
static int64_t
es_send(struct es *e)
{
	char why[CURL_ERROR_SIZE + 64];
	long status = 0, conns = 0;
	int64_t timeout;
	CURLcode rc;
	size_t n;

	e->body.len = 0;
	for (n = 0; n < e->nbatch; n++) {
		/* At least one document goes, whatever its size. */
		if (n > 0 && e->body.len + e->actionlen +
		    e->batch[n].doc->len + 1 > e->body_max)
			break;
		if (es_buf_add(&e->body, e->action, e->actionlen) == -1 ||
		    es_buf_add(&e->body, e->batch[n].doc->data,
		    e->batch[n].doc->len) == -1 ||
		    es_buf_add(&e->body, "\n", 1) == -1)
			return es_down(e, "out of memory for the request");
	}
	es_lock(e);
	timeout = e->timeout;
	if (e->stopping && e->deadline - out_now() < timeout)
		timeout = e->deadline - out_now();
	es_unlock(e);
	if (timeout < 1000000)
		timeout = 1000000;
	e->resp.len = 0;
	e->curlerr[0] = '\0';
	if (curl_easy_setopt(e->curl, CURLOPT_URL, e->urls[e->url]) !=
	    CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, e->body.p) !=
	    CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)e->body.len) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS,
	    (long)(timeout / 1000000)) != CURLE_OK)
		fatalx("elasticsearch: curl_easy_setopt");
	rc = curl_easy_perform(e->curl);
	if (curl_easy_getinfo(e->curl, CURLINFO_NUM_CONNECTS, &conns) ==
	    CURLE_OK && conns > 0) {
		if (e->connected) {
			es_lock(e);
			e->c.reconnects += conns;
			es_unlock(e);
		}
		e->connected = 1;
	}
	if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s", e->curlerr[0] != '\0' ?
		    e->curlerr : curl_easy_strerror(rc));
		return es_down(e, why);
	}
	if (curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status) !=
	    CURLE_OK)
		status = 0;
	return es_answer(e, n, status);
}

/*
 * Fill the batch from the queue, after a short linger when it starts
 * empty. -1: time to stop.
 */
static int
es_fill(struct es *e)
{
	int64_t until;

	es_lock(e);
	for (;;) {
		if (es_expired(e) || (e->stopping && e->nbatch == 0 &&
		    e->q.n == 0)) {
			es_unlock(e);
			return -1;
		}
		if (e->nbatch > 0 || e->q.n > 0)
			break;
		if (pthread_cond_wait(&e->cond, &e->mtx) != 0)
			fatalx("elasticsearch: pthread_cond_wait");
	}
	if (e->nbatch == 0) {
		until = out_now() + ES_LINGER_NS;
		while (!e->stopping && e->q.n < e->bulk_max &&
		    out_now() < until)
			es_wait_until(e, until);
	}
	while (e->nbatch < e->bulk_max && e->q.n > 0) {
		e->batch[e->nbatch].doc = out_doc_ref(out_queue_peek(&e->q, 0));
		e->batch[e->nbatch++].failures = 0;
		out_queue_pop(&e->q, 1);
	}
	e->inflight = e->nbatch;
	es_unlock(e);
	return 0;
}

/*
 * Back off for wait ns, or until close() is called (then the deadline
 * bounds it). -1: past the deadline.
 */
static int
es_backoff(struct es *e, int64_t wait)
{
	int64_t until = out_now() + wait;
	int stopping;
	int rc;

	es_lock(e);
	stopping = e->stopping;
	for (;;) {
		if (e->stopping && e->deadline < until)
			until = e->deadline;
		if (out_now() >= until || e->stopping != stopping)
			break;
		es_wait_until(e, until);
	}
	rc = es_expired(e) ? -1 : 0;
	es_unlock(e);
	return rc;
}

static void *
es_worker(void *arg)
{
	struct es *e = arg;
	int64_t wait;

	while (es_fill(e) == 0) {
		wait = es_send(e);
		if (wait > 0 && es_backoff(e, wait) == -1)
			break;
	}
	return NULL;
}

/*
 * The comma-separated base URLs, as <url>/_bulk, and the name to log of
 * each, without the credentials a URL may hold.
 */
static int
es_hosts(struct es *e, const char *hosts, char *err, size_t errsz)
{
	const char *p = hosts, *end, *host, *at;
	char *url, *name;
	size_t len, scheme;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		end = p + strcspn(p, ", ");
		len = end - p;
		while (len > 0 && p[len - 1] == '/')
			len--;
		if (strncmp(p, "http://", 7) == 0)
			scheme = 7;
		else if (strncmp(p, "https://", 8) == 0)
			scheme = 8;
		else {
			snprintf(err, errsz, "output.elasticsearch.hosts: "
			    "not an http:// or https:// URL");
			return -1;
		}
		if (e->nurls == ES_MAX_HOSTS) {
			snprintf(err, errsz, "output.elasticsearch.hosts: "
			    "more than %d hosts", ES_MAX_HOSTS);
			return -1;
		}
		host = p + scheme;
		at = memchr(host, '@', len - scheme);
		if (at != NULL && memchr(host, '/', at - host) == NULL)
			host = at + 1;
		if (asprintf(&url, "%.*s/_bulk", (int)len, p) == -1) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		if (asprintf(&name, "%.*s%.*s", (int)scheme, p,
		    (int)(len - (host - p)), host) == -1) {
			free(url);
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		e->urls[e->nurls] = url;
		e->names[e->nurls] = name;
		e->nurls++;
		p = end;
	}
	if (e->nurls == 0) {
		snprintf(err, errsz, "output.elasticsearch.hosts: no host");
		return -1;
	}
	return 0;
}

static int
es_action(struct es *e, const struct sf_config *c)
{
	struct json_object *o, *meta;
	const char *s;
	int rc = -1;

	o = json_object_new_object();
	meta = json_object_new_object();
	if (o == NULL || meta == NULL) {
		json_object_put(o);
		json_object_put(meta);
		return -1;
	}
	json_object_object_add(meta, "_index",
	    json_object_new_string(c->es_index));
	json_object_object_add(o, c->es_op_type == ES_OP_INDEX ? "index" :
	    "create", meta);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (asprintf(&e->action, "%s\n", s) != -1) {
		e->actionlen = strlen(e->action);
		rc = 0;
	} else
		e->action = NULL;
	json_object_put(o);
	return rc;
}

/*
 * TLS: the CA bundle is read now, into memory, so that no connection made
 * after the sandbox needs to open a file.
 */
static int
es_tls(struct es *e, const struct sf_config *c, char *err, size_t errsz)
{
#if LIBCURL_VERSION_NUM >= 0x075400
	struct curl_blob blob;
	size_t len;
	char *ca;
#endif
	const char *path = c->es_ssl_ca;
	CURLcode rc;
	size_t i;

	for (i = 0; i < e->nurls; i++)
		if (strncmp(e->urls[i], "https://", 8) == 0)
			break;
	if (i == e->nurls)
		return 0;
	if (c->es_ssl_verify == 0) {
		log_warnx("elasticsearch: TLS certificates are not verified "
		    "(ssl.verification is off)");
		if (curl_easy_setopt(e->curl, CURLOPT_SSL_VERIFYPEER, 0L) !=
		    CURLE_OK || curl_easy_setopt(e->curl,
		    CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK) {
			snprintf(err, errsz, "cannot turn TLS verification off");
			return -1;
		}
		return 0;
	}
#if LIBCURL_VERSION_NUM >= 0x075400
	if (path[0] == '\0' && (curl_easy_getinfo(e->curl, CURLINFO_CAINFO,
	    &path) != CURLE_OK || path == NULL)) {
		snprintf(err, errsz, "output.elasticsearch: no system CA "
		    "bundle known; set ssl.certificate_authorities");
		return -1;
	}
	if ((ca = read_file_all(path, ES_CA_MAX, &len, NULL)) == NULL) {
		snprintf(err, errsz, "output.elasticsearch: %s: %s", path,
		    strerror(errno));
		return -1;
	}
	blob.data = ca;
	blob.len = len;
	blob.flags = CURL_BLOB_COPY;
	rc = curl_easy_setopt(e->curl, CURLOPT_CAINFO_BLOB, &blob);
	free(ca);
#else
	/* An older libcurl reads the file at each new connection. */
	rc = path[0] == '\0' ? CURLE_OK :
	    curl_easy_setopt(e->curl, CURLOPT_CAINFO, path);
#endif
	if (rc != CURLE_OK) {
		snprintf(err, errsz, "output.elasticsearch: %s: %s", path,
		    curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

static int
es_curl(struct es *e, const struct sf_config *c, char *err, size_t errsz)
{
	int plain = 0;
	size_t i;

	if ((e->curl = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "curl_easy_init failed");
		return -1;
	}
	if ((e->headers = curl_slist_append(NULL,
	    "Content-Type: application/x-ndjson")) == NULL ||
	    /* No 100-continue round trip before each large body. */
	    (e->headers = curl_slist_append(e->headers, "Expect:")) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->headers) !=
	    CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, e->curlerr) !=
	    CURLE_OK ||
	    /* The worker is a thread: no SIGALRM for timeouts. */
	    curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
#else
	    curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
#endif
	    /* Hosts are named in the configuration, not the environment. */
	    curl_easy_setopt(e->curl, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_USERAGENT,
	    "sockflow/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, es_write_cb) !=
	    CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &e->resp) !=
	    CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION,
	    es_progress_cb) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, e) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK) {
		snprintf(err, errsz, "curl_easy_setopt failed");
		return -1;
	}
	if (c->es_username[0] != '\0') {
		if (curl_easy_setopt(e->curl, CURLOPT_HTTPAUTH,
		    (long)CURLAUTH_BASIC) != CURLE_OK ||
		    curl_easy_setopt(e->curl, CURLOPT_USERNAME,
		    c->es_username) != CURLE_OK ||
		    curl_easy_setopt(e->curl, CURLOPT_PASSWORD,
		    c->es_password) != CURLE_OK) {
			snprintf(err, errsz, "curl: cannot set credentials");
			return -1;
		}
		for (i = 0; i < e->nurls; i++)
			if (strncmp(e->urls[i], "http://", 7) == 0)
				plain = 1;
		if (plain)
			log_warnx("elasticsearch: the password goes in clear "
			    "to the http:// hosts");
	}
	return es_tls(e, c, err, errsz);
}

static void
es_free(struct es *e)
{
	size_t i;

	for (i = 0; i < e->nbatch; i++)
		out_doc_unref(e->batch[i].doc);
	free(e->batch);
	free(e->verdicts);
	free(e->kept);
	out_queue_free(&e->q);
	for (i = 0; i < e->nurls; i++) {
		free(e->urls[i]);
		free(e->names[i]);
	}
	free(e->action);
	if (e->curl != NULL)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->headers);
	if (e->dlfd != -1 && close(e->dlfd) == -1)
		log_warn("elasticsearch: dead letter: close");
	free(e->body.p);
	free(e->resp.p);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->mtx);
	curl_global_cleanup();
	free(e);
}

static int
es_enabled(const struct sf_config *c)
{
	return c->es_enabled == 1;
}

static void *
es_open(struct event_base *base, const struct sf_config *c, char *err,
    size_t errsz)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct es *e;
	int rc;

	(void)base;
	if (c->es_backoff_init > c->es_backoff_max) {
		snprintf(err, errsz, "output.elasticsearch: backoff.init is "
		    "above backoff.max");
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errsz, "curl_global_init failed");
		return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		curl_global_cleanup();
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	e->dlfd = -1;
	e->bulk_max = (size_t)c->es_bulk_max_size;
	e->body_max = SIZE_MAX;
	e->cap = (size_t)c->es_queue_size;
	e->max_retries = c->es_max_retries;
	e->backoff_init = e->down_backoff = e->item_backoff =
	    c->es_backoff_init;
	e->backoff_max = c->es_backoff_max;
	e->timeout = c->es_timeout;
	e->c.up = 1;
	e->c.queue_cap = e->cap;
	if (pthread_mutex_init(&e->mtx, NULL) != 0 ||
	    pthread_condattr_init(&ca) != 0)
		fatalx("elasticsearch: pthread init");
	/* Deadlines are CLOCK_MONOTONIC (out_now). */
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&e->cond, &ca) != 0)
		fatalx("elasticsearch: pthread_cond_init");
	pthread_condattr_destroy(&ca);
	if (out_queue_init(&e->q, e->cap) == -1 ||
	    (e->batch = calloc(e->bulk_max, sizeof(*e->batch))) == NULL ||
	    (e->verdicts = calloc(e->bulk_max, sizeof(*e->verdicts))) ==
	    NULL ||
	    (e->kept = calloc(e->bulk_max, 1)) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (es_hosts(e, c->es_hosts, err, errsz) == -1)
		goto fail;
	if (es_action(e, c) == -1) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (c->es_dead_letter[0] != '\0' && (e->dlfd = open(c->es_dead_letter,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) ==
	    -1) {
		snprintf(err, errsz, "output.elasticsearch.dead_letter_path: "
		    "%s: %s", c->es_dead_letter, strerror(errno));
		goto fail;
	}
	if (es_curl(e, c, err, errsz) == -1)
		goto fail;
	/* Signals are the loop's: the worker takes none. */
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
		fatalx("elasticsearch: pthread_sigmask");
	rc = pthread_create(&e->thread, NULL, es_worker, e);
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0)
		fatalx("elasticsearch: pthread_sigmask");
	if (rc != 0) {
		snprintf(err, errsz, "pthread_create: %s", strerror(rc));
		goto fail;
	}
	log_info("elasticsearch: %zu hosts, index %s, %s, at most %zu "
	    "documents a request, queue of %zu", e->nurls, c->es_index,
	    c->es_op_type == ES_OP_INDEX ? "index" : "create", e->bulk_max,
	    e->cap);
	return e;
fail:
	es_free(e);
	return NULL;
}

static void
es_push(void *arg, struct out_doc *d)
{
	struct es *e = arg;

	es_lock(e);
	/* What the worker holds counts too: queue_size bounds it all. */
	if (e->stopping || e->q.n + e->inflight >= e->cap ||
	    out_queue_push(&e->q, d) == -1)
		e->c.dropped_full++;
	else {
		e->c.accepted++;
		if (pthread_cond_signal(&e->cond) != 0)
			fatalx("elasticsearch: pthread_cond_signal");
	}
	es_unlock(e);
}

static void
es_counters(void *arg, struct out_counters *oc)
{
	struct es *e = arg;

	es_lock(e);
	*oc = e->c;
	oc->queued = e->q.n + e->inflight;
	oc->queue_cap = e->cap;
	es_unlock(e);
}

static void
es_close(void *arg, int64_t deadline)
{
	struct es *e = arg;
	struct out_counters oc;
	int rc;

	es_lock(e);
	e->stopping = 1;
	e->deadline = deadline;
	if (pthread_cond_broadcast(&e->cond) != 0)
		fatalx("elasticsearch: pthread_cond_broadcast");
	es_unlock(e);
	if ((rc = pthread_join(e->thread, NULL)) != 0)
		fatalx("elasticsearch: pthread_join: %s", strerror(rc));
	/* The worker is gone: what it left is given up. */
	e->c.dropped_failed += e->q.n + e->nbatch;
	if (e->q.n + e->nbatch > 0)
		log_warnx("elasticsearch: %zu documents not sent by the "
		    "deadline", e->q.n + e->nbatch);
	e->inflight = 0;
	out_queue_pop(&e->q, e->q.n);
	es_counters(e, &oc);
	log_info("elasticsearch: accepted %" PRIu64 " sent %" PRIu64
	    " dropped_full %" PRIu64 " dropped_failed %" PRIu64
	    " rejected %" PRIu64 " dead_lettered %" PRIu64 " retries %" PRIu64
	    " reconnects %" PRIu64, oc.accepted, oc.sent, oc.dropped_full,
	    oc.dropped_failed, oc.rejected, oc.dead_lettered, oc.retries,
	    oc.reconnects);
	es_free(e);
}

const struct out_ops out_es_ops = {
	.name = "elasticsearch",
	.enabled = es_enabled,
	.open = es_open,
	.push = es_push,
	.counters = es_counters,
	.close = es_close,
};

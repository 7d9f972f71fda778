/*
 * The kafka output: every document becomes one message of the configured
 * topic, keyed by a field of the document (the community ID by default) so
 * that the records of one flow stay in one partition and in order.
 *
 * librdkafka does its own I/O in its own threads and keeps its own bounded
 * queue (queue.buffering.max.messages = output.kafka.queue_size). Every
 * callback it makes (delivery reports, errors, statistics and its log
 * lines) is put on its main queue and served here, on the libevent loop,
 * by rd_kafka_poll(rk, 0): the queue's wake-up pipe makes that prompt and
 * a one-second tick makes it certain. So the counters need no lock, and
 * push() never blocks.
 *
 * The client's byte cap (queue.buffering.max.kbytes, 1 GiB by default) is
 * left as it is: a bound on memory when documents are large, also counted
 * as dropped_full.
 *
 * The message payload is the document itself, not a copy: the message
 * holds a reference to the out_doc (its opaque) until its delivery report
 * says it was sent or given up. The documents are written once and never
 * changed, and the queue may hold a hundred thousand of them; copying each
 * would double the memory at the cap for nothing.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

#include "log.h"
#include "out.h"
#include "sfconfig.h"

#define KAFKA_LINGER_MS		"50"	/* one request for a burst of flows */
#define KAFKA_STATS_MS		"5000"	/* broker states, for up and reconnects */
#define KAFKA_TICK_SEC		1
#define KAFKA_LOG_WINDOW	(60 * 1000000000LL)
#define KAFKA_LOG_BURST		10	/* client log lines per window */
#define KAFKA_KEY_DEPTH		16	/* parts of the key's dotted path */
#define KAFKA_PURGE_WAIT_MS	1000	/* for the reports of what close purges */

struct kafka {
	struct event_base	*base;
	rd_kafka_t		*rk;
	rd_kafka_topic_t	*rkt;
	rd_kafka_queue_t	*mainq;
	int			 wake[2];	/* the main queue's wake-up pipe */
	struct event		*ev_wake;
	struct event		*ev_tick;
	struct json_tokener	*tok;

	/* The key's path, split: the parts stand NUL-separated in keybuf. */
	char			 keybuf[128];
	const char		*keypath[KAFKA_KEY_DEPTH];
	int			 keyparts;

	struct out_counters	 cnt;
	int			 closing;	/* purged reports are expected */

	/* Rate limit of the client's log lines and errors. */
	int64_t			 log_start;
	unsigned		 log_lines;
	uint64_t		 log_dropped;
};

static const char *const kafka_codecs[] = {
	[KAFKA_COMP_NONE] = "none",
	[KAFKA_COMP_GZIP] = "gzip",
	[KAFKA_COMP_SNAPPY] = "snappy",
	[KAFKA_COMP_LZ4] = "lz4",
	[KAFKA_COMP_ZSTD] = "zstd",
};

static int
kafka_enabled(const struct sf_config *c)
{
	return c->kafka_enabled == 1;
}

/*
 * Start a new window when the last one is over, saying how many lines the
 * last one held back.
 */
static void
kafka_log_roll(struct kafka *k, int64_t now)
{
	if (now - k->log_start < KAFKA_LOG_WINDOW)
		return;
	if (k->log_dropped > 0)
		log_warnx("kafka: %llu more client messages not logged",
		    (unsigned long long)k->log_dropped);
	k->log_start = now;
	k->log_lines = 0;
	k->log_dropped = 0;
}

/* Whether one more line may be logged now: a down broker repeats itself. */
static int
kafka_log_allowed(struct kafka *k)
{
	kafka_log_roll(k, out_now());
	if (k->log_lines >= KAFKA_LOG_BURST) {
		k->log_dropped++;
		return 0;
	}
	k->log_lines++;
	return 1;
}

/* The client's own log lines; they may quote what a broker said. */
static void
kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf)
{
	struct kafka *k = rd_kafka_opaque(rk);
	char esc[512];

	if (k == NULL || !kafka_log_allowed(k))
		return;
	log_escape(esc, sizeof(esc), buf, strlen(buf));
	if (level <= 4)
		log_warnx("kafka: %s: %s", fac, esc);
	else if (level <= 6)
		log_info("kafka: %s: %s", fac, esc);
	else
		log_debug("kafka: %s: %s", fac, esc);
}

static void
kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *arg)
{
	struct kafka *k = arg;
	char esc[512];

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		k->cnt.up = 0;
	/* A lost connection is in the client's own log already. */
	if (err == RD_KAFKA_RESP_ERR__TRANSPORT || !kafka_log_allowed(k))
		return;
	log_escape(esc, sizeof(esc), reason, strlen(reason));
	log_warnx("kafka: %s: %s", rd_kafka_err2name(err), esc);
}

/*
 * The statistics say which brokers are connected: up when one is (the
 * error callback only says when all are down), and how many connections
 * were lost, each of which the client makes again.
 */
static int
kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *arg)
{
	struct kafka *k = arg;
	struct json_object *root = NULL, *brokers, *v;
	uint64_t disconnects = 0;
	int any = 0, upnow = 0;

	(void)rk;
	/* Served on the loop, like push(): the tokener is free. */
	json_tokener_reset(k->tok);
	if (len <= INT_MAX)
		root = json_tokener_parse_ex(k->tok, json, (int)len);
	if (root == NULL || !json_object_object_get_ex(root, "brokers",
	    &brokers) || !json_object_is_type(brokers, json_type_object)) {
		log_warnx("kafka: statistics without brokers");
		json_object_put(root);
		return 0;
	}
	json_object_object_foreach(brokers, name, b) {
		(void)name;
		if (json_object_object_get_ex(b, "source", &v) &&
		    strcmp(json_object_get_string(v), "internal") == 0)
			continue;
		any = 1;
		if (json_object_object_get_ex(b, "state", &v) &&
		    strcmp(json_object_get_string(v), "UP") == 0)
			upnow = 1;
		if (json_object_object_get_ex(b, "disconnects", &v))
			disconnects += (uint64_t)json_object_get_int64(v);
	}
	json_object_put(root);
	if (any)
		k->cnt.up = upnow;
	/* A broker the client forgets takes its count along: never go back. */
	if (disconnects > k->cnt.reconnects)
		k->cnt.reconnects = disconnects;
	return 0;	/* the client frees json */
}

static void
kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *arg)
{
	struct kafka *k = arg;

	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		k->cnt.sent++;
		k->cnt.up = 1;
	} else {
		k->cnt.dropped_failed++;
		if (!k->closing && kafka_log_allowed(k))
			log_warnx("kafka: message not delivered: %s",
			    rd_kafka_err2str(m->err));
	}
	if (k->cnt.queued > 0)
		k->cnt.queued--;
	out_doc_unref(m->_private);
}

static void
kafka_serve(struct kafka *k)
{
	char buf[64];

	/* Empty the pipe first: what comes after it wakes us again. */
	while (read(k->wake[0], buf, sizeof(buf)) > 0)
		;
	rd_kafka_poll(k->rk, 0);
}

static void
kafka_wake_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	kafka_serve(arg);
}

static void
kafka_tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct kafka *k = arg;

	(void)fd;
	(void)ev;
	kafka_serve(k);
	kafka_log_roll(k, out_now());
}

/* Set one client property; a refusal names the configuration key. */
static int
kafka_set(rd_kafka_conf_t *conf, const char *key, const char *prop,
    const char *val, char *err, size_t errsz)
{
	char why[256];

	if (rd_kafka_conf_set(conf, prop, val, why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK) {
		snprintf(err, errsz, "%s: %s", key, why);
		return -1;
	}
	return 0;
}

/* host:port[,host:port...], each port a number from 1 to 65535. */
static int
kafka_check_hosts(const char *hosts, char *err, size_t errsz)
{
	const char *p = hosts, *colon, *end;
	char *ep;
	unsigned long port;

	if (*p == '\0') {
		snprintf(err, errsz, "output.kafka.hosts: empty");
		return -1;
	}
	for (;;) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		colon = memrchr(p, ':', end - p);
		if (colon == NULL || colon == p || colon + 1 == end)
			goto bad;
		errno = 0;
		port = strtoul(colon + 1, &ep, 10);
		if (ep != end || errno != 0 || port == 0 || port > 65535)
			goto bad;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
bad:
	snprintf(err, errsz, "output.kafka.hosts: \"%.*s\" is not host:port",
	    (int)(end - p), p);
	return -1;
}

static int
kafka_split_key(struct kafka *k, const char *path, char *err, size_t errsz)
{
	char *p;
	size_t len;

	k->keyparts = 0;
	if (*path == '\0')
		return 0;
	if ((len = strlen(path)) >= sizeof(k->keybuf)) {
		snprintf(err, errsz, "output.kafka.key: too long");
		return -1;
	}
	memcpy(k->keybuf, path, len + 1);
	for (p = k->keybuf; p != NULL; ) {
		if (k->keyparts == KAFKA_KEY_DEPTH) {
			snprintf(err, errsz, "output.kafka.key: more than %d "
			    "parts", KAFKA_KEY_DEPTH);
			return -1;
		}
		k->keypath[k->keyparts++] = p;
		if ((p = strchr(p, '.')) != NULL)
			*p++ = '\0';
		if (k->keypath[k->keyparts - 1][0] == '\0') {
			snprintf(err, errsz, "output.kafka.key: empty part in "
			    "\"%s\"", path);
			return -1;
		}
	}
	return 0;
}

/* The client configuration from ours; err names the key at fault. */
static rd_kafka_conf_t *
kafka_conf(struct kafka *k, const struct sf_config *c, char *err,
    size_t errsz)
{
	rd_kafka_conf_t *conf;
	char acks[8], timeout[24], qsize[24];

	if ((conf = rd_kafka_conf_new()) == NULL) {
		snprintf(err, errsz, "output.kafka: out of memory");
		return NULL;
	}
	snprintf(acks, sizeof(acks), "%lld", (long long)c->kafka_required_acks);
	snprintf(timeout, sizeof(timeout), "%lld",
	    (long long)(c->kafka_timeout / 1000000));
	snprintf(qsize, sizeof(qsize), "%lld", (long long)c->kafka_queue_size);
	if (c->kafka_compression < 0 ||
	    c->kafka_compression > KAFKA_COMP_ZSTD) {
		snprintf(err, errsz, "output.kafka.compression: unknown");
		goto fail;
	}
	if (kafka_set(conf, "output.kafka.hosts", "bootstrap.servers",
	    c->kafka_hosts, err, errsz) == -1 ||
	    kafka_set(conf, "output.kafka.required_acks", "acks", acks,
	    err, errsz) == -1 ||
	    kafka_set(conf, "output.kafka.compression", "compression.codec",
	    kafka_codecs[c->kafka_compression], err, errsz) == -1 ||
	    kafka_set(conf, "output.kafka.client_id", "client.id",
	    c->kafka_client_id, err, errsz) == -1 ||
	    kafka_set(conf, "output.kafka.timeout", "message.timeout.ms",
	    timeout, err, errsz) == -1 ||
	    kafka_set(conf, "output.kafka.queue_size",
	    "queue.buffering.max.messages", qsize, err, errsz) == -1 ||
	    kafka_set(conf, "output.kafka", "linger.ms", KAFKA_LINGER_MS,
	    err, errsz) == -1 ||
	    kafka_set(conf, "output.kafka", "statistics.interval.ms",
	    KAFKA_STATS_MS, err, errsz) == -1 ||
	    /* Its log lines wait on the main queue for our loop too. */
	    kafka_set(conf, "output.kafka", "log.queue", "true",
	    err, errsz) == -1)
		goto fail;
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_stats_cb(conf, kafka_stats_cb);
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* Free what open made, in any state it got to. */
static void
kafka_free(struct kafka *k)
{
	if (k->ev_wake != NULL)
		event_free(k->ev_wake);
	if (k->ev_tick != NULL)
		event_free(k->ev_tick);
	if (k->mainq != NULL) {
		rd_kafka_queue_io_event_enable(k->mainq, -1, NULL, 0);
		rd_kafka_queue_destroy(k->mainq);
	}
	if (k->rkt != NULL)
		rd_kafka_topic_destroy(k->rkt);
	if (k->rk != NULL)
		rd_kafka_destroy(k->rk);
	if (k->wake[0] != -1)
		close(k->wake[0]);
	if (k->wake[1] != -1)
		close(k->wake[1]);
	if (k->tok != NULL)
		json_tokener_free(k->tok);
	free(k);
}

static void *
kafka_open(struct event_base *base, const struct sf_config *c, char *err,
    size_t errsz)
{
	struct kafka *k;
	rd_kafka_conf_t *conf;
	rd_kafka_resp_err_t rerr;
	struct timeval tick = { KAFKA_TICK_SEC, 0 };
	char why[512];

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		snprintf(err, errsz, "output.kafka: out of memory");
		return NULL;
	}
	k->base = base;
	k->wake[0] = k->wake[1] = -1;
	k->cnt.queue_cap = (uint64_t)c->kafka_queue_size;
	k->log_start = out_now();
	if (kafka_check_hosts(c->kafka_hosts, err, errsz) == -1 ||
	    kafka_split_key(k, c->kafka_key, err, errsz) == -1)
		goto fail;
	if ((k->tok = json_tokener_new()) == NULL) {
		snprintf(err, errsz, "output.kafka: out of memory");
		goto fail;
	}
	if ((conf = kafka_conf(k, c, err, errsz)) == NULL)
		goto fail;
	if ((k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why,
	    sizeof(why))) == NULL) {
		rd_kafka_conf_destroy(conf);	/* still ours on failure */
		snprintf(err, errsz, "output.kafka: %s", why);
		goto fail;
	}
	if ((rerr = rd_kafka_set_log_queue(k->rk, NULL)) != 0) {
		snprintf(err, errsz, "output.kafka: log queue: %s",
		    rd_kafka_err2str(rerr));
		goto fail;
	}
	if ((k->rkt = rd_kafka_topic_new(k->rk, c->kafka_topic, NULL)) ==
	    NULL) {
		snprintf(err, errsz, "output.kafka.topic: %s",
		    rd_kafka_err2str(rd_kafka_last_error()));
		goto fail;
	}
	if (pipe2(k->wake, O_NONBLOCK | O_CLOEXEC) == -1) {
		snprintf(err, errsz, "output.kafka: pipe: %s",
		    strerror(errno));
		goto fail;
	}
	if ((k->mainq = rd_kafka_queue_get_main(k->rk)) == NULL) {
		snprintf(err, errsz, "output.kafka: no main queue");
		goto fail;
	}
	rd_kafka_queue_io_event_enable(k->mainq, k->wake[1], "1", 1);
	if ((k->ev_wake = event_new(base, k->wake[0], EV_READ | EV_PERSIST,
	    kafka_wake_cb, k)) == NULL ||
	    (k->ev_tick = event_new(base, -1, EV_PERSIST, kafka_tick_cb,
	    k)) == NULL ||
	    event_add(k->ev_wake, NULL) == -1 ||
	    event_add(k->ev_tick, &tick) == -1) {
		snprintf(err, errsz, "output.kafka: cannot add its events");
		goto fail;
	}
	log_info("kafka: producing to topic %s of %s", c->kafka_topic,
	    c->kafka_hosts);
	return k;
fail:
	kafka_free(k);
	return NULL;
}

/*
 * The document's key: the string at the dotted path, or NULL when the
 * document is not JSON or the field is missing, empty or not a string.
 */
static const char *
kafka_doc_key(struct kafka *k, const struct out_doc *d,
    struct json_object **rootp, size_t *lenp)
{
	struct json_object *o;
	int i;

	*rootp = NULL;
	*lenp = 0;
	if (k->keyparts == 0 || d->len > INT_MAX)
		return NULL;
	json_tokener_reset(k->tok);
	if ((o = json_tokener_parse_ex(k->tok, d->data, (int)d->len)) == NULL)
		return NULL;
	*rootp = o;
	for (i = 0; i < k->keyparts; i++)
		if (!json_object_object_get_ex(o, k->keypath[i], &o))
			return NULL;
	if (!json_object_is_type(o, json_type_string) ||
	    json_object_get_string_len(o) == 0)
		return NULL;
	*lenp = (size_t)json_object_get_string_len(o);
	return json_object_get_string(o);
}

static void
kafka_push(void *arg, struct out_doc *d)
{
	struct kafka *k = arg;
	struct json_object *root;
	const char *key;
	size_t keylen;
	rd_kafka_resp_err_t err;

	key = kafka_doc_key(k, d, &root, &keylen);
	/*
	 * The client copies the key, and keeps the document by reference
	 * until its delivery report (kafka_dr_cb).
	 */
	out_doc_ref(d);
	err = rd_kafka_producev(k->rk,
	    RD_KAFKA_V_RKT(k->rkt),
	    RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
	    RD_KAFKA_V_MSGFLAGS(0),
	    RD_KAFKA_V_VALUE(d->data, d->len),
	    RD_KAFKA_V_KEY(key, keylen),
	    RD_KAFKA_V_OPAQUE(d),
	    RD_KAFKA_V_END);
	json_object_put(root);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		out_doc_unref(d);
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		k->cnt.accepted++;
		k->cnt.queued++;
		break;
	case RD_KAFKA_RESP_ERR__QUEUE_FULL:
		k->cnt.dropped_full++;
		break;
	default:
		/*
		 * Too large, for one: no retry would help. Taken and refused
		 * for good, so that accepted = sent + rejected + failed +
		 * queued holds.
		 */
		k->cnt.accepted++;
		k->cnt.rejected++;
		if (kafka_log_allowed(k))
			log_warnx("kafka: document refused: %s",
			    rd_kafka_err2str(err));
		break;
	}
}

static void
kafka_counters(void *arg, struct out_counters *c)
{
	struct kafka *k = arg;

	*c = k->cnt;
}

static void
kafka_close(void *arg, int64_t deadline)
{
	struct kafka *k = arg;
	int64_t left;
	rd_kafka_resp_err_t err;
	int i;

	left = (deadline - out_now()) / 1000000;
	if (left < 0)
		left = 0;
	if (left > INT_MAX)
		left = INT_MAX;
	/* Flush serves the delivery reports as they come. */
	err = rd_kafka_flush(k->rk, (int)left);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR && k->cnt.queued > 0) {
		/* Their reports say __PURGE_*: dropped_failed, unlogged. */
		k->closing = 1;
		if ((err = rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE |
		    RD_KAFKA_PURGE_F_INFLIGHT)) != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warnx("kafka: purge: %s", rd_kafka_err2str(err));
		for (i = 0; i < KAFKA_PURGE_WAIT_MS / 10 && k->cnt.queued > 0;
		    i++)
			rd_kafka_poll(k->rk, 10);
	}
	if (k->cnt.queued > 0) {
		/* Their documents are lost with the client: count them. */
		log_warnx("kafka: %llu messages without a report at close",
		    (unsigned long long)k->cnt.queued);
		k->cnt.dropped_failed += k->cnt.queued;
		k->cnt.queued = 0;
	}
	/* End the window now: say what it held back before the last word. */
	kafka_log_roll(k, out_now() + KAFKA_LOG_WINDOW);
	log_info("kafka: closed: accepted %llu sent %llu dropped_full %llu "
	    "dropped_failed %llu rejected %llu reconnects %llu",
	    (unsigned long long)k->cnt.accepted,
	    (unsigned long long)k->cnt.sent,
	    (unsigned long long)k->cnt.dropped_full,
	    (unsigned long long)k->cnt.dropped_failed,
	    (unsigned long long)k->cnt.rejected,
	    (unsigned long long)k->cnt.reconnects);
	kafka_free(k);
}

const struct out_ops out_kafka_ops = {
	.name = "kafka",
	.enabled = kafka_enabled,
	.open = kafka_open,
	.push = kafka_push,
	.counters = kafka_counters,
	.close = kafka_close,
};

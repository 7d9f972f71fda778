/*
 * Tests of the kafka output against librdkafka's mock brokers in this
 * process: documents arrive once, unchanged and keyed by their community
 * ID (or by nothing when told); an outage drops exactly what exceeds the queue and recovers by
 * itself; messages that time out are counted; close purges and frees.
 * Every wait is bounded; no check depends on how long anything took.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "check.h"
#include "kafka_mocklib.h"
#include "log.h"
#include "out.h"
#include "sfconfig.h"

#define NDOCS		300
#define PARTITIONS	6
#define SHARED_CID	"1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="

static struct kmock mock;
static struct event_base *base;

struct doc {
	struct out_doc	*d;
	char		 key[40];	/* "" when it has none */
	int		 seen;
	int32_t		 partition;
};

struct readback {
	struct doc	*docs;
	int		 n;
	int		 strangers;	/* read but never pushed */
	int		 wrong_key;
};

/*
 * A flow as the enricher writes it. Every third has no community ID, one
 * has a number there, every tenth shares one.
 */
static void
make_doc(struct doc *x, int i)
{
	char cid[96], buf[1024];
	int len;

	x->key[0] = '\0';
	if (i % 3 == 2)
		cid[0] = '\0';
	else if (i == 1)
		snprintf(cid, sizeof(cid), ",\"community_id\":%d", i);
	else {
		if (i % 10 == 0)
			snprintf(x->key, sizeof(x->key), "%s", SHARED_CID);
		else
			snprintf(x->key, sizeof(x->key),
			    "1:%08x%08xQm9yZ2VkSUQ=", i * 2654435761u, i);
		snprintf(cid, sizeof(cid), ",\"community_id\":\"%s\"", x->key);
	}
	len = snprintf(buf, sizeof(buf),
	    "{\"@timestamp\":\"2026-11-27T03:%02d:%02d.%06dZ\","
	    "\"event\":{\"kind\":\"event\",\"category\":[\"network\"],"
	    "\"type\":[\"connection\",\"end\"],\"sequence\":%d},"
	    "\"source\":{\"ip\":\"10.0.%d.%d\",\"port\":%d},"
	    "\"destination\":{\"ip\":\"192.0.2.%d\",\"port\":443,"
	    "\"domain\":\"api.example.com\"},"
	    "\"network\":{\"type\":\"ipv4\",\"transport\":\"tcp\","
	    "\"direction\":\"outbound\",\"bytes\":%d,\"packets\":%d%s},"
	    "\"process\":{\"pid\":%d,\"name\":\"curl\"}}",
	    i / 60 % 60, i % 60, i * 37 % 1000000, i, i / 250, i % 250,
	    32768 + i, i % 200 + 1, 1200 + i * 13, 4 + i % 17, cid, 1000 + i);
	x->d = out_doc_new(buf, (size_t)len);
	x->seen = 0;
	x->partition = -1;
}

static struct doc *
make_docs(int n)
{
	struct doc *v;
	int i;

	if ((v = calloc(n, sizeof(*v))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		make_doc(&v[i], i);
		if (v[i].d == NULL)
			fatal("out_doc_new");
	}
	return v;
}

/* Whether the output dropped every reference it took, then free them. */
static void
free_docs(struct doc *v, int n)
{
	int i, leaks = 0;

	for (i = 0; i < n; i++) {
		leaks += v[i].d->refs != 1;
		out_doc_unref(v[i].d);
	}
	CHECK_MSG(leaks == 0, "%d documents still referenced", leaks);
	free(v);
}

static void
config_for(struct sf_config *c, const char *topic, const char *more[])
{
	char arg[600], err[256];

	config_defaults(c);
	snprintf(arg, sizeof(arg), "output.kafka.hosts=%s",
	    kmock_bootstraps(&mock));
	if (config_set_arg(c, arg, err, sizeof(err)) == -1)
		fatalx("%s", err);
	snprintf(arg, sizeof(arg), "output.kafka.topic=%s", topic);
	if (config_set_arg(c, arg, err, sizeof(err)) == -1)
		fatalx("%s", err);
	for (; more != NULL && *more != NULL; more++)
		if (config_set_arg(c, *more, err, sizeof(err)) == -1)
			fatalx("%s: %s", *more, err);
}

static void *
open_kafka(const char *topic, const char *more[])
{
	struct sf_config c;
	char err[256];
	void *o;

	config_for(&c, topic, more);
	if ((o = out_kafka_ops.open(base, &c, err, sizeof(err))) == NULL)
		fatalx("open: %s", err);
	return o;
}

enum until { SENT, DOWN, SETTLED };

/* Run the loop until the counters say so, for at most seconds. */
static int
run_until(void *o, enum until what, uint64_t n, int seconds)
{
	struct out_counters c;
	struct timeval step = { 0, 20000 };
	int64_t deadline = out_now() + seconds * 1000000000LL;

	for (;;) {
		out_kafka_ops.counters(o, &c);
		if ((what == SENT && c.sent >= n) ||
		    (what == DOWN && c.up == 0) ||
		    (what == SETTLED && c.queued == 0))
			return 1;
		if (out_now() > deadline)
			return 0;
		event_base_loopexit(base, &step);
		event_base_dispatch(base);
	}
}

static void
push_docs(void *o, struct doc *docs, int from, int to)
{
	int i;

	for (i = from; i < to; i++)
		out_kafka_ops.push(o, docs[i].d);
}

static void
check_balance(void *o)
{
	struct out_counters c;

	out_kafka_ops.counters(o, &c);
	CHECK_MSG(c.accepted == c.sent + c.dropped_failed + c.queued,
	    "accepted %llu sent %llu dropped_failed %llu queued %llu",
	    (unsigned long long)c.accepted, (unsigned long long)c.sent,
	    (unsigned long long)c.dropped_failed,
	    (unsigned long long)c.queued);
}

static void
on_message(void *arg, int32_t partition, const char *key, size_t keylen,
    const char *value, size_t len)
{
	struct readback *rb = arg;
	struct doc *x;
	int i;

	for (i = 0; i < rb->n; i++) {
		x = &rb->docs[i];
		if (x->d->len != len || memcmp(x->d->data, value, len) != 0)
			continue;
		x->seen++;
		x->partition = partition;
		if (keylen != strlen(x->key) ||
		    (keylen > 0 && memcmp(key, x->key, keylen) != 0))
			rb->wrong_key++;
		return;
	}
	rb->strangers++;
}

/* Read the topic back, checking each document came once as it was. */
static void
read_back(const char *topic, struct doc *docs, int n)
{
	struct readback rb = { docs, n, 0, 0 };
	char err[256];
	long got;
	int i, once = 0;

	got = kmock_consume(&mock, topic, PARTITIONS, 0, 15000, on_message,
	    &rb, err, sizeof(err));
	CHECK_MSG(got == n, "%s: read %ld of %d: %s", topic, got, n,
	    got == -1 ? err : "");
	for (i = 0; i < n; i++)
		once += docs[i].seen == 1;
	CHECK_MSG(once == n, "%s: %d of %d read exactly once", topic, once,
	    n);
	CHECK(rb.strangers == 0);
	CHECK_MSG(rb.wrong_key == 0, "%s: %d with the wrong key", topic,
	    rb.wrong_key);
}

static void
test_bad_config(void)
{
	struct sf_config c;
	const char *hosts[] = { "output.kafka.hosts=", NULL };
	const char *port[] = { "output.kafka.hosts=a:9092,b", NULL };
	char err[256];

	config_for(&c, "bad", hosts);
	CHECK(out_kafka_ops.open(base, &c, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "output.kafka.hosts") != NULL);
	config_for(&c, "bad", port);
	CHECK(out_kafka_ops.open(base, &c, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "output.kafka.hosts") != NULL);
}

static void
test_delivery(void)
{
	const char *more[] = { "output.kafka.compression=lz4", NULL };
	struct out_counters c;
	struct doc *docs = make_docs(NDOCS);
	void *o;
	int i, shared_part = -1, split = 0, shared = 0;

	o = open_kafka("flows", more);
	push_docs(o, docs, 0, NDOCS);
	CHECK_MSG(run_until(o, SENT, NDOCS, 20), "not all delivered");
	out_kafka_ops.counters(o, &c);
	CHECK(c.accepted == NDOCS);
	CHECK(c.sent == NDOCS);
	CHECK(c.dropped_full == 0 && c.dropped_failed == 0);
	CHECK(c.queued == 0);
	CHECK(c.queue_cap == 100000);
	CHECK(c.up == 1);
	out_kafka_ops.close(o, out_now() + 5000000000LL);

	read_back("flows", docs, NDOCS);
	for (i = 0; i < NDOCS; i++) {
		if (strcmp(docs[i].key, SHARED_CID) != 0)
			continue;
		shared++;
		if (shared_part == -1)
			shared_part = docs[i].partition;
		split += docs[i].partition != shared_part;
	}
	CHECK(shared > 1);
	CHECK_MSG(split == 0, "one community ID in %d+1 partitions", split);
	free_docs(docs, NDOCS);
}

static void
test_outage(void)
{
	const char *more[] = { "output.kafka.queue_size=50", NULL };
	struct out_counters c;
	struct doc *docs = make_docs(85);
	void *o;
	int i;

	o = open_kafka("outage", more);
	push_docs(o, docs, 0, 5);
	CHECK(run_until(o, SENT, 5, 20));

	CHECK(kmock_set_up(&mock, 0) == 0);
	CHECK_MSG(run_until(o, DOWN, 0, 20), "up did not go to 0");
	push_docs(o, docs, 5, 85);
	out_kafka_ops.counters(o, &c);
	CHECK_MSG(c.dropped_full == 30, "dropped_full %llu",
	    (unsigned long long)c.dropped_full);
	CHECK(c.accepted == 55);
	CHECK(c.queued == 50);
	CHECK(c.up == 0);
	run_until(o, SENT, 6, 2);	/* a while down: nothing is sent */
	out_kafka_ops.counters(o, &c);
	CHECK(c.sent == 5);
	check_balance(o);

	CHECK(kmock_set_up(&mock, 1) == 0);
	CHECK_MSG(run_until(o, SENT, 55, 30), "not recovered");
	out_kafka_ops.counters(o, &c);
	CHECK(c.sent == 55);
	CHECK(c.dropped_failed == 0);
	CHECK(c.up == 1);
	check_balance(o);
	out_kafka_ops.close(o, out_now() + 5000000000LL);

	/* What was dropped never reached the topic; the rest did, once. */
	read_back("outage", docs, 55);
	for (i = 55; i < 85; i++)
		CHECK(docs[i].seen == 0);
	free_docs(docs, 85);
}

/* output.kafka.key "" sends every document without a key. */
static void
test_no_key(void)
{
	const char *more[] = { "output.kafka.key=", NULL };
	struct doc *docs = make_docs(30);
	void *o;
	int i;

	for (i = 0; i < 30; i++)
		docs[i].key[0] = '\0';
	o = open_kafka("nokey", more);
	push_docs(o, docs, 0, 30);
	CHECK(run_until(o, SENT, 30, 20));
	check_balance(o);
	out_kafka_ops.close(o, out_now() + 5000000000LL);
	read_back("nokey", docs, 30);
	free_docs(docs, 30);
}

/* Every broker down, and a new output given the first n documents. */
static void *
open_down(const char *topic, const char *more[], struct doc *docs, int n)
{
	void *o;

	CHECK(kmock_set_up(&mock, 0) == 0);
	o = open_kafka(topic, more);
	push_docs(o, docs, 0, n);
	check_balance(o);
	return o;
}

static void
test_timeout(void)
{
	const char *more[] = { "output.kafka.timeout=1s", NULL };
	struct out_counters c;
	struct doc *docs = make_docs(20);
	void *o;

	o = open_down("timeout", more, docs, 20);
	CHECK_MSG(run_until(o, SETTLED, 0, 20), "messages never timed out");
	out_kafka_ops.counters(o, &c);
	CHECK(c.accepted == 20);
	CHECK_MSG(c.dropped_failed == 20, "dropped_failed %llu",
	    (unsigned long long)c.dropped_failed);
	CHECK(c.sent == 0);
	check_balance(o);
	out_kafka_ops.close(o, out_now() + 1000000000LL);
	free_docs(docs, 20);
	CHECK(kmock_set_up(&mock, 1) == 0);
}

/* Close while brokers are down: the queue is purged, every doc let go. */
static void
test_close_purges(void)
{
	struct doc *docs = make_docs(10);

	out_kafka_ops.close(open_down("purge", NULL, docs, 10),
	    out_now() + 200000000LL);
	free_docs(docs, 10);
	CHECK(kmock_set_up(&mock, 1) == 0);
}

int
main(void)
{
	char err[256];
	const char *topics[] = { "flows", "nokey", "outage", "timeout",
	    "purge" };
	size_t i;

	log_init("test_kafka", 0);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (kmock_start(&mock, 3, err, sizeof(err)) == -1)
		fatalx("%s", err);
	for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (kmock_topic(&mock, topics[i], PARTITIONS, err,
		    sizeof(err)) == -1)
			fatalx("%s", err);
	test_bad_config();
	test_delivery();
	test_no_key();
	test_outage();
	test_timeout();
	test_close_purges();
	kmock_stop(&mock);
	event_base_free(base);
	return check_done("test_kafka");
}

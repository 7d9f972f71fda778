/*
 * The mock kafka cluster of the kafka output's tests. See kafka_mocklib.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka_mocklib.h"

static int64_t
kmock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client configuration from pairs of property and value. */
static rd_kafka_conf_t *
kmock_conf(const char *const props[][2], size_t n, char *err, size_t errsz)
{
	rd_kafka_conf_t *conf;
	char why[256];
	size_t i;

	if ((conf = rd_kafka_conf_new()) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (rd_kafka_conf_set(conf, props[i][0], props[i][1], why,
		    sizeof(why)) != RD_KAFKA_CONF_OK) {
			snprintf(err, errsz, "%s: %s", props[i][0], why);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	return conf;
}

int
kmock_start(struct kmock *m, int brokers, char *err, size_t errsz)
{
	rd_kafka_conf_t *conf;
	char why[256];

	/* The cluster's own handle talks to no one: it has no brokers. */
	static const char *const props[][2] = { { "log_level", "3" } };

	memset(m, 0, sizeof(*m));
	if ((conf = kmock_conf(props, 1, err, errsz)) == NULL)
		return -1;
	if ((m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why,
	    sizeof(why))) == NULL) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errsz, "rd_kafka_new: %s", why);
		return -1;
	}
	if ((m->mc = rd_kafka_mock_cluster_new(m->rk, brokers)) == NULL) {
		snprintf(err, errsz, "cannot start %d mock brokers", brokers);
		rd_kafka_destroy(m->rk);
		m->rk = NULL;
		return -1;
	}
	m->brokers = brokers;
	return 0;
}

int
kmock_topic(struct kmock *m, const char *topic, int partitions, char *err,
    size_t errsz)
{
	rd_kafka_resp_err_t e;
	int replicas = m->brokers < 3 ? m->brokers : 3;

	if ((e = rd_kafka_mock_topic_create(m->mc, topic, partitions,
	    replicas)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz, "topic %s: %s", topic,
		    rd_kafka_err2str(e));
		return -1;
	}
	return 0;
}

const char *
kmock_bootstraps(const struct kmock *m)
{
	return rd_kafka_mock_cluster_bootstraps(m->mc);
}

int
kmock_set_up(struct kmock *m, int up)
{
	int32_t id;
	int rc = 0;

	/* The mock numbers its brokers from 1. */
	for (id = 1; id <= m->brokers; id++)
		if ((up ? rd_kafka_mock_broker_set_up(m->mc, id) :
		    rd_kafka_mock_broker_set_down(m->mc, id)) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			rc = -1;
	return rc;
}

static rd_kafka_t *
kmock_consumer(struct kmock *m, const char *topic, int partitions,
    char *err, size_t errsz)
{
	rd_kafka_conf_t *conf;
	rd_kafka_t *c;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_resp_err_t e;
	char why[256];
	int p;

	const char *const props[][2] = {
		{ "bootstrap.servers", kmock_bootstraps(m) },
		{ "group.id", "sockflow-kmock" },
		{ "enable.auto.commit", "false" },
		{ "enable.partition.eof", "true" },
	};

	if ((conf = kmock_conf(props, sizeof(props) / sizeof(props[0]), err,
	    errsz)) == NULL)
		return NULL;
	if ((c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why,
	    sizeof(why))) == NULL) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errsz, "consumer: %s", why);
		return NULL;
	}
	/* Assigned, not subscribed: no group to join, every partition. */
	parts = rd_kafka_topic_partition_list_new(partitions);
	for (p = 0; p < partitions; p++)
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	e = rd_kafka_assign(c, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz, "assign: %s", rd_kafka_err2str(e));
		rd_kafka_destroy(c);
		return NULL;
	}
	return c;
}

long
kmock_consume(struct kmock *m, const char *topic, int partitions, long want,
    int timeout_ms, kmock_msg_fn *fn, void *arg, char *err, size_t errsz)
{
	rd_kafka_t *c;
	rd_kafka_message_t *msg;
	char *at_end;
	int64_t deadline = kmock_now_ms() + timeout_ms;
	long n = 0;
	int ends = 0;

	if (partitions <= 0 || (at_end = calloc(partitions, 1)) == NULL) {
		snprintf(err, errsz, "bad partition count %d", partitions);
		return -1;
	}
	if ((c = kmock_consumer(m, topic, partitions, err, errsz)) == NULL) {
		free(at_end);
		return -1;
	}
	while (kmock_now_ms() < deadline &&
	    (want > 0 ? n < want : ends < partitions)) {
		if ((msg = rd_kafka_consumer_poll(c, 100)) == NULL)
			continue;
		if (msg->partition >= 0 && msg->partition < partitions) {
			if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				ends += !at_end[msg->partition];
				at_end[msg->partition] = 1;
			} else if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				ends -= at_end[msg->partition];
				at_end[msg->partition] = 0;
				fn(arg, msg->partition, msg->key, msg->key_len,
				    msg->payload, msg->len);
				n++;
			}
		}
		rd_kafka_message_destroy(msg);
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	free(at_end);
	return n;
}

void
kmock_stop(struct kmock *m)
{
	if (m->mc != NULL)
		rd_kafka_mock_cluster_destroy(m->mc);
	if (m->rk != NULL)
		rd_kafka_destroy(m->rk);
	memset(m, 0, sizeof(*m));
}

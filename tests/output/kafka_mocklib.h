/*
 * A kafka cluster in the test's own process (librdkafka's mock brokers),
 * and a consumer that reads a whole topic back from its beginning: what
 * tests/output/test_kafka and the kafka_mock tool share.
 */
#ifndef SOCKFLOW_KAFKA_MOCKLIB_H
#define SOCKFLOW_KAFKA_MOCKLIB_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct kmock {
	rd_kafka_t		*rk;	/* the handle the cluster lives in */
	rd_kafka_mock_cluster_t	*mc;
	int			 brokers;
};

/* A message read back; key is NULL (keylen 0) when it had none. */
typedef void	kmock_msg_fn(void *arg, int32_t partition, const char *key,
		    size_t keylen, const char *value, size_t valuelen);

int		 kmock_start(struct kmock *, int brokers, char *err,
		    size_t errsz);
int		 kmock_topic(struct kmock *, const char *topic, int partitions,
		    char *err, size_t errsz);
const char	*kmock_bootstraps(const struct kmock *);
/* Every broker down (connections closed and refused) or up again. */
int		 kmock_set_up(struct kmock *, int up);
/*
 * Read the topic from its beginning until want messages came (want 0:
 * until every partition is at its end), or timeout_ms passed. Returns how
 * many were read, or -1 with a message in err.
 */
long		 kmock_consume(struct kmock *, const char *topic,
		    int partitions, long want, int timeout_ms, kmock_msg_fn *,
		    void *arg, char *err, size_t errsz);
void		 kmock_stop(struct kmock *);

#endif

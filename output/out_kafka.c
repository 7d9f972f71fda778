/*
 * The kafka output: not written yet.
 */
#include "config.h"

#include <stdio.h>

#include "out.h"
#include "sfconfig.h"

static int
kafka_enabled(const struct sf_config *c)
{
	return c->kafka_enabled == 1;
}

static void *
kafka_open(struct event_base *base, const struct sf_config *c, char *err,
    size_t errsz)
{
	(void)base;
	(void)c;
	snprintf(err, errsz, "the kafka output is not built yet");
	return NULL;
}

const struct out_ops out_kafka_ops = {
	.name = "kafka",
	.enabled = kafka_enabled,
	.open = kafka_open,
};

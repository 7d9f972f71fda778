/*
 * The es output: not written yet.
 */
#include "config.h"

#include <stdio.h>

#include "out.h"
#include "sfconfig.h"

static int
es_enabled(const struct sf_config *c)
{
	return c->es_enabled == 1;
}

static void *
es_open(struct event_base *base, const struct sf_config *c, char *err,
    size_t errsz)
{
	(void)base;
	(void)c;
	snprintf(err, errsz, "the elasticsearch output is not built yet");
	return NULL;
}

const struct out_ops out_es_ops = {
	.name = "elasticsearch",
	.enabled = es_enabled,
	.open = es_open,
};

/*
 * libFuzzer target for the configuration file parser (common/sfconfig.c):
 * the input is a YAML file. A file refused must leave the configuration
 * as it was and say why; a file accepted must give values within what
 * each option allows, and config_dump() (sockflow -n) must write them
 * out as a file that loads back to the same configuration.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfconfig.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

/* A name or path as set_value() lets it in: no space, no control. */
static void
check_str(const char *s, size_t size, int path)
{
	const char *end;

	CHECK((end = memchr(s, '\0', size)) != NULL);
	if (path)
		CHECK(s == end || *s == '/');
	else
		CHECK(memchr(s, '/', (size_t)(end - s)) == NULL &&
		    memchr(s, ':', (size_t)(end - s)) == NULL);
	for (; s < end; s++)
		CHECK((unsigned char)*s > ' ' && (unsigned char)*s < 0x7f);
}

static void
check_config(const struct sf_config *c)
{
	CHECK(c->flow_inactive_timeout > 0 && c->socket_inactive_timeout > 0 &&
	    c->flow_termination_timeout >= 0 && c->clock_max_drift > 0 &&
	    c->clock_sync_period > 0 && c->guess_timeout > 0 &&
	    c->flow_report_interval >= 0 && c->stats_interval >= 0);
	CHECK(c->perf_queue_size >= 1 && c->lost_queue_size >= 1);
	CHECK(c->ring_size_exponent >= 1 && c->ring_size_exponent <= 14);
	CHECK(c->dns_snaplen >= 128 && c->dns_snaplen <= 65535);
	CHECK(c->enable_ipv6 >= -1 && c->enable_ipv6 <= 1);
	CHECK(c->dns_enabled >= -1 && c->dns_enabled <= 1);
	CHECK(c->backend == BACKEND_AUTO || c->backend == BACKEND_KPROBE ||
	    c->backend == BACKEND_TRACEPOINT);
	CHECK(c->dns_type == DNS_TYPE_AF_PACKET);
	check_str(c->tracefs_path, sizeof(c->tracefs_path), 1);
	check_str(c->user, sizeof(c->user), 0);
	check_str(c->dns_interface, sizeof(c->dns_interface), 0);
}

/* Field by field: struct copies need not copy the padding. */
static int
same(const struct sf_config *a, const struct sf_config *b)
{
	return a->flow_inactive_timeout == b->flow_inactive_timeout &&
	    a->flow_termination_timeout == b->flow_termination_timeout &&
	    a->socket_inactive_timeout == b->socket_inactive_timeout &&
	    a->perf_queue_size == b->perf_queue_size &&
	    a->lost_queue_size == b->lost_queue_size &&
	    a->ring_size_exponent == b->ring_size_exponent &&
	    strcmp(a->tracefs_path, b->tracefs_path) == 0 &&
	    a->enable_ipv6 == b->enable_ipv6 &&
	    a->clock_max_drift == b->clock_max_drift &&
	    a->clock_sync_period == b->clock_sync_period &&
	    a->flow_report_interval == b->flow_report_interval &&
	    a->stats_interval == b->stats_interval &&
	    strcmp(a->user, b->user) == 0 && a->backend == b->backend &&
	    a->guess_timeout == b->guess_timeout &&
	    a->dns_enabled == b->dns_enabled && a->dns_type == b->dns_type &&
	    strcmp(a->dns_interface, b->dns_interface) == 0 &&
	    a->dns_snaplen == b->dns_snaplen;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct sf_config defaults, cfg, again;
	char err[512], *text = NULL;
	size_t textlen = 0;
	FILE *f;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	config_defaults(&defaults);
	cfg = defaults;
	memset(err, 'x', sizeof(err));
	/* The file ends where libFuzzer's buffer does. */
	if (config_load_buffer(&cfg, "fuzz.yml", (const char *)data, size,
	    err, sizeof(err)) == -1) {
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		CHECK(strncmp(err, "fuzz.yml:", 9) == 0);
		CHECK(same(&cfg, &defaults));
		return 0;
	}
	check_config(&cfg);
	config_dump(&cfg, devnull);

	/* What sockflow -n prints is a configuration file of the same. */
	if ((f = open_memstream(&text, &textlen)) == NULL)
		abort();
	config_dump(&cfg, f);
	if (fclose(f) != 0)
		abort();
	again = defaults;
	CHECK(config_load_buffer(&again, "dump", text, textlen, err,
	    sizeof(err)) == 0);
	CHECK(same(&again, &cfg));
	free(text);
	return 0;
}

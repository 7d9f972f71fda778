/*
 * Tests of the configuration: the dataset's defaults, every option parsed
 * from YAML (dotted and nested), command-line overrides, the dump
 * re-parsing to the same values, and every kind of bad input rejected with
 * file, line and key, leaving the configuration untouched.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sfconfig.h"

#define MS	1000000LL
#define SEC	(1000 * MS)

static int
load(struct sf_config *c, const char *text, char *err, size_t errsz)
{
	return config_load_buffer(c, "test.yml", text, strlen(text), err,
	    errsz);
}

static void
test_defaults(void)
{
	struct sf_config c;

	config_defaults(&c);
	CHECK(c.flow_inactive_timeout == 30 * SEC);
	CHECK(c.flow_termination_timeout == 5 * SEC);
	CHECK(c.socket_inactive_timeout == 60 * SEC);
	CHECK(c.perf_queue_size == 4096);
	CHECK(c.lost_queue_size == 128);
	CHECK(c.ring_size_exponent == 7);
	CHECK(c.tracefs_path[0] == '\0');
	CHECK(c.enable_ipv6 == -1);
	CHECK(c.clock_max_drift == 100 * MS);
	CHECK(c.clock_sync_period == 10 * SEC);
	CHECK(c.flow_report_interval == 60 * SEC);
	CHECK(c.stats_interval == 60 * SEC);
	CHECK(c.user[0] == '\0');
	CHECK(c.backend == BACKEND_AUTO);
	CHECK(c.guess_timeout == 15 * SEC);
}

static void
test_every_option(void)
{
	struct sf_config c;
	char err[256];
	const char *text =
	    "# all of them\n"
	    "socket.flow_inactive_timeout: 45s\n"
	    "socket.flow_termination_timeout: 1m30s\n"
	    "socket.socket_inactive_timeout: 2h\n"
	    "socket.perf_queue_size: 8192\n"
	    "socket.lost_queue_size: 64\n"
	    "socket.ring_size_exponent: 9\n"
	    "socket.tracefs_path: /sys/kernel/debug/tracing\n"
	    "socket.enable_ipv6: false\n"
	    "socket.clock_max_drift: 250ms\n"
	    "socket.clock_sync_period: 30s\n"
	    "socket.guess_timeout: 3s\n"
	    "socket.backend: tracepoint\n"
	    "sockflow:\n"
	    "  flow_report_interval: 5m\n"
	    "  stats_interval: 0s\n"
	    "  user: daemon\n";

	config_defaults(&c);
	CHECK_MSG(load(&c, text, err, sizeof(err)) == 0, "%s", err);
	CHECK(c.flow_inactive_timeout == 45 * SEC);
	CHECK(c.flow_termination_timeout == 90 * SEC);
	CHECK(c.socket_inactive_timeout == 7200 * SEC);
	CHECK(c.perf_queue_size == 8192);
	CHECK(c.lost_queue_size == 64);
	CHECK(c.ring_size_exponent == 9);
	CHECK(strcmp(c.tracefs_path, "/sys/kernel/debug/tracing") == 0);
	CHECK(c.enable_ipv6 == 0);
	CHECK(c.clock_max_drift == 250 * MS);
	CHECK(c.clock_sync_period == 30 * SEC);
	CHECK(c.guess_timeout == 3 * SEC);
	CHECK(c.backend == BACKEND_TRACEPOINT);
	CHECK(c.flow_report_interval == 300 * SEC);
	CHECK(c.stats_interval == 0);
	CHECK(strcmp(c.user, "daemon") == 0);

	/* Nested form of the dataset's keys. */
	config_defaults(&c);
	CHECK(load(&c, "socket:\n  enable_ipv6: true\n  ring_size_exponent: 3\n",
	    err, sizeof(err)) == 0);
	CHECK(c.enable_ipv6 == 1 && c.ring_size_exponent == 3);
	/* An empty file changes nothing. */
	CHECK(load(&c, "", err, sizeof(err)) == 0 && c.ring_size_exponent == 3);
}

static void
test_command_line(void)
{
	struct sf_config c;
	char err[256];

	config_defaults(&c);
	CHECK(config_set_arg(&c, "socket.flow_inactive_timeout=2s", err,
	    sizeof(err)) == 0 && c.flow_inactive_timeout == 2 * SEC);
	CHECK(config_set_arg(&c, "sockflow.flow_report_interval=0s", err,
	    sizeof(err)) == 0 && c.flow_report_interval == 0);
	CHECK(config_set_arg(&c, "socket.nope=1", err, sizeof(err)) == -1);
	CHECK(strstr(err, "command line") && strstr(err, "socket.nope"));
	CHECK(config_set_arg(&c, "novalue", err, sizeof(err)) == -1);
	CHECK(config_set_arg(&c, "=1", err, sizeof(err)) == -1);
}

static void
test_round_trip(void)
{
	struct sf_config a, b;
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *f;

	config_defaults(&a);
	CHECK(load(&a, "socket.flow_inactive_timeout: 1m1s\n"
	    "socket.clock_max_drift: 1500ms\nsocket.enable_ipv6: true\n"
	    "socket.backend: kprobe\n"
	    "sockflow.user: nobody\n", err, sizeof(err)) == 0);
	f = open_memstream(&buf, &len);
	config_dump(&a, f);
	fclose(f);
	config_defaults(&b);
	CHECK_MSG(load(&b, buf, err, sizeof(err)) == 0, "%s\n%s", err, buf);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	free(buf);
}

static void
bad(const char *text, int line, const char *want)
{
	struct sf_config c, before;
	char err[256], where[32];

	config_defaults(&c);
	c.perf_queue_size = 77;
	before = c;
	err[0] = '\0';
	CHECK_MSG(load(&c, text, err, sizeof(err)) == -1, "accepted: %s", text);
	snprintf(where, sizeof(where), "test.yml:%d:", line);
	CHECK_MSG(strncmp(err, where, strlen(where)) == 0,
	    "want %s in \"%s\"", where, err);
	CHECK_MSG(strstr(err, want) != NULL, "want \"%s\" in \"%s\"", want,
	    err);
	/* A file with an error changes nothing, even what preceded it. */
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);
}

static void
test_bad_values(void)
{
	bad("socket.perf_queue_size: 1\nsocket.flow_inactive_timeout: 30x\n",
	    2, "socket.flow_inactive_timeout");
	bad("socket.flow_inactive_timeout: -5s\n", 1, "not a duration");
	bad("socket.flow_inactive_timeout: 30\n", 1, "not a duration");
	bad("socket.flow_inactive_timeout: 25h\n", 1, "out of range");
	bad("socket.flow_inactive_timeout: 99999999999999999999h\n", 1,
	    "not a duration");
	bad("socket.flow_inactive_timeout: 10ms\n", 1, "out of range");
	bad("\n\nsocket.perf_queue_size: many\n", 3, "not an integer");
	bad("socket.perf_queue_size: 0\n", 1, "out of range");
	bad("socket.perf_queue_size: 4096.5\n", 1, "not an integer");
	bad("socket.ring_size_exponent: 40\n", 1, "out of range");
	bad("socket.lost_queue_size: 9999999999\n", 1, "out of range");
	bad("socket.enable_ipv6: yes please\n", 1, "not true or false");
	bad("socket.backend: ebpf\n", 1, "not one of auto, kprobe or tracepoint");
	bad("\nsocket.guess_timeout: 1ms\n", 2, "out of range");
	bad("socket.tracefs_path: relative/path\n", 1, "absolute");
	bad("socket.tracefs_path: \"/a b\"\n", 1, "bad character");
	/* The dump writes values in quotes: none may hold one (found by
	 * tests/fuzz/fuzz_config), nor a backslash. */
	bad("sockflow.user: 'a\"b'\n", 1, "bad character");
	bad("sockflow.user: 'a\\b'\n", 1, "bad character");
	bad("socket.dns.af_packet.interface: 'e\"0'\n", 1, "bad character");
	bad("socket.dns.af_packet.snaplen: 100\n", 1, "out of range");
	bad("socket.dns.af_packet.snaplen: 70000\n", 1, "out of range");
	bad("socket.dns.type: pcap\n", 1, "is not af_packet");
	bad("socket.dns.af_packet.interface: abcdefghijklmnop\n", 1,
	    "too long");
	bad("socket.dns.enabled: yes\n", 1, "not true or false");
	bad("sockflow.user: \"../etc\"\n", 1, "bad name");
	bad("socket.flow_timeout: 5s\n", 1, "unknown option socket.flow_timeout");
	bad("sockflow.stats_interval: 500ms\n", 1, "at least 1s");
	bad("sockflow.flow_report_interval: 1ms\n", 1, "at least 1s");
	bad("socket:\n  unknown_thing: 1\n", 2, "unknown option "
	    "socket.unknown_thing");
	bad("socket.perf_queue_size: [1, 2]\n", 1, "lists");
	bad("- a\n- b\n", 1, "mapping");
	bad("socket.perf_queue_size: 1\n  bad: indent\n", 2, "");
	bad("a:\n b:\n  c:\n   d:\n    e:\n     f: 1\n", 6, "deeply");
}

static void
test_durations(void)
{
	int64_t v;

	CHECK(config_parse_duration("1h2m3s4ms", &v) == 0 &&
	    v == 3723 * SEC + 4 * MS);
	CHECK(config_parse_duration("15us", &v) == 0 && v == 15000);
	CHECK(config_parse_duration("7ns", &v) == 0 && v == 7);
	CHECK(config_parse_duration("", &v) == -1);
	CHECK(config_parse_duration("s", &v) == -1);
	CHECK(config_parse_duration("5", &v) == -1);
	CHECK(config_parse_duration("5d", &v) == -1);
	CHECK(config_parse_duration("1.5s", &v) == -1);
	CHECK(config_parse_duration("9223372036854775807h", &v) == -1);
}

int
main(void)
{
	test_defaults();
	test_every_option();
	test_command_line();
	test_round_trip();
	test_bad_values();
	test_durations();
	return check_done("test_config");
}

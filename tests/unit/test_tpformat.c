/*
 * Tests of the tracefs format parser: the saved format files of a 6.18
 * kernel (tests/data/formats), the live format files of the running kernel
 * checked against their own "id" files, and hostile format text.
 */
#include "config.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tpformat.h"

static char *
slurp(const char *path, size_t *lenp)
{
	FILE *f;
	char *buf;
	size_t n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	buf = calloc(1, 65536);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	*lenp = n;
	return buf;
}

static int
parse_file(const char *path, struct tp_format *fmt)
{
	char err[256];
	size_t len;
	char *text = slurp(path, &len);
	int rv;

	if (text == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	rv = tpformat_parse(text, len, fmt, err, sizeof(err));
	if (rv == -1)
		fprintf(stderr, "%s: %s\n", path, err);
	free(text);
	return rv;
}

static void
test_saved(const char *srcdir)
{
	struct tp_format fmt;
	const struct tp_field *f;
	char path[1024];

	snprintf(path, sizeof(path),
	    "%s/tests/data/formats/sock_inet_sock_set_state.format", srcdir);
	CHECK(parse_file(path, &fmt) == 0);
	CHECK(strcmp(fmt.name, "inet_sock_set_state") == 0);
	CHECK(fmt.id == 2287);
	CHECK(fmt.nfields == 15);
	f = tpformat_field(&fmt, "common_type");
	CHECK(f != NULL && f->offset == 0 && f->size == 2 && !f->is_signed);
	f = tpformat_field(&fmt, "common_pid");
	CHECK(f != NULL && f->offset == 4 && f->size == 4 && f->is_signed);
	f = tpformat_field(&fmt, "skaddr");
	CHECK(f != NULL && f->offset == 8 && f->size == 8 && !f->is_array);
	f = tpformat_field(&fmt, "newstate");
	CHECK(f != NULL && f->offset == 20 && f->size == 4 && f->is_signed);
	f = tpformat_field(&fmt, "saddr");
	CHECK(f != NULL && f->offset == 32 && f->size == 4 && f->is_array);
	f = tpformat_field(&fmt, "daddr_v6");
	CHECK(f != NULL && f->offset == 56 && f->size == 16 && f->is_array);
	CHECK(fmt.min_size == 72);
	CHECK(tpformat_field(&fmt, "REC") == NULL);

	snprintf(path, sizeof(path),
	    "%s/tests/data/formats/sched_sched_process_exec.format", srcdir);
	CHECK(parse_file(path, &fmt) == 0);
	f = tpformat_field(&fmt, "filename");
	CHECK(f != NULL && f->is_dataloc && f->size == 4 && !f->is_array);
	f = tpformat_field(&fmt, "old_pid");
	CHECK(f != NULL && f->offset == 16 && f->is_signed);

	snprintf(path, sizeof(path),
	    "%s/tests/data/formats/fib6_fib6_table_lookup.format", srcdir);
	CHECK(parse_file(path, &fmt) == 0);
	f = tpformat_field(&fmt, "src");
	CHECK(f != NULL && f->size == 16 && f->is_array);
	f = tpformat_field(&fmt, "name");
	CHECK(f != NULL && f->is_array);
}

/* Find a tracefs with events, mounting one when none is (root only). */
static const char *
find_tracefs(void)
{
	static const char *cands[] = { "/sys/kernel/tracing",
	    "/sys/kernel/debug/tracing" };
	struct stat st;
	char path[256];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events", cands[i]);
		if (stat(path, &st) == 0)
			return cands[i];
	}
	if (geteuid() == 0 && mount("nodev", "/sys/kernel/tracing", "tracefs",
	    0, NULL) == 0)
		return "/sys/kernel/tracing";
	return NULL;
}

static void
test_live(void)
{
	static const char *events[] = {
		"sock/inet_sock_set_state", "sock/sock_send_length",
		"sock/sock_recv_length", "tcp/tcp_destroy_sock",
		"fib/fib_table_lookup", "fib6/fib6_table_lookup",
		"sched/sched_process_exec", "sched/sched_process_fork",
		"sched/sched_process_exit",
	};
	const char *tfs = find_tracefs();
	struct tp_format fmt;
	char path[512], idbuf[32];
	size_t i, n;
	FILE *f;

	/* The running kernel's formats must be readable: this runs as root. */
	CHECK_MSG(tfs != NULL, "no tracefs (run as root)");
	if (tfs == NULL)
		return;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/%s/format", tfs,
		    events[i]);
		CHECK_MSG(parse_file(path, &fmt) == 0, "%s", path);
		snprintf(path, sizeof(path), "%s/events/%s/id", tfs, events[i]);
		idbuf[0] = '\0';
		if ((f = fopen(path, "r")) != NULL) {
			n = fread(idbuf, 1, sizeof(idbuf) - 1, f);
			idbuf[n] = '\0';
			fclose(f);
		}
		CHECK_MSG((unsigned long)fmt.id == strtoul(idbuf, NULL, 10),
		    "%s: id %u vs %s", events[i], fmt.id, idbuf);
		CHECK(strcmp(fmt.name, strchr(events[i], '/') + 1) == 0);
		CHECK(tpformat_field(&fmt, "common_flags") != NULL);
	}
}

static int
parse_str(const char *s)
{
	struct tp_format fmt;
	char err[256];

	return tpformat_parse(s, strlen(s), &fmt, err, sizeof(err));
}

#define HDR "name: t\nID: 7\nformat:\n" \
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"

static void
test_hostile(const char *srcdir)
{
	char path[1024], buf[8192], err[256];
	struct tp_format fmt;
	size_t len, cut;
	char *text;
	int i, off;

	CHECK(parse_str(HDR) == 0);
	CHECK(parse_str(HDR "\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n")
	    == 0);
	/* Missing name, ID, or common_type. */
	CHECK(parse_str("ID: 7\nformat:\n\tfield:unsigned short common_type;"
	    "\toffset:0;\tsize:2;\tsigned:0;\n") == -1);
	CHECK(parse_str("name: t\nformat:\n\tfield:unsigned short "
	    "common_type;\toffset:0;\tsize:2;\tsigned:0;\n") == -1);
	CHECK(parse_str("name: t\nID: 7\n\tfield:int x;\toffset:8;\tsize:4;"
	    "\tsigned:1;\n") == -1);
	CHECK(parse_str("name: t\nID: 0\nformat:\n") == -1);
	CHECK(parse_str("name: t\nID: 70000\nformat:\n") == -1);
	CHECK(parse_str("name: t\nID: 12abc\nformat:\n") == -1);
	/* Bad numbers and layouts. */
	CHECK(parse_str(HDR "\tfield:int x;\toffset:5000;\tsize:4;\tsigned:1;\n")
	    == -1);
	CHECK(parse_str(HDR "\tfield:int x;\toffset:4094;\tsize:4;\tsigned:1;\n")
	    == -1);
	CHECK(parse_str(HDR "\tfield:int x;\toffset:8;\tsize:0;\tsigned:1;\n")
	    == -1);
	CHECK(parse_str(HDR "\tfield:int x;\toffset:8;\tsize:4;\tsigned:2;\n")
	    == -1);
	CHECK(parse_str(HDR "\tfield:int x;\toffset:8\tsize:4;\tsigned:1;\n")
	    == -1);
	CHECK(parse_str(HDR "\tfield:int x;\toffset:99999999999999999999;"
	    "\tsize:4;\tsigned:1;\n") == -1);
	CHECK(parse_str(HDR "\tfield:int ;\toffset:8;\tsize:4;\tsigned:1;\n")
	    == -1);
	CHECK(parse_str(HDR "\tfield:int x[4;\toffset:8;\tsize:4;\tsigned:1;\n")
	    == -1);
	CHECK(parse_str(HDR "\tfield:__data_loc char[] s;\toffset:8;\tsize:8;"
	    "\tsigned:0;\n") == -1);
	CHECK(parse_str(HDR "\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n"
	    "\tfield:int x;\toffset:12;\tsize:4;\tsigned:1;\n") == -1);
	/* A name of 64 characters does not fit. */
	off = snprintf(buf, sizeof(buf), HDR "\tfield:int ");
	for (i = 0; i < 64; i++)
		buf[off++] = 'a';
	snprintf(buf + off, sizeof(buf) - (size_t)off,
	    ";\toffset:8;\tsize:4;\tsigned:1;\n");
	CHECK(parse_str(buf) == -1);
	/* More fields than TP_MAX_FIELDS. */
	off = snprintf(buf, sizeof(buf), HDR);
	for (i = 0; i < TP_MAX_FIELDS; i++)
		off += snprintf(buf + off, sizeof(buf) - (size_t)off,
		    "\tfield:char f%d;\toffset:%d;\tsize:1;\tsigned:0;\n", i,
		    8 + i);
	CHECK(parse_str(buf) == -1);

	/* Every truncation of a real file parses or fails; none crashes. */
	snprintf(path, sizeof(path),
	    "%s/tests/data/formats/sock_inet_sock_set_state.format", srcdir);
	text = slurp(path, &len);
	CHECK(text != NULL);
	if (text != NULL) {
		int failed = 0;

		for (cut = 0; cut < len; cut++)
			if (tpformat_parse(text, cut, &fmt, err,
			    sizeof(err)) == -1)
				failed++;
		/* Before the common_type line ends, nothing can parse. */
		CHECK(failed > 150);
		free(text);
	}
}

static void
test_accessors(void)
{
	struct tp_format fmt;
	const struct tp_field *x, *s, *a, *d;
	uint8_t rec[32];
	uint64_t u;
	int64_t v;
	int32_t neg = -5;
	uint32_t loc;
	const uint8_t *p;
	size_t l;
	char err[128];
	const char *t = HDR
	    "\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n"
	    "\tfield:__u8 a[4];\toffset:12;\tsize:4;\tsigned:0;\n"
	    "\tfield:__data_loc char[] s;\toffset:16;\tsize:4;\tsigned:0;\n"
	    "\tfield:unsigned int d;\toffset:20;\tsize:4;\tsigned:0;\n";

	CHECK(tpformat_parse(t, strlen(t), &fmt, err, sizeof(err)) == 0);
	x = tpformat_field(&fmt, "x");
	a = tpformat_field(&fmt, "a");
	s = tpformat_field(&fmt, "s");
	d = tpformat_field(&fmt, "d");
	CHECK(x && a && s && d);
	if (!(x && a && s && d))
		return;
	memset(rec, 0, sizeof(rec));
	memcpy(rec + 8, &neg, 4);
	memcpy(rec + 20, &neg, 4);
	memcpy(rec + 12, "\x7f\x00\x00\x01", 4);
	memcpy(rec + 24, "lo\0\0", 4);
	loc = (4U << 16) | 24;
	memcpy(rec + 16, &loc, 4);

	CHECK(tp_get_s64(x, rec, sizeof(rec), &v) == 0 && v == -5);
	CHECK(tp_get_u64(d, rec, sizeof(rec), &u) == 0 && u == 0xfffffffbULL);
	CHECK(tp_get_s64(d, rec, sizeof(rec), &v) == 0 && v == 0xfffffffbLL);
	CHECK(tp_get_u64(x, rec, 11, &u) == -1);
	CHECK(tp_get_u64(a, rec, sizeof(rec), &u) == -1);
	CHECK(tp_get_bytes(a, rec, sizeof(rec), &loc, 4) == 0 &&
	    memcmp(&loc, "\x7f\x00\x00\x01", 4) == 0);
	CHECK(tp_get_bytes(a, rec, sizeof(rec), &u, 8) == -1);
	CHECK(tp_get_dataloc(s, rec, sizeof(rec), &p, &l) == 0 && l == 2 &&
	    memcmp(p, "lo", 2) == 0);
	/* A data_loc that points past the record is refused. */
	loc = (40U << 16) | 24;
	memcpy(rec + 16, &loc, 4);
	CHECK(tp_get_dataloc(s, rec, sizeof(rec), &p, &l) == -1);
	loc = (1U << 16) | 0xffff;
	memcpy(rec + 16, &loc, 4);
	CHECK(tp_get_dataloc(s, rec, sizeof(rec), &p, &l) == -1);
	CHECK(tp_get_dataloc(x, rec, sizeof(rec), &p, &l) == -1);
}

int
main(void)
{
	const char *srcdir = getenv("top_srcdir");

	if (srcdir == NULL)
		srcdir = ".";
	test_saved(srcdir);
	test_hostile(srcdir);
	test_accessors();
	test_live();
	return check_done("test_tpformat");
}

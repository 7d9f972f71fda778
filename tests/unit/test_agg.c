/*
 * Tests of the aggregator's core without a kernel: perf records are built
 * from the saved format of sock:inet_sock_set_state (offsets taken from
 * the parsed format, as the aggregator does), decoded, reordered and fed
 * to the socket table, and the flow records that come out are checked.
 */
#include "config.h"

#include <linux/perf_event.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "check.h"

#define MAXFLOWS	16

static struct msg_flow flows[MAXFLOWS];
static int nflows;
static struct msg_process procs[MAXFLOWS];
static int nprocs;
static struct tp_format ssfmt;
static char *ss_text;
static size_t ss_len;

static void
on_flow(const struct msg_flow *f, void *arg)
{
	if (nflows < MAXFLOWS)
		flows[nflows] = *f;
	nflows++;
}

static void
on_proc(const struct msg_process *p, void *arg)
{
	if (nprocs < MAXFLOWS)
		procs[nprocs] = *p;
	nprocs++;
}

static void
reset(void)
{
	nflows = nprocs = 0;
	memset(flows, 0, sizeof(flows));
	memset(procs, 0, sizeof(procs));
}

static void
load_format(const char *srcdir)
{
	char path[1024], err[256];
	FILE *f;

	snprintf(path, sizeof(path),
	    "%s/tests/data/formats/sock_inet_sock_set_state.format", srcdir);
	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(1);
	}
	ss_text = calloc(1, 65536);
	ss_len = fread(ss_text, 1, 65535, f);
	fclose(f);
	if (tpformat_parse(ss_text, ss_len, &ssfmt, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
}

static struct agg_decoder *
decoder_from(const char *text, size_t len, char *err, size_t errsz)
{
	struct msg_formats fm;
	struct msg_format mf;

	memset(&fm, 0, sizeof(fm));
	memset(&mf, 0, sizeof(mf));
	mf.id = ssfmt.id;
	snprintf(mf.system, sizeof(mf.system), "sock");
	snprintf(mf.name, sizeof(mf.name), "inet_sock_set_state");
	mf.text = (char *)text;
	mf.textlen = len;
	fm.v = &mf;
	fm.n = 1;
	fm.ncpus = 2;
	return agg_decoder_new(&fm, err, errsz);
}

static void
put(const char *name, uint8_t *raw, const void *v, size_t n)
{
	const struct tp_field *f = tpformat_field(&ssfmt, name);

	if (f == NULL || f->size < n) {
		fprintf(stderr, "field %s\n", name);
		exit(1);
	}
	memcpy(raw + f->offset, v, n);
}

struct st {
	uint64_t	time;
	uint32_t	pid;
	int		softirq;
	uint64_t	sk;
	int		olds, news;
	int		family;		/* 2 or 10 */
	const char	*saddr, *daddr;
	uint16_t	sport, dport;
};

/* A PERF_RECORD_SAMPLE of inet_sock_set_state; returns its size. */
static size_t
make_sample(uint8_t *rec, const struct st *s)
{
	struct perf_event_header h;
	uint8_t raw[256];
	uint32_t rawlen = (uint32_t)ssfmt.min_size, u32, cpu = 0, res = 0;
	uint16_t u16, type = (uint16_t)ssfmt.id;
	uint8_t flags = s->softirq ? 0x10 : 0;
	int32_t i32;
	size_t off, size;
	uint8_t a[16];

	memset(raw, 0, sizeof(raw));
	put("common_type", raw, &type, 2);
	put("common_flags", raw, &flags, 1);
	put("skaddr", raw, &s->sk, 8);
	i32 = s->olds;
	put("oldstate", raw, &i32, 4);
	i32 = s->news;
	put("newstate", raw, &i32, 4);
	put("sport", raw, &s->sport, 2);
	put("dport", raw, &s->dport, 2);
	u16 = (uint16_t)s->family;
	put("family", raw, &u16, 2);
	u16 = 6;
	put("protocol", raw, &u16, 2);
	if (s->family == 2) {
		inet_pton(AF_INET, s->saddr, a);
		put("saddr", raw, a, 4);
		inet_pton(AF_INET, s->daddr, a);
		put("daddr", raw, a, 4);
	} else {
		inet_pton(AF_INET6, s->saddr, a);
		put("saddr_v6", raw, a, 16);
		inet_pton(AF_INET6, s->daddr, a);
		put("daddr_v6", raw, a, 16);
	}
	size = sizeof(h) + 8 + 8 + 8 + 4 + rawlen;
	size = (size + 7) & ~(size_t)7;
	memset(rec, 0, size);
	h.type = PERF_RECORD_SAMPLE;
	h.misc = 0;
	h.size = (uint16_t)size;
	memcpy(rec, &h, sizeof(h));
	off = sizeof(h);
	memcpy(rec + off, &s->pid, 4);
	memcpy(rec + off + 4, &s->pid, 4);
	memcpy(rec + off + 8, &s->time, 8);
	memcpy(rec + off + 16, &cpu, 4);
	memcpy(rec + off + 20, &res, 4);
	u32 = rawlen;
	memcpy(rec + off + 24, &u32, 4);
	memcpy(rec + off + 28, raw, rawlen);
	return size;
}

static void
feed(struct agg_decoder *d, struct agg_flows *t, const struct st *s, int n)
{
	uint8_t rec[512];
	struct agg_event ev;
	int i;

	for (i = 0; i < n; i++) {
		size_t len = make_sample(rec, &s[i]);

		CHECK(agg_decode_record(d, rec, len, &ev) == 1);
		agg_flows_event(t, &ev);
	}
}

static int
ip_is(const struct msg_flow *f, const uint8_t *ip, const char *want)
{
	uint8_t a[16];

	if (f->family == 4)
		return inet_pton(AF_INET, want, a) == 1 && memcmp(a, ip, 4) == 0;
	return inet_pton(AF_INET6, want, a) == 1 && memcmp(a, ip, 16) == 0;
}

static const struct st outbound4[] = {
	{ 1000, 100, 0, 0xffff888000001000ULL, 7, 2, 2, "10.0.0.1",
	    "10.0.0.2", 0, 80 },
	{ 2000, 999, 1, 0xffff888000001000ULL, 2, 1, 2, "10.0.0.1",
	    "10.0.0.2", 40000, 80 },
	{ 3000, 100, 0, 0xffff888000001000ULL, 1, 4, 2, "10.0.0.1",
	    "10.0.0.2", 40000, 80 },
	{ 4000, 555, 1, 0xffff888000001000ULL, 4, 5, 2, "10.0.0.1",
	    "10.0.0.2", 40000, 80 },
	{ 5000, 555, 1, 0xffff888000001000ULL, 5, 7, 2, "10.0.0.1",
	    "10.0.0.2", 40000, 80 },
};

static void
test_outbound(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, on_flow, on_proc, NULL);

	reset();
	feed(d, t, outbound4, 5);
	CHECK(nflows == 1);
	CHECK(flows[0].family == 4 && flows[0].transport == 6);
	CHECK(flows[0].direction == FLOW_DIR_OUTBOUND);
	/* The pid of the connect(), not of the softirq samples. */
	CHECK(flows[0].pid == 100);
	CHECK(ip_is(&flows[0], flows[0].local.ip, "10.0.0.1"));
	CHECK(ip_is(&flows[0], flows[0].remote.ip, "10.0.0.2"));
	CHECK(flows[0].local.port == 40000 && flows[0].remote.port == 80);
	CHECK(flows[0].final && flows[0].complete);
	CHECK(flows[0].end_ns - flows[0].start_ns == 4000);
	CHECK(flows[0].sock == 0xffff888000001000ULL);
	CHECK(agg_flows_stats(t)->flows == 1);
	agg_flows_free(t);
}

static void
test_inbound6(struct agg_decoder *d)
{
	const struct st in6[] = {
		{ 100, 777, 1, 0xffff888000002000ULL, 3, 1, 10, "fd00::1",
		    "fd00::2", 443, 50000 },
		{ 200, 778, 1, 0xffff888000002000ULL, 1, 8, 10, "fd00::1",
		    "fd00::2", 443, 50000 },
		{ 300, 200, 0, 0xffff888000002000ULL, 8, 9, 10, "fd00::1",
		    "fd00::2", 443, 50000 },
		{ 400, 779, 1, 0xffff888000002000ULL, 9, 7, 10, "fd00::1",
		    "fd00::2", 443, 50000 },
	};
	const struct st mapped[] = {
		{ 100, 300, 0, 0xffff888000003000ULL, 7, 2, 10,
		    "::ffff:127.0.0.1", "::ffff:127.0.0.2", 0, 8080 },
		{ 200, 300, 1, 0xffff888000003000ULL, 2, 1, 10,
		    "::ffff:127.0.0.1", "::ffff:127.0.0.2", 33333, 8080 },
		{ 300, 300, 0, 0xffff888000003000ULL, 1, 7, 10,
		    "::ffff:127.0.0.1", "::ffff:127.0.0.2", 33333, 8080 },
	};
	struct agg_flows *t = agg_flows_new(16, on_flow, on_proc, NULL);

	reset();
	feed(d, t, in6, 4);
	CHECK(nflows == 1);
	CHECK(flows[0].family == 6);
	CHECK(flows[0].direction == FLOW_DIR_INBOUND);
	CHECK(flows[0].pid == 200);
	CHECK(ip_is(&flows[0], flows[0].local.ip, "fd00::1"));
	CHECK(ip_is(&flows[0], flows[0].remote.ip, "fd00::2"));
	CHECK(flows[0].local.port == 443 && flows[0].remote.port == 50000);

	/* An AF_INET6 socket to a v4-mapped peer is IPv4 on the wire. */
	reset();
	feed(d, t, mapped, 3);
	CHECK(nflows == 1);
	CHECK(flows[0].family == 4);
	CHECK(ip_is(&flows[0], flows[0].local.ip, "127.0.0.1"));
	CHECK(ip_is(&flows[0], flows[0].remote.ip, "127.0.0.2"));
	agg_flows_free(t);
}

static void
reorder_cb(const struct agg_event *ev, void *arg)
{
	agg_flows_event(arg, ev);
}

static void
test_reorder(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, on_flow, on_proc, NULL);
	struct agg_reorder *r = agg_reorder_new(64, reorder_cb, t);
	static const int order[] = { 3, 4, 1, 0, 2 };	/* two CPUs' rings */
	uint8_t rec[512];
	struct agg_event ev;
	size_t i;

	reset();
	for (i = 0; i < 5; i++) {
		size_t len = make_sample(rec, &outbound4[order[i]]);

		CHECK(agg_decode_record(d, rec, len, &ev) == 1);
		agg_reorder_push(r, &ev);
	}
	CHECK(nflows == 0 && agg_reorder_len(r) == 5);
	agg_reorder_release(r, 2500);
	CHECK(agg_reorder_len(r) == 3);
	agg_reorder_release(r, UINT64_MAX);
	CHECK(nflows == 1);
	CHECK(flows[0].pid == 100 && flows[0].direction == FLOW_DIR_OUTBOUND);
	CHECK(flows[0].local.port == 40000 && flows[0].final);
	CHECK(agg_reorder_late(r) == 0);

	/* Older than what was released: late, counted, still handled. */
	reset();
	{
		struct st s = outbound4[0];

		s.time = 10;
		s.sk = 0xffff888000009000ULL;
		make_sample(rec, &s);
		CHECK(agg_decode_record(d, rec, make_sample(rec, &s), &ev) == 1);
		agg_reorder_push(r, &ev);
		CHECK(agg_reorder_late(r) == 1);
		CHECK(agg_reorder_len(r) == 0);
		CHECK(agg_flows_stats(t)->socks == 2);
	}
	agg_reorder_free(r);

	/* A full heap releases its oldest event early and counts it. */
	t = agg_flows_new(16, on_flow, on_proc, NULL);
	r = agg_reorder_new(2, reorder_cb, t);
	for (i = 0; i < 3; i++) {
		size_t len = make_sample(rec, &outbound4[i]);

		agg_decode_record(d, rec, len, &ev);
		agg_reorder_push(r, &ev);
	}
	CHECK(agg_reorder_forced(r) == 1 && agg_reorder_len(r) == 2);
	agg_reorder_free(r);
	agg_flows_free(t);
}

static void
test_reuse_and_limits(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(2, on_flow, on_proc, NULL);
	struct st s[3];

	/* The same address opening again: the old socket is reported. */
	reset();
	feed(d, t, outbound4, 3);
	CHECK(nflows == 0);
	s[0] = outbound4[0];
	s[0].time = 9000;
	s[0].pid = 101;
	feed(d, t, s, 1);
	CHECK(nflows == 1);
	CHECK(!flows[0].final && flows[0].pid == 100);

	/* Capacity 2: the third socket is counted, not followed. */
	s[0].sk = 0xffff888000005000ULL;
	s[1] = s[0];
	s[1].sk = 0xffff888000006000ULL;
	feed(d, t, s, 2);
	CHECK(agg_flows_stats(t)->table_full == 1);

	/* Shutdown: open sockets are reported as not final. */
	reset();
	agg_flows_flush(t, 20000);
	CHECK(nflows == 2);
	CHECK(!flows[0].final && !flows[1].final);
	agg_flows_free(t);
}

static size_t
make_task(uint8_t *rec, uint32_t type, uint16_t misc, uint32_t pid,
    uint32_t ppid, uint32_t tid, const char *comm)
{
	struct perf_event_header h;
	uint64_t time = 777;
	size_t off = sizeof(h), size;

	memset(rec, 0, 256);
	if (type == PERF_RECORD_COMM) {
		memcpy(rec + off, &pid, 4);
		memcpy(rec + off + 4, &tid, 4);
		memcpy(rec + off + 8, comm, strlen(comm) + 1);
		off += 8 + ((strlen(comm) + 1 + 7) & ~(size_t)7);
	} else {
		memcpy(rec + off, &pid, 4);
		memcpy(rec + off + 4, &ppid, 4);
		memcpy(rec + off + 8, &tid, 4);
		memcpy(rec + off + 12, &ppid, 4);
		memcpy(rec + off + 16, &time, 8);
		off += 24;
	}
	/* sample_id trailer: pid, tid, time, cpu, res */
	memcpy(rec + off, &pid, 4);
	memcpy(rec + off + 4, &tid, 4);
	memcpy(rec + off + 8, &time, 8);
	off += 24;
	size = off;
	h.type = type;
	h.misc = misc;
	h.size = (uint16_t)size;
	memcpy(rec, &h, sizeof(h));
	return size;
}

static void
test_process_records(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(4, on_flow, on_proc, NULL);
	uint8_t rec[256];
	struct agg_event ev;
	size_t len;

	reset();
	len = make_task(rec, PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC,
	    42, 0, 42, "curl");
	CHECK(agg_decode_record(d, rec, len, &ev) == 1);
	agg_flows_event(t, &ev);
	len = make_task(rec, PERF_RECORD_FORK, 0, 43, 42, 43, NULL);
	CHECK(agg_decode_record(d, rec, len, &ev) == 1);
	agg_flows_event(t, &ev);
	/* A new thread (pid != tid) is not a process. */
	len = make_task(rec, PERF_RECORD_FORK, 0, 42, 42, 44, NULL);
	CHECK(agg_decode_record(d, rec, len, &ev) == 0);
	len = make_task(rec, PERF_RECORD_COMM, 0, 42, 0, 45, "worker");
	CHECK(agg_decode_record(d, rec, len, &ev) == 0);
	len = make_task(rec, PERF_RECORD_EXIT, 0, 43, 42, 43, NULL);
	CHECK(agg_decode_record(d, rec, len, &ev) == 1);
	agg_flows_event(t, &ev);
	CHECK(nprocs == 3);
	CHECK(procs[0].kind == PROC_EV_EXEC && procs[0].pid == 42 &&
	    strcmp(procs[0].comm, "curl") == 0);
	CHECK(procs[1].kind == PROC_EV_FORK && procs[1].pid == 43 &&
	    procs[1].ppid == 42);
	CHECK(procs[2].kind == PROC_EV_EXIT && procs[2].pid == 43);
	/* A comm without its terminating NUL inside the record. */
	len = make_task(rec, PERF_RECORD_COMM, 0, 42, 0, 42,
	    "0123456789abcdef");
	memset(rec + sizeof(struct perf_event_header) + 8, 'x', len -
	    sizeof(struct perf_event_header) - 8 - 24);
	CHECK(agg_decode_record(d, rec, len, &ev) == -1);
	agg_flows_free(t);
}

static void
test_bad_records(struct agg_decoder *d)
{
	uint8_t rec[512];
	struct agg_event ev;
	uint16_t type;
	uint32_t rawlen;
	size_t len;
	uint64_t bad = agg_decoder_stats(d)->bad_records;

	len = make_sample(rec, &outbound4[0]);
	/* Header size disagreeing with the record length. */
	CHECK(agg_decode_record(d, rec, len - 8, &ev) == -1);
	/* raw_size beyond the record. */
	memcpy(&rawlen, rec + 32, 4);
	rawlen += 64;
	memcpy(rec + 32, &rawlen, 4);
	CHECK(agg_decode_record(d, rec, len, &ev) == -1);
	CHECK(agg_decoder_stats(d)->bad_records == bad + 2);
	/* An event id that was never announced. */
	len = make_sample(rec, &outbound4[0]);
	type = 1;
	memcpy(rec + 36, &type, 2);
	CHECK(agg_decode_record(d, rec, len, &ev) == 0);
	CHECK(agg_decoder_stats(d)->unknown_event == 1);
	/* Record shorter than a header. */
	CHECK(agg_decode_record(d, rec, 4, &ev) == -1);
}

static void
test_format_refused(void)
{
	char *text = strdup(ss_text), *p, err[256];
	struct agg_decoder *d;

	/* A kernel whose event lacks a field sockflow needs is named. */
	p = strstr(text, " skaddr;");
	CHECK(p != NULL);
	if (p != NULL)
		memcpy(p, " skaddx;", 8);
	err[0] = '\0';
	d = decoder_from(text, strlen(text), err, sizeof(err));
	CHECK(d == NULL);
	CHECK_MSG(strstr(err, "skaddr") != NULL, "%s", err);
	free(text);
	d = decoder_from("garbage", 7, err, sizeof(err));
	CHECK(d == NULL);
}

int
main(void)
{
	const char *srcdir = getenv("top_srcdir");
	struct agg_decoder *d;
	char err[256];

	load_format(srcdir ? srcdir : ".");
	d = decoder_from(ss_text, ss_len, err, sizeof(err));
	CHECK_MSG(d != NULL, "%s", err);
	if (d == NULL)
		return check_done("test_agg");
	test_outbound(d);
	test_inbound6(d);
	test_reorder(d);
	test_reuse_and_limits(d);
	test_process_records(d);
	test_bad_records(d);
	test_format_refused();
	agg_decoder_free(d);
	free(ss_text);
	return check_done("test_agg");
}

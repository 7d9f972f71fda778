/*
 * Tests of the aggregator's core without a kernel: perf records are built
 * from the saved format of sock:inet_sock_set_state (offsets taken from
 * the parsed format, as the aggregator does), decoded, reordered and fed
 * to the socket table, and the flow records that come out are checked.
 */
#include "config.h"

#include <linux/perf_event.h>

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "check.h"
#include "formatfile.h"

#define MAXFLOWS	16

static struct msg_flow flows[MAXFLOWS];
static int nflows;
static struct msg_process procs[MAXFLOWS];
static int nprocs;
static struct tp_format ssfmt;
static char *ss_text;
static size_t ss_len;

/* The other events of the tracepoint backend, from their saved formats. */
enum { F_SEND, F_RECV, F_DESTROY, F_FIB4, F_FIB6, NFMT };
static const char *fmt_files[NFMT][3] = {
	{ "sock_sock_send_length", "sock", "sock_send_length" },
	{ "sock_sock_recv_length", "sock", "sock_recv_length" },
	{ "tcp_tcp_destroy_sock", "tcp", "tcp_destroy_sock" },
	{ "fib_fib_table_lookup", "fib", "fib_table_lookup" },
	{ "fib6_fib6_table_lookup", "fib6", "fib6_table_lookup" },
};
static struct tp_format fmts[NFMT];
static char *fmt_text[NFMT];
static size_t fmt_len[NFMT];
static struct agg_flow_conf conf;

/* Notices of open flows apart from the reports: the last one, counted. */
static struct msg_flow notice;
static int nnotices;

static void
on_flow(const struct msg_flow *f, void *arg)
{
	if (f->open) {
		notice = *f;
		nnotices++;
		return;
	}
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
	nflows = nprocs = nnotices = 0;
	memset(&notice, 0, sizeof(notice));
	memset(flows, 0, sizeof(flows));
	memset(procs, 0, sizeof(procs));
}

static char *
read_format(const char *srcdir, const char *file, size_t *lenp,
    struct tp_format *fmt)
{
	char err[256], *text;

	text = format_file(srcdir, file, lenp);
	if (tpformat_parse(text, *lenp, fmt, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", file, err);
		exit(1);
	}
	return text;
}

static void
load_format(const char *srcdir)
{
	int i;

	ss_text = read_format(srcdir, "sock_inet_sock_set_state", &ss_len,
	    &ssfmt);
	for (i = 0; i < NFMT; i++)
		fmt_text[i] = read_format(srcdir, fmt_files[i][0], &fmt_len[i],
		    &fmts[i]);
	agg_flow_conf_default(&conf);
}

/* One announced format, as the probe sends them. */
static void
announce(struct msg_format *mf, uint32_t id, const char *sys,
    const char *name, char *text, size_t len)
{
	memset(mf, 0, sizeof(*mf));
	mf->id = id;
	snprintf(mf->system, sizeof(mf->system), "%s", sys);
	snprintf(mf->name, sizeof(mf->name), "%s", name);
	mf->text = text;
	mf->textlen = len;
}

/* A decoder for set_state (from text) and every other saved format. */
static struct agg_decoder *
decoder_from_cg(const char *text, size_t len, int cgroup, char *err,
    size_t errsz);

static struct agg_decoder *
decoder_from(const char *text, size_t len, char *err, size_t errsz)
{
	return decoder_from_cg(text, len, 0, err, errsz);
}

/* cgroup: the probe says every sample ends with its cgroup id. */
static struct agg_decoder *
decoder_from_cg(const char *text, size_t len, int cgroup, char *err,
    size_t errsz)
{
	struct msg_formats fm;
	struct msg_format mf[1 + NFMT];
	int i;

	memset(&fm, 0, sizeof(fm));
	announce(&mf[0], ssfmt.id, "sock", "inet_sock_set_state",
	    (char *)text, len);
	for (i = 0; i < NFMT; i++)
		announce(&mf[1 + i], fmts[i].id, fmt_files[i][1],
		    fmt_files[i][2], fmt_text[i], fmt_len[i]);
	fm.v = mf;
	fm.n = 1 + NFMT;
	fm.ncpus = 2;
	fm.sample_cgroup = cgroup != 0;
	return agg_decoder_new(&fm, err, errsz);
}

static void
fput(const struct tp_format *fmt, const char *name, uint8_t *raw,
    const void *v, size_t n)
{
	const struct tp_field *f = tpformat_field(fmt, name);

	if (f == NULL || f->size < n) {
		fprintf(stderr, "field %s\n", name);
		exit(1);
	}
	memcpy(raw + f->offset, v, n);
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

/* Wrap raw tracepoint data into a PERF_RECORD_SAMPLE; returns its size. */
static size_t
wrap(uint8_t *rec, const uint8_t *raw, uint32_t rawlen, uint32_t pid,
    uint64_t time)
{
	struct perf_event_header h;
	uint32_t cpu = 0, res = 0;
	size_t off, size;

	size = sizeof(h) + 8 + 8 + 8 + 4 + rawlen;
	size = (size + 7) & ~(size_t)7;
	memset(rec, 0, size);
	h.type = PERF_RECORD_SAMPLE;
	h.misc = 0;
	h.size = (uint16_t)size;
	memcpy(rec, &h, sizeof(h));
	off = sizeof(h);
	memcpy(rec + off, &pid, 4);
	memcpy(rec + off + 4, &pid, 4);
	memcpy(rec + off + 8, &time, 8);
	memcpy(rec + off + 16, &cpu, 4);
	memcpy(rec + off + 20, &res, 4);
	memcpy(rec + off + 24, &rawlen, 4);
	memcpy(rec + off + 28, raw, rawlen);
	return size;
}

static void
raw_header(const struct tp_format *fmt, uint8_t *raw, int softirq)
{
	uint16_t type = (uint16_t)fmt->id;
	uint8_t flags = softirq ? 0x10 : 0;

	memset(raw, 0, 256);
	fput(fmt, "common_type", raw, &type, 2);
	fput(fmt, "common_flags", raw, &flags, 1);
}

/* A PERF_RECORD_SAMPLE of inet_sock_set_state; returns its size. */
static size_t
make_sample(uint8_t *rec, const struct st *s)
{
	uint8_t raw[256];
	uint16_t u16;
	int32_t i32;
	uint8_t a[16];

	raw_header(&ssfmt, raw, s->softirq);
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
	return wrap(rec, raw, (uint32_t)ssfmt.min_size, s->pid, s->time);
}

/* sock_send_length or sock_recv_length. */
static size_t
io_sample(uint8_t *rec, int recv, uint64_t sk, int proto, int ret, int flags,
    uint32_t pid, uint64_t time)
{
	const struct tp_format *fmt = &fmts[recv ? F_RECV : F_SEND];
	uint8_t raw[256];
	uint16_t fam = 2, pr = (uint16_t)proto;

	raw_header(fmt, raw, 0);
	fput(fmt, "sk", raw, &sk, 8);
	fput(fmt, "family", raw, &fam, 2);
	fput(fmt, "protocol", raw, &pr, 2);
	fput(fmt, "ret", raw, &ret, 4);
	fput(fmt, "flags", raw, &flags, 4);
	return wrap(rec, raw, (uint32_t)fmt->min_size, pid, time);
}

static size_t
destroy_sample(uint8_t *rec, const struct st *s, uint64_t cookie)
{
	const struct tp_format *fmt = &fmts[F_DESTROY];
	uint8_t raw[256], a[16];
	uint16_t fam = (uint16_t)s->family;

	raw_header(fmt, raw, 1);
	fput(fmt, "skaddr", raw, &s->sk, 8);
	fput(fmt, "sport", raw, &s->sport, 2);
	fput(fmt, "dport", raw, &s->dport, 2);
	fput(fmt, "family", raw, &fam, 2);
	if (s->family == 2) {
		inet_pton(AF_INET, s->saddr, a);
		fput(fmt, "saddr", raw, a, 4);
		inet_pton(AF_INET, s->daddr, a);
		fput(fmt, "daddr", raw, a, 4);
	} else {
		inet_pton(AF_INET6, s->saddr, a);
		fput(fmt, "saddr_v6", raw, a, 16);
		inet_pton(AF_INET6, s->daddr, a);
		fput(fmt, "daddr_v6", raw, a, 16);
	}
	fput(fmt, "sock_cookie", raw, &cookie, 8);
	return wrap(rec, raw, (uint32_t)fmt->min_size, s->pid, s->time);
}

static size_t
fib_sample(uint8_t *rec, const char *src, const char *dst, uint16_t sport,
    uint16_t dport, int softirq, uint32_t tid, uint64_t time)
{
	int v6 = strchr(dst, ':') != NULL;
	const struct tp_format *fmt = &fmts[v6 ? F_FIB6 : F_FIB4];
	uint8_t raw[256], a[16], proto = 17;
	int32_t err = 0;

	raw_header(fmt, raw, softirq);
	fput(fmt, "err", raw, &err, 4);
	fput(fmt, "proto", raw, &proto, 1);
	fput(fmt, "sport", raw, &sport, 2);
	fput(fmt, "dport", raw, &dport, 2);
	inet_pton(v6 ? AF_INET6 : AF_INET, src, a);
	fput(fmt, "src", raw, a, v6 ? 16 : 4);
	inet_pton(v6 ? AF_INET6 : AF_INET, dst, a);
	fput(fmt, "dst", raw, a, v6 ? 16 : 4);
	return wrap(rec, raw, (uint32_t)fmt->min_size, tid, time);
}

/* Decode one record and hand it to the table; the decode must succeed. */
static void
push(struct agg_decoder *d, struct agg_flows *t, const uint8_t *rec,
    size_t len)
{
	struct agg_event ev;

	CHECK(agg_decode_record(d, rec, len, &ev) == 1);
	agg_flows_event(t, &ev);
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
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	uint8_t rec[512];
	struct agg_event ev;
	struct st end = outbound4[4];
	uint64_t sk = outbound4[0].sk;

	reset();
	feed(d, t, outbound4, 3);
	push(d, t, rec, io_sample(rec, 0, sk, 6, 100, 0, 100, 3100));
	push(d, t, rec, io_sample(rec, 1, sk, 6, 250, 0, 100, 3200));
	/* A peek moves no data and is not counted. */
	CHECK(agg_decode_record(d, rec, io_sample(rec, 1, sk, 6, 999, 2, 100,
	    3300), &ev) == 0);
	feed(d, t, outbound4 + 3, 2);
	/* TCP_CLOSE is not the end: data can still be read after it. */
	CHECK(nflows == 0);
	push(d, t, rec, io_sample(rec, 1, sk, 6, 50, 0, 100, 5500));
	end.time = 6000;
	push(d, t, rec, destroy_sample(rec, &end, 4242));
	CHECK(nflows == 1);
	CHECK(flows[0].family == 4 && flows[0].transport == 6);
	CHECK(flows[0].direction == FLOW_DIR_OUTBOUND);
	/* The pid of the connect(), not of the softirq samples. */
	CHECK(flows[0].pid == 100);
	CHECK(ip_is(&flows[0], flows[0].local.ip, "10.0.0.1"));
	CHECK(ip_is(&flows[0], flows[0].remote.ip, "10.0.0.2"));
	CHECK(flows[0].local.port == 40000 && flows[0].remote.port == 80);
	CHECK(flows[0].final && flows[0].complete);
	CHECK(flows[0].local.bytes == 100 && flows[0].remote.bytes == 300);
	CHECK(flows[0].packet_source == FLOW_PKTS_NONE);
	CHECK(flows[0].cookie == 4242);
	CHECK(flows[0].end_ns - flows[0].start_ns == 5000);
	CHECK(flows[0].sock == sk);
	CHECK(agg_flows_stats(t)->flows == 1);
	CHECK(agg_flows_count(t) == 0);
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
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);

	uint8_t rec[512];
	struct st e6 = in6[3], e4 = mapped[2];

	reset();
	feed(d, t, in6, 4);
	e6.time = 500;
	push(d, t, rec, destroy_sample(rec, &e6, 1));
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
	e4.time = 400;
	push(d, t, rec, destroy_sample(rec, &e4, 2));
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
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	struct agg_reorder *r = agg_reorder_new(64, reorder_cb, t);
	static const int order[] = { 3, 4, 1, 0, 2 };	/* two CPUs' rings */
	uint8_t rec[512];
	struct agg_event ev;
	size_t i;

	reset();
	{
		struct st e = outbound4[4];

		/* The end arrives first, from another CPU's ring. */
		e.time = 5100;
		CHECK(agg_decode_record(d, rec, destroy_sample(rec, &e, 9),
		    &ev) == 1);
		agg_reorder_push(r, &ev);
	}
	for (i = 0; i < 5; i++) {
		size_t len = make_sample(rec, &outbound4[order[i]]);

		CHECK(agg_decode_record(d, rec, len, &ev) == 1);
		agg_reorder_push(r, &ev);
	}
	CHECK(nflows == 0 && agg_reorder_len(r) == 6);
	agg_reorder_release(r, 2500);
	CHECK(agg_reorder_len(r) == 4);
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
	agg_flows_free(t);
	t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	r = agg_reorder_new(2, reorder_cb, t);
	for (i = 0; i < 3; i++) {
		size_t len = make_sample(rec, &outbound4[i]);

		agg_decode_record(d, rec, len, &ev);
		agg_reorder_push(r, &ev);
	}
	CHECK(agg_reorder_forced(r) == 1 && agg_reorder_len(r) == 2);
	agg_reorder_free(r);

	/*
	 * Decoding in place: a slot not committed (a record that decoded to
	 * nothing) stays free; a full reorder makes room when a slot is
	 * asked for, and no slot is handed out twice.
	 */
	agg_flows_free(t);
	t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	r = agg_reorder_new(2, reorder_cb, t);
	{
		struct agg_event *e0, *e1, *e2;

		e0 = agg_reorder_slot(r);
		CHECK(agg_decode_record(d, rec, make_sample(rec,
		    &outbound4[0]), e0) == 1);
		agg_reorder_commit(r);
		e1 = agg_reorder_slot(r);
		CHECK(e1 != e0);
		e2 = agg_reorder_slot(r);	/* not committed: the same */
		CHECK(e2 == e1 && agg_reorder_len(r) == 1);
		CHECK(agg_decode_record(d, rec, make_sample(rec,
		    &outbound4[1]), e1) == 1);
		agg_reorder_commit(r);
		CHECK(agg_reorder_len(r) == 2 && agg_reorder_forced(r) == 0);
		e2 = agg_reorder_slot(r);	/* full: the oldest goes */
		CHECK(agg_reorder_forced(r) == 1 && agg_reorder_len(r) == 1);
		CHECK(e2 == e0);
		CHECK(agg_decode_record(d, rec, make_sample(rec,
		    &outbound4[2]), e2) == 1);
		agg_reorder_commit(r);
		CHECK(agg_reorder_len(r) == 2);
		agg_reorder_release(r, UINT64_MAX);
		CHECK(agg_reorder_len(r) == 0 && agg_reorder_late(r) == 0);
		CHECK(agg_flows_stats(t)->socks == 1);
	}
	agg_reorder_free(r);
	agg_flows_free(t);
}

static void
test_reuse_and_limits(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(2, &conf, on_flow, on_proc, NULL);
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
	struct agg_flows *t = agg_flows_new(4, &conf, on_flow, on_proc, NULL);
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

static const struct msg_flow *
find_flow(uint16_t rport, bool remote_known)
{
	int i;

	for (i = 0; i < nflows && i < MAXFLOWS; i++)
		if (flows[i].remote_known == remote_known &&
		    (!remote_known || flows[i].remote.port == rport))
			return &flows[i];
	return NULL;
}

static void
test_udp(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	const uint64_t cli = 0xffff888000010000ULL, srv = 0xffff888000020000ULL;
	const uint64_t multi = 0xffff888000030000ULL;
	const uint64_t conn = 0xffff888000040000ULL;
	const struct msg_flow *f;
	uint8_t rec[512];
	struct agg_event ev;
	int i;

	reset();
	/*
	 * An unconnected client (tid 10) and a server (tid 20): each
	 * sendto() is preceded by its route lookup on the same thread.
	 */
	for (i = 0; i < 3; i++) {
		uint64_t t0 = 1000 + (uint64_t)i * 1000;

		push(d, t, rec, fib_sample(rec, "0.0.0.0", "127.0.0.1", 40000,
		    53, 0, 10, t0));
		push(d, t, rec, io_sample(rec, 0, cli, 17, 30, 0, 10, t0 + 1));
		push(d, t, rec, io_sample(rec, 1, srv, 17, 30, 0, 20, t0 + 2));
		push(d, t, rec, fib_sample(rec, "127.0.0.1", "127.0.0.1", 53,
		    40000, 0, 20, t0 + 3));
		push(d, t, rec, io_sample(rec, 0, srv, 17, 90, 0, 20, t0 + 4));
		push(d, t, rec, io_sample(rec, 1, cli, 17, 90, 0, 10, t0 + 5));
	}
	/* A route lookup in softirq context is not a send's. */
	CHECK(agg_decode_record(d, rec, fib_sample(rec, "0.0.0.0",
	    "127.0.0.1", 1, 2, 1, 10, 9000), &ev) == 0);
	CHECK(nflows == 0);
	agg_flows_flush(t, 10000);
	CHECK(nflows == 2);
	/* The client's flow: remote and local port from the lookups. */
	f = flows[0].sock == cli ? &flows[0] : &flows[1];
	CHECK(f->sock == cli && f->transport == 17);
	CHECK(f->direction == FLOW_DIR_OUTBOUND && f->remote_known);
	CHECK(ip_is(f, f->remote.ip, "127.0.0.1") && f->remote.port == 53);
	CHECK(f->local.port == 40000 && !f->local_ip_known);
	CHECK(f->local.bytes == 90 && f->local.packets == 3);
	CHECK(f->remote.bytes == 270 && f->remote.packets == 3);
	/* IP-level: payload plus 20 (IPv4) + 8 (UDP) per datagram. */
	CHECK(f->local.ip_bytes == 90 + 3 * 28);
	CHECK(f->remote.ip_bytes == 270 + 3 * 28);
	CHECK(f->packet_source == FLOW_PKTS_DATAGRAMS && f->pid == 10);
	CHECK(!f->remote_inferred);
	/* The server received first: its peer is inferred from its reply. */
	f = flows[0].sock == srv ? &flows[0] : &flows[1];
	CHECK(f->sock == srv && f->direction == FLOW_DIR_INBOUND);
	CHECK(f->remote_known && f->remote_inferred && f->remote.port == 40000);
	CHECK(f->local.port == 53 && f->local_ip_known);
	CHECK(f->remote.bytes == 90 && f->remote.packets == 3);
	CHECK(f->local.bytes == 270 && f->local.packets == 3);

	/* One socket, two remotes: one flow each; receives are unknown's. */
	agg_flows_free(t);
	reset();
	t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	push(d, t, rec, fib_sample(rec, "0.0.0.0", "192.0.2.1", 5000, 123, 0,
	    30, 100));
	push(d, t, rec, io_sample(rec, 0, multi, 17, 48, 0, 30, 101));
	push(d, t, rec, fib_sample(rec, "0.0.0.0", "192.0.2.2", 5000, 123, 0,
	    30, 200));
	push(d, t, rec, io_sample(rec, 0, multi, 17, 48, 0, 30, 201));
	push(d, t, rec, io_sample(rec, 1, multi, 17, 48, 0, 30, 300));
	/* Connected: the lookup is inside connect(), sends come later. */
	push(d, t, rec, fib_sample(rec, "10.1.1.1", "10.1.1.2", 7000, 514, 0,
	    40, 1000));
	push(d, t, rec, io_sample(rec, 0, conn, 17, 10, 0, 40, 500000));
	push(d, t, rec, io_sample(rec, 0, conn, 17, 10, 0, 40, 600000));
	push(d, t, rec, io_sample(rec, 1, conn, 17, 4, 0, 40, 700000));
	agg_flows_flush(t, 800000);
	CHECK(nflows == 4);
	f = find_flow(123, false);
	CHECK(f != NULL && f->sock == multi && f->remote.bytes == 48 &&
	    f->remote.packets == 1 && f->local.bytes == 0);
	for (i = 0; i < nflows; i++)
		if (flows[i].sock == multi && flows[i].remote_known)
			CHECK(flows[i].local.bytes == 48 &&
			    flows[i].local.packets == 1 &&
			    flows[i].remote.packets == 0);
	f = find_flow(514, true);
	CHECK(f != NULL && f->sock == conn);
	CHECK(f->local.bytes == 20 && f->local.packets == 2);
	CHECK(f->remote.bytes == 4 && f->remote.packets == 1);
	CHECK(f->local_ip_known && ip_is(f, f->local.ip, "10.1.1.1"));
	agg_flows_free(t);

	/*
	 * The kernel reuses a closed UDP socket's memory: another process,
	 * or another local port, at the same address is a new socket, and
	 * the old one's flows end.
	 */
	reset();
	t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	push(d, t, rec, fib_sample(rec, "0.0.0.0", "127.0.0.1", 1111, 9, 0,
	    60, 100));
	push(d, t, rec, io_sample(rec, 0, multi, 17, 7, 0, 60, 101));
	push(d, t, rec, io_sample(rec, 1, multi, 17, 70, 0, 61, 200));
	CHECK(nflows == 1 && flows[0].final && flows[0].pid == 60 &&
	    flows[0].local.bytes == 7 && flows[0].remote.bytes == 0);
	push(d, t, rec, fib_sample(rec, "0.0.0.0", "127.0.0.1", 2222, 9, 0,
	    61, 300));
	push(d, t, rec, io_sample(rec, 0, multi, 17, 8, 0, 61, 301));
	CHECK(nflows == 1);
	push(d, t, rec, fib_sample(rec, "0.0.0.0", "127.0.0.1", 3333, 9, 0,
	    61, 400));
	push(d, t, rec, io_sample(rec, 0, multi, 17, 9, 0, 61, 401));
	CHECK(nflows == 2 && flows[1].pid == 61 && flows[1].local.port == 2222 &&
	    flows[1].local.bytes == 8 && flows[1].remote.bytes == 70);
	CHECK(agg_flows_stats(t)->reused == 2);
	agg_flows_free(t);
}

/* A sock_diag destroy message as the kernel builds it. */
static size_t
make_diag(uint8_t *buf, uint64_t cookie, uint8_t proto, uint32_t segs_in,
    uint32_t segs_out, int ts, uint64_t retrans, int info_len)
{
	struct nlmsghdr h;
	struct inet_diag_msg m;
	struct rtattr ra;
	struct tcp_info ti;
	size_t off = NLMSG_HDRLEN;

	memset(buf, 0, 1024);
	memset(&m, 0, sizeof(m));
	m.idiag_family = AF_INET;
	m.idiag_state = 7;
	m.id.idiag_sport = htons(40000);
	m.id.idiag_dport = htons(80);
	m.id.idiag_cookie[0] = (uint32_t)cookie;
	m.id.idiag_cookie[1] = (uint32_t)(cookie >> 32);
	memcpy(buf + off, &m, sizeof(m));
	off += NLMSG_ALIGN(sizeof(m));
	ra.rta_type = INET_DIAG_PROTOCOL;
	ra.rta_len = RTA_LENGTH(1);
	memcpy(buf + off, &ra, sizeof(ra));
	buf[off + RTA_LENGTH(0)] = proto;
	off += RTA_ALIGN(ra.rta_len);
	memset(&ti, 0, sizeof(ti));
	ti.tcpi_segs_in = segs_in;
	ti.tcpi_segs_out = segs_out;
	ti.tcpi_options = ts ? TCPI_OPT_TIMESTAMPS : 0;
	ti.tcpi_bytes_retrans = retrans;
	ra.rta_type = INET_DIAG_INFO;
	ra.rta_len = (unsigned short)RTA_LENGTH(info_len);
	memcpy(buf + off, &ra, sizeof(ra));
	memcpy(buf + off + RTA_LENGTH(0), &ti, (size_t)info_len);
	off += RTA_ALIGN(ra.rta_len);
	memset(&h, 0, sizeof(h));
	h.nlmsg_len = (uint32_t)off;
	h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	memcpy(buf, &h, sizeof(h));
	return off;
}

static void
diag_to_flows(const struct agg_diag *dg, void *arg)
{
	agg_flows_diag(arg, dg);
}

static void
test_diag(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	uint8_t rec[512], nl[2048];
	size_t len, len2;
	uint64_t bad = 0;
	struct st end = outbound4[4];
	uint64_t sk = outbound4[0].sk;

	/* Two messages in one datagram; a tcp_info too short is no info. */
	len = make_diag(nl, 4242, 6, 4, 6, 1, 0, (int)sizeof(struct tcp_info));
	len2 = make_diag(nl + len, 77, 6, 1, 1, 0, 0, 8);
	CHECK(agg_diag_parse(nl, len + len2, diag_to_flows, t, &bad) == 2);
	CHECK(bad == 0 && agg_flows_stats(t)->diag_received == 1);
	/* A message longer than its datagram, an attribute past its end. */
	CHECK(agg_diag_parse(nl, len - 1, diag_to_flows, t, &bad) == 0 &&
	    bad == 1);
	{
		struct nlmsghdr h;
		uint8_t cut[2048];

		memcpy(cut, nl, len);
		memcpy(&h, cut, sizeof(h));
		h.nlmsg_len -= 8;
		memcpy(cut, &h, sizeof(h));
		CHECK(agg_diag_parse(cut, len, diag_to_flows, t, &bad) == 0 &&
		    bad == 2);
	}

	/* The outbound connection of test_outbound, with its tcp_info. */
	reset();
	feed(d, t, outbound4, 3);
	push(d, t, rec, io_sample(rec, 0, sk, 6, 100, 0, 100, 3100));
	push(d, t, rec, io_sample(rec, 1, sk, 6, 300, 0, 100, 3200));
	feed(d, t, outbound4 + 3, 2);
	end.time = 6000;
	push(d, t, rec, destroy_sample(rec, &end, 4242));
	CHECK(nflows == 1 && flows[0].packet_source == FLOW_PKTS_TCP_INFO);
	CHECK(flows[0].local.packets == 6 && flows[0].remote.packets == 4);
	/* 20 + 20 + 12 (timestamps) per segment, 8 more on the SYN. */
	CHECK(flows[0].local.ip_bytes == 100 + 6 * 52 + 8);
	CHECK(flows[0].remote.ip_bytes == 300 + 4 * 52 + 8);
	CHECK(agg_flows_stats(t)->diag_matched == 1);

	/* No notification for a socket: packets stay unknown. */
	reset();
	feed(d, t, outbound4, 3);
	push(d, t, rec, destroy_sample(rec, &end, 999));
	CHECK(nflows == 1 && flows[0].packet_source == FLOW_PKTS_NONE);
	CHECK(flows[0].local.ip_bytes == 0);
	CHECK(agg_flows_stats(t)->diag_missing == 1);

	/*
	 * An accepted socket: its tcp_info misses the SYN-ACK the request
	 * socket sent; no timestamps; 40 bytes of retransmitted payload.
	 */
	{
		const struct st in[] = {
			{ 100, 7, 1, 0xffff888000070000ULL, 3, 1, 2,
			    "10.0.0.2", "10.0.0.1", 80, 40000 },
			{ 200, 7, 1, 0xffff888000070000ULL, 1, 7, 2,
			    "10.0.0.2", "10.0.0.1", 80, 40000 },
		};
		struct st e = in[1];

		reset();
		len = make_diag(nl, 555, 6, 6, 3, 0, 40,
		    (int)sizeof(struct tcp_info));
		agg_diag_parse(nl, len, diag_to_flows, t, &bad);
		feed(d, t, in, 2);
		push(d, t, rec, io_sample(rec, 1, in[0].sk, 6, 1000, 0, 7, 150));
		e.time = 300;
		push(d, t, rec, destroy_sample(rec, &e, 555));
		CHECK(nflows == 1 && flows[0].direction == FLOW_DIR_INBOUND);
		CHECK(flows[0].local.packets == 4 && flows[0].remote.packets == 6);
		CHECK(flows[0].local.ip_bytes == 40 + 4 * 40 + 12);
		CHECK(flows[0].remote.ip_bytes == 1000 + 6 * 40 + 12);
	}
	agg_flows_free(t);
}

static void
test_existing(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	struct agg_diag lst, c1, c2;
	uint8_t rec[512];
	struct st e = outbound4[4];
	int pass;

	memset(&lst, 0, sizeof(lst));
	lst.family = 4;
	lst.proto = 6;
	lst.state = 10;
	lst.sport = 80;
	lst.cookie = 1;
	c1 = lst;
	c1.state = 1;
	c1.sport = 80;
	c1.dport = 50000;
	c1.cookie = 11;
	c2 = c1;
	c2.sport = 40000;
	c2.dport = 80;
	c2.cookie = 12;
	reset();
	/* The dump lists a connection before the listener it came to. */
	for (pass = 0; pass < 2; pass++) {
		agg_flows_existing(t, &c1, pass, 100);
		agg_flows_existing(t, &c2, pass, 100);
		agg_flows_existing(t, &lst, pass, 100);
	}
	CHECK(nflows == 2 && agg_flows_stats(t)->existing == 2);
	CHECK(flows[0].existing && !flows[0].final && flows[0].cookie == 11);
	CHECK(flows[0].direction == FLOW_DIR_INBOUND);
	CHECK(flows[0].local.port == 80 && flows[0].remote.port == 50000);
	CHECK(flows[1].direction == FLOW_DIR_OUTBOUND);
	/* The same connection again (a second dump) is not reported twice. */
	agg_flows_existing(t, &c2, 1, 200);
	CHECK(nflows == 2);

	/* Its end: traffic since start, then destroy with its cookie. */
	reset();
	push(d, t, rec, io_sample(rec, 0, outbound4[0].sk, 6, 25, 0, 100, 300));
	e.time = 400;
	push(d, t, rec, destroy_sample(rec, &e, 12));
	CHECK(nflows == 1 && flows[0].existing && flows[0].final);
	CHECK(flows[0].direction == FLOW_DIR_OUTBOUND && !flows[0].complete);
	CHECK(flows[0].local.bytes == 25 && flows[0].pid == 100);
	CHECK(flows[0].packet_source == FLOW_PKTS_NONE);
	agg_flows_free(t);
}

static void
test_timeouts(struct agg_decoder *d)
{
	struct agg_flow_conf c;
	struct agg_flows *t;
	const uint64_t sec = 1000000000ULL, u = 0xffff888000050000ULL;
	uint8_t rec[512];
	struct st e = outbound4[4];

	c.flow_inactive = 30 * sec;
	c.socket_inactive = 60 * sec;
	c.report_interval = 10 * sec;
	t = agg_flows_new(16, &c, on_flow, on_proc, NULL);

	/* A long TCP connection is reported before it closes. */
	reset();
	feed(d, t, outbound4, 3);
	push(d, t, rec, io_sample(rec, 0, outbound4[0].sk, 6, 10, 0, 100,
	    5 * sec));
	agg_flows_sweep(t, 9 * sec);
	CHECK(nflows == 0);
	/* Open for more than a second: announced once, with an id. */
	CHECK(nnotices == 1 && notice.open && !notice.final &&
	    notice.flow_id != 0 && notice.local.bytes == 10);
	agg_flows_sweep(t, 11 * sec);
	CHECK(nflows == 1 && !flows[0].final && flows[0].local.bytes == 10);
	CHECK(nnotices == 1 && flows[0].flow_id == notice.flow_id);
	/* A new enricher: announced again, under the same id. */
	agg_flows_renotice(t);
	CHECK(nnotices == 2 && notice.flow_id == flows[0].flow_id);
	/* No new activity: no new interim report. */
	agg_flows_sweep(t, 25 * sec);
	CHECK(nflows == 1);
	push(d, t, rec, io_sample(rec, 0, outbound4[0].sk, 6, 5, 0, 100,
	    26 * sec));
	agg_flows_sweep(t, 36 * sec);
	CHECK(nflows == 2 && !flows[1].final && flows[1].local.bytes == 15);
	/* An open TCP socket is never given up for being quiet. */
	agg_flows_sweep(t, 500 * sec);
	CHECK(nflows == 2 && agg_flows_count(t) == 1);
	e.time = 501 * sec;
	push(d, t, rec, destroy_sample(rec, &e, 3));
	CHECK(nflows == 3 && flows[2].final && flows[2].local.bytes == 15);
	CHECK(flows[2].flow_id == notice.flow_id && nnotices == 2);
	CHECK(flows[2].gone && !flows[0].gone && !flows[1].gone);
	agg_flows_free(t);

	/*
	 * An announced connection whose socket address is taken by a new
	 * one before its end was seen: its record then is not final, but
	 * the last of it (gone), so that the enricher forgets it.
	 */
	t = agg_flows_new(16, &c, on_flow, on_proc, NULL);
	reset();
	feed(d, t, outbound4, 3);
	agg_flows_sweep(t, 2 * sec);
	CHECK(nnotices == 1 && notice.flow_id != 0);
	feed(d, t, outbound4, 2);
	CHECK(nflows == 1 && !flows[0].final && flows[0].gone &&
	    flows[0].flow_id == notice.flow_id);

	/* A UDP flow ends after flow_inactive_timeout of silence. */
	agg_flows_free(t);
	c.report_interval = 0;
	t = agg_flows_new(16, &c, on_flow, on_proc, NULL);
	reset();
	push(d, t, rec, fib_sample(rec, "0.0.0.0", "192.0.2.9", 6000, 53, 0,
	    50, 1000 * sec));
	push(d, t, rec, io_sample(rec, 0, u, 17, 30, 0, 50, 1000 * sec + 1));
	push(d, t, rec, io_sample(rec, 0, u, 17, 10, 0, 50, 1000 * sec + 5));
	agg_flows_sweep(t, 1029 * sec);
	CHECK(nflows == 0);
	agg_flows_sweep(t, 1031 * sec);
	CHECK(nflows == 1 && flows[0].final && flows[0].local.bytes == 40);
	CHECK(flows[0].end_ns - flows[0].start_ns == 4);
	CHECK(flows[0].local.packets == 2);
	/* ... and the silent socket is forgotten after socket_inactive. */
	CHECK(agg_flows_count(t) == 1);
	agg_flows_sweep(t, 1061 * sec);
	CHECK(agg_flows_count(t) == 0 && nflows == 1);
	agg_flows_free(t);
}

/*
 * After an aggregator before this one died: a UDP flow begun within
 * flow_inactive of the death is partial, a later one of the same socket
 * whole; a TCP connection seen opening is whole, one seen only at its
 * end (however late) partial.
 */
static void
test_resumed(struct agg_decoder *d)
{
	struct agg_flow_conf c;
	struct agg_flows *t;
	const uint64_t sec = 1000000000ULL;
	const uint64_t u = 0xffff8880000a0000ULL;
	struct st e = outbound4[4];
	uint8_t rec[512];

	agg_flow_conf_default(&c);
	c.flow_inactive = 30 * sec;
	c.socket_inactive = 600 * sec;
	c.report_interval = 0;
	t = agg_flows_new(16, &c, on_flow, on_proc, NULL);
	reset();
	agg_flows_resumed(t, 1000 * sec);
	push(d, t, rec, fib_sample(rec, "10.3.0.1", "10.3.0.2", 7000, 53, 0,
	    80, 1001 * sec));
	push(d, t, rec, io_sample(rec, 0, u, 17, 20, 0, 80, 1001 * sec + 1));
	agg_flows_sweep(t, 1032 * sec);
	CHECK(nflows == 1 && flows[0].final && flows[0].samples_lost &&
	    !flows[0].complete);
	push(d, t, rec, fib_sample(rec, "10.3.0.1", "10.3.0.3", 7000, 53, 0,
	    80, 1100 * sec));
	push(d, t, rec, io_sample(rec, 0, u, 17, 20, 0, 80, 1100 * sec + 1));
	agg_flows_sweep(t, 1131 * sec);
	CHECK(nflows == 2 && flows[1].final && !flows[1].samples_lost &&
	    flows[1].complete && flows[1].remote.port == 53);
	/* Seen from its opening (the times are early, which is no matter). */
	feed(d, t, outbound4, 5);
	push(d, t, rec, destroy_sample(rec, &outbound4[4], 3));
	CHECK(nflows == 3 && flows[2].final && flows[2].complete &&
	    !flows[2].samples_lost);
	/* Only its end, long after the death: it began before. */
	e.sk = 0xffff8880000b0000ULL;
	e.time = 5000 * sec;
	push(d, t, rec, destroy_sample(rec, &e, 4));
	CHECK(nflows == 4 && flows[3].final && flows[3].samples_lost &&
	    !flows[3].complete);
	CHECK(agg_flows_stats(t)->gap_flows == 2);
	agg_flows_free(t);
}

static void
test_clock(void)
{
	const int64_t ms = 1000000;

	agg_clock_init(100 * ms);
	CHECK(agg_clock_pair(1000 * ms, 5000 * ms) == 0);
	CHECK(agg_mono_to_wall(2000 * ms) == 6000 * ms);
	/* Drift within clock_max_drift: times stay on the old offset. */
	CHECK(agg_clock_pair(3000 * ms, 7050 * ms) == 0);
	CHECK(agg_mono_to_wall(2000 * ms) == 6000 * ms);
	CHECK(agg_clock_steps() == 0);
	/* Beyond it: corrected and counted, backwards as well. */
	CHECK(agg_clock_pair(4000 * ms, 8150 * ms) == 1);
	CHECK(agg_mono_to_wall(2000 * ms) == 6150 * ms);
	CHECK(agg_clock_pair(5000 * ms, 8000 * ms) == 1);
	CHECK(agg_mono_to_wall(2000 * ms) == 5000 * ms);
	CHECK(agg_clock_steps() == 2);
	/* Back to the real clocks for the other tests. */
	agg_clock_init(100 * ms);
	agg_clock_sync();
}

static void
test_termination(struct agg_decoder *d)
{
	struct agg_flow_conf c;
	struct agg_flows *t;
	const uint64_t sec = 1000000000ULL;

	agg_flow_conf_default(&c);
	c.flow_termination = 5 * sec;
	c.report_interval = 0;
	t = agg_flows_new(16, &c, on_flow, on_proc, NULL);
	/* Closed, but the destroy sample never comes (it was lost). */
	reset();
	feed(d, t, outbound4, 5);
	agg_flows_sweep(t, 4 * sec);
	CHECK(nflows == 0);
	agg_flows_sweep(t, 6 * sec);
	CHECK(nflows == 1 && flows[0].final && flows[0].complete);
	CHECK(agg_flows_count(t) == 0);
	agg_flows_free(t);
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

/* What a reorder callback saw, in the order it saw it. */
static struct {
	uint64_t	time, seq;
	uint16_t	cpu;
} seen[64];
static size_t nseen;

static void
record_cb(const struct agg_event *ev, void *arg)
{
	if (nseen < sizeof(seen) / sizeof(seen[0])) {
		seen[nseen].time = ev->time;
		seen[nseen].seq = ev->seq;
		seen[nseen].cpu = ev->cpu;
	}
	nseen++;
}

/* Whether seen[from..to) is in (time, seq) order. */
static int
seen_in_order(size_t from, size_t to)
{
	size_t i;

	for (i = from + 1; i < to; i++)
		if (seen[i].time < seen[i - 1].time ||
		    (seen[i].time == seen[i - 1].time &&
		    seen[i].seq < seen[i - 1].seq))
			return 0;
	return 1;
}

static void
rpush(struct agg_reorder *r, uint16_t cpu, uint64_t time, uint64_t *seq)
{
	struct agg_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = AEV_NONE;
	ev.cpu = cpu;
	ev.time = time;
	ev.seq = ++*seq;
	agg_reorder_push(r, &ev);
}

static void
test_reorder_percpu(void)
{
	/*
	 * Two rings drained one after the other, as the aggregator reads
	 * them: each in time order but for one sample an interrupt
	 * overtook (250 on CPU 0, 350 on CPU 1).
	 */
	static const uint64_t cpu0[] = { 100, 300, 500, 250, 700 };
	static const uint64_t cpu1[] = { 200, 320, 400, 350, 600, 800 };
	const size_t n0 = sizeof(cpu0) / sizeof(cpu0[0]);
	const size_t n1 = sizeof(cpu1) / sizeof(cpu1[0]);
	const uint64_t horizon = 350;
	struct agg_reorder *r;
	uint64_t seq = 0;
	size_t i, upto = 0, nrel;

	nseen = 0;
	r = agg_reorder_new(64, record_cb, NULL);
	for (i = 0; i < n0; i++)
		rpush(r, 0, cpu0[i], &seq);
	for (i = 0; i < n1; i++)
		rpush(r, 1, cpu1[i], &seq);
	CHECK(nseen == 0 && agg_reorder_len(r) == n0 + n1);
	for (i = 0; i < n0; i++)
		upto += cpu0[i] <= horizon;
	for (i = 0; i < n1; i++)
		upto += cpu1[i] <= horizon;

	/*
	 * A horizon releases exactly what is at or before it: the
	 * overtaken 250 and 350 too, which a queue that only appended
	 * would hold behind 500 and 400.
	 */
	agg_reorder_release(r, horizon);
	CHECK_MSG(nseen == upto, "released %zu, want %zu", nseen, upto);
	CHECK(agg_reorder_len(r) == n0 + n1 - upto);
	for (i = 0; i < nseen && i < upto; i++)
		CHECK(seen[i].time <= horizon);
	CHECK(seen_in_order(0, nseen));

	agg_reorder_release(r, UINT64_MAX);
	CHECK(nseen == n0 + n1 && agg_reorder_len(r) == 0);
	CHECK(seen_in_order(0, nseen));
	CHECK(seen[0].time == 100 && seen[nseen - 1].time == 800);
	CHECK(agg_reorder_late(r) == 0 && agg_reorder_forced(r) == 0);

	/* Older than what went out: late, counted, handed over at once. */
	nrel = nseen;
	rpush(r, 1, 50, &seq);
	CHECK(agg_reorder_late(r) == 1);
	CHECK(nseen == nrel + 1 && seen[nrel].time == 50);
	CHECK(agg_reorder_len(r) == 0);
	/* Not older: it waits as usual. */
	rpush(r, 0, 900, &seq);
	CHECK(agg_reorder_late(r) == 1 && nseen == nrel + 1);
	CHECK(agg_reorder_len(r) == 1);
	agg_reorder_free(r);

	/*
	 * Equal times on two CPUs go by arrival, whichever queue is looked
	 * at first: CPU 0's queue is older in the active list, but CPU 1's
	 * 300 arrived before CPU 0's.
	 */
	nseen = 0;
	seq = 0;
	r = agg_reorder_new(64, record_cb, NULL);
	rpush(r, 0, 100, &seq);
	rpush(r, 1, 300, &seq);
	rpush(r, 0, 300, &seq);
	agg_reorder_release(r, 100);
	CHECK(nseen == 1 && seen[0].time == 100);
	agg_reorder_release(r, UINT64_MAX);
	CHECK(nseen == 3 && seen_in_order(0, nseen));
	CHECK(seen[1].cpu == 1 && seen[2].cpu == 0);
	agg_reorder_free(r);

	/*
	 * Capacity 4 over both queues: the fifth event forces out the
	 * oldest of all heads, which is CPU 1's, not the pushing CPU's.
	 */
	nseen = 0;
	seq = 0;
	r = agg_reorder_new(4, record_cb, NULL);
	rpush(r, 0, 10, &seq);
	rpush(r, 0, 20, &seq);
	rpush(r, 0, 30, &seq);
	rpush(r, 1, 5, &seq);
	CHECK(nseen == 0 && agg_reorder_forced(r) == 0);
	rpush(r, 0, 40, &seq);
	CHECK(agg_reorder_forced(r) == 1 && agg_reorder_len(r) == 4);
	CHECK(nseen == 1 && seen[0].time == 5 && seen[0].cpu == 1);
	agg_reorder_release(r, UINT64_MAX);
	CHECK(nseen == 5 && seen_in_order(0, nseen));
	CHECK(agg_reorder_late(r) == 0);
	agg_reorder_free(r);
}

/* A destroy notification as sock_diag gives it, without timestamps. */
static void
tcp_diag(struct agg_flows *t, uint64_t cookie, uint32_t segs_in,
    uint32_t segs_out, uint64_t bytes_received)
{
	struct agg_diag dg;

	memset(&dg, 0, sizeof(dg));
	dg.cookie = cookie;
	dg.family = 4;
	dg.proto = 6;
	dg.state = 7;
	dg.have_info = true;
	dg.segs_in = segs_in;
	dg.segs_out = segs_out;
	dg.bytes_received = bytes_received;
	agg_flows_diag(t, &dg);
}

/*
 * The notification can come after the destroy sample (the kernel sends
 * it from a worker, run late on a starved machine): with notifications
 * coming, the ended connection waits for it, then is reported with its
 * counters; one whose notification never comes is reported after
 * FIN_WAIT, without; a new socket at its address ends its wait at once.
 */
static void
test_fin_wait(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	const uint64_t ms = 1000ULL * 1000;
	struct st e = outbound4[4];
	uint8_t rec[512];

	agg_flows_diag_live(t);
	reset();
	feed(d, t, outbound4, 5);
	push(d, t, rec, destroy_sample(rec, &outbound4[4], 51));
	CHECK(nflows == 0 && agg_flows_stats(t)->fin_waited == 1);
	agg_flows_fin_check(t, 5000 + 300 * ms);
	CHECK(nflows == 0);
	tcp_diag(t, 51, 5, 6, 1);
	agg_flows_fin_check(t, 5000 + 400 * ms);
	CHECK(nflows == 1 && flows[0].final &&
	    flows[0].packet_source == FLOW_PKTS_TCP_INFO &&
	    flows[0].local.packets == 6 && flows[0].remote.packets == 5);
	CHECK(flows[0].end_ns - flows[0].start_ns == 5000 - 1000);
	CHECK(agg_flows_count(t) == 0);

	/* Never notified: reported after FIN_WAIT, without counters. */
	feed(d, t, outbound4, 5);
	push(d, t, rec, destroy_sample(rec, &outbound4[4], 52));
	agg_flows_fin_check(t, 5000 + 900 * ms);
	CHECK(nflows == 1);
	agg_flows_fin_check(t, 5000 + 1001 * ms);
	CHECK(nflows == 2 && flows[1].final &&
	    flows[1].packet_source == FLOW_PKTS_NONE);

	/* A new socket at its address: the waiting one is reported first. */
	feed(d, t, outbound4, 5);
	push(d, t, rec, destroy_sample(rec, &outbound4[4], 53));
	CHECK(nflows == 2);
	e = outbound4[0];
	e.time = 6000;
	feed(d, t, &e, 1);
	CHECK(nflows == 3 && flows[2].final && flows[2].cookie == 53);
	CHECK(agg_flows_count(t) == 1);
	agg_flows_free(t);
}

/*
 * The kernel can drop a socket's end samples without a trace; its
 * sock_diag notification still comes. Left unclaimed for half a second, it
 * ends the socket with the same tuple (final, with its counters); a
 * destroy sample that was only late is then dropped, not made a second
 * flow; and a notification no followed socket matches is forgotten.
 */
static void
test_claim_by_tuple(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	const uint64_t ms = 1000ULL * 1000;
	struct agg_diag dg;
	struct st e = outbound4[4];
	uint8_t rec[512];

	reset();
	/* Opened and established, then nothing: its end samples dropped. */
	feed(d, t, outbound4, 2);
	memset(&dg, 0, sizeof(dg));
	dg.cookie = 41;
	dg.family = 4;
	dg.proto = 6;
	dg.state = 7;
	dg.have_info = true;
	dg.segs_in = 5;
	dg.segs_out = 6;
	dg.bytes_received = 1;
	inet_pton(AF_INET, "10.0.0.1", dg.src);
	inet_pton(AF_INET, "10.0.0.2", dg.dst);
	dg.sport = 40000;
	dg.dport = 80;
	agg_flows_diag(t, &dg);
	/* Another notification, of a socket sockflow never followed. */
	dg.cookie = 42;
	dg.dport = 81;
	agg_flows_diag(t, &dg);

	/* Not before half a second of sample time: the sample may be late. */
	agg_flows_sweep(t, 2000 + 400 * ms);
	CHECK(nflows == 0);
	agg_flows_sweep(t, 2000 + 501 * ms);
	CHECK(nflows == 1);
	if (nflows == 1) {
		CHECK(flows[0].final && flows[0].cookie == 41);
		CHECK(flows[0].packet_source == FLOW_PKTS_TCP_INFO);
		CHECK(flows[0].local.packets == 6 && flows[0].remote.packets == 5);
		CHECK(flows[0].local.port == 40000 && flows[0].remote.port == 80);
		CHECK(flows[0].direction == FLOW_DIR_OUTBOUND);
	}
	CHECK(agg_flows_stats(t)->ended_by_diag == 1);
	CHECK(agg_flows_count(t) == 0);

	/* The destroy sample after all: dropped, counted, no second flow. */
	e.time = 2000 + 1100 * ms;
	push(d, t, rec, destroy_sample(rec, &e, 41));
	CHECK(nflows == 1);
	CHECK(agg_flows_stats(t)->destroy_late == 1);

	/* The stranger is forgotten after CLAIM_MAX, and counted. */
	CHECK(agg_flows_stats(t)->diag_unclaimed == 0);
	agg_flows_sweep(t, 2000 + 31000 * ms);
	CHECK(agg_flows_stats(t)->diag_unclaimed == 1);
	CHECK(nflows == 1);
	agg_flows_free(t);
}

static void
test_disconnect(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	const uint64_t sk = 0xffff888000080000ULL;
	const struct st s[] = {
		{ 1000, 100, 0, sk, 7, 2, 2, "10.0.0.1", "10.0.0.2", 0, 80 },
		{ 2000, 100, 0, sk, 2, 7, 2, "10.0.0.1", "10.0.0.2",
		    40000, 80 },
	};
	struct st e = s[1];
	uint8_t rec[512];
	uint64_t unconnected;

	/*
	 * connect() given up (connect(AF_UNSPEC), a zero-linger close):
	 * tcp_disconnect zeroes the peer port and the counters before the
	 * destroy, so tcp_info says nothing was sent, not even the SYN.
	 */
	reset();
	feed(d, t, s, 2);
	tcp_diag(t, 31, 0, 0, 0);
	e.time = 3000;
	e.dport = 0;
	e.saddr = e.daddr = "0.0.0.0";
	push(d, t, rec, destroy_sample(rec, &e, 31));
	CHECK(nflows == 1);
	CHECK(flows[0].final && flows[0].disconnected);
	CHECK(flows[0].packet_source == FLOW_PKTS_NONE);
	CHECK(flows[0].local.packets == 0 && flows[0].remote.packets == 0);
	CHECK(flows[0].local.ip_bytes == 0 && flows[0].remote.ip_bytes == 0);
	CHECK(flows[0].cookie == 31);
	/* The zeroed tuple of the destroy does not replace the real one. */
	CHECK(flows[0].remote_known && flows[0].remote.port == 80);
	CHECK(ip_is(&flows[0], flows[0].remote.ip, "10.0.0.2"));
	CHECK(flows[0].direction == FLOW_DIR_OUTBOUND);
	CHECK(agg_flows_count(t) == 0);

	/* A listener or never-connected socket ends: no flow, counted. */
	reset();
	unconnected = agg_flows_stats(t)->destroy_unconnected;
	e = s[1];
	e.sk = 0xffff888000081000ULL;
	e.time = 4000;
	e.sport = 8080;
	e.dport = 0;
	e.daddr = "0.0.0.0";
	push(d, t, rec, destroy_sample(rec, &e, 32));
	CHECK(nflows == 0);
	CHECK(agg_flows_stats(t)->destroy_unconnected == unconnected + 1);
	CHECK(agg_flows_count(t) == 0);
	agg_flows_free(t);
}

static void
test_timewait(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	const uint64_t sk = outbound4[0].sk, in_sk = 0xffff888000082000ULL;
	const struct st in[] = {
		{ 100, 7, 1, in_sk, 3, 1, 2, "10.0.0.2", "10.0.0.1", 80,
		    40000 },
		{ 200, 7, 0, in_sk, 1, 4, 2, "10.0.0.2", "10.0.0.1", 80,
		    40000 },
		{ 300, 7, 1, in_sk, 4, 5, 2, "10.0.0.2", "10.0.0.1", 80,
		    40000 },
		{ 400, 7, 1, in_sk, 5, 7, 2, "10.0.0.2", "10.0.0.1", 80,
		    40000 },
	};
	struct st e = outbound4[4], rst = outbound4[2];
	uint8_t rec[512];
	int fin;

	/*
	 * outbound4 closes from FIN_WAIT2. With bytes_received equal to
	 * the payload the peer's FIN went to the TIME_WAIT mini-socket:
	 * it and our ACK of it are one segment more each way. One more
	 * byte is the FIN, counted here: the segments are exact.
	 */
	for (fin = 0; fin < 2; fin++) {
		reset();
		tcp_diag(t, 40 + fin, 4, 6, 300 + fin);
		feed(d, t, outbound4, 2);
		push(d, t, rec, io_sample(rec, 0, sk, 6, 50, 0, 100, 2050));
		push(d, t, rec, io_sample(rec, 1, sk, 6, 100, 0, 100, 2100));
		push(d, t, rec, io_sample(rec, 1, sk, 6, 200, 0, 100, 2200));
		feed(d, t, outbound4 + 2, 3);
		e.time = 6000;
		push(d, t, rec, destroy_sample(rec, &e, 40 + fin));
		CHECK(nflows == 1 && flows[0].final);
		CHECK(flows[0].local.bytes == 50 &&
		    flows[0].remote.bytes == 300);
		if (!fin) {
			CHECK_MSG(flows[0].packet_source ==
			    FLOW_PKTS_TCP_INFO_TIMEWAIT, "source %u",
			    flows[0].packet_source);
			CHECK_MSG(flows[0].local.packets == 6 + 1 &&
			    flows[0].remote.packets == 4 + 1, "%llu/%llu",
			    (unsigned long long)flows[0].local.packets,
			    (unsigned long long)flows[0].remote.packets);
			/* 20 + 20 per segment, 12 of SYN options each. */
			CHECK(flows[0].local.ip_bytes == 50 + 7 * 40 + 12);
			CHECK(flows[0].remote.ip_bytes == 300 + 5 * 40 + 12);
		} else {
			CHECK(flows[0].packet_source == FLOW_PKTS_TCP_INFO);
			CHECK(flows[0].local.packets == 6 &&
			    flows[0].remote.packets == 4);
		}
	}

	/*
	 * An accepted socket closed from FIN_WAIT2: one more local segment
	 * for the SYN-ACK the request socket sent, and one each way for
	 * the FIN exchange of the mini-socket.
	 */
	reset();
	tcp_diag(t, 42, 6, 5, 1000);
	feed(d, t, in, 1);
	push(d, t, rec, io_sample(rec, 1, in_sk, 6, 1000, 0, 7, 150));
	feed(d, t, in + 1, 3);
	e = in[3];
	e.time = 500;
	push(d, t, rec, destroy_sample(rec, &e, 42));
	CHECK(nflows == 1 && flows[0].direction == FLOW_DIR_INBOUND);
	CHECK(flows[0].packet_source == FLOW_PKTS_TCP_INFO_TIMEWAIT);
	CHECK_MSG(flows[0].local.packets == 5 + 1 + 1 &&
	    flows[0].remote.packets == 6 + 1, "%llu/%llu",
	    (unsigned long long)flows[0].local.packets,
	    (unsigned long long)flows[0].remote.packets);

	/*
	 * Reset while ESTABLISHED: no FIN either, but no TIME_WAIT socket
	 * took anything over; tcp_info is the whole story.
	 */
	reset();
	tcp_diag(t, 43, 4, 3, 300);
	feed(d, t, outbound4, 2);
	push(d, t, rec, io_sample(rec, 1, sk, 6, 300, 0, 100, 2100));
	rst.olds = 1;
	rst.news = 7;
	feed(d, t, &rst, 1);
	e = rst;
	e.time = 3500;
	push(d, t, rec, destroy_sample(rec, &e, 43));
	CHECK(nflows == 1 && flows[0].packet_source == FLOW_PKTS_TCP_INFO);
	CHECK(flows[0].local.packets == 3 && flows[0].remote.packets == 4);
	CHECK(!flows[0].disconnected);
	agg_flows_free(t);
}

static void
test_refused(struct agg_decoder *d)
{
	struct agg_flows *t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	const uint64_t sk = 0xffff888000083000ULL;
	const struct st s[] = {
		{ 1000, 100, 0, sk, 7, 2, 2, "10.0.0.1", "10.0.0.2", 0, 80 },
		{ 2000, 999, 1, sk, 2, 7, 2, "10.0.0.1", "10.0.0.2",
		    40000, 80 },
	};
	struct st e = s[1];
	uint8_t rec[512];

	/* Our SYN, their RST: one segment each, never ESTABLISHED. */
	reset();
	tcp_diag(t, 50, 1, 1, 0);
	feed(d, t, s, 2);
	e.time = 3000;
	push(d, t, rec, destroy_sample(rec, &e, 50));
	CHECK(nflows == 1 && flows[0].final && !flows[0].disconnected);
	CHECK(flows[0].packet_source == FLOW_PKTS_TCP_INFO);
	CHECK(flows[0].local.packets == 1 && flows[0].remote.packets == 1);
	/* The SYN has its options (12 bytes without timestamps) ... */
	CHECK_MSG(flows[0].local.ip_bytes == 20 + 20 + 12, "local %llu",
	    (unsigned long long)flows[0].local.ip_bytes);
	/* ... the RST none: the remote never sent a SYN. */
	CHECK_MSG(flows[0].remote.ip_bytes == 20 + 20, "remote %llu",
	    (unsigned long long)flows[0].remote.ip_bytes);
	agg_flows_free(t);
}

static void
test_udp_lifetimes(struct agg_decoder *d)
{
	struct agg_flow_conf c;
	struct agg_flows *t;
	const uint64_t sec = 1000000000ULL;
	const uint64_t rx = 0xffff888000090000ULL;
	const uint64_t conn = 0xffff888000091000ULL;
	const uint64_t two = 0xffff888000092000ULL;
	uint8_t rec[512];

	agg_flow_conf_default(&c);
	c.flow_inactive = 30 * sec;
	c.socket_inactive = 60 * sec;
	c.report_interval = 0;
	t = agg_flows_new(16, &c, on_flow, on_proc, NULL);

	/*
	 * A socket that only receives: no lookup ever gives its family or
	 * a peer, yet its datagrams are a flow of their own.
	 */
	reset();
	push(d, t, rec, io_sample(rec, 1, rx, 17, 64, 0, 80, 1000 * sec));
	push(d, t, rec, io_sample(rec, 1, rx, 17, 64, 0, 80, 1000 * sec + 5));
	agg_flows_sweep(t, 1029 * sec);
	CHECK(nflows == 0);
	agg_flows_sweep(t, 1031 * sec);
	CHECK(nflows == 1);
	CHECK(flows[0].sock == rx && flows[0].final);
	CHECK(flows[0].family == 4 && flows[0].transport == 17);
	CHECK(!flows[0].remote_known && !flows[0].remote_inferred);
	CHECK(flows[0].direction == FLOW_DIR_INBOUND);
	CHECK(flows[0].remote.bytes == 128 && flows[0].remote.packets == 2);
	CHECK(flows[0].local.bytes == 0);
	agg_flows_free(t);

	/*
	 * A connected socket: the lookup is in its first send (tid 70),
	 * the sends after an idle flow ended look nothing up, and they
	 * still go to the one peer it has.
	 */
	t = agg_flows_new(16, &c, on_flow, on_proc, NULL);
	reset();
	push(d, t, rec, fib_sample(rec, "10.2.0.1", "10.2.0.2", 6000, 5353, 0,
	    70, 100 * sec));
	push(d, t, rec, io_sample(rec, 0, conn, 17, 20, 0, 70, 100 * sec + 1));
	agg_flows_sweep(t, 131 * sec);
	CHECK(nflows == 1 && flows[0].remote_known &&
	    flows[0].remote.port == 5353 && flows[0].local.bytes == 20);
	CHECK(agg_flows_count(t) == 1);
	push(d, t, rec, io_sample(rec, 0, conn, 17, 25, 0, 70, 140 * sec));
	agg_flows_sweep(t, 171 * sec);
	CHECK(nflows == 2);
	CHECK(flows[1].sock == conn && flows[1].final);
	CHECK(flows[1].remote_known && !flows[1].remote_inferred);
	CHECK(ip_is(&flows[1], flows[1].remote.ip, "10.2.0.2") &&
	    flows[1].remote.port == 5353);
	CHECK(flows[1].local.port == 6000);
	CHECK(flows[1].local.bytes == 25 && flows[1].local.packets == 1);
	CHECK(flows[1].direction == FLOW_DIR_OUTBOUND);
	/* A reply after that flow too ended: from the same peer. */
	push(d, t, rec, io_sample(rec, 1, conn, 17, 40, 0, 70, 200 * sec));
	agg_flows_sweep(t, 231 * sec);
	CHECK(nflows == 3);
	CHECK(flows[2].sock == conn && flows[2].remote_known);
	CHECK(flows[2].remote_inferred);
	CHECK(ip_is(&flows[2], flows[2].remote.ip, "10.2.0.2") &&
	    flows[2].remote.port == 5353);
	CHECK(flows[2].remote.bytes == 40 && flows[2].local.bytes == 0);

	/*
	 * A socket that talked to two peers: a later receive may be from
	 * either, so it is not credited to the last one.
	 */
	reset();
	push(d, t, rec, fib_sample(rec, "10.2.0.1", "10.2.0.3", 6001, 53, 0,
	    71, 300 * sec));
	push(d, t, rec, io_sample(rec, 0, two, 17, 30, 0, 71, 300 * sec + 1));
	push(d, t, rec, fib_sample(rec, "10.2.0.1", "10.2.0.4", 6001, 53, 0,
	    71, 320 * sec));
	push(d, t, rec, io_sample(rec, 0, two, 17, 30, 0, 71, 320 * sec + 1));
	agg_flows_sweep(t, 331 * sec);
	CHECK(nflows == 1);
	agg_flows_sweep(t, 351 * sec);
	CHECK(nflows == 2);
	push(d, t, rec, io_sample(rec, 1, two, 17, 60, 0, 71, 360 * sec));
	agg_flows_sweep(t, 391 * sec);
	CHECK(nflows == 3);
	CHECK(flows[2].sock == two && !flows[2].remote_known &&
	    !flows[2].remote_inferred && flows[2].remote.bytes == 60);
	agg_flows_free(t);
}

/*
 * The kprobe backend: send and receive entries paired with their returns
 * by thread. The formats are kprobe events' layout (written after the
 * kernel's: common fields, __probe_ip or __probe_func/__probe_ret_ip,
 * then the fetched arguments).
 */
enum { K_SEND, K_SENDRET, K_RECV, K_RECVRET, K_SENDU, K_SENDRETU,
    K_SENDU6, K_SENDRETU6, K_PKTOUT, K_PKTIN, K_CREDS, K_ARGS, NKFMT };
static const char *kfmt_files[NKFMT] = {
	"kprobe_send_tcp", "kprobe_sendret_tcp", "kprobe_recv_tcp",
	"kprobe_recvret_tcp", "kprobe_send_udp", "kprobe_sendret_udp",
	"kprobe_send_udp6", "kprobe_sendret_udp6", "kprobe_pkt_out4",
	"kprobe_pkt_in4", "kprobe_creds", "kprobe_args",
};
static struct tp_format kfmts[NKFMT];

static size_t
kcall_sample(uint8_t *rec, int which, uint64_t sk, int family, int proto,
    int flags, uint32_t tid, uint64_t time)
{
	const struct tp_format *fmt = &kfmts[which];
	uint8_t raw[256];
	uint16_t fam = (uint16_t)family, pr = (uint16_t)proto;

	raw_header(fmt, raw, 0);
	fput(fmt, "sk", raw, &sk, 8);
	fput(fmt, "family", raw, &fam, 2);
	fput(fmt, "protocol", raw, &pr, 2);
	if (which == K_RECV)
		fput(fmt, "flags", raw, &flags, 4);
	return wrap(rec, raw, (uint32_t)fmt->min_size, tid, time);
}

static size_t
kret_sample(uint8_t *rec, int which, int ret, uint32_t tid, uint64_t time)
{
	const struct tp_format *fmt = &kfmts[which];
	uint8_t raw[256];

	raw_header(fmt, raw, 0);
	fput(fmt, "ret", raw, &ret, 4);
	return wrap(rec, raw, (uint32_t)fmt->min_size, tid, time);
}

/* A TCP packet at the IP layer, as pkt_out4 or pkt_in4 fetch it. */
static size_t
kpkt_sample(uint8_t *rec, int which, uint32_t len, uint8_t vihl,
    const char *src, const char *dst, uint16_t sport, uint16_t dport,
    uint64_t time)
{
	const struct tp_format *fmt = &kfmts[which];
	uint8_t raw[256], a[4], ports[4], proto = 6;

	raw_header(fmt, raw, 1);
	fput(fmt, "len", raw, &len, 4);
	fput(fmt, "vihl", raw, &vihl, 1);
	fput(fmt, "proto", raw, &proto, 1);
	inet_pton(AF_INET, src, a);
	fput(fmt, "saddr", raw, a, 4);
	inet_pton(AF_INET, dst, a);
	fput(fmt, "daddr", raw, a, 4);
	ports[0] = (uint8_t)(sport >> 8);
	ports[1] = (uint8_t)sport;
	ports[2] = (uint8_t)(dport >> 8);
	ports[3] = (uint8_t)dport;
	fput(fmt, "ports", raw, ports, 4);
	return wrap(rec, raw, (uint32_t)fmt->min_size, 0, time);
}

/* PERF_RECORD_EXIT of thread tid of process pid. */
static size_t
exit_record(uint8_t *rec, uint32_t pid, uint32_t tid, uint64_t time)
{
	struct perf_event_header h = { PERF_RECORD_EXIT, 0, 0 };
	size_t size = sizeof(h) + 16 + 8 + 24;

	memset(rec, 0, size);
	h.size = (uint16_t)size;
	memcpy(rec, &h, sizeof(h));
	memcpy(rec + sizeof(h), &pid, 4);
	memcpy(rec + sizeof(h) + 4, &pid, 4);
	memcpy(rec + sizeof(h) + 8, &tid, 4);
	memcpy(rec + sizeof(h) + 12, &tid, 4);
	memcpy(rec + sizeof(h) + 16, &time, 8);
	return size;
}

static void
test_kprobe_calls(const char *srcdir)
{
	struct msg_formats fm;
	struct msg_format mf[4 + NKFMT];
	struct tp_format xfmt;
	char *xtext;
	size_t xlen;
	char *texts[NKFMT], err[256];
	size_t lens[NKFMT];
	struct agg_decoder *d;
	struct agg_flows *t;
	const struct agg_calls_stats *cs;
	struct agg_event ev;
	struct st end = outbound4[4];
	uint64_t sk = outbound4[0].sk, usk = 0xffff888000077000ULL;
	uint8_t rec[512];
	int i;

	memset(&fm, 0, sizeof(fm));
	announce(&mf[0], ssfmt.id, "sock", "inet_sock_set_state", ss_text,
	    ss_len);
	announce(&mf[1], fmts[F_DESTROY].id, "tcp", "tcp_destroy_sock",
	    fmt_text[F_DESTROY], fmt_len[F_DESTROY]);
	for (i = 0; i < NKFMT; i++) {
		texts[i] = read_format(srcdir, kfmt_files[i], &lens[i],
		    &kfmts[i]);
		announce(&mf[2 + i], kfmts[i].id, "sockflow_4242",
		    kfmt_files[i] + strlen("kprobe_"), texts[i], lens[i]);
	}
	announce(&mf[2 + NKFMT], fmts[F_FIB4].id, "fib", "fib_table_lookup",
	    fmt_text[F_FIB4], fmt_len[F_FIB4]);
	xtext = read_format(srcdir, "sched_sched_process_exec", &xlen, &xfmt);
	announce(&mf[3 + NKFMT], xfmt.id, "sched", "sched_process_exec",
	    xtext, xlen);
	fm.v = mf;
	fm.n = 4 + NKFMT;
	fm.ncpus = 2;
	d = agg_decoder_new(&fm, err, sizeof(err));
	CHECK_MSG(d != NULL, "%s", err);
	if (d == NULL)
		goto out;
	t = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
	reset();
	feed(d, t, outbound4, 3);
	/* A send: its entry names the socket, its return the bytes. */
	push(d, t, rec, kcall_sample(rec, K_SEND, sk, 2, 6, 0, 100, 3100));
	push(d, t, rec, kret_sample(rec, K_SENDRET, 100, 100, 3150));
	/* A peek is paired but moves nothing. */
	push(d, t, rec, kcall_sample(rec, K_RECV, sk, 2, 6, 2, 100, 3200));
	push(d, t, rec, kret_sample(rec, K_RECVRET, 999, 100, 3250));
	/* Another thread's receive, and a failed one. */
	push(d, t, rec, kcall_sample(rec, K_RECV, sk, 2, 6, 0, 101, 3300));
	push(d, t, rec, kcall_sample(rec, K_RECV, sk, 2, 6, 0, 100, 3310));
	push(d, t, rec, kret_sample(rec, K_RECVRET, 250, 101, 3350));
	push(d, t, rec, kret_sample(rec, K_RECVRET, -11, 100, 3360));
	/* A return whose entry never came is not guessed at. */
	push(d, t, rec, kret_sample(rec, K_RECVRET, 777, 102, 3400));
	feed(d, t, outbound4 + 3, 2);
	end.time = 6000;
	push(d, t, rec, destroy_sample(rec, &end, 11));
	CHECK(nflows == 1);
	CHECK(flows[0].local.bytes == 100 && flows[0].remote.bytes == 250);
	cs = agg_flows_calls(t);
	CHECK(cs != NULL);
	if (cs == NULL)
		goto out2;
	CHECK(cs->entries == 4 && cs->returns == 5 && cs->paired == 2);
	CHECK(cs->unmatched == 1 && cs->mismatched == 0);

	/*
	 * Nested calls (an IPv6 socket sending to a v4-mapped address
	 * enters udpv6_sendmsg, then udp_sendmsg): counted once.
	 */
	reset();
	push(d, t, rec, kcall_sample(rec, K_SENDU6, usk, 10, 17, 0, 200,
	    7000));
	push(d, t, rec, kcall_sample(rec, K_SENDU, usk, 10, 17, 0, 200,
	    7001));
	push(d, t, rec, fib_sample(rec, "0.0.0.0", "127.0.0.1", 40000, 53, 0,
	    200, 7002));
	push(d, t, rec, kret_sample(rec, K_SENDRETU, 64, 200, 7003));
	push(d, t, rec, kret_sample(rec, K_SENDRETU6, 64, 200, 7004));
	CHECK(cs->paired == 3 && cs->entries == 6 && cs->unmatched == 1);
	agg_flows_flush(t, 8000);
	CHECK(nflows == 1 && flows[0].transport == 17 &&
	    flows[0].local.bytes == 64 && flows[0].local.packets == 1);

	/*
	 * A lost return (a return probe out of instances): the thread's
	 * next call gives the open one up, counted, and is itself counted.
	 */
	push(d, t, rec, kcall_sample(rec, K_SEND, sk, 2, 6, 0, 400, 7500));
	push(d, t, rec, kcall_sample(rec, K_SEND, sk, 2, 6, 0, 400, 7510));
	push(d, t, rec, kret_sample(rec, K_SENDRET, 10, 400, 7520));
	CHECK(cs->returns_lost == 1 && cs->paired == 4);

	/* A send's return where a receive was entered: not a pair. */
	push(d, t, rec, kcall_sample(rec, K_RECV, usk, 10, 17, 0, 201, 8100));
	push(d, t, rec, kret_sample(rec, K_SENDRET, 5, 201, 8101));
	CHECK(cs->mismatched == 1 && cs->paired == 4);

	/* A thread that exits inside a call leaves nothing behind. */
	push(d, t, rec, kcall_sample(rec, K_RECV, usk, 10, 17, 0, 301, 9000));
	CHECK(agg_decode_record(d, rec, exit_record(rec, 300, 301, 9100),
	    &ev) == 1);
	agg_flows_event(t, &ev);
	CHECK(cs->abandoned == 1);
	push(d, t, rec, kret_sample(rec, K_RECVRET, 10, 301, 9200));
	CHECK(cs->unmatched == 2 && cs->paired == 4);
	/* A thread's exit is not its process's. */
	CHECK(nprocs == 0);

	/*
	 * Packets at the IP layer: the outbound connection of test_diag
	 * (tcp_info: 6 segments out, 4 in), each packet's length summed
	 * into the side it went. The SYN goes out before the tuple is
	 * known to the flow table; packets are kept by tuple until the flow
	 * takes them.
	 */
	{
		static const uint32_t outl[] = { 60, 52, 152, 52, 52, 52 };
		static const uint32_t inl[] = { 60, 352, 52, 52 };
		uint8_t nl[2048];
		uint64_t bad = 0, sumo = 0, sumi = 0;
		struct agg_flows *t2;
		size_t n;

	/* 300 bytes read: the peer's FIN reached this socket itself. */
#define RECEIVED(t) do {						\
		push(d, t, rec, kcall_sample(rec, K_RECV, sk, 2, 6, 0, 100,	\
		    2500));							\
		push(d, t, rec, kret_sample(rec, K_RECVRET, 300, 100, 2600));	\
	} while (0)

		t2 = agg_flows_new(16, &conf, on_flow, on_proc, NULL);
		reset();
		feed(d, t2, outbound4, 1);
		for (n = 0; n < 6; n++) {
			push(d, t2, rec, kpkt_sample(rec, K_PKTOUT, outl[n],
			    0x45, "10.0.0.1", "10.0.0.2", 40000, 80,
			    1100 + n * 100));
			sumo += outl[n];
		}
		for (n = 0; n < 4; n++) {
			push(d, t2, rec, kpkt_sample(rec, K_PKTIN, inl[n],
			    0x45, "10.0.0.2", "10.0.0.1", 80, 40000,
			    1150 + n * 100));
			sumi += inl[n];
		}
		/* Another connection's, and one with IP options: not ours. */
		push(d, t2, rec, kpkt_sample(rec, K_PKTIN, 999, 0x45,
		    "10.0.0.3", "10.0.0.1", 80, 40000, 1500));
		CHECK(agg_decode_record(d, rec, kpkt_sample(rec, K_PKTIN, 999,
		    0x46, "10.0.0.2", "10.0.0.1", 80, 40000, 1600), &ev) == 0);
		CHECK(agg_decoder_stats(d)->packets_unparsed == 1);
		feed(d, t2, outbound4 + 1, 1);
		RECEIVED(t2);
		feed(d, t2, outbound4 + 2, 3);
		CHECK(agg_diag_parse(nl, make_diag(nl, 4343, 6, 4, 6, 1, 0,
		    (int)sizeof(struct tcp_info)), diag_to_flows, t2,
		    &bad) == 1);
		end.time = 6000;
		push(d, t2, rec, destroy_sample(rec, &end, 4343));
		CHECK(nflows == 1 && flows[0].packet_source ==
		    FLOW_PKTS_TCP_INFO);
		CHECK(flows[0].bytes_source == FLOW_BYTES_PER_PACKET);
		CHECK(flows[0].local.ip_bytes == sumo &&
		    flows[0].remote.ip_bytes == sumi);
		CHECK(agg_flows_pkts(t2) != NULL &&
		    agg_flows_pkts(t2)->packets == 11 &&
		    agg_flows_pkts(t2)->taken == 1);

		/*
		 * One outgoing packet the IP layer did not show (a segment
		 * of a GSO packet): its header bytes are derived, and the
		 * record says so.
		 */
		reset();
		feed(d, t2, outbound4, 1);
		for (n = 0; n < 5; n++)
			push(d, t2, rec, kpkt_sample(rec, K_PKTOUT, outl[n],
			    0x45, "10.0.0.1", "10.0.0.2", 40000, 80,
			    1100 + n * 100));
		for (n = 0; n < 4; n++)
			push(d, t2, rec, kpkt_sample(rec, K_PKTIN, inl[n],
			    0x45, "10.0.0.2", "10.0.0.1", 80, 40000,
			    1150 + n * 100));
		feed(d, t2, outbound4 + 1, 1);
		RECEIVED(t2);
		feed(d, t2, outbound4 + 2, 3);
		agg_diag_parse(nl, make_diag(nl, 4344, 6, 4, 6, 1, 0,
		    (int)sizeof(struct tcp_info)), diag_to_flows, t2, &bad);
		push(d, t2, rec, destroy_sample(rec, &end, 4344));
		CHECK(nflows == 1 && flows[0].bytes_source ==
		    FLOW_BYTES_PER_PACKET_DERIVED);
		CHECK(flows[0].local.ip_bytes == sumo - outl[5] + 52 &&
		    flows[0].remote.ip_bytes == sumi);

		/* More packets than tcp_info counts: derived, counted. */
		reset();
		feed(d, t2, outbound4, 1);
		for (n = 0; n < 7; n++)
			push(d, t2, rec, kpkt_sample(rec, K_PKTOUT, 52, 0x45,
			    "10.0.0.1", "10.0.0.2", 40000, 80,
			    1100 + n * 100));
		feed(d, t2, outbound4 + 1, 1);
		RECEIVED(t2);
		feed(d, t2, outbound4 + 2, 3);
		agg_diag_parse(nl, make_diag(nl, 4345, 6, 4, 6, 1, 0,
		    (int)sizeof(struct tcp_info)), diag_to_flows, t2, &bad);
		push(d, t2, rec, destroy_sample(rec, &end, 4345));
		CHECK(nflows == 1 && flows[0].bytes_source ==
		    FLOW_BYTES_DERIVED);
		CHECK(agg_flows_stats(t2)->pkts_mismatch == 1);

		/*
		 * Packets of an earlier connection with the same tuple, all
		 * before this flow began, are not its own; the other
		 * connection's tuple is dropped once it is old.
		 */
		reset();
		push(d, t2, rec, kpkt_sample(rec, K_PKTOUT, 52, 0x45,
		    "10.0.0.1", "10.0.0.2", 40000, 80, 500));
		feed(d, t2, outbound4, 2);
		RECEIVED(t2);
		feed(d, t2, outbound4 + 2, 3);
		agg_diag_parse(nl, make_diag(nl, 4346, 6, 4, 6, 1, 0,
		    (int)sizeof(struct tcp_info)), diag_to_flows, t2, &bad);
		push(d, t2, rec, destroy_sample(rec, &end, 4346));
		CHECK(nflows == 1 && flows[0].bytes_source ==
		    FLOW_BYTES_DERIVED);
		CHECK(agg_flows_pkts(t2)->stale == 1);
		CHECK(agg_flows_pkts(t2)->expired == 0);
		agg_flows_sweep(t2, 20ULL * 1000 * 1000 * 1000);
		CHECK(agg_flows_pkts(t2)->expired == 1 &&
		    agg_flows_pkts(t2)->expired_packets == 1);

		/*
		 * A connection idle for longer than sums are kept: the sweep
		 * keeps its sums while it is open.
		 */
		{
			struct st late[5];

			reset();
			for (n = 0; n < 5; n++) {
				late[n] = outbound4[n];
				late[n].sk = 0xffff888000055000ULL;
				late[n].sport = 41000;
				late[n].time += 100ULL * 1000 * 1000 * 1000;
			}
			feed(d, t2, late, 2);
			push(d, t2, rec, kpkt_sample(rec, K_PKTOUT, 60, 0x45,
			    "10.0.0.1", "10.0.0.2", 41000, 80,
			    late[1].time + 10));
			agg_flows_sweep(t2, late[1].time + 30ULL * 1000 *
			    1000 * 1000);
			CHECK(agg_flows_pkts(t2)->expired == 1);
		}
		agg_flows_free(t2);
#undef RECEIVED
	}
	/*
	 * An exec: the event stays small, its file waits in the decoder
	 * until the event leaves the reorder; a burst of execs that wraps
	 * the ring loses the oldest file, counted.
	 */
	{
		const struct tp_field *fn = tpformat_field(&xfmt, "filename");
		const struct tp_field *fp = tpformat_field(&xfmt, "pid");
		static const char path[] = "/usr/bin/curl";
		struct agg_event first;
		uint8_t raw[256];
		uint32_t loc, xpid = 4970;

		CHECK(fn != NULL && fp != NULL);
		if (fn == NULL || fp == NULL)
			goto out2;
		raw_header(&xfmt, raw, 0);
		loc = (uint32_t)(sizeof(path)) << 16 | 64;
		memcpy(raw + fn->offset, &loc, 4);
		memcpy(raw + 64, path, sizeof(path));
		memcpy(raw + fp->offset, &xpid, 4);
		CHECK(agg_decode_record(d, rec, wrap(rec, raw, 64 + sizeof(path),
		    xpid, 9500), &first) == 1);
		CHECK(first.kind == AEV_EXEC && first.u.exec.pid == 4970);
		CHECK(agg_decoder_exec_path(d, first.u.exec.slot,
		    first.u.exec.seq) != NULL && strcmp(agg_decoder_exec_path(d,
		    first.u.exec.slot, first.u.exec.seq), path) == 0);
		for (i = 0; i < 1024; i++)
			CHECK(agg_decode_record(d, rec, wrap(rec, raw,
			    64 + sizeof(path), xpid, 9600), &ev) == 1);
		CHECK(agg_decoder_exec_path(d, first.u.exec.slot,
		    first.u.exec.seq) == NULL);
		CHECK(agg_decoder_stats(d)->exec_paths_lost == 1);
		CHECK(agg_decoder_exec_path(d, ev.u.exec.slot,
		    ev.u.exec.seq) != NULL);
		/* A string that runs past the record: refused. */
		loc = 200u << 16 | 64;
		memcpy(raw + fn->offset, &loc, 4);
		CHECK(agg_decode_record(d, rec, wrap(rec, raw, 64 + sizeof(path),
		    xpid, 9700), &ev) == -1);
	}

	/*
	 * An exec's arguments: argc and the first 256 bytes of the strings,
	 * up to the block's end (the environment after it is dropped), whole
	 * strings only, kept beside the reorder like the file.
	 */
	{
		const struct tp_format *fmt = &kfmts[K_ARGS];
		static const char block[] = "curl\0-o\0/dev/null\0SECRET=1";
		uint8_t raw[512], words[256];
		uint64_t start = 0x7ffe0000, aend = start + 18;
		int32_t argc = 3;
		const uint8_t *b;
		size_t n = 0;
		char wn[8];
		int k;

		memset(raw, 0, sizeof(raw));
		memset(words, 0, sizeof(words));
		memcpy(words, block, sizeof(block));
		raw_header(fmt, raw, 0);
		fput(fmt, "argc", raw, &argc, 4);
		fput(fmt, "start", raw, &start, 8);
		fput(fmt, "end", raw, &aend, 8);
		for (k = 0; k < 32; k++) {
			snprintf(wn, sizeof(wn), "w%d", k);
			fput(fmt, wn, raw, words + 8 * k, 8);
		}
		CHECK(agg_decode_record(d, rec, wrap(rec, raw,
		    (uint32_t)fmt->min_size, 4970, 9950), &ev) == 1);
		CHECK(ev.kind == AEV_ARGS && ev.u.exec.pid == 4970 &&
		    ev.u.exec.argc == 3);
		b = agg_decoder_exec_args(d, ev.u.exec.slot, ev.u.exec.seq, &n);
		CHECK(b != NULL && n == 18 &&
		    memcmp(b, "curl\0-o\0/dev/null\0", 18) == 0);
		/*
		 * A block longer than the 256 bytes read: the string they cut
		 * is left out.
		 */
		aend = start + 5000;
		fput(fmt, "end", raw, &aend, 8);
		memset(words, 'x', sizeof(words));
		memcpy(words, "curl\0", 5);
		for (k = 0; k < 32; k++) {
			snprintf(wn, sizeof(wn), "w%d", k);
			fput(fmt, wn, raw, words + 8 * k, 8);
		}
		CHECK(agg_decode_record(d, rec, wrap(rec, raw,
		    (uint32_t)fmt->min_size, 4970, 9951), &ev) == 1);
		b = agg_decoder_exec_args(d, ev.u.exec.slot, ev.u.exec.seq, &n);
		CHECK(b != NULL && n == 5 && memcmp(b, "curl", 5) == 0);
		/* An end before the start, or softirq context: nothing. */
		aend = start - 1;
		fput(fmt, "end", raw, &aend, 8);
		CHECK(agg_decode_record(d, rec, wrap(rec, raw,
		    (uint32_t)fmt->min_size, 4970, 9952), &ev) == 0);
		raw_header(fmt, raw, 1);
		CHECK(agg_decode_record(d, rec, wrap(rec, raw,
		    (uint32_t)fmt->min_size, 4970, 9953), &ev) == 0);
	}

	/* New credentials, in the process's own context only. */
	{
		const struct tp_format *fmt = &kfmts[K_CREDS];
		uint8_t raw[256];
		uint32_t v[4] = { 1000, 1001, 0, 4 };

		raw_header(fmt, raw, 0);
		fput(fmt, "uid", raw, &v[0], 4);
		fput(fmt, "gid", raw, &v[1], 4);
		fput(fmt, "euid", raw, &v[2], 4);
		fput(fmt, "egid", raw, &v[3], 4);
		CHECK(agg_decode_record(d, rec, wrap(rec, raw,
		    (uint32_t)fmt->min_size, 77, 9800), &ev) == 1);
		CHECK(ev.kind == AEV_CREDS && ev.pid == 77 &&
		    ev.u.creds.uid == 1000 && ev.u.creds.gid == 1001 &&
		    ev.u.creds.euid == 0 && ev.u.creds.egid == 4);
		raw_header(fmt, raw, 1);
		CHECK(agg_decode_record(d, rec, wrap(rec, raw,
		    (uint32_t)fmt->min_size, 77, 9900), &ev) == 0);
	}
out2:
	agg_flows_free(t);
	agg_decoder_free(d);
out:
	for (i = 0; i < NKFMT; i++)
		free(texts[i]);
	free(xtext);
}

/* ---- cgroups and network namespaces ---- */

static struct msg_cgroup cg_seen[4];
static size_t ncg_seen;

static void
cg_sink(const struct msg_cgroup *c, void *arg)
{
	if (ncg_seen < 4)
		cg_seen[ncg_seen++] = *c;
}

/* A side-band record with the 24-byte sample_id trailer. */
static size_t
side_record(uint8_t *rec, uint32_t type, const void *body, size_t blen)
{
	struct perf_event_header h;
	uint64_t time = 777;
	size_t size = sizeof(h) + ((blen + 7) & ~(size_t)7) + 24;

	memset(rec, 0, size);
	h.type = type;
	h.misc = 0;
	h.size = (uint16_t)size;
	memcpy(rec, &h, sizeof(h));
	memcpy(rec + sizeof(h), body, blen);
	memcpy(rec + size - 24 + 8, &time, 8);
	return size;
}

static void
test_cgroup_netns(struct agg_decoder *d, struct agg_decoder *dcg)
{
	struct agg_netns *nt = agg_netns_new();
	uint8_t rec[512], body[256];
	struct agg_event ev;
	struct perf_event_header h;
	uint64_t cg = 0x1234, nr = 7, v;
	uint32_t u, i;
	size_t len;

	/*
	 * A sample that carries its cgroup after the raw data, whose size
	 * the kernel pads so that what follows is 8-byte aligned.
	 */
	len = make_sample(rec, &outbound4[0]);
	CHECK(agg_decode_record(d, rec, len, &ev) == 1 && ev.cgroup == 0);
	/* Announced but missing: the record is refused. */
	CHECK(dcg != NULL && agg_decode_record(dcg, rec, len, &ev) == -1);
	u = (uint32_t)(len - 36);
	memcpy(rec + 32, &u, 4);
	memcpy(rec + len, &cg, 8);
	memcpy(&h, rec, sizeof(h));
	h.size = (uint16_t)(len + 8);
	memcpy(rec, &h, sizeof(h));
	CHECK(dcg != NULL && agg_decode_record(dcg, rec, len + 8, &ev) == 1 &&
	    ev.cgroup == 0x1234 && ev.u.st.sk == outbound4[0].sk);

	/* NAMESPACES: pid, tid, nr, {dev, inode}[nr]; net is the first. */
	memset(body, 0, sizeof(body));
	u = 500;
	memcpy(body, &u, 4);
	u = 501;
	memcpy(body + 4, &u, 4);
	memcpy(body + 8, &nr, 8);
	v = 4026532999ULL;
	memcpy(body + 24, &v, 8);
	len = side_record(rec, PERF_RECORD_NAMESPACES, body, 16 + 7 * 16);
	CHECK(agg_decode_record(d, rec, len, &ev) == 1 &&
	    ev.kind == AEV_NETNS && ev.pid == 500 && ev.tid == 501 &&
	    ev.u.netns.ino == 4026532999U && ev.time == 777);
	/* A count of namespaces the record cannot hold. */
	nr = 9;
	memcpy(rec + sizeof(struct perf_event_header) + 8, &nr, 8);
	CHECK(agg_decode_record(d, rec, len, &ev) == -1);

	/* CGROUP: id, path; odd bytes shown as '?'; no NUL is refused. */
	agg_decoder_set_cgroup_cb(d, cg_sink, NULL);
	memset(body, 0, sizeof(body));
	v = 99;
	memcpy(body, &v, 8);
	memcpy(body + 8, "/a.slice/b\tc", 13);
	len = side_record(rec, PERF_RECORD_CGROUP, body, 8 + 14);
	CHECK(agg_decode_record(d, rec, len, &ev) == 0);
	CHECK(ncg_seen == 1 && cg_seen[0].id == 99 &&
	    strcmp(cg_seen[0].path, "/a.slice/b?c") == 0);
	memset(body + 8, 'x', 100);
	len = side_record(rec, PERF_RECORD_CGROUP, body, 8 + 100);
	CHECK(agg_decode_record(d, rec, len, &ev) == -1 && ncg_seen == 1);
	agg_decoder_set_cgroup_cb(d, NULL, NULL);

	/*
	 * The task table: tids that share home slots, more than its first
	 * size holds (it grows twice), some taken out; every other must
	 * still be found (entries shift back over gaps).
	 */
	CHECK(nt != NULL);
	for (i = 1; i <= 9000; i++)
		agg_netns_set(nt, i * 65536, 1000 + i);
	for (i = 1; i <= 9000; i += 3)
		agg_netns_forget(nt, i * 65536);
	{
		int ok = 1;

		for (i = 1; i <= 9000; i++) {
			uint32_t want = i % 3 == 1 ? 0 : 1000 + i;

			if (agg_netns_get(nt, i * 65536) != want)
				ok = 0;
		}
		CHECK(ok);
	}
	CHECK(agg_netns_count(nt) == 6000 && agg_netns_full(nt) == 0);
	agg_netns_set(nt, 7, 55);
	agg_netns_set(nt, 7, 56);
	CHECK(agg_netns_get(nt, 7) == 56 && agg_netns_count(nt) == 6001);
	agg_netns_free(nt);
}

/* ---- DNS packets and their clients (agg_dns.c) ---- */

static struct msg_dns dns_out[8];
static size_t ndns_out;

static void
dns_sink(const struct msg_dns *m, void *arg)
{
	if (ndns_out < 8)
		dns_out[ndns_out++] = *m;	/* payload not kept */
}

/* An IPv4 UDP packet src:sport -> dst:dport carrying plen bytes. */
static size_t
udp4(uint8_t *b, const uint8_t *src, uint16_t sport, const uint8_t *dst,
    uint16_t dport, size_t plen)
{
	size_t n = 28 + plen;

	memset(b, 0, n);
	b[0] = 0x45;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	b[9] = 17;
	memcpy(b + 12, src, 4);
	memcpy(b + 16, dst, 4);
	b[20] = (uint8_t)(sport >> 8);
	b[21] = (uint8_t)sport;
	b[22] = (uint8_t)(dport >> 8);
	b[23] = (uint8_t)dport;
	b[24] = (uint8_t)((8 + plen) >> 8);
	b[25] = (uint8_t)(8 + plen);
	memset(b + 28, 0xab, plen);
	return n;
}

static int
dns_pkt(struct agg_dns *d, uint8_t *buf, size_t len, uint64_t t,
    struct agg_event *ev)
{
	struct msg_packet p;

	memset(&p, 0, sizeof(p));
	p.time = t;
	p.protocol = 0x0800;
	p.data = buf;
	p.len = len;
	p.orig_len = (uint32_t)len;
	return agg_dns_packet(d, &p, ev);
}

static void
test_dns_clients(void)
{
	struct agg_dns *d = agg_dns_new(dns_sink, NULL);
	const struct agg_dns_stats *st;
	uint8_t cli[4] = { 127, 0, 0, 1 }, srv[4] = { 127, 0, 0, 53 };
	uint8_t other[4] = { 10, 0, 0, 53 };
	uint8_t b[128], srv16[16] = { 0 };
	struct agg_event q, r, r2, junk;
	size_t n;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	st = agg_dns_stats(d);
	memcpy(srv16, srv, 4);
	/* Query, answer; the client's send is seen between them. */
	n = udp4(b, cli, 40000, srv, 53, 20);
	CHECK(dns_pkt(d, b, n, 1000, &q) == 1 && q.kind == AEV_DNS);
	n = udp4(b, srv, 53, cli, 40000, 40);
	CHECK(dns_pkt(d, b, n, 2000, &r) == 1);
	agg_dns_client(d, 17, 4, 40000, srv16, 53, 321, 1500);
	ndns_out = 0;
	agg_dns_release(d, &q);
	agg_dns_release(d, &r);
	CHECK(ndns_out == 2);
	CHECK(ndns_out == 2 && !dns_out[0].response && dns_out[1].response &&
	    dns_out[1].pid == 321 && dns_out[1].client_port == 40000 &&
	    dns_out[1].server_port == 53 && dns_out[1].len == 40 &&
	    dns_out[1].whole && memcmp(dns_out[1].server_ip, srv, 4) == 0);
	/* Released twice: the second finds its slot taken, nothing sent. */
	agg_dns_release(d, &r);
	CHECK(ndns_out == 2);

	/* An answer before its client is known waits for it. */
	n = udp4(b, srv, 53, cli, 40001, 30);
	CHECK(dns_pkt(d, b, n, 3000, &r) == 1);
	agg_dns_release(d, &r);
	CHECK(ndns_out == 2);
	agg_dns_client(d, 17, 4, 40001, srv16, 53, 654, 3100);
	CHECK(ndns_out == 3 && dns_out[2].pid == 654);
	/* Another server on the same port is another client. */
	n = udp4(b, other, 53, cli, 40001, 30);
	CHECK(dns_pkt(d, b, n, 4000, &r2) == 1);
	agg_dns_release(d, &r2);
	CHECK(ndns_out == 3);
	/* ... and is dropped, counted, when none shows in time. */
	agg_dns_expire(d, 4000 + 3000000000ULL);
	CHECK(st->unattributed == 1 && ndns_out == 3);

	/* Not DNS, not parsable: counted, not kept. */
	n = udp4(b, cli, 1234, srv, 5353, 10);
	CHECK(dns_pkt(d, b, n, 5000, &junk) == 0 && st->not_client == 1);
	n = udp4(b, cli, 40000, srv, 53, 10);
	b[0] = 0x46;	/* header longer than the packet says */
	b[24] = 0xff;
	CHECK(dns_pkt(d, b, 24, 5000, &junk) == 0 && st->unparsed == 1);
	n = udp4(b, cli, 40000, srv, 53, 10);
	b[25] = 200;	/* UDP length past the IP packet */
	CHECK(dns_pkt(d, b, n, 5000, &junk) == 0 && st->unparsed == 2);
	agg_dns_free(d);
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
	test_udp(d);
	test_diag(d);
	test_existing(d);
	test_timeouts(d);
	test_termination(d);
	test_clock();
	test_reuse_and_limits(d);
	test_process_records(d);
	test_bad_records(d);
	test_format_refused();
	test_reorder_percpu();
	test_disconnect(d);
	test_claim_by_tuple(d);
	test_timewait(d);
	test_refused(d);
	test_udp_lifetimes(d);
	test_resumed(d);
	test_fin_wait(d);
	test_kprobe_calls(srcdir ? srcdir : ".");
	test_dns_clients();
	{
		struct agg_decoder *dcg = decoder_from_cg(ss_text, ss_len, 1,
		    err, sizeof(err));

		test_cgroup_netns(d, dcg);
		agg_decoder_free(dcg);
	}
	agg_decoder_free(d);
	free(ss_text);
	return check_done("test_agg");
}

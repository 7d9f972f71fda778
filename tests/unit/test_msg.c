/*
 * Unit tests of the message layer (proto/msg.c), for each of the seven
 * message types: encoding gives a well-formed frame that decodes back to
 * the same values and re-encodes to the same bytes; every truncation of a
 * valid payload, valid payloads with trailing or non-canonical bytes, and
 * payloads built by hand with one field out of range are refused; the
 * encoders refuse what would not fit in a frame; and a deterministic fuzz
 * loop of random, structured and mutated payloads runs every decoder. Each
 * decoder result is checked for consistency: on success every value is
 * within the limits msg.h promises, on failure errstr is set and the
 * output is left zeroed. Run under valgrind to catch leaks and bad reads.
 */
#include "config.h"

#include <linux/perf_event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frame.h"
#include "msg.h"
#include "sockflow.pb-c.h"

#define S(s)	((char *)(s))	/* protobuf-c wants char * for strings */

/* ---- invariants every successful decode must satisfy ---- */

static int
terminated(const char *s, size_t sz)
{
	return memchr(s, '\0', sz) != NULL;
}

/* [a-z0-9_.-], the characters msg.c allows in identifiers. */
static int
ident_ok(const char *s, size_t sz, int nonempty)
{
	size_t i;

	if (!terminated(s, sz) || (nonempty && s[0] == '\0'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_.-",
		    s[i]) == NULL)
			return 0;
	return 1;
}

static int
print_ok(const char *s, size_t sz, int spaces)
{
	size_t i;

	if (!terminated(s, sz))
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || (!spaces && c == ' '))
			return 0;
	}
	return 1;
}

static int
hello_sane(const struct msg_hello *h)
{
	return h->protocol_version == FRAME_VERSION &&
	    ident_ok(h->component, sizeof(h->component), 1) &&
	    print_ok(h->software_version, sizeof(h->software_version), 1) &&
	    ident_ok(h->backend, sizeof(h->backend), 0);
}

static int
formats_sane(const struct msg_formats *f)
{
	size_t i;

	if (f->n == 0 || f->n > MSG_MAX_FORMATS || f->v == NULL ||
	    f->ncpus == 0 || f->ncpus > MSG_MAX_CPUS ||
	    !print_ok(f->tracefs_path, sizeof(f->tracefs_path), 0))
		return 0;
	for (i = 0; i < f->n; i++) {
		const struct msg_format *e = &f->v[i];

		if (e->id == 0 || e->id > 0xffff ||
		    !ident_ok(e->system, sizeof(e->system), 1) ||
		    !ident_ok(e->name, sizeof(e->name), 1) ||
		    e->text == NULL || e->textlen == 0 ||
		    e->textlen > MSG_MAX_FORMAT_TEXT ||
		    strlen(e->text) != e->textlen)
			return 0;
	}
	return 1;
}

/* Walk perf records independently of msg.c's records_ok(). */
static int
samples_sane(const struct msg_samples *s)
{
	struct perf_event_header h;
	size_t off = 0;
	uint32_t n = 0;

	if (s->cpu >= MSG_MAX_CPUS || s->records == NULL)
		return 0;
	/* A batch without records only says how far a ring is drained. */
	if (s->len == 0)
		return s->nrecords == 0 && s->drained_until != 0;
	while (off + sizeof(h) <= s->len) {
		memcpy(&h, s->records + off, sizeof(h));
		if (h.size < sizeof(h) || (h.size & 7) != 0 ||
		    h.size > s->len - off)
			return 0;
		off += h.size;
		n++;
	}
	return off == s->len && n == s->nrecords;
}

static int
lost_sane(const struct msg_lost *l)
{
	return l->n > 0 && l->n <= MSG_MAX_CPUS && l->lost != NULL;
}

static int
endpoint_sane(const struct flow_endpoint *e, int family)
{
	size_t i;

	if (family == 4)
		for (i = 4; i < sizeof(e->ip); i++)
			if (e->ip[i] != 0)
				return 0;
	return 1;
}

static int
flow_sane(const struct msg_flow *f)
{
	return (f->family == 4 || f->family == 6) &&
	    (f->transport == 6 || f->transport == 17) &&
	    f->direction <= FLOW_DIR_OUTBOUND &&
	    f->start_ns > 0 && f->end_ns >= f->start_ns &&
	    f->tcp_state <= 255 &&
	    endpoint_sane(&f->local, f->family) &&
	    endpoint_sane(&f->remote, f->family);
}

static int
process_sane(const struct msg_process *p)
{
	return p->kind >= PROC_EV_EXEC && p->kind <= PROC_EV_SETID &&
	    p->pid != 0 && p->pid <= (1U << 22) && p->ppid <= (1U << 22) &&
	    terminated(p->comm, sizeof(p->comm)) &&
	    terminated(p->executable, sizeof(p->executable)) &&
	    p->args_len <= MSG_ARGS_LEN;
}

static int
packets_sane(const struct msg_packets *b)
{
	size_t i;

	if (b->n > MSG_MAX_PACKETS)
		return 0;
	for (i = 0; i < b->n; i++)
		if (b->v[i].data == NULL || b->v[i].len == 0 ||
		    b->v[i].len > MSG_MAX_SNAPLEN ||
		    b->v[i].orig_len < b->v[i].len || b->v[i].time == 0 ||
		    (b->v[i].protocol != 0x0800 && b->v[i].protocol != 0x86dd))
			return 0;
	return 1;
}

static int
dns_sane(const struct msg_dns *d)
{
	return (d->transport == 6 || d->transport == 17) &&
	    (d->family == 4 || d->family == 6) && d->client_port != 0 &&
	    d->server_port != 0 && d->payload != NULL && d->len > 0 &&
	    d->len <= MSG_MAX_SNAPLEN;
}

static int
netns_sane(const struct msg_netns *n)
{
	size_t i;

	if (n->n == 0 || n->n > MSG_MAX_NETNS)
		return 0;
	for (i = 0; i < n->n; i++)
		if (n->pid[i] == 0 || n->netns[i] == 0 ||
		    n->netns[i] > UINT32_MAX)
			return 0;
	return 1;
}

static int
cgroup_sane(const struct msg_cgroup *c)
{
	size_t i;

	if (c->id == 0 || c->path[0] != '/' ||
	    !terminated(c->path, sizeof(c->path)))
		return 0;
	for (i = 0; c->path[i] != '\0'; i++)
		if (c->path[i] < 0x20 || c->path[i] >= 0x7f)
			return 0;
	return 1;
}

static int
diag_sane(const struct msg_diag *d)
{
	size_t i;

	if (d->n > MSG_MAX_DIAG_DGRAMS)
		return 0;
	for (i = 0; i < d->n; i++)
		if (d->dgram[i] == NULL || d->len[i] == 0 ||
		    d->len[i] > MSG_MAX_DIAG_DGRAM)
			return 0;
	return 1;
}

static int
stats_sane(const struct msg_stats *s)
{
	size_t i;

	if (!ident_ok(s->component, sizeof(s->component), 1) ||
	    s->n == 0 || s->n > MSG_MAX_COUNTERS || s->v == NULL)
		return 0;
	for (i = 0; i < s->n; i++)
		if (!ident_ok(s->v[i].name, sizeof(s->v[i].name), 1))
			return 0;
	return 1;
}

static int
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static void
dump(const char *why, unsigned int t, const uint8_t *p, size_t len)
{
	static int ndumps;
	size_t i;

	if (ndumps++ >= 10)
		return;
	fprintf(stderr, "%s: %s decoder, %zu bytes:", why,
	    frame_type_name(t), len);
	for (i = 0; i < len && i < 64; i++)
		fprintf(stderr, " %02x", p[i]);
	fprintf(stderr, "%s\n", len > 64 ? " ..." : "");
}

/*
 * Run the decoder of frame type t on a payload. On success check the
 * result against the invariants and free it; on failure check that errstr
 * is set and the output was left zeroed. Inconsistencies count in *bad.
 */
static int
try_decode(unsigned int t, const uint8_t *p, size_t len, const char **errstr,
    int *bad)
{
	union {
		struct msg_hello	h;
		struct msg_formats	f;
		struct msg_samples	s;
		struct msg_lost		l;
		struct msg_flow		fl;
		struct msg_process	pr;
		struct msg_stats	st;
		struct msg_diag		dg;
		struct msg_packets	pk;
		struct msg_dns		dn;
		struct msg_netns	nn;
		struct msg_cgroup	cg;
	} u;
	size_t usz = 0;
	int rv = -2, sane = 0;

	*errstr = NULL;
	memset(&u, 0x5a, sizeof(u));
	switch (t) {
	case FRAME_HELLO:
		usz = sizeof(u.h);
		if ((rv = msg_decode_hello(p, len, &u.h, errstr)) == 0)
			sane = hello_sane(&u.h);
		break;
	case FRAME_FORMATS:
		usz = sizeof(u.f);
		if ((rv = msg_decode_formats(p, len, &u.f, errstr)) == 0) {
			sane = formats_sane(&u.f);
			msg_formats_free(&u.f);
		}
		break;
	case FRAME_SAMPLES:
		usz = sizeof(u.s);
		if ((rv = msg_decode_samples(p, len, &u.s, errstr)) == 0) {
			sane = samples_sane(&u.s);
			msg_samples_free(&u.s);
		}
		break;
	case FRAME_LOST:
		usz = sizeof(u.l);
		if ((rv = msg_decode_lost(p, len, &u.l, errstr)) == 0) {
			sane = lost_sane(&u.l);
			msg_lost_free(&u.l);
		}
		break;
	case FRAME_FLOW:
		usz = sizeof(u.fl);
		if ((rv = msg_decode_flow(p, len, &u.fl, errstr)) == 0)
			sane = flow_sane(&u.fl);
		break;
	case FRAME_PROCESS:
		usz = sizeof(u.pr);
		if ((rv = msg_decode_process(p, len, &u.pr, errstr)) == 0)
			sane = process_sane(&u.pr);
		break;
	case FRAME_STATS:
		usz = sizeof(u.st);
		if ((rv = msg_decode_stats(p, len, &u.st, errstr)) == 0) {
			sane = stats_sane(&u.st);
			msg_stats_free(&u.st);
		}
		break;
	case FRAME_DIAG:
		usz = sizeof(u.dg);
		if ((rv = msg_decode_diag(p, len, &u.dg, errstr)) == 0) {
			sane = diag_sane(&u.dg);
			msg_diag_free(&u.dg);
		}
		break;
	case FRAME_PACKETS:
		usz = sizeof(u.pk);
		if ((rv = msg_decode_packets(p, len, &u.pk, errstr)) == 0) {
			sane = packets_sane(&u.pk);
			msg_packets_free(&u.pk);
		}
		break;
	case FRAME_DNS:
		usz = sizeof(u.dn);
		if ((rv = msg_decode_dns(p, len, &u.dn, errstr)) == 0) {
			sane = dns_sane(&u.dn);
			msg_dns_free(&u.dn);
		}
		break;
	case FRAME_NETNS:
		usz = sizeof(u.nn);
		if ((rv = msg_decode_netns(p, len, &u.nn, errstr)) == 0) {
			sane = netns_sane(&u.nn);
			msg_netns_free(&u.nn);
		}
		break;
	case FRAME_CGROUP:
		usz = sizeof(u.cg);
		if ((rv = msg_decode_cgroup(p, len, &u.cg, errstr)) == 0)
			sane = cgroup_sane(&u.cg);
		break;
	default:
		abort();
	}
	if (rv == 0 && !sane) {
		dump("accepted out-of-range values", t, p, len);
		(*bad)++;
	} else if (rv == -1 && *errstr == NULL) {
		dump("failed without errstr", t, p, len);
		(*bad)++;
	} else if (rv == -1 && !all_zero(&u, usz)) {
		dump("failed leaving output set", t, p, len);
		(*bad)++;
	} else if (rv != 0 && rv != -1) {
		dump("bad return value", t, p, len);
		(*bad)++;
	}
	return rv;
}

/*
 * Decode and check the outcome: accepted when want is NULL, otherwise
 * refused with an errstr containing want.
 */
static void
expect(unsigned int t, const uint8_t *p, size_t len, const char *want,
    const char *what)
{
	const char *errstr;
	int bad = 0, rv;

	rv = try_decode(t, p, len, &errstr, &bad);
	CHECK_MSG(bad == 0, "%s: inconsistent decoder result", what);
	if (want == NULL)
		CHECK_MSG(rv == 0, "%s: refused: %s", what,
		    errstr ? errstr : "?");
	else {
		CHECK_MSG(rv == -1, "%s: accepted", what);
		if (rv == -1 && errstr != NULL)
			CHECK_MSG(strstr(errstr, want) != NULL,
			    "%s: errstr \"%s\" lacks \"%s\"", what, errstr,
			    want);
	}
}

/* Pack a hand-built protobuf and decode it as frame type t. */
static void
expect_pb(unsigned int t, const ProtobufCMessage *m, const char *want,
    const char *what)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *p;

	if ((p = malloc(len ? len : 1)) == NULL)
		abort();
	CHECK_MSG(protobuf_c_message_pack(m, p) == len, "%s: pack", what);
	expect(t, p, len, want, what);
	free(p);
}

/* Is buf a whole frame of type t, as an encoder must return? */
static int
frame_ok(const uint8_t *buf, size_t len, unsigned int t)
{
	struct frame_hdr h;
	const char *errstr = NULL;

	return buf != NULL && len > FRAME_HDR_LEN &&
	    frame_hdr_decode(buf, &h, &errstr) == 0 && h.type == t &&
	    h.len == len - FRAME_HDR_LEN;
}

/* Decode an encoder's frame as t; the encoder itself must succeed. */
static void
expect_enc(unsigned int t, uint8_t *buf, size_t len, const char *want,
    const char *what)
{
	CHECK_MSG(frame_ok(buf, len, t), "%s: encoder gave no frame", what);
	if (buf != NULL && len > FRAME_HDR_LEN)
		expect(t, buf + FRAME_HDR_LEN, len - FRAME_HDR_LEN, want,
		    what);
	free(buf);
}

/* ---- sample messages ---- */

static struct msg_hello hello0 = {
	.protocol_version = FRAME_VERSION,
	.component = "probe",
	.software_version = "0.1.0 (test build; x86_64)",
	.pid = 4242,
	.backend = "tracepoint",
};

static char fmt_text0[] =
    "name: inet_sock_set_state\nID: 1234\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n";
static char fmt_text1[] = "name: sys_enter_connect\nID: 77\n\xc3\xa9\t~";

static struct msg_format formats_v0[] = {
	{ 1234, "sock", "inet_sock_set_state", fmt_text0,
	    sizeof(fmt_text0) - 1, 0 },
	{ 0xffff, "syscalls", "sys_enter_connect", fmt_text1,
	    sizeof(fmt_text1) - 1, 12288 },
};

static struct msg_formats formats0 = {
	.v = formats_v0,
	.n = 2,
	.tracefs_path = "/sys/kernel/tracing",
	.ncpus = 8,
};

static uint8_t records0[64];
static struct msg_samples samples0 = {
	.cpu = 3,
	.records = records0,
	.len = sizeof(records0),
	.nrecords = 3,
};

static uint64_t lost_v0[] = { 0, 1, 300, UINT64_MAX, 0 };
static struct msg_lost lost0 = { lost_v0, 5, NULL };

static struct msg_flow flow6 = {
	.sock = 0xffff8881deadbeefULL,
	.family = 6,
	.transport = 6,
	.direction = FLOW_DIR_OUTBOUND,
	.local = {
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
		40123, 123456789012ULL, 98765
	},
	.remote = {
		{ 0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    0x80 },
		443, 1, 1
	},
	.pid = 31337,
	.start_ns = 1700000000123456789LL,
	.end_ns = 1700000005987654321LL,
	.final = true,
	.complete = true,
	.tcp_state = 7,
};

static struct msg_flow flow4 = {
	.sock = 1,
	.family = 4,
	.transport = 17,
	.direction = FLOW_DIR_INBOUND,
	.local = { { 192, 0, 2, 1 }, 53, 0, 0 },
	.remote = { { 198, 51, 100, 255 }, 65535, UINT64_MAX, UINT64_MAX },
	.pid = 0,
	.start_ns = 1,
	.end_ns = 1,
	.final = false,
	.complete = true,
	.tcp_state = 255,
};

static struct msg_process process0 = {
	.kind = PROC_EV_EXEC,
	.pid = 1U << 22,
	.ppid = 1,
	.comm = "nginx: worker\x1b\t\xff",
	.time_ns = -5,
	.executable = "/usr/sbin/ng\x01nx",
	.uid = 4294967295U,
	.gid = 1,
	.euid = 2,
	.egid = 3,
	.args = "curl\0-o\0\xff\0",
	.args_len = 11,
	.argc = 4,
};

static struct msg_counter counters0[] = {
	{ "frames_in", 12345 },
	{ "bytes_in", UINT64_MAX },
	{ "dropped.v4-x", 0 },
};

static struct msg_stats stats0 = {
	.component = "aggregator",
	.v = counters0,
	.n = 3,
};

/* Valid payloads of each type, for truncation, trailers and fuzzing. */
static struct {
	uint8_t	*frame;
	size_t	 len;
} valid[FRAME_TYPE_MAX];

#define VPAY(t)		(valid[t].frame + FRAME_HDR_LEN)
#define VLEN(t)		(valid[t].len - FRAME_HDR_LEN)

/* Write a perf record header only. */
static void
put_hdr(uint8_t *buf, size_t off, uint32_t type, uint16_t size)
{
	struct perf_event_header h;

	h.type = type;
	h.misc = 0;
	h.size = size;
	memcpy(buf + off, &h, sizeof(h));
}

/* Write a whole perf record: header and a patterned body. */
static size_t
put_rec(uint8_t *buf, size_t off, uint32_t type, uint16_t size)
{
	size_t i;

	put_hdr(buf, off, type, size);
	for (i = sizeof(struct perf_event_header); i < size; i++)
		buf[off + i] = (uint8_t)(off + i);
	return off + size;
}

static void
make_valid(void)
{
	size_t off = 0;

	off = put_rec(records0, off, PERF_RECORD_SAMPLE, 16);
	off = put_rec(records0, off, PERF_RECORD_LOST, 40);
	off = put_rec(records0, off, PERF_RECORD_SAMPLE, 8);
	if (off != sizeof(records0))
		abort();

	valid[FRAME_HELLO].frame = msg_encode_hello(&hello0,
	    &valid[FRAME_HELLO].len);
	valid[FRAME_FORMATS].frame = msg_encode_formats(&formats0,
	    &valid[FRAME_FORMATS].len);
	valid[FRAME_SAMPLES].frame = msg_encode_samples(&samples0,
	    &valid[FRAME_SAMPLES].len);
	valid[FRAME_LOST].frame = msg_encode_lost(&lost0,
	    &valid[FRAME_LOST].len);
	valid[FRAME_FLOW].frame = msg_encode_flow(&flow6,
	    &valid[FRAME_FLOW].len);
	valid[FRAME_PROCESS].frame = msg_encode_process(&process0,
	    &valid[FRAME_PROCESS].len);
	valid[FRAME_STATS].frame = msg_encode_stats(&stats0,
	    &valid[FRAME_STATS].len);
	{
		static uint8_t d1[] = { 1, 2, 3, 4 }, d2[20];
		static uint8_t *dg[] = { d1, d2 };
		static size_t dl[] = { sizeof(d1), sizeof(d2) };
		struct msg_diag diag0 = { dg, dl, 2, 3, 0 };

		valid[FRAME_DIAG].frame = msg_encode_diag(&diag0,
		    &valid[FRAME_DIAG].len);
	}
	{
		static uint8_t p1[28] = { 0x45, 0, 0, 28 };
		static uint8_t p2[48] = { 0x60 };
		static struct msg_packet pk[2];
		struct msg_packets b = { pk, 2, 7 };

		pk[0].time = 1000;
		pk[0].protocol = 0x0800;
		pk[0].ifindex = 1;
		pk[0].data = p1;
		pk[0].len = sizeof(p1);
		pk[0].orig_len = 60;
		pk[1].time = 2000;
		pk[1].protocol = 0x86dd;
		pk[1].ifindex = 2;
		pk[1].data = p2;
		pk[1].len = sizeof(p2);
		pk[1].orig_len = sizeof(p2);
		valid[FRAME_PACKETS].frame = msg_encode_packets(&b,
		    &valid[FRAME_PACKETS].len);
	}
	{
		static uint8_t q[12] = { 0x12, 0x34, 1, 0, 0, 1 };
		struct msg_dns d;

		memset(&d, 0, sizeof(d));
		d.pid = 42;
		d.time_ns = 1700000000000000000LL;
		d.transport = 17;
		d.family = 4;
		memcpy(d.client_ip, "\x7f\0\0\x01", 4);
		d.client_port = 40000;
		memcpy(d.server_ip, "\x7f\0\0\x35", 4);
		d.server_port = 53;
		d.response = true;
		d.whole = true;
		d.payload = q;
		d.len = sizeof(q);
		valid[FRAME_DNS].frame = msg_encode_dns(&d,
		    &valid[FRAME_DNS].len);
	}
	{
		static uint32_t pids[3] = { 1, 200, 4000000 };
		static uint64_t inos[3] = { 4026531840ULL, 4026532178ULL,
		    4026532316ULL };
		struct msg_netns n = { pids, inos, 3 };
		struct msg_cgroup c;

		valid[FRAME_NETNS].frame = msg_encode_netns(&n,
		    &valid[FRAME_NETNS].len);
		memset(&c, 0, sizeof(c));
		c.id = 44;
		snprintf(c.path, sizeof(c.path), "/system.slice/docker-%064x."
		    "scope", 0xabc);
		valid[FRAME_CGROUP].frame = msg_encode_cgroup(&c,
		    &valid[FRAME_CGROUP].len);
	}
}

/* Namespaces at start and cgroup events: in and out, or refused. */
static void
test_roundtrip_netns_cgroup(void)
{
	struct msg_netns n, bad;
	struct msg_cgroup c;
	const char *errstr;
	uint32_t pid0 = 0;
	uint64_t ino = 5;
	uint8_t *frame;
	size_t len;

	CHECK(msg_decode_netns(VPAY(FRAME_NETNS), VLEN(FRAME_NETNS), &n,
	    &errstr) == 0);
	CHECK(n.n == 3 && n.pid[2] == 4000000 && n.netns[1] == 4026532178ULL);
	msg_netns_free(&n);
	bad.pid = &pid0;
	bad.netns = &ino;
	bad.n = 1;
	frame = msg_encode_netns(&bad, &len);
	CHECK(frame != NULL && msg_decode_netns(frame + FRAME_HDR_LEN,
	    len - FRAME_HDR_LEN, &n, &errstr) == -1 &&
	    strstr(errstr, "entry") != NULL);
	free(frame);
	CHECK(msg_decode_cgroup(VPAY(FRAME_CGROUP), VLEN(FRAME_CGROUP), &c,
	    &errstr) == 0);
	CHECK(c.id == 44 && strncmp(c.path, "/system.slice/docker-", 21) == 0);
	/* A relative path, or one with a control character, is refused. */
	snprintf(c.path, sizeof(c.path), "system.slice");
	frame = msg_encode_cgroup(&c, &len);
	CHECK(frame != NULL && msg_decode_cgroup(frame + FRAME_HDR_LEN,
	    len - FRAME_HDR_LEN, &c, &errstr) == -1);
	free(frame);
	c.id = 44;
	snprintf(c.path, sizeof(c.path), "/a\nb");
	frame = msg_encode_cgroup(&c, &len);
	CHECK(frame != NULL && msg_decode_cgroup(frame + FRAME_HDR_LEN,
	    len - FRAME_HDR_LEN, &c, &errstr) == -1);
	free(frame);
}

/* The packet batch and DNS message: what goes in comes out, or is refused. */
static void
test_roundtrip_dns(void)
{
	struct msg_packets b;
	struct msg_dns d, bad;
	const char *errstr;
	uint8_t *frame, pl[4] = { 1, 2, 3, 4 };
	size_t len;

	CHECK(msg_decode_packets(VPAY(FRAME_PACKETS), VLEN(FRAME_PACKETS), &b,
	    &errstr) == 0);
	CHECK(b.n == 2 && b.drops == 7 && b.v[0].time == 1000 &&
	    b.v[0].protocol == 0x0800 && b.v[0].len == 28 &&
	    b.v[0].orig_len == 60 && b.v[0].data[3] == 28 &&
	    b.v[1].protocol == 0x86dd && b.v[1].ifindex == 2);
	msg_packets_free(&b);
	CHECK(msg_decode_dns(VPAY(FRAME_DNS), VLEN(FRAME_DNS), &d,
	    &errstr) == 0);
	CHECK(d.pid == 42 && d.family == 4 && d.transport == 17 &&
	    d.client_port == 40000 && d.server_port == 53 && d.response &&
	    d.whole && d.len == 12 && d.payload[1] == 0x34 &&
	    d.server_ip[3] == 0x35);
	/* A port of 0, or a transport that is neither, is refused. */
	bad = d;
	bad.payload = pl;
	bad.len = sizeof(pl);
	bad.client_port = 0;
	frame = msg_encode_dns(&bad, &len);
	CHECK(frame != NULL && msg_decode_dns(frame + FRAME_HDR_LEN,
	    len - FRAME_HDR_LEN, &bad, &errstr) == -1 &&
	    strstr(errstr, "port") != NULL);
	free(frame);
	bad = d;
	bad.payload = pl;
	bad.len = sizeof(pl);
	bad.transport = 1;
	frame = msg_encode_dns(&bad, &len);
	CHECK(frame != NULL && msg_decode_dns(frame + FRAME_HDR_LEN,
	    len - FRAME_HDR_LEN, &bad, &errstr) == -1 &&
	    strstr(errstr, "transport") != NULL);
	free(frame);
	msg_dns_free(&d);
}

/* A batch with no records but a drain mark, and one with neither. */
static void
test_samples_drained(void)
{
	struct msg_samples s = { 0 }, out;
	const char *errstr;
	uint8_t *buf;
	size_t len;

	s.cpu = 1;
	s.drained_until = 123456789;
	buf = msg_encode_samples(&s, &len);
	CHECK(buf != NULL);
	if (buf != NULL) {
		CHECK(msg_decode_samples(buf + FRAME_HDR_LEN,
		    len - FRAME_HDR_LEN, &out, &errstr) == 0);
		CHECK(out.nrecords == 0 && out.len == 0 &&
		    out.drained_until == 123456789 && out.cpu == 1);
		msg_samples_free(&out);
		free(buf);
	}
	s.drained_until = 0;
	s.cpu = 2;
	buf = msg_encode_samples(&s, &len);
	CHECK(buf != NULL);
	if (buf != NULL) {
		CHECK(msg_decode_samples(buf + FRAME_HDR_LEN,
		    len - FRAME_HDR_LEN, &out, &errstr) == -1 &&
		    strstr(errstr, "empty") != NULL);
		free(buf);
	}
}

static void
test_roundtrip_diag(void)
{
	struct msg_diag d;
	const char *errstr;
	uint8_t big[MSG_MAX_DIAG_DGRAM + 1], *bp = big, *zp = big;
	size_t bl = sizeof(big), zl = 0, len;
	struct msg_diag bad = { &bp, &bl, 1, 0, 0 }, empty = { &zp, &zl, 1, 0, 0 };
	uint8_t *frame;

	CHECK(msg_decode_diag(VPAY(FRAME_DIAG), VLEN(FRAME_DIAG), &d,
	    &errstr) == 0);
	CHECK(d.n == 2 && d.len[0] == 4 && d.len[1] == 20 && d.overruns == 3);
	CHECK(d.n == 2 && d.dgram[0][3] == 4);
	msg_diag_free(&d);
	/* A datagram over 64 KiB, or an empty one, is refused. */
	memset(big, 0, sizeof(big));
	frame = msg_encode_diag(&bad, &len);
	CHECK(frame != NULL);
	if (frame != NULL) {
		CHECK(msg_decode_diag(frame + FRAME_HDR_LEN,
		    len - FRAME_HDR_LEN, &d, &errstr) == -1 &&
		    strstr(errstr, "datagram length") != NULL);
		free(frame);
	}
	frame = msg_encode_diag(&empty, &len);
	CHECK(frame != NULL);
	if (frame != NULL) {
		CHECK(msg_decode_diag(frame + FRAME_HDR_LEN,
		    len - FRAME_HDR_LEN, &d, &errstr) == -1);
		free(frame);
	}
}

static int
have_valid(void)
{
	unsigned int t;
	int ok = 1;

	for (t = FRAME_HELLO; t < FRAME_TYPE_MAX; t++) {
		CHECK_MSG(frame_ok(valid[t].frame, valid[t].len, t),
		    "no valid %s frame", frame_type_name(t));
		if (!frame_ok(valid[t].frame, valid[t].len, t))
			ok = 0;
	}
	return ok;
}

/* ---- round trips ---- */

/*
 * Re-encoding a decoded message must give back the same frame. The length
 * comes by pointer: it is only set once the encoder in the call has run.
 */
static void
same_frame(unsigned int t, uint8_t *buf, const size_t *lenp,
    const uint8_t *orig, size_t origlen)
{
	CHECK_MSG(buf != NULL && *lenp == origlen &&
	    memcmp(buf, orig, origlen) == 0, "%s: re-encoding differs",
	    frame_type_name(t));
	free(buf);
}

static void
test_roundtrip_hello(void)
{
	struct msg_hello h;
	const char *errstr = NULL;
	size_t len = 0;

	CHECK(msg_decode_hello(VPAY(FRAME_HELLO), VLEN(FRAME_HELLO), &h,
	    &errstr) == 0);
	CHECK(h.protocol_version == hello0.protocol_version);
	CHECK(strcmp(h.component, hello0.component) == 0);
	CHECK(strcmp(h.software_version, hello0.software_version) == 0);
	CHECK(h.pid == hello0.pid);
	CHECK(strcmp(h.backend, hello0.backend) == 0);
	same_frame(FRAME_HELLO, msg_encode_hello(&h, &len), &len,
	    valid[FRAME_HELLO].frame, valid[FRAME_HELLO].len);
}

static void
test_roundtrip_formats(void)
{
	struct msg_formats f;
	const char *errstr = NULL;
	size_t i, len = 0;

	CHECK(msg_decode_formats(VPAY(FRAME_FORMATS), VLEN(FRAME_FORMATS),
	    &f, &errstr) == 0);
	CHECK(f.n == formats0.n);
	CHECK(f.ncpus == formats0.ncpus);
	CHECK(!f.sample_cgroup);
	/* The flag that samples end with their cgroup goes through. */
	{
		struct msg_formats g = formats0, back;
		uint8_t *fr;
		size_t fl;

		g.sample_cgroup = true;
		fr = msg_encode_formats(&g, &fl);
		CHECK(fr != NULL && msg_decode_formats(fr + FRAME_HDR_LEN,
		    fl - FRAME_HDR_LEN, &back, &errstr) == 0 &&
		    back.sample_cgroup && back.v[1].stack_user == 12288);
		if (fr != NULL)
			msg_formats_free(&back);
		free(fr);
	}
	CHECK(strcmp(f.tracefs_path, formats0.tracefs_path) == 0);
	for (i = 0; i < f.n && i < formats0.n; i++) {
		const struct msg_format *a = &f.v[i], *b = &formats0.v[i];

		CHECK_MSG(a->id == b->id, "format %zu id", i);
		CHECK_MSG(strcmp(a->system, b->system) == 0,
		    "format %zu system", i);
		CHECK_MSG(strcmp(a->name, b->name) == 0, "format %zu name", i);
		CHECK_MSG(a->stack_user == b->stack_user,
		    "format %zu stack_user", i);
		CHECK_MSG(a->textlen == b->textlen &&
		    memcmp(a->text, b->text, a->textlen) == 0,
		    "format %zu text", i);
		CHECK_MSG(a->text[a->textlen] == '\0',
		    "format %zu text unterminated", i);
	}
	same_frame(FRAME_FORMATS, msg_encode_formats(&f, &len), &len,
	    valid[FRAME_FORMATS].frame, valid[FRAME_FORMATS].len);
	msg_formats_free(&f);
	CHECK(f.v == NULL && f.n == 0);
}

static void
test_roundtrip_samples(void)
{
	struct msg_samples s = { 0 };
	const char *errstr = NULL;
	size_t len = 0;

	CHECK(msg_decode_samples(VPAY(FRAME_SAMPLES), VLEN(FRAME_SAMPLES),
	    &s, &errstr) == 0);
	CHECK(s.cpu == samples0.cpu);
	CHECK(s.nrecords == samples0.nrecords);
	CHECK(s.len == samples0.len && s.records != NULL &&
	    memcmp(s.records, samples0.records, s.len) == 0);
	CHECK(s.records != samples0.records);
	same_frame(FRAME_SAMPLES, msg_encode_samples(&s, &len), &len,
	    valid[FRAME_SAMPLES].frame, valid[FRAME_SAMPLES].len);
	msg_samples_free(&s);
	CHECK(s.records == NULL && s.len == 0);
}

static void
test_roundtrip_lost(void)
{
	struct msg_lost l;
	const char *errstr = NULL;
	size_t len = 0;

	CHECK(msg_decode_lost(VPAY(FRAME_LOST), VLEN(FRAME_LOST), &l,
	    &errstr) == 0);
	CHECK(l.n == lost0.n && l.lost != NULL &&
	    memcmp(l.lost, lost0.lost, l.n * sizeof(uint64_t)) == 0);
	same_frame(FRAME_LOST, msg_encode_lost(&l, &len), &len,
	    valid[FRAME_LOST].frame, valid[FRAME_LOST].len);
	CHECK(l.counted == NULL);
	msg_lost_free(&l);
	CHECK(l.lost == NULL && l.n == 0);

	/* With the kernel's counts, which come back the same. */
	{
		uint64_t counted[5] = { 7, 0, UINT64_MAX, 1, 2 };
		struct msg_lost w = lost0;
		uint8_t *buf;

		w.counted = counted;
		buf = msg_encode_lost(&w, &len);
		CHECK(buf != NULL);
		if (buf != NULL) {
			CHECK(msg_decode_lost(buf + FRAME_HDR_LEN,
			    len - FRAME_HDR_LEN, &l, &errstr) == 0);
			CHECK(l.counted != NULL && l.n == 5 &&
			    memcmp(l.counted, counted, sizeof(counted)) == 0);
			msg_lost_free(&l);
			free(buf);
		}
	}
}

static void
flow_compare(const struct msg_flow *a, const struct msg_flow *b,
    const char *what)
{
	CHECK_MSG(a->sock == b->sock, "%s: sock", what);
	CHECK_MSG(a->family == b->family, "%s: family", what);
	CHECK_MSG(a->transport == b->transport, "%s: transport", what);
	CHECK_MSG(a->direction == b->direction, "%s: direction", what);
	CHECK_MSG(memcmp(a->local.ip, b->local.ip, 16) == 0,
	    "%s: local ip", what);
	CHECK_MSG(a->local.port == b->local.port, "%s: local port", what);
	CHECK_MSG(a->local.bytes == b->local.bytes, "%s: local bytes", what);
	CHECK_MSG(a->local.packets == b->local.packets,
	    "%s: local packets", what);
	CHECK_MSG(memcmp(a->remote.ip, b->remote.ip, 16) == 0,
	    "%s: remote ip", what);
	CHECK_MSG(a->remote.port == b->remote.port, "%s: remote port", what);
	CHECK_MSG(a->remote.bytes == b->remote.bytes,
	    "%s: remote bytes", what);
	CHECK_MSG(a->remote.packets == b->remote.packets,
	    "%s: remote packets", what);
	CHECK_MSG(a->pid == b->pid, "%s: pid", what);
	CHECK_MSG(a->start_ns == b->start_ns, "%s: start", what);
	CHECK_MSG(a->end_ns == b->end_ns, "%s: end", what);
	CHECK_MSG(a->final == b->final, "%s: final", what);
	CHECK_MSG(a->complete == b->complete, "%s: complete", what);
	CHECK_MSG(a->tcp_state == b->tcp_state, "%s: tcp state", what);
}

static void
test_roundtrip_flow(void)
{
	struct msg_flow f;
	const char *errstr = NULL;
	uint8_t *buf;
	size_t len = 0, len2 = 0;
	int i;

	CHECK(msg_decode_flow(VPAY(FRAME_FLOW), VLEN(FRAME_FLOW), &f,
	    &errstr) == 0);
	flow_compare(&f, &flow6, "flow v6");
	same_frame(FRAME_FLOW, msg_encode_flow(&f, &len2), &len2,
	    valid[FRAME_FLOW].frame, valid[FRAME_FLOW].len);

	buf = msg_encode_flow(&flow4, &len);
	CHECK(frame_ok(buf, len, FRAME_FLOW));
	errstr = NULL;
	CHECK(buf != NULL && msg_decode_flow(buf + FRAME_HDR_LEN,
	    len - FRAME_HDR_LEN, &f, &errstr) == 0);
	flow_compare(&f, &flow4, "flow v4");
	if (buf != NULL)
		same_frame(FRAME_FLOW, msg_encode_flow(&f, &len2), &len2, buf,
		    len);
	free(buf);

	/* A notice of an open flow: its id and flag come through. */
	f = flow4;
	f.flow_id = 0x1234567890ULL;
	f.open = true;
	buf = msg_encode_flow(&f, &len);
	memset(&f, 0, sizeof(f));
	CHECK(buf != NULL && msg_decode_flow(buf + FRAME_HDR_LEN,
	    len - FRAME_HDR_LEN, &f, &errstr) == 0 && f.open &&
	    f.flow_id == 0x1234567890ULL);
	free(buf);
	/* A notice that is final, or without an id, is refused. */
	for (i = 0; i < 2; i++) {
		f = flow4;
		f.open = true;
		f.final = i == 0;
		f.flow_id = i == 0 ? 5 : 0;
		buf = msg_encode_flow(&f, &len);
		errstr = NULL;
		CHECK_MSG(buf != NULL && msg_decode_flow(buf + FRAME_HDR_LEN,
		    len - FRAME_HDR_LEN, &f, &errstr) == -1 && errstr != NULL,
		    "bad notice %d", i);
		free(buf);
	}
}

static void
test_roundtrip_process(void)
{
	struct msg_process p;
	const char *errstr = NULL;
	size_t len = 0;

	CHECK(msg_decode_process(VPAY(FRAME_PROCESS), VLEN(FRAME_PROCESS),
	    &p, &errstr) == 0);
	CHECK(p.kind == process0.kind);
	CHECK(p.pid == process0.pid);
	CHECK(p.ppid == process0.ppid);
	CHECK(strcmp(p.comm, process0.comm) == 0);
	CHECK(p.time_ns == process0.time_ns);
	CHECK(strcmp(p.executable, process0.executable) == 0);
	CHECK(p.uid == process0.uid && p.gid == process0.gid &&
	    p.euid == process0.euid && p.egid == process0.egid);
	CHECK(p.args_len == process0.args_len && p.argc == process0.argc &&
	    memcmp(p.args, process0.args, p.args_len) == 0);
	same_frame(FRAME_PROCESS, msg_encode_process(&p, &len), &len,
	    valid[FRAME_PROCESS].frame, valid[FRAME_PROCESS].len);
}

static void
test_roundtrip_stats(void)
{
	struct msg_stats s;
	const char *errstr = NULL;
	size_t i, len = 0;

	CHECK(msg_decode_stats(VPAY(FRAME_STATS), VLEN(FRAME_STATS), &s,
	    &errstr) == 0);
	CHECK(strcmp(s.component, stats0.component) == 0);
	CHECK(s.n == stats0.n);
	for (i = 0; i < s.n && i < stats0.n; i++) {
		CHECK_MSG(strcmp(s.v[i].name, stats0.v[i].name) == 0,
		    "counter %zu name", i);
		CHECK_MSG(s.v[i].value == stats0.v[i].value,
		    "counter %zu value", i);
	}
	same_frame(FRAME_STATS, msg_encode_stats(&s, &len), &len,
	    valid[FRAME_STATS].frame, valid[FRAME_STATS].len);
	msg_stats_free(&s);
	CHECK(s.v == NULL && s.n == 0);

	/* The clean-stop mark comes through, and is off by default. */
	{
		struct msg_stats l = stats0;
		uint8_t *buf;

		CHECK(!stats0.last);
		l.last = true;
		buf = msg_encode_stats(&l, &len);
		CHECK(buf != NULL && msg_decode_stats(buf + FRAME_HDR_LEN,
		    len - FRAME_HDR_LEN, &s, &errstr) == 0 && s.last);
		msg_stats_free(&s);
		free(buf);
	}
}

/* ---- truncations and trailers ---- */

static void
test_truncated(void)
{
	unsigned int t;
	size_t n, failed;
	const char *errstr;
	int bad, rv;

	for (t = FRAME_HELLO; t < FRAME_TYPE_MAX; t++) {
		bad = 0;
		failed = 0;
		for (n = 0; n < VLEN(t); n++) {
			rv = try_decode(t, VPAY(t), n, &errstr, &bad);
			if (n == 0)
				CHECK_MSG(rv == -1, "%s: empty payload "
				    "accepted", frame_type_name(t));
			if (rv == -1)
				failed++;
		}
		CHECK_MSG(bad == 0, "%s: %d inconsistent results",
		    frame_type_name(t), bad);
		CHECK_MSG(failed * 4 >= VLEN(t) * 3,
		    "%s: only %zu of %zu truncations refused",
		    frame_type_name(t), failed, VLEN(t));
	}
	/* Those with a last field that must not be missing refuse all. */
	for (t = FRAME_FORMATS; t <= FRAME_LOST; t++) {
		bad = 0;
		failed = 0;
		for (n = 0; n < VLEN(t); n++)
			if (try_decode(t, VPAY(t), n, &errstr, &bad) == -1)
				failed++;
		CHECK_MSG(failed == VLEN(t), "%s: %zu of %zu truncations "
		    "refused", frame_type_name(t), failed, VLEN(t));
	}
}

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static void
test_trailing(void)
{
	static const struct {
		const char	*b;
		size_t		 n;
		const char	*what;
	} tails[] = {
		{ "\x98\x06\x01", 3, "unknown varint field 99" },
		{ "\x9a\x06\x02hi", 5, "unknown bytes field 99" },
		{ "\xf8\x3f\x00", 3, "unknown field 1023" },
		{ "\x0d\x01\x02\x03\x04", 5, "field 1 as fixed32" },
		{ "\x00", 1, "a zero byte" },
		{ "\xff", 1, "a truncated tag" },
		{ "\x00\x00\x00\x00\x00\x00\x00\x00", 8, "zero padding" },
	};
	uint8_t buf[4096];
	unsigned int t;
	size_t i, j, n, len;
	char what[128];

	rng_state = 0x2545f4914f6cdd1dULL;
	for (t = FRAME_HELLO; t < FRAME_TYPE_MAX; t++) {
		len = VLEN(t);
		if (2 * len + 64 > sizeof(buf))
			abort();
		memcpy(buf, VPAY(t), len);
		for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
			memcpy(buf + len, tails[i].b, tails[i].n);
			snprintf(what, sizeof(what), "%s + %s",
			    frame_type_name(t), tails[i].what);
			expect(t, buf, len + tails[i].n, "", what);
		}
		/* The same message twice is one message, not canonical. */
		memcpy(buf + len, VPAY(t), len);
		snprintf(what, sizeof(what), "%s twice", frame_type_name(t));
		expect(t, buf, 2 * len, "", what);
		/* Random tails. */
		for (i = 0; i < 64; i++) {
			n = 1 + rnd() % 32;
			for (j = 0; j < n; j++)
				buf[len + j] = (uint8_t)rnd();
			snprintf(what, sizeof(what), "%s + %zu random bytes "
			    "(#%zu)", frame_type_name(t), n, i);
			expect(t, buf, len + n, "", what);
		}
	}
}

/*
 * Non-canonical encodings of a hello without pid: a zero pid written out,
 * a padded varint. Each would otherwise be a valid message.
 */
static void
test_noncanonical(void)
{
	struct msg_hello h = hello0;
	uint8_t *f, buf[512];
	size_t len = 0, n;

	h.pid = 0;
	if ((f = msg_encode_hello(&h, &len)) == NULL)
		abort();
	n = len - FRAME_HDR_LEN;
	memcpy(buf, f + FRAME_HDR_LEN, n);
	free(f);
	expect(FRAME_HELLO, buf, n, NULL, "hello without pid");
	memcpy(buf + n, "\x20\x00", 2);
	expect(FRAME_HELLO, buf, n + 2, "", "hello with explicit pid 0");
	memcpy(buf + n, "\x20\x85\x00", 3);
	expect(FRAME_HELLO, buf, n + 3, "", "hello with padded pid");
	/* Control: the same field appended in canonical form is fine. */
	memcpy(buf + n, "\x20\x05", 2);
	expect(FRAME_HELLO, buf, n + 2, NULL, "hello with pid appended");
}

/* ---- field validation, with payloads built by hand ---- */

static void
pb_hello(Sockflow__Hello *m)
{
	sockflow__hello__init(m);
	m->protocol_version = FRAME_VERSION;
	m->component = S("probe");
	m->software_version = S("1.0");
	m->pid = 1;
	m->backend = S("kprobe");
}

static const char name63[] =
    "abcdefghijklmnopqrstuvwxyz0123456789_abcdefghijklmnopqrstuvwxyz";
static const char name64[] =
    "abcdefghijklmnopqrstuvwxyz0123456789_abcdefghijklmnopqrstuvwxyz_";

static void
test_valid_hello(void)
{
	Sockflow__Hello m;

	pb_hello(&m);
	expect_pb(FRAME_HELLO, &m.base, NULL, "hello baseline");
	pb_hello(&m);
	m.component = S(name63);
	m.software_version = S(name63);
	m.backend = S("");
	expect_pb(FRAME_HELLO, &m.base, NULL, "hello longest names");

	pb_hello(&m);
	m.protocol_version = 0;
	expect_pb(FRAME_HELLO, &m.base, "version", "hello version 0");
	m.protocol_version = 2;
	expect_pb(FRAME_HELLO, &m.base, "version", "hello version 2");
	m.protocol_version = UINT32_MAX;
	expect_pb(FRAME_HELLO, &m.base, "version", "hello version max");
	pb_hello(&m);
	m.component = S("pro be");
	expect_pb(FRAME_HELLO, &m.base, "component", "component space");
	m.component = S("Probe");
	expect_pb(FRAME_HELLO, &m.base, "component", "component upper");
	m.component = S("");
	expect_pb(FRAME_HELLO, &m.base, "component", "component empty");
	m.component = S("probe/x");
	expect_pb(FRAME_HELLO, &m.base, "component", "component slash");
	m.component = S(name64);
	expect_pb(FRAME_HELLO, &m.base, "component", "component 64 chars");
	pb_hello(&m);
	m.software_version = S("1.0\n");
	expect_pb(FRAME_HELLO, &m.base, "software", "version newline");
	m.software_version = S("1.0\x80");
	expect_pb(FRAME_HELLO, &m.base, "software", "version high byte");
	m.software_version = S(name64);
	expect_pb(FRAME_HELLO, &m.base, "software", "version 64 chars");
	pb_hello(&m);
	m.backend = S("Tracepoint");
	expect_pb(FRAME_HELLO, &m.base, "backend", "backend upper");
	m.backend = S("trace point");
	expect_pb(FRAME_HELLO, &m.base, "backend", "backend space");
}

#define NFMT	(MSG_MAX_FORMATS + 1)

struct pb_formats {
	Sockflow__FormatSet	 m;
	Sockflow__EventFormat	 e[NFMT];
	Sockflow__EventFormat	*ep[NFMT];
};

static void
pb_formats(struct pb_formats *f, size_t n)
{
	size_t i;

	sockflow__format_set__init(&f->m);
	for (i = 0; i < NFMT; i++) {
		sockflow__event_format__init(&f->e[i]);
		f->e[i].id = 1 + (uint32_t)i;
		f->e[i].system = S("sock");
		f->e[i].name = S("inet_sock_set_state");
		f->e[i].format.data = (uint8_t *)fmt_text0;
		f->e[i].format.len = sizeof(fmt_text0) - 1;
		f->ep[i] = &f->e[i];
	}
	f->m.n_formats = n;
	f->m.formats = f->ep;
	f->m.tracefs_path = S("/sys/kernel/debug/tracing");
	f->m.ncpus = 2;
}

static void
test_valid_formats(void)
{
	static struct pb_formats f;
	uint8_t *big;

	if ((big = malloc(MSG_MAX_FORMAT_TEXT + 1)) == NULL)
		abort();
	memset(big, 'x', MSG_MAX_FORMAT_TEXT + 1);

	pb_formats(&f, 1);
	expect_pb(FRAME_FORMATS, &f.m.base, NULL, "formats baseline");
	pb_formats(&f, MSG_MAX_FORMATS);
	f.m.ncpus = MSG_MAX_CPUS;
	f.e[0].id = 0xffff;
	f.e[1].name = S(name63);
	f.e[2].format.data = big;
	f.e[2].format.len = MSG_MAX_FORMAT_TEXT;
	f.e[3].format.data = (uint8_t *)"x";
	f.e[3].format.len = 1;
	expect_pb(FRAME_FORMATS, &f.m.base, NULL, "formats at limits");

	pb_formats(&f, 0);
	expect_pb(FRAME_FORMATS, &f.m.base, "number", "0 formats");
	pb_formats(&f, NFMT);
	expect_pb(FRAME_FORMATS, &f.m.base, "number", "65 formats");
	pb_formats(&f, 2);
	f.e[1].id = 0;
	expect_pb(FRAME_FORMATS, &f.m.base, "event id", "event id 0");
	f.e[1].id = 0x10000;
	expect_pb(FRAME_FORMATS, &f.m.base, "event id", "event id 0x10000");
	pb_formats(&f, 2);
	f.e[1].name = S("inet/sock");
	expect_pb(FRAME_FORMATS, &f.m.base, "event name", "name with /");
	f.e[1].name = S("..");
	f.e[1].system = S("a/b");
	expect_pb(FRAME_FORMATS, &f.m.base, "event name", "system with /");
	pb_formats(&f, 2);
	f.e[0].name = S("");
	expect_pb(FRAME_FORMATS, &f.m.base, "event name", "empty name");
	pb_formats(&f, 2);
	f.e[0].system = S("");
	expect_pb(FRAME_FORMATS, &f.m.base, "event name", "empty system");
	pb_formats(&f, 2);
	f.e[1].name = S(name64);
	expect_pb(FRAME_FORMATS, &f.m.base, "event name", "name 64 chars");
	pb_formats(&f, 2);
	f.e[1].format.data = (uint8_t *)"name: x\0ID: 1\n";
	f.e[1].format.len = 14;
	expect_pb(FRAME_FORMATS, &f.m.base, "format text", "text with NUL");
	f.e[1].format.len = 0;
	expect_pb(FRAME_FORMATS, &f.m.base, "format text", "empty text");
	f.e[1].format.data = big;
	f.e[1].format.len = MSG_MAX_FORMAT_TEXT + 1;
	expect_pb(FRAME_FORMATS, &f.m.base, "format text", "text too long");
	pb_formats(&f, 2);
	f.m.ncpus = 0;
	expect_pb(FRAME_FORMATS, &f.m.base, "cpu", "ncpus 0");
	f.m.ncpus = MSG_MAX_CPUS + 1;
	expect_pb(FRAME_FORMATS, &f.m.base, "cpu", "ncpus max+1");
	pb_formats(&f, 2);
	f.m.tracefs_path = S("/sys/kernel/my tracing");
	expect_pb(FRAME_FORMATS, &f.m.base, "path", "path with space");
	f.m.tracefs_path = S("/sys/kernel/tracing\n");
	expect_pb(FRAME_FORMATS, &f.m.base, "path", "path with newline");
	free(big);
}

/* Encode a samples batch with the given records and decode it. */
static void
expect_samples(uint32_t cpu, uint8_t *rec, size_t len, uint32_t nrec,
    const char *want, const char *what)
{
	struct msg_samples s = { 0 };
	size_t flen = 0;
	uint8_t *buf;

	s.cpu = cpu;
	s.records = rec;
	s.len = len;
	s.nrecords = nrec;
	buf = msg_encode_samples(&s, &flen);
	expect_enc(FRAME_SAMPLES, buf, flen, want, what);
}

static void
test_valid_samples(void)
{
	uint8_t rec[256];
	size_t off;

	off = put_rec(rec, 0, PERF_RECORD_SAMPLE, 24);
	expect_samples(0, rec, off, 1, NULL, "samples one record");
	expect_samples(MSG_MAX_CPUS - 1, rec, off, 1, NULL, "samples cpu max");
	expect_samples(MSG_MAX_CPUS, rec, off, 1, "cpu", "samples cpu 4096");
	expect_samples(UINT32_MAX, rec, off, 1, "cpu", "samples cpu max32");
	expect_samples(0, rec, off, 0, "", "samples nrecords 0");
	expect_samples(0, rec, off, 2, "framing", "samples nrecords 2 of 1");

	off = put_rec(rec, 0, PERF_RECORD_SAMPLE, 8);
	off = put_rec(rec, off, PERF_RECORD_SAMPLE, 16);
	expect_samples(0, rec, off, 2, NULL, "samples two records");
	expect_samples(0, rec, off, 1, "framing", "samples nrecords 1 of 2");
	expect_samples(0, rec, off, 3, "framing", "samples nrecords 3 of 2");
	expect_samples(0, rec, off - 4, 2, "framing", "samples cut record");
	memset(rec + off, 0, 4);
	expect_samples(0, rec, off + 4, 2, "framing", "samples half header");
	expect_samples(0, rec, 4, 1, "framing", "samples 4 bytes");

	memset(rec, 0, sizeof(rec));
	put_hdr(rec, 0, PERF_RECORD_SAMPLE, 0);
	expect_samples(0, rec, 16, 1, "framing", "samples size 0");
	put_hdr(rec, 0, PERF_RECORD_SAMPLE, 4);
	expect_samples(0, rec, 16, 1, "framing", "samples size 4");
	/* Unaligned sizes, even where they add up to the buffer exactly. */
	off = put_rec(rec, 0, PERF_RECORD_SAMPLE, 12);
	off = put_rec(rec, off, PERF_RECORD_SAMPLE, 12);
	expect_samples(0, rec, off, 2, "framing", "samples sizes 12+12");
	off = put_rec(rec, 0, PERF_RECORD_SAMPLE, 20);
	expect_samples(0, rec, off, 1, "framing", "samples size 20");
	memset(rec + off, 0, 4);
	expect_samples(0, rec, off + 4, 1, "framing", "samples size 20 of 24");
	put_rec(rec, 0, PERF_RECORD_SAMPLE, 32);
	expect_samples(0, rec, 24, 1, "framing", "samples size past end");
	put_rec(rec, 0, PERF_RECORD_SAMPLE, 8);
	put_hdr(rec, 8, PERF_RECORD_SAMPLE, 0xfff8);
	expect_samples(0, rec, 24, 2, "framing", "samples 2nd past end");

	/* No records at all. */
	expect_samples(1, rec, 0, 1, "empty", "samples no records");
}

static void
test_valid_lost(void)
{
	Sockflow__LostCounts m;
	uint64_t *v;

	if ((v = calloc(MSG_MAX_CPUS + 1, sizeof(*v))) == NULL)
		abort();
	memset(v, 0xff, (MSG_MAX_CPUS + 1) * sizeof(*v));
	sockflow__lost_counts__init(&m);
	m.lost = v;
	m.n_lost = 1;
	expect_pb(FRAME_LOST, &m.base, NULL, "lost one cpu");
	m.n_lost = MSG_MAX_CPUS;
	expect_pb(FRAME_LOST, &m.base, NULL, "lost max cpus");
	m.n_lost = MSG_MAX_CPUS + 1;
	expect_pb(FRAME_LOST, &m.base, "cpu count", "lost max+1 cpus");
	m.n_lost = 0;
	expect_pb(FRAME_LOST, &m.base, "cpu count", "lost no cpus");
	/* The kernel's counts: none, or one per CPU, never another number. */
	m.n_lost = 1;
	m.counted = v;
	m.n_counted = 1;
	expect_pb(FRAME_LOST, &m.base, NULL, "lost with counts");
	m.n_counted = 2;
	expect_pb(FRAME_LOST, &m.base, "differ", "lost with more counts");
	free(v);
}

struct pb_flow {
	Sockflow__FlowRecord	m;
	Sockflow__Endpoint	l, r;
	uint8_t			lip[16], rip[16];
};

static void
pb_flow(struct pb_flow *f, int family)
{
	size_t iplen = family == 4 ? 4 : 16;

	sockflow__flow_record__init(&f->m);
	sockflow__endpoint__init(&f->l);
	sockflow__endpoint__init(&f->r);
	memset(f->lip, 0x11, sizeof(f->lip));
	memset(f->rip, 0x22, sizeof(f->rip));
	f->l.ip.data = f->lip;
	f->l.ip.len = iplen;
	f->l.port = 1024;
	f->r.ip.data = f->rip;
	f->r.ip.len = iplen;
	f->r.port = 80;
	f->m.sock = 42;
	f->m.family = (uint32_t)family;
	f->m.transport = SOCKFLOW__TRANSPORT__TRANSPORT_TCP;
	f->m.direction = SOCKFLOW__DIRECTION__DIRECTION_OUTBOUND;
	f->m.local = &f->l;
	f->m.remote = &f->r;
	f->m.start_ns = 1000;
	f->m.end_ns = 2000;
	f->m.tcp_state = 1;
}

static void
test_valid_flow(void)
{
	struct pb_flow f;

	pb_flow(&f, 4);
	expect_pb(FRAME_FLOW, &f.m.base, NULL, "flow v4 baseline");
	pb_flow(&f, 6);
	expect_pb(FRAME_FLOW, &f.m.base, NULL, "flow v6 baseline");
	f.m.transport = SOCKFLOW__TRANSPORT__TRANSPORT_UDP;
	f.m.direction = SOCKFLOW__DIRECTION__DIRECTION_UNKNOWN;
	f.l.port = 0;
	f.r.port = 65535;
	f.m.end_ns = f.m.start_ns;
	f.m.tcp_state = 255;
	expect_pb(FRAME_FLOW, &f.m.base, NULL, "flow at limits");

	pb_flow(&f, 6);
	f.m.family = 5;
	expect_pb(FRAME_FLOW, &f.m.base, "family", "flow family 5");
	f.m.family = 0;
	expect_pb(FRAME_FLOW, &f.m.base, "family", "flow family 0");
	f.m.family = 256 + 6;
	expect_pb(FRAME_FLOW, &f.m.base, "family", "flow family 262");
	pb_flow(&f, 4);
	f.m.transport = (Sockflow__Transport)1;
	expect_pb(FRAME_FLOW, &f.m.base, "transport", "flow transport 1");
	f.m.transport = SOCKFLOW__TRANSPORT__TRANSPORT_UNSPECIFIED;
	expect_pb(FRAME_FLOW, &f.m.base, "transport", "flow transport 0");
	f.m.transport = (Sockflow__Transport)-6;
	expect_pb(FRAME_FLOW, &f.m.base, "transport", "flow transport -6");
	pb_flow(&f, 4);
	f.m.direction = (Sockflow__Direction)7;
	expect_pb(FRAME_FLOW, &f.m.base, "direction", "flow direction 7");
	f.m.direction = (Sockflow__Direction)-1;
	expect_pb(FRAME_FLOW, &f.m.base, "direction", "flow direction -1");
	pb_flow(&f, 4);
	f.l.ip.len = 16;
	expect_pb(FRAME_FLOW, &f.m.base, "endpoint", "flow v4, v6 local ip");
	pb_flow(&f, 4);
	f.r.ip.len = 0;
	expect_pb(FRAME_FLOW, &f.m.base, "endpoint", "flow v4, no remote ip");
	pb_flow(&f, 6);
	f.r.ip.len = 4;
	expect_pb(FRAME_FLOW, &f.m.base, "endpoint", "flow v6, v4 remote ip");
	pb_flow(&f, 6);
	f.l.ip.len = 15;
	expect_pb(FRAME_FLOW, &f.m.base, "endpoint", "flow v6, 15-byte ip");
	pb_flow(&f, 6);
	f.r.port = 70000;
	expect_pb(FRAME_FLOW, &f.m.base, "endpoint", "flow port 70000");
	pb_flow(&f, 6);
	f.l.port = 65536;
	expect_pb(FRAME_FLOW, &f.m.base, "endpoint", "flow port 65536");
	pb_flow(&f, 6);
	f.m.local = NULL;
	expect_pb(FRAME_FLOW, &f.m.base, "endpoint", "flow without local");
	pb_flow(&f, 6);
	f.m.remote = NULL;
	expect_pb(FRAME_FLOW, &f.m.base, "endpoint", "flow without remote");
	pb_flow(&f, 6);
	f.m.start_ns = 0;
	f.m.end_ns = 0;
	expect_pb(FRAME_FLOW, &f.m.base, "times", "flow start 0");
	f.m.start_ns = -1000;
	expect_pb(FRAME_FLOW, &f.m.base, "times", "flow start negative");
	f.m.start_ns = 2000;
	f.m.end_ns = 1999;
	expect_pb(FRAME_FLOW, &f.m.base, "times", "flow end < start");
	pb_flow(&f, 6);
	f.m.tcp_state = 256;
	expect_pb(FRAME_FLOW, &f.m.base, "tcp state", "flow tcp state 256");
}

static void
pb_process(Sockflow__ProcessEvent *m)
{
	sockflow__process_event__init(m);
	m->kind = SOCKFLOW__PROCESS_EVENT_KIND__PROCESS_EVENT_FORK;
	m->pid = 100;
	m->ppid = 1;
	m->comm = S("bash");
	m->time_ns = 1;
}

static void
test_valid_process(void)
{
	Sockflow__ProcessEvent m;

	pb_process(&m);
	expect_pb(FRAME_PROCESS, &m.base, NULL, "process baseline");
	m.kind = SOCKFLOW__PROCESS_EVENT_KIND__PROCESS_EVENT_EXIT;
	m.pid = 1U << 22;
	m.ppid = 0;
	m.comm = S("0123456789abcdef");
	expect_pb(FRAME_PROCESS, &m.base, NULL, "process at limits");

	pb_process(&m);
	m.kind = SOCKFLOW__PROCESS_EVENT_KIND__PROCESS_EVENT_UNSPECIFIED;
	expect_pb(FRAME_PROCESS, &m.base, "kind", "process kind 0");
	m.kind = (Sockflow__ProcessEventKind)8;
	expect_pb(FRAME_PROCESS, &m.base, "kind", "process kind 8");
	/* A set*id event must say which call, and a known one. */
	m.kind = SOCKFLOW__PROCESS_EVENT_KIND__PROCESS_EVENT_SETID;
	expect_pb(FRAME_PROCESS, &m.base, "set*id", "set*id without a call");
	m.setid_call = 7;
	expect_pb(FRAME_PROCESS, &m.base, "set*id", "set*id call 7");
	m.setid_call = 5;
	expect_pb(FRAME_PROCESS, &m.base, NULL, "setresuid");
	m.setid_call = 0;
	m.kind = (Sockflow__ProcessEventKind)9;
	expect_pb(FRAME_PROCESS, &m.base, "kind", "process kind 9");
	m.kind = (Sockflow__ProcessEventKind)-1;
	expect_pb(FRAME_PROCESS, &m.base, "kind", "process kind -1");
	m.kind = (Sockflow__ProcessEventKind)(256 + 1);
	expect_pb(FRAME_PROCESS, &m.base, "kind", "process kind 257");
	pb_process(&m);
	m.pid = 0;
	expect_pb(FRAME_PROCESS, &m.base, "pid", "process pid 0");
	m.pid = (1U << 22) + 1;
	expect_pb(FRAME_PROCESS, &m.base, "pid", "process pid 2^22+1");
	pb_process(&m);
	m.ppid = (1U << 22) + 1;
	expect_pb(FRAME_PROCESS, &m.base, "ppid", "process ppid 2^22+1");
	pb_process(&m);
	m.comm = S("0123456789abcdefg");
	expect_pb(FRAME_PROCESS, &m.base, "comm", "process comm 17 chars");
	/* The file of an exec: at most MSG_PATH_LEN bytes. */
	{
		char path[MSG_PATH_LEN + 2];

		pb_process(&m);
		m.kind = SOCKFLOW__PROCESS_EVENT_KIND__PROCESS_EVENT_EXECUTABLE;
		memset(path, 'a', sizeof(path));
		path[0] = '/';
		path[MSG_PATH_LEN] = '\0';
		m.executable = path;
		expect_pb(FRAME_PROCESS, &m.base, NULL,
		    "process executable at the limit");
		path[MSG_PATH_LEN] = 'a';
		path[MSG_PATH_LEN + 1] = '\0';
		expect_pb(FRAME_PROCESS, &m.base, "executable",
		    "process executable too long");
	}
	/* An exec's arguments: at most MSG_ARGS_LEN bytes. */
	{
		uint8_t block[MSG_ARGS_LEN + 1];

		pb_process(&m);
		m.kind = SOCKFLOW__PROCESS_EVENT_KIND__PROCESS_EVENT_ARGS;
		memset(block, 0, sizeof(block));
		m.args.data = block;
		m.args.len = MSG_ARGS_LEN;
		expect_pb(FRAME_PROCESS, &m.base, NULL,
		    "process arguments at the limit");
		m.args.len = MSG_ARGS_LEN + 1;
		expect_pb(FRAME_PROCESS, &m.base, "arguments",
		    "process arguments too long");
	}
	pb_process(&m);
	m.kind = SOCKFLOW__PROCESS_EVENT_KIND__PROCESS_EVENT_CREDS;
	m.uid = 1000;
	m.euid = 0;
	expect_pb(FRAME_PROCESS, &m.base, NULL, "process credentials");
}

#define NCTR	(MSG_MAX_COUNTERS + 1)

struct pb_stats {
	Sockflow__Stats		 m;
	Sockflow__Counter	 c[NCTR];
	Sockflow__Counter	*cp[NCTR];
};

static void
pb_stats(struct pb_stats *s, size_t n)
{
	size_t i;

	sockflow__stats__init(&s->m);
	for (i = 0; i < NCTR; i++) {
		sockflow__counter__init(&s->c[i]);
		s->c[i].name = S("frames");
		s->c[i].value = i;
		s->cp[i] = &s->c[i];
	}
	s->m.component = S("enricher");
	s->m.n_counters = n;
	s->m.counters = s->cp;
}

static void
test_valid_stats(void)
{
	static struct pb_stats s;

	pb_stats(&s, 1);
	expect_pb(FRAME_STATS, &s.m.base, NULL, "stats baseline");
	pb_stats(&s, MSG_MAX_COUNTERS);
	s.c[0].name = S(name63);
	s.m.component = S(name63);
	expect_pb(FRAME_STATS, &s.m.base, NULL, "stats at limits");

	pb_stats(&s, 0);
	expect_pb(FRAME_STATS, &s.m.base, "counter count", "stats 0 counters");
	pb_stats(&s, NCTR);
	expect_pb(FRAME_STATS, &s.m.base, "counter count",
	    "stats 257 counters");
	pb_stats(&s, 3);
	s.c[2].name = S("Frames");
	expect_pb(FRAME_STATS, &s.m.base, "counter name", "counter upper");
	s.c[2].name = S("rx bytes");
	expect_pb(FRAME_STATS, &s.m.base, "counter name", "counter space");
	s.c[2].name = S("");
	expect_pb(FRAME_STATS, &s.m.base, "counter name", "counter empty");
	s.c[2].name = S(name64);
	expect_pb(FRAME_STATS, &s.m.base, "counter name", "counter 64 chars");
	pb_stats(&s, 3);
	s.m.component = S("");
	expect_pb(FRAME_STATS, &s.m.base, "component", "stats no component");
	s.m.component = S("Enricher");
	expect_pb(FRAME_STATS, &s.m.base, "component", "component upper");
}

/* ---- encoders refuse what does not fit ---- */

static void
test_encode_limits(void)
{
	struct msg_samples s = { 0 };
	struct msg_formats f;
	struct msg_format *fv;
	struct msg_lost l;
	struct msg_stats st = { .last = false };
	struct msg_counter *cv;
	struct msg_hello h;
	uint8_t *rec, *buf;
	char *text;
	size_t i, off, len, n;

	/* Samples: records filling a frame exactly fit, one more does not. */
	if ((rec = calloc(1, FRAME_MAX_PAYLOAD)) == NULL)
		abort();
	n = FRAME_MAX_PAYLOAD - 16;	/* room for 3 fields' overhead */
	for (off = 0, i = 0; off < n; i++)
		off = put_rec(rec, off, PERF_RECORD_SAMPLE,
		    n - off > 0xfff8 ? 0xfff8 : (uint16_t)(n - off));
	s.cpu = MSG_MAX_CPUS - 1;
	s.records = rec;
	s.len = n;
	s.nrecords = (uint32_t)i;
	len = 0;
	buf = msg_encode_samples(&s, &len);
	CHECK_MSG(buf != NULL && len <= FRAME_HDR_LEN + FRAME_MAX_PAYLOAD,
	    "samples of %zu bytes not encoded", n);
	expect_enc(FRAME_SAMPLES, buf, len, NULL, "largest samples");
	s.len = FRAME_MAX_PAYLOAD;
	CHECK(msg_encode_samples(&s, &len) == NULL);
	s.len = FRAME_MAX_PAYLOAD - 6;
	CHECK(msg_encode_samples(&s, &len) == NULL);
	free(rec);

	/* Formats: 64 full-size texts are far over 256 KiB; 65 are too many. */
	if ((fv = calloc(MSG_MAX_FORMATS + 1, sizeof(*fv))) == NULL ||
	    (text = malloc(MSG_MAX_FORMAT_TEXT)) == NULL)
		abort();
	memset(text, 'f', MSG_MAX_FORMAT_TEXT);
	for (i = 0; i <= MSG_MAX_FORMATS; i++) {
		fv[i].id = 1 + (uint32_t)i;
		snprintf(fv[i].system, sizeof(fv[i].system), "%s", "sys");
		snprintf(fv[i].name, sizeof(fv[i].name), "%s", "ev");
		fv[i].text = text;
		fv[i].textlen = 1024;
	}
	memset(&f, 0, sizeof(f));
	f.v = fv;
	f.ncpus = 1;
	snprintf(f.tracefs_path, sizeof(f.tracefs_path), "%s", "/t");
	f.n = MSG_MAX_FORMATS;
	buf = msg_encode_formats(&f, &len);
	expect_enc(FRAME_FORMATS, buf, len, NULL, "64 small formats");
	f.n = MSG_MAX_FORMATS + 1;
	CHECK(msg_encode_formats(&f, &len) == NULL);
	for (i = 0; i <= MSG_MAX_FORMATS; i++)
		fv[i].textlen = MSG_MAX_FORMAT_TEXT;
	f.n = MSG_MAX_FORMATS;
	CHECK(msg_encode_formats(&f, &len) == NULL);
	free(text);
	free(fv);

	/* Lost: 8000 counters of 10 bytes each exceed 64 KiB. */
	memset(&l, 0, sizeof(l));
	if ((l.lost = malloc(8000 * sizeof(uint64_t))) == NULL)
		abort();
	memset(l.lost, 0xff, 8000 * sizeof(uint64_t));
	l.n = 8000;
	CHECK(msg_encode_lost(&l, &len) == NULL);
	l.n = 6000;
	buf = msg_encode_lost(&l, &len);
	CHECK_MSG(buf != NULL, "6000 lost counters not encoded");
	/* That fits a frame but is more CPUs than a decoder takes. */
	expect_enc(FRAME_LOST, buf, len, "cpu count", "6000 lost counters");
	l.n = 0;
	CHECK(msg_encode_lost(&l, &len) == NULL);
	free(l.lost);

	/* Stats: no counters, or more than the limit. */
	if ((cv = calloc(MSG_MAX_COUNTERS + 1, sizeof(*cv))) == NULL)
		abort();
	for (i = 0; i <= MSG_MAX_COUNTERS; i++) {
		memset(cv[i].name, 'a', sizeof(cv[i].name) - 1);
		cv[i].value = UINT64_MAX;
	}
	st.v = cv;
	snprintf(st.component, sizeof(st.component), "%s", "x");
	st.n = MSG_MAX_COUNTERS;
	buf = msg_encode_stats(&st, &len);
	expect_enc(FRAME_STATS, buf, len, NULL, "256 long counters");
	st.n = MSG_MAX_COUNTERS + 1;
	CHECK(msg_encode_stats(&st, &len) == NULL);
	st.n = 0;
	CHECK(msg_encode_stats(&st, &len) == NULL);
	free(cv);

	/* A message with every field at its default packs to nothing. */
	memset(&h, 0, sizeof(h));
	CHECK(msg_encode_hello(&h, &len) == NULL);
}

/* ---- fuzzing ---- */

#define FUZZ_ITER	20000
#define FUZZ_MAX	2048

static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static uint64_t
rnd_value(void)
{
	switch (rnd() % 6) {
	case 0:
		return 0;
	case 1:
		return rnd() % 8;
	case 2:
		return rnd() % 300;
	case 3:
		return rnd() % 70000;
	case 4:
		return rnd() >> (rnd() % 64);
	default:
		return UINT64_MAX - rnd() % 4;
	}
}

/* A sequence of plausible protobuf fields, nested to depth levels. */
static size_t
gen_fields(uint8_t *p, size_t max, int depth)
{
	size_t off = 0, n, i, sub;
	uint32_t field, wt;

	while (off + 24 < max && rnd() % 8 != 0) {
		field = 1 + (uint32_t)(rnd() % 13);
		wt = rnd() % 10 < 6 ? 0 : 2;
		if (rnd() % 40 == 0)
			wt = (uint32_t)(rnd() % 8);
		off += put_varint(p + off, (uint64_t)field << 3 | wt);
		switch (wt) {
		case 0:
			off += put_varint(p + off, rnd_value());
			break;
		case 1:
			for (i = 0; i < 8; i++)
				p[off++] = (uint8_t)rnd();
			break;
		case 5:
			for (i = 0; i < 4; i++)
				p[off++] = (uint8_t)rnd();
			break;
		case 2:
			if (depth > 0 && rnd() % 2 == 0) {
				uint8_t tmp[FUZZ_MAX];

				sub = gen_fields(tmp, (max - off) / 2,
				    depth - 1);
				off += put_varint(p + off, sub);
				memcpy(p + off, tmp, sub);
				off += sub;
				break;
			}
			n = rnd() % 4 == 0 ? rnd() % 8 * 8 : rnd() % 24;
			if (n > max - off - 12)
				n = 0;
			off += put_varint(p + off, n);
			for (i = 0; i < n; i++) {
				switch (rnd() % 3) {
				case 0:
					p[off + i] = (uint8_t)('a' +
					    rnd() % 26);
					break;
				case 1:
					p[off + i] = (uint8_t)(rnd() % 16);
					break;
				default:
					p[off + i] = (uint8_t)rnd();
					break;
				}
			}
			off += n;
			break;
		default:
			break;
		}
	}
	return off;
}

static size_t
gen_input(uint8_t *p)
{
	unsigned int t;
	size_t len, i, n;

	switch (rnd() % 5) {
	case 0:
		/* Random bytes of random length. */
		len = rnd() % (FUZZ_MAX + 1);
		for (i = 0; i < len; i++)
			p[i] = (uint8_t)rnd();
		return len;
	case 1:
		/* Short random bytes. */
		len = rnd() % 33;
		for (i = 0; i < len; i++)
			p[i] = (uint8_t)rnd();
		return len;
	case 2:
		return gen_fields(p, FUZZ_MAX, 2);
	default:
		/* A valid payload of any type with a few bytes changed. */
		t = FRAME_HELLO + (unsigned int)(rnd() % (FRAME_TYPE_MAX - 1));
		len = VLEN(t);
		memcpy(p, VPAY(t), len);
		n = 1 + rnd() % 4;
		for (i = 0; i < n; i++) {
			switch (rnd() % 4) {
			case 0:
				p[rnd() % len] ^= (uint8_t)(1 << rnd() % 8);
				break;
			case 1:
				p[rnd() % len] = (uint8_t)rnd();
				break;
			case 2:
				p[rnd() % len] = (uint8_t)(rnd() % 2 ?
				    0 : 0xff);
				break;
			default:
				if (len < FUZZ_MAX)
					p[len++] = (uint8_t)rnd();
				break;
			}
		}
		if (rnd() % 8 == 0)
			len = rnd() % (len + 1);
		return len;
	}
}

static void
test_fuzz(void)
{
	uint8_t *in, *exact;
	const char *errstr;
	unsigned int t;
	size_t len;
	int i, bad, ok;

	if ((in = malloc(FUZZ_MAX)) == NULL)
		abort();
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (t = FRAME_HELLO; t < FRAME_TYPE_MAX; t++) {
		bad = 0;
		ok = 0;
		for (i = 0; i < FUZZ_ITER; i++) {
			len = gen_input(in);
			/* An exact-size copy lets valgrind see overreads. */
			if ((exact = malloc(len ? len : 1)) == NULL)
				abort();
			memcpy(exact, in, len);
			if (try_decode(t, exact, len, &errstr, &bad) == 0)
				ok++;
			free(exact);
		}
		CHECK_MSG(bad == 0, "%s: %d inconsistent results in fuzzing",
		    frame_type_name(t), bad);
		printf("fuzz %s: %d of %d accepted\n", frame_type_name(t), ok,
		    FUZZ_ITER);
	}
	free(in);
}

int
main(void)
{
	unsigned int t;

	make_valid();
	if (have_valid()) {
		test_roundtrip_hello();
		test_roundtrip_formats();
		test_roundtrip_samples();
		test_roundtrip_lost();
		test_roundtrip_flow();
		test_roundtrip_process();
		test_roundtrip_stats();
		test_roundtrip_diag();
		test_roundtrip_dns();
		test_roundtrip_netns_cgroup();
		test_samples_drained();
		test_truncated();
		test_trailing();
		test_fuzz();
	}
	test_noncanonical();
	test_valid_hello();
	test_valid_formats();
	test_valid_samples();
	test_valid_lost();
	test_valid_flow();
	test_valid_process();
	test_valid_stats();
	test_encode_limits();
	for (t = FRAME_HELLO; t < FRAME_TYPE_MAX; t++)
		free(valid[t].frame);
	return check_done("test_msg");
}

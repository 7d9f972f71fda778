/*
 * libFuzzer target for the validating decoders of proto/msg.c. The first
 * byte names the frame type (0 hands the payload to every decoder), the
 * rest is the payload, bounded as the frame layer bounds it. What a
 * decoder accepts must keep the promises msg.h makes to the code that
 * uses it (strings ended within their arrays, counts within the MSG_MAX_*
 * limits, enums in range), must encode again and decode to the same
 * thing; what it refuses must leave its output empty and say why.
 */
#include "config.h"

#include <linux/perf_event.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A promise of msg.h broken: stop here, with this input kept. */
#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

/* One decoded message of any type, and a zeroed one to compare with. */
union any {
	struct msg_hello	hello;
	struct msg_formats	formats;
	struct msg_samples	samples;
	struct msg_lost		lost;
	struct msg_flow		flow;
	struct msg_process	process;
	struct msg_stats	stats;
	struct msg_diag		diag;
	struct msg_packets	packets;
	struct msg_dns		dns;
	struct msg_netns	netns;
	struct msg_cgroup	cgroup;
};

static const union any zero;

/* A string ended within its array, and what it may hold. */
#define S_ANY	0		/* any bytes */
#define S_IDENT	1		/* [a-z0-9_.-] */
#define S_PRINT	2		/* printable ASCII */
#define S_PATH	3		/* printable ASCII without spaces */

static void
check_str(const char *s, size_t size, int cs, bool nonempty)
{
	const char *end;
	unsigned char c;

	CHECK((end = memchr(s, '\0', size)) != NULL);
	CHECK(!nonempty || end != s);
	for (; s < end; s++) {
		c = (unsigned char)*s;
		switch (cs) {
		case S_IDENT:
			CHECK((c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
			    c == '.');
			break;
		case S_PRINT:
			CHECK(c >= 0x20 && c < 0x7f);
			break;
		case S_PATH:
			CHECK(c > 0x20 && c < 0x7f);
			break;
		}
	}
}

/*
 * Every byte of an owned buffer, for the sanitizer to see that it is all
 * there; the sum keeps the reads from being optimised away.
 */
static volatile uint8_t sink;

static void
touch(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += p[i];
	sink = sum;
}

/* A frame an encoder made: its header must say type and length right. */
static void
check_frame(const uint8_t *buf, size_t len, unsigned int type)
{
	struct frame_hdr h;
	const char *errstr = NULL;

	CHECK(buf != NULL && len > FRAME_HDR_LEN);
	CHECK(frame_hdr_decode(buf, &h, &errstr) == 0);
	CHECK(h.type == type && h.len == len - FRAME_HDR_LEN);
}

static void
check_hello(const struct msg_hello *m)
{
	CHECK(m->protocol_version == FRAME_VERSION);
	check_str(m->component, sizeof(m->component), S_IDENT, true);
	check_str(m->software_version, sizeof(m->software_version), S_PRINT,
	    false);
	check_str(m->backend, sizeof(m->backend), S_IDENT, false);
}

static void
check_formats(const struct msg_formats *m)
{
	const struct msg_format *f;
	size_t i;

	CHECK(m->n >= 1 && m->n <= MSG_MAX_FORMATS && m->v != NULL);
	CHECK(m->ncpus >= 1 && m->ncpus <= MSG_MAX_CPUS);
	check_str(m->tracefs_path, sizeof(m->tracefs_path), S_PATH, false);
	for (i = 0; i < m->n; i++) {
		f = &m->v[i];
		CHECK(f->id >= 1 && f->id <= 0xffff);
		check_str(f->system, sizeof(f->system), S_IDENT, true);
		check_str(f->name, sizeof(f->name), S_IDENT, true);
		/* Text: no NUL inside, and one after it. */
		CHECK(f->text != NULL && f->textlen >= 1 &&
		    f->textlen <= MSG_MAX_FORMAT_TEXT);
		CHECK(strlen(f->text) == f->textlen);
		CHECK(f->stack_user <= MSG_MAX_STACK_USER &&
		    f->stack_user % 8 == 0);
	}
}

static void
check_samples(const struct msg_samples *m)
{
	struct perf_event_header h;
	size_t off = 0;
	uint32_t n = 0;

	CHECK(m->cpu < MSG_MAX_CPUS && m->records != NULL);
	CHECK((m->len == 0) == (m->nrecords == 0));
	CHECK(m->len != 0 || m->drained_until != 0);
	/* What handle_samples() relies on without looking again. */
	while (off < m->len) {
		CHECK(m->len - off >= sizeof(h));
		memcpy(&h, m->records + off, sizeof(h));
		CHECK(h.size >= sizeof(h) && h.size % 8 == 0 &&
		    h.size <= m->len - off);
		off += h.size;
		n++;
	}
	CHECK(n == m->nrecords);
	touch(m->records, m->len);
}

static void
check_lost(const struct msg_lost *m)
{
	CHECK(m->n >= 1 && m->n <= MSG_MAX_CPUS && m->lost != NULL);
	touch((const uint8_t *)m->lost, m->n * sizeof(*m->lost));
	if (m->counted != NULL)
		touch((const uint8_t *)m->counted, m->n * sizeof(*m->counted));
}

static void
check_flow(const struct msg_flow *m)
{
	CHECK(m->family == 4 || m->family == 6);
	CHECK(m->transport == 6 || m->transport == 17);
	CHECK(m->direction <= FLOW_DIR_OUTBOUND);
	CHECK(m->start_ns > 0 && m->end_ns >= m->start_ns);
	CHECK(m->tcp_state <= 255);
	CHECK(m->packet_source <= FLOW_PKTS_TCP_INFO_TIMEWAIT);
	CHECK(m->bytes_source <= FLOW_BYTES_PER_PACKET_DERIVED);
	/* An IPv4 address uses 4 bytes; the rest stays zero. */
	if (m->family == 4)
		CHECK(memcmp(m->local.ip + 4, zero.flow.local.ip, 12) == 0 &&
		    memcmp(m->remote.ip + 4, zero.flow.remote.ip, 12) == 0);
}

static void
check_process(const struct msg_process *m)
{
	CHECK(m->kind >= PROC_EV_EXEC && m->kind <= PROC_EV_SETID);
	CHECK(m->pid != 0 && m->pid <= (1U << 22) && m->ppid <= (1U << 22));
	/* Any bytes in a name: it is escaped where it is written out. */
	check_str(m->comm, sizeof(m->comm), S_ANY, false);
	CHECK(strlen(m->comm) <= MSG_COMM_LEN);
	check_str(m->executable, sizeof(m->executable), S_ANY, false);
	CHECK(m->args_len <= MSG_ARGS_LEN);
	CHECK(m->setid_call <= SETID_RESGID);
	CHECK(m->kind != PROC_EV_SETID || m->setid_call != 0);
}

static void
check_stats(const struct msg_stats *m)
{
	size_t i;

	check_str(m->component, sizeof(m->component), S_IDENT, true);
	CHECK(m->n >= 1 && m->n <= MSG_MAX_COUNTERS && m->v != NULL);
	for (i = 0; i < m->n; i++)
		check_str(m->v[i].name, sizeof(m->v[i].name), S_IDENT, true);
}

static void
check_diag(const struct msg_diag *m)
{
	size_t i;

	CHECK(m->n <= MSG_MAX_DIAG_DGRAMS);
	CHECK(m->n != 0 || m->overruns != 0 || m->dump_protocol != 0);
	CHECK(m->dump_protocol == 0 || m->dump_protocol == 6 ||
	    m->dump_protocol == 17);
	CHECK(m->n == 0 || (m->dgram != NULL && m->len != NULL));
	for (i = 0; i < m->n; i++) {
		CHECK(m->dgram[i] != NULL && m->len[i] >= 1 &&
		    m->len[i] <= MSG_MAX_DIAG_DGRAM);
		touch(m->dgram[i], m->len[i]);
	}
}

static void
check_packets(const struct msg_packets *m)
{
	const struct msg_packet *p;
	size_t i;

	CHECK(m->n <= MSG_MAX_PACKETS);
	CHECK(m->n != 0 || m->drops != 0);
	CHECK(m->n == 0 || m->v != NULL);
	for (i = 0; i < m->n; i++) {
		p = &m->v[i];
		CHECK(p->time != 0);
		CHECK(p->protocol == 0x0800 || p->protocol == 0x86dd);
		CHECK(p->data != NULL && p->len >= 1 &&
		    p->len <= MSG_MAX_SNAPLEN && p->orig_len >= p->len);
		touch(p->data, p->len);
	}
}

static void
check_dns(const struct msg_dns *m)
{
	CHECK(m->transport == 6 || m->transport == 17);
	CHECK(m->family == 4 || m->family == 6);
	CHECK(m->client_port != 0 && m->server_port != 0);
	CHECK(m->payload != NULL && m->len >= 1 && m->len <= MSG_MAX_SNAPLEN);
	touch(m->payload, m->len);
}

static void
check_netns(const struct msg_netns *m)
{
	size_t i;

	CHECK(m->n >= 1 && m->n <= MSG_MAX_NETNS);
	CHECK(m->pid != NULL && m->netns != NULL);
	for (i = 0; i < m->n; i++)
		CHECK(m->pid[i] != 0 && m->netns[i] != 0 &&
		    m->netns[i] <= UINT32_MAX);
}

static void
check_cgroup(const struct msg_cgroup *m)
{
	CHECK(m->id != 0);
	check_str(m->path, sizeof(m->path), S_PRINT, true);
	CHECK(m->path[0] == '/');
}

/* The same message twice, field by field where it owns memory. */
static bool
same(unsigned int type, const union any *a, const union any *b)
{
	size_t i;

	switch (type) {
	case FRAME_FORMATS:
		if (a->formats.n != b->formats.n ||
		    a->formats.ncpus != b->formats.ncpus ||
		    a->formats.sample_cgroup != b->formats.sample_cgroup ||
		    strcmp(a->formats.tracefs_path, b->formats.tracefs_path))
			return false;
		for (i = 0; i < a->formats.n; i++) {
			const struct msg_format *x = &a->formats.v[i];
			const struct msg_format *y = &b->formats.v[i];

			if (x->id != y->id || x->stack_user != y->stack_user ||
			    strcmp(x->system, y->system) ||
			    strcmp(x->name, y->name) ||
			    x->textlen != y->textlen ||
			    memcmp(x->text, y->text, x->textlen + 1))
				return false;
		}
		return true;
	case FRAME_SAMPLES:
		return a->samples.cpu == b->samples.cpu &&
		    a->samples.len == b->samples.len &&
		    a->samples.nrecords == b->samples.nrecords &&
		    a->samples.drained_until == b->samples.drained_until &&
		    memcmp(a->samples.records, b->samples.records,
		    a->samples.len) == 0;
	case FRAME_LOST:
		return a->lost.n == b->lost.n &&
		    memcmp(a->lost.lost, b->lost.lost,
		    a->lost.n * sizeof(uint64_t)) == 0 &&
		    (a->lost.counted == NULL) == (b->lost.counted == NULL) &&
		    (a->lost.counted == NULL ||
		    memcmp(a->lost.counted, b->lost.counted,
		    a->lost.n * sizeof(uint64_t)) == 0);
	case FRAME_STATS:
		return strcmp(a->stats.component, b->stats.component) == 0 &&
		    a->stats.n == b->stats.n &&
		    memcmp(a->stats.v, b->stats.v,
		    a->stats.n * sizeof(*a->stats.v)) == 0;
	case FRAME_DIAG:
		if (a->diag.n != b->diag.n ||
		    a->diag.overruns != b->diag.overruns ||
		    a->diag.dump_protocol != b->diag.dump_protocol)
			return false;
		for (i = 0; i < a->diag.n; i++)
			if (a->diag.len[i] != b->diag.len[i] ||
			    memcmp(a->diag.dgram[i], b->diag.dgram[i],
			    a->diag.len[i]))
				return false;
		return true;
	case FRAME_PACKETS:
		if (a->packets.n != b->packets.n ||
		    a->packets.drops != b->packets.drops)
			return false;
		for (i = 0; i < a->packets.n; i++) {
			const struct msg_packet *x = &a->packets.v[i];
			const struct msg_packet *y = &b->packets.v[i];

			if (x->time != y->time || x->protocol != y->protocol ||
			    x->ifindex != y->ifindex || x->len != y->len ||
			    x->orig_len != y->orig_len ||
			    memcmp(x->data, y->data, x->len))
				return false;
		}
		return true;
	case FRAME_DNS: {
		struct msg_dns x = a->dns, y = b->dns;

		if (x.len != y.len || memcmp(x.payload, y.payload, x.len))
			return false;
		x.payload = y.payload = NULL;
		return memcmp(&x, &y, sizeof(x)) == 0;
	}
	case FRAME_NETNS:
		return a->netns.n == b->netns.n &&
		    memcmp(a->netns.pid, b->netns.pid,
		    a->netns.n * sizeof(*a->netns.pid)) == 0 &&
		    memcmp(a->netns.netns, b->netns.netns,
		    a->netns.n * sizeof(*a->netns.netns)) == 0;
	case FRAME_HELLO:
		return memcmp(&a->hello, &b->hello, sizeof(a->hello)) == 0;
	case FRAME_FLOW:
		return memcmp(&a->flow, &b->flow, sizeof(a->flow)) == 0;
	case FRAME_PROCESS:
		return memcmp(&a->process, &b->process,
		    sizeof(a->process)) == 0;
	case FRAME_CGROUP:
		return memcmp(&a->cgroup, &b->cgroup, sizeof(a->cgroup)) == 0;
	}
	return false;
}

/* The size of the struct of a type, which its decoder writes. */
static size_t
size_of(unsigned int type)
{
	switch (type) {
	case FRAME_HELLO:
		return sizeof(struct msg_hello);
	case FRAME_FORMATS:
		return sizeof(struct msg_formats);
	case FRAME_SAMPLES:
		return sizeof(struct msg_samples);
	case FRAME_LOST:
		return sizeof(struct msg_lost);
	case FRAME_FLOW:
		return sizeof(struct msg_flow);
	case FRAME_PROCESS:
		return sizeof(struct msg_process);
	case FRAME_STATS:
		return sizeof(struct msg_stats);
	case FRAME_DIAG:
		return sizeof(struct msg_diag);
	case FRAME_PACKETS:
		return sizeof(struct msg_packets);
	case FRAME_DNS:
		return sizeof(struct msg_dns);
	case FRAME_NETNS:
		return sizeof(struct msg_netns);
	case FRAME_CGROUP:
		return sizeof(struct msg_cgroup);
	}
	abort();
}

static int
decode(unsigned int type, const uint8_t *p, size_t len, union any *out,
    const char **errstr)
{
	switch (type) {
	case FRAME_HELLO:
		return msg_decode_hello(p, len, &out->hello, errstr);
	case FRAME_FORMATS:
		return msg_decode_formats(p, len, &out->formats, errstr);
	case FRAME_SAMPLES:
		return msg_decode_samples(p, len, &out->samples, errstr);
	case FRAME_LOST:
		return msg_decode_lost(p, len, &out->lost, errstr);
	case FRAME_FLOW:
		return msg_decode_flow(p, len, &out->flow, errstr);
	case FRAME_PROCESS:
		return msg_decode_process(p, len, &out->process, errstr);
	case FRAME_STATS:
		return msg_decode_stats(p, len, &out->stats, errstr);
	case FRAME_DIAG:
		return msg_decode_diag(p, len, &out->diag, errstr);
	case FRAME_PACKETS:
		return msg_decode_packets(p, len, &out->packets, errstr);
	case FRAME_DNS:
		return msg_decode_dns(p, len, &out->dns, errstr);
	case FRAME_NETNS:
		return msg_decode_netns(p, len, &out->netns, errstr);
	case FRAME_CGROUP:
		return msg_decode_cgroup(p, len, &out->cgroup, errstr);
	}
	abort();
}

static void
check(unsigned int type, const union any *m)
{
	switch (type) {
	case FRAME_HELLO:
		check_hello(&m->hello);
		break;
	case FRAME_FORMATS:
		check_formats(&m->formats);
		break;
	case FRAME_SAMPLES:
		check_samples(&m->samples);
		break;
	case FRAME_LOST:
		check_lost(&m->lost);
		break;
	case FRAME_FLOW:
		check_flow(&m->flow);
		break;
	case FRAME_PROCESS:
		check_process(&m->process);
		break;
	case FRAME_STATS:
		check_stats(&m->stats);
		break;
	case FRAME_DIAG:
		check_diag(&m->diag);
		break;
	case FRAME_PACKETS:
		check_packets(&m->packets);
		break;
	case FRAME_DNS:
		check_dns(&m->dns);
		break;
	case FRAME_NETNS:
		check_netns(&m->netns);
		break;
	case FRAME_CGROUP:
		check_cgroup(&m->cgroup);
		break;
	}
}

static uint8_t *
encode(unsigned int type, const union any *m, size_t *len)
{
	switch (type) {
	case FRAME_HELLO:
		return msg_encode_hello(&m->hello, len);
	case FRAME_FORMATS:
		return msg_encode_formats(&m->formats, len);
	case FRAME_SAMPLES:
		return msg_encode_samples(&m->samples, len);
	case FRAME_LOST:
		return msg_encode_lost(&m->lost, len);
	case FRAME_FLOW:
		return msg_encode_flow(&m->flow, len);
	case FRAME_PROCESS:
		return msg_encode_process(&m->process, len);
	case FRAME_STATS:
		return msg_encode_stats(&m->stats, len);
	case FRAME_DIAG:
		return msg_encode_diag(&m->diag, len);
	case FRAME_PACKETS:
		return msg_encode_packets(&m->packets, len);
	case FRAME_DNS:
		return msg_encode_dns(&m->dns, len);
	case FRAME_NETNS:
		return msg_encode_netns(&m->netns, len);
	case FRAME_CGROUP:
		return msg_encode_cgroup(&m->cgroup, len);
	}
	abort();
}

/* Give back what a decoder allocated; hello, flow, ... own nothing. */
static void
release(unsigned int type, union any *m)
{
	switch (type) {
	case FRAME_FORMATS:
		msg_formats_free(&m->formats);
		break;
	case FRAME_SAMPLES:
		msg_samples_free(&m->samples);
		break;
	case FRAME_LOST:
		msg_lost_free(&m->lost);
		break;
	case FRAME_STATS:
		msg_stats_free(&m->stats);
		break;
	case FRAME_DIAG:
		msg_diag_free(&m->diag);
		break;
	case FRAME_PACKETS:
		msg_packets_free(&m->packets);
		break;
	case FRAME_DNS:
		msg_dns_free(&m->dns);
		break;
	case FRAME_NETNS:
		msg_netns_free(&m->netns);
		break;
	}
}

static void
one(unsigned int type, const uint8_t *p, size_t len)
{
	union any m, again;
	const char *errstr = NULL;
	uint8_t *frame;
	size_t flen = 0;

	/* The frame layer never hands over more, or nothing at all. */
	if (len == 0 || len > frame_max_len(type))
		return;
	memset(&m, 0xa5, sizeof(m));
	if (decode(type, p, len, &m, &errstr) == -1) {
		/* Refused: a reason, and nothing left to free. */
		CHECK(errstr != NULL);
		CHECK(memcmp(&m, &zero, size_of(type)) == 0);
		return;
	}
	check(type, &m);

	/*
	 * Accepted: what the encoder makes of it is a frame of the same
	 * type, which decodes to the same message.
	 */
	frame = encode(type, &m, &flen);
	check_frame(frame, flen, type);
	memset(&again, 0xa5, sizeof(again));
	errstr = NULL;
	CHECK(decode(type, frame + FRAME_HDR_LEN, flen - FRAME_HDR_LEN,
	    &again, &errstr) == 0);
	CHECK(same(type, &m, &again));
	free(frame);
	release(type, &again);
	release(type, &m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int type;

	if (size < 1)
		return 0;
	/*
	 * The payload runs to the end of libFuzzer's buffer, which is
	 * exactly the input's size: the sanitizer sees any read past it.
	 */
	type = data[0] % FRAME_TYPE_MAX;
	if (type != FRAME_NONE)
		one(type, data + 1, size - 1);
	else
		for (type = FRAME_HELLO; type < FRAME_TYPE_MAX; type++)
			one(type, data + 1, size - 1);
	return 0;
}

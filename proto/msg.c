/*
 * Encoders and validating decoders for every sockflow message type. The
 * protobuf-c types never leave this file. Every decoder unpacks a payload
 * the frame layer already bounded, checks each field (enums in range,
 * strings of the permitted characters and length, addresses of the right
 * size, counts within limits, record framing), copies into the C struct of
 * msg.h and frees the protobuf before returning.
 */
#include "config.h"

#include <linux/perf_event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msg.h"
#include "sockflow.pb-c.h"

/* Character classes a string field may hold. */
#define CS_IDENT	1	/* [a-z0-9_.-] */
#define CS_PRINT	2	/* printable ASCII */
#define CS_PATH		3	/* printable ASCII without spaces */

static int
str_ok(const char *s, size_t max, int cs)
{
	size_t i, n = strlen(s);

	if (n >= max)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (cs) {
		case CS_IDENT:
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '_' || c == '-' || c == '.'))
				return 0;
			break;
		case CS_PATH:
			if (c <= 0x20 || c >= 0x7f)
				return 0;
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				return 0;
			break;
		}
	}
	return 1;
}

/* Copy a string already checked by str_ok into a fixed buffer. */
static void
str_copy(char *dst, size_t dstsz, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Pack any message into a new frame of the given type. */
static uint8_t *
frame_pack(unsigned int type, const ProtobufCMessage *m, size_t *lenp)
{
	size_t plen = protobuf_c_message_get_packed_size(m);
	uint8_t *buf;

	/* An empty proto3 message packs to 0 bytes; frames are never empty. */
	if (plen == 0 || plen > frame_max_len(type))
		return NULL;
	if ((buf = malloc(FRAME_HDR_LEN + plen)) == NULL)
		return NULL;
	frame_hdr_encode(buf, type, (uint32_t)plen);
	if (protobuf_c_message_pack(m, buf + FRAME_HDR_LEN) != plen) {
		free(buf);
		return NULL;
	}
	*lenp = FRAME_HDR_LEN + plen;
	return buf;
}

/*
 * Decoded messages live only until their decoder has copied them out, one
 * at a time, so their small parts come from one buffer that every decode
 * starts afresh: a flow record was five allocations and frees. What does
 * not fit (the records of a sample batch) is allocated as usual.
 */
static _Alignas(16) uint8_t arena_buf[16 * 1024];
static size_t arena_used;
static size_t arena_spilled;	/* allocations that did not fit */

static void *
arena_alloc(void *data, size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n <= sizeof(arena_buf) - arena_used) {
		p = arena_buf + arena_used;
		arena_used += n;
		return p;
	}
	arena_spilled++;
	return malloc(n);
}

static void
arena_free(void *data, void *p)
{
	if ((uint8_t *)p >= arena_buf &&
	    (uint8_t *)p < arena_buf + sizeof(arena_buf))
		return;
	free(p);
}

static ProtobufCAllocator arena = { arena_alloc, arena_free, NULL };

/*
 * Done with a decoded message: when every part of it is in the arena
 * there is nothing to free (the next decode starts the arena afresh), so
 * the walk through it is skipped.
 */
static void
arena_release(ProtobufCMessage *m)
{
	if (arena_spilled != 0)
		protobuf_c_message_free_unpacked(m, &arena);
}

/*
 * Unpack a payload and insist that it is canonical: no unknown fields and
 * nothing beyond what the message itself encodes (trailing bytes, repeated
 * scalar fields and padded varints all change the packed size).
 */
static void *
unpack_strict(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t len, const char **errstr)
{
	ProtobufCMessage *m;

	arena_used = 0;
	arena_spilled = 0;
	if ((m = protobuf_c_message_unpack(d, &arena, len, p)) == NULL) {
		*errstr = "malformed protobuf";
		return NULL;
	}
	if (m->n_unknown_fields != 0 ||
	    protobuf_c_message_get_packed_size(m) != len) {
		arena_release(m);
		*errstr = "trailing or unknown bytes";
		return NULL;
	}
	return m;
}

/* ---- hello ---- */

uint8_t *
msg_encode_hello(const struct msg_hello *h, size_t *lenp)
{
	Sockflow__Hello m = SOCKFLOW__HELLO__INIT;

	m.protocol_version = h->protocol_version;
	m.component = (char *)h->component;
	m.software_version = (char *)h->software_version;
	m.pid = h->pid;
	m.backend = (char *)h->backend;
	m.monotonic_ns = h->monotonic_ns;
	m.resumed = h->resumed;
	m.gap_ns = h->gap_ns;
	m.instance = h->instance;
	return frame_pack(FRAME_HELLO, &m.base, lenp);
}

int
msg_decode_hello(const uint8_t *p, size_t len, struct msg_hello *out,
    const char **errstr)
{
	Sockflow__Hello *m;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__hello__descriptor, p, len, errstr)) == NULL)
		return -1;
	if (m->protocol_version != FRAME_VERSION)
		*errstr = "hello: unsupported protocol version";
	else if (!str_ok(m->component, MSG_NAME_LEN, CS_IDENT) ||
	    m->component[0] == '\0')
		*errstr = "hello: bad component name";
	else if (!str_ok(m->software_version, MSG_NAME_LEN, CS_PRINT))
		*errstr = "hello: bad software version";
	else if (!str_ok(m->backend, MSG_NAME_LEN, CS_IDENT))
		*errstr = "hello: bad backend name";
	else {
		out->protocol_version = m->protocol_version;
		str_copy(out->component, sizeof(out->component), m->component);
		str_copy(out->software_version, sizeof(out->software_version),
		    m->software_version);
		out->pid = m->pid;
		str_copy(out->backend, sizeof(out->backend), m->backend);
		out->monotonic_ns = m->monotonic_ns;
		out->resumed = m->resumed;
		out->gap_ns = m->gap_ns;
		out->instance = m->instance;
		rv = 0;
	}
	arena_release(&m->base);
	return rv;
}

/* ---- formats ---- */

uint8_t *
msg_encode_formats(const struct msg_formats *f, size_t *lenp)
{
	Sockflow__FormatSet m = SOCKFLOW__FORMAT_SET__INIT;
	Sockflow__EventFormat *ev, **evp;
	uint8_t *buf;
	size_t i;

	if (f->n > MSG_MAX_FORMATS)
		return NULL;
	ev = calloc(f->n ? f->n : 1, sizeof(*ev));
	evp = calloc(f->n ? f->n : 1, sizeof(*evp));
	if (ev == NULL || evp == NULL) {
		free(ev);
		free(evp);
		return NULL;
	}
	for (i = 0; i < f->n; i++) {
		sockflow__event_format__init(&ev[i]);
		ev[i].id = f->v[i].id;
		ev[i].system = (char *)f->v[i].system;
		ev[i].name = (char *)f->v[i].name;
		ev[i].format.data = (uint8_t *)f->v[i].text;
		ev[i].format.len = f->v[i].textlen;
		ev[i].stack_user = f->v[i].stack_user;
		evp[i] = &ev[i];
	}
	m.n_formats = f->n;
	m.formats = evp;
	m.tracefs_path = (char *)f->tracefs_path;
	m.ncpus = f->ncpus;
	m.sample_cgroup = f->sample_cgroup;
	buf = frame_pack(FRAME_FORMATS, &m.base, lenp);
	free(ev);
	free(evp);
	return buf;
}

void
msg_formats_free(struct msg_formats *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->v[i].text);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

int
msg_decode_formats(const uint8_t *p, size_t len, struct msg_formats *out,
    const char **errstr)
{
	Sockflow__FormatSet *m;
	size_t i;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__format_set__descriptor, p, len, errstr)) == NULL)
		return -1;
	if (m->n_formats == 0 || m->n_formats > MSG_MAX_FORMATS) {
		*errstr = "formats: bad number of formats";
		goto fail;
	}
	if (m->ncpus == 0 || m->ncpus > MSG_MAX_CPUS) {
		*errstr = "formats: bad cpu count";
		goto fail;
	}
	if (!str_ok(m->tracefs_path, sizeof(out->tracefs_path), CS_PATH)) {
		*errstr = "formats: bad tracefs path";
		goto fail;
	}
	if ((out->v = calloc(m->n_formats, sizeof(*out->v))) == NULL) {
		*errstr = "formats: out of memory";
		goto fail;
	}
	for (i = 0; i < m->n_formats; i++) {
		Sockflow__EventFormat *e = m->formats[i];
		struct msg_format *o = &out->v[i];

		if (e->id == 0 || e->id > 0xffff) {
			*errstr = "formats: bad event id";
			goto fail;
		}
		if (!str_ok(e->system, MSG_NAME_LEN, CS_IDENT) ||
		    !str_ok(e->name, MSG_NAME_LEN, CS_IDENT) ||
		    e->system[0] == '\0' || e->name[0] == '\0') {
			*errstr = "formats: bad event name";
			goto fail;
		}
		if (e->format.len == 0 || e->format.len > MSG_MAX_FORMAT_TEXT ||
		    memchr(e->format.data, '\0', e->format.len) != NULL) {
			*errstr = "formats: bad format text";
			goto fail;
		}
		if (e->stack_user > MSG_MAX_STACK_USER ||
		    e->stack_user % 8 != 0) {
			*errstr = "formats: bad user stack size";
			goto fail;
		}
		if ((o->text = malloc(e->format.len + 1)) == NULL) {
			*errstr = "formats: out of memory";
			goto fail;
		}
		out->n = i + 1;
		memcpy(o->text, e->format.data, e->format.len);
		o->text[e->format.len] = '\0';
		o->textlen = e->format.len;
		o->id = e->id;
		o->stack_user = e->stack_user;
		str_copy(o->system, sizeof(o->system), e->system);
		str_copy(o->name, sizeof(o->name), e->name);
	}
	str_copy(out->tracefs_path, sizeof(out->tracefs_path), m->tracefs_path);
	out->ncpus = m->ncpus;
	out->sample_cgroup = m->sample_cgroup;
	arena_release(&m->base);
	return 0;
 fail:
	msg_formats_free(out);
	arena_release(&m->base);
	return -1;
}

/* ---- samples ---- */

uint8_t *
msg_encode_samples(const struct msg_samples *s, size_t *lenp)
{
	Sockflow__SampleBatch m = SOCKFLOW__SAMPLE_BATCH__INIT;

	m.cpu = s->cpu;
	m.records.data = s->records;
	m.records.len = s->len;
	m.nrecords = s->nrecords;
	m.drained_until = s->drained_until;
	return frame_pack(FRAME_SAMPLES, &m.base, lenp);
}

void
msg_samples_free(struct msg_samples *s)
{
	free(s->records);
	memset(s, 0, sizeof(*s));
}

/*
 * Check that a byte string is a sequence of whole perf records: each at
 * least a header long, 8-byte aligned, within the buffer, and as many as
 * announced.
 */
static int
records_ok(const uint8_t *p, size_t len, uint32_t nrec)
{
	size_t off = 0;
	uint32_t n = 0;

	while (off < len) {
		struct perf_event_header h;

		if (len - off < sizeof(h))
			return 0;
		memcpy(&h, p + off, sizeof(h));
		if (h.size < sizeof(h) || h.size > len - off || h.size % 8 != 0)
			return 0;
		off += h.size;
		n++;
	}
	return n == nrec;
}

int
msg_decode_samples(const uint8_t *p, size_t len, struct msg_samples *out,
    const char **errstr)
{
	Sockflow__SampleBatch *m;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__sample_batch__descriptor, p, len, errstr)) == NULL)
		return -1;
	if (m->cpu >= MSG_MAX_CPUS)
		*errstr = "samples: bad cpu";
	else if ((m->records.len == 0 || m->nrecords == 0) &&
	    (m->records.len != 0 || m->nrecords != 0 || m->drained_until == 0))
		*errstr = "samples: empty batch";
	else if (!records_ok(m->records.data, m->records.len, m->nrecords))
		*errstr = "samples: bad record framing";
	else if ((out->records = malloc(m->records.len ? m->records.len :
	    1)) == NULL)
		*errstr = "samples: out of memory";
	else {
		if (m->records.len > 0)
			memcpy(out->records, m->records.data, m->records.len);
		out->drained_until = m->drained_until;
		out->len = m->records.len;
		out->cpu = m->cpu;
		out->nrecords = m->nrecords;
		rv = 0;
	}
	arena_release(&m->base);
	return rv;
}

/* ---- lost ---- */

uint8_t *
msg_encode_lost(const struct msg_lost *l, size_t *lenp)
{
	Sockflow__LostCounts m = SOCKFLOW__LOST_COUNTS__INIT;

	m.n_lost = l->n;
	m.lost = l->lost;
	if (l->counted != NULL) {
		m.n_counted = l->n;
		m.counted = l->counted;
	}
	return frame_pack(FRAME_LOST, &m.base, lenp);
}

void
msg_lost_free(struct msg_lost *l)
{
	free(l->lost);
	free(l->counted);
	memset(l, 0, sizeof(*l));
}

int
msg_decode_lost(const uint8_t *p, size_t len, struct msg_lost *out,
    const char **errstr)
{
	Sockflow__LostCounts *m;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__lost_counts__descriptor, p, len, errstr)) == NULL)
		return -1;
	if (m->n_lost == 0 || m->n_lost > MSG_MAX_CPUS)
		*errstr = "lost: bad cpu count";
	else if (m->n_counted != 0 && m->n_counted != m->n_lost)
		*errstr = "lost: counted and lost differ in length";
	else if ((out->lost = calloc(m->n_lost, sizeof(uint64_t))) == NULL ||
	    (m->n_counted != 0 && (out->counted = calloc(m->n_counted,
	    sizeof(uint64_t))) == NULL)) {
		free(out->lost);
		out->lost = NULL;
		*errstr = "lost: out of memory";
	} else {
		memcpy(out->lost, m->lost, m->n_lost * sizeof(uint64_t));
		if (m->n_counted != 0)
			memcpy(out->counted, m->counted,
			    m->n_counted * sizeof(uint64_t));
		out->n = m->n_lost;
		rv = 0;
	}
	arena_release(&m->base);
	return rv;
}

/* ---- flow ---- */

static void
endpoint_to_pb(Sockflow__Endpoint *e, const struct flow_endpoint *f,
    size_t iplen)
{
	e->ip.data = (uint8_t *)f->ip;
	e->ip.len = iplen;
	e->port = f->port;
	e->bytes = f->bytes;
	e->packets = f->packets;
	e->ip_bytes = f->ip_bytes;
}

static int
endpoint_from_pb(struct flow_endpoint *f, const Sockflow__Endpoint *e,
    size_t iplen)
{
	if (e == NULL || e->ip.len != iplen || e->port > 65535)
		return -1;
	memcpy(f->ip, e->ip.data, iplen);
	f->port = (uint16_t)e->port;
	f->bytes = e->bytes;
	f->packets = e->packets;
	f->ip_bytes = e->ip_bytes;
	return 0;
}

uint8_t *
msg_encode_flow(const struct msg_flow *f, size_t *lenp)
{
	Sockflow__FlowRecord m = SOCKFLOW__FLOW_RECORD__INIT;
	Sockflow__Endpoint l = SOCKFLOW__ENDPOINT__INIT;
	Sockflow__Endpoint r = SOCKFLOW__ENDPOINT__INIT;
	size_t iplen = f->family == 4 ? 4 : 16;

	m.sock = f->sock;
	m.family = f->family;
	m.transport = (Sockflow__Transport)f->transport;
	m.direction = (Sockflow__Direction)f->direction;
	endpoint_to_pb(&l, &f->local, iplen);
	endpoint_to_pb(&r, &f->remote, iplen);
	m.local = &l;
	m.remote = &r;
	m.pid = f->pid;
	m.start_ns = f->start_ns;
	m.end_ns = f->end_ns;
	m.final = f->final;
	m.complete = f->complete;
	m.tcp_state = f->tcp_state;
	m.local_ip_known = f->local_ip_known;
	m.remote_known = f->remote_known;
	m.packet_source = (Sockflow__PacketSource)f->packet_source;
	m.cookie = f->cookie;
	m.samples_lost = f->samples_lost;
	m.remote_inferred = f->remote_inferred;
	m.existing = f->existing;
	m.disconnected = f->disconnected;
	m.bytes_source = f->bytes_source;
	m.cgroup = f->cgroup;
	m.netns = f->netns;
	m.flow_id = f->flow_id;
	m.open = f->open;
	m.gone = f->gone;
	return frame_pack(FRAME_FLOW, &m.base, lenp);
}

int
msg_decode_flow(const uint8_t *p, size_t len, struct msg_flow *out,
    const char **errstr)
{
	Sockflow__FlowRecord *m;
	size_t iplen;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__flow_record__descriptor, p, len, errstr)) == NULL)
		return -1;
	iplen = m->family == 4 ? 4 : 16;
	if (m->family != 4 && m->family != 6)
		*errstr = "flow: bad family";
	else if (m->transport != SOCKFLOW__TRANSPORT__TRANSPORT_TCP &&
	    m->transport != SOCKFLOW__TRANSPORT__TRANSPORT_UDP)
		*errstr = "flow: bad transport";
	else if (m->direction != SOCKFLOW__DIRECTION__DIRECTION_UNKNOWN &&
	    m->direction != SOCKFLOW__DIRECTION__DIRECTION_INBOUND &&
	    m->direction != SOCKFLOW__DIRECTION__DIRECTION_OUTBOUND)
		*errstr = "flow: bad direction";
	else if (endpoint_from_pb(&out->local, m->local, iplen) == -1 ||
	    endpoint_from_pb(&out->remote, m->remote, iplen) == -1)
		*errstr = "flow: bad endpoint";
	else if (m->start_ns <= 0 || m->end_ns < m->start_ns)
		*errstr = "flow: bad times";
	else if (m->tcp_state > 255)
		*errstr = "flow: bad tcp state";
	else if ((int)m->packet_source < FLOW_PKTS_NONE ||
	    (int)m->packet_source > FLOW_PKTS_TCP_INFO_TIMEWAIT)
		*errstr = "flow: bad packet source";
	else if (m->bytes_source > FLOW_BYTES_PER_PACKET_DERIVED)
		*errstr = "flow: bad bytes source";
	else if (m->open && (m->final || m->gone || m->flow_id == 0))
		*errstr = "flow: a notice of an open flow that is over or "
		    "has no id";
	else {
		out->sock = m->sock;
		out->family = (uint8_t)m->family;
		out->transport = (uint8_t)m->transport;
		out->direction = (uint8_t)m->direction;
		out->pid = m->pid;
		out->start_ns = m->start_ns;
		out->end_ns = m->end_ns;
		out->final = m->final;
		out->complete = m->complete;
		out->tcp_state = m->tcp_state;
		out->local_ip_known = m->local_ip_known;
		out->remote_known = m->remote_known;
		out->packet_source = (uint8_t)m->packet_source;
		out->cookie = m->cookie;
		out->samples_lost = m->samples_lost;
		out->remote_inferred = m->remote_inferred;
		out->existing = m->existing;
		out->disconnected = m->disconnected;
		out->bytes_source = (uint8_t)m->bytes_source;
		out->cgroup = m->cgroup;
		out->netns = m->netns;
		out->flow_id = m->flow_id;
		out->open = m->open;
		out->gone = m->gone;
		rv = 0;
	}
	if (rv == -1)
		memset(out, 0, sizeof(*out));
	arena_release(&m->base);
	return rv;
}

/* ---- process ---- */

uint8_t *
msg_encode_process(const struct msg_process *pe, size_t *lenp)
{
	Sockflow__ProcessEvent m = SOCKFLOW__PROCESS_EVENT__INIT;

	m.kind = (Sockflow__ProcessEventKind)pe->kind;
	m.pid = pe->pid;
	m.ppid = pe->ppid;
	m.comm = (char *)pe->comm;
	m.time_ns = pe->time_ns;
	m.executable = (char *)pe->executable;
	m.uid = pe->uid;
	m.gid = pe->gid;
	m.euid = pe->euid;
	m.egid = pe->egid;
	m.args.data = (uint8_t *)pe->args;
	m.args.len = pe->args_len;
	m.argc = pe->argc;
	m.is_exec = pe->is_exec;
	m.setid_call = pe->setid_call;
	return frame_pack(FRAME_PROCESS, &m.base, lenp);
}

int
msg_decode_process(const uint8_t *p, size_t len, struct msg_process *out,
    const char **errstr)
{
	Sockflow__ProcessEvent *m;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__process_event__descriptor, p, len, errstr)) == NULL)
		return -1;
	if ((int)m->kind < PROC_EV_EXEC || (int)m->kind > PROC_EV_SETID)
		*errstr = "process: bad kind";
	else if (m->pid == 0 || m->pid > (1U << 22))
		*errstr = "process: bad pid";
	else if (m->ppid > (1U << 22))
		*errstr = "process: bad ppid";
	else if (strlen(m->comm) > MSG_COMM_LEN)
		*errstr = "process: comm too long";
	else if (strlen(m->executable) > MSG_PATH_LEN)
		*errstr = "process: executable too long";
	else if (m->args.len > MSG_ARGS_LEN)
		*errstr = "process: arguments too long";
	else if (m->setid_call > SETID_RESGID ||
	    (m->kind == SOCKFLOW__PROCESS_EVENT_KIND__PROCESS_EVENT_SETID && m->setid_call == 0))
		*errstr = "process: bad set*id call";
	else {
		/*
		 * A process name is whatever the process set: any byte may
		 * appear. It is kept as is and escaped on output.
		 */
		out->kind = (uint8_t)m->kind;
		out->pid = m->pid;
		out->ppid = m->ppid;
		str_copy(out->comm, sizeof(out->comm), m->comm);
		out->time_ns = m->time_ns;
		str_copy(out->executable, sizeof(out->executable),
		    m->executable);
		out->uid = m->uid;
		out->gid = m->gid;
		out->euid = m->euid;
		out->egid = m->egid;
		if (m->args.len > 0)
			memcpy(out->args, m->args.data, m->args.len);
		out->args_len = (uint16_t)m->args.len;
		out->argc = m->argc;
		out->is_exec = m->is_exec;
		out->setid_call = (uint8_t)m->setid_call;
		rv = 0;
	}
	arena_release(&m->base);
	return rv;
}

/* ---- stats ---- */

void
msg_counter_add(struct msg_counter *v, size_t *n, size_t cap,
    const char *name, uint64_t value)
{
	if (*n >= cap)
		return;
	snprintf(v[*n].name, sizeof(v[*n].name), "%s", name);
	v[(*n)++].value = value;
}

uint8_t *
msg_encode_stats(const struct msg_stats *s, size_t *lenp)
{
	Sockflow__Stats m = SOCKFLOW__STATS__INIT;
	Sockflow__Counter *c, **cp;
	uint8_t *buf;
	size_t i;

	if (s->n == 0 || s->n > MSG_MAX_COUNTERS)
		return NULL;
	c = calloc(s->n, sizeof(*c));
	cp = calloc(s->n, sizeof(*cp));
	if (c == NULL || cp == NULL) {
		free(c);
		free(cp);
		return NULL;
	}
	for (i = 0; i < s->n; i++) {
		sockflow__counter__init(&c[i]);
		c[i].name = (char *)s->v[i].name;
		c[i].value = s->v[i].value;
		cp[i] = &c[i];
	}
	m.component = (char *)s->component;
	m.n_counters = s->n;
	m.counters = cp;
	m.last = s->last;
	buf = frame_pack(FRAME_STATS, &m.base, lenp);
	free(c);
	free(cp);
	return buf;
}

void
msg_stats_free(struct msg_stats *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int
msg_decode_stats(const uint8_t *p, size_t len, struct msg_stats *out,
    const char **errstr)
{
	Sockflow__Stats *m;
	size_t i;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__stats__descriptor, p, len, errstr)) == NULL)
		return -1;
	if (!str_ok(m->component, MSG_NAME_LEN, CS_IDENT) ||
	    m->component[0] == '\0') {
		*errstr = "stats: bad component";
		goto out;
	}
	if (m->n_counters == 0 || m->n_counters > MSG_MAX_COUNTERS) {
		*errstr = "stats: bad counter count";
		goto out;
	}
	for (i = 0; i < m->n_counters; i++) {
		if (!str_ok(m->counters[i]->name, MSG_NAME_LEN, CS_IDENT) ||
		    m->counters[i]->name[0] == '\0') {
			*errstr = "stats: bad counter name";
			goto out;
		}
	}
	if ((out->v = calloc(m->n_counters, sizeof(*out->v))) == NULL) {
		*errstr = "stats: out of memory";
		goto out;
	}
	for (i = 0; i < m->n_counters; i++) {
		str_copy(out->v[i].name, sizeof(out->v[i].name),
		    m->counters[i]->name);
		out->v[i].value = m->counters[i]->value;
	}
	out->n = m->n_counters;
	out->last = m->last;
	str_copy(out->component, sizeof(out->component), m->component);
	rv = 0;
 out:
	arena_release(&m->base);
	return rv;
}

/* ---- diag ---- */

uint8_t *
msg_encode_diag(const struct msg_diag *d, size_t *lenp)
{
	Sockflow__DiagBatch m = SOCKFLOW__DIAG_BATCH__INIT;
	ProtobufCBinaryData *b;
	uint8_t *buf;
	size_t i;

	if (d->n > MSG_MAX_DIAG_DGRAMS)
		return NULL;
	if ((b = calloc(d->n ? d->n : 1, sizeof(*b))) == NULL)
		return NULL;
	for (i = 0; i < d->n; i++) {
		b[i].data = d->dgram[i];
		b[i].len = d->len[i];
	}
	m.n_datagrams = d->n;
	m.datagrams = b;
	m.overruns = d->overruns;
	m.dump_protocol = d->dump_protocol;
	buf = frame_pack(FRAME_DIAG, &m.base, lenp);
	free(b);
	return buf;
}

void
msg_diag_free(struct msg_diag *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->dgram[i]);
	free(d->dgram);
	free(d->len);
	memset(d, 0, sizeof(*d));
}

int
msg_decode_diag(const uint8_t *p, size_t len, struct msg_diag *out,
    const char **errstr)
{
	Sockflow__DiagBatch *m;
	size_t i;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__diag_batch__descriptor, p, len,
	    errstr)) == NULL)
		return -1;
	if (m->n_datagrams > MSG_MAX_DIAG_DGRAMS) {
		*errstr = "diag: too many datagrams";
		goto fail;
	}
	if (m->n_datagrams == 0 && m->overruns == 0 &&
	    m->dump_protocol == 0) {
		*errstr = "diag: empty batch";
		goto fail;
	}
	if (m->dump_protocol != 0 && m->dump_protocol != 6 &&
	    m->dump_protocol != 17) {
		*errstr = "diag: bad dump protocol";
		goto fail;
	}
	for (i = 0; i < m->n_datagrams; i++)
		if (m->datagrams[i].len == 0 ||
		    m->datagrams[i].len > MSG_MAX_DIAG_DGRAM) {
			*errstr = "diag: bad datagram length";
			goto fail;
		}
	if (m->n_datagrams > 0 &&
	    ((out->dgram = calloc(m->n_datagrams, sizeof(*out->dgram))) ==
	    NULL || (out->len = calloc(m->n_datagrams,
	    sizeof(*out->len))) == NULL)) {
		*errstr = "diag: out of memory";
		goto fail;
	}
	for (i = 0; i < m->n_datagrams; i++) {
		if ((out->dgram[i] = malloc(m->datagrams[i].len)) == NULL) {
			*errstr = "diag: out of memory";
			goto fail;
		}
		out->n = i + 1;
		memcpy(out->dgram[i], m->datagrams[i].data,
		    m->datagrams[i].len);
		out->len[i] = m->datagrams[i].len;
	}
	out->overruns = m->overruns;
	out->dump_protocol = (uint8_t)m->dump_protocol;
	arena_release(&m->base);
	return 0;
 fail:
	msg_diag_free(out);
	arena_release(&m->base);
	return -1;
}

/* ---- captured packets ---- */

uint8_t *
msg_encode_packets(const struct msg_packets *b, size_t *lenp)
{
	Sockflow__PacketBatch m = SOCKFLOW__PACKET_BATCH__INIT;
	Sockflow__CapturedPacket *pk, **pp;
	uint8_t *buf;
	size_t i;

	if (b->n > MSG_MAX_PACKETS)
		return NULL;
	pk = calloc(b->n ? b->n : 1, sizeof(*pk));
	pp = calloc(b->n ? b->n : 1, sizeof(*pp));
	if (pk == NULL || pp == NULL) {
		free(pk);
		free(pp);
		return NULL;
	}
	for (i = 0; i < b->n; i++) {
		sockflow__captured_packet__init(&pk[i]);
		pk[i].time = b->v[i].time;
		pk[i].protocol = b->v[i].protocol;
		pk[i].ifindex = b->v[i].ifindex;
		pk[i].data.data = b->v[i].data;
		pk[i].data.len = b->v[i].len;
		pk[i].orig_len = b->v[i].orig_len;
		pp[i] = &pk[i];
	}
	m.n_packets = b->n;
	m.packets = pp;
	m.drops = b->drops;
	buf = frame_pack(FRAME_PACKETS, &m.base, lenp);
	free(pk);
	free(pp);
	return buf;
}

void
msg_packets_free(struct msg_packets *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->v[i].data);
	free(b->v);
	memset(b, 0, sizeof(*b));
}

int
msg_decode_packets(const uint8_t *p, size_t len, struct msg_packets *out,
    const char **errstr)
{
	Sockflow__PacketBatch *m;
	size_t i;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__packet_batch__descriptor, p, len,
	    errstr)) == NULL)
		return -1;
	if (m->n_packets > MSG_MAX_PACKETS) {
		*errstr = "packets: too many packets";
		goto fail;
	}
	if (m->n_packets == 0 && m->drops == 0) {
		*errstr = "packets: empty batch";
		goto fail;
	}
	for (i = 0; i < m->n_packets; i++) {
		const Sockflow__CapturedPacket *c = m->packets[i];

		if (c->time == 0) {
			*errstr = "packets: no time";
			goto fail;
		}
		if (c->protocol != 0x0800 && c->protocol != 0x86dd) {
			*errstr = "packets: not IPv4 or IPv6";
			goto fail;
		}
		if (c->data.len == 0 || c->data.len > MSG_MAX_SNAPLEN ||
		    c->orig_len < c->data.len) {
			*errstr = "packets: bad length";
			goto fail;
		}
	}
	if (m->n_packets > 0 &&
	    (out->v = calloc(m->n_packets, sizeof(*out->v))) == NULL) {
		*errstr = "packets: out of memory";
		goto fail;
	}
	for (i = 0; i < m->n_packets; i++) {
		const Sockflow__CapturedPacket *c = m->packets[i];
		struct msg_packet *o = &out->v[i];

		if ((o->data = malloc(c->data.len)) == NULL) {
			*errstr = "packets: out of memory";
			goto fail;
		}
		out->n = i + 1;
		memcpy(o->data, c->data.data, c->data.len);
		o->len = c->data.len;
		o->time = c->time;
		o->protocol = (uint16_t)c->protocol;
		o->ifindex = c->ifindex;
		o->orig_len = c->orig_len;
	}
	out->drops = m->drops;
	arena_release(&m->base);
	return 0;
 fail:
	msg_packets_free(out);
	arena_release(&m->base);
	return -1;
}

/* ---- DNS messages ---- */

uint8_t *
msg_encode_dns(const struct msg_dns *d, size_t *lenp)
{
	Sockflow__DnsMessage m = SOCKFLOW__DNS_MESSAGE__INIT;
	size_t iplen = d->family == 4 ? 4 : 16;

	m.pid = d->pid;
	m.time_ns = d->time_ns;
	m.transport = (Sockflow__Transport)d->transport;
	m.client_ip.data = (uint8_t *)d->client_ip;
	m.client_ip.len = iplen;
	m.client_port = d->client_port;
	m.server_ip.data = (uint8_t *)d->server_ip;
	m.server_ip.len = iplen;
	m.server_port = d->server_port;
	m.response = d->response;
	m.payload.data = d->payload;
	m.payload.len = d->len;
	m.whole = d->whole;
	return frame_pack(FRAME_DNS, &m.base, lenp);
}

void
msg_dns_free(struct msg_dns *d)
{
	free(d->payload);
	d->payload = NULL;
	d->len = 0;
}

int
msg_decode_dns(const uint8_t *p, size_t len, struct msg_dns *out,
    const char **errstr)
{
	Sockflow__DnsMessage *m;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__dns_message__descriptor, p, len,
	    errstr)) == NULL)
		return -1;
	if (m->transport != SOCKFLOW__TRANSPORT__TRANSPORT_TCP &&
	    m->transport != SOCKFLOW__TRANSPORT__TRANSPORT_UDP)
		*errstr = "dns: bad transport";
	else if ((m->client_ip.len != 4 && m->client_ip.len != 16) ||
	    m->server_ip.len != m->client_ip.len)
		*errstr = "dns: bad address";
	else if (m->client_port == 0 || m->client_port > 65535 ||
	    m->server_port == 0 || m->server_port > 65535)
		*errstr = "dns: bad port";
	else if (m->payload.len == 0 || m->payload.len > MSG_MAX_SNAPLEN)
		*errstr = "dns: bad payload length";
	else if ((out->payload = malloc(m->payload.len)) == NULL)
		*errstr = "dns: out of memory";
	else {
		memcpy(out->payload, m->payload.data, m->payload.len);
		out->len = m->payload.len;
		out->pid = m->pid;
		out->time_ns = m->time_ns;
		out->transport = (uint8_t)m->transport;
		out->family = m->client_ip.len == 4 ? 4 : 6;
		memcpy(out->client_ip, m->client_ip.data, m->client_ip.len);
		memcpy(out->server_ip, m->server_ip.data, m->server_ip.len);
		out->client_port = (uint16_t)m->client_port;
		out->server_port = (uint16_t)m->server_port;
		out->response = m->response;
		out->whole = m->whole;
		rv = 0;
	}
	arena_release(&m->base);
	return rv;
}

/* ---- network namespaces at start ---- */

uint8_t *
msg_encode_netns(const struct msg_netns *n, size_t *lenp)
{
	Sockflow__NetnsBatch m = SOCKFLOW__NETNS_BATCH__INIT;

	if (n->n == 0 || n->n > MSG_MAX_NETNS)
		return NULL;
	m.n_pid = n->n;
	m.pid = n->pid;
	m.n_netns = n->n;
	m.netns = n->netns;
	return frame_pack(FRAME_NETNS, &m.base, lenp);
}

void
msg_netns_free(struct msg_netns *n)
{
	free(n->pid);
	free(n->netns);
	memset(n, 0, sizeof(*n));
}

int
msg_decode_netns(const uint8_t *p, size_t len, struct msg_netns *out,
    const char **errstr)
{
	Sockflow__NetnsBatch *m;
	size_t i;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__netns_batch__descriptor, p, len,
	    errstr)) == NULL)
		return -1;
	if (m->n_pid == 0 || m->n_pid != m->n_netns ||
	    m->n_pid > MSG_MAX_NETNS) {
		*errstr = "netns: bad counts";
		goto fail;
	}
	for (i = 0; i < m->n_pid; i++)
		if (m->pid[i] == 0 || m->netns[i] == 0 ||
		    m->netns[i] > UINT32_MAX) {
			*errstr = "netns: bad entry";
			goto fail;
		}
	if ((out->pid = calloc(m->n_pid, sizeof(*out->pid))) == NULL ||
	    (out->netns = calloc(m->n_pid, sizeof(*out->netns))) == NULL) {
		*errstr = "netns: out of memory";
		goto fail;
	}
	memcpy(out->pid, m->pid, m->n_pid * sizeof(*out->pid));
	memcpy(out->netns, m->netns, m->n_pid * sizeof(*out->netns));
	out->n = m->n_pid;
	arena_release(&m->base);
	return 0;
 fail:
	msg_netns_free(out);
	arena_release(&m->base);
	return -1;
}

/* ---- cgroups ---- */

uint8_t *
msg_encode_cgroup(const struct msg_cgroup *c, size_t *lenp)
{
	Sockflow__CgroupEvent m = SOCKFLOW__CGROUP_EVENT__INIT;

	m.id = c->id;
	m.path = (char *)c->path;
	return frame_pack(FRAME_CGROUP, &m.base, lenp);
}

int
msg_decode_cgroup(const uint8_t *p, size_t len, struct msg_cgroup *out,
    const char **errstr)
{
	Sockflow__CgroupEvent *m;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	if ((m = unpack_strict(&sockflow__cgroup_event__descriptor, p, len,
	    errstr)) == NULL)
		return -1;
	/* Names of cgroups are made by whoever may mkdir in the tree. */
	if (m->id == 0)
		*errstr = "cgroup: no id";
	else if (m->path[0] != '/' ||
	    !str_ok(m->path, sizeof(out->path), CS_PRINT))
		*errstr = "cgroup: bad path";
	else {
		out->id = m->id;
		str_copy(out->path, sizeof(out->path), m->path);
		rv = 0;
	}
	arena_release(&m->base);
	return rv;
}

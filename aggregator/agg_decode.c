/*
 * Decoding raw perf records into agg_events. Sample layouts come from the
 * format descriptions the probe forwarded: every field is looked up by
 * name when the formats arrive, and a format that lacks a field sockflow
 * needs is refused with its name. Records are treated as untrusted bytes:
 * every length is checked before a field is read.
 *
 * The probe opens every event with PERF_SAMPLE_TID | TIME | CPU | RAW and
 * sample_id_all (protocol version 1), so a sample is
 *	header, u32 pid, u32 tid, u64 time, u32 cpu, u32 res,
 *	u32 raw_size, raw bytes
 * and side-band records end with the 24-byte sample_id trailer
 *	u32 pid, u32 tid, u64 time, u32 cpu, u32 res.
 */
#include "config.h"

#include <linux/perf_event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "log.h"

#define SAMPLE_FIXED	(sizeof(struct perf_event_header) + 8 + 8 + 8 + 4)
#define TRAILER_LEN	24

/* common_flags bits: the sample was taken in hard or soft irq context. */
#define TRACE_FLAG_HARDIRQ	0x08
#define TRACE_FLAG_SOFTIRQ	0x10

enum handler {
	H_SET_STATE = 1,
	H_SEND,
	H_RECV,
	H_DESTROY,
	H_FIB4,
	H_FIB6,
	H_KCALL_SEND,		/* kprobe backend: sockflow_<pid>/send_* */
	H_KCALL_RECV,		/* recv_* */
	H_KRET_SEND,		/* sendret_* */
	H_KRET_RECV,		/* recvret_* */
	H_KPKT4,		/* pkt_out4, pkt_in4 */
	H_KPKT6,		/* pkt_out6, pkt_in6 */
	H_EXEC,			/* sched:sched_process_exec */
	H_KCREDS,		/* creds */
	H_KARGS,		/* args */
	H_SETID,		/* syscalls:sys_exit_set*id */
	H_SETID_CALL,		/* syscalls:sys_enter_set*id */
};

/* 64-bit words of an exec's arguments the kprobe backend reads. */
#define ARGS_WORDS	32

/* The fields sockflow reads of each event; NULL where an event has none. */
struct fields {
	const struct tp_field *skaddr, *oldstate, *newstate, *sport, *dport,
	    *family, *protocol, *saddr, *daddr, *saddr_v6, *daddr_v6, *cookie,
	    *ret, *flags, *err, *src, *dst, *len, *vihl, *ports, *filename,
	    *pid, *uid, *gid, *euid, *egid, *argc, *astart, *aend, *ida, *idb,
	    *w[ARGS_WORDS];
};

/*
 * What exec events carry that is too large for an event (the file run,
 * the argument block), on its way through the reorder, in a ring: an
 * event names its slot and sequence number.
 */
#define EXEC_RING	1024
struct exec_path {
	uint64_t	 seq;
	uint16_t	 len;
	char		 data[MSG_ARGS_LEN + 1];	/* NUL-ended as well */
};

/* MSG_PEEK: a peek does not consume data and is not counted. */
#define FLAG_MSG_PEEK	2

struct agg_format {
	uint32_t		 id;
	uint32_t		 stack_user;	/* bytes of user stack */
	enum handler		 handler;
	struct tp_format	 fmt;
	const struct tp_field	*common_type, *common_flags;
	struct fields		 f;
};

struct agg_decoder {
	struct agg_format	*v;
	size_t			 n;
	struct agg_decode_stats	 stats;
	uint64_t		 seq;
	struct exec_path	*exec;		/* EXEC_RING, made on use */
	uint64_t		 nexec;
	agg_cgroup_cb		 cgroup_cb;
	void			*cgroup_arg;
	bool			 sample_cgroup;	/* samples end with it */
};

/* The user stack of a sample (PERF_SAMPLE_REGS_USER, STACK_USER). */
struct ustack {
	uint64_t		 sp;
	const uint8_t		*data;	/* the stack from sp up */
	size_t			 len;
};

void
agg_decoder_set_cgroup_cb(struct agg_decoder *d, agg_cgroup_cb cb, void *arg)
{
	d->cgroup_cb = cb;
	d->cgroup_arg = arg;
}

static const struct tp_field *
need(const struct tp_format *f, const char *name, size_t size, int array,
    char *err, size_t errsz, int *bad)
{
	const struct tp_field *fl = tpformat_field(f, name);

	if (*bad)
		return NULL;
	if (fl == NULL) {
		snprintf(err, errsz, "%s: no field %s", f->name, name);
		*bad = 1;
	} else if ((size != 0 && fl->size != size) ||
	    (array >= 0 && fl->is_array != (array == 1))) {
		snprintf(err, errsz, "%s: field %s has an unexpected layout",
		    f->name, name);
		*bad = 1;
		fl = NULL;
	}
	return fl;
}

static int
bind_fields(struct agg_format *af, char *err, size_t errsz)
{
	struct fields *s = &af->f;
	const struct tp_format *f = &af->fmt;
	int bad = 0;

	switch (af->handler) {
	case H_SET_STATE:
		s->skaddr = need(f, "skaddr", 8, 0, err, errsz, &bad);
		s->oldstate = need(f, "oldstate", 0, 0, err, errsz, &bad);
		s->newstate = need(f, "newstate", 0, 0, err, errsz, &bad);
		s->protocol = need(f, "protocol", 0, 0, err, errsz, &bad);
		/* FALLTHROUGH */
	case H_DESTROY:
		if (af->handler == H_DESTROY) {
			s->skaddr = need(f, "skaddr", 8, 0, err, errsz, &bad);
			s->cookie = need(f, "sock_cookie", 8, 0, err, errsz,
			    &bad);
		}
		s->sport = need(f, "sport", 0, 0, err, errsz, &bad);
		s->dport = need(f, "dport", 0, 0, err, errsz, &bad);
		/*
		 * Linux 5.10's tcp_destroy_sock has no family: its address
		 * fields are then read as IPv6, where an IPv4 socket's are
		 * v4-mapped (decode_tuple).
		 */
		if (af->handler == H_DESTROY &&
		    tpformat_field(f, "family") == NULL)
			s->family = NULL;
		else
			s->family = need(f, "family", 0, 0, err, errsz, &bad);
		s->saddr = need(f, "saddr", 4, 1, err, errsz, &bad);
		s->daddr = need(f, "daddr", 4, 1, err, errsz, &bad);
		s->saddr_v6 = need(f, "saddr_v6", 16, 1, err, errsz, &bad);
		s->daddr_v6 = need(f, "daddr_v6", 16, 1, err, errsz, &bad);
		break;
	case H_SEND:
	case H_RECV:
		s->skaddr = need(f, "sk", 8, 0, err, errsz, &bad);
		s->family = need(f, "family", 0, 0, err, errsz, &bad);
		s->protocol = need(f, "protocol", 0, 0, err, errsz, &bad);
		s->ret = need(f, "ret", 0, 0, err, errsz, &bad);
		s->flags = need(f, "flags", 0, 0, err, errsz, &bad);
		break;
	case H_KCALL_SEND:
	case H_KCALL_RECV:
		s->skaddr = need(f, "sk", 8, 0, err, errsz, &bad);
		s->family = need(f, "family", 2, 0, err, errsz, &bad);
		s->protocol = need(f, "protocol", 2, 0, err, errsz, &bad);
		if (af->handler == H_KCALL_RECV)
			s->flags = need(f, "flags", 4, 0, err, errsz, &bad);
		break;
	case H_KRET_SEND:
	case H_KRET_RECV:
		s->ret = need(f, "ret", 4, 0, err, errsz, &bad);
		break;
	case H_EXEC:
		s->filename = need(f, "filename", 0, -1, err, errsz, &bad);
		s->pid = need(f, "pid", 4, 0, err, errsz, &bad);
		if (s->filename != NULL && !s->filename->is_dataloc) {
			snprintf(err, errsz, "%s: filename is not a string",
			    f->name);
			bad = 1;
		}
		break;
	case H_KARGS: {
		char wn[8];
		int i;

		s->argc = need(f, "argc", 4, 0, err, errsz, &bad);
		s->astart = need(f, "start", 8, 0, err, errsz, &bad);
		s->aend = need(f, "end", 8, 0, err, errsz, &bad);
		for (i = 0; i < ARGS_WORDS; i++) {
			snprintf(wn, sizeof(wn), "w%d", i);
			s->w[i] = need(f, wn, 8, 0, err, errsz, &bad);
		}
		break;
	}
	case H_SETID:
		s->ret = need(f, "ret", 8, 0, err, errsz, &bad);
		break;
	case H_SETID_CALL: {
		/* The real (or only) id, then the effective one. */
		const char *n = f->name + strlen("sys_enter_");

		if (strcmp(n, "setuid") == 0 || strcmp(n, "setgid") == 0)
			s->ida = need(f, n[3] == 'u' ? "uid" : "gid", 8, 0,
			    err, errsz, &bad);
		else {
			int u = strchr(n + 3, 'u') != NULL;

			s->ida = need(f, u ? "ruid" : "rgid", 8, 0, err, errsz,
			    &bad);
			s->idb = need(f, u ? "euid" : "egid", 8, 0, err, errsz,
			    &bad);
		}
		break;
	}
	case H_KCREDS:
		s->uid = need(f, "uid", 4, 0, err, errsz, &bad);
		s->gid = need(f, "gid", 4, 0, err, errsz, &bad);
		s->euid = need(f, "euid", 4, 0, err, errsz, &bad);
		s->egid = need(f, "egid", 4, 0, err, errsz, &bad);
		break;
	case H_KPKT4:
	case H_KPKT6:
		s->len = need(f, "len", 4, 0, err, errsz, &bad);
		s->vihl = need(f, "vihl", 1, 0, err, errsz, &bad);
		s->protocol = need(f, "proto", 1, 0, err, errsz, &bad);
		s->src = need(f, "saddr", af->handler == H_KPKT4 ? 4 : 16,
		    af->handler == H_KPKT4 ? 0 : 1, err, errsz, &bad);
		s->dst = need(f, "daddr", af->handler == H_KPKT4 ? 4 : 16,
		    af->handler == H_KPKT4 ? 0 : 1, err, errsz, &bad);
		s->ports = need(f, "ports", 4, 0, err, errsz, &bad);
		break;
	case H_FIB4:
	case H_FIB6:
		s->err = need(f, "err", 0, 0, err, errsz, &bad);
		s->protocol = need(f, "proto", 0, 0, err, errsz, &bad);
		s->sport = need(f, "sport", 0, 0, err, errsz, &bad);
		s->dport = need(f, "dport", 0, 0, err, errsz, &bad);
		s->src = need(f, "src", af->handler == H_FIB4 ? 4 : 16, 1, err,
		    errsz, &bad);
		s->dst = need(f, "dst", af->handler == H_FIB4 ? 4 : 16, 1, err,
		    errsz, &bad);
		break;
	}
	return bad ? -1 : 0;
}

/* Which handler decodes an event, by its system and name. */
static enum handler
handler_of(const char *sys, const char *name)
{
	static const struct {
		const char	*sys, *name;
		enum handler	 h;
	} tab[] = {
		{ "sock", "inet_sock_set_state", H_SET_STATE },
		{ "sock", "sock_send_length", H_SEND },
		{ "sock", "sock_recv_length", H_RECV },
		{ "tcp", "tcp_destroy_sock", H_DESTROY },
		{ "fib", "fib_table_lookup", H_FIB4 },
		{ "fib6", "fib6_table_lookup", H_FIB6 },
		{ "sched", "sched_process_exec", H_EXEC },
		{ "syscalls", "sys_enter_setuid", H_SETID_CALL },
		{ "syscalls", "sys_enter_setgid", H_SETID_CALL },
		{ "syscalls", "sys_enter_setreuid", H_SETID_CALL },
		{ "syscalls", "sys_enter_setregid", H_SETID_CALL },
		{ "syscalls", "sys_enter_setresuid", H_SETID_CALL },
		{ "syscalls", "sys_enter_setresgid", H_SETID_CALL },
		{ "syscalls", "sys_exit_setuid", H_SETID },
		{ "syscalls", "sys_exit_setgid", H_SETID },
		{ "syscalls", "sys_exit_setreuid", H_SETID },
		{ "syscalls", "sys_exit_setregid", H_SETID },
		{ "syscalls", "sys_exit_setresuid", H_SETID },
		{ "syscalls", "sys_exit_setresgid", H_SETID },
	};
	static const struct {
		const char	*prefix;
		enum handler	 h;
	} ktab[] = {
		{ "send_", H_KCALL_SEND },
		{ "recv_", H_KCALL_RECV },
		{ "sendret_", H_KRET_SEND },
		{ "recvret_", H_KRET_RECV },
		{ "pkt_out4", H_KPKT4 },
		{ "pkt_in4", H_KPKT4 },
		{ "pkt_out6", H_KPKT6 },
		{ "pkt_in6", H_KPKT6 },
		{ "creds", H_KCREDS },
		{ "args", H_KARGS },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].sys, sys) == 0 &&
		    strcmp(tab[i].name, name) == 0)
			return tab[i].h;
	/* The kprobe backend's own group, sockflow_<pid>. */
	if (strncmp(sys, "sockflow_", 9) == 0)
		for (i = 0; i < sizeof(ktab) / sizeof(ktab[0]); i++)
			if (strncmp(name, ktab[i].prefix,
			    strlen(ktab[i].prefix)) == 0)
				return ktab[i].h;
	return 0;
}

struct agg_decoder *
agg_decoder_new(const struct msg_formats *fmts, char *err, size_t errsz)
{
	struct agg_decoder *d;
	size_t i, j;
	int bad = 0;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->v = calloc(fmts->n, sizeof(*d->v))) == NULL) {
		snprintf(err, errsz, "out of memory");
		free(d);
		return NULL;
	}
	for (i = 0; i < fmts->n; i++) {
		const struct msg_format *mf = &fmts->v[i];
		struct agg_format *af = &d->v[i];

		if (tpformat_parse(mf->text, mf->textlen, &af->fmt, err,
		    errsz) == -1)
			goto fail;
		if (af->fmt.id != mf->id || strcmp(af->fmt.name, mf->name)) {
			snprintf(err, errsz, "%s: format does not match its "
			    "announced id or name", mf->name);
			goto fail;
		}
		for (j = 0; j < i; j++)
			if (d->v[j].id == mf->id) {
				snprintf(err, errsz, "duplicate event id %u",
				    mf->id);
				goto fail;
			}
		af->id = mf->id;
		af->stack_user = mf->stack_user;
		af->common_type = need(&af->fmt, "common_type", 2, 0, err,
		    errsz, &bad);
		af->common_flags = need(&af->fmt, "common_flags", 1, 0, err,
		    errsz, &bad);
		if (bad)
			goto fail;
		if ((af->handler = handler_of(mf->system, mf->name)) == 0) {
			snprintf(err, errsz, "unsupported event %s:%s",
			    mf->system, mf->name);
			goto fail;
		}
		if (bind_fields(af, err, errsz) == -1)
			goto fail;
		d->n = i + 1;
	}
	d->sample_cgroup = fmts->sample_cgroup;
	return d;
 fail:
	agg_decoder_free(d);
	return NULL;
}

void
agg_decoder_free(struct agg_decoder *d)
{
	if (d == NULL)
		return;
	free(d->exec);
	free(d->v);
	free(d);
}

const struct agg_decode_stats *
agg_decoder_stats(const struct agg_decoder *d)
{
	return &d->stats;
}

static const struct agg_format *
find_format(const struct agg_decoder *d, uint32_t id)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->v[i].id == id)
			return &d->v[i];
	return NULL;
}

/* A v4-mapped IPv6 address (::ffff:a.b.c.d). */
static int
v4mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/* The address pair of set_state and destroy, v4-mapped ones unmapped. */
static int
decode_tuple(const struct fields *s, const uint8_t *raw, size_t rawlen,
    struct agg_event *ev)
{
	uint64_t sport, dport, family;
	uint8_t s6[16], d6[16];

	if (tp_get_u64(s->sport, raw, rawlen, &sport) == -1 ||
	    tp_get_u64(s->dport, raw, rawlen, &dport) == -1)
		return -1;
	if (s->family == NULL)
		family = 10;	/* no field: v4 sockets' are v4-mapped */
	else if (tp_get_u64(s->family, raw, rawlen, &family) == -1)
		return -1;
	if (sport > 65535 || dport > 65535)
		return -1;
	ev->u.st.sport = (uint16_t)sport;
	ev->u.st.dport = (uint16_t)dport;
	memset(ev->u.st.saddr, 0, 16);
	memset(ev->u.st.daddr, 0, 16);
	if (family == 2) {
		if (tp_get_bytes(s->saddr, raw, rawlen, ev->u.st.saddr, 4) ||
		    tp_get_bytes(s->daddr, raw, rawlen, ev->u.st.daddr, 4))
			return -1;
		ev->u.st.family = 4;
	} else if (family == 10) {
		if (tp_get_bytes(s->saddr_v6, raw, rawlen, s6, 16) ||
		    tp_get_bytes(s->daddr_v6, raw, rawlen, d6, 16))
			return -1;
		/*
		 * An AF_INET6 socket talking to ::ffff:a.b.c.d is IPv4 on
		 * the wire, and is reported as such.
		 */
		if (v4mapped(s6) && v4mapped(d6)) {
			memcpy(ev->u.st.saddr, s6 + 12, 4);
			memcpy(ev->u.st.daddr, d6 + 12, 4);
			ev->u.st.family = 4;
		} else {
			memcpy(ev->u.st.saddr, s6, 16);
			memcpy(ev->u.st.daddr, d6, 16);
			ev->u.st.family = 6;
		}
	} else
		return 0;
	return 1;
}

static int
decode_set_state(const struct agg_format *af, const uint8_t *raw,
    size_t rawlen, struct agg_event *ev)
{
	const struct fields *s = &af->f;
	uint64_t sk, proto;
	int64_t olds, news;

	if (tp_get_u64(s->skaddr, raw, rawlen, &sk) == -1 ||
	    tp_get_s64(s->oldstate, raw, rawlen, &olds) == -1 ||
	    tp_get_s64(s->newstate, raw, rawlen, &news) == -1 ||
	    tp_get_u64(s->protocol, raw, rawlen, &proto) == -1)
		return -1;
	if (olds < 0 || olds > 255 || news < 0 || news > 255 || sk == 0)
		return -1;
	if (proto != 6)
		return 0;
	ev->kind = AEV_SET_STATE;
	ev->u.st.sk = sk;
	ev->u.st.oldstate = (int32_t)olds;
	ev->u.st.newstate = (int32_t)news;
	return decode_tuple(s, raw, rawlen, ev);
}

static int
decode_destroy(const struct agg_format *af, const uint8_t *raw,
    size_t rawlen, struct agg_event *ev)
{
	const struct fields *s = &af->f;
	uint64_t sk, cookie;

	if (tp_get_u64(s->skaddr, raw, rawlen, &sk) == -1 ||
	    tp_get_u64(s->cookie, raw, rawlen, &cookie) == -1 || sk == 0)
		return -1;
	ev->kind = AEV_DESTROY;
	ev->u.st.sk = sk;
	ev->u.st.cookie = cookie;
	return decode_tuple(s, raw, rawlen, ev);
}

static int
decode_io(const struct agg_format *af, const uint8_t *raw, size_t rawlen,
    struct agg_event *ev)
{
	const struct fields *s = &af->f;
	uint64_t sk, family, proto;
	int64_t ret, flags;

	if (tp_get_u64(s->skaddr, raw, rawlen, &sk) == -1 ||
	    tp_get_u64(s->family, raw, rawlen, &family) == -1 ||
	    tp_get_u64(s->protocol, raw, rawlen, &proto) == -1 ||
	    tp_get_s64(s->ret, raw, rawlen, &ret) == -1 ||
	    tp_get_s64(s->flags, raw, rawlen, &flags) == -1 || sk == 0)
		return -1;
	/* The kernel filter already drops these; the check is cheap. */
	if ((family != 2 && family != 10) || (proto != 6 && proto != 17) ||
	    ret <= 0 || ret > UINT32_MAX)
		return 0;
	if (af->handler == H_RECV && (flags & FLAG_MSG_PEEK))
		return 0;
	ev->kind = af->handler == H_SEND ? AEV_SEND : AEV_RECV;
	ev->u.io.sk = sk;
	ev->u.io.bytes = (uint32_t)ret;
	ev->u.io.proto = (uint8_t)proto;
	ev->u.io.family = family == 2 ? 4 : 6;
	return 1;
}

/* A kprobe backend send or receive entry, or its return. */
static int
decode_kcall(const struct agg_format *af, const uint8_t *raw, size_t rawlen,
    struct agg_event *ev)
{
	const struct fields *s = &af->f;
	uint64_t sk, family, proto;
	int64_t flags = 0;

	if (af->handler == H_KRET_SEND || af->handler == H_KRET_RECV) {
		if (tp_get_s64(s->ret, raw, rawlen, &ev->u.ret.ret) == -1)
			return -1;
		ev->kind = AEV_RET;
		ev->u.ret.dir = af->handler == H_KRET_SEND ? CALL_SEND :
		    CALL_RECV;
		return 1;
	}
	if (tp_get_u64(s->skaddr, raw, rawlen, &sk) == -1 ||
	    tp_get_u64(s->family, raw, rawlen, &family) == -1 ||
	    tp_get_u64(s->protocol, raw, rawlen, &proto) == -1 ||
	    (s->flags != NULL && tp_get_s64(s->flags, raw, rawlen,
	    &flags) == -1) || sk == 0)
		return -1;
	ev->kind = AEV_CALL;
	ev->u.call.sk = sk;
	ev->u.call.proto = (uint8_t)(proto <= 255 ? proto : 0);
	ev->u.call.family = family == 2 ? 4 : family == 10 ? 6 : 0;
	ev->u.call.dir = af->handler == H_KCALL_SEND ? CALL_SEND : CALL_RECV;
	ev->u.call.peek = (flags & FLAG_MSG_PEEK) != 0;
	return 1;
}

/*
 * Keep n bytes (at most MSG_ARGS_LEN) aside for the exec event being
 * decoded, which names their slot; 0 without memory for the ring.
 */
static int
exec_keep(struct agg_decoder *d, const void *data, size_t n,
    struct agg_event *ev)
{
	struct exec_path *x;

	if (d->exec == NULL &&
	    (d->exec = calloc(EXEC_RING, sizeof(*d->exec))) == NULL)
		return 0;
	d->nexec++;
	x = &d->exec[d->nexec % EXEC_RING];
	x->seq = d->nexec;
	memcpy(x->data, data, n);
	x->data[n] = '\0';
	x->len = (uint16_t)n;
	ev->u.exec.slot = (uint32_t)(d->nexec % EXEC_RING);
	ev->u.exec.seq = d->nexec;
	return 1;
}

/*
 * The arguments of a new program from the top of its stack, as the kernel
 * has just laid it out: argc, then argc pointers to the strings, which
 * lie further up. Whole strings only, at most MSG_ARGS_LEN bytes of them;
 * a string outside the stack taken ends the list (and is counted). The
 * environment's strings, above the arguments, are never looked at.
 */
static size_t
stack_args(struct agg_decoder *d, const struct ustack *u, uint8_t *out,
    size_t outsz, uint32_t *argcp)
{
	uint64_t argc, ptr, i;
	size_t n = 0, off, l;
	const uint8_t *nul;

	if (u->len < 8)
		return 0;
	memcpy(&argc, u->data, 8);
	*argcp = argc > UINT32_MAX ? UINT32_MAX : (uint32_t)argc;
	for (i = 0; i < argc; i++) {
		off = 8 + 8 * (size_t)i;
		if (i >= u->len / 8 || off + 8 > u->len)
			break;
		memcpy(&ptr, u->data + off, 8);
		if (ptr < u->sp || ptr - u->sp >= u->len)
			break;
		off = (size_t)(ptr - u->sp);
		if ((nul = memchr(u->data + off, '\0', u->len - off)) == NULL)
			break;
		l = (size_t)(nul - (u->data + off));
		if (n + l + 1 > outsz)
			return n;	/* the block is full: not a cut */
		memcpy(out + n, u->data + off, l + 1);
		n += l + 1;
	}
	if (i < argc)
		d->stats.exec_args_cut++;
	return n;
}

/*
 * An exec: the pid and, kept aside, the file executed; with a user stack
 * (the tracepoint backend), its arguments too.
 */
static int
decode_exec(struct agg_decoder *d, const struct agg_format *af,
    const uint8_t *raw, size_t rawlen, const struct ustack *u,
    struct agg_event *ev)
{
	const struct fields *s = &af->f;
	const uint8_t *str;
	uint8_t args[MSG_ARGS_LEN];
	uint64_t pid;
	uint32_t argc = 0;
	size_t len, alen = 0;

	if (tp_get_u64(s->pid, raw, rawlen, &pid) == -1 || pid == 0 ||
	    pid > (1U << 22) ||
	    tp_get_dataloc(s->filename, raw, rawlen, &str, &len) == -1)
		return -1;
	if (u != NULL && ev->proc_ctx)
		alen = stack_args(d, u, args, sizeof(args), &argc);
	if (u != NULL && ev->proc_ctx && exec_keep(d, args, alen, ev)) {
		ev->u.exec.args = true;
		ev->u.exec.argc = argc;
		ev->u.exec.aslot = ev->u.exec.slot;
		ev->u.exec.aseq = ev->u.exec.seq;
	}
	/* A NUL inside is the kernel's string's end. */
	if (!exec_keep(d, str, len > MSG_PATH_LEN ? MSG_PATH_LEN : len, ev))
		return 0;
	ev->kind = AEV_EXEC;
	ev->u.exec.pid = (uint32_t)pid;
	return 1;
}

/*
 * A set*id() call and its arguments (enter), or its success (exit): the
 * aggregator pairs them by thread (agg.c).
 */
static int
decode_setid(const struct agg_format *af, const uint8_t *raw, size_t rawlen,
    struct agg_event *ev)
{
	static const struct {
		const char	*name;
		uint8_t		 call;
	} calls[] = {
		{ "sys_enter_setuid", SETID_UID },
		{ "sys_enter_setgid", SETID_GID },
		{ "sys_enter_setreuid", SETID_REUID },
		{ "sys_enter_setregid", SETID_REGID },
		{ "sys_enter_setresuid", SETID_RESUID },
		{ "sys_enter_setresgid", SETID_RESGID },
	};
	uint64_t a, b = UINT32_MAX;
	int64_t ret;
	size_t i;

	if (!ev->proc_ctx)
		return 0;
	if (af->handler == H_SETID) {
		if (tp_get_s64(af->f.ret, raw, rawlen, &ret) == -1)
			return -1;
		if (ret != 0)
			return 0;
		ev->kind = AEV_SETID;
		return 1;
	}
	if (tp_get_u64(af->f.ida, raw, rawlen, &a) == -1 ||
	    (af->f.idb != NULL && tp_get_u64(af->f.idb, raw, rawlen,
	    &b) == -1))
		return -1;
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (strcmp(af->fmt.name, calls[i].name) == 0)
			ev->u.setid.call = calls[i].call;
	if (ev->u.setid.call == 0)
		return 0;
	ev->kind = AEV_SETID;
	/* uid_t is 32 bits; the field is the register's 64. */
	ev->u.setid.a = (uint32_t)a;
	ev->u.setid.b = (uint32_t)b;
	return 1;
}

const char *
agg_decoder_exec_path(struct agg_decoder *d, uint32_t slot, uint64_t seq)
{
	if (d == NULL || d->exec == NULL || slot >= EXEC_RING ||
	    d->exec[slot].seq != seq) {
		if (d != NULL)
			d->stats.exec_paths_lost++;
		return NULL;
	}
	return d->exec[slot].data;
}

const uint8_t *
agg_decoder_exec_args(struct agg_decoder *d, uint32_t slot, uint64_t seq,
    size_t *len)
{
	const char *p = agg_decoder_exec_path(d, slot, seq);

	if (p == NULL)
		return NULL;
	*len = d->exec[slot].len;
	return (const uint8_t *)p;
}

/*
 * An exec's arguments (kprobe backend): argc, and the first 256 bytes of
 * the argument strings of the new image (user data), each ended by a
 * NUL. Bytes past the block's end are the environment's and are dropped;
 * a string the 256 bytes cut is left out, with those after it.
 */
static int
decode_args(struct agg_decoder *d, const struct agg_format *af,
    const uint8_t *raw, size_t rawlen, struct agg_event *ev)
{
	const struct fields *s = &af->f;
	uint8_t block[ARGS_WORDS * 8];
	uint64_t start, end, w;
	int64_t argc;
	size_t n, i, keep;

	if (tp_get_s64(s->argc, raw, rawlen, &argc) == -1 ||
	    tp_get_u64(s->astart, raw, rawlen, &start) == -1 ||
	    tp_get_u64(s->aend, raw, rawlen, &end) == -1)
		return -1;
	for (i = 0; i < ARGS_WORDS; i++) {
		if (tp_get_u64(s->w[i], raw, rawlen, &w) == -1)
			return -1;
		memcpy(block + 8 * i, &w, 8);
	}
	if (!ev->proc_ctx || argc < 0 || end < start)
		return 0;
	n = end - start < sizeof(block) ? (size_t)(end - start) :
	    sizeof(block);
	/* Whole strings only. */
	for (i = 0, keep = 0; i < n; i++)
		if (block[i] == '\0')
			keep = i + 1;
	if (!exec_keep(d, block, keep, ev))
		return 0;
	ev->kind = AEV_ARGS;
	ev->u.exec.pid = ev->pid;
	ev->u.exec.argc = (uint32_t)(argc > UINT32_MAX ? UINT32_MAX : argc);
	return 1;
}

/* New credentials (kprobe backend), of the sample's process. */
static int
decode_creds(const struct agg_format *af, const uint8_t *raw,
    size_t rawlen, struct agg_event *ev)
{
	const struct fields *s = &af->f;
	uint64_t v[4];

	if (tp_get_u64(s->uid, raw, rawlen, &v[0]) == -1 ||
	    tp_get_u64(s->gid, raw, rawlen, &v[1]) == -1 ||
	    tp_get_u64(s->euid, raw, rawlen, &v[2]) == -1 ||
	    tp_get_u64(s->egid, raw, rawlen, &v[3]) == -1)
		return -1;
	/* Taken in interrupt context: not the sample task's own. */
	if (!ev->proc_ctx)
		return 0;
	ev->kind = AEV_CREDS;
	ev->u.creds.uid = (uint32_t)v[0];
	ev->u.creds.gid = (uint32_t)v[1];
	ev->u.creds.euid = (uint32_t)v[2];
	ev->u.creds.egid = (uint32_t)v[3];
	return 1;
}

/*
 * A TCP packet at the IP layer (kprobe backend). Fields hold the bytes
 * as they are on the wire; an IPv4 header with options puts the ports
 * elsewhere, and such a packet is counted, not used.
 */
static int
decode_kpkt(struct agg_decoder *d, const struct agg_format *af,
    const uint8_t *raw, size_t rawlen, struct agg_event *ev)
{
	const struct fields *s = &af->f;
	size_t alen = af->handler == H_KPKT4 ? 4 : 16;
	uint64_t len, vihl, proto;
	uint8_t ports[4];

	if (tp_get_u64(s->len, raw, rawlen, &len) == -1 ||
	    tp_get_u64(s->vihl, raw, rawlen, &vihl) == -1 ||
	    tp_get_u64(s->protocol, raw, rawlen, &proto) == -1 ||
	    tp_get_bytes(s->src, raw, rawlen, ev->u.pkt.src, alen) == -1 ||
	    tp_get_bytes(s->dst, raw, rawlen, ev->u.pkt.dst, alen) == -1 ||
	    tp_get_bytes(s->ports, raw, rawlen, ports, 4) == -1)
		return -1;
	if (proto != 6 || len > UINT32_MAX ||
	    (af->handler == H_KPKT4 ? vihl != 0x45 : (vihl >> 4) != 6)) {
		d->stats.packets_unparsed++;
		return 0;
	}
	ev->kind = AEV_PKT;
	ev->u.pkt.len = (uint32_t)len;
	ev->u.pkt.family = af->handler == H_KPKT4 ? 4 : 6;
	ev->u.pkt.out = strncmp(af->fmt.name, "pkt_out", 7) == 0;
	ev->u.pkt.sport = (uint16_t)(ports[0] << 8 | ports[1]);
	ev->u.pkt.dport = (uint16_t)(ports[2] << 8 | ports[3]);
	return 1;
}

static int
decode_fib(const struct agg_format *af, const uint8_t *raw, size_t rawlen,
    struct agg_event *ev)
{
	const struct fields *s = &af->f;
	size_t alen = af->handler == H_FIB4 ? 4 : 16;
	uint64_t proto, sport, dport;
	int64_t err;

	if (tp_get_s64(s->err, raw, rawlen, &err) == -1 ||
	    tp_get_u64(s->protocol, raw, rawlen, &proto) == -1 ||
	    tp_get_u64(s->sport, raw, rawlen, &sport) == -1 ||
	    tp_get_u64(s->dport, raw, rawlen, &dport) == -1 ||
	    sport > 65535 || dport > 65535)
		return -1;
	/* Only UDP route lookups of a send or connect are of use. */
	if (proto != 17 || dport == 0 || !ev->proc_ctx)
		return 0;
	ev->kind = AEV_FIB;
	ev->u.fib.err = (int32_t)err;
	ev->u.fib.sport = (uint16_t)sport;
	ev->u.fib.dport = (uint16_t)dport;
	ev->u.fib.family = alen == 4 ? 4 : 6;
	memset(ev->u.fib.src, 0, 16);
	memset(ev->u.fib.dst, 0, 16);
	if (tp_get_bytes(s->src, raw, rawlen, ev->u.fib.src, alen) == -1 ||
	    tp_get_bytes(s->dst, raw, rawlen, ev->u.fib.dst, alen) == -1)
		return -1;
	if (alen == 16 && v4mapped(ev->u.fib.dst)) {
		memmove(ev->u.fib.src, ev->u.fib.src + 12, 4);
		memmove(ev->u.fib.dst, ev->u.fib.dst + 12, 4);
		memset(ev->u.fib.src + 4, 0, 12);
		memset(ev->u.fib.dst + 4, 0, 12);
		ev->u.fib.family = 4;
	}
	return 1;
}

static int
decode_sample(struct agg_decoder *d, const uint8_t *rec, size_t len,
    struct agg_event *ev)
{
	const struct agg_format *af;
	const uint8_t *raw, *tail;
	struct ustack us, *u = NULL;
	uint32_t pid, tid, cpu, rawlen;
	uint64_t time, type, flags;
	size_t off = sizeof(struct perf_event_header), taillen;

	if (len < SAMPLE_FIXED)
		return -1;
	memcpy(&pid, rec + off, 4);
	memcpy(&tid, rec + off + 4, 4);
	memcpy(&time, rec + off + 8, 8);
	memcpy(&cpu, rec + off + 16, 4);
	memcpy(&rawlen, rec + off + 24, 4);
	if (rawlen > len - SAMPLE_FIXED || rawlen < 8)
		return -1;
	raw = rec + SAMPLE_FIXED;
	/* common_type sits at the same place in every format. */
	if (d->n == 0 || tp_get_u64(d->v[0].common_type, raw, rawlen,
	    &type) == -1)
		return -1;
	if ((af = find_format(d, (uint32_t)type)) == NULL) {
		d->stats.unknown_event++;
		return 0;
	}
	if (rawlen < af->fmt.min_size ||
	    tp_get_u64(af->common_flags, raw, rawlen, &flags) == -1)
		return -1;
	memset(ev, 0, sizeof(*ev));
	ev->time = time;
	ev->cpu = (uint16_t)(cpu < MSG_MAX_CPUS ? cpu : 0);
	ev->pid = pid;
	ev->tid = tid;
	/* PERF_SAMPLE_CGROUP, when the probe asked for it: the last field. */
	tail = raw + rawlen;
	taillen = len - SAMPLE_FIXED - rawlen;
	if (d->sample_cgroup) {
		if (taillen < 8)
			return -1;
		memcpy(&ev->cgroup, rec + len - 8, 8);
		taillen -= 8;
	}
	/*
	 * PERF_SAMPLE_REGS_USER (u64 abi, and the stack pointer unless the
	 * abi is none) and PERF_SAMPLE_STACK_USER (u64 size, the bytes,
	 * and u64 dyn_size, how many of them are the stack's, when size
	 * is not 0).
	 */
	if (af->stack_user != 0) {
		uint64_t abi, size, dyn;
		size_t o = 8;

		if (taillen < 16)
			return -1;
		memcpy(&abi, tail, 8);
		if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
			memcpy(&us.sp, tail + 8, 8);
			o += 8;
		}
		if (taillen < o + 8)
			return -1;
		memcpy(&size, tail + o, 8);
		o += 8;
		if (size != 0) {
			if (size > taillen - o || taillen - o - size < 8)
				return -1;
			memcpy(&dyn, tail + o + size, 8);
			us.data = tail + o;
			us.len = dyn < size ? (size_t)dyn : (size_t)size;
			if (abi != PERF_SAMPLE_REGS_ABI_NONE)
				u = &us;
		}
	}
	ev->proc_ctx = (flags & (TRACE_FLAG_HARDIRQ | TRACE_FLAG_SOFTIRQ)) == 0
	    && pid != 0;
	d->stats.samples++;
	switch (af->handler) {
	case H_SET_STATE:
		return decode_set_state(af, raw, rawlen, ev);
	case H_DESTROY:
		return decode_destroy(af, raw, rawlen, ev);
	case H_SEND:
	case H_RECV:
		return decode_io(af, raw, rawlen, ev);
	case H_FIB4:
	case H_FIB6:
		return decode_fib(af, raw, rawlen, ev);
	case H_KCALL_SEND:
	case H_KCALL_RECV:
	case H_KRET_SEND:
	case H_KRET_RECV:
		return decode_kcall(af, raw, rawlen, ev);
	case H_KPKT4:
	case H_KPKT6:
		return decode_kpkt(d, af, raw, rawlen, ev);
	case H_EXEC:
		return decode_exec(d, af, raw, rawlen, u, ev);
	case H_SETID:
	case H_SETID_CALL:
		return decode_setid(af, raw, rawlen, ev);
	case H_KCREDS:
		return decode_creds(af, raw, rawlen, ev);
	case H_KARGS:
		return decode_args(d, af, raw, rawlen, ev);
	}
	return -1;
}

/* The sample_id trailer's time of a side-band record. */
static uint64_t
trailer_time(const uint8_t *rec, size_t len)
{
	uint64_t t;

	memcpy(&t, rec + len - TRAILER_LEN + 8, 8);
	return t;
}

static int
decode_comm(const uint8_t *rec, size_t len, uint16_t misc,
    struct agg_event *ev)
{
	size_t hdr = sizeof(struct perf_event_header);
	const char *c;
	size_t clen, maxlen;
	uint32_t pid, tid;

	if (len < hdr + 8 + 8 + TRAILER_LEN)
		return -1;
	memcpy(&pid, rec + hdr, 4);
	memcpy(&tid, rec + hdr + 4, 4);
	c = (const char *)rec + hdr + 8;
	maxlen = len - hdr - 8 - TRAILER_LEN;
	clen = strnlen(c, maxlen);
	if (clen == maxlen || clen > MSG_COMM_LEN)
		return -1;
	/* A thread renaming itself is not a process event. */
	if (pid != tid || pid == 0)
		return 0;
	memset(ev, 0, sizeof(*ev));
	ev->kind = AEV_COMM;
	ev->time = trailer_time(rec, len);
	ev->u.proc.pid = pid;
	ev->u.proc.exec = (misc & PERF_RECORD_MISC_COMM_EXEC) != 0;
	memcpy(ev->u.proc.comm, c, clen);
	ev->u.proc.comm[clen] = '\0';
	return 1;
}

static int
decode_task(const uint8_t *rec, size_t len, int kind, struct agg_event *ev)
{
	size_t hdr = sizeof(struct perf_event_header);
	uint32_t pid, ppid, tid;
	uint64_t time;

	if (len != hdr + 16 + 8 + TRAILER_LEN)
		return -1;
	memcpy(&pid, rec + hdr, 4);
	memcpy(&ppid, rec + hdr + 4, 4);
	memcpy(&tid, rec + hdr + 8, 4);
	memcpy(&time, rec + hdr + 16, 8);
	/*
	 * Threads are not processes; only a thread's exit is of use (it
	 * ends any call it was inside, for the kprobe backend's pairing).
	 */
	if (pid == 0 || (pid != tid && kind != AEV_EXIT))
		return 0;
	memset(ev, 0, sizeof(*ev));
	ev->kind = (uint8_t)kind;
	ev->time = time;
	ev->tid = tid;
	ev->u.proc.pid = pid;
	ev->u.proc.ppid = ppid;
	ev->u.proc.thread = pid != tid;
	return 1;
}

/*
 * PERF_RECORD_NAMESPACES: a task's namespaces after a fork, unshare or
 * setns; the network namespace is the first of them.
 */
static int
decode_namespaces(const uint8_t *rec, size_t len, struct agg_event *ev)
{
	size_t hdr = sizeof(struct perf_event_header);
	uint32_t pid, tid;
	uint64_t nr, ino;

	if (len < hdr + 16 + TRAILER_LEN)
		return -1;
	memcpy(&pid, rec + hdr, 4);
	memcpy(&tid, rec + hdr + 4, 4);
	memcpy(&nr, rec + hdr + 8, 8);
	if (nr == 0 || nr > 64 || len != hdr + 16 + nr * 16 + TRAILER_LEN)
		return -1;
	memcpy(&ino, rec + hdr + 16 + 8, 8);
	if (pid == 0 || ino == 0 || ino > UINT32_MAX)
		return 0;
	memset(ev, 0, sizeof(*ev));
	ev->kind = AEV_NETNS;
	ev->time = trailer_time(rec, len);
	ev->pid = pid;
	ev->tid = tid;
	ev->u.netns.ino = (uint32_t)ino;
	return 1;
}

/*
 * PERF_RECORD_CGROUP: a new cgroup's id and path. Not put in time order:
 * a cgroup is made before anything runs in it, and only flow reports,
 * later, need its path. Bytes that are not printable (any name that may
 * be given to a directory) are shown as '?'.
 */
static int
decode_cgroup(struct agg_decoder *d, const uint8_t *rec, size_t len)
{
	size_t hdr = sizeof(struct perf_event_header), plen, max, i;
	struct msg_cgroup c;
	const char *p;

	if (len < hdr + 8 + 1 + TRAILER_LEN)
		return -1;
	memcpy(&c.id, rec + hdr, 8);
	p = (const char *)rec + hdr + 8;
	max = len - hdr - 8 - TRAILER_LEN;
	if ((plen = strnlen(p, max)) == max || plen == 0 || p[0] != '/')
		return -1;
	if (c.id == 0 || d->cgroup_cb == NULL)
		return 0;
	if (plen > MSG_CGROUP_PATH_LEN) {
		d->stats.cgroup_paths_long++;
		return 0;
	}
	for (i = 0; i < plen; i++)
		c.path[i] = p[i] < 0x20 || p[i] >= 0x7f ? '?' : p[i];
	c.path[plen] = '\0';
	d->cgroup_cb(&c, d->cgroup_arg);
	return 0;
}

static int
decode_lost(const uint8_t *rec, size_t len, struct agg_event *ev)
{
	size_t hdr = sizeof(struct perf_event_header);

	if (len != hdr + 16 + TRAILER_LEN)
		return -1;
	memset(ev, 0, sizeof(*ev));
	ev->kind = AEV_LOST;
	memcpy(&ev->u.lost.lost, rec + hdr + 8, 8);
	ev->time = trailer_time(rec, len);
	return 1;
}

int
agg_decode_record(struct agg_decoder *d, const uint8_t *rec, size_t len,
    struct agg_event *ev)
{
	struct perf_event_header h;
	int rv;

	d->stats.records++;
	if (len < sizeof(h)) {
		d->stats.bad_records++;
		return -1;
	}
	memcpy(&h, rec, sizeof(h));
	if (h.size != len) {
		d->stats.bad_records++;
		return -1;
	}
	switch (h.type) {
	case PERF_RECORD_SAMPLE:
		rv = decode_sample(d, rec, len, ev);
		break;
	case PERF_RECORD_COMM:
		rv = decode_comm(rec, len, h.misc, ev);
		break;
	case PERF_RECORD_FORK:
		rv = decode_task(rec, len, AEV_FORK, ev);
		break;
	case PERF_RECORD_EXIT:
		rv = decode_task(rec, len, AEV_EXIT, ev);
		break;
	case PERF_RECORD_LOST:
		rv = decode_lost(rec, len, ev);
		break;
	case PERF_RECORD_NAMESPACES:
		rv = decode_namespaces(rec, len, ev);
		break;
	case PERF_RECORD_CGROUP:
		rv = decode_cgroup(d, rec, len);
		break;
	default:
		d->stats.ignored++;
		return 0;
	}
	if (rv == -1)
		d->stats.bad_records++;
	if (rv == 1)
		ev->seq = ++d->seq;
	return rv;
}

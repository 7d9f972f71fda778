/*
 * The socket table: kernel struct sock address -> what is known of the
 * connection. Fed by time-ordered events; emits one flow record when a
 * TCP socket reaches TCP_CLOSE, and forwards process events.
 *
 * Attribution: the sample pid of a tracepoint is only the socket's owner
 * when the sample was taken in process context (connect(), close(), and
 * the like). Softirq samples carry whatever task was running and are never
 * used for the pid.
 *
 * A socket address is reused by the kernel within seconds, so an entry is
 * removed at TCP_CLOSE and a new connection on the same address starts a
 * new entry with the next generation number.
 *
 * The table has a fixed capacity; a socket that does not fit is counted
 * (table_full) and not followed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agg.h"
#include "log.h"

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
#define TCP_ESTABLISHED	1
#define TCP_SYN_SENT	2
#define TCP_SYN_RECV	3
#define TCP_CLOSE	7

struct agg_sock {
	struct agg_sock	*next;
	uint64_t	 sk;
	uint32_t	 gen;
	uint8_t		 family;
	uint8_t		 state;
	uint8_t		 direction;
	bool		 have_tuple;
	bool		 saw_start;
	uint8_t		 lip[16], rip[16];
	uint16_t	 lport, rport;
	uint32_t	 pid;
	uint64_t	 start;
	uint64_t	 last;
};

struct agg_flows {
	struct agg_sock		**buckets;
	size_t			 nbuckets;
	size_t			 count;
	size_t			 cap;
	uint32_t		 gen;
	agg_flow_cb		 flow_cb;
	agg_proc_cb		 proc_cb;
	void			*arg;
	struct agg_flow_stats	 stats;
};

int64_t
agg_mono_to_wall(uint64_t mono)
{
	struct timespec m, r;
	int64_t off;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	off = ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000000LL +
	    ((int64_t)r.tv_nsec - (int64_t)m.tv_nsec);
	return (int64_t)mono + off;
}

struct agg_flows *
agg_flows_new(size_t cap, agg_flow_cb fcb, agg_proc_cb pcb, void *arg)
{
	struct agg_flows *t;
	size_t nb = 1;

	while (nb < cap)
		nb <<= 1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->buckets = calloc(nb, sizeof(*t->buckets))) == NULL) {
		free(t);
		return NULL;
	}
	t->nbuckets = nb;
	t->cap = cap;
	t->flow_cb = fcb;
	t->proc_cb = pcb;
	t->arg = arg;
	return t;
}

void
agg_flows_free(struct agg_flows *t)
{
	struct agg_sock *s, *n;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++)
		for (s = t->buckets[i]; s != NULL; s = n) {
			n = s->next;
			free(s);
		}
	free(t->buckets);
	free(t);
}

const struct agg_flow_stats *
agg_flows_stats(const struct agg_flows *t)
{
	return &t->stats;
}

static size_t
bucket_of(const struct agg_flows *t, uint64_t sk)
{
	/* Slab addresses share low bits; mix before masking. */
	uint64_t h = (sk >> 4) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (t->nbuckets - 1);
}

static struct agg_sock *
sock_find(struct agg_flows *t, uint64_t sk)
{
	struct agg_sock *s;

	for (s = t->buckets[bucket_of(t, sk)]; s != NULL; s = s->next)
		if (s->sk == sk)
			return s;
	return NULL;
}

static struct agg_sock *
sock_new(struct agg_flows *t, uint64_t sk, uint64_t time)
{
	struct agg_sock *s;
	size_t b;

	if (t->count >= t->cap || (s = calloc(1, sizeof(*s))) == NULL) {
		t->stats.table_full++;
		return NULL;
	}
	b = bucket_of(t, sk);
	s->sk = sk;
	s->gen = ++t->gen;
	s->start = time;
	s->last = time;
	s->next = t->buckets[b];
	t->buckets[b] = s;
	t->count++;
	t->stats.socks++;
	return s;
}

static void
sock_remove(struct agg_flows *t, struct agg_sock *s)
{
	struct agg_sock **pp;

	for (pp = &t->buckets[bucket_of(t, s->sk)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			t->count--;
			free(s);
			return;
		}
}

static void
emit_flow(struct agg_flows *t, const struct agg_sock *s, uint64_t end,
    bool final)
{
	struct msg_flow f;
	size_t iplen = s->family == 4 ? 4 : 16;
	int64_t off;

	memset(&f, 0, sizeof(f));
	f.sock = s->sk;
	f.family = s->family;
	f.transport = 6;
	f.direction = s->direction;
	memcpy(f.local.ip, s->lip, iplen);
	memcpy(f.remote.ip, s->rip, iplen);
	f.local.port = s->lport;
	f.remote.port = s->rport;
	f.pid = s->pid;
	/* One offset for both ends, so the duration is exact. */
	off = agg_mono_to_wall(0);
	f.start_ns = (int64_t)s->start + off;
	f.end_ns = (int64_t)end + off;
	if (f.end_ns < f.start_ns)
		f.end_ns = f.start_ns;
	f.final = final;
	/* Complete: seen from its first state change, with its tuple. */
	f.complete = s->saw_start && s->have_tuple;
	f.tcp_state = s->state;
	t->stats.flows++;
	t->flow_cb(&f, t->arg);
}

static void
on_set_state(struct agg_flows *t, const struct agg_event *ev)
{
	struct agg_sock *s;
	int olds = ev->u.st.oldstate, news = ev->u.st.newstate;
	bool opening = news == TCP_SYN_SENT ||
	    (olds == TCP_SYN_RECV && news == TCP_ESTABLISHED);

	s = sock_find(t, ev->u.st.sk);
	if (s != NULL && opening) {
		/*
		 * The address was reused without our seeing the old socket
		 * close (a lost sample): report what we had, start anew.
		 */
		emit_flow(t, s, s->last, false);
		sock_remove(t, s);
		s = NULL;
	}
	if (s == NULL) {
		/* A socket closing that we never saw open is of no use. */
		if (news == TCP_CLOSE && !opening)
			return;
		if ((s = sock_new(t, ev->u.st.sk, ev->time)) == NULL)
			return;
		if (news == TCP_SYN_SENT) {
			s->direction = FLOW_DIR_OUTBOUND;
			s->saw_start = true;
		} else if (olds == TCP_SYN_RECV) {
			s->direction = FLOW_DIR_INBOUND;
			s->saw_start = true;
		} else
			s->direction = FLOW_DIR_UNKNOWN;
	}
	s->last = ev->time;
	s->state = (uint8_t)news;
	/* The tuple is whole once both ports are set (not at SYN_SENT). */
	if (ev->u.st.sport != 0 && ev->u.st.dport != 0 &&
	    (!s->have_tuple || news == TCP_ESTABLISHED)) {
		size_t iplen = ev->u.st.family == 4 ? 4 : 16;

		s->family = ev->u.st.family;
		memset(s->lip, 0, sizeof(s->lip));
		memset(s->rip, 0, sizeof(s->rip));
		memcpy(s->lip, ev->u.st.saddr, iplen);
		memcpy(s->rip, ev->u.st.daddr, iplen);
		s->lport = ev->u.st.sport;
		s->rport = ev->u.st.dport;
		s->have_tuple = true;
	} else if (!s->have_tuple && s->family == 0) {
		/* SYN_SENT: remote known, local port not yet. */
		size_t iplen = ev->u.st.family == 4 ? 4 : 16;

		s->family = ev->u.st.family;
		memcpy(s->lip, ev->u.st.saddr, iplen);
		memcpy(s->rip, ev->u.st.daddr, iplen);
		s->lport = ev->u.st.sport;
		s->rport = ev->u.st.dport;
	}
	if (ev->proc_ctx && s->pid == 0)
		s->pid = ev->pid;
	if (news == TCP_CLOSE) {
		if (s->family != 0)
			emit_flow(t, s, ev->time, true);
		sock_remove(t, s);
	}
}

static void
on_process(struct agg_flows *t, const struct agg_event *ev)
{
	struct msg_process p;

	memset(&p, 0, sizeof(p));
	switch (ev->kind) {
	case AEV_COMM:
		p.kind = PROC_EV_EXEC;
		memcpy(p.comm, ev->u.proc.comm, sizeof(p.comm));
		break;
	case AEV_FORK:
		p.kind = PROC_EV_FORK;
		p.ppid = ev->u.proc.ppid;
		break;
	default:
		p.kind = PROC_EV_EXIT;
		p.ppid = ev->u.proc.ppid;
		break;
	}
	p.pid = ev->u.proc.pid;
	p.time_ns = agg_mono_to_wall(ev->time);
	t->proc_cb(&p, t->arg);
}

void
agg_flows_event(struct agg_flows *t, const struct agg_event *ev)
{
	switch (ev->kind) {
	case AEV_SET_STATE:
		on_set_state(t, ev);
		break;
	case AEV_COMM:
	case AEV_FORK:
	case AEV_EXIT:
		on_process(t, ev);
		break;
	case AEV_LOST:
		t->stats.lost_samples += ev->u.lost.lost;
		break;
	}
}

void
agg_flows_flush(struct agg_flows *t, uint64_t now)
{
	struct agg_sock *s, *n;
	size_t i;

	for (i = 0; i < t->nbuckets; i++) {
		for (s = t->buckets[i]; s != NULL; s = n) {
			n = s->next;
			if (s->family != 0)
				emit_flow(t, s, now, false);
			free(s);
		}
		t->buckets[i] = NULL;
	}
	t->count = 0;
}

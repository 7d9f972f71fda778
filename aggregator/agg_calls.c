/*
 * The kprobe backend sees a send or a receive twice: at the function's
 * entry (the socket, its family and protocol, the receive flags) and at
 * its return (how many bytes moved). This pairs them by thread, in time
 * order (the reorder buffer runs first, so an entry on one CPU and a
 * return on another after a migration still meet), and makes of each
 * pair the one send or receive event the tracepoint backend would have
 * given. Calls nest (an IPv6 UDP socket sending to a v4-mapped address
 * enters udpv6_sendmsg, then udp_sendmsg): only the outermost return
 * counts, so that bytes are counted once.
 *
 * The table is bounded; a thread that exits inside a call (killed in a
 * blocking receive) has its entry removed at its exit record. What does
 * not fit, every return without its entry (an entry dropped) and every
 * entry whose return never came (a return probe out of instances, seen
 * when the thread enters its next call) are counted, never guessed at.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agg.h"

#define CALLS_CAP	8192		/* threads inside a call at once */
#define CALLS_DEPTH	4

struct call_frame {
	uint64_t	sk;
	uint8_t		proto;
	uint8_t		family;
	uint8_t		dir;
	bool		peek;
};

struct call_slot {
	uint32_t		tid;		/* 0: empty */
	uint8_t			depth;
	struct call_frame	f[CALLS_DEPTH];
};

struct agg_calls {
	struct call_slot	 slot[CALLS_CAP];
	size_t			 n;
	struct agg_calls_stats	 stats;
};

struct agg_calls *
agg_calls_new(void)
{
	return calloc(1, sizeof(struct agg_calls));
}

void
agg_calls_free(struct agg_calls *c)
{
	free(c);
}

const struct agg_calls_stats *
agg_calls_stats(const struct agg_calls *c)
{
	return &c->stats;
}

static size_t
hash_tid(uint32_t tid)
{
	return (size_t)((tid * 2654435761u) % CALLS_CAP);
}

/* The slot of tid, or the empty one where it would go (NULL: full). */
static struct call_slot *
lookup(struct agg_calls *c, uint32_t tid, int insert)
{
	size_t i, h = hash_tid(tid);

	for (i = 0; i < CALLS_CAP; i++) {
		struct call_slot *s = &c->slot[(h + i) % CALLS_CAP];

		if (s->tid == tid)
			return s;
		if (s->tid == 0)
			return insert ? s : NULL;
	}
	return NULL;
}

/* Remove a slot, moving later members of its run back (linear probing). */
static void
remove_slot(struct agg_calls *c, struct call_slot *s)
{
	size_t i = (size_t)(s - c->slot), j = i, k;

	memset(&c->slot[i], 0, sizeof(c->slot[i]));
	c->n--;
	for (;;) {
		j = (j + 1) % CALLS_CAP;
		if (c->slot[j].tid == 0)
			return;
		k = hash_tid(c->slot[j].tid);
		/* Leave it if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		c->slot[i] = c->slot[j];
		memset(&c->slot[j], 0, sizeof(c->slot[j]));
		i = j;
	}
}

void
agg_calls_enter(struct agg_calls *c, const struct agg_event *ev)
{
	struct call_slot *s;
	struct call_frame *f;

	if (ev->tid == 0)
		return;
	if ((s = lookup(c, ev->tid, 1)) == NULL || (s->tid == 0 &&
	    c->n >= CALLS_CAP * 3 / 4)) {
		c->stats.table_full++;
		return;
	}
	if (s->tid == 0) {
		s->tid = ev->tid;
		s->depth = 0;
		c->n++;
	}
	/*
	 * The only nesting there is: an IPv6 UDP socket's send to a
	 * v4-mapped address, udpv6_sendmsg calling udp_sendmsg on the same
	 * socket. Any other call entered while one is open means the open
	 * one's return was lost (a return probe out of instances, a sample
	 * dropped): it is given up and counted, or every later call of the
	 * thread would look nested and go uncounted.
	 */
	if (s->depth > 0 && !(ev->u.call.dir == CALL_SEND &&
	    s->f[s->depth - 1].dir == CALL_SEND &&
	    s->f[s->depth - 1].sk == ev->u.call.sk &&
	    ev->u.call.proto == 17)) {
		c->stats.returns_lost += s->depth;
		s->depth = 0;
	}
	if (s->depth == CALLS_DEPTH) {
		c->stats.too_deep++;
		return;
	}
	f = &s->f[s->depth++];
	f->sk = ev->u.call.sk;
	f->proto = ev->u.call.proto;
	f->family = ev->u.call.family;
	f->dir = ev->u.call.dir;
	f->peek = ev->u.call.peek;
	c->stats.entries++;
}

int
agg_calls_return(struct agg_calls *c, const struct agg_event *ev,
    struct agg_event *out)
{
	struct call_slot *s;
	struct call_frame f;

	c->stats.returns++;
	if (ev->tid == 0 || (s = lookup(c, ev->tid, 0)) == NULL ||
	    s->depth == 0) {
		c->stats.unmatched++;
		return 0;
	}
	f = s->f[--s->depth];
	if (f.dir != ev->u.ret.dir) {
		/* A lost entry or return between: this pair is not one. */
		c->stats.mismatched++;
		if (s->depth == 0)
			remove_slot(c, s);
		return 0;
	}
	if (s->depth != 0)
		return 0;		/* an inner call: the outer one counts */
	remove_slot(c, s);
	if (ev->u.ret.ret <= 0 || ev->u.ret.ret > UINT32_MAX || f.peek ||
	    (f.proto != 6 && f.proto != 17) ||
	    (f.family != 4 && f.family != 6))
		return 0;
	*out = *ev;
	out->kind = f.dir == CALL_SEND ? AEV_SEND : AEV_RECV;
	memset(&out->u, 0, sizeof(out->u));
	out->u.io.sk = f.sk;
	out->u.io.bytes = (uint32_t)ev->u.ret.ret;
	out->u.io.proto = f.proto;
	out->u.io.family = f.family;
	c->stats.paired++;
	return 1;
}

void
agg_calls_exit(struct agg_calls *c, uint32_t tid)
{
	struct call_slot *s;

	if (tid != 0 && (s = lookup(c, tid, 0)) != NULL) {
		c->stats.abandoned += s->depth;
		remove_slot(c, s);
	}
}

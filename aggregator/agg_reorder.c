/*
 * Reordering across CPUs. Each perf ring is in time order (but for a
 * sample that an interrupt overtook between taking its time and writing
 * it), and rings are drained one after another, so a socket's events from
 * two CPUs can arrive out of order. Events wait in one sorted queue per
 * CPU; the oldest head of all queues goes first. Appending is O(1) (an
 * event older than its queue's tail is moved back into place, which in
 * practice is a step or two), and taking the oldest costs a look at each
 * CPU's head, so the cost per event does not grow with how many wait.
 *
 * Events are released once they are older than the horizon the caller
 * chooses. An event older than one already released is "late": it is
 * counted and handled at once, never dropped. When the queues together
 * hold their capacity the oldest event is released early and counted.
 */
#include "config.h"

#include <stdlib.h>

#include "agg.h"

/* One CPU's waiting events: slab slots in a ring, sorted by (time, seq). */
struct cpuq {
	uint32_t	*slot;
	size_t		 head, len, cap;
};

struct agg_reorder {
	struct agg_event	*slab;
	uint32_t		*free;		/* free slab slots, a stack */
	size_t			 nfree;
	struct cpuq		*q;		/* MSG_MAX_CPUS, made on use */
	uint16_t		*active;	/* CPUs whose queue is not empty */
	size_t			 nactive;
	size_t			 len;
	size_t			 cap;
	agg_event_cb		 cb;
	void			*arg;
	uint64_t		 released_time;
	uint64_t		 late;
	uint64_t		 forced;
};

struct agg_reorder *
agg_reorder_new(size_t cap, agg_event_cb cb, void *arg)
{
	struct agg_reorder *r;
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->slab = calloc(cap, sizeof(*r->slab));
	r->free = calloc(cap, sizeof(*r->free));
	r->q = calloc(MSG_MAX_CPUS, sizeof(*r->q));
	r->active = calloc(MSG_MAX_CPUS, sizeof(*r->active));
	if (r->slab == NULL || r->free == NULL || r->q == NULL ||
	    r->active == NULL) {
		agg_reorder_free(r);
		return NULL;
	}
	for (i = 0; i < cap; i++)
		r->free[i] = (uint32_t)(cap - 1 - i);
	r->nfree = cap;
	r->cap = cap;
	r->cb = cb;
	r->arg = arg;
	return r;
}

void
agg_reorder_free(struct agg_reorder *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->q != NULL)
		for (i = 0; i < MSG_MAX_CPUS; i++)
			free(r->q[i].slot);
	free(r->q);
	free(r->active);
	free(r->slab);
	free(r->free);
	free(r);
}

static int
before(const struct agg_event *a, const struct agg_event *b)
{
	if (a->time != b->time)
		return a->time < b->time;
	return a->seq < b->seq;
}

#define QAT(q, i)	((q)->slot[((q)->head + (i)) % (q)->cap])

/* Make room for one more; a queue grows to the capacity of the whole. */
static int
q_grow(struct cpuq *q, size_t max)
{
	uint32_t *n;
	size_t i, ncap;

	if (q->len < q->cap)
		return 0;
	ncap = q->cap == 0 ? 64 : q->cap * 2;
	if (ncap > max)
		ncap = max;
	if (ncap <= q->cap || (n = calloc(ncap, sizeof(*n))) == NULL)
		return -1;
	for (i = 0; i < q->len; i++)
		n[i] = QAT(q, i);
	free(q->slot);
	q->slot = n;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

/* The CPU whose head is oldest; the reorder must not be empty. */
static size_t
oldest(const struct agg_reorder *r, size_t *ai)
{
	size_t i, best = r->active[0];

	*ai = 0;
	for (i = 1; i < r->nactive; i++) {
		size_t c = r->active[i];

		if (before(&r->slab[QAT(&r->q[c], 0)],
		    &r->slab[QAT(&r->q[best], 0)])) {
			best = c;
			*ai = i;
		}
	}
	return best;
}

/* Take the head of CPU c (at ai in the active list) out into *out. */
static void
pop_at(struct agg_reorder *r, size_t c, size_t ai, struct agg_event *out)
{
	struct cpuq *q = &r->q[c];
	uint32_t slot = QAT(q, 0);

	*out = r->slab[slot];
	r->free[r->nfree++] = slot;
	q->head = (q->head + 1) % q->cap;
	q->len--;
	r->len--;
	if (q->len == 0)
		r->active[ai] = r->active[--r->nactive];
}

static void
pop_min(struct agg_reorder *r, struct agg_event *out)
{
	size_t ai, c = oldest(r, &ai);

	pop_at(r, c, ai, out);
}

static void
emit(struct agg_reorder *r, const struct agg_event *ev)
{
	if (ev->time > r->released_time)
		r->released_time = ev->time;
	r->cb(ev, r->arg);
}

void
agg_reorder_push(struct agg_reorder *r, struct agg_event *ev)
{
	struct cpuq *q = &r->q[ev->cpu < MSG_MAX_CPUS ? ev->cpu : 0];
	uint32_t slot;
	size_t i;

	if (ev->time < r->released_time) {
		r->late++;
		r->cb(ev, r->arg);
		return;
	}
	if (r->len == r->cap || q_grow(q, r->cap) == -1) {
		struct agg_event old;

		if (r->len == 0) {
			/* No memory for a queue: handled now, counted. */
			r->forced++;
			emit(r, ev);
			return;
		}
		pop_min(r, &old);
		r->forced++;
		emit(r, &old);
		if (ev->time < r->released_time) {
			r->late++;
			r->cb(ev, r->arg);
			return;
		}
		if (q_grow(q, r->cap) == -1) {
			r->forced++;
			emit(r, ev);
			return;
		}
	}
	slot = r->free[--r->nfree];
	r->slab[slot] = *ev;
	if (q->len == 0)
		r->active[r->nactive++] = (uint16_t)(q - r->q);
	/* Sorted insert from the tail: usually no step at all. */
	for (i = q->len; i > 0 && before(ev, &r->slab[QAT(q, i - 1)]); i--)
		QAT(q, i) = QAT(q, i - 1);
	QAT(q, i) = slot;
	q->len++;
	r->len++;
}

void
agg_reorder_release(struct agg_reorder *r, uint64_t upto)
{
	struct agg_event ev;
	size_t ai, c;

	while (r->len > 0) {
		c = oldest(r, &ai);
		if (r->slab[QAT(&r->q[c], 0)].time > upto)
			break;
		pop_at(r, c, ai, &ev);
		emit(r, &ev);
	}
}

size_t
agg_reorder_len(const struct agg_reorder *r)
{
	return r->len;
}

uint64_t
agg_reorder_late(const struct agg_reorder *r)
{
	return r->late;
}

uint64_t
agg_reorder_forced(const struct agg_reorder *r)
{
	return r->forced;
}

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

static void	emit(struct agg_reorder *, const struct agg_event *);

static int
before(const struct agg_event *a, const struct agg_event *b)
{
	if (a->time != b->time)
		return a->time < b->time;
	return a->seq < b->seq;
}

/* The i-th waiting slot of q; cap need not be a power of two. */
static inline uint32_t *
qat(const struct cpuq *q, size_t i)
{
	size_t k = q->head + i;

	return &q->slot[k >= q->cap ? k - q->cap : k];
}

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
		n[i] = *qat(q, i);
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
	const struct agg_event *b = &r->slab[*qat(&r->q[best], 0)];

	*ai = 0;
	for (i = 1; i < r->nactive; i++) {
		size_t c = r->active[i];
		const struct agg_event *e = &r->slab[*qat(&r->q[c], 0)];

		if (before(e, b)) {
			best = c;
			b = e;
			*ai = i;
		}
	}
	return best;
}

/*
 * Hand the head of CPU c (at ai in the active list) to the callback, in
 * place, and free its slot afterwards.
 */
static void
emit_head(struct agg_reorder *r, size_t c, size_t ai)
{
	struct cpuq *q = &r->q[c];
	uint32_t slot = *qat(q, 0);

	q->head = q->head + 1 == q->cap ? 0 : q->head + 1;
	q->len--;
	r->len--;
	if (q->len == 0)
		r->active[ai] = r->active[--r->nactive];
	emit(r, &r->slab[slot]);
	r->free[r->nfree++] = slot;
}

static void
emit(struct agg_reorder *r, const struct agg_event *ev)
{
	if (ev->time > r->released_time)
		r->released_time = ev->time;
	r->cb(ev, r->arg);
}

/* The oldest waiting event goes early, counted, to make room. */
static void
force_oldest(struct agg_reorder *r)
{
	size_t ai, c = oldest(r, &ai);

	r->forced++;
	emit_head(r, c, ai);
}

struct agg_event *
agg_reorder_slot(struct agg_reorder *r)
{
	if (r->nfree == 0)
		force_oldest(r);
	return &r->slab[r->free[r->nfree - 1]];
}

/* An event handled at once (late, or forced) leaves its slot free. */
static void
handle_now(struct agg_reorder *r, uint32_t slot, uint64_t *counter, int order)
{
	(*counter)++;
	if (order)
		emit(r, &r->slab[slot]);
	else
		r->cb(&r->slab[slot], r->arg);
	r->free[r->nfree++] = slot;
}

void
agg_reorder_commit(struct agg_reorder *r)
{
	uint32_t slot = r->free[--r->nfree];
	struct agg_event *ev = &r->slab[slot];
	struct cpuq *q = &r->q[ev->cpu < MSG_MAX_CPUS ? ev->cpu : 0];
	size_t i;

	if (ev->time < r->released_time) {
		handle_now(r, slot, &r->late, 0);
		return;
	}
	if (q_grow(q, r->cap) == -1) {
		/*
		 * This CPU's queue cannot grow (no memory, or it holds the
		 * whole capacity): the oldest goes early, or, if nothing
		 * waits, this event does.
		 */
		if (r->len == 0) {
			handle_now(r, slot, &r->forced, 1);
			return;
		}
		force_oldest(r);
		if (ev->time < r->released_time) {
			handle_now(r, slot, &r->late, 0);
			return;
		}
		if (q_grow(q, r->cap) == -1) {
			handle_now(r, slot, &r->forced, 1);
			return;
		}
	}
	if (q->len == 0)
		r->active[r->nactive++] = (uint16_t)(q - r->q);
	/* Sorted insert from the tail: usually no step at all. */
	for (i = q->len; i > 0 && before(ev, &r->slab[*qat(q, i - 1)]); i--)
		*qat(q, i) = *qat(q, i - 1);
	*qat(q, i) = slot;
	q->len++;
	r->len++;
}

void
agg_reorder_push(struct agg_reorder *r, const struct agg_event *ev)
{
	*agg_reorder_slot(r) = *ev;
	agg_reorder_commit(r);
}

void
agg_reorder_release(struct agg_reorder *r, uint64_t upto)
{
	size_t ai, c;

	while (r->len > 0) {
		c = oldest(r, &ai);
		if (r->slab[*qat(&r->q[c], 0)].time > upto)
			break;
		emit_head(r, c, ai);
	}
}

void
agg_reorder_foreach(const struct agg_reorder *r,
    void (*fn)(const struct agg_event *, void *), void *arg)
{
	const struct cpuq *c;
	size_t i, j;

	for (i = 0; i < r->nactive; i++) {
		c = &r->q[r->active[i]];
		for (j = 0; j < c->len; j++)
			fn(&r->slab[c->slot[(c->head + j) % c->cap]], arg);
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

/*
 * Reordering across CPUs. Each perf ring is in time order, but rings are
 * drained one after another, so a socket's events from two CPUs can arrive
 * out of order. Events wait in a bounded min-heap ordered by (time,
 * arrival) and are released once they are older than the horizon the
 * caller chooses. An event older than one already released is "late": it
 * is counted and handled at once, never dropped. When the heap is full the
 * oldest event is released early and counted.
 */
#include "config.h"

#include <stdlib.h>

#include "agg.h"

struct agg_reorder {
	struct agg_event	*heap;
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

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->heap = calloc(cap, sizeof(*r->heap))) == NULL) {
		free(r);
		return NULL;
	}
	r->cap = cap;
	r->cb = cb;
	r->arg = arg;
	return r;
}

void
agg_reorder_free(struct agg_reorder *r)
{
	if (r == NULL)
		return;
	free(r->heap);
	free(r);
}

static int
before(const struct agg_event *a, const struct agg_event *b)
{
	if (a->time != b->time)
		return a->time < b->time;
	return a->seq < b->seq;
}

static void
swap(struct agg_event *a, struct agg_event *b)
{
	struct agg_event t = *a;

	*a = *b;
	*b = t;
}

static void
pop_min(struct agg_reorder *r, struct agg_event *out)
{
	size_t i = 0;

	*out = r->heap[0];
	r->heap[0] = r->heap[--r->len];
	for (;;) {
		size_t l = 2 * i + 1, rr = l + 1, m = i;

		if (l < r->len && before(&r->heap[l], &r->heap[m]))
			m = l;
		if (rr < r->len && before(&r->heap[rr], &r->heap[m]))
			m = rr;
		if (m == i)
			break;
		swap(&r->heap[i], &r->heap[m]);
		i = m;
	}
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
	size_t i;

	if (ev->time < r->released_time) {
		r->late++;
		r->cb(ev, r->arg);
		return;
	}
	if (r->len == r->cap) {
		struct agg_event old;

		pop_min(r, &old);
		r->forced++;
		emit(r, &old);
		if (ev->time < r->released_time) {
			r->late++;
			r->cb(ev, r->arg);
			return;
		}
	}
	i = r->len++;
	r->heap[i] = *ev;
	while (i > 0 && before(&r->heap[i], &r->heap[(i - 1) / 2])) {
		swap(&r->heap[i], &r->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

void
agg_reorder_release(struct agg_reorder *r, uint64_t upto)
{
	struct agg_event ev;

	while (r->len > 0 && r->heap[0].time <= upto) {
		pop_min(r, &ev);
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

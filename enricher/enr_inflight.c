/*
 * The flows in flight: those the aggregator said are open (a notice, a
 * FlowRecord with open set, once a flow has lived a second) and has not
 * sent its last record of yet (final, or gone), each as last told (a
 * notice or an interim report). Should the aggregator's connection end
 * without its clean-stop stats and no hello of the same aggregator come
 * back (it died), each is written as a partial flow instead of being
 * lost with it (enr.c); a clean stop forgets them, as the aggregator
 * reported them all. A chained table by flow id, with a fixed capacity:
 * a notice past it is counted and not kept. The ids come from a peer:
 * they are mixed with a key drawn at start, and a chain grown past
 * CHAIN_MAX (which honest ids do not come near) takes no more, so that
 * ids made to collide cost a bounded walk.
 */
#include "config.h"

#include <sys/random.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enr.h"

#define INFLIGHT_BUCKETS	65536
#define CHAIN_MAX		32

struct inflight {
	struct inflight	*next;
	struct msg_flow	 f;
};

struct enr_inflight {
	struct inflight		*b[INFLIGHT_BUCKETS];
	size_t			 n, cap;
	uint64_t		 key;
	size_t			 depth;		/* of the last slot() walk */
	struct enr_inflight_stats st;
};

struct enr_inflight *
enr_inflight_new(size_t cap)
{
	struct enr_inflight *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cap = cap;
	if (getrandom(&t->key, sizeof(t->key), 0) != sizeof(t->key))
		t->key = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	return t;
}

/* The id mixed with the key (the splitmix64 finaliser). */
static size_t
bucket(const struct enr_inflight *t, uint64_t id)
{
	uint64_t z = id ^ t->key;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (size_t)((z ^ (z >> 31)) % INFLIGHT_BUCKETS);
}

static struct inflight **
slot(struct enr_inflight *t, uint64_t id)
{
	struct inflight **pp;

	t->depth = 0;
	for (pp = &t->b[bucket(t, id)]; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->f.flow_id == id)
			break;
		t->depth++;
	}
	return pp;
}

void
enr_inflight_note(struct enr_inflight *t, const struct msg_flow *f)
{
	struct inflight **pp, *e;

	if (f->flow_id == 0)
		return;
	pp = slot(t, f->flow_id);
	if (f->final || f->gone) {
		/* Its last record: nothing of it is in flight now. */
		if ((e = *pp) != NULL) {
			*pp = e->next;
			free(e);
			t->n--;
		}
		return;
	}
	if ((e = *pp) == NULL) {
		/* An interim report of a flow never announced: not kept. */
		if (!f->open)
			return;
		if (t->n >= t->cap || t->depth >= CHAIN_MAX ||
		    (e = calloc(1, sizeof(*e))) == NULL) {
			t->st.full++;
			return;
		}
		*pp = e;
		t->n++;
		t->st.noted++;
	}
	e->f = *f;
}

void
enr_inflight_drain(struct enr_inflight *t,
    void (*cb)(const struct msg_flow *, void *), void *arg)
{
	struct inflight *e, *n;
	size_t i;

	for (i = 0; i < INFLIGHT_BUCKETS; i++) {
		for (e = t->b[i]; e != NULL; e = n) {
			n = e->next;
			if (cb != NULL) {
				cb(&e->f, arg);
				t->st.orphaned++;
			}
			free(e);
		}
		t->b[i] = NULL;
	}
	t->n = 0;
}

void
enr_inflight_free(struct enr_inflight *t)
{
	if (t == NULL)
		return;
	enr_inflight_drain(t, NULL, NULL);
	free(t);
}

size_t
enr_inflight_count(const struct enr_inflight *t)
{
	return t->n;
}

const struct enr_inflight_stats *
enr_inflight_stats(const struct enr_inflight *t)
{
	return &t->st;
}

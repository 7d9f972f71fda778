/*
 * The flows in flight: those the aggregator said are open (a notice, a
 * FlowRecord with open set, once a flow has lived a second) and has not
 * reported final yet, each as last told (a notice or an interim report).
 * Should the aggregator's connection end without its clean-stop stats
 * (it died), each is written as a partial flow instead of being lost
 * with it; a clean stop forgets them, as the aggregator reported them
 * all. A chained table by flow id, with a fixed capacity: a notice past
 * it is counted and not kept.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "enr.h"
#include "hash.h"

#define INFLIGHT_BUCKETS	65536

struct inflight {
	struct inflight	*next;
	struct msg_flow	 f;
};

struct enr_inflight {
	struct inflight		*b[INFLIGHT_BUCKETS];
	size_t			 n, cap;
	struct enr_inflight_stats st;
};

struct enr_inflight *
enr_inflight_new(size_t cap)
{
	struct enr_inflight *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cap = cap;
	return t;
}

static struct inflight **
slot(struct enr_inflight *t, uint64_t id)
{
	struct inflight **pp;

	for (pp = &t->b[fnv1a(FNV_OFFSET, &id, sizeof(id)) %
	    INFLIGHT_BUCKETS]; *pp != NULL;
	    pp = &(*pp)->next)
		if ((*pp)->f.flow_id == id)
			break;
	return pp;
}

void
enr_inflight_note(struct enr_inflight *t, const struct msg_flow *f)
{
	struct inflight **pp, *e;

	if (f->flow_id == 0)
		return;
	pp = slot(t, f->flow_id);
	if (f->final) {
		/* Reported whole: nothing of it is in flight now. */
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
		if (t->n >= t->cap || (e = calloc(1, sizeof(*e))) == NULL) {
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

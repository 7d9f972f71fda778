/*
 * The network namespace of each task, so that a socket can be given the
 * namespace of the task that first used it, at that time: from the perf
 * NAMESPACES records (one at every fork, clone, unshare and setns, per
 * thread) and, for the processes that ran before sockflow, the probe's
 * list at start (by process; their threads fall back to it).
 *
 * Open addressing with linear probing on the tid; an exited task's entry
 * is taken out by shifting the entries after it back, so lookups never
 * meet tombstones. The table starts small and doubles at three quarters
 * full, up to NETNS_MAX_BITS; beyond that, new tasks are counted and not
 * kept.
 */
#include "config.h"

#include <stdlib.h>

#include "agg.h"

#define NETNS_MIN_BITS	12
#define NETNS_MAX_BITS	20

struct slot {
	uint32_t	 tid;		/* 0: empty */
	uint32_t	 ino;
};

struct agg_netns {
	struct slot	*v;		/* made on first use */
	unsigned	 bits;
	size_t		 n;
	uint64_t	 full;
};

struct agg_netns *
agg_netns_new(void)
{
	return calloc(1, sizeof(struct agg_netns));
}

void
agg_netns_free(struct agg_netns *t)
{
	if (t == NULL)
		return;
	free(t->v);
	free(t);
}

#define SLOTS(t)	((size_t)1 << (t)->bits)

static size_t
home(const struct agg_netns *t, uint32_t tid)
{
	return (size_t)((tid * 2654435761U) >> (32 - t->bits));
}

/*
 * The slot holding tid, or the empty one where it would go: the one probe
 * every operation uses. The table always has an empty slot.
 */
static size_t
slot_of(const struct agg_netns *t, uint32_t tid)
{
	size_t i;

	for (i = home(t, tid); t->v[i].tid != 0 && t->v[i].tid != tid;
	    i = (i + 1) % SLOTS(t))
		;
	return i;
}

/* Twice the slots; 0, or -1 when there is no memory for it. */
static int
grow(struct agg_netns *t)
{
	struct slot *old = t->v;
	size_t i, j, n = old != NULL ? SLOTS(t) : 0;
	unsigned bits = old != NULL ? t->bits + 1 : NETNS_MIN_BITS;

	if ((t->v = calloc((size_t)1 << bits, sizeof(*t->v))) == NULL) {
		t->v = old;
		return -1;
	}
	t->bits = bits;
	for (i = 0; i < n; i++)
		if (old[i].tid != 0) {
			j = slot_of(t, old[i].tid);
			t->v[j] = old[i];
		}
	free(old);
	return 0;
}

void
agg_netns_set(struct agg_netns *t, uint32_t tid, uint32_t ino)
{
	size_t i;

	if (tid == 0 || ino == 0)
		return;
	if (t->v != NULL && t->v[i = slot_of(t, tid)].tid == tid) {
		t->v[i].ino = ino;
		return;
	}
	/* A new task: room for it, at three quarters full at most. */
	if (t->v == NULL || t->n + 1 > SLOTS(t) / 4 * 3) {
		if ((t->v != NULL && t->bits >= NETNS_MAX_BITS) ||
		    grow(t) == -1) {
			t->full++;
			return;
		}
	}
	i = slot_of(t, tid);
	t->v[i].tid = tid;
	t->v[i].ino = ino;
	t->n++;
}

uint32_t
agg_netns_get(const struct agg_netns *t, uint32_t tid)
{
	size_t i;

	if (t->v == NULL || tid == 0 || t->v[i = slot_of(t, tid)].tid != tid)
		return 0;
	return t->v[i].ino;
}

void
agg_netns_forget(struct agg_netns *t, uint32_t tid)
{
	size_t i, j, h;

	if (t->v == NULL || tid == 0 || t->v[i = slot_of(t, tid)].tid != tid)
		return;
	/* Move back each later entry that may no longer sit past the gap. */
	for (j = i;;) {
		t->v[i].tid = 0;
		for (;;) {
			j = (j + 1) % SLOTS(t);
			if (t->v[j].tid == 0) {
				t->n--;
				return;
			}
			h = home(t, t->v[j].tid);
			/* j's home is cyclically in (i, j]: it stays. */
			if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
				continue;
			break;
		}
		t->v[i] = t->v[j];
		i = j;
	}
}

size_t
agg_netns_count(const struct agg_netns *t)
{
	return t->n;
}

uint64_t
agg_netns_full(const struct agg_netns *t)
{
	return t->full;
}

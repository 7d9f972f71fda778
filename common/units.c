/*
 * Unit boundaries of a stream across lost connections (units.h).
 */
#include "config.h"

#include <stdlib.h>

#include "units.h"
#include "xmalloc.h"

void
units_push(struct units *u, size_t len, int front)
{
	size_t i;

	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 1024;
		uint32_t *v = xreallocarray(NULL, cap, sizeof(*v));

		for (i = 0; i < u->n; i++)
			v[i] = u->len[(u->head + i) % u->cap];
		free(u->len);
		u->len = v;
		u->cap = cap;
		u->head = 0;
	}
	if (front) {
		u->head = (u->head + u->cap - 1) % u->cap;
		u->len[u->head] = (uint32_t)len;
	} else
		u->len[(u->head + u->n) % u->cap] = (uint32_t)len;
	u->n++;
	u->queued += len;
}

/* The oldest unit is gone (written whole, or dropped). */
static void
units_pop(struct units *u)
{
	u->head_sent = 0;
	u->head = (u->head + 1) % u->cap;
	u->n--;
	if (u->preamble > 0)
		u->preamble--;
}

void
units_settle(struct units *u, size_t left)
{
	uint64_t n, written = u->queued - left;
	size_t rest;

	n = written - u->written;
	u->written = written;
	while (n > 0 && u->n > 0) {
		rest = u->len[u->head] - u->head_sent;
		if (n < rest) {
			u->head_sent += (size_t)n;
			return;
		}
		n -= rest;
		units_pop(u);
	}
}

size_t
units_cut(struct units *u, size_t left, size_t *lost)
{
	size_t skip = 0;

	units_settle(u, left);
	*lost = 0;
	if (u->head_sent > 0 && u->n > 0) {
		skip = u->len[u->head] - u->head_sent;
		if (u->preamble == 0)
			*lost = skip;
		units_pop(u);
	}
	while (u->preamble > 0 && u->n > 0) {
		skip += u->len[u->head];
		units_pop(u);
	}
	u->preamble = 0;
	u->queued = u->written = 0;
	return skip;
}

void
units_clear(struct units *u)
{
	u->n = u->head = u->head_sent = u->preamble = 0;
}

void
units_connected(struct units *u, uint64_t queued)
{
	u->queued = queued;
	u->written = 0;
	u->head_sent = 0;
}

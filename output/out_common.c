/*
 * What every output shares: reference-counted documents and the bounded
 * queue of them.
 */
#include "config.h"

#include <sys/uio.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "out.h"

struct out_doc *
out_doc_new(const char *s, size_t len)
{
	struct out_doc *d;

	if ((d = malloc(sizeof(*d) + len + 1)) == NULL)
		return NULL;
	d->refs = 1;
	d->len = len;
	memcpy(d->data, s, len);
	d->data[len] = '\0';
	return d;
}

struct out_doc *
out_doc_ref(struct out_doc *d)
{
	__atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
	return d;
}

void
out_doc_unref(struct out_doc *d)
{
	if (d != NULL && __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(d);
}

int
out_queue_init(struct out_queue *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	if ((q->v = calloc(cap, sizeof(*q->v))) == NULL)
		return -1;
	q->cap = cap;
	return 0;
}

void
out_queue_free(struct out_queue *q)
{
	out_queue_pop(q, q->n);
	free(q->v);
	q->v = NULL;
	q->cap = 0;
}

int
out_queue_push(struct out_queue *q, struct out_doc *d)
{
	if (q->n == q->cap)
		return -1;
	q->v[(q->head + q->n) % q->cap] = out_doc_ref(d);
	q->n++;
	return 0;
}

struct out_doc *
out_queue_peek(const struct out_queue *q, size_t i)
{
	if (i >= q->n)
		return NULL;
	return q->v[(q->head + i) % q->cap];
}

void
out_queue_pop(struct out_queue *q, size_t n)
{
	if (n > q->n)
		n = q->n;
	while (n-- > 0) {
		out_doc_unref(q->v[q->head]);
		q->v[q->head] = NULL;
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
}

int64_t
out_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
out_iov_skip(struct iovec *iov, size_t n, size_t off)
{
	size_t i, t;

	for (i = 0; off > 0 && i < n; i++) {
		t = off < iov[i].iov_len ? off : iov[i].iov_len;
		iov[i].iov_base = (char *)iov[i].iov_base + t;
		iov[i].iov_len -= t;
		off -= t;
	}
}

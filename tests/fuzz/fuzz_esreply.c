/*
 * libFuzzer target for the elasticsearch output's reading of a _bulk
 * answer (output/out_esreply.c), whose body comes from a network peer.
 * An input is the HTTP status (2 bytes, big-endian), the number of
 * documents of the request less one (1 byte) and the body (the rest).
 * What es_reply_read() says must hold together, or the target aborts:
 * the outcome is the one the status calls for; every document has
 * exactly one verdict and nothing past the request's documents is
 * written (the verdicts are an allocation of exactly n, so the sanitizer
 * sees any write past it); the counts add up; a rejection carries a
 * status, type and reason, and its status is not one that means stored
 * or send again; the copies meant for the log are bounded and printable;
 * and the same answer read twice says the same.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "out_es.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define POISON	0xa5

/* A string of fewer than max bytes, all printable ASCII. */
static void
check_printable(const char *s, size_t max)
{
	const char *end;

	if ((end = memchr(s, '\0', max)) == NULL)
		abort();
	for (; s < end; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			abort();
}

static int
is_poison(const struct es_verdict *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t i;

	for (i = 0; i < sizeof(*v); i++)
		if (p[i] != POISON)
			return 0;
	return 1;
}

/* The outcome the status calls for; ES_OUTCOME_ITEMS may be DOWN. */
static enum es_outcome
expected(long status, size_t n)
{
	if (status >= 200 && status < 300)
		return ES_OUTCOME_ITEMS;
	if (status == 413 && n > 1)
		return ES_OUTCOME_SHRINK;
	if (status == 401 || status == 403)
		return ES_OUTCOME_DOWN;
	if (status >= 400 && status < 500 && status != 408 && status != 429)
		return ES_OUTCOME_REFUSED;
	return ES_OUTCOME_DOWN;
}

/* The status of item i of the answer's items, as the peer wrote it. */
static int64_t
item_status(struct json_object *root, size_t i)
{
	struct json_object *items, *it, *st;

	if (!json_object_object_get_ex(root, "items", &items))
		abort();
	it = json_object_array_get_idx(items, i);
	if (!json_object_is_type(it, json_type_object))
		return 0;
	json_object_object_foreach(it, key, val) {
		(void)key;
		if (json_object_object_get_ex(val, "status", &st))
			return json_object_get_int64(st);
		return 0;
	}
	return 0;
}

/* Longest of the defaults a rejection's type or reason may take. */
#define DEFAULT_MAX	sizeof("the request was refused as a whole")

static void
check_reject(const struct es_reply *a, const struct es_verdict *v,
    long status, size_t len)
{
	if (v->type == NULL || v->reason == NULL)
		abort();
	/* The peer's strings, or a default: no longer than its answer. */
	if (strlen(v->type) > len + DEFAULT_MAX ||
	    strlen(v->reason) > len + DEFAULT_MAX)
		abort();
	if (a->outcome == ES_OUTCOME_REFUSED) {
		if (v->status != status)
			abort();
		return;
	}
	/* An item refused for good: not stored, not worth sending again. */
	if (v->status == 0 || (v->status >= 200 && v->status < 300) ||
	    v->status == 429 || v->status >= 500)
		abort();
}

static void
check(long status, const char *body, size_t len, size_t n)
{
	struct es_verdict *v, *w, *first = NULL;
	struct es_reply a, b;
	char type[ES_REASON_MAX], reason[ES_REASON_MAX];
	size_t i, sent = 0, retry = 0, rejected = 0;
	enum es_outcome want;
	int64_t st;

	if ((v = malloc(n * sizeof(*v))) == NULL ||
	    (w = malloc(n * sizeof(*w))) == NULL)
		abort();
	memset(v, POISON, n * sizeof(*v));
	memset(w, POISON, n * sizeof(*w));
	es_reply_read(&a, status, body, len, n, v);

	want = expected(status, n);
	if (a.outcome != want &&
	    !(want == ES_OUTCOME_ITEMS && a.outcome == ES_OUTCOME_DOWN))
		abort();
	check_printable(a.first_type, sizeof(a.first_type));
	check_printable(a.first_reason, sizeof(a.first_reason));
	if (a.outcome == ES_OUTCOME_DOWN) {
		check_printable(a.why, sizeof(a.why));
		if (a.why[0] == '\0')
			abort();
	}
	if (a.outcome != ES_OUTCOME_ITEMS && a.outcome != ES_OUTCOME_REFUSED) {
		/* No verdicts, none written. */
		for (i = 0; i < n; i++)
			if (!is_poison(&v[i]))
				abort();
		if (a.sent + a.retry + a.rejected != 0)
			abort();
		goto again;
	}

	for (i = 0; i < n; i++) {
		switch (v[i].fate) {
		case ES_FATE_SENT:
			sent++;
			st = item_status(a.root, i);
			if (a.outcome != ES_OUTCOME_ITEMS || st < 200 ||
			    st >= 300)
				abort();
			break;
		case ES_FATE_RETRY:
			retry++;
			st = item_status(a.root, i);
			/* Overloaded, failing, or no status an int holds. */
			if (a.outcome != ES_OUTCOME_ITEMS ||
			    (st != 0 && st != 429 && st < 500 &&
			    st >= INT_MIN))
				abort();
			break;
		case ES_FATE_REJECT:
			rejected++;
			check_reject(&a, &v[i], status, len);
			if (first == NULL)
				first = &v[i];
			break;
		default:
			abort();
		}
	}
	if (sent != a.sent || retry != a.retry || rejected != a.rejected ||
	    sent + retry + rejected != n)
		abort();
	if (a.outcome == ES_OUTCOME_REFUSED && rejected != n)
		abort();
	if (first == NULL) {
		if (a.first_type[0] != '\0' || a.first_reason[0] != '\0')
			abort();
	} else {
		/* What is logged is the first rejection, escaped. */
		log_escape(type, sizeof(type), first->type,
		    strlen(first->type));
		log_escape(reason, sizeof(reason), first->reason,
		    strlen(first->reason));
		if (a.first_status != first->status ||
		    strcmp(a.first_type, type) != 0 ||
		    strcmp(a.first_reason, reason) != 0)
			abort();
	}

again:
	/* The same answer, read again, says the same. */
	es_reply_read(&b, status, body, len, n, w);
	if (b.outcome != a.outcome || b.sent != a.sent ||
	    b.retry != a.retry || b.rejected != a.rejected ||
	    b.first_status != a.first_status ||
	    strcmp(b.why, a.why) != 0 ||
	    strcmp(b.first_type, a.first_type) != 0 ||
	    strcmp(b.first_reason, a.first_reason) != 0)
		abort();
	for (i = 0; i < n; i++) {
		if (is_poison(&v[i]) != is_poison(&w[i]))
			abort();
		if (is_poison(&v[i]))
			continue;
		if (v[i].fate != w[i].fate)
			abort();
		if (v[i].fate == ES_FATE_REJECT &&
		    (v[i].status != w[i].status ||
		    strcmp(v[i].type, w[i].type) != 0 ||
		    strcmp(v[i].reason, w[i].reason) != 0))
			abort();
	}
	es_reply_free(&b);
	es_reply_free(&a);
	if (a.root != NULL)
		abort();
	free(w);
	free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long status;
	size_t n;

	if (size < 3)
		return 0;
	status = (long)data[0] << 8 | data[1];
	n = (size_t)data[2] + 1;
	/* The body ends where libFuzzer's buffer does: any overread shows. */
	check(status, (const char *)data + 3, size - 3, n);
	return 0;
}

/*
 * The elasticsearch output's reading of a _bulk answer (out_es.h): which
 * of a request's documents the peer stored, which to send again and which
 * it refused for good, and with what status, type and reason. Pure: the
 * worker in out_es.c does the sending, the counting and the dead letters,
 * and tests/fuzz/fuzz_esreply.c holds this to its promises with hostile
 * bodies.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "out_es.h"

/* The string member key of o, or def. */
static const char *
es_str(struct json_object *o, const char *key, const char *def)
{
	struct json_object *v;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return def;
}

static struct json_object *
es_parse(const char *s, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len > INT32_MAX || (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static void
es_reject(struct es_reply *a, struct es_verdict *v, int status,
    const char *type, const char *reason)
{
	v->fate = ES_FATE_REJECT;
	v->status = status;
	v->type = type;
	v->reason = reason;
	if (a->rejected++ == 0) {
		a->first_status = status;
		log_escape(a->first_type, sizeof(a->first_type), type,
		    strlen(type));
		log_escape(a->first_reason, sizeof(a->first_reason), reason,
		    strlen(reason));
	}
}

static void
es_down(struct es_reply *a, const char *why)
{
	a->outcome = ES_OUTCOME_DOWN;
	snprintf(a->why, sizeof(a->why), "%s", why);
}

/* A 2xx answer: each of the n documents by its own item's status. */
static void
es_items(struct es_reply *a, const char *body, size_t len, size_t n,
    struct es_verdict *v)
{
	struct json_object *items, *it, *op, *st, *err;
	int64_t status;
	size_t i;

	a->root = es_parse(body, len);
	if (a->root == NULL ||
	    !json_object_object_get_ex(a->root, "items", &items) ||
	    !json_object_is_type(items, json_type_array) ||
	    json_object_array_length(items) != n) {
		/* Not knowing which went in, all of them are tried again. */
		es_down(a, "bulk answer without one item a document");
		return;
	}
	a->outcome = ES_OUTCOME_ITEMS;
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		op = NULL;
		if (json_object_is_type(it, json_type_object)) {
			json_object_object_foreach(it, key, val) {
				(void)key;
				op = val;
				break;
			}
		}
		status = 0;
		if (op != NULL && json_object_object_get_ex(op, "status", &st))
			status = json_object_get_int64(st);
		/*
		 * A number no int holds is no HTTP status, and cast it would
		 * become another (-4294967096 a 200): read as none.
		 */
		if (status < INT_MIN || status > INT_MAX)
			status = 0;
		if (status >= 200 && status < 300) {
			v[i].fate = ES_FATE_SENT;
			a->sent++;
		} else if (status == 429 || status >= 500 || status == 0) {
			/* Overloaded, or an answer we cannot read: again. */
			v[i].fate = ES_FATE_RETRY;
			a->retry++;
		} else {
			if (!json_object_object_get_ex(op, "error", &err))
				err = NULL;
			es_reject(a, &v[i], (int)status,
			    es_str(err, "type", "unknown"),
			    es_str(err, "reason", ""));
		}
	}
}

/*
 * Refused as a whole with a 4xx that sending again will not mend: every
 * document rejected, with the peer's error if it gave one.
 */
static void
es_refused(struct es_reply *a, long status, const char *body, size_t len,
    size_t n, struct es_verdict *v)
{
	struct json_object *err = NULL;
	const char *type, *reason;
	size_t i;

	a->outcome = ES_OUTCOME_REFUSED;
	a->root = es_parse(body, len);
	if (a->root != NULL &&
	    (!json_object_object_get_ex(a->root, "error", &err) ||
	    !json_object_is_type(err, json_type_object)))
		err = NULL;
	snprintf(a->http_type, sizeof(a->http_type), "http_%ld", status);
	type = es_str(err, "type", a->http_type);
	reason = es_str(err, "reason", "the request was refused as a whole");
	for (i = 0; i < n; i++)
		es_reject(a, &v[i], (int)status, type, reason);
}

void
es_reply_read(struct es_reply *a, long status, const char *body,
    size_t len, size_t n, struct es_verdict *v)
{
	char why[ES_WHY_MAX];

	memset(a, 0, sizeof(*a));
	if (status >= 200 && status < 300)
		es_items(a, body, len, n, v);
	else if (status == 413 && n > 1)
		a->outcome = ES_OUTCOME_SHRINK;
	else if (status == 401 || status == 403) {
		/*
		 * Credentials or rights: the documents are not at fault and
		 * must not be lost for a fault the operator can mend.
		 */
		snprintf(why, sizeof(why), "HTTP %ld: check the output's "
		    "username, password and the user's rights", status);
		es_down(a, why);
	} else if (status >= 400 && status < 500 && status != 408 &&
	    status != 429)
		es_refused(a, status, body, len, n, v);
	else {
		snprintf(why, sizeof(why), "HTTP %ld", status);
		es_down(a, why);
	}
}

void
es_reply_free(struct es_reply *a)
{
	json_object_put(a->root);
	a->root = NULL;
}

/*
 * A JSON text writer for the flow documents. The document's shape is
 * fixed and written here directly: building a json-c object tree for every
 * flow and printing it cost three quarters of the enricher's CPU. Every
 * string value still goes through one rule: text of plain printable ASCII
 * without quote or backslash is copied as it is, anything else (a process
 * name can hold any byte but NUL) is escaped by json-c. Keys are the
 * program's own constants.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "enr.h"

#define JW_INITIAL	4096

void
jw_reset(struct jw *w)
{
	w->len = 0;
	w->depth = 0;
	w->first[0] = 1;
	w->oom = 0;
}

void
jw_free(struct jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

/* Room for n more bytes and the NUL; 0 when there is. */
static int
grow(struct jw *w, size_t n)
{
	size_t ncap = w->cap == 0 ? JW_INITIAL : w->cap;
	char *nb;

	if (w->oom)
		return -1;
	while (w->len + n + 1 > ncap)
		ncap *= 2;
	if ((nb = realloc(w->buf, ncap)) == NULL) {
		w->oom = 1;
		return -1;
	}
	w->buf = nb;
	w->cap = ncap;
	return 0;
}

static inline int
reserve(struct jw *w, size_t n)
{
	if (w->len + n + 1 <= w->cap && !w->oom)
		return 0;
	return grow(w, n);
}

/* The text stays NUL-terminated after every write. */
static inline void
put(struct jw *w, const char *s, size_t n)
{
	if (reserve(w, n) == -1)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* The separator and the key of the next member (key NULL in arrays). */
static void
member(struct jw *w, const char *key, size_t kl)
{
	char *p;

	if (reserve(w, kl + 4) == -1)
		return;
	p = w->buf + w->len;
	if (!w->first[w->depth])
		*p++ = ',';
	w->first[w->depth] = 0;
	if (key != NULL) {
		*p++ = '"';
		memcpy(p, key, kl);
		p += kl;
		*p++ = '"';
		*p++ = ':';
	}
	*p = '\0';
	w->len = (size_t)(p - w->buf);
}

static void
open_any(struct jw *w, const char *key, size_t kl, const char *c)
{
	if (w->depth > 0 || w->len > 0)
		member(w, key, kl);
	put(w, c, 1);
	if (w->depth + 1 < JW_MAXDEPTH)
		w->depth++;
	else
		w->oom = 1;
	w->first[w->depth] = 1;
}

void
jw_open_(struct jw *w, const char *key, size_t kl)
{
	open_any(w, key, kl, "{");
}

void
jw_open_array_(struct jw *w, const char *key, size_t kl)
{
	open_any(w, key, kl, "[");
}

void
jw_close(struct jw *w)
{
	put(w, "}", 1);
	if (w->depth > 0)
		w->depth--;
}

void
jw_close_array(struct jw *w)
{
	put(w, "]", 1);
	if (w->depth > 0)
		w->depth--;
}

/* True when s can go out between quotes as it is. */
static int
plain(const char *s, size_t *len)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			return 0;
	*len = (size_t)(p - (const unsigned char *)s);
	return 1;
}

void
jw_str_(struct jw *w, const char *key, size_t kl, const char *v)
{
	struct json_object *o;
	const char *esc;
	size_t n;

	member(w, key, kl);
	if (plain(v, &n)) {
		if (reserve(w, n + 2) == -1)
			return;
		w->buf[w->len] = '"';
		memcpy(w->buf + w->len + 1, v, n);
		w->buf[w->len + n + 1] = '"';
		w->len += n + 2;
		w->buf[w->len] = '\0';
		return;
	}
	if ((o = json_object_new_string(v)) == NULL) {
		w->oom = 1;
		return;
	}
	esc = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	put(w, esc, strlen(esc));
	json_object_put(o);
}

void
jw_u64_(struct jw *w, const char *key, size_t kl, uint64_t v)
{
	char b[24];
	size_t i = sizeof(b);

	member(w, key, kl);
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(w, b + i, sizeof(b) - i);
}

void
jw_i64_(struct jw *w, const char *key, size_t kl, int64_t v)
{
	if (v < 0) {
		member(w, key, kl);
		put(w, "-", 1);
		/* Continue the same member: no separator or key again. */
		w->first[w->depth] = 1;
		jw_u64_(w, NULL, 0, (uint64_t)0 - (uint64_t)v);
		return;
	}
	jw_u64_(w, key, kl, (uint64_t)v);
}

void
jw_bool_(struct jw *w, const char *key, size_t kl, int v)
{
	member(w, key, kl);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void
jw_raw_(struct jw *w, const char *key, size_t kl, const char *json)
{
	member(w, key, kl);
	put(w, json, strlen(json));
}

/* An object whose first members are JSON text already; more may follow. */
void
jw_open_members_(struct jw *w, const char *key, size_t kl,
    const char *members)
{
	jw_open_(w, key, kl);
	put(w, members, strlen(members));
	w->first[w->depth] = 0;
}

/*
 * tracefs format parser and field accessors. See tpformat.h.
 *
 * A format file has one line per field:
 *	field:<declaration>;	offset:<n>;	size:<n>;	signed:<0|1>;
 * The field name is the last identifier of the declaration, before any
 * array suffix. Everything else in the file is skipped except "name:" and
 * "ID:".
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpformat.h"

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* Parse "key:<number>;" at *pp; advance past it. */
static int
parse_num(const char **pp, const char *end, const char *key,
    unsigned long max, unsigned long *out)
{
	const char *p = *pp;
	size_t klen = strlen(key);
	unsigned long v = 0;
	int digits = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < klen || memcmp(p, key, klen) != 0)
		return -1;
	p += klen;
	while (p < end && isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return -1;
		p++;
		digits++;
	}
	if (digits == 0 || p >= end || *p != ';')
		return -1;
	*pp = p + 1;
	*out = v;
	return 0;
}

static int
parse_field(const char *line, const char *end, struct tp_field *f)
{
	const char *decl, *semi, *q, *nameend, *namestart;
	unsigned long off, size, sgn;

	memset(f, 0, sizeof(*f));
	decl = line + strlen("field:");
	if ((semi = memchr(decl, ';', (size_t)(end - decl))) == NULL)
		return -1;
	/* The name is the last identifier, before an optional "[...]". */
	q = semi;
	if (q > decl && q[-1] == ']') {
		while (q > decl && *q != '[')
			q--;
		if (*q != '[')
			return -1;
		f->is_array = true;
	}
	nameend = q;
	while (q > decl && (isalnum((unsigned char)q[-1]) || q[-1] == '_'))
		q--;
	namestart = q;
	if (nameend == namestart || (size_t)(nameend - namestart) >= TP_NAME_LEN)
		return -1;
	/* An identifier, after a type: "int x", "void *p", "char s[8]". */
	if (isdigit((unsigned char)*namestart) || namestart == decl ||
	    (namestart[-1] != ' ' && namestart[-1] != '\t' &&
	    namestart[-1] != '*'))
		return -1;
	memcpy(f->name, namestart, (size_t)(nameend - namestart));
	f->name[nameend - namestart] = '\0';
	if ((size_t)(namestart - decl) >= strlen("__data_loc") &&
	    memmem(decl, (size_t)(namestart - decl), "__data_loc",
	    strlen("__data_loc")) != NULL) {
		f->is_dataloc = true;
		f->is_array = false;
	}
	q = semi + 1;
	if (parse_num(&q, end, "offset:", TP_MAX_RECORD, &off) == -1 ||
	    parse_num(&q, end, "size:", TP_MAX_RECORD, &size) == -1 ||
	    parse_num(&q, end, "signed:", 1, &sgn) == -1)
		return -1;
	if (size == 0 || off + size > TP_MAX_RECORD)
		return -1;
	if (f->is_dataloc && size != 4)
		return -1;
	f->offset = (uint16_t)off;
	f->size = (uint16_t)size;
	f->is_signed = sgn == 1;
	return 0;
}

int
tpformat_parse(const char *text, size_t len, struct tp_format *out,
    char *err, size_t errsz)
{
	const char *p = text, *end = text + len, *eol;
	bool have_id = false, have_name = false;
	int lineno = 0;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		lineno++;
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(eol - p) > 5 && memcmp(p, "name:", 5) == 0) {
			const char *n = p + 5;
			size_t nl;

			while (n < eol && *n == ' ')
				n++;
			nl = (size_t)(eol - n);
			if (nl == 0 || nl >= TP_NAME_LEN) {
				seterr(err, errsz, "line %d: bad name", lineno);
				return -1;
			}
			memcpy(out->name, n, nl);
			out->name[nl] = '\0';
			have_name = true;
		} else if ((size_t)(eol - p) > 3 && memcmp(p, "ID:", 3) == 0) {
			char num[16];
			const char *n = p + 3;
			size_t nl;
			char *ep;
			unsigned long v;

			while (n < eol && *n == ' ')
				n++;
			nl = (size_t)(eol - n);
			if (nl == 0 || nl >= sizeof(num)) {
				seterr(err, errsz, "line %d: bad ID", lineno);
				return -1;
			}
			memcpy(num, n, nl);
			num[nl] = '\0';
			errno = 0;
			v = strtoul(num, &ep, 10);
			if (errno != 0 || *ep != '\0' || v == 0 || v > 0xffff) {
				seterr(err, errsz, "line %d: bad ID", lineno);
				return -1;
			}
			out->id = (uint32_t)v;
			have_id = true;
		} else if ((size_t)(eol - p) > 6 && memcmp(p, "field:", 6) == 0) {
			struct tp_field *f;

			if (out->nfields >= TP_MAX_FIELDS) {
				seterr(err, errsz, "line %d: too many fields",
				    lineno);
				return -1;
			}
			f = &out->fields[out->nfields];
			if (parse_field(p, eol, f) == -1) {
				seterr(err, errsz, "line %d: bad field", lineno);
				return -1;
			}
			if (tpformat_field(out, f->name) != NULL) {
				seterr(err, errsz, "line %d: duplicate field",
				    lineno);
				return -1;
			}
			out->nfields++;
			if ((size_t)f->offset + f->size > out->min_size)
				out->min_size = (size_t)f->offset + f->size;
		}
		p = eol + 1;
	}
	if (!have_name || !have_id) {
		seterr(err, errsz, "missing name or ID");
		return -1;
	}
	if (tpformat_field(out, "common_type") == NULL) {
		seterr(err, errsz, "no common_type field");
		return -1;
	}
	return 0;
}

const struct tp_field *
tpformat_field(const struct tp_format *fmt, const char *name)
{
	size_t i;

	for (i = 0; i < fmt->nfields; i++)
		if (strcmp(fmt->fields[i].name, name) == 0)
			return &fmt->fields[i];
	return NULL;
}

static int
fits(const struct tp_field *f, size_t reclen)
{
	return f != NULL && (size_t)f->offset + f->size <= reclen;
}

int
tp_get_u64(const struct tp_field *f, const uint8_t *rec, size_t reclen,
    uint64_t *out)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	if (!fits(f, reclen) || f->is_array || f->is_dataloc)
		return -1;
	switch (f->size) {
	case 1:
		memcpy(&u8, rec + f->offset, 1);
		*out = u8;
		break;
	case 2:
		memcpy(&u16, rec + f->offset, 2);
		*out = u16;
		break;
	case 4:
		memcpy(&u32, rec + f->offset, 4);
		*out = u32;
		break;
	case 8:
		memcpy(&u64, rec + f->offset, 8);
		*out = u64;
		break;
	default:
		return -1;
	}
	return 0;
}

int
tp_get_s64(const struct tp_field *f, const uint8_t *rec, size_t reclen,
    int64_t *out)
{
	uint64_t v;

	if (tp_get_u64(f, rec, reclen, &v) == -1)
		return -1;
	if (f->is_signed && f->size < 8) {
		unsigned int bits = f->size * 8U;
		uint64_t sign = 1ULL << (bits - 1);

		if (v & sign)
			v |= ~((sign << 1) - 1);
	}
	*out = (int64_t)v;
	return 0;
}

int
tp_get_bytes(const struct tp_field *f, const uint8_t *rec, size_t reclen,
    void *dst, size_t n)
{
	if (!fits(f, reclen) || f->size != n || f->is_dataloc)
		return -1;
	memcpy(dst, rec + f->offset, n);
	return 0;
}

int
tp_get_dataloc(const struct tp_field *f, const uint8_t *rec, size_t reclen,
    const uint8_t **p, size_t *len)
{
	uint32_t loc;
	size_t off, l;

	if (!fits(f, reclen) || !f->is_dataloc)
		return -1;
	memcpy(&loc, rec + f->offset, 4);
	off = loc & 0xffff;
	l = loc >> 16;
	if (off > reclen || l > reclen - off)
		return -1;
	while (l > 0 && rec[off + l - 1] == '\0')
		l--;
	*p = rec + off;
	*len = l;
	return 0;
}

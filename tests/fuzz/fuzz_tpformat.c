/*
 * libFuzzer target for the tracefs format parser and the field accessors
 * (common/tpformat.c). The input is a format description, then a NUL
 * (which no format text holds: the probe's FormatSet refuses one), then
 * the raw data of a record of that event. What the parser accepts must
 * describe fields that lie inside TP_MAX_RECORD with names that find
 * them; each accessor must read only the record it is given, and read
 * what is there.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tpformat.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

/* Names the aggregator looks up, and some it never finds. */
static const char *const lookups[] = {
	"common_type", "common_flags", "common_pid", "skaddr", "sk",
	"family", "saddr_v6", "filename", "ret", "w31", "", "common_type ",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

static bool
ident(const char *s)
{
	if (*s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static void
check_format(const struct tp_format *fmt)
{
	const struct tp_field *f;
	size_t i, end = 0;

	CHECK(memchr(fmt->name, '\0', sizeof(fmt->name)) != NULL);
	CHECK(fmt->name[0] != '\0');
	CHECK(fmt->id >= 1 && fmt->id <= 0xffff);
	CHECK(fmt->nfields <= TP_MAX_FIELDS);
	CHECK(tpformat_field(fmt, "common_type") != NULL);
	for (i = 0; i < fmt->nfields; i++) {
		f = &fmt->fields[i];
		CHECK(memchr(f->name, '\0', sizeof(f->name)) != NULL);
		CHECK(ident(f->name));
		CHECK(f->size > 0 && (size_t)f->offset + f->size <=
		    TP_MAX_RECORD);
		CHECK(!f->is_dataloc || (f->size == 4 && !f->is_array));
		/* Names are unique: each finds its own field. */
		CHECK(tpformat_field(fmt, f->name) == f);
		if ((size_t)f->offset + f->size > end)
			end = (size_t)f->offset + f->size;
	}
	CHECK(fmt->min_size == end);
}

/* The unsigned integer of 1, 2, 4 or 8 bytes at p, in host order. */
static uint64_t
host_uint(const uint8_t *p, size_t n)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (n) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	}
	memcpy(&u64, p, 8);
	return u64;
}

static void
check_access(const struct tp_field *f, const uint8_t *rec, size_t reclen)
{
	uint8_t bytes[TP_MAX_RECORD];
	const uint8_t *p;
	uint64_t u, want;
	int64_t s;
	size_t len;
	bool fits = (size_t)f->offset + f->size <= reclen;
	bool scalar = !f->is_array && !f->is_dataloc &&
	    (f->size == 1 || f->size == 2 || f->size == 4 || f->size == 8);

	if (tp_get_u64(f, rec, reclen, &u) == 0) {
		CHECK(fits && scalar);
		want = host_uint(rec + f->offset, f->size);
		CHECK(u == want);
		CHECK(tp_get_s64(f, rec, reclen, &s) == 0);
		if (!f->is_signed || f->size == 8 ||
		    (want >> (f->size * 8 - 1) & 1) == 0)
			CHECK((uint64_t)s == want);
		else
			CHECK(s < 0 && (uint64_t)s ==
			    (want | ~((UINT64_C(1) << (f->size * 8)) - 1)));
	} else {
		CHECK(!fits || !scalar);
		CHECK(tp_get_s64(f, rec, reclen, &s) == -1);
	}

	if (tp_get_bytes(f, rec, reclen, bytes, f->size) == 0) {
		CHECK(fits && !f->is_dataloc);
		CHECK(memcmp(bytes, rec + f->offset, f->size) == 0);
	} else
		CHECK(!fits || f->is_dataloc);
	/* Another size than the field's is refused. */
	CHECK(tp_get_bytes(f, rec, reclen, bytes, f->size + 1U) == -1);

	if (tp_get_dataloc(f, rec, reclen, &p, &len) == 0) {
		CHECK(fits && f->is_dataloc);
		CHECK(p >= rec && len <= reclen &&
		    (size_t)(p - rec) <= reclen - len);
		CHECK(len == 0 || p[len - 1] != '\0');
	} else if (fits && f->is_dataloc) {
		/* Refused only when it points outside the record. */
		want = host_uint(rec + f->offset, 4);
		CHECK((want & 0xffff) + (want >> 16) > reclen);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tp_format fmt;
	const uint8_t *nul, *rec;
	char err[256], *text;
	size_t textlen, reclen, i;

	if ((nul = memchr(data, '\0', size)) != NULL) {
		textlen = (size_t)(nul - data);
		rec = nul + 1;
		reclen = size - textlen - 1;
	} else {
		textlen = size;
		rec = data + size;
		reclen = 0;
	}
	/*
	 * The text in a buffer of its own size, so that a read past its
	 * end is seen (the record already ends where the input does).
	 */
	if ((text = malloc(textlen ? textlen : 1)) == NULL)
		abort();
	memcpy(text, data, textlen);

	memset(err, 'x', sizeof(err));
	if (tpformat_parse(text, textlen, &fmt, err, sizeof(err)) == -1) {
		CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		free(text);
		return 0;
	}
	free(text);
	check_format(&fmt);
	for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++)
		tpformat_field(&fmt, lookups[i]);
	for (i = 0; i < fmt.nfields; i++)
		check_access(&fmt.fields[i], rec, reclen);
	return 0;
}

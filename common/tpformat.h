/*
 * Parser for tracefs event format descriptions ("events/SYS/NAME/format")
 * and typed access to fields of a raw sample by name. Field offsets and
 * sizes differ between kernels, so nothing in sockflow hard-codes them.
 * The parser takes kernel-made text but treats it as untrusted: every
 * number is range-checked and every field must lie inside the record.
 */
#ifndef SOCKFLOW_TPFORMAT_H
#define SOCKFLOW_TPFORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_NAME_LEN	64
#define TP_MAX_FIELDS	64
#define TP_MAX_RECORD	4096	/* no tracepoint record we use is larger */

struct tp_field {
	char		name[TP_NAME_LEN];
	uint16_t	offset;
	uint16_t	size;
	bool		is_signed;
	bool		is_array;	/* "name[N]" */
	bool		is_dataloc;	/* "__data_loc": u16 offset, u16 len */
};

struct tp_format {
	char		name[TP_NAME_LEN];
	uint32_t	id;
	struct tp_field	fields[TP_MAX_FIELDS];
	size_t		nfields;
	size_t		min_size;	/* end of the last fixed field */
};

/*
 * Parse a format file. Returns 0, or -1 with a message in err.
 */
int	tpformat_parse(const char *text, size_t len, struct tp_format *out,
	    char *err, size_t errsz);
const struct tp_field *tpformat_field(const struct tp_format *,
	    const char *name);

/*
 * Read an integer field of 1, 2, 4 or 8 bytes (host order), sign-extended
 * when the format says it is signed. Returns -1 when the field does not fit
 * in the record or has an unusual size.
 */
int	tp_get_u64(const struct tp_field *, const uint8_t *rec, size_t reclen,
	    uint64_t *out);
int	tp_get_s64(const struct tp_field *, const uint8_t *rec, size_t reclen,
	    int64_t *out);
/* Copy exactly n bytes of a fixed array field; -1 if the sizes differ. */
int	tp_get_bytes(const struct tp_field *, const uint8_t *rec,
	    size_t reclen, void *dst, size_t n);
/* Locate a __data_loc string; *len excludes any trailing NULs. */
int	tp_get_dataloc(const struct tp_field *, const uint8_t *rec,
	    size_t reclen, const uint8_t **p, size_t *len);

#endif

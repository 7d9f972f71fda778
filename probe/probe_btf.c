/*
 * Reading the kernel's BTF (/sys/kernel/btf/vmlinux) for the kprobe
 * backend: where a struct member lies (byte offset and size, through
 * anonymous structs and unions), how big a struct is, and the position
 * of a function's named parameter, so that probe definitions fetch the
 * right bytes on the running kernel instead of guessing. The blob is the
 * kernel's own, but it is still read with every length checked: a
 * truncated or inconsistent file is refused whole, with a reason.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "readfile.h"
#include "xmalloc.h"

#define BTF_MAGIC		0xeb9f
#define BTF_MAX_SIZE		(64 * 1024 * 1024)
/* Members nested through anonymous structs and unions, and typedefs. */
#define BTF_MAX_DEPTH		16
/* Members looked at for one lookup; the kernel's need a few hundred. */
#define BTF_MAX_STEPS		100000

enum {
	KIND_INT = 1, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION,
	KIND_ENUM, KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST,
	KIND_RESTRICT, KIND_FUNC, KIND_FUNC_PROTO, KIND_VAR, KIND_DATASEC,
	KIND_FLOAT, KIND_DECL_TAG, KIND_TYPE_TAG, KIND_ENUM64,
};

struct btf_hdr {
	uint16_t	magic;
	uint8_t		version;
	uint8_t		flags;
	uint32_t	hdr_len;
	uint32_t	type_off;
	uint32_t	type_len;
	uint32_t	str_off;
	uint32_t	str_len;
};

struct btf_type {
	uint32_t	name_off;
	uint32_t	info;
	uint32_t	size_type;	/* size, or the type referred to */
};

struct btf {
	uint8_t		*data;
	size_t		 size;
	const uint8_t	*types;		/* type section */
	uint32_t	 types_len;
	const char	*strs;
	uint32_t	 strs_len;
	uint32_t	*off;		/* type id -> offset in types */
	uint32_t	 ntypes;	/* ids 1..ntypes */
};

static uint32_t
kind_of(uint32_t info)
{
	return (info >> 24) & 0x1f;
}

static uint32_t
vlen_of(uint32_t info)
{
	return info & 0xffff;
}

/* Bytes after the common part of a type, by kind; -1 for an unknown one. */
static long
extra_len(uint32_t info)
{
	uint32_t vlen = vlen_of(info);

	switch (kind_of(info)) {
	case KIND_INT:
	case KIND_VAR:
	case KIND_DECL_TAG:
		return 4;
	case KIND_PTR:
	case KIND_FWD:
	case KIND_TYPEDEF:
	case KIND_VOLATILE:
	case KIND_CONST:
	case KIND_RESTRICT:
	case KIND_FUNC:
	case KIND_FLOAT:
	case KIND_TYPE_TAG:
		return 0;
	case KIND_ARRAY:
		return 12;
	case KIND_STRUCT:
	case KIND_UNION:
	case KIND_DATASEC:
	case KIND_ENUM64:
		return 12L * vlen;
	case KIND_ENUM:
	case KIND_FUNC_PROTO:
		return 8L * vlen;
	}
	return -1;
}

static const char *
str_at(const struct btf *b, uint32_t off)
{
	if (off >= b->strs_len)
		return NULL;
	/* The section ends with a NUL (checked at load): a string ends too. */
	return b->strs + off;
}

static const struct btf_type *
type_at(const struct btf *b, uint32_t id)
{
	if (id == 0 || id > b->ntypes)
		return NULL;
	return (const struct btf_type *)(const void *)(b->types + b->off[id]);
}

/* The id-th 32-bit word after a type's common part. */
static uint32_t
word_after(const struct btf_type *t, size_t i)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)(t + 1) + 4 * i, 4);
	return v;
}

/* Index the blob in data, which the result owns from here on. */
static int
adopt(struct btf **out, uint8_t *data, size_t size, char *err, size_t errsz)
{
	struct btf *b;
	struct btf_hdr h;
	size_t pos, cap = 0;

	*out = NULL;
	if (size < sizeof(h)) {
		snprintf(err, errsz, "shorter than its header");
		free(data);
		return -1;
	}
	memcpy(&h, data, sizeof(h));
	if (h.magic != BTF_MAGIC) {
		snprintf(err, errsz, "bad magic 0x%04x (or not this machine's "
		    "byte order)", h.magic);
		free(data);
		return -1;
	}
	if (h.version != 1 || h.hdr_len < sizeof(h) || h.hdr_len > size ||
	    h.hdr_len % 4 != 0) {
		snprintf(err, errsz, "unknown version %u or header length %u",
		    h.version, h.hdr_len);
		free(data);
		return -1;
	}
	if ((uint64_t)h.type_off + h.type_len > size - h.hdr_len ||
	    (uint64_t)h.str_off + h.str_len > size - h.hdr_len ||
	    h.type_off % 4 != 0 || h.str_len == 0) {
		snprintf(err, errsz, "sections outside the data");
		free(data);
		return -1;
	}
	b = xcalloc(1, sizeof(*b));
	b->data = data;
	b->size = size;
	b->types = b->data + h.hdr_len + h.type_off;
	b->types_len = h.type_len;
	b->strs = (const char *)b->data + h.hdr_len + h.str_off;
	b->strs_len = h.str_len;
	if (b->strs[b->strs_len - 1] != '\0') {
		snprintf(err, errsz, "string section not terminated");
		goto bad;
	}
	/* Index every type; ids start at 1. */
	for (pos = 0; pos < b->types_len;) {
		struct btf_type t;
		long extra;

		if (b->types_len - pos < sizeof(t)) {
			snprintf(err, errsz, "type %u cut short", b->ntypes + 1);
			goto bad;
		}
		memcpy(&t, b->types + pos, sizeof(t));
		if ((extra = extra_len(t.info)) < 0) {
			snprintf(err, errsz, "type %u of unknown kind %u",
			    b->ntypes + 1, kind_of(t.info));
			goto bad;
		}
		if ((size_t)extra > b->types_len - pos - sizeof(t)) {
			snprintf(err, errsz, "type %u cut short", b->ntypes + 1);
			goto bad;
		}
		if (b->ntypes + 2 > cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			b->off = xreallocarray(b->off, cap, sizeof(*b->off));
		}
		b->off[++b->ntypes] = (uint32_t)pos;
		pos += sizeof(t) + (size_t)extra;
	}
	*out = b;
	return 0;
bad:
	btf_free(b);
	return -1;
}

int
btf_parse(struct btf **out, const uint8_t *data, size_t size, char *err,
    size_t errsz)
{
	uint8_t *copy = xreallocarray(NULL, 1, size > 0 ? size : 1);

	memcpy(copy, data, size);
	return adopt(out, copy, size, err, errsz);
}

int
btf_load(struct btf **out, const char *path, char *err, size_t errsz)
{
	char *buf;
	size_t len;
	int cut;

	*out = NULL;
	/* A sysfs file has no useful size: read until the end. */
	if ((buf = read_file_all(path, BTF_MAX_SIZE, &len, &cut)) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (cut) {
		snprintf(err, errsz, "%s: larger than %d MiB", path,
		    BTF_MAX_SIZE >> 20);
		free(buf);
		return -1;
	}
	return adopt(out, (uint8_t *)buf, len, err, errsz);
}

void
btf_free(struct btf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	free(b->off);
	free(b);
}

/* The first type of this kind and name. */
static uint32_t
find_named(const struct btf *b, uint32_t kind, const char *name)
{
	uint32_t id;

	for (id = 1; id <= b->ntypes; id++) {
		const struct btf_type *t = type_at(b, id);
		const char *n;

		if (kind_of(t->info) != kind)
			continue;
		if ((n = str_at(b, t->name_off)) != NULL && strcmp(n, name) == 0)
			return id;
	}
	return 0;
}

/* Through typedefs and qualifiers to the type itself. */
static const struct btf_type *
resolve(const struct btf *b, uint32_t id)
{
	const struct btf_type *t;
	int depth;

	for (depth = 0; depth < BTF_MAX_DEPTH; depth++) {
		if ((t = type_at(b, id)) == NULL)
			return NULL;
		switch (kind_of(t->info)) {
		case KIND_TYPEDEF:
		case KIND_VOLATILE:
		case KIND_CONST:
		case KIND_RESTRICT:
		case KIND_TYPE_TAG:
			id = t->size_type;
			continue;
		}
		return t;
	}
	return NULL;
}

/* The size in bytes of a type, or 0 when it has none that is fixed. */
static uint64_t
size_of(const struct btf *b, uint32_t id, int depth)
{
	const struct btf_type *t = resolve(b, id);

	if (t == NULL || depth > BTF_MAX_DEPTH)
		return 0;
	switch (kind_of(t->info)) {
	case KIND_INT:
	case KIND_STRUCT:
	case KIND_UNION:
	case KIND_ENUM:
	case KIND_ENUM64:
	case KIND_FLOAT:
		return t->size_type;
	case KIND_PTR:
		return sizeof(void *);
	case KIND_ARRAY:
		return (uint64_t)word_after(t, 2) *
		    size_of(b, word_after(t, 0), depth + 1);
	}
	return 0;
}

/*
 * Look for member name in the struct or union t, descending into
 * anonymous members; on success *bits is its bit offset from the start
 * of t and *type its type id.
 */
static int
find_member(const struct btf *b, const struct btf_type *t, const char *name,
    size_t namelen, int depth, uint64_t *bits, uint32_t *type,
    uint32_t *bitfield, unsigned long *steps)
{
	uint32_t i, vlen = vlen_of(t->info);
	int kflag = (t->info >> 31) != 0;

	if (depth > BTF_MAX_DEPTH)
		return -1;
	for (i = 0; i < vlen; i++) {
		/*
		 * Anonymous members may nest without end in a hostile blob
		 * (a struct holding itself): the search has a budget.
		 */
		if (++*steps > BTF_MAX_STEPS)
			return -1;
		uint32_t mname = word_after(t, 3 * i);
		uint32_t mtype = word_after(t, 3 * i + 1);
		uint32_t moff = word_after(t, 3 * i + 2);
		uint32_t off = kflag ? (moff & 0xffffff) : moff;
		uint32_t bsize = kflag ? moff >> 24 : 0;
		const char *n = str_at(b, mname);

		if (n == NULL)
			return -1;
		if (*n == '\0') {
			const struct btf_type *inner = resolve(b, mtype);

			if (inner == NULL ||
			    (kind_of(inner->info) != KIND_STRUCT &&
			    kind_of(inner->info) != KIND_UNION))
				continue;
			if (find_member(b, inner, name, namelen, depth + 1,
			    bits, type, bitfield, steps) == 0) {
				*bits += off;
				return 0;
			}
			continue;
		}
		if (strlen(n) == namelen && strncmp(n, name, namelen) == 0) {
			*bits = off;
			*type = mtype;
			*bitfield = bsize;
			return 0;
		}
	}
	return -1;
}

int
btf_member(const struct btf *b, const char *path, struct btf_field *f,
    char *err, size_t errsz)
{
	const struct btf_type *t;
	const char *dot, *name;
	char sname[128];
	uint64_t bits, total = 0, fsize;
	uint32_t id, type = 0, bitfield = 0;
	unsigned long steps = 0;
	size_t len;

	memset(f, 0, sizeof(*f));
	if ((dot = strchr(path, '.')) == NULL ||
	    (size_t)(dot - path) >= sizeof(sname)) {
		snprintf(err, errsz, "%s: not struct.member", path);
		return -1;
	}
	memcpy(sname, path, (size_t)(dot - path));
	sname[dot - path] = '\0';
	if ((id = find_named(b, KIND_STRUCT, sname)) == 0 &&
	    (id = find_named(b, KIND_UNION, sname)) == 0) {
		snprintf(err, errsz, "struct %s is not in the kernel's BTF",
		    sname);
		return -1;
	}
	t = type_at(b, id);
	/* Each step of a.b.c descends into the member's own struct. */
	for (name = dot + 1; ; name = dot + 1) {
		dot = strchr(name, '.');
		len = dot != NULL ? (size_t)(dot - name) : strlen(name);
		if (len == 0 || find_member(b, t, name, len, 0, &bits, &type,
		    &bitfield, &steps) == -1) {
			snprintf(err, errsz, "%s: no member %.*s", path,
			    (int)len, name);
			return -1;
		}
		total += bits;
		if (dot == NULL)
			break;
		t = resolve(b, type);
		if (t == NULL || (kind_of(t->info) != KIND_STRUCT &&
		    kind_of(t->info) != KIND_UNION)) {
			snprintf(err, errsz, "%s: %.*s is not a struct", path,
			    (int)len, name);
			return -1;
		}
	}
	if (bitfield != 0 || total % 8 != 0) {
		snprintf(err, errsz, "%s is a bit field", path);
		return -1;
	}
	fsize = size_of(b, type, 0);
	if (total / 8 > UINT32_MAX || fsize > UINT32_MAX) {
		snprintf(err, errsz, "%s: offset or size out of range", path);
		return -1;
	}
	f->offset = (uint32_t)(total / 8);
	f->size = (uint32_t)fsize;
	return 0;
}

int
btf_struct_size(const struct btf *b, const char *name)
{
	uint32_t id = find_named(b, KIND_STRUCT, name);
	const struct btf_type *t;

	if (id == 0 || (t = type_at(b, id)) == NULL)
		return -1;
	return (int)t->size_type;
}

int
btf_func_param(const struct btf *b, const char *func, const char *param,
    int *nparams)
{
	const struct btf_type *fn, *proto;
	uint32_t id, i, vlen;

	*nparams = -1;
	if ((id = find_named(b, KIND_FUNC, func)) == 0 ||
	    (fn = type_at(b, id)) == NULL ||
	    (proto = type_at(b, fn->size_type)) == NULL ||
	    kind_of(proto->info) != KIND_FUNC_PROTO)
		return -1;
	vlen = vlen_of(proto->info);
	*nparams = (int)vlen;
	if (param == NULL)
		return -1;
	for (i = 0; i < vlen; i++) {
		const char *n = str_at(b, word_after(proto, 2 * i));

		if (n != NULL && strcmp(n, param) == 0)
			return (int)i;
	}
	return -1;
}

int
btf_has_func(const struct btf *b, const char *func)
{
	return find_named(b, KIND_FUNC, func) != 0;
}

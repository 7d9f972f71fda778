/*
 * Tests of the probe's BTF reader: small BTF blobs built here (anonymous
 * unions, typedefs, nested members, bit fields, prototypes), hostile blobs
 * (cut short, sections outside the data, unknown kinds, unterminated
 * strings), and the running kernel's own BTF, whose trace-event record
 * structs must agree, member by member, with the offsets and sizes that
 * tracefs prints in the events' format files: two descriptions of one
 * layout that the kernel produces independently.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "probe.h"
#include "tpformat.h"

/* ---- a small BTF writer ---- */

struct blob {
	uint8_t		types[4096];
	size_t		tlen;
	char		strs[1024];
	size_t		slen;
	uint32_t	nextid;
};

static void
blob_init(struct blob *b)
{
	memset(b, 0, sizeof(*b));
	b->slen = 1;		/* offset 0 is the empty name */
	b->nextid = 1;
}

static uint32_t
str(struct blob *b, const char *s)
{
	uint32_t off = (uint32_t)b->slen;

	memcpy(b->strs + b->slen, s, strlen(s) + 1);
	b->slen += strlen(s) + 1;
	return off;
}

static void
word(struct blob *b, uint32_t w)
{
	memcpy(b->types + b->tlen, &w, 4);
	b->tlen += 4;
}

static uint32_t
type(struct blob *b, const char *name, uint32_t kind, uint32_t vlen,
    int kflag, uint32_t size_type)
{
	word(b, name != NULL ? str(b, name) : 0);
	word(b, kind << 24 | vlen | (uint32_t)kflag << 31);
	word(b, size_type);
	return b->nextid++;
}

static void
member(struct blob *b, const char *name, uint32_t t, uint32_t bitoff)
{
	word(b, name != NULL ? str(b, name) : 0);
	word(b, t);
	word(b, bitoff);
}

static size_t
blob_out(struct blob *b, uint8_t *out)
{
	uint32_t h[6];
	uint16_t magic = 0xeb9f;

	memcpy(out, &magic, 2);
	out[2] = 1;
	out[3] = 0;
	h[0] = 24;			/* hdr_len */
	h[1] = 0;			/* type_off */
	h[2] = (uint32_t)b->tlen;
	h[3] = (uint32_t)b->tlen;	/* str_off */
	h[4] = (uint32_t)b->slen;
	memcpy(out + 4, h, 20);
	memcpy(out + 24, b->types, b->tlen);
	memcpy(out + 24 + b->tlen, b->strs, b->slen);
	return 24 + b->tlen + b->slen;
}

/*
 * struct inner { u16 port; u16 num; };
 * typedef struct inner inner_t;
 * struct outer {
 *	u32 addr;				0
 *	union { u64 cookie; struct { u32 lo; u32 hi; }; };	8
 *	const inner_t in;			16
 *	u8 flag:1;				20 (bit field)
 *	u8 arr[6];				21
 * };
 * int f(struct outer *sk, int size);
 */
static size_t
build(uint8_t *out)
{
	struct blob b;
	uint32_t u8, u16, u32, u64, inner, td, cinner, lohi, un, outer, arr;
	uint32_t ptr, proto;

	blob_init(&b);
	u8 = type(&b, "u8", 1, 0, 0, 1);
	word(&b, 8);
	u16 = type(&b, "u16", 1, 0, 0, 2);
	word(&b, 16);
	u32 = type(&b, "u32", 1, 0, 0, 4);
	word(&b, 32);
	u64 = type(&b, "u64", 1, 0, 0, 8);
	word(&b, 64);
	inner = type(&b, "inner", 4, 2, 0, 4);
	member(&b, "port", u16, 0);
	member(&b, "num", u16, 16);
	td = type(&b, "inner_t", 8, 0, 0, inner);
	cinner = type(&b, NULL, 10, 0, 0, td);
	lohi = type(&b, NULL, 4, 2, 0, 8);
	member(&b, "lo", u32, 0);
	member(&b, "hi", u32, 32);
	un = type(&b, NULL, 5, 2, 0, 8);
	member(&b, "cookie", u64, 0);
	member(&b, NULL, lohi, 0);
	arr = type(&b, NULL, 3, 0, 0, 0);
	word(&b, u8);
	word(&b, u32);
	word(&b, 6);
	outer = type(&b, "outer", 4, 5, 1, 28);
	member(&b, "addr", u32, 0);
	member(&b, NULL, un, 64);
	member(&b, "in", cinner, 128);
	member(&b, "flag", u8, 1u << 24 | 160);
	member(&b, "arr", arr, 168);
	ptr = type(&b, NULL, 2, 0, 0, outer);
	proto = type(&b, NULL, 13, 2, 0, u32);
	word(&b, str(&b, "sk"));
	word(&b, ptr);
	word(&b, str(&b, "size"));
	word(&b, u32);
	type(&b, "f", 12, 0, 0, proto);
	return blob_out(&b, out);
}

static void
test_synthetic(void)
{
	uint8_t data[8192];
	struct btf *b;
	struct btf_field f;
	char err[256];
	size_t len = build(data);
	int n;

	CHECK(btf_parse(&b, data, len, err, sizeof(err)) == 0);
	if (b == NULL)
		return;
	CHECK(btf_member(b, "outer.addr", &f, err, sizeof(err)) == 0 &&
	    f.offset == 0 && f.size == 4);
	/* Through an anonymous union, and an anonymous struct in it. */
	CHECK(btf_member(b, "outer.cookie", &f, err, sizeof(err)) == 0 &&
	    f.offset == 8 && f.size == 8);
	CHECK(btf_member(b, "outer.hi", &f, err, sizeof(err)) == 0 &&
	    f.offset == 12 && f.size == 4);
	/* Through a const typedef into a named member's struct. */
	CHECK(btf_member(b, "outer.in.num", &f, err, sizeof(err)) == 0 &&
	    f.offset == 18 && f.size == 2);
	CHECK(btf_member(b, "outer.in", &f, err, sizeof(err)) == 0 &&
	    f.offset == 16 && f.size == 4);
	CHECK(btf_member(b, "outer.arr", &f, err, sizeof(err)) == 0 &&
	    f.offset == 21 && f.size == 6);
	CHECK(btf_member(b, "inner.num", &f, err, sizeof(err)) == 0 &&
	    f.offset == 2);
	/* What cannot be fetched as bytes, or is not there. */
	CHECK(btf_member(b, "outer.flag", &f, err, sizeof(err)) == -1 &&
	    strstr(err, "bit field") != NULL);
	CHECK(btf_member(b, "outer.nothere", &f, err, sizeof(err)) == -1 &&
	    strstr(err, "nothere") != NULL);
	CHECK(btf_member(b, "nosuch.addr", &f, err, sizeof(err)) == -1 &&
	    strstr(err, "nosuch") != NULL);
	CHECK(btf_member(b, "outer.addr.x", &f, err, sizeof(err)) == -1);
	CHECK(btf_member(b, "outer", &f, err, sizeof(err)) == -1);
	CHECK(btf_member(b, "outer.", &f, err, sizeof(err)) == -1);
	CHECK(btf_struct_size(b, "outer") == 28);
	CHECK(btf_struct_size(b, "absent") == -1);
	CHECK(btf_func_param(b, "f", "size", &n) == 1 && n == 2);
	CHECK(btf_func_param(b, "f", "sk", &n) == 0);
	CHECK(btf_func_param(b, "f", "flags", &n) == -1 && n == 2);
	CHECK(btf_func_param(b, "g", "sk", &n) == -1 && n == -1);
	CHECK(btf_has_func(b, "f") && !btf_has_func(b, "g"));
	btf_free(b);
}

static void
test_hostile(void)
{
	uint8_t data[8192], bad[8192];
	struct btf *b;
	char err[256];
	size_t len = build(data), cut;
	uint32_t v;

	/* Every truncation is refused, none crashes. */
	for (cut = 0; cut < len; cut++) {
		b = (struct btf *)1;
		CHECK(btf_parse(&b, data, cut, err, sizeof(err)) == -1 &&
		    b == NULL);
	}
	memcpy(bad, data, len);
	bad[0] ^= 0xff;
	CHECK(btf_parse(&b, bad, len, err, sizeof(err)) == -1 &&
	    strstr(err, "magic") != NULL);
	/* A type section that claims more than there is. */
	memcpy(bad, data, len);
	v = 0x7fffffff;
	memcpy(bad + 12, &v, 4);
	CHECK(btf_parse(&b, bad, len, err, sizeof(err)) == -1);
	/* The first type of an unknown kind. */
	memcpy(bad, data, len);
	v = 30u << 24;
	memcpy(bad + 24 + 4, &v, 4);
	CHECK(btf_parse(&b, bad, len, err, sizeof(err)) == -1 &&
	    strstr(err, "kind") != NULL);
	/* A struct whose members run past the section. */
	memcpy(bad, data, len);
	v = 4u << 24 | 60000;
	memcpy(bad + 24 + 4, &v, 4);
	CHECK(btf_parse(&b, bad, len, err, sizeof(err)) == -1);
	/* Strings without their final NUL. */
	memcpy(bad, data, len);
	bad[len - 1] = 'x';
	CHECK(btf_parse(&b, bad, len, err, sizeof(err)) == -1 &&
	    strstr(err, "string") != NULL);
	/* A name offset past the strings is refused on lookup, not read. */
	memcpy(bad, data, len);
	v = 0x7fff0000;
	memcpy(bad + 24 + 4 * 16 + 12 * 0, &v, 4);
	if (btf_parse(&b, bad, len, err, sizeof(err)) == 0) {
		struct btf_field f;

		(void)btf_member(b, "outer.addr", &f, err, sizeof(err));
		btf_free(b);
	}
	CHECK(btf_load(&b, "/nonexistent/btf", err, sizeof(err)) == -1 &&
	    strstr(err, "/nonexistent/btf") != NULL);

	/*
	 * A struct whose anonymous members are of its own type: a search
	 * through them would never end; it gives up.
	 */
	{
		struct blob bl;
		struct btf_field f;
		uint32_t self;
		int i;

		blob_init(&bl);
		self = bl.nextid;
		type(&bl, "loop", 4, 8, 0, 8);
		for (i = 0; i < 8; i++)
			member(&bl, NULL, self, 0);
		len = blob_out(&bl, bad);
		CHECK(btf_parse(&b, bad, len, err, sizeof(err)) == 0);
		if (b != NULL) {
			CHECK(btf_member(b, "loop.x", &f, err,
			    sizeof(err)) == -1);
			btf_free(b);
		}
	}
}

/*
 * The running kernel: each trace event's record is a struct
 * trace_event_raw_<class> in BTF, and its format file lists the same
 * fields with offsets and sizes. Events of a class share its struct; an
 * event whose struct is not found under its own name is looked up by the
 * classes the tests know.
 */
static const struct {
	const char	*dir;		/* events/... */
	const char	*rawname;	/* trace_event_raw_... */
} live_events[] = {
	{ "sock/inet_sock_set_state", "inet_sock_set_state" },
	{ "sock/sock_send_length", "sock_msg_length" },
	{ "sock/sock_recv_length", "sock_msg_length" },
	{ "tcp/tcp_destroy_sock", "tcp_event_sk" },
	{ "tcp/tcp_probe", "tcp_probe" },
	{ "fib/fib_table_lookup", "fib_table_lookup" },
	{ "fib6/fib6_table_lookup", "fib6_table_lookup" },
	{ "sched/sched_process_exec", "sched_process_exec" },
	{ "sched/sched_process_fork", "sched_process_fork" },
	{ "net/net_dev_start_xmit", "net_dev_start_xmit" },
	{ "skb/kfree_skb", "kfree_skb" },
};

static char *
slurp(const char *path, size_t *lenp)
{
	FILE *f;
	char *buf;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	buf = calloc(1, 65536);
	*lenp = fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

static void
test_live(void)
{
	const char *tracefs = "/sys/kernel/tracing";
	struct btf *b;
	char err[256], path[512], member[256];
	size_t i, j, len, checked = 0, events = 0;
	int n;

	if (btf_load(&b, "/sys/kernel/btf/vmlinux", err, sizeof(err)) == -1) {
		CHECK_MSG(0, "the kernel's BTF: %s", err);
		return;
	}
	for (i = 0; i < sizeof(live_events) / sizeof(live_events[0]); i++) {
		struct tp_format fmt;
		char *text;

		snprintf(path, sizeof(path), "%s/events/%s/format", tracefs,
		    live_events[i].dir);
		if ((text = slurp(path, &len)) == NULL)
			continue;	/* not on this kernel */
		CHECK_MSG(tpformat_parse(text, len, &fmt, err,
		    sizeof(err)) == 0, "%s: %s", path, err);
		free(text);
		events++;
		for (j = 0; j < fmt.nfields; j++) {
			const struct tp_field *tf = &fmt.fields[j];
			struct btf_field f;

			/* The common_* fields live in struct trace_entry. */
			if (strncmp(tf->name, "common_", 7) == 0)
				snprintf(member, sizeof(member),
				    "trace_entry.%s", tf->name + 7);
			else
				snprintf(member, sizeof(member),
				    "trace_event_raw_%s.%s%s",
				    live_events[i].rawname,
				    tf->is_dataloc ? "__data_loc_" : "",
				    tf->name);
			if (btf_member(b, member, &f, err, sizeof(err)) != 0) {
				CHECK_MSG(0, "%s: %s", member, err);
				continue;
			}
			CHECK_MSG(f.offset == tf->offset && f.size == tf->size,
			    "%s: BTF %u/%u, format %u/%u", member, f.offset,
			    f.size, tf->offset, tf->size);
			checked++;
		}
	}
	CHECK_MSG(events >= 5 && checked >= 40,
	    "only %zu events, %zu fields compared", events, checked);
	/* Members the kprobe backend fetches, on every kernel it knows. */
	CHECK(btf_member(b, "sock_common.skc_dport", &(struct btf_field){ 0 },
	    err, sizeof(err)) == 0);
	CHECK(btf_member(b, "sk_buff.len", &(struct btf_field){ 0 }, err,
	    sizeof(err)) == 0);
	CHECK(btf_struct_size(b, "sock_common") > 0);
	CHECK(btf_func_param(b, "tcp_sendmsg", "size", &n) == 2 && n == 3);
	btf_free(b);
}

int
main(void)
{
	test_synthetic();
	test_hostile();
	test_live();
	return check_done("test_btf");
}

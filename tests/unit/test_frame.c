/*
 * Unit tests of the frame layer (common/frame.c): the 8-byte header is
 * encoded in network order and decodes back for every valid type and for
 * every length up to and including that type's maximum; a zero, oversized
 * or unknown type, an unknown version or an empty length is refused with
 * an error string. frame_read() on a libevent buffer takes a whole frame
 * and nothing more, waits while a frame is incomplete, refuses an
 * oversized or garbled header before any payload has arrived, and reads
 * frames sent back to back in order.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "check.h"
#include "frame.h"
#include "units.h"

/* Write a header with an arbitrary version, which frame_hdr_encode can't. */
static void
raw_hdr(uint8_t *out, uint32_t len, uint16_t version, uint16_t type)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	out[4] = (uint8_t)(version >> 8);
	out[5] = (uint8_t)version;
	out[6] = (uint8_t)(type >> 8);
	out[7] = (uint8_t)type;
}

/* Decode a header expected to be refused; check errstr mentions want. */
static void
expect_reject(const uint8_t *hdr, const char *want, const char *what)
{
	struct frame_hdr h;
	const char *errstr = NULL;
	int rv;

	rv = frame_hdr_decode(hdr, &h, &errstr);
	CHECK_MSG(rv == -1, "%s: accepted", what);
	CHECK_MSG(errstr != NULL, "%s: no errstr", what);
	if (errstr != NULL && want != NULL)
		CHECK_MSG(strstr(errstr, want) != NULL,
		    "%s: errstr \"%s\" lacks \"%s\"", what, errstr, want);
}

static void
test_byte_order(void)
{
	static const uint8_t want[FRAME_HDR_LEN] = {
		0x00, 0x01, 0x02, 0x03, 0x00, FRAME_VERSION, 0x00, FRAME_SAMPLES
	};
	uint8_t hdr[FRAME_HDR_LEN];

	frame_hdr_encode(hdr, FRAME_SAMPLES, 0x00010203);
	CHECK(memcmp(hdr, want, sizeof(want)) == 0);
}

static void
test_limits(void)
{
	unsigned int t;

	CHECK(frame_max_len(FRAME_NONE) == 0);
	CHECK(frame_max_len(FRAME_TYPE_MAX) == 0);
	CHECK(frame_max_len(0xffff) == 0);
	CHECK(strcmp(frame_type_name(FRAME_NONE), "invalid") == 0);
	CHECK(strcmp(frame_type_name(FRAME_TYPE_MAX), "invalid") == 0);
	CHECK(strcmp(frame_type_name(FRAME_HELLO), "hello") == 0);
	CHECK(strcmp(frame_type_name(FRAME_STATS), "stats") == 0);
	CHECK(frame_max_len(FRAME_SAMPLES) == FRAME_MAX_PAYLOAD);
	for (t = FRAME_HELLO; t < FRAME_TYPE_MAX; t++) {
		CHECK_MSG(frame_max_len(t) > 0 &&
		    frame_max_len(t) <= FRAME_MAX_PAYLOAD,
		    "type %u max %zu", t, frame_max_len(t));
		CHECK_MSG(strcmp(frame_type_name(t), "invalid") != 0,
		    "type %u has no name", t);
	}
}

static void
test_hdr_roundtrip(void)
{
	uint8_t hdr[FRAME_HDR_LEN];
	struct frame_hdr h;
	const char *errstr;
	unsigned int t, i;
	uint32_t max, lens[4];

	for (t = FRAME_HELLO; t < FRAME_TYPE_MAX; t++) {
		max = (uint32_t)frame_max_len(t);
		lens[0] = 1;
		lens[1] = max / 2;
		lens[2] = max - 1;
		lens[3] = max;
		for (i = 0; i < 4; i++) {
			errstr = NULL;
			memset(&h, 0xa5, sizeof(h));
			frame_hdr_encode(hdr, t, lens[i]);
			CHECK_MSG(frame_hdr_decode(hdr, &h, &errstr) == 0,
			    "type %u len %u: %s", t, lens[i],
			    errstr ? errstr : "?");
			CHECK_MSG(h.len == lens[i], "type %u len %u got %u",
			    t, lens[i], h.len);
			CHECK_MSG(h.type == t, "type %u got %u", t, h.type);
			CHECK_MSG(h.version == FRAME_VERSION,
			    "type %u version %u", t, h.version);
		}

		frame_hdr_encode(hdr, t, max + 1);
		expect_reject(hdr, "oversized", "len max+1");
		frame_hdr_encode(hdr, t, UINT32_MAX);
		expect_reject(hdr, "oversized", "len UINT32_MAX");
		frame_hdr_encode(hdr, t, 0);
		expect_reject(hdr, NULL, "len 0");
		raw_hdr(hdr, 1, 0, (uint16_t)t);
		expect_reject(hdr, "version", "version 0");
		raw_hdr(hdr, 1, FRAME_VERSION + 1, (uint16_t)t);
		expect_reject(hdr, "version", "version 2");
		raw_hdr(hdr, 1, 0xffff, (uint16_t)t);
		expect_reject(hdr, "version", "version 0xffff");
	}

	frame_hdr_encode(hdr, FRAME_NONE, 1);
	expect_reject(hdr, "type", "type 0");
	frame_hdr_encode(hdr, FRAME_TYPE_MAX, 1);
	expect_reject(hdr, "type", "type FRAME_TYPE_MAX");
	frame_hdr_encode(hdr, 0xffff, 1);
	expect_reject(hdr, "type", "type 0xffff");
	raw_hdr(hdr, 1, FRAME_VERSION, 0x0100 | FRAME_HELLO);
	expect_reject(hdr, "type", "type 0x101");
}

/* Append a frame of type t whose payload is n bytes of a pattern. */
static void
add_frame(struct evbuffer *b, unsigned int t, uint8_t *payload, size_t n,
    uint8_t seed)
{
	uint8_t hdr[FRAME_HDR_LEN];
	size_t i;

	for (i = 0; i < n; i++)
		payload[i] = (uint8_t)(seed + i * 7);
	frame_hdr_encode(hdr, t, (uint32_t)n);
	evbuffer_add(b, hdr, sizeof(hdr));
	evbuffer_add(b, payload, n);
}

static void
test_read_whole(void)
{
	struct evbuffer *b;
	struct frame f;
	const char *errstr = NULL;
	uint8_t p[100], trail[3] = { 1, 2, 3 };
	uint8_t *big;
	size_t bigmax = frame_max_len(FRAME_SAMPLES);

	if ((b = evbuffer_new()) == NULL)
		abort();

	/* Nothing, then less than a header: wait. */
	CHECK(frame_read(b, &f, &errstr) == 0);
	CHECK(f.payload == NULL);
	evbuffer_add(b, trail, sizeof(trail));
	CHECK(frame_read(b, &f, &errstr) == 0);
	CHECK(evbuffer_get_length(b) == sizeof(trail));
	evbuffer_drain(b, sizeof(trail));

	/* A whole frame followed by unrelated bytes: only the frame goes. */
	add_frame(b, FRAME_FLOW, p, sizeof(p), 11);
	evbuffer_add(b, trail, sizeof(trail));
	CHECK(frame_read(b, &f, &errstr) == 1);
	CHECK(f.hdr.type == FRAME_FLOW);
	CHECK(f.hdr.len == sizeof(p));
	CHECK(f.payload != NULL && memcmp(f.payload, p, sizeof(p)) == 0);
	CHECK(evbuffer_get_length(b) == sizeof(trail));
	frame_clear(&f);
	CHECK(f.payload == NULL);
	evbuffer_drain(b, evbuffer_get_length(b));

	/* A frame of exactly the largest size. */
	if ((big = malloc(bigmax)) == NULL)
		abort();
	add_frame(b, FRAME_SAMPLES, big, bigmax, 5);
	CHECK(frame_read(b, &f, &errstr) == 1);
	CHECK(f.hdr.len == bigmax);
	CHECK(f.payload != NULL && memcmp(f.payload, big, bigmax) == 0);
	CHECK(evbuffer_get_length(b) == 0);
	frame_clear(&f);
	free(big);

	evbuffer_free(b);
}

static void
test_read_bytewise(void)
{
	struct evbuffer *src, *b;
	struct frame f;
	const char *errstr = NULL;
	uint8_t p[37], c;
	size_t i, total;
	int rv;

	if ((src = evbuffer_new()) == NULL || (b = evbuffer_new()) == NULL)
		abort();
	add_frame(src, FRAME_PROCESS, p, sizeof(p), 99);
	total = evbuffer_get_length(src);
	CHECK(total == FRAME_HDR_LEN + sizeof(p));
	for (i = 0; i < total; i++) {
		evbuffer_remove(src, &c, 1);
		evbuffer_add(b, &c, 1);
		rv = frame_read(b, &f, &errstr);
		if (i + 1 < total) {
			CHECK_MSG(rv == 0, "byte %zu: rv %d", i, rv);
			CHECK_MSG(f.payload == NULL, "byte %zu: payload", i);
			CHECK_MSG(evbuffer_get_length(b) == i + 1,
			    "byte %zu: drained to %zu", i,
			    evbuffer_get_length(b));
			if (rv == 1)
				frame_clear(&f);
		} else {
			CHECK_MSG(rv == 1, "last byte: rv %d", rv);
			CHECK(rv == 1 && f.hdr.len == sizeof(p) &&
			    memcmp(f.payload, p, sizeof(p)) == 0);
			CHECK(evbuffer_get_length(b) == 0);
			if (rv == 1)
				frame_clear(&f);
		}
	}
	evbuffer_free(src);
	evbuffer_free(b);
}

static void
test_read_bad(void)
{
	struct evbuffer *b;
	struct frame f;
	const char *errstr;
	uint8_t hdr[FRAME_HDR_LEN];
	unsigned int t;

	if ((b = evbuffer_new()) == NULL)
		abort();

	/* Oversized: refused at once although no payload byte is there. */
	for (t = FRAME_HELLO; t < FRAME_TYPE_MAX; t++) {
		errstr = NULL;
		frame_hdr_encode(hdr, t, (uint32_t)frame_max_len(t) + 1);
		evbuffer_add(b, hdr, sizeof(hdr));
		CHECK_MSG(frame_read(b, &f, &errstr) == -1, "type %u", t);
		CHECK_MSG(errstr != NULL && strstr(errstr, "oversized"),
		    "type %u: errstr %s", t, errstr ? errstr : "NULL");
		CHECK(f.payload == NULL);
		evbuffer_drain(b, evbuffer_get_length(b));
	}
	errstr = NULL;
	frame_hdr_encode(hdr, FRAME_HELLO, UINT32_MAX);
	evbuffer_add(b, hdr, sizeof(hdr));
	CHECK(frame_read(b, &f, &errstr) == -1);
	CHECK(errstr != NULL);
	CHECK(f.payload == NULL);
	evbuffer_drain(b, evbuffer_get_length(b));

	/* Bad version, with a plausible payload behind it. */
	errstr = NULL;
	raw_hdr(hdr, 4, FRAME_VERSION + 1, FRAME_HELLO);
	evbuffer_add(b, hdr, sizeof(hdr));
	evbuffer_add(b, "abcd", 4);
	CHECK(frame_read(b, &f, &errstr) == -1);
	CHECK(errstr != NULL && strstr(errstr, "version") != NULL);
	CHECK(f.payload == NULL);
	evbuffer_drain(b, evbuffer_get_length(b));

	/* Bad type, zero length. */
	errstr = NULL;
	raw_hdr(hdr, 4, FRAME_VERSION, FRAME_NONE);
	evbuffer_add(b, hdr, sizeof(hdr));
	evbuffer_add(b, "abcd", 4);
	CHECK(frame_read(b, &f, &errstr) == -1);
	CHECK(errstr != NULL);
	evbuffer_drain(b, evbuffer_get_length(b));
	errstr = NULL;
	raw_hdr(hdr, 0, FRAME_VERSION, FRAME_HELLO);
	evbuffer_add(b, hdr, sizeof(hdr));
	CHECK(frame_read(b, &f, &errstr) == -1);
	CHECK(errstr != NULL);
	evbuffer_drain(b, evbuffer_get_length(b));

	/* Pure garbage. */
	errstr = NULL;
	evbuffer_add(b, "\xff\xff\xff\xff\xff\xff\xff\xff", FRAME_HDR_LEN);
	CHECK(frame_read(b, &f, &errstr) == -1);
	CHECK(errstr != NULL);
	CHECK(f.payload == NULL);

	evbuffer_free(b);
}

static void
test_read_sequence(void)
{
	struct evbuffer *b;
	struct frame f;
	const char *errstr = NULL;
	uint8_t p1[10], p2[300], p3[1];

	if ((b = evbuffer_new()) == NULL)
		abort();
	add_frame(b, FRAME_HELLO, p1, sizeof(p1), 1);
	add_frame(b, FRAME_STATS, p2, sizeof(p2), 2);
	add_frame(b, FRAME_LOST, p3, sizeof(p3), 3);
	/* And the first half of a fourth header. */
	evbuffer_add(b, "\0\0\0", 3);

	CHECK(frame_read(b, &f, &errstr) == 1);
	CHECK(f.hdr.type == FRAME_HELLO && f.hdr.len == sizeof(p1));
	CHECK(f.payload != NULL && memcmp(f.payload, p1, sizeof(p1)) == 0);
	frame_clear(&f);
	CHECK(frame_read(b, &f, &errstr) == 1);
	CHECK(f.hdr.type == FRAME_STATS && f.hdr.len == sizeof(p2));
	CHECK(f.payload != NULL && memcmp(f.payload, p2, sizeof(p2)) == 0);
	frame_clear(&f);
	CHECK(frame_read(b, &f, &errstr) == 1);
	CHECK(f.hdr.type == FRAME_LOST && f.hdr.len == sizeof(p3));
	CHECK(f.payload != NULL && memcmp(f.payload, p3, sizeof(p3)) == 0);
	frame_clear(&f);
	CHECK(frame_read(b, &f, &errstr) == 0);
	CHECK(f.payload == NULL);
	CHECK(evbuffer_get_length(b) == 3);
	evbuffer_free(b);
}

/*
 * Unit boundaries across lost connections (common/units.c): a stream of
 * a 10-byte preamble and units of 100, 50 and 30 bytes.
 */
static void
test_units(void)
{
	struct units u;
	size_t lost, skip;

	memset(&u, 0, sizeof(u));
	units_connected(&u, 0);
	units_push(&u, 10, 0);
	u.preamble = 1;
	units_push(&u, 100, 0);
	units_push(&u, 50, 0);
	units_push(&u, 30, 0);
	/* 40 bytes of the first unit written: its other 60 are lost. */
	skip = units_cut(&u, 190 - 50, &lost);
	CHECK(skip == 60 && lost == 60 && u.n == 2 && u.preamble == 0);
	/* A new connection: preamble in front, the two units after. */
	units_push(&u, 10, 1);
	u.preamble = 1;
	units_connected(&u, 10 + 80);
	/* Lost before writing anything: the preamble is dropped, no loss. */
	skip = units_cut(&u, 90, &lost);
	CHECK(skip == 10 && lost == 0 && u.n == 2);
	/* The preamble cut in its middle: no loss either. */
	units_push(&u, 10, 1);
	u.preamble = 1;
	units_connected(&u, 90);
	skip = units_cut(&u, 86, &lost);
	CHECK(skip == 6 && lost == 0 && u.n == 2);
	/* Written whole up to a unit's end: nothing to drop. */
	units_push(&u, 10, 1);
	u.preamble = 1;
	units_connected(&u, 90);
	units_settle(&u, 80);
	units_push(&u, 20, 0);
	skip = units_cut(&u, 110 - 60, &lost);
	CHECK(skip == 0 && lost == 0 && u.n == 2 && u.len[u.head] == 30);
	free(u.len);
}

int
main(void)
{
	test_byte_order();
	test_limits();
	test_hdr_roundtrip();
	test_read_whole();
	test_read_bytewise();
	test_read_bad();
	test_read_sequence();
	test_units();
	return check_done("test_frame");
}

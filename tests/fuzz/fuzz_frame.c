/*
 * libFuzzer target for the frame layer (common/frame.c): the first eight
 * bytes are decoded as a header, and the whole input is a byte stream
 * from a peer that frame_read() cuts into frames, once arriving at once
 * and once in two parts, as a socket may deliver it. Frames are contiguous
 * on the wire, so every frame taken must be the header and payload found
 * at the stream's current offset, within its type's maximum, and both
 * ways of arriving must give the same frames and end the same way.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What a stream gave: frames taken, bytes they covered, how it ended. */
struct outcome {
	size_t	frames;
	size_t	used;
	int	last;		/* 0: waits for more bytes, -1: refused */
};

static void
check_hdr(const struct frame_hdr *h)
{
	if (h->version != FRAME_VERSION)
		abort();
	if (h->type == FRAME_NONE || h->type >= FRAME_TYPE_MAX)
		abort();
	if (h->len == 0 || h->len > frame_max_len(h->type) ||
	    h->len > FRAME_MAX_PAYLOAD)
		abort();
	if (strcmp(frame_type_name(h->type), "invalid") == 0)
		abort();
}

/*
 * Take frames off in until frame_read() stops; each must be the one at
 * data + o->used. Returns what the last call said.
 */
static int
drain(struct evbuffer *in, const uint8_t *data, size_t size,
    struct outcome *o)
{
	struct frame f;
	struct frame_hdr h;
	const char *errstr;
	int rv;

	for (;;) {
		errstr = NULL;
		rv = frame_read(in, &f, &errstr);
		if (rv != 1) {
			/* Nothing is allocated for a frame not taken. */
			if (f.payload != NULL)
				abort();
			if (rv == -1 && errstr == NULL)
				abort();
			if (rv != 0 && rv != -1)
				abort();
			return rv;
		}
		check_hdr(&f.hdr);
		if (f.payload == NULL || size - o->used < FRAME_HDR_LEN)
			abort();
		if (frame_hdr_decode(data + o->used, &h, &errstr) == -1 ||
		    memcmp(&h, &f.hdr, sizeof(h)) != 0)
			abort();
		if (size - o->used - FRAME_HDR_LEN < f.hdr.len ||
		    memcmp(f.payload, data + o->used + FRAME_HDR_LEN,
		    f.hdr.len) != 0)
			abort();
		o->used += FRAME_HDR_LEN + f.hdr.len;
		o->frames++;
		/* The buffer holds exactly what was not taken. */
		if (evbuffer_get_length(in) > size - o->used)
			abort();
		frame_clear(&f);
		if (f.payload != NULL)
			abort();
	}
}

/* Feed data[0..cut) and then the rest, taking frames after each. */
static void
stream(const uint8_t *data, size_t size, size_t cut, struct outcome *o)
{
	struct evbuffer *in;

	memset(o, 0, sizeof(*o));
	if ((in = evbuffer_new()) == NULL)
		abort();
	if (cut > 0 && evbuffer_add(in, data, cut) == -1)
		abort();
	/* A refused stream is closed: nothing more is read from it. */
	if ((o->last = drain(in, data, size, o)) == 0) {
		if (cut < size && evbuffer_add(in, data + cut,
		    size - cut) == -1)
			abort();
		o->last = drain(in, data, size, o);
	}
	/* Waiting: every byte not taken is still there, and too few. */
	if (o->last == 0 && evbuffer_get_length(in) != size - o->used)
		abort();
	evbuffer_free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_hdr h;
	struct outcome whole, split;
	const char *errstr = NULL;
	size_t cut;

	if (size >= FRAME_HDR_LEN) {
		if (frame_hdr_decode(data, &h, &errstr) == 0)
			check_hdr(&h);
		else if (errstr == NULL)
			abort();
	}

	stream(data, size, size, &whole);
	/* The cut: anywhere, picked by the input's last two bytes. */
	cut = size < 2 ? 0 :
	    ((size_t)data[size - 2] << 8 | data[size - 1]) % (size + 1);
	stream(data, size, cut, &split);
	if (whole.frames != split.frames || whole.used != split.used ||
	    whole.last != split.last)
		abort();
	return 0;
}

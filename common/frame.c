/*
 * Frame header encoding and validation, and taking whole frames off a
 * libevent input buffer. See frame.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"

static const struct {
	const char	*name;
	size_t		 max;
} frame_types[FRAME_TYPE_MAX] = {
	[FRAME_NONE] =		{ "none",	0 },
	[FRAME_HELLO] =		{ "hello",	1024 },
	[FRAME_FORMATS] =	{ "formats",	256 * 1024 },
	[FRAME_SAMPLES] =	{ "samples",	FRAME_MAX_PAYLOAD },
	[FRAME_LOST] =		{ "lost",	64 * 1024 },
	[FRAME_FLOW] =		{ "flow",	1024 },
	[FRAME_PROCESS] =	{ "process",	1024 },
	[FRAME_STATS] =		{ "stats",	64 * 1024 },
	[FRAME_DIAG] =		{ "diag",	FRAME_MAX_PAYLOAD },
	[FRAME_PACKETS] =	{ "packets",	FRAME_MAX_PAYLOAD },
	[FRAME_DNS] =		{ "dns",	80 * 1024 },
	[FRAME_NETNS] =		{ "netns",	FRAME_MAX_PAYLOAD },
	[FRAME_CGROUP] =	{ "cgroup",	8 * 1024 },
};

const char *
frame_type_name(unsigned int type)
{
	if (type == FRAME_NONE || type >= FRAME_TYPE_MAX)
		return "invalid";
	return frame_types[type].name;
}

size_t
frame_max_len(unsigned int type)
{
	if (type == FRAME_NONE || type >= FRAME_TYPE_MAX)
		return 0;
	return frame_types[type].max;
}

void
frame_hdr_encode(uint8_t *out, unsigned int type, uint32_t len)
{
	uint32_t l = htonl(len);
	uint16_t v = htons(FRAME_VERSION), t = htons((uint16_t)type);

	memcpy(out, &l, 4);
	memcpy(out + 4, &v, 2);
	memcpy(out + 6, &t, 2);
}

int
frame_hdr_decode(const uint8_t *in, struct frame_hdr *h, const char **errstr)
{
	uint32_t l;
	uint16_t v, t;

	memcpy(&l, in, 4);
	memcpy(&v, in + 4, 2);
	memcpy(&t, in + 6, 2);
	h->len = ntohl(l);
	h->version = ntohs(v);
	h->type = ntohs(t);
	if (h->version != FRAME_VERSION) {
		*errstr = "unknown frame version";
		return -1;
	}
	if (h->type == FRAME_NONE || h->type >= FRAME_TYPE_MAX) {
		*errstr = "invalid frame type";
		return -1;
	}
	if (h->len == 0) {
		*errstr = "empty frame";
		return -1;
	}
	if (h->len > frame_types[h->type].max) {
		*errstr = "oversized frame";
		return -1;
	}
	return 0;
}

int
frame_read(struct evbuffer *in, struct frame *f, const char **errstr)
{
	uint8_t hdr[FRAME_HDR_LEN];

	memset(f, 0, sizeof(*f));
	if (evbuffer_get_length(in) < FRAME_HDR_LEN)
		return 0;
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) != sizeof(hdr)) {
		*errstr = "short header copy";
		return -1;
	}
	if (frame_hdr_decode(hdr, &f->hdr, errstr) == -1)
		return -1;
	if (evbuffer_get_length(in) < FRAME_HDR_LEN + (size_t)f->hdr.len)
		return 0;
	if ((f->payload = malloc(f->hdr.len)) == NULL) {
		*errstr = "out of memory";
		return -1;
	}
	evbuffer_drain(in, FRAME_HDR_LEN);
	if (evbuffer_remove(in, f->payload, f->hdr.len) != (int)f->hdr.len) {
		free(f->payload);
		f->payload = NULL;
		*errstr = "short payload copy";
		return -1;
	}
	return 1;
}

void
frame_clear(struct frame *f)
{
	free(f->payload);
	f->payload = NULL;
}

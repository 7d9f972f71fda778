/*
 * Framing of every sockflow socket: an 8-byte header (payload length,
 * version, type; all in network order) followed by one protobuf payload.
 * The length is checked against the maximum of its type before a single
 * byte of payload is allocated. Type 0 is invalid.
 */
#ifndef SOCKFLOW_FRAME_H
#define SOCKFLOW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR_LEN	8
#define FRAME_VERSION	1

enum frame_type {
	FRAME_NONE = 0,
	FRAME_HELLO,
	FRAME_FORMATS,
	FRAME_SAMPLES,
	FRAME_LOST,
	FRAME_FLOW,
	FRAME_PROCESS,
	FRAME_STATS,
	FRAME_DIAG,
	FRAME_PACKETS,
	FRAME_DNS,
	FRAME_NETNS,
	FRAME_CGROUP,
	FRAME_TYPE_MAX
};

/* Largest payload of each type; the largest of all is FRAME_MAX_PAYLOAD. */
#define FRAME_MAX_PAYLOAD	(1024 * 1024)

struct frame_hdr {
	uint32_t	len;
	uint16_t	version;
	uint16_t	type;
};

/* A whole frame taken off a stream: header and owned payload. */
struct frame {
	struct frame_hdr hdr;
	uint8_t		*payload;
};

const char	*frame_type_name(unsigned int type);
size_t		 frame_max_len(unsigned int type);
void		 frame_hdr_encode(uint8_t *out, unsigned int type, uint32_t len);
/*
 * Decode and validate a header from FRAME_HDR_LEN bytes. Returns 0, or -1
 * with *errstr set (unknown version or type, zero or oversized length).
 */
int		 frame_hdr_decode(const uint8_t *in, struct frame_hdr *h,
		    const char **errstr);

struct evbuffer;
/*
 * Take one frame off an input buffer. Returns 1 and fills f (payload owned
 * by the caller; free it), 0 when more bytes are needed, -1 on a protocol
 * error with *errstr set; nothing is allocated for a frame that fails.
 */
int		 frame_read(struct evbuffer *in, struct frame *f,
		    const char **errstr);
void		 frame_clear(struct frame *f);

#endif

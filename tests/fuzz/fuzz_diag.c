/*
 * libFuzzer target for the aggregator's sock_diag parser
 * (aggregator/agg_diag.c): the input is one netlink datagram, as the
 * aggregator reads it from the socket the probe hands over or gets it in
 * a DiagBatch (destroy notifications, or the answer of a start-up dump).
 * Every socket reported must be of a family the flow table knows, with
 * its addresses' unused bytes zero; every message must be either reported
 * or counted as malformed, and nothing else counted.
 */
#include "config.h"

#include <linux/netlink.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static const uint8_t zero[16];

static void
on_diag(const struct agg_diag *d, void *arg)
{
	size_t *n = arg;

	CHECK(d->family == 4 || d->family == 6);
	if (d->family == 4)
		CHECK(memcmp(d->src + 4, zero, 12) == 0 &&
		    memcmp(d->dst + 4, zero, 12) == 0);
	/* Segments and timestamps come from the same tcp_info. */
	CHECK(d->have_info || (d->segs_in == 0 && d->segs_out == 0 &&
	    !d->timestamps));
	(*n)++;
}

/*
 * The most messages a datagram may hold, and the most that may be
 * malformed: every message takes at least a header, and a bad one stops
 * the walk only when its length is.
 */
static size_t
messages(const uint8_t *p, size_t len)
{
	struct nlmsghdr h;
	size_t off = 0, n = 0;

	while (off + sizeof(h) <= len) {
		memcpy(&h, p + off, sizeof(h));
		n++;
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			break;
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t bad = 0;
	size_t reported = 0, n;

	/* The datagram ends where libFuzzer's buffer does. */
	n = agg_diag_parse(data, size, on_diag, &reported, &bad);
	CHECK(n == reported);
	CHECK(n + bad <= messages(data, size));
	return 0;
}

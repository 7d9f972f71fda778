/*
 * sock_diag. The destroy notifications: a NETLINK_SOCK_DIAG socket
 * subscribed to the two TCP SKNLGRP_*_DESTROY groups (the mechanism behind
 * "ss -E"), on which the kernel sends one message per TCP socket destroyed
 * in the probe's network namespace and in every namespace that has an id
 * there, with the final tcp_info: exact segment counts. The probe opens and
 * sets it up (CAP_NET_ADMIN) and hands it to the aggregator, which reads
 * and parses the messages. And the start-up dump of the TCP sockets open
 * now, which the probe reads and forwards unparsed.
 */
#include "config.h"

#include <sys/socket.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/time.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "probe.h"
#include "xmalloc.h"

#define DIAG_RCVBUF	(8 * 1024 * 1024)
#define DIAG_DGRAM_MAX	(64 * 1024)
#define DIAG_BATCH_MAX	256
/* Bytes of datagrams in one batch: the frame's maximum, less overhead. */
#define DIAG_BATCH_BYTES	(FRAME_MAX_PAYLOAD - 16 * DIAG_BATCH_MAX - 64)

/*
 * Dump datagrams waiting to be handed over, one after another in one
 * buffer the size of a frame (not one buffer of the largest size each);
 * flushed when the next would not fit, and at the end of the dump.
 */
struct diag_batch {
	uint8_t		*buf;
	uint8_t		*bufs[DIAG_BATCH_MAX];
	size_t		 lens[DIAG_BATCH_MAX];
	size_t		 n, bytes;
	uint8_t		 dump_protocol;
};

static void
batch_flush(struct diag_batch *b, void (*cb)(const struct msg_diag *, void *),
    void *arg)
{
	struct msg_diag d;

	memset(&d, 0, sizeof(d));
	d.dgram = b->bufs;
	d.len = b->lens;
	d.n = b->n;
	d.dump_protocol = b->dump_protocol;
	if (d.n > 0 || d.dump_protocol != 0)
		cb(&d, arg);
	b->n = 0;
	b->bytes = 0;
}

/*
 * Room for the next datagram (DIAG_DGRAM_MAX bytes), flushing first when
 * it would not fit in the batch.
 */
static uint8_t *
batch_next(struct diag_batch *b, void (*cb)(const struct msg_diag *, void *),
    void *arg)
{
	if (b->buf == NULL)
		b->buf = xreallocarray(NULL, 1, DIAG_BATCH_BYTES);
	if (b->n == DIAG_BATCH_MAX ||
	    b->bytes + DIAG_DGRAM_MAX > DIAG_BATCH_BYTES)
		batch_flush(b, cb, arg);
	b->bufs[b->n] = b->buf + b->bytes;
	return b->bufs[b->n];
}

static void
batch_add(struct diag_batch *b, size_t len)
{
	b->lens[b->n++] = len;
	b->bytes += len;
}

int
diag_open(void)
{
	struct sockaddr_nl snl;
	int fd, sz = DIAG_RCVBUF, on = 1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_SOCK_DIAG);
	if (fd == -1)
		fatal("socket(NETLINK_SOCK_DIAG)");
	/* A burst of closes must not overflow it: CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == -1)
		fatal("SO_RCVBUFFORCE");
	memset(&snl, 0, sizeof(snl));
	snl.nl_family = AF_NETLINK;
	/* TCP only: a UDP notification has no counters to give. */
	snl.nl_groups = (1U << (SKNLGRP_INET_TCP_DESTROY - 1)) |
	    (1U << (SKNLGRP_INET6_TCP_DESTROY - 1));
	if (bind(fd, (struct sockaddr *)&snl, sizeof(snl)) == -1)
		fatal("bind sock_diag destroy groups");
	/*
	 * Also the notifications of every namespace that has an id here
	 * (probe_netns.c). The kernel checks CAP_NET_BROADCAST against the
	 * credentials this socket was opened with, before the drop.
	 */
	if (setsockopt(fd, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &on,
	    sizeof(on)) == -1)
		log_warn("NETLINK_LISTEN_ALL_NSID: sockets of other network "
		    "namespaces will have no packet counts");
	return fd;
}

/*
 * Ask the kernel for every open socket of one family and protocol (with
 * tcp_info for TCP) and hand the answer over unparsed. The probe reads only
 * the netlink headers, to find the end of the dump.
 */
static void
dump_one(int fd, int family, int proto,
    void (*cb)(const struct msg_diag *, void *), void *arg)
{
	struct {
		struct nlmsghdr		h;
		struct inet_diag_req_v2	r;
	} req;
	static struct diag_batch b;
	size_t total = 0;
	int done = 0;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = (uint32_t)(family * 100 + proto);
	req.r.sdiag_family = (uint8_t)family;
	req.r.sdiag_protocol = (uint8_t)proto;
	/* Every state but those of connections already over. */
	req.r.idiag_states = ~((1U << 6) | (1U << 7) | (1U << 12));
	if (proto == IPPROTO_TCP)
		req.r.idiag_ext = 1 << (INET_DIAG_INFO - 1);
	if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
		log_warn("sock_diag dump request");
		return;
	}
	b.dump_protocol = (uint8_t)proto;
	/* Bounded: a dump of more than this many datagrams is cut. */
	while (!done && total < 100000) {
		uint8_t *buf = batch_next(&b, cb, arg);
		ssize_t r;
		size_t off;

		r = recv(fd, buf, DIAG_DGRAM_MAX, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_warn("sock_diag dump");
			break;
		}
		for (off = 0; off + sizeof(struct nlmsghdr) <= (size_t)r;) {
			struct nlmsghdr h;

			memcpy(&h, buf + off, sizeof(h));
			if (h.nlmsg_type == NLMSG_DONE ||
			    h.nlmsg_type == NLMSG_ERROR)
				done = 1;
			if (h.nlmsg_len < sizeof(h))
				break;
			off += NLMSG_ALIGN(h.nlmsg_len);
		}
		batch_add(&b, (size_t)r);
		total++;
	}
	batch_flush(&b, cb, arg);
}

void
diag_dump(int v6, void (*cb)(const struct msg_diag *, void *), void *arg)
{
	struct timeval tv = { 2, 0 };
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd == -1) {
		log_warn("socket(NETLINK_SOCK_DIAG) for the start-up dump");
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	dump_one(fd, AF_INET, IPPROTO_TCP, cb, arg);
	if (v6)
		dump_one(fd, AF_INET6, IPPROTO_TCP, cb, arg);
	close(fd);
}

/*
 * The sock_diag destroy notifications: a NETLINK_SOCK_DIAG socket
 * subscribed to the four SKNLGRP_*_DESTROY groups (the mechanism behind
 * "ss -E"). The kernel sends one message per TCP or UDP socket destroyed
 * in the probe's network namespace, with the final tcp_info of TCP ones:
 * exact segment counts. The probe reads the datagrams and forwards them
 * unparsed; the aggregator parses them.
 */
#include "config.h"

#include <sys/socket.h>

#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "xmalloc.h"

#define DIAG_RCVBUF	(8 * 1024 * 1024)
#define DIAG_DGRAM_MAX	(64 * 1024)
#define DIAG_BATCH_MAX	256

int
diag_open(void)
{
	struct sockaddr_nl snl;
	int fd, sz = DIAG_RCVBUF;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_SOCK_DIAG);
	if (fd == -1)
		fatal("socket(NETLINK_SOCK_DIAG)");
	/* A burst of closes must not overflow it: CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == -1)
		fatal("SO_RCVBUFFORCE");
	memset(&snl, 0, sizeof(snl));
	snl.nl_family = AF_NETLINK;
	snl.nl_groups = (1U << (SKNLGRP_INET_TCP_DESTROY - 1)) |
	    (1U << (SKNLGRP_INET_UDP_DESTROY - 1)) |
	    (1U << (SKNLGRP_INET6_TCP_DESTROY - 1)) |
	    (1U << (SKNLGRP_INET6_UDP_DESTROY - 1));
	if (bind(fd, (struct sockaddr *)&snl, sizeof(snl)) == -1)
		fatal("bind sock_diag destroy groups");
	return fd;
}

size_t
diag_read(int fd, uint64_t *overruns, void (*cb)(const struct msg_diag *,
    void *), void *arg)
{
	static uint8_t *bufs[DIAG_BATCH_MAX];
	static size_t lens[DIAG_BATCH_MAX];
	struct msg_diag d;
	size_t total = 0, n = 0;
	ssize_t r;

	for (;;) {
		if (bufs[n] == NULL)
			bufs[n] = xcalloc(1, DIAG_DGRAM_MAX);
		r = recv(fd, bufs[n], DIAG_DGRAM_MAX, MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* The kernel dropped notifications. */
				(*overruns)++;
				continue;
			}
			if (errno != EAGAIN)
				log_warn("sock_diag recv");
			break;
		}
		if (r == 0)
			break;
		lens[n++] = (size_t)r;
		total++;
		if (n == DIAG_BATCH_MAX) {
			d.dgram = bufs;
			d.len = lens;
			d.n = n;
			d.overruns = *overruns;
			cb(&d, arg);
			n = 0;
		}
	}
	if (n > 0) {
		d.dgram = bufs;
		d.len = lens;
		d.n = n;
		d.overruns = *overruns;
		cb(&d, arg);
	}
	return total;
}

/*
 * The start-up self-test (socket.guess_timeout): once its events are on,
 * the probe makes a little traffic of its own on loopback, again each
 * second until every event has been seen (a TCP
 * connection with a byte each way, reset at the end so that its socket is
 * destroyed at once; UDP datagrams each way, unconnected; the same over
 * ::1 when IPv6 is on), and the main loop then waits until every event
 * has delivered a sample. An event that stays silent is a probe that does
 * not work on this kernel (a function inlined away, a tracepoint that
 * does not fire), and start-up fails naming it rather than run blind.
 *
 * This traffic is real: its flows are reported like any other, with the
 * probe as their process.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"

static socklen_t
loopback(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		return sizeof(*sin6);
	}
}

/*
 * A bound socket of a type on the loopback, its address in *ss. Reads
 * wait a second at most: a firewall dropping loopback traffic makes the
 * self-test fail in time, not hang.
 */
static int
bound(int family, int type, struct sockaddr_storage *ss, socklen_t *len)
{
	struct timeval tv = { 1, 0 };
	int fd;

	*len = loopback(family, ss);
	if ((fd = socket(family, type | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)ss, *len) == -1 ||
	    getsockname(fd, (struct sockaddr *)ss, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
tcp_exchange(int family)
{
	struct sockaddr_storage ss;
	struct linger lg = { 1, 0 };
	socklen_t len;
	char b = 'x';
	int l, c = -1, a = -1;

	struct timeval tv = { 1, 0 };

	if ((l = bound(family, SOCK_STREAM, &ss, &len)) == -1 ||
	    listen(l, 1) == -1 ||
	    (c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(c, (struct sockaddr *)&ss, len) == -1 ||
	    (a = accept(l, NULL, NULL)) == -1 ||
	    write(c, &b, 1) != 1 || read(a, &b, 1) != 1 ||
	    write(a, &b, 1) != 1 || read(c, &b, 1) != 1)
		log_warn("self-test TCP exchange");
	/* A reset: both sockets are destroyed now, not after TIME_WAIT. */
	if (c != -1 && setsockopt(c, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)) == -1)
		log_warn("self-test SO_LINGER");
	if (c != -1)
		close(c);
	if (a != -1)
		close(a);
	if (l != -1)
		close(l);
}

static void
udp_exchange(int family)
{
	struct sockaddr_storage sa, sb;
	socklen_t la, lb;
	char b = 'x';
	int x, y = -1;

	if ((x = bound(family, SOCK_DGRAM, &sa, &la)) == -1 ||
	    (y = bound(family, SOCK_DGRAM, &sb, &lb)) == -1)
		goto out;
	if (sendto(x, &b, 1, 0, (struct sockaddr *)&sb, lb) != 1 ||
	    recv(y, &b, 1, 0) != 1 ||
	    sendto(y, &b, 1, 0, (struct sockaddr *)&sa, la) != 1 ||
	    recv(x, &b, 1, 0) != 1)
		log_warn("self-test UDP exchange");
 out:
	if (x != -1)
		close(x);
	if (y != -1)
		close(y);
}

void
selftest_traffic(int use_v6)
{
	tcp_exchange(AF_INET);
	udp_exchange(AF_INET);
	if (use_v6) {
		tcp_exchange(AF_INET6);
		udp_exchange(AF_INET6);
	}
}

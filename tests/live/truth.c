/*
 * Ground truth for tests/live/truth.sh: known TCP and UDP exchanges
 * between two network namespaces joined by a veth pair (10.211.0.1 and
 * fd00:211::1 in A, 10.211.0.2 and fd00:211::2 in B), and over the
 * loopback of namespace A. Every client runs in A, every server in B
 * (loopback: both in A). Each process enters its namespace with setns(2)
 * right after fork, so that this one program knows every pid, port and
 * byte it caused without asking anyone.
 *
 * Usage: truth NS_A NS_B	(names under /run/netns)
 *
 * It prints one JSON object per line for each flow of truth: case, net
 * (veth or lo), proto, family, index (connection, server or phase number),
 * client and server pid (null when nothing listens), client and server
 * address and port, payload bytes each way and, for UDP, datagrams each
 * way, and client_socket, how the client's socket got its address
 * (connect, an explicit bind to the address, or none: unbound).
 *
 * Every case has its own server ports (4100 + n for IPv4, 4200 + n for
 * IPv6), so the checker can tell them apart. The slow cases (held, idle)
 * run in parallel with the others to keep the test short. Every blocking
 * call has a timeout and every process an alarm, so a lost packet fails
 * the run instead of hanging it; any exchange that does not go exactly
 * as planned makes the program exit 1.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT	10	/* s; longer than the idle gap */
#define PROC_ALARM	30	/* s; no process of a case lives longer */
#define MAIN_ALARM	50	/* s */
#define IDLE_MS		4000	/* idle gap: the test's timeout is 2 s */
#define MANY		50	/* concurrent connections */
#define MULTI		3	/* servers of one UDP client */
#define BUFSZ		65536

enum { NS_A, NS_B };

struct net {
	const char	*name;
	int		 fam;
	const char	*cip, *sip;	/* client and server address */
	int		 nsc, nss;	/* their namespaces */
	int		 base;		/* server ports are base + case */
};

static const struct net nets[] = {
	{ "veth", AF_INET, "10.211.0.1", "10.211.0.2", NS_A, NS_B, 4100 },
	{ "veth", AF_INET6, "fd00:211::1", "fd00:211::2", NS_A, NS_B, 4200 },
	{ "lo", AF_INET, "127.0.0.1", "127.0.0.1", NS_A, NS_A, 4100 },
	{ "lo", AF_INET6, "::1", "::1", NS_A, NS_A, 4200 },
};

/* What a client tells the runner: the ports the kernel gave it. */
struct cinfo {
	int		 n;
	int		 port[MANY];
};

struct caseinfo;

/* One run of a case on one net. */
struct tcase {
	const struct caseinfo	*ci;
	const struct net	*net;
	int			 port;		/* first server port */
	int			 ready[2];	/* server -> runner */
	int			 info[2];	/* client -> runner */
	pid_t			 spid, cpid;
};

struct caseinfo {
	const char	*name;
	const char	*proto;
	const char	*client_socket;	/* connect, bind or none */
	int		 off;		/* port offset */
	int		 slow;		/* runs in parallel with the rest */
	int		 lo;		/* also over loopback */
	void		(*server)(struct tcase *);
	void		(*client)(struct tcase *);
	int		(*print)(const struct tcase *, const struct cinfo *);
};

static int nsfd[2];
static char buf[BUFSZ];

static void die(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void diex(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void vdie(int, const char *, va_list)
    __attribute__((format(printf, 2, 0), noreturn));

static void
vdie(int e, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (e != 0)
		fprintf(stderr, "truth[%ld]: %s: %s\n", (long)getpid(), msg,
		    strerror(e));
	else
		fprintf(stderr, "truth[%ld]: %s\n", (long)getpid(), msg);
	_exit(1);
}

static void
die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vdie(e, fmt, ap);
}

static void
diex(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(0, fmt, ap);
}

static void
pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static socklen_t
sa_make(int fam, const char *ip, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (ip != NULL && inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			diex("bad address %s", ip);
		return sizeof(*s4);
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((uint16_t)port);
	if (ip != NULL && inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
		diex("bad address %s", ip);
	return sizeof(*s6);
}

static int
sa_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ?
	    ((const struct sockaddr_in *)ss)->sin_port :
	    ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		die("getsockname");
	return sa_port(&ss);
}

/* A socket whose every blocking call (connect and accept too) times out. */
static int
sock_new(int fam, int type)
{
	struct timeval tv = { IO_TIMEOUT, 0 };
	int fd;

	if ((fd = socket(fam, type, 0)) == -1)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		die("timeouts");
	return fd;
}

static void
xbind(int fd, int fam, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_make(fam, ip, port, &ss);
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		die("SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		die("bind %s port %d", ip != NULL ? ip : "any", port);
}

static int
tcp_server(const struct tcase *t, int port, int backlog)
{
	int fd = sock_new(t->net->fam, SOCK_STREAM);

	xbind(fd, t->net->fam, t->net->sip, port);
	if (listen(fd, backlog) == -1)
		die("listen");
	return fd;
}

static int
xaccept(int lfd)
{
	struct timeval tv = { IO_TIMEOUT, 0 };
	int fd;

	if ((fd = accept(lfd, NULL, NULL)) == -1)
		die("accept");
	/* An accepted socket does not inherit the timeouts. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		die("timeouts");
	return fd;
}

static int
tcp_client(const struct tcase *t, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_make(t->net->fam, t->net->sip, port, &ss);
	int fd = sock_new(t->net->fam, SOCK_STREAM);

	if (connect(fd, (struct sockaddr *)&ss, len) == -1)
		die("connect port %d", port);
	return fd;
}

/* Exactly n bytes each way; a short count is a failure. */
static void
xfer(int fd, size_t n, int out)
{
	size_t done = 0, chunk;
	ssize_t r;

	while (done < n) {
		chunk = n - done < sizeof(buf) ? n - done : sizeof(buf);
		r = out ? write(fd, buf, chunk) : read(fd, buf, chunk);
		if (r == 0)
			diex("early EOF after %zu of %zu bytes", done, n);
		if (r < 0)
			die(out ? "write" : "read");
		done += (size_t)r;
	}
}

static void
expect_eof(int fd)
{
	ssize_t r = read(fd, buf, 1);

	if (r != 0)
		r < 0 ? die("expected EOF") : diex("data instead of EOF");
}

static void
signal_ready(struct tcase *t)
{
	if (write(t->ready[1], "r", 1) != 1)
		die("ready");
}

static void
report(struct tcase *t, const struct cinfo *ci)
{
	if (write(t->info[1], ci, sizeof(*ci)) != (ssize_t)sizeof(*ci))
		die("report");
}

static void
report_port(struct tcase *t, int port)
{
	struct cinfo ci;

	memset(&ci, 0, sizeof(ci));
	ci.n = 1;
	ci.port[0] = port;
	report(t, &ci);
}

/*
 * One truth line. Written with one write(2) so that lines of cases
 * running in parallel do not interleave.
 */
static int
truth_line(const struct tcase *t, int idx, int cport, int sport, long c2s,
    long s2c, long c2s_n, long s2c_n)
{
	char line[768], spid[24], dg[96];
	int len;

	if (t->spid > 0)
		snprintf(spid, sizeof(spid), "%ld", (long)t->spid);
	else
		snprintf(spid, sizeof(spid), "null");
	if (strcmp(t->ci->proto, "udp") == 0)
		snprintf(dg, sizeof(dg), ",\"c2s_dgrams\":%ld,"
		    "\"s2c_dgrams\":%ld", c2s_n, s2c_n);
	else
		dg[0] = '\0';
	len = snprintf(line, sizeof(line), "{\"case\":\"%s\",\"net\":\"%s\","
	    "\"proto\":\"%s\",\"family\":\"%s\",\"index\":%d,"
	    "\"client_pid\":%ld,\"server_pid\":%s,\"client_ip\":\"%s\","
	    "\"client_port\":%d,\"server_ip\":\"%s\",\"server_port\":%d,"
	    "\"client_socket\":\"%s\",\"c2s_bytes\":%ld,\"s2c_bytes\":%ld%s}\n",
	    t->ci->name, t->net->name, t->ci->proto,
	    t->net->fam == AF_INET ? "ipv4" : "ipv6", idx, (long)t->cpid,
	    spid, t->net->cip, cport, t->net->sip, sport,
	    t->ci->client_socket, c2s, s2c, dg);
	if (len <= 0 || (size_t)len >= sizeof(line) ||
	    write(STDOUT_FILENO, line, (size_t)len) != len) {
		fprintf(stderr, "truth: cannot write the truth\n");
		return -1;
	}
	return 0;
}

/*
 * TCP, short: the client sends SHORT_C2S bytes, the server answers
 * SHORT_S2C, the client closes first.
 */
#define SHORT_C2S	1200
#define SHORT_S2C	3400

static void
short_server(struct tcase *t)
{
	int lfd = tcp_server(t, t->port, 1), fd;

	signal_ready(t);
	fd = xaccept(lfd);
	xfer(fd, SHORT_C2S, 0);
	xfer(fd, SHORT_S2C, 1);
	expect_eof(fd);
	close(fd);
	close(lfd);
}

static void
short_client(struct tcase *t)
{
	int fd = tcp_client(t, t->port);

	report_port(t, local_port(fd));
	xfer(fd, SHORT_C2S, 1);
	xfer(fd, SHORT_S2C, 0);
	close(fd);
}

static int
short_print(const struct tcase *t, const struct cinfo *ci)
{
	return truth_line(t, 0, ci->port[0], t->port, SHORT_C2S, SHORT_S2C,
	    0, 0);
}

/* TCP, held about 3 s: LONG_ROUNDS exchanges half a second apart. */
#define LONG_ROUNDS	6
#define LONG_C2S(i)	(100 * ((i) + 1))
#define LONG_S2C(i)	(300 * ((i) + 1))

static void
long_server(struct tcase *t)
{
	int lfd = tcp_server(t, t->port, 1), fd, i;

	signal_ready(t);
	fd = xaccept(lfd);
	for (i = 0; i < LONG_ROUNDS; i++) {
		xfer(fd, LONG_C2S(i), 0);
		xfer(fd, LONG_S2C(i), 1);
	}
	expect_eof(fd);
	close(fd);
	close(lfd);
}

static void
long_client(struct tcase *t)
{
	int fd = tcp_client(t, t->port), i;

	report_port(t, local_port(fd));
	for (i = 0; i < LONG_ROUNDS; i++) {
		xfer(fd, LONG_C2S(i), 1);
		xfer(fd, LONG_S2C(i), 0);
		pause_ms(500);
	}
	close(fd);
}

static int
long_print(const struct tcase *t, const struct cinfo *ci)
{
	long c2s = 0, s2c = 0;
	int i;

	for (i = 0; i < LONG_ROUNDS; i++) {
		c2s += LONG_C2S(i);
		s2c += LONG_S2C(i);
	}
	return truth_line(t, 0, ci->port[0], t->port, c2s, s2c, 0, 0);
}

/*
 * TCP, MANY connections open at once, each with its own byte counts.
 * The client's first byte on each is its index, so the server knows
 * how much to read and to answer whatever order it accepts them in.
 */
#define MANY_C2S(i)	(200 + 3 * (i))
#define MANY_S2C(i)	(1000 + 7 * (i))

static void
many_server(struct tcase *t)
{
	int lfd = tcp_server(t, t->port, MANY + 14), fd[MANY], seen[MANY];
	int i, idx;

	memset(seen, 0, sizeof(seen));
	signal_ready(t);
	for (i = 0; i < MANY; i++)
		fd[i] = xaccept(lfd);
	for (i = 0; i < MANY; i++) {
		xfer(fd[i], 1, 0);
		idx = (unsigned char)buf[0];
		if (idx >= MANY || seen[idx]++)
			diex("bad connection index %d", idx);
		xfer(fd[i], MANY_C2S(idx) - 1, 0);
		xfer(fd[i], MANY_S2C(idx), 1);
	}
	for (i = 0; i < MANY; i++) {
		expect_eof(fd[i]);
		close(fd[i]);
	}
	close(lfd);
}

static void
many_client(struct tcase *t)
{
	struct cinfo ci;
	int fd[MANY], i;
	unsigned char idx;

	memset(&ci, 0, sizeof(ci));
	for (i = 0; i < MANY; i++) {
		fd[i] = tcp_client(t, t->port);
		ci.port[i] = local_port(fd[i]);
	}
	ci.n = MANY;
	/* All are open now; none closes before every answer is in. */
	for (i = 0; i < MANY; i++) {
		idx = (unsigned char)i;
		if (write(fd[i], &idx, 1) != 1)
			die("write index");
		xfer(fd[i], MANY_C2S(i) - 1, 1);
	}
	for (i = 0; i < MANY; i++)
		xfer(fd[i], MANY_S2C(i), 0);
	for (i = 0; i < MANY; i++)
		close(fd[i]);
	report(t, &ci);
}

static int
many_print(const struct tcase *t, const struct cinfo *ci)
{
	int i;

	for (i = 0; i < MANY; i++)
		if (truth_line(t, i, ci->port[i], t->port, MANY_C2S(i),
		    MANY_S2C(i), 0, 0) == -1)
			return -1;
	return 0;
}

/*
 * TCP, idle: one exchange, a silence longer than the flow inactive
 * timeout, another exchange, close. TCP ends at tcp_destroy_sock, not
 * by inactivity, so this stays one flow.
 */
#define IDLE_C2S1	500
#define IDLE_S2C1	800
#define IDLE_C2S2	600
#define IDLE_S2C2	900

static void
tidle_server(struct tcase *t)
{
	int lfd = tcp_server(t, t->port, 1), fd;

	signal_ready(t);
	fd = xaccept(lfd);
	xfer(fd, IDLE_C2S1, 0);
	xfer(fd, IDLE_S2C1, 1);
	xfer(fd, IDLE_C2S2, 0);
	xfer(fd, IDLE_S2C2, 1);
	expect_eof(fd);
	close(fd);
	close(lfd);
}

static void
tidle_client(struct tcase *t)
{
	int fd = tcp_client(t, t->port);

	report_port(t, local_port(fd));
	xfer(fd, IDLE_C2S1, 1);
	xfer(fd, IDLE_S2C1, 0);
	pause_ms(IDLE_MS);
	xfer(fd, IDLE_C2S2, 1);
	xfer(fd, IDLE_S2C2, 0);
	close(fd);
}

static int
tidle_print(const struct tcase *t, const struct cinfo *ci)
{
	return truth_line(t, 0, ci->port[0], t->port, IDLE_C2S1 + IDLE_C2S2,
	    IDLE_S2C1 + IDLE_S2C2, 0, 0);
}

/*
 * TCP, refused: nothing listens on the port, the SYN gets a RST. The
 * connect is started non-blocking only to learn the port the kernel
 * chose (a refused socket gives its port back); then "refused" waits in
 * a blocking connect(), which is how most programs meet a refusal, and
 * "refused_poll" waits in poll() and reads SO_ERROR, as event loops do.
 * The two leave the kernel socket differently (connect() disconnects
 * it), which is why both are here.
 */
static int
refused_start(struct tcase *t)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_make(t->net->fam, t->net->sip, t->port, &ss);
	int fd = sock_new(t->net->fam, SOCK_STREAM), fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		die("O_NONBLOCK");
	if (connect(fd, (struct sockaddr *)&ss, len) == 0 ||
	    errno != EINPROGRESS)
		die("non-blocking connect did not start");
	report_port(t, local_port(fd));
	return fd;
}

static void
refused_client(struct tcase *t)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_make(t->net->fam, t->net->sip, t->port, &ss);
	int fd = refused_start(t), fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		die("blocking");
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		diex("connect to port %d succeeded", t->port);
	if (errno != ECONNREFUSED)
		die("connect to port %d", t->port);
	close(fd);
}

static void
refused_poll_client(struct tcase *t)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd = refused_start(t), err = 0;

	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, IO_TIMEOUT * 1000) != 1)
		die("poll");
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		die("SO_ERROR");
	if (err != ECONNREFUSED) {
		errno = err;
		die("connect to port %d", t->port);
	}
	close(fd);
}

static int
refused_print(const struct tcase *t, const struct cinfo *ci)
{
	return truth_line(t, 0, ci->port[0], t->port, 0, 0, 0, 0);
}

/*
 * TCP, reset: an exchange, then the client closes with SO_LINGER {1, 0},
 * which sends a RST instead of a FIN; the server reads ECONNRESET.
 */
#define RESET_C2S	700
#define RESET_S2C	900

static void
reset_server(struct tcase *t)
{
	int lfd = tcp_server(t, t->port, 1), fd;

	signal_ready(t);
	fd = xaccept(lfd);
	xfer(fd, RESET_C2S, 0);
	xfer(fd, RESET_S2C, 1);
	if (read(fd, buf, 1) != -1 || errno != ECONNRESET)
		die("expected ECONNRESET");
	close(fd);
	close(lfd);
}

static void
reset_client(struct tcase *t)
{
	struct linger lg = { 1, 0 };
	int fd = tcp_client(t, t->port);

	report_port(t, local_port(fd));
	xfer(fd, RESET_C2S, 1);
	xfer(fd, RESET_S2C, 0);
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == -1)
		die("SO_LINGER");
	close(fd);
}

static int
reset_print(const struct tcase *t, const struct cinfo *ci)
{
	return truth_line(t, 0, ci->port[0], t->port, RESET_C2S, RESET_S2C,
	    0, 0);
}

/* UDP helpers: every datagram must arrive whole and with its size. */
static void
udp_send(int fd, size_t n, const struct sockaddr_storage *to, socklen_t tl)
{
	ssize_t r;

	r = to != NULL ? sendto(fd, buf, n, 0, (const struct sockaddr *)to,
	    tl) : send(fd, buf, n, 0);
	if (r != (ssize_t)n)
		die("send %zu", n);
}

static void
udp_recv(int fd, size_t n, struct sockaddr_storage *from)
{
	socklen_t fl = sizeof(*from);
	ssize_t r;

	r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)from, &fl);
	if (r < 0)
		die("recv (wanted %zu bytes)", n);
	if ((size_t)r != n)
		diex("received %zd bytes, wanted %zu", r, n);
}

static int
udp_server_sock(const struct tcase *t, int port)
{
	int fd = sock_new(t->net->fam, SOCK_DGRAM);

	xbind(fd, t->net->fam, t->net->sip, port);
	return fd;
}

/* Request/response: K datagrams of n bytes, each answered with m. */
static void
udp_serve(int fd, int k, size_t n, size_t m)
{
	struct sockaddr_storage from;
	int i;

	for (i = 0; i < k; i++) {
		udp_recv(fd, n, &from);
		udp_send(fd, m, &from, from.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	}
}

/* The client's side of it; to == NULL: a connected socket. */
static void
udp_ask(int fd, int k, size_t n, size_t m,
    const struct sockaddr_storage *to, socklen_t tl)
{
	struct sockaddr_storage from;
	int i;

	for (i = 0; i < k; i++) {
		udp_send(fd, n, to, tl);
		udp_recv(fd, m, &from);
	}
}

/* UDP, connected client: connect(), then send() and recv(). */
#define UCON_K		3
#define UCON_C2S	120
#define UCON_S2C	360

static void
ucon_server(struct tcase *t)
{
	int fd = udp_server_sock(t, t->port);

	signal_ready(t);
	udp_serve(fd, UCON_K, UCON_C2S, UCON_S2C);
	close(fd);
}

static int
udp_connected_sock(const struct tcase *t, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_make(t->net->fam, t->net->sip, port, &ss);
	int fd = sock_new(t->net->fam, SOCK_DGRAM);

	if (connect(fd, (struct sockaddr *)&ss, len) == -1)
		die("connect");
	return fd;
}

static void
ucon_client(struct tcase *t)
{
	int fd = udp_connected_sock(t, t->port);

	udp_ask(fd, UCON_K, UCON_C2S, UCON_S2C, NULL, 0);
	report_port(t, local_port(fd));
	close(fd);
}

static int
ucon_print(const struct tcase *t, const struct cinfo *ci)
{
	return truth_line(t, 0, ci->port[0], t->port, UCON_K * UCON_C2S,
	    UCON_K * UCON_S2C, UCON_K, UCON_K);
}

/*
 * UDP, unconnected client: an unbound socket, sendto() and recvfrom();
 * the kernel binds a port at the first send, and no address.
 */
#define UUNC_K		4
#define UUNC_C2S	200
#define UUNC_S2C	500

static void
uunc_server(struct tcase *t)
{
	int fd = udp_server_sock(t, t->port);

	signal_ready(t);
	udp_serve(fd, UUNC_K, UUNC_C2S, UUNC_S2C);
	close(fd);
}

static void
uunc_client(struct tcase *t)
{
	struct sockaddr_storage to;
	socklen_t tl = sa_make(t->net->fam, t->net->sip, t->port, &to);
	int fd = sock_new(t->net->fam, SOCK_DGRAM);

	udp_ask(fd, UUNC_K, UUNC_C2S, UUNC_S2C, &to, tl);
	report_port(t, local_port(fd));
	close(fd);
}

static int
uunc_print(const struct tcase *t, const struct cinfo *ci)
{
	return truth_line(t, 0, ci->port[0], t->port, UUNC_K * UUNC_C2S,
	    UUNC_K * UUNC_S2C, UUNC_K, UUNC_K);
}

/*
 * UDP, one client socket (bound to its address) and MULTI servers: each
 * round sends one datagram to every server, then reads every answer.
 * The answers arrive on a socket with several peers.
 */
#define MULTI_ROUNDS	2
#define MULTI_C2S(j)	(150 + 50 * (j))
#define MULTI_S2C(j)	(400 + 100 * (j))

static void
multi_server(struct tcase *t)
{
	int fd[MULTI], r, j;

	for (j = 0; j < MULTI; j++)
		fd[j] = udp_server_sock(t, t->port + j);
	signal_ready(t);
	for (r = 0; r < MULTI_ROUNDS; r++)
		for (j = 0; j < MULTI; j++)
			udp_serve(fd[j], 1, MULTI_C2S(j), MULTI_S2C(j));
	for (j = 0; j < MULTI; j++)
		close(fd[j]);
}

static void
multi_client(struct tcase *t)
{
	struct sockaddr_storage to[MULTI], from;
	socklen_t tl[MULTI], fl;
	int fd = sock_new(t->net->fam, SOCK_DGRAM), got[MULTI], r, j, p;
	ssize_t n;

	xbind(fd, t->net->fam, t->net->cip, 0);
	for (j = 0; j < MULTI; j++)
		tl[j] = sa_make(t->net->fam, t->net->sip, t->port + j, &to[j]);
	for (r = 0; r < MULTI_ROUNDS; r++) {
		for (j = 0; j < MULTI; j++)
			udp_send(fd, MULTI_C2S(j), &to[j], tl[j]);
		memset(got, 0, sizeof(got));
		for (j = 0; j < MULTI; j++) {
			fl = sizeof(from);
			n = recvfrom(fd, buf, sizeof(buf), 0,
			    (struct sockaddr *)&from, &fl);
			if (n < 0)
				die("recvfrom");
			p = sa_port(&from) - t->port;
			if (p < 0 || p >= MULTI || got[p]++ ||
			    n != MULTI_S2C(p))
				diex("unexpected answer of %zd bytes from "
				    "port %d", n, sa_port(&from));
		}
	}
	report_port(t, local_port(fd));
	close(fd);
}

static int
multi_print(const struct tcase *t, const struct cinfo *ci)
{
	int j;

	for (j = 0; j < MULTI; j++)
		if (truth_line(t, j, ci->port[0], t->port + j,
		    MULTI_ROUNDS * MULTI_C2S(j), MULTI_ROUNDS * MULTI_S2C(j),
		    MULTI_ROUNDS, MULTI_ROUNDS) == -1)
			return -1;
	return 0;
}

/*
 * UDP, a server that only receives: RECV_K datagrams from a connected
 * client, never an answer.
 */
#define RECV_K		5
#define RECV_C2S	256

static void
recvonly_server(struct tcase *t)
{
	struct sockaddr_storage from;
	int fd = udp_server_sock(t, t->port), i;

	signal_ready(t);
	for (i = 0; i < RECV_K; i++)
		udp_recv(fd, RECV_C2S, &from);
	close(fd);
}

static void
recvonly_client(struct tcase *t)
{
	int fd = udp_connected_sock(t, t->port), i;

	for (i = 0; i < RECV_K; i++) {
		udp_send(fd, RECV_C2S, NULL, 0);
		/* Nothing paces these; let none overrun the receiver. */
		pause_ms(5);
	}
	report_port(t, local_port(fd));
	close(fd);
}

static int
recvonly_print(const struct tcase *t, const struct cinfo *ci)
{
	return truth_line(t, 0, ci->port[0], t->port, RECV_K * RECV_C2S, 0,
	    RECV_K, 0);
}

/*
 * UDP, idle: request/response, a silence longer than the flow inactive
 * timeout, request/response again; the index of each truth line is the
 * phase. "udp_idle" uses an unbound unconnected client, as uunc does;
 * "udp_idle_connected" a connected one.
 */
#define UIDLE_K(p)	((p) == 0 ? 2 : 3)
#define UIDLE_C2S(p)	((p) == 0 ? 100 : 150)
#define UIDLE_S2C(p)	((p) == 0 ? 300 : 450)

static void
uidle_server(struct tcase *t)
{
	int fd = udp_server_sock(t, t->port), p;

	signal_ready(t);
	for (p = 0; p < 2; p++)
		udp_serve(fd, UIDLE_K(p), UIDLE_C2S(p), UIDLE_S2C(p));
	close(fd);
}

static void
uidle_client(struct tcase *t)
{
	struct sockaddr_storage to;
	socklen_t tl = sa_make(t->net->fam, t->net->sip, t->port, &to);
	int fd = sock_new(t->net->fam, SOCK_DGRAM), p;

	for (p = 0; p < 2; p++) {
		if (p > 0)
			pause_ms(IDLE_MS);
		udp_ask(fd, UIDLE_K(p), UIDLE_C2S(p), UIDLE_S2C(p), &to, tl);
	}
	report_port(t, local_port(fd));
	close(fd);
}

static void
uidle_conn_client(struct tcase *t)
{
	int fd = udp_connected_sock(t, t->port), p;

	for (p = 0; p < 2; p++) {
		if (p > 0)
			pause_ms(IDLE_MS);
		udp_ask(fd, UIDLE_K(p), UIDLE_C2S(p), UIDLE_S2C(p), NULL, 0);
	}
	report_port(t, local_port(fd));
	close(fd);
}

static int
uidle_print(const struct tcase *t, const struct cinfo *ci)
{
	int p;

	for (p = 0; p < 2; p++)
		if (truth_line(t, p, ci->port[0], t->port,
		    UIDLE_K(p) * UIDLE_C2S(p), UIDLE_K(p) * UIDLE_S2C(p),
		    UIDLE_K(p), UIDLE_K(p)) == -1)
			return -1;
	return 0;
}

static const struct caseinfo cases[] = {
	{ "tcp_short", "tcp", "connect", 1, 0, 1,
	    short_server, short_client, short_print },
	{ "tcp_long", "tcp", "connect", 2, 1, 0,
	    long_server, long_client, long_print },
	{ "tcp_many", "tcp", "connect", 3, 0, 0,
	    many_server, many_client, many_print },
	{ "udp_connected", "udp", "connect", 4, 0, 0,
	    ucon_server, ucon_client, ucon_print },
	{ "udp_unconnected", "udp", "none", 5, 0, 0,
	    uunc_server, uunc_client, uunc_print },
	/* Ports 6 to 8: one per server. */
	{ "udp_multi", "udp", "bind", 6, 0, 0,
	    multi_server, multi_client, multi_print },
	{ "udp_recvonly", "udp", "connect", 9, 0, 0,
	    recvonly_server, recvonly_client, recvonly_print },
	{ "tcp_idle", "tcp", "connect", 10, 1, 0,
	    tidle_server, tidle_client, tidle_print },
	{ "udp_idle", "udp", "none", 11, 1, 0,
	    uidle_server, uidle_client, uidle_print },
	{ "udp_idle_connected", "udp", "connect", 12, 1, 0,
	    uidle_server, uidle_conn_client, uidle_print },
	{ "tcp_refused", "tcp", "connect", 13, 0, 0,
	    NULL, refused_client, refused_print },
	{ "tcp_refused_poll", "tcp", "connect", 14, 0, 0,
	    NULL, refused_poll_client, refused_print },
	{ "tcp_reset", "tcp", "connect", 15, 0, 0,
	    reset_server, reset_client, reset_print },
};
#define LO_OFF		20	/* loopback ports: base + 20 + case */

static void
enter_ns(int which)
{
	if (setns(nsfd[which], CLONE_NEWNET) == -1)
		die("setns");
}

static int
child_ok(pid_t pid, const char *what, const struct tcase *t)
{
	int st;

	if (waitpid(pid, &st, 0) == -1) {
		fprintf(stderr, "truth: waitpid: %s\n", strerror(errno));
		return 0;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	fprintf(stderr, "truth: %s %s port %d: the %s failed (status %d)\n",
	    t->ci->name, t->net->name, t->port, what, st);
	return 0;
}

/* Run one case on one net: server first, then the client; 0 when good. */
static int
run_case(const struct caseinfo *ci, const struct net *n, int port)
{
	struct tcase t;
	struct cinfo info;
	size_t got = 0;
	ssize_t r;
	char c;
	int ok = 1;

	memset(&t, 0, sizeof(t));
	memset(&info, 0, sizeof(info));
	t.ci = ci;
	t.net = n;
	t.port = port;
	if (pipe(t.ready) == -1 || pipe(t.info) == -1)
		die("pipe");
	if (ci->server != NULL) {
		if ((t.spid = fork()) == -1)
			die("fork");
		if (t.spid == 0) {
			alarm(PROC_ALARM);
			close(t.ready[0]);
			close(t.info[0]);
			close(t.info[1]);
			enter_ns(n->nss);
			ci->server(&t);
			_exit(0);
		}
	}
	close(t.ready[1]);
	/* EOF here means the server died before it was listening. */
	if (ci->server != NULL && read(t.ready[0], &c, 1) != 1) {
		fprintf(stderr, "truth: %s %s port %d: server not ready\n",
		    ci->name, n->name, port);
		ok = 0;
	}
	if (ok) {
		if ((t.cpid = fork()) == -1)
			die("fork");
		if (t.cpid == 0) {
			alarm(PROC_ALARM);
			close(t.info[0]);
			close(t.ready[0]);
			enter_ns(n->nsc);
			ci->client(&t);
			_exit(0);
		}
	}
	close(t.info[1]);
	while (ok && got < sizeof(info)) {
		r = read(t.info[0], (char *)&info + got, sizeof(info) - got);
		if (r <= 0) {
			ok = 0;
			break;
		}
		got += (size_t)r;
	}
	close(t.info[0]);
	close(t.ready[0]);
	if (t.cpid > 0 && !child_ok(t.cpid, "client", &t))
		ok = 0;
	if (t.spid > 0 && !child_ok(t.spid, "server", &t))
		ok = 0;
	if (ok && ci->print(&t, &info) == -1)
		ok = 0;
	return ok ? 0 : -1;
}

static int
open_ns(const char *name)
{
	char path[256];
	int fd;

	if (strchr(name, '/') != NULL)
		diex("bad namespace name %s", name);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die("%s", path);
	return fd;
}

int
main(int argc, char *argv[])
{
	pid_t slow[2 * sizeof(cases) / sizeof(cases[0])];
	size_t i, nslow = 0;
	int v, st, failed = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: truth NS_A NS_B\n");
		return 2;
	}
	alarm(MAIN_ALARM);
	nsfd[NS_A] = open_ns(argv[1]);
	nsfd[NS_B] = open_ns(argv[2]);
	memset(buf, 'x', sizeof(buf));

	/* The slow cases first, each in a runner of its own. */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!cases[i].slow)
			continue;
		for (v = 0; v < 2; v++) {
			if ((slow[nslow] = fork()) == -1)
				die("fork");
			if (slow[nslow] == 0) {
				alarm(PROC_ALARM);
				_exit(run_case(&cases[i], &nets[v],
				    nets[v].base + cases[i].off) == 0 ? 0 : 1);
			}
			nslow++;
		}
	}
	/* The others one after the other meanwhile. */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].slow)
			continue;
		for (v = 0; v < 2; v++)
			if (run_case(&cases[i], &nets[v],
			    nets[v].base + cases[i].off) == -1)
				failed = 1;
		if (!cases[i].lo)
			continue;
		for (v = 2; v < 4; v++)
			if (run_case(&cases[i], &nets[v],
			    nets[v].base + LO_OFF + cases[i].off) == -1)
				failed = 1;
	}
	for (i = 0; i < nslow; i++)
		if (waitpid(slow[i], &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed = 1;
	return failed;
}

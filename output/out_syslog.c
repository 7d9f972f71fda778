/*
 * The syslog output: each document is the MSG of one RFC 5424 message
 *
 *	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - {"@timestamp":...}
 *
 * with PRI = facility * 8 + 6 (informational), sent over
 *  - unix: datagrams to a local socket (/dev/log by default);
 *  - udp: one datagram per message to host:port;
 *  - tcp: a stream to host:port with octet-counted framing (RFC 6587:
 *    "LENGTH SP MESSAGE"), which needs no escaping of the message.
 * A document stays queued until the socket took all of it. A peer that is
 * not there (no listener, a refused datagram, a closed connection) puts
 * the output down; it connects again every RETRY_S seconds meanwhile, and
 * a TCP message cut by a lost connection is sent again whole on the next
 * one (the receiver may see it twice, never in part). A name in the
 * address is resolved once, at start.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "out.h"
#include "sfconfig.h"
#include "timefmt.h"

#define RETRY_S		1
#define SYSLOG_IOV	32	/* messages per writev() on TCP */
#define SEVERITY_INFO	6
/* "<191>1 " + time + host + app + pid + " - - " + the octet count. */
#define HDR_MAX		(32 + 32 + 256 + 49 + 24 + 8 + 24)

struct osyslog {
	struct event		*ev, *retry;
	int			 net;		/* SYSLOG_NET_* */
	char			 addr[200];
	struct sockaddr_storage	 sa;		/* udp, tcp: resolved at open */
	socklen_t		 salen;
	int			 fd;
	int			 connecting;
	int			 pri;
	char			 host[256];
	char			 app[49];
	long			 pid;
	/* TCP: of the head message, the bytes written, and its header. */
	size_t			 off;
	char			 hdr[SYSLOG_IOV][HDR_MAX];
	size_t			 hdrlen[SYSLOG_IOV];
	int			 warned;
	struct out_queue	 q;
	struct out_counters	 c;
};

static int	syslog_drain(struct osyslog *);

static int
syslog_enabled(const struct sf_config *c)
{
	return c->syslog_enabled == 1;
}

/*
 * The header of one message; for TCP preceded by the octet count of
 * header and document together. Returns its length.
 */
static size_t
syslog_header(struct osyslog *s, char *buf, size_t doclen)
{
	char ts[40], h[HDR_MAX];
	int n, m;

	sf_time_rfc3339(sf_time_now(), ts, sizeof(ts));
	n = snprintf(h, sizeof(h), "<%d>1 %s %s %s %ld - - ", s->pri, ts,
	    s->host, s->app, s->pid);
	if (s->net != SYSLOG_NET_TCP) {
		memcpy(buf, h, (size_t)n);
		return (size_t)n;
	}
	m = snprintf(buf, HDR_MAX, "%zu %s", (size_t)n + doclen, h);
	return (size_t)m;
}

static void
syslog_down(struct osyslog *s, const char *what)
{
	struct timeval tv = { RETRY_S, 0 };

	if (!s->warned)
		log_warnx("syslog %s: %s: %s; keeping up to %zu messages and "
		    "trying again every %d s", s->addr, what, strerror(errno),
		    s->q.cap, RETRY_S);
	s->warned = 1;
	s->c.up = 0;
	if (s->fd != -1) {
		event_del(s->ev);
		close(s->fd);
		s->fd = -1;
	}
	/* A cut TCP message is sent again whole. */
	s->off = 0;
	s->connecting = 0;
	evtimer_add(s->retry, &tv);
}

/* host:port or [v6]:port */
static int
syslog_resolve(const char *addr, int socktype, struct addrinfo **res)
{
	char host[200], *port;
	struct addrinfo hints;

	snprintf(host, sizeof(host), "%s", addr);
	if ((port = strrchr(host, ':')) == NULL)
		return EAI_NONAME;
	*port++ = '\0';
	if (host[0] == '[' && port - host >= 3 && port[-2] == ']') {
		port[-2] = '\0';
		memmove(host, host + 1, strlen(host + 1) + 1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV;
	return getaddrinfo(host, port, &hints, res);
}

static int
syslog_connect(struct osyslog *s)
{
	struct sockaddr_un sun;
	int rc;

	if (s->net == SYSLOG_NET_UNIX) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, s->addr, strlen(s->addr));
		s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (s->fd == -1)
			return -1;
		rc = connect(s->fd, (struct sockaddr *)&sun, sizeof(sun));
	} else {
		s->fd = socket(s->sa.ss_family, (s->net == SYSLOG_NET_TCP ?
		    SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->fd == -1)
			return -1;
		rc = connect(s->fd, (struct sockaddr *)&s->sa, s->salen);
	}
	if (rc == -1 && errno != EINPROGRESS) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	event_assign(s->ev, event_get_base(s->ev), s->fd, EV_WRITE,
	    event_get_callback(s->ev), s);
	s->connecting = rc == -1;
	if (s->connecting)
		event_add(s->ev, NULL);
	return 0;
}

/*
 * The TCP stream: as many whole messages as the socket takes. The header
 * of a message the socket took in part is kept as it was sent, so that
 * the rest follows it unchanged.
 */
static int
syslog_drain_stream(struct osyslog *s)
{
	struct iovec iov[SYSLOG_IOV * 2];
	struct out_doc *d;
	size_t i, n;
	ssize_t w;

	while (s->q.n > 0) {
		n = 0;
		for (i = 0; i < s->q.n && i < SYSLOG_IOV; i++) {
			d = out_queue_peek(&s->q, i);
			if (i > 0 || s->off == 0)
				s->hdrlen[i] = syslog_header(s, s->hdr[i],
				    d->len);
			iov[n].iov_base = s->hdr[i];
			iov[n++].iov_len = s->hdrlen[i];
			iov[n].iov_base = d->data;
			iov[n++].iov_len = d->len;
		}
		out_iov_skip(iov, n, s->off);
		if ((w = writev(s->fd, iov, (int)n)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 1;
			syslog_down(s, "write");
			return -1;
		}
		s->off += (size_t)w;
		for (i = 0; i < n / 2; i++) {
			size_t len = s->hdrlen[i] + out_queue_peek(&s->q, i)->len;

			if (s->off < len)
				break;
			s->off -= len;
			s->c.sent++;
		}
		out_queue_pop(&s->q, i);
		if (s->off > 0 && i > 0) {
			memcpy(s->hdr[0], s->hdr[i], s->hdrlen[i]);
			s->hdrlen[0] = s->hdrlen[i];
		}
	}
	return 0;
}

/* Datagrams: one message each. */
static int
syslog_drain_dgram(struct osyslog *s)
{
	struct iovec iov[2];
	struct msghdr mh;
	struct out_doc *d;
	char hdr[HDR_MAX];

	while (s->q.n > 0) {
		d = out_queue_peek(&s->q, 0);
		iov[0].iov_base = hdr;
		iov[0].iov_len = syslog_header(s, hdr, d->len);
		iov[1].iov_base = d->data;
		iov[1].iov_len = d->len;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = 2;
		if (sendmsg(s->fd, &mh, MSG_NOSIGNAL) == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ENOBUFS)
				return 1;
			if (errno == EMSGSIZE) {
				/* Larger than a datagram can be: never sent. */
				out_queue_pop(&s->q, 1);
				s->c.dropped_failed++;
				continue;
			}
			syslog_down(s, "send");
			return -1;
		}
		out_queue_pop(&s->q, 1);
		s->c.sent++;
	}
	return 0;
}

static int
syslog_drain(struct osyslog *s)
{
	int rc;

	if (s->fd == -1 || s->connecting)
		return 0;
	rc = s->net == SYSLOG_NET_TCP ? syslog_drain_stream(s) :
	    syslog_drain_dgram(s);
	if (rc == 1)
		event_add(s->ev, NULL);
	if (rc != -1 && s->c.up == 0) {
		if (s->warned)
			s->c.reconnects++;
		log_info("syslog %s: sending again", s->addr);
		s->warned = 0;
		s->c.up = 1;
	}
	return rc;
}

static void
syslog_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct osyslog *s = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	if (s->connecting) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			errno = err;
			syslog_down(s, "connect");
			return;
		}
		s->connecting = 0;
	}
	syslog_drain(s);
}

static void
syslog_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct osyslog *s = arg;

	s->c.retries++;
	if (syslog_connect(s) == -1) {
		syslog_down(s, "connect");
		return;
	}
	syslog_drain(s);
}

static void *
syslog_open(struct event_base *base, const struct sf_config *c, char *err,
    size_t errsz)
{
	struct sockaddr_un sun;
	struct osyslog *s;

	if (c->syslog_network == SYSLOG_NET_UNIX &&
	    (c->syslog_address[0] != '/' ||
	    strlen(c->syslog_address) >= sizeof(sun.sun_path))) {
		snprintf(err, errsz, "output.syslog.address: a unix socket "
		    "needs an absolute path of at most %zu bytes",
		    sizeof(sun.sun_path) - 1);
		return NULL;
	}
	if (c->syslog_network != SYSLOG_NET_UNIX &&
	    strrchr(c->syslog_address, ':') == NULL) {
		snprintf(err, errsz, "output.syslog.address: \"%s\" is not "
		    "host:port", c->syslog_address);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    out_queue_init(&s->q, (size_t)c->syslog_queue_size) == -1) {
		free(s);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->net = c->syslog_network;
	snprintf(s->addr, sizeof(s->addr), "%s", c->syslog_address);
	snprintf(s->app, sizeof(s->app), "%s", c->syslog_app_name[0] ?
	    c->syslog_app_name : "-");
	s->pri = c->syslog_facility * 8 + SEVERITY_INFO;
	s->pid = (long)getpid();
	if (gethostname(s->host, sizeof(s->host)) == -1 || s->host[0] == '\0')
		snprintf(s->host, sizeof(s->host), "-");
	s->host[sizeof(s->host) - 1] = '\0';
	s->fd = -1;
	s->c.queue_cap = s->q.cap;
	/*
	 * A name is resolved here, once, before the sandbox: a lookup at each
	 * reconnection would block the loop while the resolver waits.
	 */
	if (s->net != SYSLOG_NET_UNIX) {
		struct addrinfo *res;
		int rc;

		if ((rc = syslog_resolve(s->addr, s->net == SYSLOG_NET_TCP ?
		    SOCK_STREAM : SOCK_DGRAM, &res)) != 0) {
			snprintf(err, errsz, "output.syslog.address: %s: %s",
			    s->addr, gai_strerror(rc));
			out_queue_free(&s->q);
			free(s);
			return NULL;
		}
		memcpy(&s->sa, res->ai_addr, res->ai_addrlen);
		s->salen = res->ai_addrlen;
		freeaddrinfo(res);
	}
	s->ev = event_new(base, -1, EV_WRITE, syslog_ev_cb, s);
	s->retry = evtimer_new(base, syslog_retry_cb, s);
	if (s->ev == NULL || s->retry == NULL) {
		snprintf(err, errsz, "out of memory");
		if (s->ev != NULL)
			event_free(s->ev);
		if (s->retry != NULL)
			event_free(s->retry);
		out_queue_free(&s->q);
		free(s);
		return NULL;
	}
	/* A receiver that is not there yet is waited for, not an error. */
	if (syslog_connect(s) == -1)
		syslog_down(s, "connect");
	else
		s->c.up = 1;
	return s;
}

static void
syslog_push(void *arg, struct out_doc *d)
{
	struct osyslog *s = arg;

	if (out_queue_push(&s->q, d) == -1) {
		s->c.dropped_full++;
		return;
	}
	s->c.accepted++;
	if (s->q.n == 1 && !event_pending(s->ev, EV_WRITE, NULL))
		syslog_drain(s);
}

static void
syslog_counters(void *arg, struct out_counters *c)
{
	struct osyslog *s = arg;

	*c = s->c;
	c->queued = s->q.n;
}

static void
syslog_close(void *arg, int64_t deadline)
{
	struct osyslog *s = arg;
	struct timeval tv = { 0, 10000 };

	/* Run the loop's events of this output until sent or the deadline. */
	while (s->q.n > 0 && s->fd != -1 && out_now() < deadline) {
		if (syslog_drain(s) != 1)
			break;
		select(0, NULL, NULL, NULL, &tv);
	}
	s->c.dropped_failed += s->q.n;
	log_info("syslog %s: %llu sent, %llu dropped (queue full), %llu "
	    "dropped (failed)", s->addr, (unsigned long long)s->c.sent,
	    (unsigned long long)s->c.dropped_full,
	    (unsigned long long)s->c.dropped_failed);
	if (s->fd != -1)
		close(s->fd);
	event_free(s->ev);
	event_free(s->retry);
	out_queue_free(&s->q);
	free(s);
}

const struct out_ops out_syslog_ops = {
	.name = "syslog",
	.enabled = syslog_enabled,
	.open = syslog_open,
	.push = syslog_push,
	.counters = syslog_counters,
	.close = syslog_close,
};

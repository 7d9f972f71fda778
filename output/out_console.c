/*
 * The console output: JSON lines on stdout, the default.
 *
 * stdout is written without blocking, whole lines from a bounded queue.
 * Its descriptor is not made non-blocking: the open file it refers to is
 * often shared (with stderr on a terminal or a journal stream, with the
 * launcher), and others would then meet EAGAIN. A socket is written with
 * MSG_DONTWAIT; a pipe or a terminal only when poll() says it has room,
 * at most PIPE_BUF bytes at a time (which a pipe with room takes whole);
 * a regular file as it comes.
 * a reader that stalls (a pipe nobody drains) fills the queue, and what
 * does not fit is dropped and counted; when the reader drains, writing
 * goes on by itself. A line is never interleaved with another: the part
 * a short write left is written first when stdout is writable again.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "out.h"
#include "sfconfig.h"

/* Lines given to one writev(). */
#define CONSOLE_IOV	64

enum console_kind { CON_FILE, CON_SOCKET, CON_POLL };

struct console {
	struct event		*ev;
	int			 fd;
	enum console_kind	 kind;
	struct out_queue	 q;
	size_t			 off;	/* written of the head line (+ '\n') */
	int			 failed;	/* stdout is gone for good */
	struct out_counters	 c;
};

static int
console_enabled(const struct sf_config *c)
{
	return c->console_enabled == 1;
}

/* One write that cannot block; -1 with EAGAIN when there is no room. */
static ssize_t
console_write(struct console *k, struct iovec *iov, size_t n)
{
	struct pollfd pfd;
	struct msghdr mh;
	size_t i, total = 0;

	switch (k->kind) {
	case CON_SOCKET:
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = n;
		return sendmsg(k->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	case CON_POLL:
		pfd.fd = k->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT)) {
			if (pfd.revents & (POLLERR | POLLHUP)) {
				errno = EPIPE;
				return -1;
			}
			errno = EAGAIN;
			return -1;
		}
		/* No more than a pipe with room takes at once. */
		for (i = 0; i < n; i++) {
			if (total + iov[i].iov_len > PIPE_BUF) {
				iov[i].iov_len = PIPE_BUF - total;
				n = i + 1;
				break;
			}
			total += iov[i].iov_len;
		}
		return writev(k->fd, iov, (int)n);
	case CON_FILE:
		break;
	}
	return writev(k->fd, iov, (int)n);
}

/*
 * Write as much of the queue as stdout takes now. Returns 1 when
 * something is left (wait for writable), else 0.
 */
static int
console_drain(struct console *k)
{
	struct iovec iov[CONSOLE_IOV * 2];
	struct out_doc *d;
	size_t i, n;
	ssize_t w;

	while (k->q.n > 0) {
		n = 0;
		for (i = 0; i < k->q.n && i < CONSOLE_IOV; i++) {
			d = out_queue_peek(&k->q, i);
			iov[n].iov_base = d->data;
			iov[n++].iov_len = d->len;
			iov[n].iov_base = (void *)"\n";
			iov[n++].iov_len = 1;
		}
		/* The head line may be partly written already. */
		out_iov_skip(iov, n, k->off);
		if ((w = console_write(k, iov, n)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 1;
			/* EPIPE, EIO: nobody will read stdout again. */
			log_warn("console output");
			k->c.dropped_failed += k->q.n;
			out_queue_pop(&k->q, k->q.n);
			k->failed = 1;
			k->c.up = 0;
			return 0;
		}
		k->off += (size_t)w;
		while (k->q.n > 0 && k->off >= out_queue_peek(&k->q, 0)->len + 1) {
			k->off -= out_queue_peek(&k->q, 0)->len + 1;
			out_queue_pop(&k->q, 1);
			k->c.sent++;
		}
	}
	return 0;
}

static void
console_cb(evutil_socket_t fd, short what, void *arg)
{
	struct console *k = arg;

	if (console_drain(k))
		event_add(k->ev, NULL);
}

static void *
console_open(struct event_base *base, const struct sf_config *c, char *err,
    size_t errsz)
{
	struct console *k;
	struct stat st;

	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    out_queue_init(&k->q, (size_t)c->console_queue_size) == -1) {
		snprintf(err, errsz, "out of memory");
		free(k);
		return NULL;
	}
	k->fd = STDOUT_FILENO;
	if (fstat(k->fd, &st) == -1) {
		snprintf(err, errsz, "stdout: %s", strerror(errno));
		out_queue_free(&k->q);
		free(k);
		return NULL;
	}
	k->kind = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ? CON_FILE :
	    S_ISSOCK(st.st_mode) ? CON_SOCKET : CON_POLL;
	/* A regular file cannot be polled: it is always writable. */
	k->ev = event_new(base, k->fd, EV_WRITE, console_cb, k);
	k->c.queue_cap = (uint64_t)c->console_queue_size;
	k->c.up = 1;
	return k;
}

static void
console_push(void *arg, struct out_doc *d)
{
	struct console *k = arg;

	if (k->failed) {
		/* Taken and given up at once: the counts still add up. */
		k->c.accepted++;
		k->c.dropped_failed++;
		return;
	}
	if (out_queue_push(&k->q, d) == -1) {
		k->c.dropped_full++;
		return;
	}
	k->c.accepted++;
	if (k->q.n == 1 && console_drain(k) && k->ev != NULL &&
	    event_add(k->ev, NULL) == -1) {
		/* Not pollable (a regular file): write it blocking later. */
		event_free(k->ev);
		k->ev = NULL;
	}
}

static void
console_counters(void *arg, struct out_counters *c)
{
	struct console *k = arg;

	*c = k->c;
	c->queued = k->q.n;
}

static void
console_close(void *arg, int64_t deadline)
{
	struct console *k = arg;
	struct pollfd pfd;
	int64_t left;

	/* The rest, waiting for the reader, but not past the deadline. */
	pfd.fd = k->fd;
	pfd.events = POLLOUT;
	while (console_drain(k) && (left = deadline - out_now()) > 0)
		poll(&pfd, 1, (int)(left / 1000000 + 1));
	k->c.dropped_failed += k->q.n;
	log_info("console: %llu sent, %llu dropped (queue full), %llu "
	    "dropped (failed)", (unsigned long long)k->c.sent,
	    (unsigned long long)k->c.dropped_full,
	    (unsigned long long)(k->c.dropped_failed));
	if (k->ev != NULL)
		event_free(k->ev);
	out_queue_free(&k->q);
	free(k);
}

const struct out_ops out_console_ops = {
	.name = "console",
	.enabled = console_enabled,
	.open = console_open,
	.push = console_push,
	.counters = console_counters,
	.close = console_close,
};

/*
 * Unix stream sockets between sockflow processes. See sock.h.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "sock.h"

/* At exit, a peer that reads nothing for this long is given up. */
#define FLUSH_STALL_MS	2000

int
sock_listen_fd_from_env(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *ep;
	long v;

	if (pid == NULL || fds == NULL)
		return -1;
	v = strtol(pid, &ep, 10);
	if (*ep != '\0' || v != (long)getpid())
		return -1;
	if (strcmp(fds, "1") != 0)
		fatalx("expected exactly one socket from LISTEN_FDS, got %s",
		    fds);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fcntl(3, F_SETFD, FD_CLOEXEC) == -1)
		fatal("LISTEN_FDS descriptor 3");
	return 3;
}

static void
fill_sun(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		fatalx("socket path too long: %s", path);
	strcpy(sun->sun_path, path);
}

int
sock_listen_path(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	fill_sun(&sun, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("unlink %s", path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	if (listen(fd, 4) == -1)
		fatal("listen %s", path);
	return fd;
}

int
sock_connect_path_try(const char *path)
{
	struct sockaddr_un sun;
	int fd, err;

	fill_sun(&sun, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int
sock_connect_path(const char *path)
{
	int fd;

	if ((fd = sock_connect_path_try(path)) == -1)
		fatal("connect %s", path);
	return fd;
}

void
sock_flush_blocking(struct bufferevent *bev)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	struct pollfd pfd;
	int fd = bufferevent_getfd(bev);
	int r;

	bufferevent_disable(bev, EV_WRITE);
	/*
	 * A socket bufferevent freezes the front of its output buffer so that
	 * only it drains it; this is the end of the bufferevent's use.
	 */
	evbuffer_unfreeze(out, 1);
	/*
	 * Non-blocking writes, each after waiting for room: a peer that
	 * reads on is waited for, one that reads nothing for FLUSH_STALL_MS
	 * (a connection in a listener's queue that no one will accept) is
	 * given up, and the exit is not held.
	 */
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while (evbuffer_get_length(out) > 0) {
		if ((r = poll(&pfd, 1, FLUSH_STALL_MS)) == -1 && errno == EINTR)
			continue;
		if (r == 1 && (evbuffer_write(out, fd) > 0 || errno == EINTR ||
		    errno == EAGAIN))
			continue;
		if (r == 0)
			log_warnx("flush at exit: the peer reads nothing; %zu "
			    "byte(s) not written", evbuffer_get_length(out));
		else
			log_warn("flush at exit: %zu byte(s) not written",
			    evbuffer_get_length(out));
		break;
	}
}

int
sock_send_with_fd(int fd, const void *buf, size_t len, int pass)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pass, sizeof(int));
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

ssize_t
sock_recv_with_fd(int fd, void *buf, size_t len, int *passed)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;

	*passed = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(fd, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		size_t i, nfd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		/* One is expected; any other is closed, never kept. */
		for (i = 0; i < nfd; i++) {
			int v;

			memcpy(&v, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*passed == -1 && nfd == 1)
				*passed = v;
			else
				close(v);
		}
	}
	return n;
}

/*
 * Workload generator for sockflow's benchmark: N short TCP connections on
 * loopback with known bytes each way, or M UDP request/response pairs,
 * as fast as possible or paced at a rate. The server runs in a child
 * process; the client in this one. Prints what it did and the CPU time and
 * wall time of both:
 *	mode=tcp n=N bytes=B wall_s=W cpu_s=C
 * Usage: flowgen tcp|udp N BYTES PORT [RATE_PER_S]
 *
 * "hold" opens N TCP connections (from 127.0.0.1, .2, ... so that
 * ephemeral ports do not run out), exchanges BYTES each way on each,
 * prints "held=N" once all are open, keeps them for SECONDS, then closes
 * them all, at CLOSE_RATE connections a second (0: at once):
 *	flowgen hold N BYTES PORT SECONDS [CLOSE_RATE]
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Wait until t: asleep while it is far, so that pacing does not keep a
 * CPU busy (which would slow whatever shares its core), spinning for the
 * last tens of microseconds.
 */
static void
pace_until(double t)
{
	double now;

	while ((now = now_s()) < t) {
		if (t - now > 80e-6) {
			struct timespec ts;

			ts.tv_sec = 0;
			ts.tv_nsec = (long)((t - now - 60e-6) * 1e9);
			nanosleep(&ts, NULL);
		}
	}
}

static void
xfer(int fd, char *buf, size_t n, int out)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = out ? write(fd, buf + done, n - done) :
		    read(fd, buf + done, n - done);
		if (r <= 0) {
			perror(out ? "write" : "read");
			exit(1);
		}
		done += (size_t)r;
	}
}

static double
cpu_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/*
 * One share of "hold": n connections to port from 127.0.0.(first + i /
 * 20000), held until the parent closes the pipe it gave (go), after which
 * everything is closed. Writes one byte to ready once all are open.
 */
static void
hold_share(int n, size_t bytes, int port, int first, int ready, int go,
    double rate)
{
	double next;
	struct sockaddr_in sin, src;
	int lfd, one = 1, i, st, *fds, p[2];
	char *buf, c = 0;
	pid_t srv;

	if ((buf = calloc(1, bytes + 1)) == NULL ||
	    (fds = calloc((size_t)n, sizeof(int))) == NULL || pipe(p) == -1)
		_exit(1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1) {
		perror("listen");
		_exit(1);
	}
	if ((srv = fork()) == 0) {
		/* Keep every accepted socket until the client says so. */
		close(p[1]);
		for (i = 0; i < n; i++) {
			if ((fds[i] = accept(lfd, NULL, NULL)) == -1) {
				perror("accept");
				_exit(1);
			}
			xfer(fds[i], buf, bytes, 0);
			xfer(fds[i], buf, bytes, 1);
		}
		if (read(p[0], &c, 1) == -1)
			perror("read");
		for (i = 0; i < n; i++)
			close(fds[i]);
		_exit(0);
	}
	close(lfd);
	close(p[0]);
	for (i = 0; i < n; i++) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)first +
		    (uint32_t)(i / 20000));
		if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    bind(fds[i], (struct sockaddr *)&src, sizeof(src)) == -1 ||
		    connect(fds[i], (struct sockaddr *)&sin,
		    sizeof(sin)) == -1) {
			perror("connect");
			kill(srv, SIGTERM);
			/* Tell the parent, which would otherwise wait for ever. */
			c = 'x';
			if (write(ready, &c, 1) != 1)
				perror("pipe");
			_exit(1);
		}
		xfer(fds[i], buf, bytes, 1);
		xfer(fds[i], buf, bytes, 0);
	}
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) == -1)
		perror("pipe");
	next = now_s();
	for (i = 0; i < n; i++) {
		if (rate > 0) {
			struct timespec ts;

			next += 1.0 / rate;
			while (now_s() < next) {
				ts.tv_sec = 0;
				ts.tv_nsec = 200000;
				nanosleep(&ts, NULL);
			}
		}
		close(fds[i]);
	}
	close(p[1]);
	waitpid(srv, &st, 0);
	_exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
}

/*
 * N connections open at once; see the usage above. A process may hold
 * only so many descriptors (and raising the limit needs a privilege the
 * benchmark should not ask for), so shares of HOLD_SHARE connections go
 * to pairs of processes, each pair on its own port.
 */
#define HOLD_SHARE	9000

static int
hold(int n, size_t bytes, int port, int secs, double close_rate)
{
	int ready[2], go[2], k, nk, st, ok = 1;
	char c;

	nk = (n + HOLD_SHARE - 1) / HOLD_SHARE;
	if (pipe(ready) == -1 || pipe(go) == -1)
		return 1;
	for (k = 0; k < nk; k++) {
		int share = k < nk - 1 ? HOLD_SHARE : n - k * HOLD_SHARE;

		if (fork() == 0) {
			close(ready[0]);
			close(go[1]);
			hold_share(share, bytes, port + k, 1 + k, ready[1],
			    go[0], close_rate / nk);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (k = 0; k < nk; k++) {
		struct pollfd pfd = { ready[0], POLLIN, 0 };

		/* A share that died without a word must not hang the run. */
		if (poll(&pfd, 1, 300 * 1000) != 1 ||
		    read(ready[0], &c, 1) != 1 || c == 'x') {
			fprintf(stderr, "a share failed to open\n");
			ok = 0;
			break;
		}
	}
	if (ok) {
		printf("held=%d\n", n);
		fflush(stdout);
		sleep((unsigned int)secs);
	}
	close(go[1]);
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	printf("closed=%d ok=%d\n", n, ok);
	return ok ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;
	int tcp, n, port, lfd, fd = -1, one = 1, i, st;
	size_t bytes;
	double rate = 0, t0, t1, next;
	char *buf;
	pid_t srv;

	if (argc < 5)
		return 2;
	if (strcmp(argv[1], "hold") == 0)
		return hold(atoi(argv[2]), (size_t)atol(argv[3]),
		    atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 10,
		    argc > 6 ? atof(argv[6]) : 0);
	tcp = strcmp(argv[1], "tcp") == 0;
	n = atoi(argv[2]);
	bytes = (size_t)atol(argv[3]);
	port = atoi(argv[4]);
	if (argc > 5)
		rate = atof(argv[5]);
	if ((buf = calloc(1, bytes + 1)) == NULL)
		return 1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	lfd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("bind");
		return 1;
	}
	if (tcp && listen(lfd, 1024) == -1)
		return 1;
	if ((srv = fork()) == 0) {
		for (i = 0; i < n; i++) {
			if (tcp) {
				if ((fd = accept(lfd, NULL, NULL)) == -1)
					_exit(1);
				xfer(fd, buf, bytes, 0);
				xfer(fd, buf, bytes, 1);
				close(fd);
			} else {
				struct sockaddr_storage ss;
				socklen_t sl = sizeof(ss);
				ssize_t r = recvfrom(lfd, buf, bytes, 0,
				    (struct sockaddr *)&ss, &sl);

				if (r > 0)
					sendto(lfd, buf, (size_t)r, 0,
					    (struct sockaddr *)&ss, sl);
			}
		}
		_exit(0);
	}
	close(tcp ? lfd : -1);
	t0 = now_s();
	next = t0;
	if (!tcp) {
		struct timeval tv = { 1, 0 };

		fd = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	for (i = 0; i < n; i++) {
		if (rate > 0) {
			next += 1.0 / rate;
			pace_until(next);
		}
		if (tcp) {
			if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
			    connect(fd, (struct sockaddr *)&sin,
			    sizeof(sin)) == -1) {
				perror("connect");
				return 1;
			}
			xfer(fd, buf, bytes, 1);
			xfer(fd, buf, bytes, 0);
			close(fd);
		} else {
			sendto(fd, buf, bytes, 0, (struct sockaddr *)&sin,
			    sizeof(sin));
			if (recv(fd, buf, bytes, 0) <= 0) {
				fprintf(stderr, "udp reply %d lost\n", i);
				kill(srv, SIGTERM);
				break;
			}
		}
	}
	waitpid(srv, &st, 0);
	t1 = now_s();
	printf("mode=%s n=%d bytes=%zu wall_s=%.3f cpu_s=%.3f\n", argv[1], n,
	    bytes, t1 - t0, cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN));
	free(buf);
	return 0;
}

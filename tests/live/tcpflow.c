/*
 * Ground truth for the live tests: one TCP connection with known
 * processes. The program forks a server (bind, listen, accept, read N
 * bytes, write N bytes back) and a client (connect, write N, read N), lets
 * one side close first, and prints what it knows:
 *	server_pid=S client_pid=C client_port=P addr=A port=Q bytes=N
 * Usage: tcpflow ADDR PORT NBYTES client-first|server-first
 * With TCPFLOW_CLIENT_UID=N in the environment, the client becomes uid and
 * gid N (setresgid, setresuid) before it connects: a credential change
 * after exec, as a daemon dropping root makes.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
die(const char *what)
{
	perror(what);
	_exit(1);
}

static int
make_addr(const char *a, int port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return AF_INET6;
	}
	fprintf(stderr, "bad address %s\n", a);
	exit(2);
}

static void
xfer(int fd, char *buf, size_t n, int out)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = out ? write(fd, buf + done, n - done) :
		    read(fd, buf + done, n - done);
		if (r <= 0)
			die(out ? "write" : "read");
		done += (size_t)r;
	}
}

int
main(int argc, char *argv[])
{
	struct sockaddr_storage ss, me;
	socklen_t sl, ml = sizeof(me);
	int fam, port, lfd, fd, one = 1, ready[2], info[2], server_first;
	size_t n;
	char *buf, c;
	pid_t spid, cpid;
	unsigned cport = 0;
	int st1, st2;

	if (argc != 5)
		return 2;
	port = atoi(argv[2]);
	n = (size_t)atol(argv[3]);
	server_first = strcmp(argv[4], "server-first") == 0;
	fam = make_addr(argv[1], port, &ss, &sl);
	if ((buf = calloc(1, n + 1)) == NULL)
		return 1;
	memset(buf, 'x', n);
	if (pipe(ready) == -1 || pipe(info) == -1)
		die("pipe");

	if ((spid = fork()) == 0) {
		if ((lfd = socket(fam, SOCK_STREAM, 0)) == -1)
			die("socket");
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&ss, sl) == -1)
			die("bind");
		if (listen(lfd, 1) == -1)
			die("listen");
		if (write(ready[1], "r", 1) != 1)
			die("ready");
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			die("accept");
		xfer(fd, buf, n, 0);
		xfer(fd, buf, n, 1);
		if (!server_first) {
			/* Wait for the client's FIN before closing. */
			if (read(fd, &c, 1) != 0)
				die("expected EOF");
		}
		close(fd);
		close(lfd);
		_exit(0);
	}
	if (read(ready[0], &c, 1) != 1)
		die("server not ready");
	if ((cpid = fork()) == 0) {
		const char *uid = getenv("TCPFLOW_CLIENT_UID");

		if (uid != NULL) {
			id_t id = (id_t)atol(uid);

			if (setresgid(id, id, id) == -1 ||
			    setresuid(id, id, id) == -1)
				die("setresuid");
		}
		if ((fd = socket(fam, SOCK_STREAM, 0)) == -1)
			die("socket");
		if (connect(fd, (struct sockaddr *)&ss, sl) == -1)
			die("connect");
		if (getsockname(fd, (struct sockaddr *)&me, &ml) == -1)
			die("getsockname");
		cport = ntohs(fam == AF_INET ?
		    ((struct sockaddr_in *)&me)->sin_port :
		    ((struct sockaddr_in6 *)&me)->sin6_port);
		if (write(info[1], &cport, sizeof(cport)) != sizeof(cport))
			die("info");
		xfer(fd, buf, n, 1);
		xfer(fd, buf, n, 0);
		if (server_first && read(fd, &c, 1) != 0)
			die("expected EOF");
		close(fd);
		_exit(0);
	}
	if (read(info[0], &cport, sizeof(cport)) != sizeof(cport))
		die("client port");
	waitpid(spid, &st1, 0);
	waitpid(cpid, &st2, 0);
	if (!WIFEXITED(st1) || WEXITSTATUS(st1) != 0 || !WIFEXITED(st2) ||
	    WEXITSTATUS(st2) != 0) {
		fprintf(stderr, "a side failed\n");
		return 1;
	}
	printf("server_pid=%ld client_pid=%ld client_port=%u addr=%s port=%d "
	    "bytes=%zu\n", (long)spid, (long)cpid, cport, argv[1], port, n);
	free(buf);
	return 0;
}

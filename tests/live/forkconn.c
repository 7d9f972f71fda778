/*
 * Short-lived processes for tests/live/procs.sh: listen on 127.0.0.1:PORT,
 * then N times fork a child that connects, sends 100 bytes and exits at
 * once, without an exec of its own. The parent accepts and reads each
 * connection, reaps the child and prints
 *	parent_pid=P child_pid=C child_port=Q lifetime_us=T
 * where T is the time from fork() to the child's reaping, then waits
 * LINGER_MS before it exits itself.
 * Usage: forkconn PORT N [LINGER_MS]
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin, peer;
	socklen_t plen;
	char buf[512];
	int ls, c, one = 1, i, n, status;
	long t0;
	pid_t pid;

	if (argc != 3 && argc != 4)
		return 2;
	n = atoi(argv[2]);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, 16) == -1)
		die("listen");
	alarm(20);
	for (i = 0; i < n; i++) {
		t0 = now_us();
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0) {
			int s = socket(AF_INET, SOCK_STREAM, 0);

			memset(buf, 'x', 100);
			if (s == -1 || connect(s, (struct sockaddr *)&sin,
			    sizeof(sin)) == -1 || write(s, buf, 100) != 100)
				_exit(1);
			_exit(0);
		}
		plen = sizeof(peer);
		if ((c = accept(ls, (struct sockaddr *)&peer, &plen)) == -1)
			die("accept");
		while (read(c, buf, sizeof(buf)) > 0)
			;
		close(c);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "child %d failed\n", (int)pid);
			return 1;
		}
		printf("parent_pid=%d child_pid=%d child_port=%u "
		    "lifetime_us=%ld\n", (int)getpid(), (int)pid,
		    ntohs(peer.sin_port), now_us() - t0);
	}
	fflush(stdout);
	if (argc == 4)
		usleep((useconds_t)atoi(argv[3]) * 1000);
	return 0;
}

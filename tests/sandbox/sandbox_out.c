/*
 * Loads sockflow-output's real sandbox (out_sandbox.c, linked as is) for
 * a configuration and then does what the test asks.
 *
 *	sandbox_out export-console | export-all	the policy, on stdout
 *	sandbox_out console|all ACTION
 *
 * "console" is the default configuration (the console alone); "all" has
 * every output on. ACTION: none; inet (an IPv4 socket: allowed only when
 * a network output is on); openwrite (a file for writing: only with the
 * file output); thread (a thread: only for kafka and elasticsearch);
 * execve, mmapexec (never).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "out_main.h"
#include "sandbox.h"
#include "sfconfig.h"

static void *
thread_main(void *arg)
{
	return arg;
}

int
main(int argc, char *argv[])
{
	const char *mode = argc > 1 ? argv[1] : "console";
	const char *what = argc > 2 ? argv[2] : "none";
	struct sf_config c;
	pthread_t t;
	int fd;

	log_init("sandbox_out", 1);
	config_defaults(&c);
	if (strcmp(mode, "all") == 0 || strcmp(mode, "export-all") == 0)
	{
		c.file_enabled = c.syslog_enabled = c.kafka_enabled =
		    c.es_enabled = 1;
		snprintf(c.es_dead_letter, sizeof(c.es_dead_letter),
		    "/var/lib/sockflow/dead-letter.ndjson");
	}
	if (strncmp(mode, "export-", 7) == 0)
		return sandbox_export(out_sandbox_policy(&c), 1) == 0 ? 0 : 1;
	out_sandbox_enter(&c);
	if (write(1, "sandboxed\n", 10) != 10)
		return 2;
	if (strcmp(what, "inet") == 0) {
		if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
			return 4;
		close(fd);
		return write(1, "allowed\n", 8) == 8 ? 0 : 2;
	}
	if (strcmp(what, "openwrite") == 0) {
		fd = (int)syscall(SYS_openat, AT_FDCWD,
		    "/tmp/sockflow-sandbox-out-test", O_WRONLY | O_CREAT, 0600);
		if (fd == -1)
			return 4;
		close(fd);
		/* As the file output removes: unlinkat. */
		syscall(SYS_unlinkat, AT_FDCWD,
		    "/tmp/sockflow-sandbox-out-test", 0);
		return write(1, "allowed\n", 8) == 8 ? 0 : 2;
	}
	if (strcmp(what, "thread") == 0) {
		if (pthread_create(&t, NULL, thread_main, NULL) != 0 ||
		    pthread_join(t, NULL) != 0)
			return 4;
		return write(1, "allowed\n", 8) == 8 ? 0 : 2;
	}
	if (strcmp(what, "execve") == 0) {
		char *args[] = { (char *)"/bin/true", NULL };

		syscall(SYS_execve, "/bin/true", args, NULL);
	} else if (strcmp(what, "mmapexec") == 0)
		syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else if (strcmp(what, "none") != 0)
		return 2;
	if (strcmp(what, "none") != 0) {
		if (write(1, "survived\n", 9) != 9)
			return 2;
		return 3;
	}
	return 0;
}

/*
 * Loads the enricher's real sandbox (enr_sandbox.c, linked as is) and
 * then does what the test asks: read a /proc file (permitted), or a call
 * the policy forbids (opening for writing, a new socket, exec).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/syscall.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "enr.h"
#include "log.h"
#include "sandbox.h"

int
main(int argc, char *argv[])
{
	const char *what = argc > 1 ? argv[1] : "none";
	char buf[64];
	int fd;

	log_init("sandbox_enr", 1);
	/* "export": the policy as the kernel would get it, on stdout. */
	if (strcmp(what, "export") == 0)
		return sandbox_export(enr_sandbox_policy(), 1) == 0 ? 0 : 1;
	enr_sandbox_enter(NULL);
	if (write(1, "sandboxed\n", 10) != 10)
		return 2;
	if (strcmp(what, "readproc") == 0) {
		if ((fd = open("/proc/self/comm", O_RDONLY)) == -1 ||
		    read(fd, buf, sizeof(buf)) <= 0)
			return 4;
		close(fd);
		if (write(1, "read ok\n", 8) != 8)
			return 2;
		return 0;
	}
	if (strcmp(what, "openwrite") == 0)
		syscall(SYS_openat, AT_FDCWD, "/tmp/sockflow-sandbox-test",
		    O_WRONLY | O_CREAT, 0600);
	else if (strcmp(what, "socket") == 0)
		syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
	else if (strcmp(what, "execve") == 0) {
		char *args[] = { (char *)"/bin/true", NULL };

		syscall(SYS_execve, "/bin/true", args, NULL);
	} else if (strcmp(what, "none") != 0)
		return 2;
	if (strcmp(what, "none") != 0) {
		if (write(1, "survived\n", 9) != 9)
			return 2;
		return 3;
	}
	return 0;
}

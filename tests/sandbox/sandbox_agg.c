/*
 * Loads the aggregator's real sandbox (agg_sandbox.c, linked as is) and
 * then does what the test asks: nothing, or a call the policy forbids.
 * tests/sandbox/kill.sh checks that the forbidden calls kill the process
 * with SIGSYS and that the permitted path runs.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/syscall.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "agg.h"
#include "log.h"
#include "sandbox.h"

int
main(int argc, char *argv[])
{
	const char *what = argc > 1 ? argv[1] : "none";

	log_init("sandbox_agg", 1);
	/* "export": the policy as the kernel would get it, on stdout. */
	if (strcmp(what, "export") == 0)
		return sandbox_export(agg_sandbox_policy(), 1) == 0 ? 0 : 1;
	agg_sandbox_enter(NULL);
	if (write(1, "sandboxed\n", 10) != 10)
		return 2;
	if (strcmp(what, "socket") == 0)
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	else if (strcmp(what, "open") == 0)
		syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
	else if (strcmp(what, "getuid") == 0)
		syscall(SYS_getuid);
	else if (strcmp(what, "execve") == 0) {
		char *args[] = { (char *)"/bin/true", NULL };

		syscall(SYS_execve, "/bin/true", args, NULL);
	} else if (strcmp(what, "none") != 0)
		return 2;
	if (strcmp(what, "none") != 0) {
		/* Reaching this line means the filter let the call through. */
		if (write(1, "survived\n", 9) != 9)
			return 2;
		return 3;
	}
	return 0;
}

/*
 * Every privilege and sandbox decision of the enricher, in one file.
 *
 * Same order as the aggregator: become the unprivileged user, prove it,
 * no_new_privs, then an allow-list that kills on anything else. Beyond the
 * event loop, the enricher may open files read-only (it reads
 * /proc/PID/comm of processes it did not see start) and write its output.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <fcntl.h>

#include "enr.h"
#include "log.h"
#include "privdrop.h"
#include "sandbox.h"

/* Flags that would let an open() create, truncate or write. */
#define OPEN_WRITE_FLAGS (O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE)

void
enr_sandbox_enter(const char *user)
{
	struct privdrop_user u;

	privdrop_lookup(user, &u);
	privdrop_to_user(&u);
	sandbox_load(enr_sandbox_policy());
}

/*
 * The allow-list. Every rule is here, with the call that needs it; the
 * policy as the kernel gets it is committed in tests/sandbox/ (a test
 * compares), so that any change to it shows as a diff.
 */
scmp_filter_ctx
enr_sandbox_policy(void)
{
	scmp_filter_ctx ctx;

	ctx = sandbox_new();

	/* /proc/PID/comm of a process first seen in a flow: read-only. */
	sandbox_allow(ctx, "openat", 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, OPEN_WRITE_FLAGS, O_RDONLY));

	/* A new aggregator connection: accept, SO_PEERCRED, nonblocking. */
	sandbox_allow(ctx, "accept4", 0);
	sandbox_allow(ctx, "getsockopt", 2,
	    SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_PEERCRED));

	/* json-c seeds the hash of each new table. */
	sandbox_allow(ctx, "getrandom", 0);


	sandbox_allow_process(ctx);
	return ctx;
}

/*
 * Every privilege and sandbox decision of the aggregator, in one file.
 *
 * Order: become the unprivileged user (root is only needed to get there),
 * prove the drop, set no_new_privs, then load an allow-list whose default
 * action kills the process. Everything the aggregator opens (its listening
 * socket, the enricher connection, the event base) exists before this is
 * called; after it, the process can only read and write the descriptors it
 * has, accept connections on its listener, and manage memory.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <fcntl.h>

#include "agg.h"
#include "log.h"
#include "privdrop.h"
#include "sandbox.h"

void
agg_sandbox_enter(const char *user)
{
	struct privdrop_user u;

	privdrop_lookup(user, &u);
	privdrop_to_user(&u);
	sandbox_load(agg_sandbox_policy());
}

/*
 * The allow-list. Every rule is here, with the call that needs it; the
 * policy as the kernel gets it is committed in tests/sandbox/ (a test
 * compares), so that any change to it shows as a diff.
 */
scmp_filter_ctx
agg_sandbox_policy(void)
{
	scmp_filter_ctx ctx;

	ctx = sandbox_new();

	/*
	 * The enricher's socket again after the enricher went away: a Unix
	 * stream socket, connected to the path given with -e (the only
	 * connect the process makes; it has no other address to reach).
	 */
	sandbox_allow(ctx, "socket", 2, SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
	    SCMP_A1(SCMP_CMP_EQ, SOCK_STREAM | SOCK_CLOEXEC));
	sandbox_allow(ctx, "connect", 0);

	/* A new probe connection: accept, check SO_PEERCRED, go nonblocking. */
	sandbox_allow(ctx, "accept4", 0);
	sandbox_allow(ctx, "getsockopt", 2,
	    SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_PEERCRED));
	/*
	 * Its first bytes carry the sock_diag socket (SCM_RIGHTS): waited
	 * for (2 s at most), read with recvmsg, and checked to be a
	 * NETLINK_SOCK_DIAG socket. Then its destroy notifications are read
	 * many a call. The socket's subscription was made by the probe; this
	 * process, without capabilities, could not make it destroy sockets.
	 */
	sandbox_allow(ctx, "poll", 0);
	sandbox_allow(ctx, "ppoll", 0);
	sandbox_allow(ctx, "recvmsg", 0);
	sandbox_allow(ctx, "recvmmsg", 0);
	sandbox_allow(ctx, "getsockopt", 2,
	    SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_DOMAIN));
	sandbox_allow(ctx, "getsockopt", 2,
	    SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_PROTOCOL));



	sandbox_allow_process(ctx);
	return ctx;
}

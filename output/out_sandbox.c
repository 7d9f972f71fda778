/*
 * Every sandbox decision of sockflow-output, in one file.
 *
 * The process has already become its unprivileged user (no capability,
 * no_new_privs) when the outputs open their files, sockets and library
 * threads; then this allow-list is loaded for every thread at once
 * (TSYNC) and kills the process on anything else.
 *
 * It is wider than the enricher's because shipping is its job: it
 * creates sockets and connects (syslog, kafka, elasticsearch, and the
 * name lookups of their libraries), librdkafka and the elasticsearch
 * output run threads, and the file output creates, renames and removes
 * files in its directory. It still cannot execute anything, map
 * executable memory, trace, change its ids or load another filter. The
 * rules for an output are only added when the configuration turns it on.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>

#include "log.h"
#include "out_main.h"
#include "sandbox.h"
#include "sfconfig.h"

/* Flags that would let an open() create, truncate or write. */
#define OPEN_WRITE_FLAGS (O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE)
/* pthread_create's clone flags always include these. */
#define CLONE_THREAD_FLAGS (CLONE_VM | CLONE_THREAD)

void
out_sandbox_enter(const struct sf_config *c)
{
	scmp_filter_ctx ctx = out_sandbox_policy(c);

	/* The outputs' threads run already: the filter is for all of them. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0)
		fatalx("seccomp_attr_set(CTL_TSYNC)");
	sandbox_load(ctx);
}

/* Beyond sandbox_allow_process: what its outputs always need. */
static void
allow_base(scmp_filter_ctx ctx)
{
	/* poll(2) and select(2) users (libraries, the console, close). */
	sandbox_allow(ctx, "poll", 0);
	sandbox_allow(ctx, "ppoll", 0);
	sandbox_allow(ctx, "select", 0);
	sandbox_allow(ctx, "pselect6", 0);
	/* Waits. */
	sandbox_allow(ctx, "clock_nanosleep", 0);
	sandbox_allow(ctx, "nanosleep", 0);
	/* The console, when stdout is a socket (the journal's stream). */
	sandbox_allow(ctx, "sendmsg", 0);
	/* json-c seeds its hash tables. */
	sandbox_allow(ctx, "getrandom", 0);
	sandbox_allow(ctx, "gettid", 0);
}

/* Connecting out, and resolving the names the configuration gives. */
static void
allow_network(scmp_filter_ctx ctx)
{
	sandbox_allow(ctx, "socket", 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	sandbox_allow(ctx, "socket", 1, SCMP_A0(SCMP_CMP_EQ, AF_INET));
	sandbox_allow(ctx, "socket", 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	/* Netlink route: glibc's getaddrinfo asks which families are up. */
	sandbox_allow(ctx, "socket", 1, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK));
	/* libcurl wakes its resolver and its waits through a socketpair. */
	sandbox_allow(ctx, "socketpair", 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	sandbox_allow(ctx, "connect", 0);
	sandbox_allow(ctx, "bind", 0);
	sandbox_allow(ctx, "getsockname", 0);
	sandbox_allow(ctx, "getpeername", 0);
	sandbox_allow(ctx, "sendmsg", 0);
	sandbox_allow(ctx, "sendmmsg", 0);
	sandbox_allow(ctx, "recvmsg", 0);
	sandbox_allow(ctx, "shutdown", 0);
	/* Connect results, keepalive, buffer sizes, TCP_NODELAY. */
	sandbox_allow(ctx, "getsockopt", 0);
	sandbox_allow(ctx, "setsockopt", 0);
	/* glibc's resolver reads /etc/hosts and /etc/resolv.conf again when
	 * they change: read-only opens, and their status. */
	sandbox_allow(ctx, "openat", 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, OPEN_WRITE_FLAGS, O_RDONLY));
	sandbox_allow(ctx, "newfstatat", 0);
	sandbox_allow(ctx, "fstat", 0);
	sandbox_allow(ctx, "stat", 0);
	sandbox_allow(ctx, "lseek", 0);
	/* glibc reloads a changed resolv.conf, which calls uname(2). */
	sandbox_allow(ctx, "uname", 0);
}

/* Threads (librdkafka's, the elasticsearch output's), never processes. */
static void
allow_threads(scmp_filter_ctx ctx)
{
	sandbox_allow(ctx, "clone", 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD_FLAGS,
	    CLONE_THREAD_FLAGS));
	/* glibc 2.34+ tries clone3 first; the flags are in a struct that
	 * seccomp cannot read, so it fails with ENOSYS and glibc falls back
	 * to the clone above (see sandbox_errno in out_sandbox_policy). */
	sandbox_allow(ctx, "set_robust_list", 0);
	sandbox_allow(ctx, "rseq", 0);
	sandbox_allow(ctx, "sched_yield", 0);
	sandbox_allow(ctx, "sched_getaffinity", 0);
	/* Thread names (librdkafka names its threads). */
	sandbox_allow(ctx, "prctl", 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	sandbox_allow(ctx, "rt_sigaction", 0);
	sandbox_allow(ctx, "tgkill", 0);
	/* librdkafka wakes its threads through pipes and eventfds. */
	sandbox_allow(ctx, "pipe2", 0);
	sandbox_allow(ctx, "eventfd2", 0);
}

scmp_filter_ctx
out_sandbox_policy(const struct sf_config *c)
{
	scmp_filter_ctx ctx;

	ctx = sandbox_new();
	allow_base(ctx);
	sandbox_allow_process(ctx);

	if (c->file_enabled == 1) {
		/* The current file and its rotation, in its directory. */
		sandbox_allow(ctx, "openat", 0);
		sandbox_allow(ctx, "renameat", 0);
		sandbox_allow(ctx, "renameat2", 0);
		sandbox_allow(ctx, "unlinkat", 0);
		sandbox_allow(ctx, "fstat", 0);
		sandbox_allow(ctx, "newfstatat", 0);
		sandbox_allow(ctx, "fchmod", 0);
		sandbox_allow(ctx, "lseek", 0);
		sandbox_allow(ctx, "pread64", 0);
		sandbox_allow(ctx, "ftruncate", 0);
		sandbox_allow(ctx, "fdatasync", 0);
	}
	if (c->syslog_enabled == 1 || c->kafka_enabled == 1 ||
	    c->es_enabled == 1)
		allow_network(ctx);
	/* The dead-letter file: appended, a failed write cut back. */
	if (c->es_enabled == 1 && c->es_dead_letter[0] != '\0') {
		sandbox_allow(ctx, "lseek", 0);
		sandbox_allow(ctx, "ftruncate", 0);
	}
	if (c->kafka_enabled == 1 || c->es_enabled == 1) {
		allow_threads(ctx);
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0) != 0)
			fatalx("seccomp rule for clone3");
	}
	return ctx;
}

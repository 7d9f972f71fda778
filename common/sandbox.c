/*
 * Shared mechanics of the seccomp allow-lists. See sandbox.h.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>

#include <sys/ioctl.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "sandbox.h"

#ifdef SANDBOX_DEBUG
#define SANDBOX_DEFAULT_ACTION	SCMP_ACT_LOG
#else
#define SANDBOX_DEFAULT_ACTION	SCMP_ACT_KILL_PROCESS
#endif

int
sandbox_debug_build(void)
{
#ifdef SANDBOX_DEBUG
	return 1;
#else
	return 0;
#endif
}

scmp_filter_ctx
sandbox_new(void)
{
	scmp_filter_ctx ctx;

#ifdef SANDBOX_OFF
	/*
	 * The filter is built, never loaded: libseccomp need not ask the
	 * kernel which actions it has (valgrind fails that seccomp(2)
	 * call). Level 3 has SCMP_ACT_KILL_PROCESS.
	 */
	if (seccomp_api_set(3) != 0)
		fatalx("seccomp_api_set(3) failed");
#endif
	if ((ctx = seccomp_init(SANDBOX_DEFAULT_ACTION)) == NULL)
		fatalx("seccomp_init failed (is the seccomp syscall allowed?)");
	/* A syscall made through another ABI (x32, i386) is killed. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS) != 0)
		fatalx("seccomp_attr_set(ACT_BADARCH)");
	/* sandbox_load checks the filter is in force with this call. */
	sandbox_allow(ctx, "prctl", 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_SECCOMP));
	return ctx;
}

void
sandbox_allow(scmp_filter_ctx ctx, const char *name, unsigned int argc, ...)
{
	struct scmp_arg_cmp cmp[2];
	va_list ap;
	unsigned int i;
	int nr, rc;

	if (argc > 2)
		fatalx("sandbox_allow: too many comparisons");
	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		fatalx("sandbox: unknown syscall %s", name);
	va_start(ap, argc);
	for (i = 0; i < argc; i++)
		cmp[i] = va_arg(ap, struct scmp_arg_cmp);
	va_end(ap);
	rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, argc, cmp);
	if (rc != 0)
		fatalx("sandbox: cannot allow %s: %s", name, strerror(-rc));
}

void
sandbox_load(scmp_filter_ctx ctx)
{
	int rc;

#ifdef SANDBOX_OFF
	log_warnx("sanitizer or valgrind build: the seccomp filter is "
	    "not loaded");
	seccomp_release(ctx);
	return;
#endif
	if (sandbox_debug_build())
		log_warnx("sandbox debug build: violations are logged, "
		    "not killed");
	if ((rc = seccomp_load(ctx)) != 0)
		fatalx("seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
	if ((rc = prctl(PR_GET_SECCOMP, 0, 0, 0, 0)) != 2)
		fatalx("seccomp filter not in force (mode %d)", rc);
}

/* The policy as libseccomp's pseudo filter code, for review and tests. */
int
sandbox_export(scmp_filter_ctx ctx, int fd)
{
	int rc = seccomp_export_pfc(ctx, fd);

	seccomp_release(ctx);
	return rc == 0 ? 0 : -1;
}

void
sandbox_allow_process(scmp_filter_ctx ctx)
{
	/* The event loop (libevent's epoll backend). */
	sandbox_allow(ctx, "epoll_wait", 0);
	sandbox_allow(ctx, "epoll_pwait", 0);
	sandbox_allow(ctx, "epoll_ctl", 0);
	/* Timers and timestamps; normally served by the vDSO. */
	sandbox_allow(ctx, "clock_gettime", 0);
	sandbox_allow(ctx, "gettimeofday", 0);
	/* Its peers' data in and out, logs to stderr. */
	sandbox_allow(ctx, "read", 0);
	sandbox_allow(ctx, "readv", 0);
	sandbox_allow(ctx, "recvfrom", 0);
	sandbox_allow(ctx, "write", 0);
	sandbox_allow(ctx, "writev", 0);
	/* libevent's signal handler writes to its socketpair with send(). */
	sandbox_allow(ctx, "sendto", 0);
	/* evbuffer_read asks how much is queued before reading. */
	sandbox_allow(ctx, "ioctl", 1, SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	sandbox_allow(ctx, "close", 0);

	/* Non-blocking and close-on-exec flags of its descriptors. */
	sandbox_allow(ctx, "fcntl", 1, SCMP_A1(SCMP_CMP_EQ, F_GETFL));
	sandbox_allow(ctx, "fcntl", 1, SCMP_A1(SCMP_CMP_EQ, F_SETFL));
	sandbox_allow(ctx, "fcntl", 1, SCMP_A1(SCMP_CMP_EQ, F_GETFD));
	sandbox_allow(ctx, "fcntl", 1, SCMP_A1(SCMP_CMP_EQ, F_SETFD));

	/* Memory: malloc and free; never executable mappings. */
	sandbox_allow(ctx, "brk", 0);
	sandbox_allow(ctx, "mmap", 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	sandbox_allow(ctx, "mprotect", 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	sandbox_allow(ctx, "munmap", 0);
	sandbox_allow(ctx, "mremap", 0);
	sandbox_allow(ctx, "madvise", 0);
	sandbox_allow(ctx, "futex", 0);

	/* Signals and exit. */
	sandbox_allow(ctx, "rt_sigreturn", 0);
	sandbox_allow(ctx, "rt_sigprocmask", 0);
	sandbox_allow(ctx, "getpid", 0);
	sandbox_allow(ctx, "exit", 0);
	sandbox_allow(ctx, "exit_group", 0);
}

/*
 * Building and loading a libseccomp allow-list. The policies themselves
 * live in the process that uses them (agg_sandbox.c, enr_sandbox.c); this
 * file only holds the mechanics they share. The default action kills the
 * whole process; a build configured with --enable-sandbox-debug logs the
 * call to the kernel audit log instead (never in production).
 */
#ifndef SOCKFLOW_SANDBOX_H
#define SOCKFLOW_SANDBOX_H

#include <seccomp.h>

scmp_filter_ctx	sandbox_new(void);
/* Allow a syscall with up to two argument comparisons; fatal on error. */
void		sandbox_allow(scmp_filter_ctx, const char *name,
		    unsigned int argc, ...);
/*
 * What every sandboxed process needs: its event loop and timers, reading
 * and writing its descriptors, their flags (non-blocking, close-on-exec),
 * memory without executable mappings, futexes, signal returns, getpid
 * and exit.
 */
void		sandbox_allow_process(scmp_filter_ctx);
/* Load the filter, release it, and check /proc/self/status says mode 2. */
void		sandbox_load(scmp_filter_ctx);
/* Whether a build logs violations instead of killing. */
int		sandbox_debug_build(void);
/* Write the policy (pseudo filter code) to fd, and free it. */
int		sandbox_export(scmp_filter_ctx, int fd);

#endif

/*
 * Logging for every sockflow process, in the shape of the OpenBSD daemons:
 * log_warn appends strerror(errno), log_warnx does not; fatal and fatalx
 * never return. Lines go to stderr with a "<N>" syslog level prefix when
 * running under systemd, so a sandboxed process needs no /dev/log.
 */
#ifndef SOCKFLOW_LOG_H
#define SOCKFLOW_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_ATTR(f, a) __attribute__((__format__(__printf__, f, a)))

void	log_init(const char *procname, int verbose);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_warn(const char *, ...) LOG_ATTR(1, 2);
void	log_warnx(const char *, ...) LOG_ATTR(1, 2);
void	log_info(const char *, ...) LOG_ATTR(1, 2);
void	log_debug(const char *, ...) LOG_ATTR(1, 2);
void	fatal(const char *, ...) LOG_ATTR(1, 2) __attribute__((__noreturn__));
void	fatalx(const char *, ...) LOG_ATTR(1, 2) __attribute__((__noreturn__));

/*
 * Write printable ASCII of an untrusted string into dst (always
 * NUL-terminated), escaping everything else as \xNN. For logging data that
 * came from the kernel or the network.
 */
void	log_escape(char *dst, size_t dstsz, const char *src, size_t srclen);

/* How many times the launcher started this component before (0: first). */
unsigned long	 sf_restarts(void);

#endif

/*
 * Logging for every sockflow process. See log.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *log_procname = "sockflow";
static int log_verbose;
static int log_prefix;		/* "<N>" level prefixes for journald */

void
log_init(const char *procname, int verbose)
{
	log_procname = procname;
	log_verbose = verbose;
	/* journald sets JOURNAL_STREAM for services whose stderr it reads. */
	log_prefix = getenv("JOURNAL_STREAM") != NULL;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *errstr)
{
	char msg[1024];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_prefix)
		fprintf(stderr, "<%d>", pri);
	if (errstr != NULL)
		fprintf(stderr, "%s: %s: %s\n", log_procname, msg, errstr);
	else
		fprintf(stderr, "%s: %s\n", log_procname, msg);
	fflush(stderr);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, e);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	char buf[1024];
	const char *e = strerror(errno);

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_prefix)
		fprintf(stderr, "<%d>", LOG_CRIT);
	fprintf(stderr, "fatal in %s: %s: %s\n", log_procname, buf, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_prefix)
		fprintf(stderr, "<%d>", LOG_CRIT);
	fprintf(stderr, "fatal in %s: %s\n", log_procname, buf);
	exit(1);
}

void
log_escape(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstsz == 0)
		return;
	for (i = 0; i < srclen && o + 1 < dstsz; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			dst[o++] = (char)c;
		} else {
			if (o + 5 > dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = '\0';
}

unsigned long
sf_restarts(void)
{
	const char *v = getenv("SOCKFLOW_RESTARTS");
	char *end;
	unsigned long n;

	if (v == NULL)
		return 0;
	n = strtoul(v, &end, 10);
	return *end == '\0' && n < 1000000 ? n : 0;
}

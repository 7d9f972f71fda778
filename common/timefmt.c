/*
 * Times as the documents carry them.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

static void
digits(char *p, unsigned long n, int w)
{
	while (w-- > 0) {
		p[w] = (char)('0' + n % 10);
		n /= 10;
	}
}

void
sf_time_rfc3339(int64_t ns, char *buf, size_t bufsz)
{
	/* The date and time of the last second seen: most flows share it. */
	static time_t last = -1;
	static char prefix[64];		/* YYYY-MM-DDTHH:MM:SS. */
	time_t secs = (time_t)(ns / 1000000000LL);
	struct tm tm;

	if (bufsz < 28)
		return;
	if (ns < 0) {
		snprintf(buf, bufsz, "1970-01-01T00:00:00.000000Z");
		return;
	}
	if (secs != last) {
		if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 > 9999) {
			snprintf(buf, bufsz, "1970-01-01T00:00:00.000000Z");
			return;
		}
		snprintf(prefix, sizeof(prefix), "%04d-%02d-%02dT%02d:%02d:%02d.",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		last = secs;
	}
	memcpy(buf, prefix, 20);
	digits(buf + 20, (unsigned long)((ns % 1000000000LL) / 1000), 6);
	buf[26] = 'Z';
	buf[27] = '\0';
}


int64_t
sf_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

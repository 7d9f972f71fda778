/*
 * Times as the documents carry them.
 */
#ifndef SOCKFLOW_TIMEFMT_H
#define SOCKFLOW_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/*
 * RFC 3339 UTC with microseconds ("2026-11-27T03:46:08.123456Z") of a
 * CLOCK_REALTIME time in ns; buf must hold 28 bytes. It keeps the last
 * second it formatted: call it from one thread only.
 */
void	sf_time_rfc3339(int64_t ns, char *buf, size_t bufsz);
/* CLOCK_REALTIME now, in ns. */
int64_t	sf_time_now(void);

#endif

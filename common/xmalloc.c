/*
 * Allocation wrappers that treat out-of-memory as fatal. See xmalloc.h.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

void *
xcalloc(size_t n, size_t sz)
{
	void *p;

	if (n == 0 || sz == 0)
		n = sz = 1;
	if ((p = calloc(n, sz)) == NULL)
		fatal("calloc %zu x %zu", n, sz);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t sz)
{
	void *q;

	if (sz != 0 && n > SIZE_MAX / sz) {
		errno = ENOMEM;
		fatal("reallocarray %zu x %zu", n, sz);
	}
	if ((q = realloc(p, n * sz == 0 ? 1 : n * sz)) == NULL)
		fatal("reallocarray %zu x %zu", n, sz);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		fatal("strndup");
	return p;
}

/*
 * Keep freed memory for reuse instead of returning it to the kernel and
 * faulting it in again: frames of up to FRAME_MAX_PAYLOAD (1 MiB) are
 * allocated and freed at every read, and glibc would otherwise map and
 * unmap them. Bounded: at most 4 MiB is held beyond what is in use.
 */
void
malloc_tune(void)
{
	mallopt(M_MMAP_THRESHOLD, 2 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
}

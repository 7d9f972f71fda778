/*
 * Reading a whole file of unknown size (sysfs, procfs and tracefs files
 * say 0 or 4096), up to a bound. Safe in every process: it opens, reads
 * and closes, nothing else.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "readfile.h"

char *
read_file_all(const char *path, size_t max, size_t *lenp, int *truncated)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, saved;

	*lenp = 0;
	if (truncated != NULL)
		*truncated = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (len == max) {
			if (truncated != NULL)
				*truncated = 1;
			break;
		}
		if (len == cap) {
			size_t ncap = cap == 0 ? 16384 : cap * 2;

			if (ncap > max)
				ncap = max;
			if ((nb = realloc(buf, ncap + 1)) == NULL) {
				saved = ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
 fail:
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

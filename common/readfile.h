#ifndef SOCKFLOW_READFILE_H
#define SOCKFLOW_READFILE_H

#include <stddef.h>

/*
 * The whole file (at most max bytes), NUL-ended, malloc'ed, its length
 * in *lenp; *truncated (when given) says the bound was reached. NULL with
 * errno on failure.
 */
char	*read_file_all(const char *path, size_t max, size_t *lenp,
	    int *truncated);

#endif

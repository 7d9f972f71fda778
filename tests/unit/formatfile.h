/*
 * A saved tracefs format file of tests/data/formats, for the tests and
 * fuzz targets that decode samples: its text, NUL-terminated, and its
 * length (at most MSG_MAX_FORMAT_TEXT bytes, as the probe would send
 * it). Exits when it cannot be read.
 */
#ifndef SOCKFLOW_FORMATFILE_H
#define SOCKFLOW_FORMATFILE_H

#include <stdio.h>
#include <stdlib.h>

#include "msg.h"

static inline char *
format_file(const char *srcdir, const char *name, size_t *lenp)
{
	char path[1024], *text;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/formats/%s.format",
	    srcdir, name);
	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(1);
	}
	if ((text = calloc(1, MSG_MAX_FORMAT_TEXT + 1)) == NULL)
		abort();
	*lenp = fread(text, 1, MSG_MAX_FORMAT_TEXT, f);
	fclose(f);
	return text;
}

#endif

/*
 * Allocation wrappers that treat out-of-memory as fatal. Used only where a
 * process cannot go on without the memory (setup, fixed tables); paths fed
 * by observed traffic use calloc and count their failures instead.
 */
#ifndef SOCKFLOW_XMALLOC_H
#define SOCKFLOW_XMALLOC_H

#include <stddef.h>

void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	 malloc_tune(void);

#endif

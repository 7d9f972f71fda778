/*
 * FNV-1a, 64 bits: the hash of the aggregator's and the enricher's tables.
 * Start from FNV_OFFSET and feed any number of pieces.
 */
#ifndef SOCKFLOW_HASH_H
#define SOCKFLOW_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	1099511628211ULL

static inline uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n-- > 0)
		h = (h ^ *b++) * FNV_PRIME;
	return h;
}

#endif

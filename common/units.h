/*
 * The units (frames, or batches of frames) of a stream written to a peer
 * through a bufferevent, oldest first, so that when the connection is
 * lost in the middle of one, the next connection resumes at the
 * following unit's start and never receives a cut one. The units in
 * front may be the connection's own preamble (its hello, formats):
 * every connection gets its own, so those of a lost one are dropped,
 * and not counted as lost.
 */
#ifndef SOCKFLOW_UNITS_H
#define SOCKFLOW_UNITS_H

#include <stddef.h>
#include <stdint.h>

struct units {
	uint32_t	*len;		/* lengths, a ring, oldest at head */
	size_t		 cap, head, n;
	size_t		 head_sent;	/* of the oldest, bytes written */
	uint64_t	 queued;	/* bytes queued on this connection */
	uint64_t	 written;	/* ... of which written, last seen */
	size_t		 preamble;	/* units in front that are preamble */
};

/* A unit of len bytes queued after the others, or before them all. */
void	units_push(struct units *, size_t len, int front);
/* As the connection's output still holds left bytes: forget those sent. */
void	units_settle(struct units *, size_t left);
/*
 * The connection is lost with left bytes unsent: the bytes to drop from
 * the front of what it had left (the rest of a unit begun, the preamble
 * not begun), of which *lost were no preamble. What remains is whole
 * units, counted as queued on no connection until units_connected.
 */
size_t	units_cut(struct units *, size_t left, size_t *lost);
/* Forget every unit (what they were is gone). */
void	units_clear(struct units *);
/* A new connection, whose output gets queued bytes first. */
void	units_connected(struct units *, uint64_t queued);

#endif

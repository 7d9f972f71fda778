/*
 * sockflow-output: the enricher's JSON lines, shipped to every configured
 * output at once. Each output has its own bounded queue and its own
 * counters; a slow or dead output drops (and counts) its own documents and
 * never holds back the others or the enricher.
 *
 * The process is single-threaded around one libevent loop. An output that
 * must block (a library that does its own I/O) may run its own thread
 * behind its push() and counters(), and must never block the loop.
 */
#ifndef SOCKFLOW_OUT_H
#define SOCKFLOW_OUT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sf_config;

/*
 * One document: a JSON line without its newline, NUL-terminated. Shared by
 * every output's queue and freed with the last reference. References are
 * atomic so that an output's thread may drop its own.
 */
struct out_doc {
	unsigned	refs;
	size_t		len;
	char		data[];
};

struct out_doc	*out_doc_new(const char *, size_t);	/* NULL: no memory */
struct out_doc	*out_doc_ref(struct out_doc *);
void		 out_doc_unref(struct out_doc *);

/* What each output reports in the stats document (sockflow.stats.output). */
struct out_counters {
	uint64_t	accepted;	/* taken into its queue */
	uint64_t	sent;		/* written, or acknowledged by the peer */
	uint64_t	dropped_full;	/* its queue was at its cap */
	uint64_t	dropped_failed;	/* given up after its retries */
	uint64_t	rejected;	/* refused by the peer for good */
	uint64_t	dead_lettered;	/* of those, kept in the dead-letter file */
	uint64_t	retries;
	uint64_t	reconnects;
	uint64_t	queued;		/* in its queue now */
	uint64_t	queue_cap;
	int		up;		/* 1: it can send now */
};

struct out_ops {
	const char	*name;		/* "console", "file", ... */
	/* Whether the configuration turns it on. */
	int		(*enabled)(const struct sf_config *);
	/*
	 * Open it, before the sandbox: files, sockets, library handles and
	 * threads. A peer that is down is not an error (it is retried);
	 * a bad configuration is, with a message in err.
	 */
	void		*(*open)(struct event_base *, const struct sf_config *,
			    char *err, size_t errsz);
	/*
	 * Queue one document; the output takes its own reference if it
	 * keeps it. When its queue is full it drops the document and
	 * counts it (dropped_full).
	 */
	void		 (*push)(void *, struct out_doc *);
	void		 (*counters)(void *, struct out_counters *);
	/*
	 * Send what it can until the deadline (CLOCK_MONOTONIC, ns), count
	 * what is left as dropped_failed, and free everything. Logs its final
	 * counters.
	 */
	void		 (*close)(void *, int64_t deadline);
};

/*
 * A bounded FIFO of document references, for outputs that keep their own.
 */
struct out_queue {
	struct out_doc	**v;
	size_t		  cap, head, n;
};

int		 out_queue_init(struct out_queue *, size_t cap);
void		 out_queue_free(struct out_queue *);	/* unrefs what it holds */
/* 0, or -1 when full (nothing taken). */
int		 out_queue_push(struct out_queue *, struct out_doc *);
/* The i-th oldest (0 = head), NULL past the end; the queue keeps it. */
struct out_doc	*out_queue_peek(const struct out_queue *, size_t i);
/* Drop the n oldest, unreffing them. */
void		 out_queue_pop(struct out_queue *, size_t n);

int64_t		 out_now(void);		/* CLOCK_MONOTONIC, ns */

struct iovec;
/* Advance an iovec array past off bytes already written. */
void		 out_iov_skip(struct iovec *, size_t n, size_t off);

extern const struct out_ops out_console_ops;
extern const struct out_ops out_file_ops;
extern const struct out_ops out_syslog_ops;
extern const struct out_ops out_kafka_ops;
extern const struct out_ops out_es_ops;

#endif

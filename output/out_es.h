/*
 * What an elasticsearch _bulk answer means for the request it answers:
 * given the HTTP status, the body and the number of documents sent, the
 * whole request's outcome and one verdict a document. No I/O, no curl and
 * no state of the output: out_es.c acts on the result, and the unit and
 * fuzz tests call it with answers of their own. The body is the peer's and
 * so hostile: nothing in the result points outside the request's
 * documents, and the strings meant for the log are escaped and bounded.
 */
#ifndef SOCKFLOW_OUT_ES_H
#define SOCKFLOW_OUT_ES_H

#include <stddef.h>

struct json_object;

#define ES_REASON_MAX	256		/* of a type or reason we log */
#define ES_WHY_MAX	128		/* of a whole-request failure */

/* The request as a whole. */
enum es_outcome {
	ES_OUTCOME_ITEMS = 1,	/* 2xx, one item a document: see verdicts */
	ES_OUTCOME_REFUSED,	/* a 4xx sending again will not mend: every
				   document rejected */
	ES_OUTCOME_SHRINK,	/* 413 for more than one document: the peer's
				   byte limit, send fewer */
	ES_OUTCOME_DOWN,	/* failed as a whole (why): send all again */
};

/* One document, for ES_OUTCOME_ITEMS and ES_OUTCOME_REFUSED. */
enum es_fate {
	ES_FATE_SENT = 1,	/* stored by the peer */
	ES_FATE_RETRY,		/* 429, 5xx or an item we cannot read */
	ES_FATE_REJECT,		/* refused for good: to the dead letters */
};

struct es_verdict {
	enum es_fate	 fate;
	/* Of a rejection; type and reason are the peer's, unescaped, and
	   live as long as the es_reply. */
	int		 status;
	const char	*type;
	const char	*reason;
};

struct es_reply {
	enum es_outcome	 outcome;
	char		 why[ES_WHY_MAX];	/* of ES_OUTCOME_DOWN */
	size_t		 sent, retry, rejected;	/* verdicts of each fate */
	/* The first rejection, escaped for the log (log_escape). */
	int		 first_status;
	char		 first_type[ES_REASON_MAX];
	char		 first_reason[ES_REASON_MAX];

	/* What the verdicts' strings point into. */
	struct json_object *root;
	char		 http_type[32];
};

/*
 * Read the answer (status, body of len bytes) to a request of n documents,
 * n > 0: the outcome in a, and for ITEMS and REFUSED a verdict in v[i] for
 * each i < n (v has n entries; nothing past them is written). Free a with
 * es_reply_free() once the verdicts are used.
 */
void	es_reply_read(struct es_reply *a, long status, const char *body,
	    size_t len, size_t n, struct es_verdict *v);
void	es_reply_free(struct es_reply *a);

#endif

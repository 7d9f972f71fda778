/*
 * DNS correlation: which name a process resolved to an address.
 *
 * The aggregator forwards each captured DNS message with the process
 * that owns the client's socket. Queries are kept for QUERY_MAX_AGE;
 * an answer counts when it matches a query of the same client and
 * server endpoints, transaction id and question, so that a forged or
 * stray answer names nothing. The capture sees what arrives (probe_dns.c):
 * every query to a server on the loopback device, but not a query sent
 * out to a remote server. An answer of a remote server with no query
 * seen counts when the aggregator found the process that sent to that
 * server from that port within the last seconds (its pid), and is
 * counted as such; an answer of a local server must match its query. Each address of a matched answer (A, AAAA,
 * at the end of a CNAME chain; dnsparse.c) becomes an entry (process,
 * address) -> question name, with the time of the answer and when its
 * TTL ran out.
 *
 * A flow of the process is named when it started while the entry was
 * valid (before the TTL ran out, give or take SLACK) and did not end
 * before the address was first resolved: a connection made long after
 * the answer expired, to an address the program kept, is not named.
 *
 * Entries live per process (pid and start time, so a reused pid does not
 * inherit), last answer wins, and are kept KEEP after their TTL ran out
 * or after a flow last used them, whichever is later, so that a long
 * connection is still named when it is reported. The table is bounded:
 * when full, the entry used longest ago goes, and that is counted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsparse.h"
#include "enr.h"
#include "hash.h"

#define SEC		1000000000LL
#define QUERY_BITS	10
#define QUERY_SLOTS	(1U << QUERY_BITS)
#define QUERY_WAYS	4
#define QUERY_MAX_AGE	(10 * SEC)
#define NAME_BITS	14
#define SLACK		(1 * SEC)
#define KEEP		(10 * 60 * SEC)
#define NAME_MAX_LEN	255		/* as text; longer ones are skipped */

_Static_assert(DNS_ERR__MAX <= 16, "enr_dns_stats.malformed too small");

struct endpoints {
	uint8_t		 transport;
	uint8_t		 family;
	uint16_t	 cport, sport;
	uint16_t	 id;		/* the transaction's */
	uint8_t		 cip[16], sip[16];
};

struct query {
	struct endpoints key;
	int64_t		 time;		/* 0: empty */
	uint32_t	 pid;
	uint16_t	 qtype;
	char		 qname[NAME_MAX_LEN + 1];
};

struct name {
	struct name	*next;		/* hash chain */
	struct name	*older, *newer;	/* by last use */
	uint32_t	 pid;
	uint64_t	 start;
	uint8_t		 family;
	uint8_t		 ip[16];
	int64_t		 first;		/* first answer of this validity */
	int64_t		 expires;
	int64_t		 keep_until;
	char		 text[];
};

struct enr_dns {
	struct query	 q[QUERY_SLOTS];
	struct name	*buckets[1U << NAME_BITS];
	struct name	*oldest, *newest;
	size_t		 n, cap;
	struct enr_dns_stats st;
};

struct enr_dns *
enr_dns_new(size_t cap)
{
	struct enr_dns *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->cap = cap;
	return d;
}

static void
name_unlink_lru(struct enr_dns *d, struct name *e)
{
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		d->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		d->newest = e->older;
	e->older = e->newer = NULL;
}

static void
name_push_newest(struct enr_dns *d, struct name *e)
{
	e->older = d->newest;
	e->newer = NULL;
	if (d->newest != NULL)
		d->newest->newer = e;
	else
		d->oldest = e;
	d->newest = e;
}

static size_t
name_bucket(uint32_t pid, uint8_t family, const uint8_t *ip)
{
	uint64_t h = FNV_OFFSET;

	h = fnv1a(h, &pid, sizeof(pid));
	h = fnv1a(h, ip, family == 4 ? 4 : 16);
	return (size_t)(h >> (64 - NAME_BITS));
}

static struct name **
name_find(struct enr_dns *d, uint32_t pid, uint64_t start, uint8_t family,
    const uint8_t *ip)
{
	struct name **pp = &d->buckets[name_bucket(pid, family, ip)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		struct name *e = *pp;

		if (e->pid == pid && e->family == family &&
		    memcmp(e->ip, ip, family == 4 ? 4 : 16) == 0 &&
		    (e->start == start || e->start == 0 || start == 0))
			return pp;
	}
	return pp;
}

/* The link that points at e. */
static struct name **
name_link(struct enr_dns *d, const struct name *e)
{
	struct name **pp = &d->buckets[name_bucket(e->pid, e->family, e->ip)];

	while (*pp != e)
		pp = &(*pp)->next;
	return pp;
}

static void
name_remove(struct enr_dns *d, struct name **pp)
{
	struct name *e = *pp;

	*pp = e->next;
	name_unlink_lru(d, e);
	free(e);
	d->n--;
}

void
enr_dns_free(struct enr_dns *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < (1U << NAME_BITS); i++)
		while (d->buckets[i] != NULL)
			name_remove(d, &d->buckets[i]);
	free(d);
}

const struct enr_dns_stats *
enr_dns_stats(const struct enr_dns *d)
{
	return &d->st;
}

size_t
enr_dns_count(const struct enr_dns *d)
{
	return d->n;
}

static void
name_add(struct enr_dns *d, uint32_t pid, uint64_t start,
    const struct dns_addr *a, const char *text, int64_t now)
{
	struct name **pp, *e;
	size_t len = strlen(text);
	int64_t expires = now + (int64_t)a->ttl * SEC;
	int64_t first = now;

	pp = name_find(d, pid, start, a->family, a->addr);
	if ((e = *pp) != NULL) {
		/* Still valid, with the same name: valid since then. */
		if (e->expires + SLACK >= now && strcmp(e->text, text) == 0)
			first = e->first;
		name_remove(d, pp);
	}
	if (d->n >= d->cap) {
		struct name *old = d->oldest;

		d->st.names_evicted++;
		name_remove(d, name_link(d, old));
	}
	if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL) {
		d->st.no_memory++;
		return;
	}
	e->pid = pid;
	e->start = start;
	e->family = a->family;
	memcpy(e->ip, a->addr, a->family == 4 ? 4 : 16);
	e->first = first;
	e->expires = expires;
	e->keep_until = expires + KEEP;
	memcpy(e->text, text, len + 1);
	pp = &d->buckets[name_bucket(pid, a->family, a->addr)];
	e->next = *pp;
	*pp = e;
	name_push_newest(d, e);
	d->n++;
	d->st.names_added++;
}

static size_t
query_bucket(const struct endpoints *k)
{
	uint64_t h = fnv1a(FNV_OFFSET, k, sizeof(*k));

	return (size_t)(h >> (64 - QUERY_BITS)) & ~(size_t)(QUERY_WAYS - 1);
}

static void
endpoints_of(const struct msg_dns *m, uint16_t id, struct endpoints *k)
{
	size_t n = m->family == 4 ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->transport = m->transport;
	k->family = m->family;
	k->cport = m->client_port;
	k->sport = m->server_port;
	k->id = id;
	memcpy(k->cip, m->client_ip, n);
	memcpy(k->sip, m->server_ip, n);
}

static void
query_add(struct enr_dns *d, const struct msg_dns *m,
    const struct dns_msg *dm)
{
	struct endpoints k;
	struct query *slot;
	size_t b, i;

	endpoints_of(m, dm->id, &k);
	b = query_bucket(&k);
	slot = &d->q[b];
	for (i = 0; i < QUERY_WAYS; i++) {
		struct query *q = &d->q[b + i];

		if (q->time != 0 && memcmp(&q->key, &k, sizeof(k)) == 0 &&
		    strcmp(q->qname, dm->qname) == 0 && q->qtype == dm->qtype) {
			slot = q;		/* sent again */
			break;
		}
		if (q->time < slot->time)
			slot = q;
	}
	if (slot->time != 0 && slot->time + QUERY_MAX_AGE >= m->time_ns &&
	    memcmp(&slot->key, &k, sizeof(k)) != 0)
		d->st.queries_evicted++;
	slot->key = k;
	slot->time = m->time_ns != 0 ? m->time_ns : 1;
	slot->pid = m->pid;
	slot->qtype = dm->qtype;
	snprintf(slot->qname, sizeof(slot->qname), "%s", dm->qname);
}

/* The query an answer answers; taken out of the table. */
static int
query_take(struct enr_dns *d, const struct msg_dns *m,
    const struct dns_msg *dm, uint32_t *pid)
{
	struct endpoints k;
	size_t b, i;

	endpoints_of(m, dm->id, &k);
	b = query_bucket(&k);
	for (i = 0; i < QUERY_WAYS; i++) {
		struct query *q = &d->q[b + i];

		if (q->time == 0 || memcmp(&q->key, &k, sizeof(k)) != 0 ||
		    q->qtype != dm->qtype || strcmp(q->qname, dm->qname) != 0)
			continue;
		if (q->time + QUERY_MAX_AGE < m->time_ns)
			return 0;
		*pid = q->pid;
		/*
		 * Kept: glibc sends A and AAAA with one id, and either
		 * answer may come twice (seen on two interfaces).
		 */
		return 1;
	}
	return 0;
}

/* The server is on this machine's loopback: its queries are captured. */
static int
loopback(const struct msg_dns *m)
{
	static const uint8_t v6[16] = { [15] = 1 };

	return m->family == 4 ? m->server_ip[0] == 127 :
	    memcmp(m->server_ip, v6, 16) == 0;
}

void
enr_dns_message(struct enr_dns *d, const struct msg_dns *m, uint64_t start)
{
	struct dns_msg dm;
	uint32_t qpid = 0, pid;
	size_t i;
	int rv;

	d->st.messages++;
	if ((rv = dns_parse(m->payload, m->len, m->whole, &dm)) != DNS_OK) {
		if (rv > 0 && rv < DNS_ERR__MAX)
			d->st.malformed[rv]++;
		return;
	}
	if (dm.cut)
		d->st.cut++;
	if (strlen(dm.qname) > NAME_MAX_LEN) {
		d->st.name_too_long++;
		return;
	}
	if (!dm.response) {
		d->st.queries++;
		query_add(d, m, &dm);
		return;
	}
	d->st.responses++;
	if (!query_take(d, m, &dm, &qpid)) {
		if (loopback(m) || m->pid == 0) {
			d->st.unmatched++;
			return;
		}
		d->st.unqueried++;
	}
	if ((pid = m->pid) == 0 && (pid = qpid) == 0) {
		d->st.unattributed++;
		return;
	}
	for (i = 0; i < dm.naddrs; i++)
		name_add(d, pid, start, &dm.addrs[i], dm.qname, m->time_ns);
}

const char *
enr_dns_name(struct enr_dns *d, uint32_t pid, uint64_t start, uint8_t family,
    const uint8_t *ip, int64_t flow_start, int64_t flow_end, int64_t now)
{
	struct name *e;

	if (pid == 0 || d->n == 0)
		return NULL;
	if ((e = *name_find(d, pid, start, family, ip)) == NULL)
		return NULL;
	if (flow_start > e->expires + SLACK || flow_end + SLACK < e->first)
		return NULL;
	/* In use: kept while the flow goes on being reported. */
	if (e->keep_until < now + KEEP)
		e->keep_until = now + KEEP;
	name_unlink_lru(d, e);
	name_push_newest(d, e);
	d->st.flows_named++;
	return e->text;
}

/* Entries neither valid nor used for KEEP. */
void
enr_dns_expire(struct enr_dns *d, int64_t now)
{
	struct name *e, *next;

	for (e = d->oldest; e != NULL; e = next) {
		next = e->newer;
		if (e->keep_until < now) {
			name_remove(d, name_link(d, e));
			d->st.names_expired++;
		}
	}
}

/*
 * Per-packet IP-level accounting of TCP for the kprobe backend: every
 * packet seen leaving (ip_output, ip6_output) or delivered
 * (ip_local_deliver, ip6_input) is added to the entry of its connection's
 * tuple as this host sees it (local address and port, remote address and
 * port). Keying by tuple, not by socket, takes in the packets no socket
 * of the connection owns yet or any more: the SYN, the SYN-ACK a request
 * socket sends and the ACK that completes the handshake of an accepted
 * connection. A flow takes its entry when it is reported; an entry no
 * flow takes (a listener's refused SYNs, packets after the last report)
 * is dropped after a while and counted; the sweep keeps those of open
 * connections, however long they stay idle.
 *
 * The table has a fixed capacity; a packet that finds no room is counted.
 * Connections in two network namespaces with one tuple share an entry
 * (the probe does not tell namespaces apart here).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "hash.h"

#define PKTS_BITS	15
#define PKTS_CAP	(1U << PKTS_BITS)
#define PKTS_FULL	(PKTS_CAP / 4 * 3)

struct pkt_key {
	uint8_t		family;
	uint16_t	lport, rport;
	uint8_t		lip[16], rip[16];
};

struct pkt_entry {
	struct pkt_key	key;
	bool		used;
	uint64_t	first, last;
	struct agg_pkt_counts c;
};

struct agg_pkts {
	struct pkt_entry	 e[PKTS_CAP];
	size_t			 n;
	struct agg_pkts_stats	 stats;
};

struct agg_pkts *
agg_pkts_new(void)
{
	return calloc(1, sizeof(struct agg_pkts));
}

void
agg_pkts_free(struct agg_pkts *p)
{
	free(p);
}

const struct agg_pkts_stats *
agg_pkts_stats(const struct agg_pkts *p)
{
	return &p->stats;
}

static void
make_key(struct pkt_key *k, uint8_t family, const uint8_t *lip,
    uint16_t lport, const uint8_t *rip, uint16_t rport)
{
	size_t alen = family == 4 ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->family = family;
	k->lport = lport;
	k->rport = rport;
	memcpy(k->lip, lip, alen);
	memcpy(k->rip, rip, alen);
}

static size_t
hash_key(const struct pkt_key *k)
{
	uint64_t h = fnv1a(FNV_OFFSET, k, sizeof(*k));

	return (size_t)(h ^ (h >> 29)) & (PKTS_CAP - 1);
}

/* The entry of k, or the free slot where it would go. */
static struct pkt_entry *
lookup(struct agg_pkts *p, const struct pkt_key *k)
{
	size_t i, h = hash_key(k);

	for (i = 0; i < PKTS_CAP; i++) {
		struct pkt_entry *e = &p->e[(h + i) & (PKTS_CAP - 1)];

		if (!e->used || memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
	}
	return NULL;
}

/* Remove an entry, moving later members of its run back. */
static void
remove_entry(struct agg_pkts *p, struct pkt_entry *e)
{
	size_t i = (size_t)(e - p->e), j = i, h;

	memset(&p->e[i], 0, sizeof(p->e[i]));
	p->n--;
	for (;;) {
		j = (j + 1) & (PKTS_CAP - 1);
		if (!p->e[j].used)
			return;
		h = hash_key(&p->e[j].key);
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		p->e[i] = p->e[j];
		memset(&p->e[j], 0, sizeof(p->e[j]));
		i = j;
	}
}

void
agg_pkts_add(struct agg_pkts *p, const struct agg_event *ev)
{
	struct pkt_key k;
	struct pkt_entry *e;
	const uint8_t *lip, *rip;
	uint16_t lport, rport;

	p->stats.packets++;
	if (ev->u.pkt.out) {
		lip = ev->u.pkt.src;
		lport = ev->u.pkt.sport;
		rip = ev->u.pkt.dst;
		rport = ev->u.pkt.dport;
	} else {
		lip = ev->u.pkt.dst;
		lport = ev->u.pkt.dport;
		rip = ev->u.pkt.src;
		rport = ev->u.pkt.sport;
	}
	make_key(&k, ev->u.pkt.family, lip, lport, rip, rport);
	if ((e = lookup(p, &k)) == NULL ||
	    (!e->used && p->n >= PKTS_FULL)) {
		p->stats.table_full++;
		return;
	}
	if (!e->used) {
		e->key = k;
		e->used = true;
		e->first = ev->time;
		p->n++;
	}
	e->last = ev->time;
	if (ev->u.pkt.out) {
		e->c.out_packets++;
		e->c.out_bytes += ev->u.pkt.len;
	} else {
		e->c.in_packets++;
		e->c.in_bytes += ev->u.pkt.len;
	}
}

int
agg_pkts_take(struct agg_pkts *p, uint8_t family, const uint8_t *lip,
    uint16_t lport, const uint8_t *rip, uint16_t rport, uint64_t since,
    struct agg_pkt_counts *out)
{
	struct pkt_key k;
	struct pkt_entry *e;

	make_key(&k, family, lip, lport, rip, rport);
	if ((e = lookup(p, &k)) == NULL || !e->used)
		return 0;
	/*
	 * Packets that all came before this flow began are an earlier
	 * connection's with the same tuple (its TIME_WAIT, say).
	 */
	if (e->last < since) {
		p->stats.stale++;
		remove_entry(p, e);
		return 0;
	}
	*out = e->c;
	p->stats.taken++;
	remove_entry(p, e);
	return 1;
}

void
agg_pkts_touch(struct agg_pkts *p, uint8_t family, const uint8_t *lip,
    uint16_t lport, const uint8_t *rip, uint16_t rport, uint64_t now)
{
	struct pkt_key k;
	struct pkt_entry *e;

	make_key(&k, family, lip, lport, rip, rport);
	if ((e = lookup(p, &k)) != NULL && e->used && e->last < now)
		e->last = now;
}

void
agg_pkts_expire(struct agg_pkts *p, uint64_t before)
{
	size_t i;

	for (i = 0; i < PKTS_CAP && p->n > 0; i++) {
		struct pkt_entry *e = &p->e[i];

		if (e->used && e->last < before) {
			p->stats.expired++;
			p->stats.expired_packets += e->c.out_packets +
			    e->c.in_packets;
			remove_entry(p, e);
			/* What moved back into this slot is looked at too. */
			i--;
		}
	}
}

/*
 * DNS packets from the probe's capture, and the processes they belong to.
 *
 * A captured packet is read down to its transport header (the DNS bytes
 * after it are the enricher's to parse), kept in a ring, and put in time
 * order with the samples as an AEV_DNS event. When it is released, the
 * samples before it have been seen, among them the send of the process
 * whose query it answers: the flow table tells this file, through
 * agg_dns_client(), which process last sent to or received from a DNS
 * server from which local port. The key is (transport, local port,
 * server address and port): a UDP socket's own address is often not
 * known (the tracepoint backend sees it only when a route lookup shows
 * it), and the port with the server is as good a key.
 *
 * An answer whose client is not known yet waits (its query's send sample
 * can come a little after the answer's time stamp on a fast loopback)
 * until the client's send or receive is seen, or AGE_PENDING has passed;
 * then it is dropped and counted. Queries need no process: the enricher
 * matches answers to them by transaction id and endpoints.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "hash.h"

#define DNS_PORT	53
#define RING		1024		/* packets between capture and release */
#define CLIENT_BITS	12
#define CLIENT_SLOTS	(1U << CLIENT_BITS)
#define CLIENT_WAYS	4
/* A client seen longer ago than this is not trusted for an answer. */
#define CLIENT_FRESH	(10ULL * 1000 * 1000 * 1000)
#define PENDING_CAP	256
#define AGE_PENDING	(2ULL * 1000 * 1000 * 1000)

struct dns_key {
	uint8_t		 transport;
	uint8_t		 family;
	uint16_t	 port;		/* the client's */
	uint16_t	 sport;		/* the server's */
	uint8_t		 server[16];
};

struct dns_pkt {
	uint64_t	 seq;		/* 0: empty */
	uint64_t	 time;
	struct dns_key	 key;
	uint8_t		 client[16];
	bool		 response;
	bool		 whole;
	uint8_t		*payload;
	size_t		 len;
};

struct client {
	struct dns_key	 key;
	uint32_t	 pid;		/* 0: empty */
	uint64_t	 time;
};

struct agg_dns {
	struct dns_pkt	 ring[RING];
	uint64_t	 seq;
	struct client	 clients[CLIENT_SLOTS];
	struct dns_pkt	 pending[PENDING_CAP];
	size_t		 npending;
	agg_dns_cb	 cb;
	void		*arg;
	struct agg_dns_stats st;
};

struct agg_dns *
agg_dns_new(agg_dns_cb cb, void *arg)
{
	struct agg_dns *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->cb = cb;
	d->arg = arg;
	return d;
}

void
agg_dns_free(struct agg_dns *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < RING; i++)
		free(d->ring[i].payload);
	for (i = 0; i < d->npending; i++)
		free(d->pending[i].payload);
	free(d);
}

const struct agg_dns_stats *
agg_dns_stats(const struct agg_dns *d)
{
	return &d->st;
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * The endpoints and DNS bytes of one packet; 0 when it is not a DNS
 * packet that can be read (counted by the caller's reason).
 */
static int
parse_packet(struct agg_dns *d, const struct msg_packet *pk,
    struct dns_pkt *out)
{
	const uint8_t *p = pk->data, *src, *dst, *l4;
	size_t caplen = pk->len, iplen, hl, l4len, avail;
	uint16_t sport, dport;
	uint8_t proto, family;

	/* The IP header: addresses, protocol, where the transport starts. */
	if (pk->protocol == 0x0800) {
		if (caplen < 20 || (p[0] >> 4) != 4 || (p[0] & 0xf) < 5)
			goto bad;
		hl = (size_t)(p[0] & 0xf) * 4;
		iplen = be16(p + 2);
		if ((be16(p + 6) & 0x1fff) != 0)
			goto bad;	/* a later fragment: no ports */
		proto = p[9];
		src = p + 12;
		dst = p + 16;
		family = 4;
	} else {
		if (caplen < 40 || (p[0] >> 4) != 6)
			goto bad;
		hl = 40;
		iplen = 40 + (size_t)be16(p + 4);
		proto = p[6];
		src = p + 8;
		dst = p + 24;
		family = 6;
	}
	if (iplen < hl || iplen > pk->orig_len || hl > caplen)
		goto bad;
	l4 = p + hl;
	l4len = iplen - hl;			/* as the header says */
	avail = (caplen < iplen ? caplen : iplen) - hl;	/* as captured */
	if (proto == IPPROTO_UDP) {
		if (avail < 8 || be16(l4 + 4) < 8 || be16(l4 + 4) > l4len)
			goto bad;
		sport = be16(l4);
		dport = be16(l4 + 2);
		out->payload = (uint8_t *)(uintptr_t)(l4 + 8);
		out->len = avail - 8;
		if (out->len > (size_t)be16(l4 + 4) - 8)
			out->len = (size_t)be16(l4 + 4) - 8;
		out->whole = out->len == (size_t)be16(l4 + 4) - 8;
	} else if (proto == IPPROTO_TCP) {
		size_t off, mlen;

		if (avail < 20 || (off = (size_t)(l4[12] >> 4) * 4) < 20 ||
		    off > l4len)
			goto bad;
		sport = be16(l4);
		dport = be16(l4 + 2);
		if (l4len == off) {
			d->st.tcp_empty++;	/* SYN, ACK, FIN: no DNS */
			return 0;
		}
		if (avail < off + 2) {
			d->st.cut++;
			return 0;
		}
		/*
		 * A message is read only when it starts this segment with
		 * its 2-byte length; one spread over segments is not
		 * reassembled, and is counted.
		 */
		mlen = be16(l4 + off);
		if (mlen == 0 || mlen > l4len - off - 2) {
			d->st.tcp_split++;
			return 0;
		}
		out->payload = (uint8_t *)(uintptr_t)(l4 + off + 2);
		out->len = avail - off - 2;
		if (out->len > mlen)
			out->len = mlen;
		out->whole = out->len == mlen;
	} else
		goto bad;
	if ((sport == DNS_PORT) == (dport == DNS_PORT)) {
		/* Server to server, or not DNS at all: whose would it be? */
		d->st.not_client++;
		return 0;
	}
	if (out->len == 0) {
		d->st.cut++;
		return 0;
	}
	out->response = sport == DNS_PORT;
	memset(&out->key, 0, sizeof(out->key));
	out->key.transport = proto;
	out->key.family = family;
	out->key.port = out->response ? dport : sport;
	out->key.sport = DNS_PORT;
	memset(out->client, 0, sizeof(out->client));
	memcpy(out->key.server, out->response ? src : dst,
	    family == 4 ? 4 : 16);
	memcpy(out->client, out->response ? dst : src, family == 4 ? 4 : 16);
	return 1;
 bad:
	d->st.unparsed++;
	return 0;
}

int
agg_dns_packet(struct agg_dns *d, const struct msg_packet *pk,
    struct agg_event *ev)
{
	struct dns_pkt p, *slot;
	uint8_t *copy;

	d->st.packets++;
	memset(&p, 0, sizeof(p));
	if (!parse_packet(d, pk, &p))
		return 0;
	if ((copy = malloc(p.len)) == NULL) {
		d->st.no_memory++;
		return 0;
	}
	memcpy(copy, p.payload, p.len);
	p.payload = copy;
	p.time = pk->time;
	p.seq = ++d->seq;
	slot = &d->ring[p.seq % RING];
	if (slot->seq != 0) {
		/* Not released yet: the samples are far behind. */
		d->st.overrun++;
		free(slot->payload);
	}
	*slot = p;
	memset(ev, 0, sizeof(*ev));
	ev->kind = AEV_DNS;
	ev->time = p.time;
	ev->u.dns.slot = (uint32_t)(p.seq % RING);
	ev->u.dns.seq = p.seq;
	return 1;
}

static size_t
client_bucket(const struct dns_key *k)
{
	uint64_t h = fnv1a(FNV_OFFSET, k, sizeof(*k));

	return (size_t)(h >> (64 - CLIENT_BITS)) & ~(size_t)(CLIENT_WAYS - 1);
}

static struct client *
client_find(struct agg_dns *d, const struct dns_key *k)
{
	size_t b = client_bucket(k), i;

	for (i = 0; i < CLIENT_WAYS; i++)
		if (d->clients[b + i].pid != 0 &&
		    memcmp(&d->clients[b + i].key, k, sizeof(*k)) == 0)
			return &d->clients[b + i];
	return NULL;
}

static void
forward(struct agg_dns *d, struct dns_pkt *p, uint32_t pid)
{
	struct msg_dns m;
	size_t n = p->key.family == 4 ? 4 : 16;

	memset(&m, 0, sizeof(m));
	m.pid = pid;
	m.time_ns = agg_mono_to_wall(p->time);
	m.transport = p->key.transport;
	m.family = p->key.family;
	memcpy(m.client_ip, p->client, n);
	m.client_port = p->key.port;
	memcpy(m.server_ip, p->key.server, n);
	m.server_port = p->key.sport;
	m.response = p->response;
	m.whole = p->whole;
	m.payload = p->payload;
	m.len = p->len;
	d->cb(&m, d->arg);
	if (pid != 0)
		d->st.attributed++;
	d->st.forwarded++;
	free(p->payload);
	p->payload = NULL;
}

void
agg_dns_release(struct agg_dns *d, const struct agg_event *ev)
{
	struct dns_pkt *slot, p;
	struct client *c;

	if (ev->u.dns.slot >= RING)
		return;
	slot = &d->ring[ev->u.dns.slot];
	if (slot->seq != ev->u.dns.seq)
		return;		/* overwritten: counted as an overrun */
	p = *slot;
	memset(slot, 0, sizeof(*slot));
	c = client_find(d, &p.key);
	if (c != NULL && c->time + CLIENT_FRESH < p.time)
		c = NULL;
	if (c != NULL || !p.response) {
		forward(d, &p, c != NULL ? c->pid : 0);
		return;
	}
	if (d->npending == PENDING_CAP) {
		d->st.pending_full++;
		free(p.payload);
		return;
	}
	d->pending[d->npending++] = p;
}

void
agg_dns_client(struct agg_dns *d, uint8_t transport, uint8_t family,
    uint16_t lport, const uint8_t *rip, uint16_t rport, uint32_t pid,
    uint64_t time)
{
	struct dns_key k;
	struct client *c;
	size_t b, i;

	if (pid == 0 || lport == 0)
		return;
	memset(&k, 0, sizeof(k));
	k.transport = transport;
	k.family = family;
	k.port = lport;
	k.sport = rport;
	memcpy(k.server, rip, family == 4 ? 4 : 16);
	if ((c = client_find(d, &k)) == NULL) {
		/* A free way, else the one seen longest ago. */
		b = client_bucket(&k);
		c = &d->clients[b];
		for (i = 0; i < CLIENT_WAYS; i++) {
			if (d->clients[b + i].pid == 0) {
				c = &d->clients[b + i];
				break;
			}
			if (d->clients[b + i].time < c->time)
				c = &d->clients[b + i];
		}
		c->key = k;
		d->st.clients++;
	}
	c->pid = pid;
	if (time > c->time)
		c->time = time;
	/* Answers that waited for this client. */
	for (i = 0; i < d->npending; ) {
		if (memcmp(&d->pending[i].key, &k, sizeof(k)) == 0) {
			forward(d, &d->pending[i], pid);
			d->pending[i] = d->pending[--d->npending];
		} else
			i++;
	}
}

/* Answers whose client did not show in time: dropped and counted. */
void
agg_dns_expire(struct agg_dns *d, uint64_t now)
{
	size_t i;

	for (i = 0; i < d->npending; ) {
		if (d->pending[i].time + AGE_PENDING < now) {
			d->st.unattributed++;
			free(d->pending[i].payload);
			d->pending[i] = d->pending[--d->npending];
		} else
			i++;
	}
}

/*
 * DNS message parser (RFC 1035) for the enricher's DNS correlation: the
 * header, the one question, and for a response the A and AAAA records
 * that answer the question directly or through CNAMEs. The message comes
 * from anyone on the network, so every length is checked against the
 * buffer before the octets it covers are read, and compression pointers
 * may only go backwards, below the start of the run of labels that holds
 * them: a name can then never come back to where it has been, and the
 * cap on pointers only bounds the work. Names are compared on the wire
 * (ASCII case folded) rather than as text, so only the question's name is
 * ever written out; nothing is allocated, as this runs for every DNS
 * packet captured, and the answers are walked at most twice however they
 * are ordered, so that a message made to be slow is not much slower than
 * its size.
 */
#include "config.h"

#include <string.h>

#include "dnsparse.h"
#include "hash.h"

#define DNS_HEADER_LEN	12
#define DNS_NAME_WIRE	255	/* RFC 1035 3.1: octets of a name */
#define DNS_MAX_HOPS	64	/* pointers followed in one name */
#define DNS_MAX_LOOSE	64	/* CNAMEs kept that came before their owner */

#define DNS_QR		0x8000
#define DNS_TC		0x0200

#define DNS_CLASS_IN	1
#define DNS_TYPE_A	1
#define DNS_TYPE_CNAME	5
#define DNS_TYPE_AAAA	28

/* Every octet of a name becomes at most 4 characters ("\DDD"), a length
 * octet at most one ('.'): the text of the longest name, and its NUL, fit. */
#if DNS_NAME_TEXT <= 4 * DNS_NAME_WIRE
#error "DNS_NAME_TEXT cannot hold the text of the longest name"
#endif

/* Reads one name label by label, following pointers. */
struct name_cursor {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 pos;		/* next octet to read */
	size_t		 limit;		/* a pointer must point below this */
	size_t		 end;		/* where the name ends in place */
	int		 ended;		/* end is known */
	size_t		 wirelen;	/* octets of the name read so far */
	unsigned int	 hops;
};

/* A record as far as the answer walk needs it. */
struct dns_rr {
	size_t		 owner;		/* offset of the owner name */
	uint64_t	 hash;		/* of the owner name */
	uint16_t	 type;
	uint16_t	 class;
	uint32_t	 ttl;
	size_t		 rdata;
	size_t		 rdlen;
};

/* A name of the CNAME chain, the question's first. */
struct chain_name {
	size_t		 off;		/* where the name starts in buf */
	uint64_t	 hash;
	uint32_t	 ttl;		/* smallest TTL from the question */
	size_t		 at;		/* when it joined: see answers_walk */
};

/* A CNAME whose owner was not (yet) in the chain when the walk met it. */
struct loose_cname {
	size_t		 owner;
	size_t		 target;
	uint64_t	 owner_hash;
	uint64_t	 target_hash;
	uint32_t	 ttl;
};

struct chain {
	struct chain_name names[DNS_MAX_CHAIN];
	size_t		 n;
	struct loose_cname loose[DNS_MAX_LOOSE];
	size_t		 nloose;
	int		 loose_addr;	/* an A or AAAA did not connect, */
	size_t		 loose_addr_off; /* the first at this offset, */
	size_t		 loose_addr_rec; /* this record */
	int		 grew_since;	/* and the chain grew after it */
};

static const char *const dns_err_names[DNS_ERR__MAX] = {
	[DNS_OK] = "ok",
	[DNS_ERR_SHORT] = "short",
	[DNS_ERR_QDCOUNT] = "qdcount",
	[DNS_ERR_LABEL] = "label",
	[DNS_ERR_NAME_LONG] = "name_long",
	[DNS_ERR_POINTER] = "pointer",
	[DNS_ERR_LOOP] = "loop",
	[DNS_ERR_RDATA] = "rdata",
};

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Names compare without regard to ASCII case (RFC 4343), and only that. */
static uint8_t
fold(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static void
cursor_init(struct name_cursor *c, const uint8_t *buf, size_t len,
    size_t off)
{
	c->buf = buf;
	c->len = len;
	c->pos = off;
	c->limit = off;
	c->end = 0;
	c->ended = 0;
	c->wirelen = 0;
	c->hops = 0;
}

/*
 * Follow the pointers at the cursor, if any, to where a label is. Each
 * must point below the start of the labels read in this run, not only
 * below itself: a pointer into its own run would read it again, and
 * itself.
 */
static int
cursor_follow(struct name_cursor *c)
{
	size_t target;
	uint8_t b;

	for (;;) {
		if (c->pos >= c->len)
			return DNS_ERR_SHORT;
		b = c->buf[c->pos];
		if ((b & 0xc0) == 0)
			return DNS_OK;
		/* 0x40 (RFC 6891's extended labels) and 0x80 are reserved. */
		if ((b & 0xc0) != 0xc0)
			return DNS_ERR_LABEL;
		if (c->len - c->pos < 2)
			return DNS_ERR_SHORT;
		target = (size_t)(b & 0x3f) << 8 | c->buf[c->pos + 1];
		if (!c->ended) {
			c->end = c->pos + 2;
			c->ended = 1;
		}
		if (target >= c->limit)
			return DNS_ERR_POINTER;
		if (++c->hops > DNS_MAX_HOPS)
			return DNS_ERR_LOOP;
		c->pos = c->limit = target;
	}
}

/*
 * The next label of the name: *lab and *lablen, a length of 0 being the
 * root, which ends the name. The name's length is checked before its
 * label is, so a name too long is that even where the capture cut it.
 */
static int
cursor_label(struct name_cursor *c, const uint8_t **lab, size_t *lablen)
{
	uint8_t b;
	int error;

	if ((error = cursor_follow(c)) != DNS_OK)
		return error;
	/* The top bits are 00, so b <= 63 (RFC 1035 2.3.4). */
	b = c->buf[c->pos];
	c->wirelen += 1 + (size_t)b;
	if (c->wirelen > DNS_NAME_WIRE)
		return DNS_ERR_NAME_LONG;
	if (c->len - c->pos - 1 < b)
		return DNS_ERR_SHORT;
	*lab = &c->buf[c->pos + 1];
	*lablen = b;
	c->pos += 1 + (size_t)b;
	if (b == 0 && !c->ended) {
		c->end = c->pos;
		c->ended = 1;
	}
	return DNS_OK;
}

/*
 * Read the whole name, checking it; c->end is then the offset after it in
 * place. *hash (FNV-1a of the case-folded labels) lets names be told
 * apart without walking both. With text, the name is also written there
 * as dig would: lower case, '.' between labels, and any octet outside
 * 0x21..0x7e, or '.' or '\' inside a label, as \DDD.
 */
static int
name_read(struct name_cursor *c, char *text, uint64_t *hash)
{
	static const char digits[] = "0123456789";
	const uint8_t *lab;
	size_t lablen, i, t = 0;
	uint64_t h = FNV_OFFSET;
	uint8_t o, n;
	int error;

	for (;;) {
		if ((error = cursor_label(c, &lab, &lablen)) != DNS_OK)
			return error;
		n = (uint8_t)lablen;
		h = fnv1a(h, &n, 1);
		if (lablen == 0)
			break;
		if (text != NULL && t > 0)
			text[t++] = '.';
		for (i = 0; i < lablen; i++) {
			o = fold(lab[i]);
			h = fnv1a(h, &o, 1);
			if (text == NULL)
				continue;
			if (o < 0x21 || o > 0x7e || o == '.' || o == '\\') {
				text[t++] = '\\';
				text[t++] = digits[o / 100];
				text[t++] = digits[o / 10 % 10];
				text[t++] = digits[o % 10];
			} else
				text[t++] = (char)o;
		}
	}
	if (text != NULL)
		text[t] = '\0';
	*hash = h;
	return DNS_OK;
}

/*
 * Whether the names at a and b (both read without error before) are one.
 * Where both come to the same octets the rest is the same: an owner that
 * is a pointer to the question's name is equal to it at once.
 */
static int
name_equal(const uint8_t *buf, size_t len, size_t a, size_t b)
{
	struct name_cursor ca, cb;
	const uint8_t *la, *lb;
	size_t na, nb, i;

	cursor_init(&ca, buf, len, a);
	cursor_init(&cb, buf, len, b);
	for (;;) {
		if (cursor_follow(&ca) != DNS_OK ||
		    cursor_follow(&cb) != DNS_OK)
			return 0;
		if (ca.pos == cb.pos)
			return 1;
		if (cursor_label(&ca, &la, &na) != DNS_OK ||
		    cursor_label(&cb, &lb, &nb) != DNS_OK || na != nb)
			return 0;
		if (na == 0)
			return 1;
		for (i = 0; i < na; i++)
			if (fold(la[i]) != fold(lb[i]))
				return 0;
	}
}

/* The record at *off; *off is then the offset after it. */
static int
rr_read(const uint8_t *buf, size_t len, size_t *off, struct dns_rr *rr)
{
	struct name_cursor c;
	size_t p;
	int error;

	rr->owner = *off;
	cursor_init(&c, buf, len, *off);
	if ((error = name_read(&c, NULL, &rr->hash)) != DNS_OK)
		return error;
	p = c.end;
	if (len - p < 10)
		return DNS_ERR_SHORT;
	rr->type = get16(&buf[p]);
	rr->class = get16(&buf[p + 2]);
	rr->ttl = get32(&buf[p + 4]);
	/* RFC 2181 8: a TTL with the top bit set is to be taken as 0. */
	if (rr->ttl & 0x80000000U)
		rr->ttl = 0;
	rr->rdlen = get16(&buf[p + 8]);
	p += 10;
	if (len - p < rr->rdlen)
		return DNS_ERR_SHORT;
	rr->rdata = p;
	*off = p + rr->rdlen;
	return DNS_OK;
}

/* The name of the chain that is the name at off, or -1. */
static int
chain_find(const struct chain *ch, const uint8_t *buf, size_t len,
    size_t off, uint64_t hash)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		if (ch->names[i].hash == hash &&
		    name_equal(buf, len, ch->names[i].off, off))
			return (int)i;
	return -1;
}

static uint32_t
ttl_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/*
 * An address once only: the same one again (the same record twice, or
 * two ways to it) keeps the smaller TTL, as RFC 2181 5.2 has for TTLs
 * that differ in one RRset. An address past the cap is counted, once for
 * every record that has it, as it is no longer there to compare with.
 */
static void
addr_add(struct dns_msg *m, uint8_t family, const uint8_t *addr,
    uint32_t ttl)
{
	struct dns_addr *a;
	size_t i, n = family == 4 ? 4 : 16;

	for (i = 0; i < m->naddrs; i++) {
		a = &m->addrs[i];
		if (a->family == family && memcmp(a->addr, addr, n) == 0) {
			a->ttl = ttl_min(a->ttl, ttl);
			return;
		}
	}
	if (m->naddrs == DNS_MAX_ADDRS) {
		m->addrs_dropped++;
		return;
	}
	a = &m->addrs[m->naddrs++];
	a->family = family;
	memset(a->addr, 0, sizeof(a->addr));
	memcpy(a->addr, addr, n);
	a->ttl = ttl;
}

/*
 * Add the name at off to the chain, reached with ttl; at is when (see
 * answers_walk). Not if it is there already: a chain that comes back to
 * one of its names ends there.
 */
static void
chain_add(struct chain *ch, const uint8_t *buf, size_t len, size_t off,
    uint64_t hash, uint32_t ttl, size_t at)
{
	struct chain_name *to;

	if (ch->n == DNS_MAX_CHAIN ||
	    chain_find(ch, buf, len, off, hash) != -1)
		return;
	to = &ch->names[ch->n++];
	to->off = off;
	to->hash = hash;
	to->ttl = ttl;
	to->at = at;
	if (ch->loose_addr)
		ch->grew_since = 1;
}

/* Check the record read: the types the walk takes, and their data. */
static int
rr_check(const uint8_t *buf, size_t len, const struct dns_rr *rr,
    uint64_t *target_hash)
{
	struct name_cursor c;
	int error;

	if (rr->class != DNS_CLASS_IN)
		return DNS_OK;
	switch (rr->type) {
	case DNS_TYPE_A:
		return rr->rdlen == 4 ? DNS_OK : DNS_ERR_RDATA;
	case DNS_TYPE_AAAA:
		return rr->rdlen == 16 ? DNS_OK : DNS_ERR_RDATA;
	case DNS_TYPE_CNAME:
		cursor_init(&c, buf, len, rr->rdata);
		error = name_read(&c, NULL, target_hash);
		/* The record is whole: a name that runs past it, or past
		 * the end, is the record's fault, not the capture's. */
		if (error == DNS_ERR_SHORT ||
		    (error == DNS_OK && c.end != rr->rdata + rr->rdlen))
			return DNS_ERR_RDATA;
		return error;
	default:
		return DNS_OK;
	}
}

/*
 * Walk the answers once, checking every record and taking CNAMEs and
 * addresses as they connect to the chain so far: that is all of them
 * when the records come in the order of the chain, as servers send them.
 * Records may come in any order, so a CNAME met before its owner joined
 * is kept aside (up to DNS_MAX_LOOSE of them; past that, a message is
 * not worth the memory) and the chain is finished from those afterwards.
 * If it then has names that an A or AAAA met before them belongs to, the
 * answers from the first of those on are walked again for addresses
 * only, and an address is taken then if its owner was not in the chain
 * when the first walk met it; so none is taken, or counted as dropped,
 * twice. For that, a name of the chain holds when it joined: 0 for the
 * question's, record number + 1 for a CNAME of the first walk, SIZE_MAX
 * for one of the kept CNAMEs.
 */
static int
answers_walk(const uint8_t *buf, size_t len, bool whole, size_t start,
    size_t ancount, struct dns_msg *m, struct chain *ch)
{
	struct dns_rr rr;
	struct loose_cname *lc;
	size_t off, i, j, n, nrec = ancount;
	uint64_t target_hash = 0;
	int error, e;

	off = start;
	for (i = 0; i < nrec; i++) {
		if ((error = rr_read(buf, len, &off, &rr)) != DNS_OK) {
			if (error != DNS_ERR_SHORT || whole)
				return error;
			/* The capture ends here, the message does not. */
			m->cut = true;
			nrec = i;
			break;
		}
		if ((error = rr_check(buf, len, &rr, &target_hash)) != DNS_OK)
			return error;
		if (rr.class != DNS_CLASS_IN || (rr.type != DNS_TYPE_A &&
		    rr.type != DNS_TYPE_AAAA && rr.type != DNS_TYPE_CNAME))
			continue;
		e = chain_find(ch, buf, len, rr.owner, rr.hash);
		if (rr.type == DNS_TYPE_CNAME) {
			if (e != -1)
				chain_add(ch, buf, len, rr.rdata, target_hash,
				    ttl_min(ch->names[e].ttl, rr.ttl), i + 1);
			else if (ch->nloose < DNS_MAX_LOOSE) {
				lc = &ch->loose[ch->nloose++];
				lc->owner = rr.owner;
				lc->owner_hash = rr.hash;
				lc->target = rr.rdata;
				lc->target_hash = target_hash;
				lc->ttl = rr.ttl;
			}
		} else if (e != -1)
			addr_add(m, rr.type == DNS_TYPE_A ? 4 : 6,
			    &buf[rr.rdata], ttl_min(ch->names[e].ttl, rr.ttl));
		else if (!ch->loose_addr) {
			ch->loose_addr = 1;
			ch->loose_addr_off = rr.owner;
			ch->loose_addr_rec = i;
		}
	}

	/* Each round adds a name or is the last: at most DNS_MAX_CHAIN. */
	do {
		n = ch->n;
		for (j = 0; j < ch->nloose && ch->n < DNS_MAX_CHAIN; j++) {
			lc = &ch->loose[j];
			if ((e = chain_find(ch, buf, len, lc->owner,
			    lc->owner_hash)) != -1)
				chain_add(ch, buf, len, lc->target,
				    lc->target_hash,
				    ttl_min(ch->names[e].ttl, lc->ttl), SIZE_MAX);
		}
	} while (ch->n != n);
	m->ncnames = ch->n - 1;

	if (!ch->grew_since)
		return DNS_OK;
	off = ch->loose_addr_off;
	for (i = ch->loose_addr_rec; i < nrec; i++) {
		if ((error = rr_read(buf, len, &off, &rr)) != DNS_OK)
			return error;
		if (rr.class != DNS_CLASS_IN ||
		    (rr.type != DNS_TYPE_A && rr.type != DNS_TYPE_AAAA))
			continue;
		/* Taken by the first walk, if its owner had joined. */
		if ((e = chain_find(ch, buf, len, rr.owner, rr.hash)) == -1 ||
		    ch->names[e].at <= i)
			continue;
		addr_add(m, rr.type == DNS_TYPE_A ? 4 : 6, &buf[rr.rdata],
		    ttl_min(ch->names[e].ttl, rr.ttl));
	}
	return DNS_OK;
}

int
dns_parse(const uint8_t *buf, size_t len, bool whole, struct dns_msg *m)
{
	struct name_cursor c;
	struct chain ch;
	uint16_t flags;
	size_t p;
	int error;

	m->qname[0] = '\0';
	m->naddrs = 0;
	m->addrs_dropped = 0;
	m->ncnames = 0;
	m->cut = false;
	if (len < DNS_HEADER_LEN)
		return DNS_ERR_SHORT;
	m->id = get16(&buf[0]);
	flags = get16(&buf[2]);
	m->response = (flags & DNS_QR) != 0;
	m->opcode = (flags >> 11) & 0xf;
	m->rcode = flags & 0xf;
	m->truncated = (flags & DNS_TC) != 0;
	if (get16(&buf[4]) != 1)
		return DNS_ERR_QDCOUNT;

	/* The question must be whole, cut capture or not. */
	cursor_init(&c, buf, len, DNS_HEADER_LEN);
	if ((error = name_read(&c, m->qname, &ch.names[0].hash)) != DNS_OK)
		return error;
	p = c.end;
	if (len - p < 4)
		return DNS_ERR_SHORT;
	m->qtype = get16(&buf[p]);
	m->qclass = get16(&buf[p + 2]);
	p += 4;
	if (!m->response)
		return DNS_OK;

	ch.names[0].off = DNS_HEADER_LEN;
	ch.names[0].ttl = UINT32_MAX;
	ch.names[0].at = 0;
	ch.n = 1;
	ch.nloose = 0;
	ch.loose_addr = 0;
	ch.loose_addr_off = 0;
	ch.loose_addr_rec = 0;
	ch.grew_since = 0;
	return answers_walk(buf, len, whole, p, get16(&buf[6]), m, &ch);
}

const char *
dns_err_name(int error)
{
	if (error < 0 || error >= DNS_ERR__MAX)
		return "unknown";
	return dns_err_names[error];
}

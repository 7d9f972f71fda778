/*
 * Tests of the DNS message parser (enricher/dnsparse.c): answers direct
 * and through CNAME chains in any order, the TTL along the chain, names
 * (compression, case, escaping), and the messages an attacker would send:
 * pointer loops, forward pointers, lengths past the end, names too long,
 * wrong counts and sizes, and every truncation of a valid response, each
 * parsed from a buffer of exactly its size so that the sanitizers see
 * any read past it. The messages are built here octet by octet.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dnsparse.h"

#define T_A	1
#define T_CNAME	5
#define T_TXT	16
#define T_AAAA	28
#define C_IN	1
#define C_CH	3

#define F_QR	0x8000
#define F_RD	0x0100
#define F_RA	0x0080
#define F_RESP	(F_QR | F_RD | F_RA)

/* A message being built. */
struct mb {
	uint8_t		 b[65536];
	size_t		 n;
};

static struct mb mb;
static struct dns_msg msg;

static void
put8(struct mb *w, unsigned int v)
{
	if (w->n >= sizeof(w->b)) {
		fprintf(stderr, "message too long for the builder\n");
		exit(1);
	}
	w->b[w->n++] = (uint8_t)v;
}

static void
put16(struct mb *w, unsigned int v)
{
	put8(w, v >> 8);
	put8(w, v & 0xff);
}

static void
put32(struct mb *w, uint32_t v)
{
	put16(w, v >> 16);
	put16(w, v & 0xffff);
}

static void
set16(struct mb *w, size_t at, unsigned int v)
{
	w->b[at] = (uint8_t)(v >> 8);
	w->b[at + 1] = (uint8_t)v;
}

static void
put_label(struct mb *w, const void *p, size_t n)
{
	size_t i;

	put8(w, (unsigned int)n);
	for (i = 0; i < n; i++)
		put8(w, ((const uint8_t *)p)[i]);
}

/* Labels of a dotted name, without the root: a pointer or put8(w, 0)
 * follows. */
static void
put_labels(struct mb *w, const char *name)
{
	const char *dot;

	while (*name != '\0') {
		dot = strchr(name, '.');
		if (dot == NULL)
			dot = name + strlen(name);
		put_label(w, name, (size_t)(dot - name));
		name = *dot == '.' ? dot + 1 : dot;
	}
}

/* A whole name in place, "" the root. */
static void
put_name(struct mb *w, const char *name)
{
	put_labels(w, name);
	put8(w, 0);
}

static void
put_ptr(struct mb *w, size_t to)
{
	put16(w, 0xc000 | (unsigned int)to);
}

/* Header and the question, the name at offset 12. */
static void
start(struct mb *w, unsigned int flags, unsigned int ancount,
    const char *qname, unsigned int qtype)
{
	w->n = 0;
	put16(w, 0x1234);
	put16(w, flags);
	put16(w, 1);
	put16(w, ancount);
	put16(w, 0);
	put16(w, 0);
	put_name(w, qname);
	put16(w, qtype);
	put16(w, C_IN);
}

static void
set_ancount(struct mb *w, unsigned int n)
{
	set16(w, 6, n);
}

/* Type, class, TTL and a place for rdlength, after the owner name. */
static size_t
rr_head(struct mb *w, unsigned int type, unsigned int class, uint32_t ttl)
{
	size_t at;

	put16(w, type);
	put16(w, class);
	put32(w, ttl);
	at = w->n;
	put16(w, 0);
	return at;
}

static void
rr_end(struct mb *w, size_t at)
{
	set16(w, at, (unsigned int)(w->n - at - 2));
}

/* The rest of an A or AAAA record (after its owner) for a text address. */
static void
rr_addr(struct mb *w, uint32_t ttl, const char *text)
{
	uint8_t a[16];
	size_t at, i;

	if (strchr(text, ':') != NULL) {
		inet_pton(AF_INET6, text, a);
		at = rr_head(w, T_AAAA, C_IN, ttl);
		for (i = 0; i < 16; i++)
			put8(w, a[i]);
	} else {
		inet_pton(AF_INET, text, a);
		at = rr_head(w, T_A, C_IN, ttl);
		for (i = 0; i < 4; i++)
			put8(w, a[i]);
	}
	rr_end(w, at);
}

/* A CNAME record with both names in place; returns the target's offset. */
static size_t
rr_cname(struct mb *w, const char *owner, uint32_t ttl, const char *target)
{
	size_t at, t;

	put_name(w, owner);
	at = rr_head(w, T_CNAME, C_IN, ttl);
	t = w->n;
	put_name(w, target);
	rr_end(w, at);
	return t;
}

/* Parse buf[0..len) from a copy of exactly that size. */
static int
parse_n(const uint8_t *buf, size_t len, bool whole, struct dns_msg *m)
{
	uint8_t *copy;
	int r;

	if ((copy = malloc(len == 0 ? 1 : len)) == NULL) {
		perror("malloc");
		exit(1);
	}
	memcpy(copy, buf, len);
	r = dns_parse(copy, len, whole, m);
	free(copy);
	return r;
}

static int
parse(const struct mb *w, bool whole)
{
	return parse_n(w->b, w->n, whole, &msg);
}

/* The index of the address given as text among m's, or -1. */
static int
find_addr(const struct dns_msg *m, const char *text)
{
	uint8_t a[16];
	size_t i;
	int fam = strchr(text, ':') != NULL ? 6 : 4;

	memset(a, 0, sizeof(a));
	inet_pton(fam == 6 ? AF_INET6 : AF_INET, text, a);
	for (i = 0; i < m->naddrs; i++)
		if (m->addrs[i].family == fam &&
		    memcmp(m->addrs[i].addr, a, fam == 6 ? 16 : 4) == 0)
			return (int)i;
	return -1;
}

static uint32_t
addr_ttl(const struct dns_msg *m, const char *text)
{
	int i = find_addr(m, text);

	return i == -1 ? 0xdeadbeef : m->addrs[i].ttl;
}

static void
test_plain_a(void)
{
	int r;

	start(&mb, F_RESP, 1, "example.com", T_A);
	put_ptr(&mb, 12);
	rr_addr(&mb, 300, "93.184.216.34");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.id == 0x1234);
	CHECK(msg.response);
	CHECK(msg.opcode == 0);
	CHECK(msg.rcode == 0);
	CHECK(!msg.truncated);
	CHECK(!msg.cut);
	CHECK(msg.qtype == T_A);
	CHECK(msg.qclass == C_IN);
	CHECK(strcmp(msg.qname, "example.com") == 0);
	CHECK(msg.naddrs == 1);
	CHECK(msg.addrs[0].family == 4);
	CHECK(memcmp(msg.addrs[0].addr, "\x5d\xb8\xd8\x22", 4) == 0);
	CHECK(msg.addrs[0].ttl == 300);
	CHECK(msg.ncnames == 0);
	CHECK(msg.addrs_dropped == 0);

	/* The header's other fields. */
	set16(&mb, 2, F_QR | 0x0200 | (2 << 11) | 3);
	CHECK(parse(&mb, true) == DNS_OK);
	CHECK(msg.truncated);
	CHECK(msg.opcode == 2);
	CHECK(msg.rcode == 3);
}

static void
test_aaaa(void)
{
	int r;

	start(&mb, F_RESP, 1, "v6.example", T_AAAA);
	put_ptr(&mb, 12);
	rr_addr(&mb, 60, "2001:db8::1");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.qtype == T_AAAA);
	CHECK(msg.naddrs == 1);
	CHECK(msg.addrs[0].family == 6);
	CHECK(find_addr(&msg, "2001:db8::1") == 0);
	CHECK(msg.addrs[0].ttl == 60);
}

/*
 * www.example.com -> a.cdn.net -> b.cdn.net -> c.cdn.net, given in no
 * order, with owners and targets compressed and in mixed case.
 */
static void
build_chain(struct mb *w)
{
	size_t t_a, t_b, t_c, at;

	start(w, F_RESP, 7, "www.example.com", T_A);
	/* 1: A of c.cdn.net, before anything leads there. */
	t_c = w->n;
	put_name(w, "C.cdn.NET");
	rr_addr(w, 100, "192.0.2.3");
	/* 2: b -> c, the target a pointer to record 1's owner. */
	t_b = w->n;
	put_name(w, "b.cdn.net");
	at = rr_head(w, T_CNAME, C_IN, 200);
	put_ptr(w, t_c);
	rr_end(w, at);
	/* 3: AAAA of c. */
	put_ptr(w, t_c);
	rr_addr(w, 30, "2001:db8::c");
	/* 4: a -> b, the owner's "cdn.net" record 2's. */
	t_a = w->n;
	put_labels(w, "a");
	put_ptr(w, t_b + 2);
	at = rr_head(w, T_CNAME, C_IN, 40);
	put_ptr(w, t_b);
	rr_end(w, at);
	/* 5: www -> A.cdn.net, the owner the question's name. */
	put_ptr(w, 12);
	at = rr_head(w, T_CNAME, C_IN, 300);
	put_labels(w, "A");
	put_ptr(w, t_b + 2);
	rr_end(w, at);
	/* 6: an address of a, on the way. */
	put_ptr(w, t_a);
	rr_addr(w, 500, "192.0.2.1");
	/* 7: the address of www itself. */
	put_ptr(w, 12);
	rr_addr(w, 7, "192.0.2.9");
}

static void
test_chain(void)
{
	int r;

	build_chain(&mb);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.ncnames == 3);
	CHECK(msg.naddrs == 4);
	/* c: min(300, 40, 200, 100) and min(300, 40, 200, 30). */
	CHECK(addr_ttl(&msg, "192.0.2.3") == 40);
	CHECK(addr_ttl(&msg, "2001:db8::c") == 30);
	/* a: min(300, 500); www: its own. */
	CHECK(addr_ttl(&msg, "192.0.2.1") == 300);
	CHECK(addr_ttl(&msg, "192.0.2.9") == 7);
	CHECK(msg.addrs_dropped == 0);
}

/* The longest chain is DNS_MAX_CHAIN names; CNAME loops end. */
static void
test_chain_bounds(void)
{
	char from[32], to[32];
	unsigned int i, n = DNS_MAX_CHAIN + 4;
	int r;

	/* n0 -> n1 -> ... -> n19, an address on every name, in reverse. */
	start(&mb, F_RESP, 0, "n0", T_A);
	for (i = n; i-- > 0;) {
		snprintf(from, sizeof(from), "n%u", i);
		snprintf(to, sizeof(to), "n%u", i + 1);
		rr_cname(&mb, from, 1000, to);
		snprintf(to, sizeof(to), "10.0.0.%u", i);
		put_name(&mb, from);
		rr_addr(&mb, 1000 - i, to);
	}
	set_ancount(&mb, 2 * n);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.ncnames == DNS_MAX_CHAIN - 1);
	CHECK(msg.naddrs == DNS_MAX_CHAIN);
	CHECK(find_addr(&msg, "10.0.0.15") != -1);
	CHECK(find_addr(&msg, "10.0.0.16") == -1);
	CHECK(addr_ttl(&msg, "10.0.0.15") == 1000 - 15);

	/* The same, in the order of the chain. */
	start(&mb, F_RESP, 0, "n0", T_A);
	for (i = 0; i < n; i++) {
		snprintf(from, sizeof(from), "n%u", i);
		snprintf(to, sizeof(to), "n%u", i + 1);
		rr_cname(&mb, from, 1000 + i, to);
		snprintf(to, sizeof(to), "10.0.0.%u", i);
		put_name(&mb, from);
		rr_addr(&mb, 5000, to);
	}
	set_ancount(&mb, 2 * n);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.ncnames == DNS_MAX_CHAIN - 1);
	CHECK(msg.naddrs == DNS_MAX_CHAIN);
	CHECK(find_addr(&msg, "10.0.0.16") == -1);
	/* The first CNAME's TTL is the smallest on the way to them all. */
	CHECK(addr_ttl(&msg, "10.0.0.15") == 1000);
	CHECK(addr_ttl(&msg, "10.0.0.1") == 1000);
	CHECK(addr_ttl(&msg, "10.0.0.0") == 5000);

	/* x -> y -> x: y joins, x is there already. */
	start(&mb, F_RESP, 4, "x", T_A);
	rr_cname(&mb, "x", 10, "y");
	rr_cname(&mb, "y", 10, "x");
	put_name(&mb, "y");
	rr_addr(&mb, 10, "10.1.1.1");
	put_name(&mb, "x");
	rr_addr(&mb, 10, "10.1.1.2");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.ncnames == 1);
	CHECK(msg.naddrs == 2);
}

/*
 * CNAMEs that come before their owner joined the chain are kept, up to
 * 64 of them; past that they are ignored, whatever they would add.
 */
static void
test_loose_cap(void)
{
	char from[32];
	unsigned int junk, i;
	int r;

	for (junk = 62; junk <= 64; junk++) {
		start(&mb, F_RESP, 0, "q", T_A);
		put_name(&mb, "r");
		rr_addr(&mb, 10, "10.6.6.6");
		for (i = 0; i < junk; i++) {
			snprintf(from, sizeof(from), "j%u", i);
			rr_cname(&mb, from, 10, "r");
		}
		rr_cname(&mb, "p", 10, "r");
		rr_cname(&mb, "q", 10, "p");
		set_ancount(&mb, junk + 3);
		r = parse(&mb, true);
		CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
		if (junk + 1 <= 64) {
			CHECK_MSG(msg.ncnames == 2, "%u: %zu", junk,
			    msg.ncnames);
			CHECK(find_addr(&msg, "10.6.6.6") == 0);
		} else {
			CHECK(msg.ncnames == 1);
			CHECK(msg.naddrs == 0);
		}
	}
}

static void
test_unconnected(void)
{
	int r;

	start(&mb, F_RESP, 5, "x.test", T_A);
	rr_cname(&mb, "other.test", 10, "y.test");
	put_name(&mb, "y.test");
	rr_addr(&mb, 10, "198.51.100.1");
	put_name(&mb, "other.test");
	rr_addr(&mb, 10, "198.51.100.2");
	/* A name that only starts like the question's. */
	put_name(&mb, "x.test.evil");
	rr_addr(&mb, 10, "198.51.100.3");
	put_name(&mb, "X.TEST");
	rr_addr(&mb, 10, "198.51.100.4");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.ncnames == 0);
	CHECK(msg.naddrs == 1);
	CHECK(find_addr(&msg, "198.51.100.4") == 0);

	/*
	 * An address before the CNAMEs that lead to it, the last record
	 * one too, and the chain finished only from CNAMEs kept aside:
	 * p -> r comes before x -> p, which comes before q -> x.
	 */
	start(&mb, F_RESP, 6, "q", T_A);
	put_name(&mb, "r");
	rr_addr(&mb, 10, "198.51.100.6");
	rr_cname(&mb, "p", 10, "r");
	rr_cname(&mb, "x", 10, "p");
	rr_cname(&mb, "q", 10, "x");
	put_name(&mb, "x");
	rr_addr(&mb, 10, "198.51.100.8");
	put_name(&mb, "r");
	rr_addr(&mb, 10, "198.51.100.7");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.ncnames == 3);
	CHECK(msg.naddrs == 3);
	CHECK(find_addr(&msg, "198.51.100.6") != -1);
	CHECK(find_addr(&msg, "198.51.100.7") != -1);
	CHECK(find_addr(&msg, "198.51.100.8") != -1);

	/* Another class is not IN's. */
	start(&mb, F_RESP, 2, "x.test", T_A);
	put_ptr(&mb, 12);
	{
		size_t at = rr_head(&mb, T_A, C_CH, 10);

		put32(&mb, 0x01020304);
		rr_end(&mb, at);
	}
	put_ptr(&mb, 12);
	rr_addr(&mb, 10, "198.51.100.5");
	CHECK(parse(&mb, true) == DNS_OK);
	CHECK(msg.naddrs == 1);
	CHECK(find_addr(&msg, "198.51.100.5") == 0);
	/* Nor are its sizes checked. */
	start(&mb, F_RESP, 2, "x.test", T_A);
	put_ptr(&mb, 12);
	{
		size_t at = rr_head(&mb, T_A, C_CH, 10);

		put32(&mb, 0x01020304);
		put8(&mb, 5);
		rr_end(&mb, at);
		put_ptr(&mb, 12);
		at = rr_head(&mb, T_CNAME, C_CH, 10);
		put16(&mb, 0xc0ff);
		put8(&mb, 0);
		rr_end(&mb, at);
	}
	CHECK(parse(&mb, true) == DNS_OK);
	CHECK(msg.naddrs == 0);
}

static void
test_compression(void)
{
	size_t t, at;
	int r;

	/* cdn.example.com by a pointer into the question's name. */
	start(&mb, F_RESP, 2, "www.example.com", T_A);
	put_ptr(&mb, 12);
	at = rr_head(&mb, T_CNAME, C_IN, 50);
	t = mb.n;
	put_labels(&mb, "cdn");
	put_ptr(&mb, 16);			/* "example.com" */
	rr_end(&mb, at);
	put_ptr(&mb, t);
	rr_addr(&mb, 60, "203.0.113.7");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.ncnames == 1);
	CHECK(msg.naddrs == 1);
	CHECK(addr_ttl(&msg, "203.0.113.7") == 50);

	/*
	 * A pointer in the question, into the header: id 0x0161 is the
	 * label "a", and the flags' first octet 0 the root.
	 */
	start(&mb, 0, 0, "", T_A);
	mb.n = 12;
	put_ptr(&mb, 0);
	put16(&mb, T_A);
	put16(&mb, C_IN);
	set16(&mb, 0, 0x0161);
	set16(&mb, 2, 0x0001);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(strcmp(msg.qname, "a") == 0);
	CHECK(msg.rcode == 1);
}

/* 64 pointers in a name are followed, not 65. */
static void
test_pointer_cap(void)
{
	unsigned int n, k;
	size_t at, base;
	int r;

	for (n = 62; n <= 64; n++) {
		/* n pointers, each to the one before, the first to the
		 * question, in a record of no interest; then an A whose
		 * owner points to the last: n + 1 pointers. */
		start(&mb, F_RESP, 2, "q.example", T_A);
		put_ptr(&mb, 12);
		at = rr_head(&mb, T_TXT, C_IN, 5);
		base = mb.n;
		put_ptr(&mb, 12);
		for (k = 1; k < n; k++)
			put_ptr(&mb, base + 2 * (k - 1));
		rr_end(&mb, at);
		put_ptr(&mb, base + 2 * (n - 1));
		rr_addr(&mb, 5, "192.0.2.77");
		r = parse(&mb, true);
		if (n + 1 <= 64) {
			CHECK_MSG(r == DNS_OK, "%u: %s", n, dns_err_name(r));
			CHECK(find_addr(&msg, "192.0.2.77") == 0);
		} else
			CHECK_MSG(r == DNS_ERR_LOOP, "%u: %s", n,
			    dns_err_name(r));
	}
}

static void
test_case_and_escapes(void)
{
	static const uint8_t odd[] = { 'a', '.', 'b', '\\', ' ', 0x7f, 0xff,
	    'Z', 0x00, '~', '!' };
	int r;

	start(&mb, 0, 0, "WwW.ExAmPlE.CoM", T_A);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(strcmp(msg.qname, "www.example.com") == 0);

	mb.n = 12;
	put_label(&mb, odd, sizeof(odd));
	put_name(&mb, "Org");
	put16(&mb, T_A);
	put16(&mb, C_IN);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK_MSG(strcmp(msg.qname,
	    "a\\046b\\092\\032\\127\\255z\\000~!.org") == 0, "%s", msg.qname);

	/* The root. */
	start(&mb, 0, 0, "", 2);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(strcmp(msg.qname, "") == 0);
	CHECK(msg.qtype == 2);
}

static void
test_query(void)
{
	int r;

	/* Answers in a query are not read, whatever they are. */
	start(&mb, F_RD, 1, "example.org", T_A);
	put_ptr(&mb, 12);
	rr_addr(&mb, 10, "192.0.2.1");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(!msg.response);
	CHECK(strcmp(msg.qname, "example.org") == 0);
	CHECK(msg.naddrs == 0);
	set_ancount(&mb, 9);
	CHECK(parse(&mb, true) == DNS_OK);
	CHECK(msg.naddrs == 0);
	set16(&mb, 2, F_RESP);
	CHECK(parse(&mb, true) == DNS_ERR_SHORT);
}

static void
test_pointers_hostile(void)
{
	size_t at;

	/* To itself. */
	start(&mb, F_RESP, 0, "", T_A);
	mb.n = 12;
	put_ptr(&mb, 12);
	put32(&mb, 0x00010001);
	CHECK(parse(&mb, true) == DNS_ERR_POINTER);

	/* Two to each other: 12 -> 14 -> 12. */
	mb.n = 12;
	put_ptr(&mb, 14);
	put_ptr(&mb, 12);
	put32(&mb, 0x00010001);
	CHECK(parse(&mb, true) == DNS_ERR_POINTER);

	/* Backwards from the pointer, but into its own name: a loop. */
	start(&mb, F_RESP, 1, "q", T_A);
	at = mb.n;
	put_labels(&mb, "x");
	put_ptr(&mb, at);
	rr_addr(&mb, 1, "192.0.2.1");
	CHECK(parse(&mb, true) == DNS_ERR_POINTER);

	/* Two answers whose owners point to each other. */
	start(&mb, F_RESP, 2, "q", T_A);
	at = mb.n;
	put_ptr(&mb, at + 16);
	rr_addr(&mb, 1, "192.0.2.1");
	put_ptr(&mb, at);
	rr_addr(&mb, 1, "192.0.2.2");
	CHECK(mb.n == at + 32);
	CHECK(parse(&mb, true) == DNS_ERR_POINTER);
	CHECK(parse(&mb, false) == DNS_ERR_POINTER);

	/* Forward, to a name that is there. */
	start(&mb, F_RESP, 2, "q", T_A);
	at = mb.n;
	put_ptr(&mb, at + 16);
	rr_addr(&mb, 1, "192.0.2.1");
	put_name(&mb, "q");
	rr_addr(&mb, 1, "192.0.2.2");
	CHECK(parse(&mb, true) == DNS_ERR_POINTER);

	/* Past the end, in the question and in an answer. */
	start(&mb, F_RESP, 0, "", T_A);
	mb.n = 12;
	put_ptr(&mb, 0x3fff);
	put32(&mb, 0x00010001);
	CHECK(parse(&mb, true) == DNS_ERR_POINTER);
	CHECK(parse(&mb, false) == DNS_ERR_POINTER);
	start(&mb, F_RESP, 1, "q", T_A);
	put_ptr(&mb, mb.n + 100);
	rr_addr(&mb, 1, "192.0.2.1");
	CHECK(parse(&mb, true) == DNS_ERR_POINTER);
	CHECK(parse(&mb, false) == DNS_ERR_POINTER);

	/* A pointer cut in half is the end of the capture. */
	start(&mb, F_RESP, 1, "q", T_A);
	put8(&mb, 0xc0);
	CHECK(parse(&mb, true) == DNS_ERR_SHORT);
	CHECK(parse(&mb, false) == DNS_OK);
	CHECK(msg.cut);

	/* The CNAME target's pointer too. */
	start(&mb, F_RESP, 1, "q", T_A);
	put_ptr(&mb, 12);
	at = rr_head(&mb, T_CNAME, C_IN, 1);
	put_ptr(&mb, at + 2);
	rr_end(&mb, at);
	CHECK(parse(&mb, true) == DNS_ERR_POINTER);
}

static void
test_labels_hostile(void)
{
	uint8_t l[64];
	char want[80];
	int r;

	memset(l, 'x', sizeof(l));

	/* A label longer than what is left. */
	start(&mb, 0, 0, "", T_A);
	mb.n = 12;
	put8(&mb, 10);
	put8(&mb, 'a');
	put8(&mb, 'b');
	put8(&mb, 'c');
	CHECK(parse(&mb, true) == DNS_ERR_SHORT);
	CHECK(parse(&mb, false) == DNS_ERR_SHORT);

	/* 63 octets is a label, 64 (0x40) is a reserved type, 0x80 too. */
	mb.n = 12;
	put_label(&mb, l, 63);
	put_name(&mb, "");
	put32(&mb, 0x00010001);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	memset(want, 'x', 63);
	want[63] = '\0';
	CHECK(strcmp(msg.qname, want) == 0);
	mb.n = 12;
	put_label(&mb, l, 64);
	put_name(&mb, "");
	put32(&mb, 0x00010001);
	CHECK(parse(&mb, true) == DNS_ERR_LABEL);
	mb.n = 12;
	put8(&mb, 0x80);
	put8(&mb, 0);
	put32(&mb, 0x00010001);
	CHECK(parse(&mb, true) == DNS_ERR_LABEL);

	/* In an answer: a record; cut or not, it is not a label. */
	start(&mb, F_RESP, 1, "q", T_A);
	put8(&mb, 0x41);
	put8(&mb, 0);
	rr_addr(&mb, 1, "192.0.2.1");
	CHECK(parse(&mb, true) == DNS_ERR_LABEL);
	CHECK(parse(&mb, false) == DNS_ERR_LABEL);

	/* Past the end in an answer: short when whole, cut when not. */
	start(&mb, F_RESP, 2, "q", T_A);
	put_ptr(&mb, 12);
	rr_addr(&mb, 1, "192.0.2.1");
	put8(&mb, 20);
	put8(&mb, 'z');
	CHECK(parse(&mb, true) == DNS_ERR_SHORT);
	r = parse(&mb, false);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.cut);
	CHECK(msg.naddrs == 1);
}

static void
test_names_long(void)
{
	uint8_t l[63];
	size_t i, start_at;
	int r;

	memset(l, 'y', sizeof(l));

	/* 127 labels of one octet: 255 octets with the root. */
	start(&mb, 0, 0, "", T_A);
	mb.n = 12;
	for (i = 0; i < 127; i++)
		put_label(&mb, "k", 1);
	put8(&mb, 0);
	put32(&mb, 0x00010001);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(strlen(msg.qname) == 253);
	/* 128: 257. */
	mb.n = 12;
	for (i = 0; i < 128; i++)
		put_label(&mb, "k", 1);
	put8(&mb, 0);
	put32(&mb, 0x00010001);
	CHECK(parse(&mb, true) == DNS_ERR_NAME_LONG);
	/* 255 labels. */
	mb.n = 12;
	for (i = 0; i < 255; i++)
		put_label(&mb, "k", 1);
	put8(&mb, 0);
	put32(&mb, 0x00010001);
	CHECK(parse(&mb, true) == DNS_ERR_NAME_LONG);

	/* 63 + 63 + 63 + 61 octets: 255, and every octet escaped. */
	memset(l, 0xfe, sizeof(l));
	mb.n = 12;
	put_label(&mb, l, 63);
	put_label(&mb, l, 63);
	put_label(&mb, l, 63);
	put_label(&mb, l, 61);
	put8(&mb, 0);
	put32(&mb, 0x00010001);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(strlen(msg.qname) == 4 * 250 + 3);
	CHECK(strncmp(msg.qname, "\\254\\254", 8) == 0);
	mb.n = 12;
	put_label(&mb, l, 63);
	put_label(&mb, l, 63);
	put_label(&mb, l, 63);
	put_label(&mb, l, 62);
	put8(&mb, 0);
	put32(&mb, 0x00010001);
	CHECK(parse(&mb, true) == DNS_ERR_NAME_LONG);

	/* Too long only with what a pointer adds: 200 + 100 octets. */
	start(&mb, F_RESP, 1, "", T_A);
	mb.n = 12;
	for (i = 0; i < 3; i++)
		put_label(&mb, l, 63);
	put_label(&mb, l, 10);
	put8(&mb, 0);
	put32(&mb, 0x00010001);
	CHECK(mb.n - 12 == 3 * 64 + 11 + 1 + 4);
	start_at = mb.n;
	put_label(&mb, l, 63);
	put_label(&mb, l, 35);
	put_ptr(&mb, 12);
	rr_addr(&mb, 1, "192.0.2.1");
	CHECK(parse(&mb, true) == DNS_ERR_NAME_LONG);
	CHECK(parse(&mb, false) == DNS_ERR_NAME_LONG);
	/* ... and not without it. */
	mb.n = start_at;
	put_label(&mb, l, 35);
	put_ptr(&mb, 12);
	rr_addr(&mb, 1, "192.0.2.1");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.naddrs == 0);
}

static void
test_counts_sizes(void)
{
	size_t at, i;
	int r;

	start(&mb, F_RESP, 0, "q", T_A);
	set16(&mb, 4, 0);
	CHECK(parse(&mb, true) == DNS_ERR_QDCOUNT);
	set16(&mb, 4, 2);
	CHECK(parse(&mb, true) == DNS_ERR_QDCOUNT);
	/* Even with a second question there. */
	put_name(&mb, "r");
	put32(&mb, 0x00010001);
	CHECK(parse(&mb, true) == DNS_ERR_QDCOUNT);
	CHECK(parse(&mb, false) == DNS_ERR_QDCOUNT);

	/* Shorter than a header; a question without its type and class. */
	start(&mb, F_RESP, 0, "q", T_A);
	CHECK(parse_n(mb.b, 11, false, &msg) == DNS_ERR_SHORT);
	CHECK(parse_n(mb.b, 0, false, &msg) == DNS_ERR_SHORT);
	CHECK(parse_n(mb.b, mb.n - 1, false, &msg) == DNS_ERR_SHORT);
	CHECK(parse_n(mb.b, mb.n, false, &msg) == DNS_OK);

	/* A of 5 octets, AAAA of 4. */
	start(&mb, F_RESP, 1, "q", T_A);
	put_ptr(&mb, 12);
	at = rr_head(&mb, T_A, C_IN, 1);
	put32(&mb, 0x01020304);
	put8(&mb, 5);
	rr_end(&mb, at);
	CHECK(parse(&mb, true) == DNS_ERR_RDATA);
	CHECK(parse(&mb, false) == DNS_ERR_RDATA);
	start(&mb, F_RESP, 1, "q", T_AAAA);
	put_ptr(&mb, 12);
	at = rr_head(&mb, T_AAAA, C_IN, 1);
	put32(&mb, 0x01020304);
	rr_end(&mb, at);
	CHECK(parse(&mb, true) == DNS_ERR_RDATA);
	/* Neither more than 16 nor less than 4. */
	start(&mb, F_RESP, 1, "q", T_AAAA);
	put_ptr(&mb, 12);
	at = rr_head(&mb, T_AAAA, C_IN, 1);
	for (i = 0; i < 17; i++)
		put8(&mb, 0x20);
	rr_end(&mb, at);
	CHECK(parse(&mb, true) == DNS_ERR_RDATA);
	start(&mb, F_RESP, 1, "q", T_A);
	put_ptr(&mb, 12);
	at = rr_head(&mb, T_A, C_IN, 1);
	put16(&mb, 0x0102);
	put8(&mb, 3);
	rr_end(&mb, at);
	CHECK(parse(&mb, true) == DNS_ERR_RDATA);

	/* A CNAME whose name does not fill its rdata, and one past it. */
	start(&mb, F_RESP, 1, "q", T_A);
	put_ptr(&mb, 12);
	at = rr_head(&mb, T_CNAME, C_IN, 1);
	put_name(&mb, "t");
	put8(&mb, 0);
	rr_end(&mb, at);
	CHECK(parse(&mb, true) == DNS_ERR_RDATA);
	set16(&mb, at, 2);
	CHECK(parse(&mb, true) == DNS_ERR_RDATA);
	/* Whose label runs past the message, the record itself being
	 * whole: not a cut capture, a bad record. */
	start(&mb, F_RESP, 1, "q", T_A);
	put_ptr(&mb, 12);
	at = rr_head(&mb, T_CNAME, C_IN, 1);
	put8(&mb, 5);
	put8(&mb, 't');
	rr_end(&mb, at);
	CHECK(parse(&mb, true) == DNS_ERR_RDATA);
	CHECK(parse(&mb, false) == DNS_ERR_RDATA);

	/* Other types are skipped by their length, whatever is in them. */
	start(&mb, F_RESP, 2, "q", T_A);
	put_ptr(&mb, 12);
	at = rr_head(&mb, T_TXT, C_IN, 1);
	put8(&mb, 0xc0);
	put8(&mb, 0xff);
	put8(&mb, 0x80);
	rr_end(&mb, at);
	put_ptr(&mb, 12);
	rr_addr(&mb, 1, "192.0.2.1");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.naddrs == 1);

	/* ANCOUNT 3, two records there. */
	start(&mb, F_RESP, 3, "q", T_A);
	put_ptr(&mb, 12);
	rr_addr(&mb, 1, "192.0.2.1");
	put_ptr(&mb, 12);
	rr_addr(&mb, 1, "192.0.2.2");
	CHECK(parse(&mb, true) == DNS_ERR_SHORT);
	r = parse(&mb, false);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.cut);
	CHECK(msg.naddrs == 2);
	set_ancount(&mb, 2);
	CHECK(parse(&mb, true) == DNS_OK);
	CHECK(!msg.cut);
}

/* Every prefix of a valid response, as a capture would cut it. */
static void
test_truncation(void)
{
	struct dns_msg full;
	size_t n, qend, last = 0;
	int r, bad_whole = 0, bad_cut = 0, shrank = 0;

	build_chain(&mb);
	CHECK(parse_n(mb.b, mb.n, true, &full) == DNS_OK);
	qend = 12 + strlen("www.example.com") + 2 + 4;
	for (n = 0; n <= mb.n; n++) {
		r = parse_n(mb.b, n, true, &msg);
		if ((r == DNS_OK) != (n == mb.n)) {
			bad_whole++;
			fprintf(stderr, "whole %zu: %s\n", n, dns_err_name(r));
		}
		r = parse_n(mb.b, n, false, &msg);
		if (n < qend ? r != DNS_ERR_SHORT : r != DNS_OK) {
			bad_cut++;
			fprintf(stderr, "cut %zu: %s\n", n, dns_err_name(r));
			continue;
		}
		if (r != DNS_OK)
			continue;
		if (msg.cut != (n < mb.n))
			bad_cut++;
		/* What was read before the cut is kept. */
		if (msg.naddrs < last)
			shrank++;
		last = msg.naddrs;
	}
	CHECK(bad_whole == 0);
	CHECK(bad_cut == 0);
	CHECK(shrank == 0);
	CHECK(last == full.naddrs && last == 4);
}

static void
test_many_and_dups(void)
{
	char a[32];
	unsigned int i;
	int r;

	start(&mb, F_RESP, 40, "many", T_A);
	for (i = 0; i < 40; i++) {
		put_ptr(&mb, 12);
		snprintf(a, sizeof(a), "10.9.0.%u", i);
		rr_addr(&mb, 60, a);
	}
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.naddrs == DNS_MAX_ADDRS);
	CHECK(msg.addrs_dropped == 40 - DNS_MAX_ADDRS);
	CHECK(find_addr(&msg, "10.9.0.0") == 0);
	CHECK(find_addr(&msg, "10.9.0.31") == 31);
	CHECK(find_addr(&msg, "10.9.0.32") == -1);

	/* The same A and AAAA twice; the smaller TTL stays. */
	start(&mb, F_RESP, 5, "dup", T_A);
	put_ptr(&mb, 12);
	rr_addr(&mb, 90, "10.2.2.2");
	put_ptr(&mb, 12);
	rr_addr(&mb, 90, "2001:db8::2");
	put_ptr(&mb, 12);
	rr_addr(&mb, 20, "10.2.2.2");
	put_ptr(&mb, 12);
	rr_addr(&mb, 90, "2001:db8::2");
	/* Same four octets as an AAAA's first: not the same address. */
	put_ptr(&mb, 12);
	rr_addr(&mb, 90, "10.2.2.3");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.naddrs == 3);
	CHECK(addr_ttl(&msg, "10.2.2.2") == 20);
	CHECK(addr_ttl(&msg, "2001:db8::2") == 90);

	/* Records out of order so that the walk goes again: an address
	 * dropped in the first walk is not counted again in the second. */
	start(&mb, F_RESP, 0, "o", T_A);
	put_name(&mb, "p");
	rr_addr(&mb, 5, "10.3.0.1");
	for (i = 0; i < DNS_MAX_ADDRS + 1; i++) {
		put_ptr(&mb, 12);
		snprintf(a, sizeof(a), "10.4.0.%u", i);
		rr_addr(&mb, 5, a);
	}
	rr_cname(&mb, "o", 5, "p");
	set_ancount(&mb, DNS_MAX_ADDRS + 3);
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(msg.ncnames == 1);
	CHECK(msg.naddrs == DNS_MAX_ADDRS);
	CHECK(msg.addrs_dropped == 2);
	CHECK(find_addr(&msg, "10.3.0.1") == -1);
}

static void
test_ttl_high_bit(void)
{
	int r;

	start(&mb, F_RESP, 2, "t", T_A);
	put_ptr(&mb, 12);
	rr_addr(&mb, 0x80000001U, "10.5.5.5");
	put_ptr(&mb, 12);
	rr_addr(&mb, 0x7fffffffU, "10.5.5.6");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(addr_ttl(&msg, "10.5.5.5") == 0);
	CHECK(addr_ttl(&msg, "10.5.5.6") == 0x7fffffffU);

	/* On a CNAME, for what is behind it. */
	start(&mb, F_RESP, 2, "t", T_A);
	rr_cname(&mb, "t", 0xffffffffU, "u");
	put_name(&mb, "u");
	rr_addr(&mb, 100, "10.5.5.7");
	r = parse(&mb, true);
	CHECK_MSG(r == DNS_OK, "%s", dns_err_name(r));
	CHECK(addr_ttl(&msg, "10.5.5.7") == 0);
}

static void
test_err_names(void)
{
	CHECK(strcmp(dns_err_name(DNS_OK), "ok") == 0);
	CHECK(strcmp(dns_err_name(DNS_ERR_SHORT), "short") == 0);
	CHECK(strcmp(dns_err_name(DNS_ERR_QDCOUNT), "qdcount") == 0);
	CHECK(strcmp(dns_err_name(DNS_ERR_LABEL), "label") == 0);
	CHECK(strcmp(dns_err_name(DNS_ERR_NAME_LONG), "name_long") == 0);
	CHECK(strcmp(dns_err_name(DNS_ERR_POINTER), "pointer") == 0);
	CHECK(strcmp(dns_err_name(DNS_ERR_LOOP), "loop") == 0);
	CHECK(strcmp(dns_err_name(DNS_ERR_RDATA), "rdata") == 0);
	CHECK(strcmp(dns_err_name(DNS_ERR__MAX), "unknown") == 0);
	CHECK(strcmp(dns_err_name(-1), "unknown") == 0);
}

int
main(void)
{
	test_plain_a();
	test_aaaa();
	test_chain();
	test_chain_bounds();
	test_loose_cap();
	test_unconnected();
	test_compression();
	test_pointer_cap();
	test_case_and_escapes();
	test_query();
	test_pointers_hostile();
	test_labels_hostile();
	test_names_long();
	test_counts_sizes();
	test_truncation();
	test_many_and_dups();
	test_ttl_high_bit();
	test_err_names();
	return check_done("test_dns");
}

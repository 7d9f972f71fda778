/*
 * libFuzzer target for the DNS message parser: every input is parsed as
 * a whole message and as a capture that may have been cut, and what comes
 * back must hold together, or the target aborts. The sanitizers the
 * target is built with catch any read outside the input (libFuzzer hands
 * over a buffer of exactly the input's size).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dnsparse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
same_addr(const struct dns_addr *a, const struct dns_addr *b)
{
	return a->family == b->family && a->ttl == b->ttl &&
	    memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static void
check_msg(const struct dns_msg *m)
{
	const char *end;
	unsigned char c;
	size_t i;

	/* The question's name: a string, printable, lower case. */
	if ((end = memchr(m->qname, '\0', sizeof(m->qname))) == NULL)
		abort();
	for (i = 0; &m->qname[i] < end; i++) {
		c = (unsigned char)m->qname[i];
		if (c < 0x21 || c > 0x7e || (c >= 'A' && c <= 'Z'))
			abort();
	}
	if (m->naddrs > DNS_MAX_ADDRS)
		abort();
	if (m->ncnames >= DNS_MAX_CHAIN)
		abort();
	if (!m->response && (m->naddrs != 0 || m->ncnames != 0 || m->cut))
		abort();
	for (i = 0; i < m->naddrs; i++) {
		if (m->addrs[i].family != 4 && m->addrs[i].family != 6)
			abort();
		/* RFC 2181: no TTL has the top bit set. */
		if (m->addrs[i].ttl & 0x80000000U)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_msg whole, cut;
	size_t i;
	int rw, rc;

	rw = dns_parse(data, size, true, &whole);
	rc = dns_parse(data, size, false, &cut);
	if (rw < DNS_OK || rw >= DNS_ERR__MAX ||
	    rc < DNS_OK || rc >= DNS_ERR__MAX)
		abort();
	if (rw == DNS_OK) {
		check_msg(&whole);
		if (whole.cut)
			abort();
	}
	if (rc == DNS_OK)
		check_msg(&cut);

	/*
	 * The two differ only where the message ran out: whole, an error
	 * that is not "short" is found either way, and a message read to
	 * its end gives the same answers either way.
	 */
	if (rw != DNS_ERR_SHORT && rc != rw)
		abort();
	if (rw == DNS_ERR_SHORT && rc != DNS_ERR_SHORT &&
	    (rc != DNS_OK || !cut.cut))
		abort();
	if (rw != DNS_OK)
		return 0;
	if (cut.cut || cut.naddrs != whole.naddrs ||
	    cut.ncnames != whole.ncnames ||
	    cut.addrs_dropped != whole.addrs_dropped ||
	    strcmp(cut.qname, whole.qname) != 0)
		abort();
	for (i = 0; i < whole.naddrs; i++)
		if (!same_addr(&cut.addrs[i], &whole.addrs[i]))
			abort();
	return 0;
}

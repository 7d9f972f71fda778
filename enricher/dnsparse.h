/*
 * DNS message parser (RFC 1035), for the enricher's DNS correlation.
 *
 * Input is one DNS message as captured (UDP payload, or a TCP message
 * without its 2-byte length prefix), possibly cut at the capture length,
 * from any sender on the network: every length and pointer is checked.
 * Output is what correlation needs and nothing else: the transaction id,
 * whether it is a response, the one question, and for a response the
 * addresses (A, AAAA) that answer the question directly or through a
 * chain of CNAMEs starting at the question's name.
 */
#ifndef SOCKFLOW_DNSPARSE_H
#define SOCKFLOW_DNSPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A name as text: at most 253 characters, escaped as \DDD may be longer. */
#define DNS_NAME_TEXT	1024
#define DNS_MAX_ADDRS	32	/* addresses kept from one answer */
#define DNS_MAX_CHAIN	16	/* names in a CNAME chain, the question's too */

struct dns_addr {
	uint8_t		family;		/* 4 or 6 */
	uint8_t		addr[16];	/* 4 bytes used for IPv4 */
	uint32_t	ttl;		/* seconds: the smallest TTL on the way
					   from the question to this address */
};

struct dns_msg {
	uint16_t	id;
	bool		response;	/* QR bit */
	uint8_t		opcode;
	uint8_t		rcode;
	bool		truncated;	/* TC bit */
	bool		cut;		/* answers ended at the end of a
					   capture that was not whole */
	uint16_t	qtype;
	uint16_t	qclass;
	/* The question's name, lower case, no trailing dot ("" = root). */
	char		qname[DNS_NAME_TEXT];
	size_t		naddrs;
	struct dns_addr	addrs[DNS_MAX_ADDRS];
	size_t		addrs_dropped;	/* past DNS_MAX_ADDRS */
	size_t		ncnames;	/* CNAMEs followed */
};

enum dns_err {
	DNS_OK = 0,
	DNS_ERR_SHORT,		/* header or record past the end */
	DNS_ERR_QDCOUNT,	/* not exactly one question */
	DNS_ERR_LABEL,		/* reserved label type, or label too long */
	DNS_ERR_NAME_LONG,	/* name over 255 octets */
	DNS_ERR_POINTER,	/* compression pointer not backwards, or
				   past the end */
	DNS_ERR_LOOP,		/* too many compression pointers */
	DNS_ERR_RDATA,		/* record data of the wrong size */
	DNS_ERR__MAX
};

/*
 * Parse buf[0..len). Returns DNS_OK and fills *m, or one of DNS_ERR_*
 * (m's contents are then unspecified). Never reads outside buf.
 * whole: buf is the entire message. When it is not (the capture cut it),
 * a record running past the end ends the walk: the addresses read
 * before it are kept, m->cut is set and DNS_OK returned, provided the
 * header and question were whole. When it is, that is DNS_ERR_SHORT.
 */
int		 dns_parse(const uint8_t *buf, size_t len, bool whole,
		    struct dns_msg *m);
/* A short fixed name for a DNS_ERR_* value, for counters: "short", ... */
const char	*dns_err_name(int);

#endif

/*
 * Parsing sock_diag destroy notifications: netlink datagrams of
 * SOCK_DIAG_BY_FAMILY messages, each an inet_diag_msg followed by route
 * attributes (INET_DIAG_PROTOCOL, INET_DIAG_INFO with the final tcp_info).
 * The bytes come from the kernel through the probe, but they are parsed
 * like any other input: every length is checked before it is used, and a
 * malformed message is counted and skipped.
 */
#include "config.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include "agg.h"

/* Whether a tcp_info of attribute length len holds a field. */
#define HAS(len, field) \
	((len) >= offsetof(struct tcp_info, field) + \
	sizeof(((struct tcp_info *)0)->field))

static int
parse_msg(const uint8_t *p, size_t len, struct agg_diag *out)
{
	struct inet_diag_msg m;
	size_t off;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(m))
		return -1;
	memcpy(&m, p, sizeof(m));
	if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)
		return -1;
	out->family = m.idiag_family == AF_INET ? 4 : 6;
	out->cookie = (uint64_t)m.id.idiag_cookie[0] |
	    ((uint64_t)m.id.idiag_cookie[1] << 32);
	out->sport = ntohs(m.id.idiag_sport);
	out->dport = ntohs(m.id.idiag_dport);
	memcpy(out->src, m.id.idiag_src, out->family == 4 ? 4 : 16);
	memcpy(out->dst, m.id.idiag_dst, out->family == 4 ? 4 : 16);
	out->state = m.idiag_state;

	off = NLMSG_ALIGN(sizeof(m));
	while (off + sizeof(struct rtattr) <= len) {
		struct rtattr rta;
		size_t alen;
		const uint8_t *data;

		memcpy(&rta, p + off, sizeof(rta));
		if (rta.rta_len < sizeof(rta) || rta.rta_len > len - off)
			return -1;
		alen = rta.rta_len - RTA_LENGTH(0);
		data = p + off + RTA_LENGTH(0);
		switch (rta.rta_type) {
		case INET_DIAG_PROTOCOL:
			if (alen < 1)
				return -1;
			out->proto = data[0];
			break;
		case INET_DIAG_INFO: {
			struct tcp_info ti;

			memset(&ti, 0, sizeof(ti));
			memcpy(&ti, data, alen < sizeof(ti) ? alen : sizeof(ti));
			if (HAS(alen, tcpi_segs_in)) {
				out->segs_in = ti.tcpi_segs_in;
				out->segs_out = ti.tcpi_segs_out;
				out->timestamps = (ti.tcpi_options &
				    TCPI_OPT_TIMESTAMPS) != 0;
				out->have_info = true;
			}
			if (HAS(alen, tcpi_bytes_received))
				out->bytes_received = ti.tcpi_bytes_received;
			if (HAS(alen, tcpi_bytes_retrans))
				out->bytes_retrans = ti.tcpi_bytes_retrans;
			break;
		}
		default:
			break;
		}
		off += RTA_ALIGN(rta.rta_len);
	}
	return 0;
}

size_t
agg_diag_parse(const uint8_t *p, size_t len, agg_diag_cb cb, void *arg,
    uint64_t *bad)
{
	size_t off = 0, n = 0;

	while (off + sizeof(struct nlmsghdr) <= len) {
		struct nlmsghdr h;
		struct agg_diag d;

		memcpy(&h, p + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off) {
			(*bad)++;
			return n;
		}
		if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
			if (parse_msg(p + off + NLMSG_HDRLEN,
			    h.nlmsg_len - NLMSG_HDRLEN, &d) == 0) {
				cb(&d, arg);
				n++;
			} else
				(*bad)++;
		}
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return n;
}

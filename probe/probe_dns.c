/*
 * The DNS capture (socket.dns.*): two AF_PACKET sockets, one for IPv4 and
 * one for IPv6, that an in-kernel filter limits to packets of UDP or TCP
 * port 53. The probe reads the packets and forwards them whole and
 * unparsed; the aggregator and the enricher, sandboxed, make sense of
 * them.
 *
 * The sockets are bound to their protocol, not to ETH_P_ALL: a socket of
 * ETH_P_ALL is also handed every packet the machine sends, which the
 * kernel clones for it before any filter runs, and on a busy loopback
 * that cost the workload's CPU a sixth more (README, DNS names). Bound to
 * a protocol, they see what arrives: on the loopback device every packet
 * (a packet sent there arrives there), on other interfaces the answers
 * of remote servers but not the queries sent to them.
 *
 * Opening the sockets needs CAP_NET_RAW, which the probe gives up with
 * all the others it does not keep (probe_privs.c); an open socket keeps
 * working. They see the interfaces of the probe's own network namespace
 * only.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "sfconfig.h"
#include "xmalloc.h"

#define DNS_PORT	53
#define DNS_RCVBUF	(4 * 1024 * 1024)
/* Bytes of packet data per batch frame, well under the frame maximum. */
#define BATCH_BYTES	(512 * 1024)
#define LOOPBACK_IFINDEX 1	/* the same in every network namespace */

static struct {
	int		 fd[2];		/* IPv4, IPv6 */
	size_t		 snaplen;
	uint8_t		*buf;
	uint64_t	 drops;		/* the kernel's, cumulative */
	uint64_t	 packets;
	uint64_t	 cut;		/* longer than the snap length */
	uint64_t	 untimed;	/* came without a time stamp */
} dns = { .fd = { -1, -1 } };

/*
 * Classic BPF on a cooked (SOCK_DGRAM) socket: the data starts at the
 * network header, the ethertype is the skb's protocol. Accepted: IPv4
 * (first fragments and whole packets) and IPv6 (without extension
 * headers) of UDP or TCP with source or destination port 53. A packet on
 * the loopback device shows twice, leaving and arriving: the leaving copy
 * is refused. The whole packet is accepted; the read cuts it.
 */
static struct sock_filter dns_filter[] = {
	/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
	/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 2),
	/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_IFINDEX),
	/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, LOOPBACK_IFINDEX, 21, 0),
	/* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL),
	/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 10),
	/* IPv4: UDP or TCP, not a later fragment, ports after the header. */
	/* 6 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
	/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 1, 0),
	/* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 16),
	/* 9 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
	/* 10 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 14, 0),
	/* 11 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
	/* 12 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 0),
	/* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DNS_PORT, 10, 0),
	/* 14 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
	/* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DNS_PORT, 8, 9),
	/* IPv6: UDP or TCP straight after the fixed header. */
	/* 16 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 8),
	/* 17 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
	/* 18 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 1, 0),
	/* 19 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 5),
	/* 20 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 40),
	/* 21 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DNS_PORT, 2, 0),
	/* 22 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 42),
	/* 23 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DNS_PORT, 0, 1),
	/* 24 */ BPF_STMT(BPF_RET | BPF_K, 0x40000),
	/* 25 */ BPF_STMT(BPF_RET | BPF_K, 0),
};

/* One capture socket for an ethertype; fatal but for a missing family. */
static int
dns_socket(unsigned int ifindex, int proto)
{
	struct sock_fprog prog = {
		.len = sizeof(dns_filter) / sizeof(dns_filter[0]),
		.filter = dns_filter,
	};
	struct sockaddr_ll sll;
	int fd, one = 1, rcvbuf = DNS_RCVBUF;

	/*
	 * Protocol 0: nothing is queued before the filter is on and the
	 * bind below says which packets to take.
	 */
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 && errno == EAFNOSUPPORT)
		return -1;
	if (fd == -1)
		fatal("socket(AF_PACKET) for the DNS capture "
		    "(socket.dns.enabled: false turns it off)");
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
	    sizeof(prog)) == -1)
		fatal("DNS capture: SO_ATTACH_FILTER");
	/* Nobody, not even a later holder of the socket, may change it. */
	if (setsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one,
	    sizeof(one)) == -1)
		fatal("DNS capture: SO_LOCK_FILTER");
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one,
	    sizeof(one)) == -1)
		fatal("DNS capture: SO_TIMESTAMPNS");
	/* Beyond the default: bursts of answers wait for the next read. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	    sizeof(rcvbuf)) == -1)
		log_warn("DNS capture: SO_RCVBUFFORCE");
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons((uint16_t)proto);
	sll.sll_ifindex = (int)ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1)
		fatal("DNS capture: bind");
	return fd;
}

int
dns_open(const struct sf_config *cfg, int *fds)
{
	unsigned int ifindex = 0;

	if (!cfg->dns_enabled)
		return 0;
	if (strcmp(cfg->dns_interface, "any") != 0 &&
	    (ifindex = if_nametoindex(cfg->dns_interface)) == 0)
		fatalx("socket.dns.af_packet.interface: no interface %s",
		    cfg->dns_interface);
	if ((dns.fd[0] = dns_socket(ifindex, ETH_P_IP)) == -1) {
		/* A kernel without packet sockets (af_packet not loaded). */
		log_warnx("no DNS capture: this kernel has no packet sockets; "
		    "flows get no domain names");
		return 0;
	}
	dns.fd[1] = dns_socket(ifindex, ETH_P_IPV6);
	dns.snaplen = (size_t)cfg->dns_snaplen;
	dns.buf = xcalloc(MSG_MAX_PACKETS, dns.snaplen);
	log_info("DNS capture on %s (snap length %zu)", cfg->dns_interface,
	    dns.snaplen);
	fds[0] = dns.fd[0];
	fds[1] = dns.fd[1];
	return 2;
}

/* The kernel's drop count; reading it resets it, so it is summed here. */
static void
dns_stats(int fd)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		dns.drops += st.tp_drops;
}

/* The packet's time, from CLOCK_REALTIME to the perf samples' clock. */
static uint64_t
packet_time(const struct msghdr *mh, int64_t real_minus_mono)
{
	struct cmsghdr *c;
	struct timespec ts;
	int64_t t;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(
	    (struct msghdr *)mh, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(ts))) {
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec -
			    real_minus_mono;
			return t > 0 ? (uint64_t)t : 1;
		}
	return 0;
}

/*
 * Read what waits, at most MSG_MAX_PACKETS packets a call, and hand them
 * to cb as one batch (with the drop count, also when it alone changed).
 */
void
dns_read(int fd, void (*cb)(const struct msg_packets *, void *), void *arg)
{
	struct msg_packet v[MSG_MAX_PACKETS];
	struct msg_packets b;
	struct timespec rt, mt;
	int64_t real_minus_mono;
	uint64_t drops_before = dns.drops;
	size_t bytes = 0;

	if (fd == -1)
		return;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	real_minus_mono = ((int64_t)rt.tv_sec - (int64_t)mt.tv_sec) *
	    1000000000 + (rt.tv_nsec - mt.tv_nsec);
	memset(&b, 0, sizeof(b));
	b.v = v;
	while (b.n < MSG_MAX_PACKETS && bytes < BATCH_BYTES) {
		union {
			struct cmsghdr	 align;
			char		 buf[CMSG_SPACE(sizeof(struct timespec))];
		} cbuf;
		struct sockaddr_ll from;
		struct msghdr mh;
		struct iovec iov;
		uint8_t *slot = dns.buf + b.n * dns.snaplen;
		ssize_t n;

		iov.iov_base = slot;
		iov.iov_len = dns.snaplen;
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		/* MSG_TRUNC: the packet's whole length, however much fits. */
		if ((n = recvmsg(fd, &mh, MSG_TRUNC)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("DNS capture: recvmsg");
			break;
		}
		if (n == 0)
			continue;
		dns.packets++;
		v[b.n].time = packet_time(&mh, real_minus_mono);
		v[b.n].protocol = ntohs(from.sll_protocol);
		v[b.n].ifindex = (uint32_t)from.sll_ifindex;
		v[b.n].data = slot;
		v[b.n].len = (size_t)n < dns.snaplen ? (size_t)n : dns.snaplen;
		v[b.n].orig_len = (uint32_t)n;
		if ((size_t)n > dns.snaplen)
			dns.cut++;
		if (v[b.n].time == 0) {
			dns.untimed++;	/* cannot be put in order */
			continue;
		}
		bytes += v[b.n].len;
		b.n++;
	}
	dns_stats(fd);
	b.drops = dns.drops;
	if (b.n > 0 || dns.drops != drops_before)
		cb(&b, arg);
}

void
dns_counters(struct msg_counter *c, size_t *n, size_t cap)
{
	if (dns.fd[0] == -1)
		return;
	msg_counter_add(c, n, cap, "dns_packets", dns.packets);
	msg_counter_add(c, n, cap, "dns_packets_cut", dns.cut);
	msg_counter_add(c, n, cap, "dns_capture_drops", dns.drops);
	msg_counter_add(c, n, cap, "dns_packets_untimed", dns.untimed);
}

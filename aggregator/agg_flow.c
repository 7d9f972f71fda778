/*
 * The socket table: kernel struct sock address -> what is known of the
 * socket and of its flows. Fed by time-ordered events; emits flow records
 * and forwards process events.
 *
 * TCP: one flow per socket. Its tuple and direction come from
 * inet_sock_set_state (SYN_SENT means outbound, SYN_RECV -> ESTABLISHED
 * inbound), its payload bytes from sock_send_length/sock_recv_length, and
 * its end from tcp_destroy_sock: data can still be read after the state
 * reached TCP_CLOSE, so the state change does not end the flow.
 *
 * UDP: one flow per socket and remote endpoint. No UDP tracepoint carries
 * addresses; the remote of a send comes from the route lookup
 * (fib:fib_table_lookup, fib6:fib6_table_lookup) that the same thread did
 * just before it, inside sendto() or connect(). A send without a lookup of
 * its own (a connected socket) goes to the socket's last remote. A receive
 * carries no address at all: it is credited to the socket's remote when
 * the socket has exactly one, and otherwise to a flow whose remote is
 * reported as unknown. UDP flows end after flow_inactive_timeout of
 * silence.
 *
 * Attribution: the sample pid of a tracepoint is the socket's owner only
 * when the sample was taken in process context; softirq samples carry
 * whatever task was running and are never used for the pid.
 *
 * A socket address is reused by the kernel within seconds, so an entry is
 * removed when its socket ends, and a socket seen opening at an address we
 * still hold replaces the old entry (which is reported, not final).
 *
 * Every table has a fixed capacity; what does not fit is counted.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agg.h"
#include "hash.h"
#include "log.h"

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
#define TCP_ESTABLISHED	1
#define TCP_SYN_SENT	2
#define TCP_SYN_RECV	3
#define TCP_FIN_WAIT2	5
#define TCP_CLOSE	7

#define MAX_UDP_FLOWS	64		/* remotes followed per socket */
#define FIB_SLOTS	1024		/* pending route lookups, by tid */
#define FIB_MAX_AGE	(1000ULL * 1000 * 1000)	/* ns */
/*
 * tcp_info of recent closes, by cookie: enough for the closes of the
 * reorder horizon at tens of thousands of connections a second.
 */
#define DIAG_BITS	15
#define DIAG_SLOTS	(1U << DIAG_BITS)
/*
 * A notification nobody claimed for this long (of sample time) belongs to
 * a socket whose tcp_destroy_sock sample the kernel dropped; its socket is
 * then found by tuple. One never matched is forgotten after CLAIM_MAX.
 */
#define CLAIM_WAIT	(500ULL * 1000 * 1000)
#define CLAIM_MAX	(30ULL * 1000 * 1000 * 1000)
#define EXISTING_CAP	65536		/* connections open at start */
/*
 * A connection whose end sample came before its notification (the
 * kernel sends that from a worker, which a starved machine runs late)
 * waits this long (of sample time) for it, at most FIN_WAITERS at once;
 * then it ends without.
 */
#define FIN_WAIT	(1000ULL * 1000 * 1000)
#define FIN_WAITERS	4096
/* Packets of a tuple no flow took for this long are dropped (counted). */
#define PKTS_MAX_AGE	(10ULL * 1000 * 1000 * 1000)
#define LISTEN_CAP	4096		/* listening ports seen at start */
#define TCP_LISTEN	10
#define TCP_TIME_WAIT	6
#define TCP_NEW_SYN_RECV 12
/*
 * A flow open this long (of sample time) is announced to the enricher,
 * which reports it as partial should this aggregator die before
 * reporting it; shorter ones end before the announcement costs anything.
 */
#define NOTICE_AGE	(1000ULL * 1000 * 1000)

/* In this order for size: one is kept for every socket open. */
struct agg_flow {
	struct agg_flow	*next;
	uint64_t	 tx_bytes, rx_bytes;
	uint64_t	 tx_pkts, rx_pkts;
	uint64_t	 first, last;
	uint64_t	 reported;	/* last interim report, 0 = none */
	uint8_t		 rip[16];
	uint16_t	 rport;
	uint8_t		 direction;
	bool		 have_remote;
	bool		 inferred;	/* remote taken from the reply */
	/*
	 * Its id's low 24 bits (the socket's gen above them), given when
	 * the enricher is first told the flow is open (flow_notice); 0
	 * before. In what was padding.
	 */
	uint8_t		 serial[3];
};

struct diag_slot {
	uint64_t	 cookie;	/* 0 = empty */
	uint64_t	 tuple;		/* tuple_hash() of the socket */
	uint64_t	 arrived;	/* sample time when it came */
	uint32_t	 segs_in, segs_out;
	bool		 timestamps;
	bool		 ended;		/* its flow was ended by tuple */
	uint64_t	 bytes_retrans;
	uint64_t	 bytes_received;
};

/*
 * A socket. Kept small: there is one for every socket the machine has
 * open, and a busy server has hundreds of thousands (its flags are bits,
 * so that it stays at 184 bytes, which malloc serves from 192-byte
 * chunks). Its first flow (a TCP socket's only one) lives inside it;
 * what tcp_info says at the end is looked at only while the flow is
 * reported.
 */
struct agg_sock {
	struct agg_sock	*next;
	uint64_t	 sk;
	uint64_t	 cookie;
	uint64_t	 last;
	struct agg_flow	*flows;
	struct agg_flow	*last_flow;	/* UDP: where sends without a lookup go */

	uint32_t	 gen;
	uint32_t	 pid;
	uint8_t		 lip[16];
	uint16_t	 lport;
	uint16_t	 nflows;
	uint8_t		 proto;		/* 6 or 17 */
	uint8_t		 family;	/* 4 or 6, 0 while unknown */
	uint8_t		 state;		/* TCP */
	uint8_t		 direction;	/* TCP, from the state changes */
	uint8_t		 closed_from;	/* the state before TCP_CLOSE */
	bool		 saw_start:1;
	bool		 established:1;	/* TCP: the handshake completed */
	bool		 have_local_ip:1;
	bool		 have_tuple:1;	/* TCP: both ports known */
	bool		 lost:1;		/* samples were lost while open */
	bool		 existing:1;	/* open before sockflow started */
	bool		 flow0_used:1;
	bool		 peer_kept:1;	/* UDP: flow0 holds the last peer */
	bool		 many_peers:1;	/* UDP: more than one remote seen */
	bool		 disconnected:1;	/* TCP: counters zeroed at the end */
	bool		 have_fin:1;	/* TCP: its tcp_info at the end is t->fin */
	bool		 gap_mark:1;	/* first seen just after an aggregator died */
	bool		 fin_wait:1;	/* TCP: ended, its notification awaited */
	uint32_t	 netns;		/* of its owner when first seen, 0 */
	uint64_t	 cgroup;	/* likewise */
	struct agg_flow	 flow0;
};

struct fib_key {
	uint32_t	 tid;
	uint64_t	 time;
	uint8_t		 family;
	uint8_t		 src[16], dst[16];
	uint16_t	 sport, dport;
};


/* A connection open when sockflow started, from the sock_diag dump. */
struct existing {
	struct existing	*next;
	uint64_t	 cookie;
	uint8_t		 direction;
};

struct agg_flows {
	struct diag_slot	 fin;		/* of the socket being reported */
	uint64_t		 now;		/* latest sample time seen */
	/*
	 * An aggregator before this one died (the probe's hello says when):
	 * a socket first seen before this time may have had flows it held.
	 */
	uint64_t		 resume_until;
	bool			 resumed;
	uint32_t		 serial;	/* the last flow serial given */
	/* Ended, awaiting their notification (fin_wait), in no order. */
	struct agg_sock		*waiting[FIN_WAITERS];
	size_t			 nwaiting;
	bool			 diag_live;	/* notifications come */
	bool			 noticing;	/* emit_flow: a notice */
	bool			 ending;	/* emit_flow: the last record */
	/* Tuples of the TCP sockets seen from their start, during a dump. */
	uint64_t		*started;
	size_t			 nstarted, started_cap;
	uint64_t		 diag_time;	/* when notifications are read */
	/* Notifications unclaimed past CLAIM_WAIT, by tuple, in a sweep. */
	uint32_t		 unclaimed[DIAG_SLOTS * 2];
	size_t			 nunclaimed;
	struct existing		*existing[1024];
	size_t			 nexisting;
	struct {
		uint8_t		 family;
		uint16_t	 port;
	}			 listen[LISTEN_CAP];
	size_t			 nlisten;
	struct agg_sock		**buckets;
	struct diag_slot	 diag[DIAG_SLOTS];
	/*
	 * The cookies of diag[] again, side by side: a bucket's are two
	 * cache lines, where its slots are sixteen.
	 */
	uint64_t		 dkey[DIAG_SLOTS];
	size_t			 nbuckets;
	size_t			 count;
	size_t			 cap;
	uint32_t		 gen;
	struct agg_flow_conf	 conf;
	struct fib_key		 fib[FIB_SLOTS];
	agg_flow_cb		 flow_cb;
	agg_proc_cb		 proc_cb;
	void			*arg;
	struct agg_calls	*calls;		/* kprobe backend only */
	struct agg_pkts		*pkts;		/* kprobe backend only */
	struct agg_dns		*dns;		/* NULL: no DNS capture */
	struct agg_netns	*netns;
	struct agg_flow_stats	 stats;
};

void
agg_flow_conf_default(struct agg_flow_conf *c)
{
	c->flow_inactive = 30ULL * 1000000000;
	c->flow_termination = 5ULL * 1000000000;
	c->socket_inactive = 60ULL * 1000000000;
	c->report_interval = 60ULL * 1000000000;
}

struct agg_flows *
agg_flows_new(size_t cap, const struct agg_flow_conf *conf, agg_flow_cb fcb,
    agg_proc_cb pcb, void *arg)
{
	struct agg_flows *t;
	size_t nb = 1;

	/* Chains of two at most at capacity: memory counts as much as time. */
	while (nb < cap / 2)
		nb <<= 1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->buckets = calloc(nb, sizeof(*t->buckets))) == NULL ||
	    (t->netns = agg_netns_new()) == NULL) {
		free(t->buckets);
		free(t);
		return NULL;
	}
	t->nbuckets = nb;
	t->cap = cap;
	t->conf = *conf;
	t->flow_cb = fcb;
	t->proc_cb = pcb;
	t->arg = arg;
	return t;
}

static void
sock_free(struct agg_sock *s)
{
	struct agg_flow *f, *n;

	for (f = s->flows; f != NULL; f = n) {
		n = f->next;
		if (f != &s->flow0)
			free(f);
	}
	free(s);
}

void
agg_flows_free(struct agg_flows *t)
{
	struct agg_sock *s, *n;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++)
		for (s = t->buckets[i]; s != NULL; s = n) {
			n = s->next;
			sock_free(s);
		}
	for (i = 0; i < 1024; i++) {
		struct existing *e, *en;

		for (e = t->existing[i]; e != NULL; e = en) {
			en = e->next;
			free(e);
		}
	}
	free(t->buckets);
	agg_netns_free(t->netns);
	agg_calls_free(t->calls);
	agg_pkts_free(t->pkts);
	free(t);
}

const struct agg_flow_stats *
agg_flows_stats(const struct agg_flows *t)
{
	return &t->stats;
}

size_t
agg_flows_count(const struct agg_flows *t)
{
	return t->count;
}

static size_t
bucket_of(const struct agg_flows *t, uint64_t sk)
{
	/* Slab addresses share low bits; mix before masking. */
	uint64_t h = (sk >> 4) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (t->nbuckets - 1);
}

static void	fin_end(struct agg_flows *, struct agg_sock *);
static bool	fin_later(struct agg_flows *, const struct agg_sock *);

/*
 * The socket at an address. One that ended and awaits its notification
 * is over: an event at its address is another socket's.
 */
static struct agg_sock *
sock_find(struct agg_flows *t, uint64_t sk)
{
	struct agg_sock *s;

	for (s = t->buckets[bucket_of(t, sk)]; s != NULL; s = s->next)
		if (s->sk == sk) {
			if (s->fin_wait) {
				fin_end(t, s);
				return NULL;
			}
			return s;
		}
	return NULL;
}

static struct agg_sock *
sock_new(struct agg_flows *t, uint64_t sk, uint8_t proto, uint64_t time)
{
	struct agg_sock *s;
	size_t b;

	if (t->count >= t->cap || (s = calloc(1, sizeof(*s))) == NULL) {
		t->stats.table_full++;
		return NULL;
	}
	b = bucket_of(t, sk);
	s->sk = sk;
	s->gen = ++t->gen;
	s->proto = proto;
	s->last = time;
	/*
	 * After an aggregator died: a TCP socket first seen without its
	 * start is one it held (unmarked if its start comes); a UDP socket
	 * first seen soon after may have had flows it held.
	 */
	s->gap_mark = t->resumed && (proto == 6 || time < t->resume_until);
	s->next = t->buckets[b];
	t->buckets[b] = s;
	t->count++;
	t->stats.socks++;
	return s;
}

static void
waiting_drop(struct agg_flows *t, struct agg_sock *s)
{
	size_t i;

	for (i = 0; i < t->nwaiting; i++)
		if (t->waiting[i] == s) {
			t->waiting[i] = t->waiting[--t->nwaiting];
			break;
		}
	s->fin_wait = false;
}

static void
sock_remove(struct agg_flows *t, struct agg_sock *s)
{
	struct agg_sock **pp;

	if (s->fin_wait)
		waiting_drop(t, s);

	for (pp = &t->buckets[bucket_of(t, s->sk)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			t->count--;
			sock_free(s);
			return;
		}
}

static struct agg_flow *
flow_new(struct agg_flows *t, struct agg_sock *s, uint64_t time)
{
	struct agg_flow *f;

	if (s->nflows >= MAX_UDP_FLOWS) {
		t->stats.flow_table_full++;
		return NULL;
	}
	if (!s->flow0_used) {
		f = &s->flow0;
		memset(f, 0, sizeof(*f));
		s->flow0_used = true;
		s->peer_kept = false;
	} else if ((f = calloc(1, sizeof(*f))) == NULL) {
		t->stats.flow_table_full++;
		return NULL;
	}
	f->first = time;
	f->last = time;
	f->next = s->flows;
	s->flows = f;
	s->nflows++;
	return f;
}

/*
 * A UDP socket's flow ends after a silence, but a connected socket's next
 * sends look nothing up: its peer is kept (in the unused first-flow slot)
 * for the flow that follows.
 */
static void
keep_peer(struct agg_sock *s, struct agg_flow *f)
{
	if (!f->have_remote)
		return;
	if (f != &s->flow0) {
		if (s->flow0_used)
			return;
		memcpy(s->flow0.rip, f->rip, 16);
		s->flow0.rport = f->rport;
	}
	s->peer_kept = true;
}

static void
flow_remove(struct agg_sock *s, struct agg_flow *f)
{
	struct agg_flow **pp;

	for (pp = &s->flows; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			s->nflows--;
			if (s->last_flow == f) {
				keep_peer(s, f);
				s->last_flow = NULL;
			}
			if (f == &s->flow0)
				s->flow0_used = false;
			else
				free(f);
			return;
		}
}

/*
 * IP-level bytes of each side, derived: payload plus, per packet, the IP
 * header (20 or 40 bytes) and the transport header (UDP 8, TCP 20) and,
 * for TCP, the options Linux puts on every segment when timestamps are in
 * use (12 bytes) and on its SYN (MSS, SACK-permitted, window scale: 8
 * bytes more with timestamps, 12 without). Retransmitted payload comes
 * from tcp_info for the local side; the remote side's retransmissions and
 * SACK blocks are not seen, so the true figure can only be higher.
 */
static void
ip_bytes(const struct agg_sock *s, const struct diag_slot *fin,
    struct msg_flow *f)
{
	uint64_t iph = s->family == 4 ? 20 : 40, per, syn;
	bool ts;

	if (f->packet_source == FLOW_PKTS_NONE)
		return;
	if (s->proto == 17) {
		f->local.ip_bytes = f->local.bytes + f->local.packets *
		    (iph + 8);
		f->remote.ip_bytes = f->remote.bytes + f->remote.packets *
		    (iph + 8);
		return;
	}
	ts = fin != NULL && fin->timestamps;
	per = iph + 20 + (ts ? 12 : 0);
	syn = s->saw_start ? (ts ? 8 : 12) : 0;
	f->local.ip_bytes = f->local.bytes +
	    (fin != NULL ? fin->bytes_retrans : 0) +
	    f->local.packets * per + syn;
	/* The remote sent a SYN only if the handshake completed. */
	f->remote.ip_bytes = f->remote.bytes + f->remote.packets * per +
	    (s->established ? syn : 0);
}

/*
 * The kprobe backend saw each packet at the IP layer: the IP-level bytes
 * of the flow are their lengths, summed. Packets tcp_info counts that the
 * IP layer did not show one by one (the segments of a TSO/GSO packet, the
 * FIN and ACK a TIME_WAIT mini-socket handles after the report) keep
 * their derived header bytes, and the record says so.
 */
static void
per_packet_bytes(struct agg_flows *t, const struct agg_sock *s,
    const struct agg_flow *fl, struct msg_flow *f)
{
	struct agg_pkt_counts c;
	uint64_t per;
	bool ts = s->have_fin && t->fin.timestamps;

	if (!agg_pkts_take(t->pkts, s->family, s->lip, s->lport, fl->rip,
	    fl->rport, fl->first, &c))
		return;
	/* More packets than tcp_info counts: not this flow's alone. */
	if (c.out_packets > f->local.packets ||
	    c.in_packets > f->remote.packets) {
		t->stats.pkts_mismatch++;
		return;
	}
	per = (s->family == 4 ? 20 : 40) + 20 + (ts ? 12 : 0);
	f->local.ip_bytes = c.out_bytes +
	    (f->local.packets - c.out_packets) * per;
	f->remote.ip_bytes = c.in_bytes +
	    (f->remote.packets - c.in_packets) * per;
	f->bytes_source = c.out_packets == f->local.packets &&
	    c.in_packets == f->remote.packets ? FLOW_BYTES_PER_PACKET :
	    FLOW_BYTES_PER_PACKET_DERIVED;
}

/* The flow's id for the enricher: 0 until it was announced. */
static uint64_t
flow_id(const struct agg_sock *s, const struct agg_flow *fl)
{
	uint32_t serial = (uint32_t)fl->serial[0] |
	    (uint32_t)fl->serial[1] << 8 | (uint32_t)fl->serial[2] << 16;

	return serial == 0 ? 0 : (uint64_t)s->gen << 24 | serial;
}

static void
emit_flow(struct agg_flows *t, const struct agg_sock *s,
    const struct agg_flow *fl, uint64_t end, bool final)
{
	struct msg_flow f;
	size_t iplen = s->family == 4 ? 4 : 16;
	int64_t off;
	bool gap;

	if (s->family == 0)
		return;		/* nothing known of its addresses */
	memset(&f, 0, sizeof(f));
	f.sock = s->sk;
	f.family = s->family;
	f.transport = s->proto;
	f.direction = s->proto == 6 ? s->direction : fl->direction;
	memcpy(f.local.ip, s->lip, iplen);
	f.local.port = s->lport;
	f.local_ip_known = s->have_local_ip;
	if (fl->have_remote) {
		memcpy(f.remote.ip, fl->rip, iplen);
		f.remote.port = fl->rport;
		f.remote_known = true;
	}
	f.local.bytes = fl->tx_bytes;
	f.remote.bytes = fl->rx_bytes;
	if (s->proto == 17) {
		f.local.packets = fl->tx_pkts;
		f.remote.packets = fl->rx_pkts;
		f.packet_source = FLOW_PKTS_DATAGRAMS;
	} else if (s->have_fin) {
		f.local.packets = t->fin.segs_out;
		f.remote.packets = t->fin.segs_in;
		/*
		 * An accepted socket's tcp_info does not count the SYN-ACK:
		 * the request socket sent it, before this one existed.
		 */
		if (s->direction == FLOW_DIR_INBOUND && s->saw_start)
			f.local.packets++;
		f.packet_source = FLOW_PKTS_TCP_INFO;
		/*
		 * A socket closed by its process before the peer's FIN is
		 * handed over, from FIN_WAIT2, to a TIME_WAIT mini-socket
		 * and destroyed: the peer's FIN and the ACK of it go
		 * through the mini-socket, not this socket's counters.
		 * tcp_info says so: a FIN takes one byte of the received
		 * sequence, so bytes_received is then the payload alone.
		 */
		if (s->closed_from == TCP_FIN_WAIT2 &&
		    t->fin.bytes_received == fl->rx_bytes) {
			f.local.packets++;
			f.remote.packets++;
			f.packet_source = FLOW_PKTS_TCP_INFO_TIMEWAIT;
		}
	}
	ip_bytes(s, s->have_fin ? &t->fin : NULL, &f);
	if (final && t->pkts != NULL && s->proto == 6 && s->have_tuple &&
	    fl->have_remote && f.packet_source != FLOW_PKTS_NONE)
		per_packet_bytes(t, s, fl, &f);
	f.pid = s->pid;
	f.cgroup = s->cgroup;
	f.netns = s->netns;
	/* One offset for both ends, so the duration is exact. */
	off = agg_mono_to_wall(0);
	f.start_ns = (int64_t)fl->first + off;
	f.end_ns = (int64_t)end + off;
	if (f.end_ns < f.start_ns)
		f.end_ns = f.start_ns;
	f.final = final;
	/*
	 * Begun before this aggregator's predecessor died: a TCP socket
	 * without its start, a UDP flow begun within flow_inactive_timeout
	 * of the death (a later flow of the same socket is whole).
	 */
	gap = s->gap_mark && (s->proto == 6 || fl->first < t->resume_until);
	/* Complete: seen from its start, with its whole tuple. */
	f.complete = s->saw_start && fl->have_remote &&
	    (s->proto == 17 || s->have_tuple) && !gap;
	f.tcp_state = s->state;
	f.cookie = s->cookie;
	f.samples_lost = s->lost || gap;
	if (gap && final && !t->noticing)
		t->stats.gap_flows++;
	f.remote_inferred = fl->inferred;
	f.existing = s->existing;
	f.disconnected = s->disconnected;
	f.flow_id = flow_id(s, fl);
	f.open = t->noticing;
	f.gone = final || t->ending;
	if (!t->noticing)
		t->stats.flows++;
	t->flow_cb(&f, t->arg);
}

/*
 * Tell the enricher that a flow is open, with what is known of it now
 * (its id is given the first time): should this aggregator die before
 * reporting it, the enricher reports it as partial instead of losing it.
 */
static void
flow_notice(struct agg_flows *t, struct agg_sock *s, struct agg_flow *fl)
{
	if (s->family == 0)
		return;		/* nothing to say yet; the next sweep */
	if (flow_id(s, fl) == 0) {
		if ((++t->serial & 0xffffff) == 0)
			t->serial++;
		fl->serial[0] = (uint8_t)t->serial;
		fl->serial[1] = (uint8_t)(t->serial >> 8);
		fl->serial[2] = (uint8_t)(t->serial >> 16);
		t->stats.notices++;
	}
	t->noticing = true;
	emit_flow(t, s, fl, fl->last, false);
	t->noticing = false;
}

/*
 * A new enricher knows of no open flow: every one announced already is
 * announced again, with the same id (a batch carried over may hold the
 * earlier announcement too).
 */
void
agg_flows_renotice(struct agg_flows *t)
{
	struct agg_sock *s;
	struct agg_flow *f;
	size_t i;

	for (i = 0; i < t->nbuckets; i++)
		for (s = t->buckets[i]; s != NULL; s = s->next)
			for (f = s->flows; f != NULL; f = f->next)
				if (flow_id(s, f) != 0)
					flow_notice(t, s, f);
}

/* Report every flow of a socket and forget it. */
static void
sock_end(struct agg_flows *t, struct agg_sock *s, uint64_t end, bool final)
{
	struct agg_flow *f;

	/* Final or not, the last record of each: the socket is forgotten. */
	t->ending = true;
	for (f = s->flows; f != NULL; f = f->next)
		emit_flow(t, s, f, end, final);
	t->ending = false;
	sock_remove(t, s);
}

/* The one flow of a TCP socket. */
static struct agg_flow *
tcp_flow(struct agg_flows *t, struct agg_sock *s, uint64_t time)
{
	if (s->flows != NULL)
		return s->flows;
	return flow_new(t, s, time);
}

static void
set_tuple(struct agg_sock *s, const struct agg_event *ev, bool whole)
{
	size_t iplen = ev->u.st.family == 4 ? 4 : 16;
	struct agg_flow *f = s->flows;

	s->family = ev->u.st.family;
	memset(s->lip, 0, sizeof(s->lip));
	memcpy(s->lip, ev->u.st.saddr, iplen);
	s->lport = ev->u.st.sport;
	s->have_local_ip = true;
	if (f != NULL) {
		memset(f->rip, 0, sizeof(f->rip));
		memcpy(f->rip, ev->u.st.daddr, iplen);
		f->rport = ev->u.st.dport;
		f->have_remote = true;
	}
	if (whole)
		s->have_tuple = true;
}

/*
 * The socket's process, from an event in its context: who it is, its
 * cgroup and its network namespace at that time.
 */
static void
set_owner(struct agg_flows *t, struct agg_sock *s, const struct agg_event *ev)
{
	s->pid = ev->pid;
	s->cgroup = ev->cgroup;
	if (t->netns != NULL && (s->netns = agg_netns_get(t->netns,
	    ev->tid)) == 0)
		s->netns = agg_netns_get(t->netns, ev->pid);
}

void
agg_flows_netns_initial(struct agg_flows *t, const struct msg_netns *n)
{
	size_t i;

	for (i = 0; t->netns != NULL && i < n->n; i++)
		agg_netns_set(t->netns, n->pid[i], (uint32_t)n->netns[i]);
}

/* A socket for an event, replacing a stale entry of another protocol. */
static struct agg_sock *
sock_get(struct agg_flows *t, uint64_t sk, uint8_t proto, uint64_t time)
{
	struct agg_sock *s = sock_find(t, sk);

	if (s != NULL && s->proto != proto) {
		/* The address was reused; we missed the old socket's end. */
		t->stats.reused++;
		sock_end(t, s, s->last, false);
		s = NULL;
	}
	if (s == NULL)
		s = sock_new(t, sk, proto, time);
	return s;
}

static void
on_set_state(struct agg_flows *t, const struct agg_event *ev)
{
	struct agg_sock *s;
	struct agg_flow *f;
	int olds = ev->u.st.oldstate, news = ev->u.st.newstate;
	bool opening = news == TCP_SYN_SENT ||
	    (olds == TCP_SYN_RECV && news == TCP_ESTABLISHED);

	s = sock_find(t, ev->u.st.sk);
	if (s != NULL && opening && (s->saw_start || s->proto != 6)) {
		/* A new connection at an address we still hold. */
		t->stats.reused++;
		sock_end(t, s, s->last, false);
		s = NULL;
	}
	if (s == NULL) {
		if ((s = sock_get(t, ev->u.st.sk, 6, ev->time)) == NULL)
			return;
	} else if (s->proto != 6) {
		if ((s = sock_get(t, ev->u.st.sk, 6, ev->time)) == NULL)
			return;
	}
	if ((f = tcp_flow(t, s, ev->time)) == NULL)
		return;
	if (opening) {
		/* Its whole life is ahead: no aggregator held any of it. */
		if (!s->saw_start)
			s->gap_mark = false;
		s->saw_start = true;
		f->first = ev->time;
		s->direction = news == TCP_SYN_SENT ? FLOW_DIR_OUTBOUND :
		    FLOW_DIR_INBOUND;
	}
	s->last = ev->time;
	f->last = ev->time;
	s->state = (uint8_t)news;
	if (news == TCP_ESTABLISHED)
		s->established = true;
	if (news == TCP_CLOSE)
		s->closed_from = (uint8_t)olds;
	/* The tuple is whole once both ports are set (not at SYN_SENT). */
	if (ev->u.st.sport != 0 && ev->u.st.dport != 0 &&
	    (!s->have_tuple || news == TCP_ESTABLISHED))
		set_tuple(s, ev, true);
	else if (!s->have_tuple && s->family == 0)
		set_tuple(s, ev, false);
	if (ev->proc_ctx && s->pid == 0)
		set_owner(t, s, ev);
}

/*
 * The table is in buckets of DIAG_WAYS slots: a cookie may sit in any
 * slot of its bucket, so closes that hash alike do not push each other
 * out while they wait; a full bucket gives up its oldest.
 */
#define DIAG_WAYS	16

/* The first slot of cookie's bucket. */
static size_t
diag_bucket(uint64_t cookie)
{
	size_t b = (size_t)((cookie * 0x9e3779b97f4a7c15ULL) >>
	    (64 - DIAG_BITS));

	return b & ~(size_t)(DIAG_WAYS - 1);
}

static void
diag_setkey(struct agg_flows *t, struct diag_slot *sl, uint64_t cookie)
{
	sl->cookie = cookie;
	t->dkey[sl - t->diag] = cookie;
}

/* The slot holding cookie, or NULL. */
static struct diag_slot *
diag_find(struct agg_flows *t, uint64_t cookie)
{
	size_t b = diag_bucket(cookie), i;

	for (i = b; i < b + DIAG_WAYS; i++)
		if (t->dkey[i] == cookie)
			return &t->diag[i];
	return NULL;
}

/* A slot for cookie: its own, an empty one, or the oldest of the bucket. */
static struct diag_slot *
diag_place(struct agg_flows *t, uint64_t cookie)
{
	size_t b = diag_bucket(cookie), i;
	struct diag_slot *old = &t->diag[b];

	for (i = b; i < b + DIAG_WAYS; i++)
		if (t->dkey[i] == cookie || t->dkey[i] == 0)
			return &t->diag[i];
	/* Full: one whose flow already ended, else the oldest. */
	for (i = b; i < b + DIAG_WAYS; i++) {
		if (t->diag[i].ended)
			return &t->diag[i];
		if (t->diag[i].arrived < old->arrived)
			old = &t->diag[i];
	}
	t->stats.diag_evicted++;
	return old;
}

/*
 * A TCP socket's tuple as one number (FNV-1a; never 0), local side first.
 * IPv4-mapped IPv6 addresses count as IPv4, as the decoder unmaps them.
 */
static uint64_t
tuple_hash(uint8_t family, const uint8_t *lip, uint16_t lport,
    const uint8_t *rip, uint16_t rport)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	uint64_t h;
	uint8_t b[38];

	memset(b, 0, sizeof(b));
	if (family == 6 && memcmp(lip, mapped, 12) == 0 &&
	    memcmp(rip, mapped, 12) == 0) {
		family = 4;
		lip += 12;
		rip += 12;
	}
	b[0] = family;
	memcpy(b + 1, lip, family == 4 ? 4 : 16);
	memcpy(b + 17, rip, family == 4 ? 4 : 16);
	b[33] = (uint8_t)(lport >> 8);
	b[34] = (uint8_t)lport;
	b[35] = (uint8_t)(rport >> 8);
	b[36] = (uint8_t)rport;
	h = fnv1a(FNV_OFFSET, b, sizeof(b));
	return h != 0 ? h : 1;
}

void
agg_flows_diag(struct agg_flows *t, const struct agg_diag *d)
{
	struct diag_slot *sl;

	/* UDP notifications carry no counters; TCP ones are kept briefly. */
	if (d->proto != 6 || !d->have_info || d->cookie == 0)
		return;
	t->stats.diag_received++;
	sl = diag_place(t, d->cookie);
	diag_setkey(t, sl, d->cookie);
	sl->ended = false;
	sl->segs_in = d->segs_in;
	sl->segs_out = d->segs_out;
	sl->timestamps = d->timestamps;
	sl->bytes_retrans = d->bytes_retrans;
	sl->bytes_received = d->bytes_received;
	sl->tuple = tuple_hash(d->family, d->src, d->sport, d->dst, d->dport);
	/*
	 * When it came, on the samples' clock: the socket's destroy sample
	 * was taken before the notification was sent, so once the release
	 * horizon is past this, that sample is out (or was never written).
	 */
	sl->arrived = t->diag_time != 0 ? t->diag_time : t->now;
}

void
agg_flows_diag_time(struct agg_flows *t, uint64_t now)
{
	t->diag_time = now;
}

/*
 * The final tcp_info of a socket that is ending (its destroy sample, or
 * its notification matched by tuple), into t->fin. The notification comes
 * from a kernel worker within milliseconds, while the destroy sample waits
 * in the reorder buffer for longer, so it is usually here already. Sockets
 * of a network namespace that has no id in the probe's have none.
 */
static void
diag_take(struct agg_flows *t, struct agg_sock *s)
{
	struct diag_slot *sl;

	/*
	 * tcp_info counts a connection's whole life; for one open before
	 * sockflow started that would not match the payload sockflow saw.
	 */
	if (s->existing)
		return;
	sl = s->cookie != 0 ? diag_find(t, s->cookie) : NULL;
	if (sl == NULL || sl->ended) {
		t->stats.diag_missing++;
		return;
	}
	t->fin = *sl;
	diag_setkey(t, sl, 0);
	t->stats.diag_matched++;
	/*
	 * tcp_disconnect (a failed connect(), an abortive close) zeroes the
	 * counters before the end; a socket that sent its SYN has sent
	 * something, so none at all means they are gone, not nothing.
	 */
	if (t->fin.segs_out == 0 && s->saw_start)
		s->disconnected = true;
	else
		s->have_fin = true;
}

static struct existing **
existing_slot(struct agg_flows *t, uint64_t cookie)
{
	struct existing **pp;

	for (pp = &t->existing[cookie % 1024]; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->cookie == cookie)
			break;
	return pp;
}

static int
is_listening(const struct agg_flows *t, uint8_t family, uint16_t port)
{
	size_t i;

	for (i = 0; i < t->nlisten; i++)
		if (t->listen[i].port == port && t->listen[i].family == family)
			return 1;
	return 0;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
started_has(const struct agg_flows *t, uint64_t h)
{
	return t->nstarted > 0 && bsearch(&h, t->started, t->nstarted,
	    sizeof(h), u64_cmp) != NULL;
}

static void
started_add(struct agg_flows *t, uint64_t h)
{
	if (t->nstarted == t->started_cap) {
		size_t cap = t->started_cap ? t->started_cap * 2 : 1024;
		uint64_t *v = reallocarray(t->started, cap, sizeof(*v));

		if (v == NULL)
			return;
		t->started = v;
		t->started_cap = cap;
	}
	t->started[t->nstarted++] = h;
}

/* A handshake completing in an event not yet released. */
static void
started_pending(const struct agg_event *ev, void *arg)
{
	if (ev->kind == AEV_SET_STATE && ev->u.st.newstate == TCP_ESTABLISHED &&
	    (ev->u.st.oldstate == TCP_SYN_SENT ||
	    ev->u.st.oldstate == TCP_SYN_RECV) &&
	    ev->u.st.sport != 0 && ev->u.st.dport != 0)
		started_add(arg, tuple_hash(ev->u.st.family, ev->u.st.saddr,
		    ev->u.st.sport, ev->u.st.daddr, ev->u.st.dport));
}

/*
 * Around a start-up dump: the probe sends it after the samples taken up
 * to then, and those are in the table now or still wait to be put in
 * order. A connection whose start is among them is followed whole and
 * must not be reported again as one open before sockflow (after an
 * aggregator's death, the dump comes after every sample taken while
 * none ran). Tuples only: a connection of another network namespace
 * with the same addresses and ports would hide one in the dump.
 */
void
agg_flows_dump_begin(struct agg_flows *t, const struct agg_reorder *pending)
{
	struct agg_sock *s;
	size_t i;

	t->nstarted = 0;
	for (i = 0; i < t->nbuckets; i++)
		for (s = t->buckets[i]; s != NULL; s = s->next)
			if (s->proto == 6 && s->saw_start && s->have_tuple &&
			    s->flows != NULL && s->flows->have_remote)
				started_add(t, tuple_hash(s->family, s->lip,
				    s->lport, s->flows->rip, s->flows->rport));
	if (pending != NULL)
		agg_reorder_foreach(pending, started_pending, t);
	if (t->nstarted > 0)
		qsort(t->started, t->nstarted, sizeof(*t->started), u64_cmp);
}

void
agg_flows_dump_end(struct agg_flows *t)
{
	free(t->started);
	t->started = NULL;
	t->nstarted = t->started_cap = 0;
}

void
agg_flows_resumed(struct agg_flows *t, uint64_t gap)
{
	t->resumed = true;
	t->resume_until = gap + t->conf.flow_inactive;
}

void
agg_flows_existing(struct agg_flows *t, const struct agg_diag *d, int pass,
    uint64_t now)
{
	struct existing **pp, *e;
	struct msg_flow f;
	size_t iplen = d->family == 4 ? 4 : 16;
	int64_t off;

	if (d->proto != 6)
		return;
	if (pass == 0) {
		/* First pass: the listening ports, for the direction. */
		if (d->state == TCP_LISTEN && t->nlisten < LISTEN_CAP) {
			t->listen[t->nlisten].family = d->family;
			t->listen[t->nlisten].port = d->sport;
			t->nlisten++;
		}
		return;
	}
	if (d->state == TCP_LISTEN || d->state == TCP_TIME_WAIT ||
	    d->state == TCP_CLOSE || d->state == TCP_NEW_SYN_RECV ||
	    d->cookie == 0 || d->dport == 0)
		return;
	if (*(pp = existing_slot(t, d->cookie)) != NULL)
		return;
	if (started_has(t, tuple_hash(d->family, d->src, d->sport, d->dst,
	    d->dport))) {
		/* Its start is in the samples already: no report of it here. */
		t->stats.existing_seen++;
		return;
	}
	if (t->nexisting >= EXISTING_CAP || (e = calloc(1, sizeof(*e))) ==
	    NULL) {
		t->stats.existing_full++;
		return;
	}
	e->cookie = d->cookie;
	/* A local port something listens on: the peer connected to us. */
	e->direction = is_listening(t, d->family, d->sport) ?
	    FLOW_DIR_INBOUND : FLOW_DIR_OUTBOUND;
	*pp = e;
	t->nexisting++;
	t->stats.existing++;

	/* Reported now, with its tuple; its end comes with its destroy. */
	memset(&f, 0, sizeof(f));
	f.family = d->family;
	f.transport = 6;
	f.direction = e->direction;
	memcpy(f.local.ip, d->src, iplen);
	memcpy(f.remote.ip, d->dst, iplen);
	f.local.port = d->sport;
	f.remote.port = d->dport;
	f.local_ip_known = f.remote_known = true;
	off = agg_mono_to_wall(0);
	f.start_ns = f.end_ns = (int64_t)now + off;
	f.cookie = d->cookie;
	f.tcp_state = d->state;
	f.existing = true;
	t->stats.flows++;
	t->flow_cb(&f, t->arg);
}

/* A socket that ends: was it open when sockflow started? */
static void
existing_take(struct agg_flows *t, struct agg_sock *s)
{
	struct existing **pp, *e;

	if (s->saw_start || s->cookie == 0 ||
	    *(pp = existing_slot(t, s->cookie)) == NULL)
		return;
	e = *pp;
	s->existing = true;
	s->direction = e->direction;
	*pp = e->next;
	free(e);
	t->nexisting--;
}

static void
on_destroy(struct agg_flows *t, const struct agg_event *ev)
{
	struct agg_sock *s = sock_find(t, ev->u.st.sk);
	struct agg_flow *f;

	if (s != NULL && s->proto != 6)
		s = NULL;
	if (s == NULL && ev->u.st.dport == 0) {
		/* A listener, or a socket that never connected. */
		t->stats.destroy_unconnected++;
		return;
	}
	if (s == NULL && ev->u.st.cookie != 0) {
		struct diag_slot *sl = diag_find(t, ev->u.st.cookie);

		if (sl != NULL && sl->ended) {
			/* Its flow ended by tuple already; the sample was late. */
			t->stats.destroy_late++;
			diag_setkey(t, sl, 0);
			return;
		}
	}
	if (s == NULL) {
		/*
		 * A connection that ended without our seeing anything else
		 * of it (it predates sockflow, or its samples were lost):
		 * still a flow, of unknown direction.
		 */
		if ((s = sock_get(t, ev->u.st.sk, 6, ev->time)) == NULL)
			return;
	}
	if ((f = tcp_flow(t, s, ev->time)) == NULL) {
		sock_remove(t, s);
		return;
	}
	if (!s->have_tuple && ev->u.st.sport != 0 && ev->u.st.dport != 0)
		set_tuple(s, ev, true);
	s->cookie = ev->u.st.cookie;
	s->last = ev->time;
	existing_take(t, s);
	if (fin_later(t, s)) {
		/* Reported when its notification comes, or FIN_WAIT on. */
		s->fin_wait = true;
		t->waiting[t->nwaiting++] = s;
		t->stats.fin_waited++;
		return;
	}
	diag_take(t, s);
	sock_end(t, s, ev->time, true);
}

/* Is its notification still to come, and can it be waited for? */
static bool
fin_later(struct agg_flows *t, const struct agg_sock *s)
{
	struct diag_slot *sl;

	if (!t->diag_live || s->existing || s->cookie == 0 ||
	    t->nwaiting >= FIN_WAITERS)
		return false;
	sl = diag_find(t, s->cookie);
	return sl == NULL;
}

/* An ended connection's wait is over: reported, with what came. */
static void
fin_end(struct agg_flows *t, struct agg_sock *s)
{
	waiting_drop(t, s);
	diag_take(t, s);
	sock_end(t, s, s->last, true);
}

void
agg_flows_fin_check(struct agg_flows *t, uint64_t now)
{
	struct agg_sock *s;
	size_t i = 0;

	while (i < t->nwaiting) {
		s = t->waiting[i];
		if (diag_find(t, s->cookie) != NULL ||
		    (now > s->last && now - s->last >= FIN_WAIT))
			fin_end(t, s);	/* moves the last one to i */
		else
			i++;
	}
}

void
agg_flows_diag_live(struct agg_flows *t)
{
	t->diag_live = true;
}

static struct fib_key *
fib_slot(struct agg_flows *t, uint32_t tid)
{
	return &t->fib[(tid * 2654435761U) % FIB_SLOTS];
}

static void
on_fib(struct agg_flows *t, const struct agg_event *ev)
{
	struct fib_key *k;

	/* Under policy routing only the lookup that succeeded counts. */
	if (ev->u.fib.err != 0)
		return;
	k = fib_slot(t, ev->tid);
	if (k->tid != 0 && k->tid != ev->tid && ev->time - k->time <
	    FIB_MAX_AGE)
		t->stats.fib_collisions++;
	k->tid = ev->tid;
	k->time = ev->time;
	k->family = ev->u.fib.family;
	memcpy(k->src, ev->u.fib.src, 16);
	memcpy(k->dst, ev->u.fib.dst, 16);
	k->sport = ev->u.fib.sport;
	k->dport = ev->u.fib.dport;
}

/* Take the route lookup this thread did before its send, if any. */
static int
fib_take(struct agg_flows *t, const struct agg_event *ev, struct fib_key *out)
{
	struct fib_key *k = fib_slot(t, ev->tid);

	if (k->tid != ev->tid || ev->time < k->time ||
	    ev->time - k->time > FIB_MAX_AGE)
		return 0;
	*out = *k;
	k->tid = 0;
	return 1;
}

/* The single flow with a known remote, when there is exactly one. */
static struct agg_flow *
udp_only_remote(struct agg_sock *s)
{
	struct agg_flow *f, *found = NULL;

	for (f = s->flows; f != NULL; f = f->next) {
		if (!f->have_remote)
			continue;
		if (found != NULL)
			return NULL;
		found = f;
	}
	return found;
}

/* The flow of datagrams from unknown peers, if there is one. */
static struct agg_flow *
udp_unknown(struct agg_sock *s)
{
	struct agg_flow *f;

	for (f = s->flows; f != NULL; f = f->next)
		if (!f->have_remote)
			return f;
	return NULL;
}

static struct agg_flow *
udp_flow_for(struct agg_flows *t, struct agg_sock *s, bool have_remote,
    const uint8_t *rip, uint16_t rport, uint64_t time, uint8_t dir)
{
	struct agg_flow *f;

	for (f = s->flows; f != NULL; f = f->next) {
		if (f->have_remote != have_remote)
			continue;
		if (!have_remote || (f->rport == rport &&
		    memcmp(f->rip, rip, 16) == 0))
			return f;
	}
	if (have_remote && udp_only_remote(s) == NULL &&
	    (f = udp_unknown(s)) != NULL && f->tx_pkts == 0 &&
	    s->nflows == 1) {
		/*
		 * A socket that so far only received, from nobody we could
		 * see, now answers its first peer: the request/response of
		 * a server. What it received is taken as that peer's, and
		 * the record says the remote was inferred.
		 */
		f->have_remote = true;
		memcpy(f->rip, rip, 16);
		f->rport = rport;
		f->inferred = true;
		return f;
	}
	if (have_remote && udp_only_remote(s) != NULL)
		s->many_peers = true;
	if ((f = flow_new(t, s, time)) == NULL)
		return NULL;
	f->have_remote = have_remote;
	if (have_remote) {
		memcpy(f->rip, rip, 16);
		f->rport = rport;
	}
	f->direction = dir;
	return f;
}

/* A send or receive: its bytes and one more call (or datagram). */
static void
flow_count(struct agg_flow *f, const struct agg_event *ev)
{
	if (ev->kind == AEV_SEND) {
		f->tx_bytes += ev->u.io.bytes;
		f->tx_pkts++;
	} else {
		f->rx_bytes += ev->u.io.bytes;
		f->rx_pkts++;
	}
	f->last = ev->time;
}

/* A new flow to the peer an ended flow of the socket had, if one is kept. */
static struct agg_flow *
udp_kept_peer(struct agg_flows *t, struct agg_sock *s, uint64_t time,
    uint8_t dir)
{
	uint8_t rip[16];
	uint16_t rport;

	if (!s->peer_kept || s->flow0_used)
		return NULL;
	memcpy(rip, s->flow0.rip, 16);
	rport = s->flow0.rport;
	return udp_flow_for(t, s, true, rip, rport, time, dir);
}

void
agg_flows_set_dns(struct agg_flows *t, struct agg_dns *d)
{
	t->dns = d;
}

/* A process's send to or receive from a DNS server: its client port. */
static void
dns_client(struct agg_flows *t, const struct agg_sock *s,
    const struct agg_flow *f, const struct agg_event *ev)
{
	if (t->dns != NULL && f->have_remote && f->rport == 53 &&
	    s->pid != 0)
		agg_dns_client(t->dns, s->proto, s->family, s->lport, f->rip,
		    f->rport, s->pid, ev->time);
}

static void
on_udp_io(struct agg_flows *t, struct agg_sock *s, const struct agg_event *ev,
    bool have_key, const struct fib_key *kp)
{
	struct agg_flow *f = NULL;
	struct fib_key k;
	bool send = ev->kind == AEV_SEND;

	if (s->flows == NULL && s->nflows == 0 && !s->saw_start) {
		/* First sight of the socket: it is as new as we can tell. */
		s->saw_start = true;
	}
	if (send && have_key) {
		k = *kp;
		if (s->family == 0 || s->family != k.family) {
			s->family = k.family;
			s->have_local_ip = false;
		}
		s->lport = k.sport;
		if (!s->have_local_ip && memcmp(k.src, (uint8_t[16]){ 0 },
		    16) != 0) {
			memcpy(s->lip, k.src, 16);
			s->have_local_ip = true;
		}
		f = udp_flow_for(t, s, true, k.dst, k.dport, ev->time,
		    FLOW_DIR_OUTBOUND);
		s->last_flow = f;
	} else if (send) {
		/* A connected socket: its sends look nothing up. */
		f = s->last_flow != NULL ? s->last_flow : udp_only_remote(s);
		if (f == NULL)
			f = udp_kept_peer(t, s, ev->time, FLOW_DIR_OUTBOUND);
		if (f == NULL)
			f = udp_flow_for(t, s, false, NULL, 0, ev->time,
			    FLOW_DIR_OUTBOUND);
		if (f != NULL && f->have_remote)
			s->last_flow = f;
	} else {
		/* A receive carries no address; the family it has. */
		if (s->family == 0)
			s->family = ev->u.io.family;
		if ((f = udp_only_remote(s)) == NULL && !s->many_peers &&
		    (f = udp_kept_peer(t, s, ev->time,
		    FLOW_DIR_INBOUND)) != NULL)
			f->inferred = true;	/* the socket's one peer */
		if (f == NULL)
			f = udp_flow_for(t, s, false, NULL, 0, ev->time,
			    FLOW_DIR_INBOUND);
	}
	if (f == NULL)
		return;
	flow_count(f, ev);
	dns_client(t, s, f, ev);
}

static void
on_io(struct agg_flows *t, const struct agg_event *ev)
{
	struct agg_sock *s;
	struct agg_flow *f;

	struct fib_key k;
	bool have_key = false;

	if ((s = sock_get(t, ev->u.io.sk, ev->u.io.proto, ev->time)) == NULL)
		return;
	if (s->proto == 17 && ev->kind == AEV_SEND)
		have_key = fib_take(t, ev, &k);
	if (s->proto == 17 && ((have_key && s->lport != 0 &&
	    k.sport != s->lport) || (ev->proc_ctx && s->pid != 0 &&
	    ev->pid != s->pid))) {
		/*
		 * Another local port, or another process, at the same
		 * address: the socket we followed was closed (UDP has no end
		 * event here) and the kernel gave its memory to a new one.
		 * A UDP socket that two processes really share is reported
		 * once per process that way.
		 */
		t->stats.reused++;
		sock_end(t, s, s->last, true);
		if ((s = sock_new(t, ev->u.io.sk, 17, ev->time)) == NULL)
			return;
	}
	s->last = ev->time;
	if (ev->proc_ctx && s->pid == 0)
		set_owner(t, s, ev);
	if (s->proto == 17) {
		on_udp_io(t, s, ev, have_key, &k);
		return;
	}
	if ((f = tcp_flow(t, s, ev->time)) == NULL)
		return;
	flow_count(f, ev);
	dns_client(t, s, f, ev);
}

static void
on_process(struct agg_flows *t, const struct agg_event *ev)
{
	struct msg_process p;

	memset(&p, 0, sizeof(p));
	switch (ev->kind) {
	case AEV_COMM:
		p.kind = PROC_EV_EXEC;
		memcpy(p.comm, ev->u.proc.comm, sizeof(p.comm));
		p.is_exec = ev->u.proc.exec;
		break;
	case AEV_FORK:
		p.kind = PROC_EV_FORK;
		p.ppid = ev->u.proc.ppid;
		break;
	default:
		p.kind = PROC_EV_EXIT;
		p.ppid = ev->u.proc.ppid;
		break;
	}
	p.pid = ev->u.proc.pid;
	p.time_ns = agg_mono_to_wall(ev->time);
	t->proc_cb(&p, t->arg);
}

/*
 * Mark every open socket: some of its samples may be gone (lost by the
 * kernel, or not seen while no probe ran). Its flows are then reported
 * as partial (sockflow.samples_lost) rather than taken for whole.
 */
void
agg_flows_gap(struct agg_flows *t)
{
	struct agg_sock *s;
	size_t i;

	for (i = 0; i < t->nbuckets; i++)
		for (s = t->buckets[i]; s != NULL; s = s->next)
			s->lost = true;
}

static void
on_lost(struct agg_flows *t, const struct agg_event *ev)
{
	t->stats.lost_samples += ev->u.lost.lost;
	agg_flows_gap(t);
}

void
agg_flows_event(struct agg_flows *t, const struct agg_event *ev)
{
	if (ev->time > t->now)
		t->now = ev->time;
	switch (ev->kind) {
	case AEV_SET_STATE:
		on_set_state(t, ev);
		break;
	case AEV_DESTROY:
		on_destroy(t, ev);
		break;
	case AEV_SEND:
	case AEV_RECV:
		on_io(t, ev);
		break;
	case AEV_FIB:
		on_fib(t, ev);
		break;
	case AEV_NETNS:
		if (t->netns != NULL)
			agg_netns_set(t->netns, ev->tid, ev->u.netns.ino);
		break;
	case AEV_EXIT:
		if (t->calls != NULL)
			agg_calls_exit(t->calls, ev->tid);
		if (t->netns != NULL)
			agg_netns_forget(t->netns, ev->tid);
		if (!ev->u.proc.thread)
			on_process(t, ev);
		break;
	case AEV_COMM:
	case AEV_FORK:
		on_process(t, ev);
		break;
	case AEV_LOST:
		on_lost(t, ev);
		break;
	case AEV_CALL:
		/* Made on first use: only the kprobe backend has calls. */
		if (t->calls == NULL && (t->calls = agg_calls_new()) == NULL) {
			t->stats.calls_no_memory++;
			break;
		}
		agg_calls_enter(t->calls, ev);
		break;
	case AEV_PKT:
		if (t->pkts == NULL && (t->pkts = agg_pkts_new()) == NULL) {
			t->stats.calls_no_memory++;
			break;
		}
		agg_pkts_add(t->pkts, ev);
		break;
	case AEV_RET: {
		struct agg_event io;

		/* A return before any entry is unmatched, and counted so. */
		if (t->calls == NULL && (t->calls = agg_calls_new()) == NULL) {
			t->stats.calls_no_memory++;
			break;
		}
		if (agg_calls_return(t->calls, ev, &io))
			on_io(t, &io);
		break;
	}
	}
}

const struct agg_netns *
agg_flows_netns(const struct agg_flows *t)
{
	return t->netns;
}

const struct agg_pkts_stats *
agg_flows_pkts(const struct agg_flows *t)
{
	return t->pkts != NULL ? agg_pkts_stats(t->pkts) : NULL;
}

const struct agg_calls_stats *
agg_flows_calls(const struct agg_flows *t)
{
	return t->calls != NULL ? agg_calls_stats(t->calls) : NULL;
}

/*
 * Notifications that no tcp_destroy_sock sample claimed within CLAIM_WAIT,
 * into an open-addressed table by tuple (slot index + 1; 0 is empty).
 */
static void
collect_unclaimed(struct agg_flows *t, uint64_t now)
{
	const size_t mask = DIAG_SLOTS * 2 - 1;
	size_t i, j;

	if (t->nunclaimed > 0)
		memset(t->unclaimed, 0, sizeof(t->unclaimed));
	t->nunclaimed = 0;
	for (i = 0; i < DIAG_SLOTS; i++) {
		struct diag_slot *sl = &t->diag[i];

		/* The keys first: most slots are empty. */
		if (t->dkey[i] == 0 || sl->arrived + CLAIM_WAIT > now)
			continue;
		if (sl->arrived + CLAIM_MAX <= now) {
			/* Its socket is not one we follow. */
			if (!sl->ended)
				t->stats.diag_unclaimed++;
			diag_setkey(t, sl, 0);
			continue;
		}
		if (sl->ended)
			continue;
		for (j = sl->tuple & mask; t->unclaimed[j] != 0;
		    j = (j + 1) & mask)
			;
		t->unclaimed[j] = (uint32_t)i + 1;
		t->nunclaimed++;
	}
}

/*
 * A TCP socket whose end sample never came but whose sock_diag
 * notification did (the kernel drops samples without a trace under
 * bursts; the aggregator counts that as dropped_samples): the flow ends
 * there, final, with the notification's counters. Returns true when s
 * was ended and removed.
 */
static bool
claim_by_tuple(struct agg_flows *t, struct agg_sock *s, uint64_t now)
{
	const size_t mask = DIAG_SLOTS * 2 - 1;
	struct agg_flow *f = s->flows;
	struct diag_slot *sl = NULL;
	uint64_t h, end;
	size_t j;

	if (!s->have_tuple || f == NULL || !f->have_remote ||
	    s->last + CLAIM_WAIT > now)
		return false;
	h = tuple_hash(s->family, s->lip, s->lport, f->rip, f->rport);
	for (j = h & mask; t->unclaimed[j] != 0; j = (j + 1) & mask) {
		struct diag_slot *c = &t->diag[t->unclaimed[j] - 1];

		if (c->cookie != 0 && !c->ended && c->tuple == h) {
			sl = c;
			break;
		}
	}
	if (sl == NULL)
		return false;
	t->stats.ended_by_diag++;
	end = sl->arrived > s->last ? sl->arrived : s->last;
	s->cookie = sl->cookie;
	diag_take(t, s);
	/* Kept, so that a destroy sample that was only late is dropped. */
	diag_setkey(t, sl, s->cookie);
	sl->ended = true;
	sock_end(t, s, end, true);
	return true;
}

void
agg_flows_sweep(struct agg_flows *t, uint64_t now)
{
	const struct agg_flow_conf *c = &t->conf;
	struct agg_sock *s, *sn;
	struct agg_flow *f, *fn;
	size_t i;

	agg_flows_fin_check(t, now);
	collect_unclaimed(t, now);
	for (i = 0; i < t->nbuckets; i++) {
		for (s = t->buckets[i]; s != NULL; s = sn) {
			sn = s->next;
			if (s->proto == 6 && t->nunclaimed > 0 &&
			    claim_by_tuple(t, s, now))
				continue;
			if (s->proto == 17) {
				/* A silent UDP flow is over. */
				for (f = s->flows; f != NULL; f = fn) {
					fn = f->next;
					if (now - f->last < c->flow_inactive)
						continue;
					emit_flow(t, s, f, f->last, true);
					flow_remove(s, f);
				}
				if (s->flows == NULL &&
				    now - s->last >= c->socket_inactive)
					sock_remove(t, s);
				else
					goto interim;
				continue;
			}
			/*
			 * A TCP socket ends with tcp_destroy_sock; one that
			 * reached TCP_CLOSE and stays silent lost that
			 * sample, and one never seen opening that stays
			 * silent may be long gone. Open ones are kept.
			 */
			/*
			 * After TCP_CLOSE only the destroy sample is missing;
			 * wait flow_termination_timeout for it and any last
			 * read, then end the flow: the connection is over.
			 */
			if (s->state == TCP_CLOSE &&
			    now - s->last >= c->flow_termination) {
				t->stats.evicted++;
				sock_end(t, s, s->last, true);
				continue;
			}
			/* An open connection's packet sums are not stale. */
			if (t->pkts != NULL && s->have_tuple &&
			    s->flows != NULL && s->flows->have_remote)
				agg_pkts_touch(t->pkts, s->family, s->lip,
				    s->lport, s->flows->rip, s->flows->rport,
				    now);
			if (now - s->last >= c->socket_inactive &&
			    !s->saw_start && s->state == 0) {
				t->stats.evicted++;
				sock_end(t, s, s->last, false);
				continue;
			}
 interim:
			for (f = s->flows; f != NULL; f = f->next)
				if (flow_id(s, f) == 0 &&
				    now - f->first >= NOTICE_AGE)
					flow_notice(t, s, f);
			if (c->report_interval == 0)
				continue;
			for (f = s->flows; f != NULL; f = f->next) {
				uint64_t since = f->reported ? f->reported :
				    f->first;

				if (now - since < c->report_interval ||
				    f->last <= f->reported)
					continue;
				emit_flow(t, s, f, now, false);
				t->stats.interim++;
				f->reported = now;
			}
		}
	}
	/*
	 * Packets no flow took within a while are not going to be taken
	 * (open connections' sums were just touched).
	 */
	if (t->pkts != NULL && now > PKTS_MAX_AGE)
		agg_pkts_expire(t->pkts, now - PKTS_MAX_AGE);
}

void
agg_flows_flush(struct agg_flows *t, uint64_t now)
{
	struct agg_sock *s, *n;
	size_t i;

	/* Those that ended are final, counts or not. */
	while (t->nwaiting > 0)
		fin_end(t, t->waiting[0]);
	for (i = 0; i < t->nbuckets; i++)
		for (s = t->buckets[i]; s != NULL; s = n) {
			n = s->next;
			sock_end(t, s, now, false);
		}
}

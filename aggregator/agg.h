/*
 * sockflow-aggregator: unprivileged and seccomp-sandboxed. It decodes the
 * raw perf records the probe forwards, using the kernel's own format
 * descriptions, puts them back into time order across CPUs, keeps the
 * socket table and emits one flow record per connection to the enricher.
 */
#ifndef SOCKFLOW_AGG_H
#define SOCKFLOW_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "tpformat.h"

enum agg_ev_kind {
	AEV_NONE = 0,
	AEV_SET_STATE,		/* sock:inet_sock_set_state */
	AEV_COMM,		/* PERF_RECORD_COMM */
	AEV_FORK,		/* PERF_RECORD_FORK */
	AEV_EXIT,		/* PERF_RECORD_EXIT */
	AEV_LOST,		/* PERF_RECORD_LOST */
	AEV_SEND,		/* sock:sock_send_length */
	AEV_RECV,		/* sock:sock_recv_length */
	AEV_DESTROY,		/* tcp:tcp_destroy_sock */
	AEV_FIB,		/* fib:fib_table_lookup, fib6:fib6_table_lookup */
	AEV_CALL,		/* kprobe: entry of a send or receive */
	AEV_RET,		/* kprobe: its return */
	AEV_PKT,		/* kprobe: a TCP packet at the IP layer */
	AEV_EXEC,		/* sched:sched_process_exec: the file */
	AEV_CREDS,		/* kprobe: new credentials */
	AEV_ARGS,		/* kprobe: an exec's arguments */
	AEV_DNS,		/* a captured DNS packet (agg_dns.c) */
	AEV_NETNS,		/* PERF_RECORD_NAMESPACES: a task's netns */
	AEV_SETID,		/* a set*id() call (enter), or its success */
};


/* Direction of a kprobe call. */
#define CALL_SEND	0
#define CALL_RECV	1

/* One decoded record, as the reorder buffer and the flow table see it. */
struct agg_event {
	uint64_t	time;		/* CLOCK_MONOTONIC ns */
	uint64_t	seq;		/* arrival order, breaks time ties */
	uint8_t		kind;
	bool		proc_ctx;	/* sampled in process context */
	uint16_t	cpu;
	uint32_t	pid;		/* sample pid (tgid), 0 if none */
	uint32_t	tid;
	uint64_t	cgroup;		/* the task's cgroup v2 id, 0 = none */
	union {
		struct {
			uint64_t	sk;
			int32_t		oldstate;
			int32_t		newstate;
			uint16_t	sport;
			uint16_t	dport;
			uint8_t		family;	/* 4 or 6, after unmapping */
			uint8_t		saddr[16];
			uint8_t		daddr[16];
			uint64_t	cookie;	/* AEV_DESTROY only */
		} st;		/* AEV_SET_STATE and AEV_DESTROY */
		struct {
			uint64_t	sk;
			uint32_t	bytes;
			uint8_t		proto;	/* 6 or 17 */
			uint8_t		family;	/* 4 or 6 (a v6 socket
						   may carry v4 traffic) */
		} io;		/* AEV_SEND and AEV_RECV */
		struct {
			uint64_t	sk;
			uint8_t		proto;	/* 6 or 17 */
			uint8_t		family;	/* 4 or 6 */
			uint8_t		dir;	/* CALL_SEND, CALL_RECV */
			bool		peek;	/* MSG_PEEK */
		} call;		/* AEV_CALL */
		struct {
			int64_t		ret;
			uint8_t		dir;
		} ret;		/* AEV_RET */
		struct {
			uint32_t	len;	/* IP-level bytes */
			uint16_t	sport;	/* host order */
			uint16_t	dport;
			uint8_t		family;	/* 4 or 6 */
			uint8_t		out;	/* sent, not delivered */
			uint8_t		src[16];
			uint8_t		dst[16];
		} pkt;		/* AEV_PKT */
		struct {
			uint32_t	pid;
			uint32_t	slot;	/* agg_decoder_exec_path() */
			uint64_t	seq;
			uint32_t	argc;	/* AEV_ARGS, and AEV_EXEC with
						   args */
			bool		args;	/* AEV_EXEC: and its arguments,
						   in aslot */
			uint32_t	aslot;
			uint64_t	aseq;
		} exec;		/* AEV_EXEC and AEV_ARGS */
		struct {
			uint32_t	uid, gid, euid, egid;
		} creds;	/* AEV_CREDS */
		struct {
			uint32_t	slot;
			uint64_t	seq;
		} dns;		/* AEV_DNS */
		struct {
			uint32_t	ino;
		} netns;	/* AEV_NETNS (ev->pid, ev->tid) */
		struct {
			uint8_t		call;	/* SETID_* (msg.h); 0: the
						   call succeeded */
			uint32_t	a, b;	/* (uid_t)-1: left as is */
		} setid;	/* AEV_SETID */
		struct {
			int32_t		err;
			uint16_t	sport;
			uint16_t	dport;
			uint8_t		family;	/* 4 or 6 */
			uint8_t		src[16];
			uint8_t		dst[16];
		} fib;
		struct {
			uint32_t	pid;
			uint32_t	ppid;
			bool		exec;
			bool		thread;	/* AEV_EXIT of a thread */
			char		comm[MSG_COMM_LEN + 1];
		} proc;
		struct {
			uint64_t	lost;
		} lost;
	} u;
};

/* agg_dns.c: captured DNS packets and the processes of their clients. */
struct agg_dns;
struct agg_dns_stats {
	uint64_t	packets;
	uint64_t	unparsed;	/* bad IP or transport header */
	uint64_t	tcp_empty;	/* TCP segments without data */
	uint64_t	tcp_split;	/* a TCP message over several segments */
	uint64_t	cut;		/* nothing left after the capture's cut */
	uint64_t	not_client;	/* both ports 53, or neither */
	uint64_t	overrun;	/* overwritten before release */
	uint64_t	no_memory;
	uint64_t	forwarded;
	uint64_t	attributed;	/* forwarded with the client's pid */
	uint64_t	unattributed;	/* answers of no known client */
	uint64_t	pending_full;
	uint64_t	clients;	/* client endpoints learnt */
};
typedef void (*agg_dns_cb)(const struct msg_dns *, void *);
struct agg_dns	*agg_dns_new(agg_dns_cb, void *);
void		 agg_dns_free(struct agg_dns *);
/* Keep a packet and fill ev with its AEV_DNS event; 0: nothing to keep. */
int		 agg_dns_packet(struct agg_dns *, const struct msg_packet *,
		    struct agg_event *ev);
void		 agg_dns_release(struct agg_dns *, const struct agg_event *);
/* A process sent to or received from a DNS server (rport 53). */
void		 agg_dns_client(struct agg_dns *, uint8_t transport,
		    uint8_t family, uint16_t lport, const uint8_t *rip,
		    uint16_t rport, uint32_t pid, uint64_t time);
void		 agg_dns_expire(struct agg_dns *, uint64_t now);
const struct agg_dns_stats *agg_dns_stats(const struct agg_dns *);

/* agg_netns.c: each task's network namespace, by tid. */
struct agg_netns;
struct agg_netns *agg_netns_new(void);
void		 agg_netns_free(struct agg_netns *);
void		 agg_netns_set(struct agg_netns *, uint32_t tid, uint32_t ino);
uint32_t	 agg_netns_get(const struct agg_netns *, uint32_t tid);
void		 agg_netns_forget(struct agg_netns *, uint32_t tid);
size_t		 agg_netns_count(const struct agg_netns *);
uint64_t	 agg_netns_full(const struct agg_netns *);

/* agg_decode.c: formats from the probe and raw record decoding. */
struct agg_decoder;
struct agg_decode_stats {
	uint64_t	records;
	uint64_t	samples;
	uint64_t	bad_records;	/* malformed or unknown layout */
	uint64_t	unknown_event;	/* sample of an id not announced */
	uint64_t	ignored;	/* record types sockflow does not use */
	uint64_t	packets_unparsed;	/* IP options, not TCP */
	uint64_t	exec_paths_lost;	/* overwritten before use */
	uint64_t	cgroup_paths_long;	/* past MSG_CGROUP_PATH_LEN */
	uint64_t	exec_args_cut;	/* arguments past the stack taken */
};
struct agg_decoder *agg_decoder_new(const struct msg_formats *, char *err,
		    size_t errsz);
void		 agg_decoder_free(struct agg_decoder *);
/*
 * The file an AEV_EXEC event executed: kept by the decoder (events stay
 * small) until the event leaves the reorder; NULL when a burst of execs
 * overwrote it first (counted).
 */
const char	*agg_decoder_exec_path(struct agg_decoder *, uint32_t slot,
		    uint64_t seq);
/* The same for an AEV_ARGS event's argument block, *len bytes. */
const uint8_t	*agg_decoder_exec_args(struct agg_decoder *, uint32_t slot,
		    uint64_t seq, size_t *len);
/* Decode one perf record; 1 = event filled, 0 = nothing to do, -1 bad. */
/* New cgroups (PERF_RECORD_CGROUP) go straight to cb. */
typedef void (*agg_cgroup_cb)(const struct msg_cgroup *, void *);
void		 agg_decoder_set_cgroup_cb(struct agg_decoder *, agg_cgroup_cb,
		    void *);
int		 agg_decode_record(struct agg_decoder *, const uint8_t *rec,
		    size_t len, struct agg_event *ev);
const struct agg_decode_stats *agg_decoder_stats(const struct agg_decoder *);

/* agg_diag.c: sock_diag destroy notifications. */
struct agg_diag {
	uint64_t	cookie;
	uint8_t		family;		/* 4 or 6 */
	uint8_t		proto;		/* 6 or 17; 0 when not given */
	uint8_t		state;
	uint16_t	sport, dport;
	uint8_t		src[16], dst[16];
	bool		have_info;	/* TCP: tcp_info with segment counts */
	bool		timestamps;	/* TCP timestamps option in use */
	uint32_t	segs_in, segs_out;
	uint64_t	bytes_retrans;	/* payload sent again */
	uint64_t	bytes_received;	/* payload received, + 1 for a FIN */
};
typedef void (*agg_diag_cb)(const struct agg_diag *, void *);
/* Parse one netlink datagram; malformed messages are counted in *bad. */
size_t		 agg_diag_parse(const uint8_t *, size_t, agg_diag_cb, void *,
		    uint64_t *bad);

/* agg_calls.c: kprobe entries and returns paired by thread. */
struct agg_calls;
struct agg_calls_stats {
	uint64_t	entries;
	uint64_t	returns;
	uint64_t	paired;		/* sends and receives made of them */
	uint64_t	unmatched;	/* a return without its entry */
	uint64_t	mismatched;	/* entry and return of different calls */
	uint64_t	table_full;	/* entries not kept */
	uint64_t	too_deep;
	uint64_t	abandoned;	/* entries of threads that exited */
	uint64_t	returns_lost;	/* entries whose return never came */
};
struct agg_calls *agg_calls_new(void);
void		 agg_calls_free(struct agg_calls *);
void		 agg_calls_enter(struct agg_calls *, const struct agg_event *);
/* 1 and *out a send or receive when the return completes one. */
int		 agg_calls_return(struct agg_calls *, const struct agg_event *,
		    struct agg_event *out);
void		 agg_calls_exit(struct agg_calls *, uint32_t tid);
const struct agg_calls_stats *agg_calls_stats(const struct agg_calls *);

/* agg_pkts.c: TCP packets at the IP layer, by tuple (kprobe backend). */
struct agg_pkts;
struct agg_pkt_counts {
	uint64_t	out_packets, out_bytes;
	uint64_t	in_packets, in_bytes;
};
struct agg_pkts_stats {
	uint64_t	packets;
	uint64_t	taken;		/* entries a flow took */
	uint64_t	stale;		/* entries of an earlier connection */
	uint64_t	expired;	/* entries no flow took */
	uint64_t	expired_packets;
	uint64_t	table_full;	/* packets not counted */
};
struct agg_pkts *agg_pkts_new(void);
void		 agg_pkts_free(struct agg_pkts *);
void		 agg_pkts_add(struct agg_pkts *, const struct agg_event *);
/* 1 and *out when the tuple has packets since the given time. */
int		 agg_pkts_take(struct agg_pkts *, uint8_t family,
		    const uint8_t *lip, uint16_t lport, const uint8_t *rip,
		    uint16_t rport, uint64_t since, struct agg_pkt_counts *);
/* An open connection's sums are kept: its entry counts as used now. */
void		 agg_pkts_touch(struct agg_pkts *, uint8_t family,
		    const uint8_t *lip, uint16_t lport, const uint8_t *rip,
		    uint16_t rport, uint64_t now);
void		 agg_pkts_expire(struct agg_pkts *, uint64_t before);
const struct agg_pkts_stats *agg_pkts_stats(const struct agg_pkts *);

/* agg_reorder.c: bounded per-CPU queues merged by (time, seq). */
struct agg_reorder;
typedef void (*agg_event_cb)(const struct agg_event *, void *);
struct agg_reorder *agg_reorder_new(size_t cap, agg_event_cb, void *);
void		 agg_reorder_free(struct agg_reorder *);
void		 agg_reorder_push(struct agg_reorder *, const struct agg_event *);
/*
 * Decoding in place: a free slot to fill (room is made if need be), then
 * commit to queue what was filled. A slot not committed stays free.
 */
struct agg_event *agg_reorder_slot(struct agg_reorder *);
void		 agg_reorder_commit(struct agg_reorder *);
/* Release, in order, every event with time <= upto. */
void		 agg_reorder_release(struct agg_reorder *, uint64_t upto);
size_t		 agg_reorder_len(const struct agg_reorder *);
/* Every event waiting, in no particular order. */
void		 agg_reorder_foreach(const struct agg_reorder *,
		    void (*)(const struct agg_event *, void *), void *);
uint64_t	 agg_reorder_late(const struct agg_reorder *);
uint64_t	 agg_reorder_forced(const struct agg_reorder *);

/* agg_flow.c: the socket table. */
struct agg_flows;
typedef void (*agg_flow_cb)(const struct msg_flow *, void *);
typedef void (*agg_proc_cb)(const struct msg_process *, void *);
struct agg_flow_stats {
	uint64_t	flows;
	uint64_t	socks;
	uint64_t	table_full;	/* sockets not followed */
	uint64_t	flow_table_full;	/* remotes of a socket not followed */
	uint64_t	lost_samples;
	uint64_t	reused;		/* address reused before its end */
	uint64_t	evicted;	/* silent sockets given up */
	uint64_t	interim;	/* interim reports */
	uint64_t	fib_collisions;
	uint64_t	diag_received;	/* destroy notifications with tcp_info */
	uint64_t	diag_matched;	/* TCP flows given exact segments */
	uint64_t	diag_missing;	/* TCP flows ended without them */
	uint64_t	diag_evicted;	/* replaced before their flow ended */
	uint64_t	diag_unclaimed;	/* of sockets never followed */
	uint64_t	ended_by_diag;	/* TCP flows ended by tuple, not sample */
	uint64_t	destroy_late;	/* end samples after such an end */
	uint64_t	existing;	/* connections open at start */
	uint64_t	existing_full;	/* ... not followed */
	uint64_t	existing_seen;	/* ... whose start the samples had */
	uint64_t	gap_flows;	/* partial: an aggregator died before */
	uint64_t	notices;	/* open flows announced (once each) */
	uint64_t	fin_waited;	/* ends that waited for tcp_info */
	uint64_t	destroy_unconnected; /* ends of sockets never seen */
	uint64_t	calls_no_memory;	/* kprobe calls not paired */
	uint64_t	pkts_mismatch;	/* packets beyond tcp_info's count */
};
/* Timeouts, in ns. */
struct agg_flow_conf {
	uint64_t	flow_inactive;	/* a silent UDP flow ends */
	uint64_t	flow_termination;	/* TCP_CLOSE without destroy */
	uint64_t	socket_inactive;	/* a silent socket is forgotten */
	uint64_t	report_interval;	/* interim reports; 0 = none */
};
void		 agg_flow_conf_default(struct agg_flow_conf *);
/* The kprobe backend's call pairing, NULL before its first call. */
struct agg_calls_stats;
const struct agg_calls_stats *agg_flows_calls(const struct agg_flows *);
/* The kprobe backend's packet accounting, NULL before its first packet. */
struct agg_pkts_stats;
const struct agg_pkts_stats *agg_flows_pkts(const struct agg_flows *);
struct agg_flows *agg_flows_new(size_t cap, const struct agg_flow_conf *,
		    agg_flow_cb, agg_proc_cb, void *);
/* Timeouts and interim reports, as of now (CLOCK_MONOTONIC ns). */
void		 agg_flows_sweep(struct agg_flows *, uint64_t now);
size_t		 agg_flows_count(const struct agg_flows *);
/* A sock_diag destroy notification, as it arrives. */
void		 agg_flows_diag(struct agg_flows *, const struct agg_diag *);
/* The monotonic time at which the next notifications were read. */
void		 agg_flows_diag_time(struct agg_flows *, uint64_t);
/*
 * A socket of the start-up dump; pass 0 learns the listening ports, pass 1
 * reports each open connection once.
 */
void		 agg_flows_existing(struct agg_flows *, const struct agg_diag *,
		    int pass, uint64_t now);
void		 agg_flows_free(struct agg_flows *);
const struct agg_netns *agg_flows_netns(const struct agg_flows *);
/* Processes' network namespaces at start, from the probe. */
void		 agg_flows_netns_initial(struct agg_flows *,
		    const struct msg_netns *);
/* Tell d of every process that talks to a DNS server. */
void		 agg_flows_set_dns(struct agg_flows *, struct agg_dns *d);
void		 agg_flows_event(struct agg_flows *, const struct agg_event *);
/* Report every open socket as an interim (non-final) flow and forget it. */
void		 agg_flows_flush(struct agg_flows *, uint64_t now);
void		 agg_flows_gap(struct agg_flows *);
/* Destroy notifications come (the probe handed its socket over). */
void		 agg_flows_diag_live(struct agg_flows *);
/* Report the ended connections whose notification came, or is late. */
void		 agg_flows_fin_check(struct agg_flows *, uint64_t now);
/* Announce every open flow announced before again (a new enricher). */
void		 agg_flows_renotice(struct agg_flows *);
/* An aggregator before this one died at gap (probe's clock, ns). */
void		 agg_flows_resumed(struct agg_flows *, uint64_t gap);
/*
 * Around the records of a start-up dump (agg_flows_existing); the events
 * still waiting in pending count as seen.
 */
void		 agg_flows_dump_begin(struct agg_flows *,
		    const struct agg_reorder *pending);
void		 agg_flows_dump_end(struct agg_flows *);
const struct agg_flow_stats *agg_flows_stats(const struct agg_flows *);
/* agg_clock.c: CLOCK_MONOTONIC ns to wall-clock ns since the epoch. */
void		 agg_clock_init(int64_t max_drift_ns);
/* Take a new clock pair; 1 when it moved the offset beyond max drift. */
int		 agg_clock_pair(int64_t mono, int64_t real);
int		 agg_clock_sync(void);
int64_t		 agg_mono_to_wall(uint64_t mono);
uint64_t	 agg_clock_steps(void);

/* agg_sandbox.c */
void		 agg_sandbox_enter(const char *user);
/* The seccomp policy, not loaded (tests/sandbox exports it). */
#include <seccomp.h>
scmp_filter_ctx	 agg_sandbox_policy(void);

#endif

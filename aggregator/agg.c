/*
 * sockflow-aggregator main: options, start-up order, the probe connection
 * with its state machine (hello, then formats, then samples), the
 * reordering timer and the enricher connection.
 *
 * The probe is the more privileged peer: a malformed or out-of-order frame
 * from it is a broken invariant and ends this process (the launcher or
 * systemd decides what happens next). Only uid 0 may connect as the probe.
 *
 * The enricher is the peer below: when it goes away, the aggregator keeps
 * its tables and connects to the next one (enr_gone, enr_connect).
 */
#include "config.h"

#include <sys/socket.h>

#include <linux/netlink.h>
#include <linux/perf_event.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "agg.h"
#include "frame.h"
#include "log.h"
#include "xmalloc.h"
#include "msg.h"
#include "privdrop.h"
#include "sfconfig.h"
#include "sock.h"
#include "units.h"

#define SOCK_TABLE_CAP		(256 * 1024)
/*
 * The probe's drain marks release events; this timer only ends the wait
 * for a CPU that fell silent (REORDER_HORIZON_NS), so it need not be
 * frequent, and every wake-up of an idle agent costs.
 */
#define RELEASE_INTERVAL_MS	500
/*
 * Events are released in time order once every CPU's ring is drained past
 * them (the probe says so with each drain). Should a CPU fall silent, its
 * stragglers are not waited for longer than this.
 */
#define REORDER_HORIZON_NS	(2000ULL * 1000 * 1000)
/* Counters go to the enricher this often, whatever it does with them. */
#define STATS_INTERVAL_NS	(10LL * 1000000000)
#define STOP_TIMEOUT_S		5
/* Beyond this much unsent output, new flow records are dropped. */
#define OUTPUT_CAP		(64 * 1024 * 1024)
#define OUT_DELAY_MS		20
#define OUT_BATCH		(256 * 1024)
/* Connecting to the enricher again after it went away, this often. */
#define ENR_RETRY_MS		200

enum conn_state {
	CONN_HELLO,		/* expects FRAME_HELLO */
	CONN_FORMATS,		/* expects FRAME_FORMATS */
	CONN_RUN,		/* samples, lost counts, stats */
};

struct agg {
	struct event_base	*base;
	struct event		*accept_ev;
	struct event		*release_ev, *stats_ev, *stop_ev, *sweep_ev;
	struct event		*clock_ev;
	/*
	 * Frames for the enricher wait here up to OUT_DELAY_MS, so that it
	 * is woken (and writes) once for many flows, not for every read.
	 */
	struct evbuffer		*pend;
	struct event		*pend_ev;
	struct event		*sigterm_ev, *sigint_ev;
	struct bufferevent	*probe;		/* NULL when none */
	int64_t			 clock_off;	/* probe's clock - ours */
	int			 follow_probe_clock;	/* -T */
	int			 probe_left;	/* a probe went away */
	enum conn_state		 state;
	struct agg_decoder	*dec;
	struct agg_reorder	*reorder;
	struct agg_flows	*flows;
	struct agg_dns		*dns;
	uint64_t		 dns_drops;	/* the probe's capture's */
	struct bufferevent	*enr;		/* NULL while reconnecting */
	const char		*enr_path;
	/*
	 * The same socket reached through a descriptor of its directory,
	 * opened before the privilege drop: the unprivileged process may
	 * not be allowed to search the directories above it.
	 */
	char			 enr_again[64];
	struct event		*enr_retry_ev;
	/*
	 * Frames kept across a lost enricher connection, for the next one:
	 * what its output held from the first batch the dead one had not
	 * begin to read.
	 */
	struct evbuffer		*carry;
	/*
	 * The batches handed to the enricher's connection (its hello in
	 * front), and whether one was ever made.
	 */
	struct units		 units;
	int			 enr_once;
	uint64_t		 enr_reconnects;
	int			 enr_warned;	/* a failed connect logged */
	uint64_t		 enr_lost_bytes;	/* a batch cut by its death */
	struct msg_hello	 hello;		/* the first frame of each */
	int			 stopping;
	uint64_t		 probe_lost;
	uint64_t		*lost_cpu;	/* per CPU, from the probe */
	size_t			 nlost_cpu;
	/*
	 * Silent drops: samples the kernel counted but neither wrote nor
	 * counted lost. received[] counts sample records per CPU; counted[]
	 * is the probe's latest count (for the stats), dropped_cpu[] what
	 * check_dropped found.
	 */
	uint64_t		 received[MSG_MAX_CPUS];
	uint64_t		*counted;
	uint64_t		*dropped_cpu;
	size_t			 ncounted;
	uint64_t		 dropped;
	int			 drop_rebase;	/* the next count is the base */
	/* Per CPU, what a resumed probe counted for earlier aggregators. */
	uint64_t		 drop_base[MSG_MAX_CPUS];
	uint64_t		 probe_resumed;	/* probes that served another */
	int			 finishing;	/* the last stats are sent */
	uint64_t		 refused_peers;
	uint64_t		 setid_unpaired;	/* results of no call seen */
	uint64_t		 out_dropped;
	uint64_t		 diag_bad;
	int			 dump_pass;
	uint64_t		*drained;	/* per CPU id, 0 = not yet */
	uint32_t		*drained_cpus;	/* the ids that said so */
	uint32_t		 ncpus;		/* as the probe announced */
	uint32_t		 ndrained;	/* how many said so */
	uint64_t		 ordered;	/* released up to here */
	uint8_t			 dump_proto;
	uint64_t		 diag_overruns;
	int			 diag_fd;	/* the probe's, -1 until given */
	uint64_t		 diag_msgs;
	struct msg_stats	 probe_stats;
};

static void	usage(void) __attribute__((__noreturn__));
static void	finish(struct agg *) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: sockflow-aggregator [-dv] -e enricher_socket "
	    "[-f config] [-l socket] [-o key=value] [-T] [-u user]\n");
	exit(2);
}

static uint64_t
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Now on the clock of the probe's samples: this machine's
 * CLOCK_MONOTONIC. With -T (a stream recorded earlier and replayed,
 * tests/replay) the timers follow the clock the probe's hello gave
 * instead, so that they run on the recorded time rather than minutes
 * ahead of it. Never guessed from the offset: a live probe's hello may
 * wait seconds in the listening socket's backlog.
 */
static void
stream_clock_set(struct agg *a, uint64_t probe_now)
{
	a->clock_off = 0;
	if (a->follow_probe_clock && probe_now != 0) {
		a->clock_off = (int64_t)(probe_now - now_mono());
		log_info("timers follow the probe's clock (%+.3f s from "
		    "this one's)", (double)a->clock_off / 1e9);
	}
}

static uint64_t
stream_now(const struct agg *a)
{
	return now_mono() + (uint64_t)a->clock_off;
}

/*
 * Hand what waits over to the enricher's connection, remembering where
 * the batch starts so that a connection lost mid-batch can be resumed at
 * a frame boundary.
 */
static void
flush_pend(struct agg *a)
{
	size_t n = evbuffer_get_length(a->pend);

	if (n == 0 || a->enr == NULL)
		return;
	units_settle(&a->units,
	    evbuffer_get_length(bufferevent_get_output(a->enr)));
	units_push(&a->units, n, 0);
	if (evbuffer_add_buffer(bufferevent_get_output(a->enr), a->pend) == -1)
		fatalx("cannot queue for the enricher");
	if (evtimer_pending(a->pend_ev, NULL))
		evtimer_del(a->pend_ev);
}

/* Bytes waiting for the enricher, wherever they wait. */
static size_t
out_waiting(const struct agg *a)
{
	return (a->enr != NULL ?
	    evbuffer_get_length(bufferevent_get_output(a->enr)) : 0) +
	    evbuffer_get_length(a->carry) + evbuffer_get_length(a->pend);
}

static void
pend_cb(evutil_socket_t fd, short what, void *arg)
{
	flush_pend(arg);
}

static void
send_enr(struct agg *a, uint8_t *frame, size_t len, const char *what)
{
	struct timeval tv = { 0, OUT_DELAY_MS * 1000 };

	if (frame == NULL)
		fatalx("cannot encode %s", what);
	/* Past the cap only the clean-stop stats, a small frame, still go. */
	if (out_waiting(a) > OUTPUT_CAP && !a->finishing) {
		a->out_dropped++;
		free(frame);
		return;
	}
	if (evbuffer_add(a->pend, frame, len) == -1)
		fatalx("cannot queue %s", what);
	free(frame);
	if (evbuffer_get_length(a->pend) >= OUT_BATCH)
		flush_pend(a);
	else if (!evtimer_pending(a->pend_ev, NULL))
		evtimer_add(a->pend_ev, &tv);
}

static void
on_flow(const struct msg_flow *f, void *arg)
{
	struct agg *a = arg;
	uint8_t *frame;
	size_t len;

	frame = msg_encode_flow(f, &len);
	send_enr(a, frame, len, "flow");
}

static void
on_process(const struct msg_process *p, void *arg)
{
	struct agg *a = arg;
	uint8_t *frame;
	size_t len;

	frame = msg_encode_process(p, &len);
	send_enr(a, frame, len, "process event");
}

static void
on_dns(const struct msg_dns *d, void *arg)
{
	struct agg *a = arg;
	uint8_t *frame;
	size_t len;

	frame = msg_encode_dns(d, &len);
	send_enr(a, frame, len, "DNS message");
}

static void
on_cgroup(const struct msg_cgroup *c, void *arg)
{
	struct agg *a = arg;
	uint8_t *frame;
	size_t len;

	frame = msg_encode_cgroup(c, &len);
	send_enr(a, frame, len, "cgroup");
}

static void
on_diag(const struct agg_diag *d, void *arg)
{
	struct agg *a = arg;

	agg_flows_diag(a->flows, d);
}

static void
on_dump(const struct agg_diag *d, void *arg)
{
	struct agg *a = arg;
	struct agg_diag dd = *d;

	/* Dump answers carry no protocol attribute: it is the request's. */
	if (dd.proto == 0)
		dd.proto = a->dump_proto;
	agg_flows_existing(a->flows, &dd, a->dump_pass, stream_now(a));
}

/* An exec's arguments, kept in the decoder's ring, to the enricher. */
static void
args_event(struct agg *a, uint32_t pid, uint64_t time, uint32_t slot,
    uint64_t seq, uint32_t argc)
{
	struct msg_process p;
	const uint8_t *b;
	size_t n;

	if ((b = agg_decoder_exec_args(a->dec, slot, seq, &n)) == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.kind = PROC_EV_ARGS;
	p.pid = pid;
	p.time_ns = agg_mono_to_wall(time);
	p.argc = argc;
	if (n > sizeof(p.args))
		n = sizeof(p.args);
	memcpy(p.args, b, n);
	p.args_len = (uint16_t)n;
	on_process(&p, a);
}

/*
 * set*id() calls (tracepoint backend), paired with their results by
 * thread: a call that succeeded goes to the enricher with its arguments,
 * which say what the process's ids became. A thread's call waits here
 * until its result; a call whose result never came is replaced by the
 * thread's next.
 */
#define SETID_SLOTS	256

static void
setid_event(struct agg *a, const struct agg_event *ev)
{
	static struct {
		uint32_t	 tid;
		uint8_t		 call;
		uint32_t	 a, b;
	} calls[SETID_SLOTS];
	struct msg_process p;
	size_t i = ev->tid % SETID_SLOTS;

	if (ev->u.setid.call != 0) {
		calls[i].tid = ev->tid;
		calls[i].call = ev->u.setid.call;
		calls[i].a = ev->u.setid.a;
		calls[i].b = ev->u.setid.b;
		return;
	}
	if (calls[i].tid != ev->tid || calls[i].call == 0) {
		a->setid_unpaired++;
		return;
	}
	memset(&p, 0, sizeof(p));
	p.kind = PROC_EV_SETID;
	p.pid = ev->pid;
	p.time_ns = agg_mono_to_wall(ev->time);
	p.setid_call = calls[i].call;
	p.uid = p.euid = p.gid = p.egid = SETID_KEEP;
	switch (calls[i].call) {
	case SETID_UID:
		p.uid = p.euid = calls[i].a;
		break;
	case SETID_GID:
		p.gid = p.egid = calls[i].a;
		break;
	case SETID_REUID:
	case SETID_RESUID:
		p.uid = calls[i].a;
		p.euid = calls[i].b;
		break;
	default:
		p.gid = calls[i].a;
		p.egid = calls[i].b;
		break;
	}
	calls[i].tid = 0;
	calls[i].call = 0;
	on_process(&p, a);
}

static void
on_event(const struct agg_event *ev, void *arg)
{
	struct agg *a = arg;
	struct msg_process p;
	const char *path;

	switch (ev->kind) {
	case AEV_EXEC:
		/* The file executed; the process's name comes on its own. */
		if ((path = agg_decoder_exec_path(a->dec, ev->u.exec.slot,
		    ev->u.exec.seq)) == NULL)
			return;
		memset(&p, 0, sizeof(p));
		p.kind = PROC_EV_EXECUTABLE;
		p.pid = ev->u.exec.pid;
		p.time_ns = agg_mono_to_wall(ev->time);
		snprintf(p.executable, sizeof(p.executable), "%s", path);
		on_process(&p, a);
		if (!ev->u.exec.args)
			return;
		/* Its arguments, from the new program's stack. */
		args_event(a, ev->u.exec.pid, ev->time, ev->u.exec.aslot,
		    ev->u.exec.aseq, ev->u.exec.argc);
		return;
	case AEV_ARGS:
		args_event(a, ev->u.exec.pid, ev->time, ev->u.exec.slot,
		    ev->u.exec.seq, ev->u.exec.argc);
		return;
	case AEV_SETID:
		setid_event(a, ev);
		return;
	case AEV_CREDS:
		memset(&p, 0, sizeof(p));
		p.kind = PROC_EV_CREDS;
		p.pid = ev->pid;
		p.time_ns = agg_mono_to_wall(ev->time);
		p.uid = ev->u.creds.uid;
		p.gid = ev->u.creds.gid;
		p.euid = ev->u.creds.euid;
		p.egid = ev->u.creds.egid;
		on_process(&p, a);
		return;
	case AEV_DNS:
		agg_dns_release(a->dns, ev);
		return;
	}
	agg_flows_event(a->flows, ev);
}

static void
send_stats(struct agg *a)
{
	struct msg_counter c[MSG_MAX_COUNTERS];
	struct msg_stats s = { .last = false };
	const struct agg_flow_stats *fs = agg_flows_stats(a->flows);
	const struct agg_decode_stats *ds = a->dec ? agg_decoder_stats(a->dec)
	    : NULL;
	uint8_t *frame;
	size_t n = 0, i, len;

#define COUNTER(nm, v)	msg_counter_add(c, &n, MSG_MAX_COUNTERS, (nm), (v))
	memset(&s, 0, sizeof(s));
	snprintf(s.component, sizeof(s.component), "aggregator");
	COUNTER("flows", fs->flows);
	COUNTER("sockets", fs->socks);
	COUNTER("socket_table_full", fs->table_full);
	COUNTER("flow_table_full", fs->flow_table_full);
	COUNTER("sockets_open", agg_flows_count(a->flows));
	COUNTER("sockets_reused", fs->reused);
	COUNTER("sockets_evicted", fs->evicted);
	COUNTER("interim_reports", fs->interim);
	COUNTER("fib_collisions", fs->fib_collisions);
	COUNTER("diag_received", fs->diag_received);
	COUNTER("diag_matched", fs->diag_matched);
	COUNTER("diag_missing", fs->diag_missing);
	COUNTER("diag_evicted", fs->diag_evicted);
	COUNTER("diag_unclaimed", fs->diag_unclaimed);
	COUNTER("ended_by_sock_diag", fs->ended_by_diag);
	COUNTER("destroy_after_diag_end", fs->destroy_late);
	COUNTER("diag_malformed", a->diag_bad);
	COUNTER("existing_connections", fs->existing);
	COUNTER("existing_table_full", fs->existing_full);
	COUNTER("existing_seen_start", fs->existing_seen);
	COUNTER("gap_flows", fs->gap_flows);
	COUNTER("diag_waited", fs->fin_waited);
	COUNTER("flow_notices", fs->notices);
	COUNTER("probe_resumed", a->probe_resumed);
	COUNTER("destroy_unconnected", fs->destroy_unconnected);
	COUNTER("diag_overruns", a->diag_overruns);
	COUNTER("diag_messages", a->diag_msgs);
	if (agg_flows_calls(a->flows) != NULL) {
		/* The kprobe backend's entries and returns. */
		const struct agg_calls_stats *cs = agg_flows_calls(a->flows);

		COUNTER("kprobe_calls_paired", cs->paired);
		COUNTER("kprobe_returns_unmatched", cs->unmatched);
		COUNTER("kprobe_calls_mismatched", cs->mismatched);
		COUNTER("kprobe_calls_table_full", cs->table_full);
		COUNTER("kprobe_calls_too_deep", cs->too_deep);
		COUNTER("kprobe_calls_abandoned", cs->abandoned);
		COUNTER("kprobe_returns_lost", cs->returns_lost);
		COUNTER("kprobe_calls_no_memory", fs->calls_no_memory);
	}
	if (agg_flows_pkts(a->flows) != NULL) {
		/* The kprobe backend's packets at the IP layer. */
		const struct agg_pkts_stats *ps = agg_flows_pkts(a->flows);

		COUNTER("ip_packets", ps->packets);
		COUNTER("ip_packet_tuples_taken", ps->taken);
		COUNTER("ip_packet_tuples_stale", ps->stale);
		COUNTER("ip_packet_tuples_expired", ps->expired);
		COUNTER("ip_packets_expired", ps->expired_packets);
		COUNTER("ip_packets_table_full", ps->table_full);
		COUNTER("ip_packets_beyond_tcp_info", fs->pkts_mismatch);
		if (ds != NULL)
			COUNTER("ip_packets_unparsed", ds->packets_unparsed);
	}
	if (ds != NULL) {
		COUNTER("exec_paths_lost", ds->exec_paths_lost);
		COUNTER("cgroup_paths_too_long", ds->cgroup_paths_long);
		COUNTER("exec_args_cut", ds->exec_args_cut);
	}
	COUNTER("tasks_netns", agg_netns_count(agg_flows_netns(a->flows)));
	COUNTER("tasks_netns_table_full",
	    agg_netns_full(agg_flows_netns(a->flows)));
	{
		const struct agg_dns_stats *ns = agg_dns_stats(a->dns);

		COUNTER("dns_packets", ns->packets);
		COUNTER("dns_capture_drops", a->dns_drops);
		COUNTER("dns_unparsed", ns->unparsed);
		COUNTER("dns_tcp_empty", ns->tcp_empty);
		COUNTER("dns_tcp_split", ns->tcp_split);
		COUNTER("dns_cut", ns->cut);
		COUNTER("dns_not_client", ns->not_client);
		COUNTER("dns_overrun", ns->overrun);
		COUNTER("dns_no_memory", ns->no_memory);
		COUNTER("dns_forwarded", ns->forwarded);
		COUNTER("dns_attributed", ns->attributed);
		COUNTER("dns_unattributed", ns->unattributed);
		COUNTER("dns_pending_full", ns->pending_full);
		COUNTER("dns_clients", ns->clients);
	}
	COUNTER("lost_records_seen", fs->lost_samples);
	COUNTER("lost_samples", a->probe_lost);
	COUNTER("dropped_samples", a->dropped);
	{
		uint64_t kc = 0, kr = 0;

		/* This probe's counts since this aggregator's first. */
		for (i = 0; a->counted != NULL && i < a->ncounted; i++) {
			kc += a->counted[i] - (i < MSG_MAX_CPUS ?
			    a->drop_base[i] : 0);
			kr += i < MSG_MAX_CPUS ? a->received[i] : 0;
		}
		COUNTER("kernel_counted", kc);
		COUNTER("samples_received", kr);
	}
	COUNTER("reorder_late", agg_reorder_late(a->reorder));
	COUNTER("clock_steps", agg_clock_steps());
	COUNTER("reorder_forced", agg_reorder_forced(a->reorder));
	COUNTER("refused_peers", a->refused_peers);
	COUNTER("setid_unpaired", a->setid_unpaired);
	/* A start after a crash: flows in flight then were not seen end. */
	COUNTER("restarts", sf_restarts());
	COUNTER("output_dropped", a->out_dropped);
	COUNTER("enricher_reconnects", a->enr_reconnects);
	COUNTER("enricher_lost_bytes", a->enr_lost_bytes);
	if (ds != NULL) {
		COUNTER("records", ds->records);
		COUNTER("bad_records", ds->bad_records);
		COUNTER("unknown_event", ds->unknown_event);
	}
	/* Per-CPU losses, for the CPUs that lost any. */
	for (i = 0; i < a->nlost_cpu && n < MSG_MAX_COUNTERS / 2; i++) {
		char name[MSG_NAME_LEN];

		if (a->lost_cpu[i] == 0)
			continue;
		snprintf(name, sizeof(name), "lost_samples_cpu%zu", i);
		COUNTER(name, a->lost_cpu[i]);
	}
	for (i = 0; a->dropped_cpu != NULL && i < a->ncounted &&
	    n < MSG_MAX_COUNTERS / 2; i++) {
		char name[MSG_NAME_LEN];

		if (a->dropped_cpu[i] == 0)
			continue;
		snprintf(name, sizeof(name), "dropped_samples_cpu%zu", i);
		COUNTER(name, a->dropped_cpu[i]);
	}
	for (i = 0; i < a->probe_stats.n && n < MSG_MAX_COUNTERS; i++) {
		char name[MSG_NAME_LEN];

		snprintf(name, sizeof(name), "probe_%.40s",
		    a->probe_stats.v[i].name);
		COUNTER(name, a->probe_stats.v[i].value);
	}
#undef COUNTER
	s.v = c;
	s.n = n;
	/* At a clean stop, after every flow: none is left in flight. */
	s.last = a->finishing;
	frame = msg_encode_stats(&s, &len);
	send_enr(a, frame, len, "stats");
}

static void	diag_read(struct agg *);

static void
probe_gone(struct agg *a)
{
	/* Everything the probe sent is in; no straggler can come now. */
	diag_read(a);
	agg_reorder_release(a->reorder, UINT64_MAX);
	bufferevent_free(a->probe);
	a->probe = NULL;
	agg_decoder_free(a->dec);
	a->dec = NULL;
	/* Marked when another probe comes, not at a clean stop. */
	a->probe_left = 1;
	if (a->stopping)
		finish(a);
}

static void
finish(struct agg *a)
{
	if (a->probe != NULL)
		agg_reorder_release(a->reorder, UINT64_MAX);
	/* The notifications that came meanwhile, for the ends that wait. */
	diag_read(a);
	agg_flows_fin_check(a->flows, stream_now(a));
	agg_flows_flush(a->flows, stream_now(a));
	a->finishing = 1;
	send_stats(a);
	flush_pend(a);
	if (a->enr != NULL)
		sock_flush_blocking(a->enr);
	log_info("exiting: %llu flow(s) reported, %zu byte(s) unsent",
	    (unsigned long long)agg_flows_stats(a->flows)->flows,
	    out_waiting(a));
	exit(0);
}

/* Release everything up to t, in order, and remember how far. */

static void
release_upto(struct agg *a, uint64_t t)
{
	if (t <= a->ordered)
		return;
	diag_read(a);
	agg_reorder_release(a->reorder, t);
	a->ordered = t;
	agg_flows_fin_check(a->flows, t);
}

/* A CPU's ring was drained up to t: what all CPUs are past is in order. */
/*
 * The sock_diag destroy notifications that have come, many a call: read
 * before samples are released, so that a socket's notification is here
 * when its destroy sample ends the flow. A notification is a few hundred
 * bytes; one longer than its buffer is counted as an overrun, as the
 * kernel's own drops (ENOBUFS) are.
 */
#define DIAG_VLEN	64
#define DIAG_SLOT	8192

static void
diag_read(struct agg *a)
{
	static uint8_t *slots;
	struct mmsghdr mm[DIAG_VLEN];
	struct iovec iov[DIAG_VLEN];
	int i, r;

	if (a->diag_fd == -1)
		return;
	if (slots == NULL && (slots = malloc(DIAG_VLEN * DIAG_SLOT)) == NULL)
		return;
	agg_flows_diag_time(a->flows, stream_now(a));
	for (;;) {
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < DIAG_VLEN; i++) {
			iov[i].iov_base = slots + (size_t)i * DIAG_SLOT;
			iov[i].iov_len = DIAG_SLOT;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		r = recvmmsg(a->diag_fd, mm, DIAG_VLEN, MSG_DONTWAIT, NULL);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* The kernel dropped notifications. */
				a->diag_overruns++;
				continue;
			}
			if (errno != EAGAIN)
				log_warn("sock_diag recvmmsg");
			return;
		}
		for (i = 0; i < r; i++) {
			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
				a->diag_overruns++;
				continue;
			}
			a->diag_msgs++;
			agg_diag_parse(iov[i].iov_base, mm[i].msg_len, on_diag,
			    a, &a->diag_bad);
		}
		if (r < DIAG_VLEN)
			return;
	}
}

static void
drained(struct agg *a, uint32_t cpu, uint64_t t)
{
	uint64_t min = UINT64_MAX;
	uint32_t i;

	if (cpu >= MSG_MAX_CPUS || t == 0)
		return;
	if (a->drained[cpu] == 0)
		a->drained_cpus[a->ndrained++] = cpu;
	if (t > a->drained[cpu])
		a->drained[cpu] = t;
	if (a->ndrained < a->ncpus)
		return;
	for (i = 0; i < a->ndrained; i++)
		if (a->drained[a->drained_cpus[i]] < min)
			min = a->drained[a->drained_cpus[i]];
	if (min != UINT64_MAX)
		release_upto(a, min);
}

static void
release_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agg *a = arg;
	uint64_t now = stream_now(a);

	/* A CPU that stopped reporting is not waited for for ever. */
	if (now > REORDER_HORIZON_NS)
		release_upto(a, now - REORDER_HORIZON_NS);
}

/*
 * The kernel's counts, read by the probe just before the drain whose
 * samples arrived just before this message, against what arrived and
 * what the kernel reported lost: a sample counted then is in that drain
 * unless it was being written at that very moment (a few at most, hence
 * DROP_SLACK), or lost, or dropped without a trace. Drops are counted
 * per CPU, and every open flow is marked.
 */
#define DROP_SLACK	64

static void
check_dropped(struct agg *a, uint64_t *counted, size_t n)
{
	size_t i;
	bool more = false;

	if (a->dropped_cpu == NULL || a->ncounted != n) {
		free(a->dropped_cpu);
		if ((a->dropped_cpu = calloc(n, sizeof(uint64_t))) == NULL) {
			a->ncounted = 0;
			return;
		}
		a->ncounted = n;
	}
	/*
	 * A probe that served an aggregator before counts from its own
	 * start: what is missing at its first count here is taken as the
	 * base (whatever the earlier aggregator received), not as drops.
	 */
	for (i = 0; a->drop_rebase && i < n && i < MSG_MAX_CPUS; i++) {
		uint64_t seen = a->received[i] +
		    (i < a->nlost_cpu ? a->lost_cpu[i] : 0);

		a->drop_base[i] = counted[i] > seen ? counted[i] - seen : 0;
	}
	a->drop_rebase = 0;
	for (i = 0; i < n; i++) {
		uint64_t seen = (i < MSG_MAX_CPUS ? a->received[i] +
		    a->drop_base[i] : 0) +
		    (i < a->nlost_cpu ? a->lost_cpu[i] : 0);

		if (counted[i] > seen + DROP_SLACK &&
		    counted[i] - seen > a->dropped_cpu[i]) {
			a->dropped += counted[i] - seen - a->dropped_cpu[i];
			a->dropped_cpu[i] = counted[i] - seen;
			more = true;
		}
	}
	free(a->counted);
	if ((a->counted = calloc(n, sizeof(uint64_t))) != NULL)
		memcpy(a->counted, counted, n * sizeof(uint64_t));
	if (more) {
		struct agg_event ev;

		log_warnx("the kernel dropped samples without a trace "
		    "(%llu so far)", (unsigned long long)a->dropped);
		memset(&ev, 0, sizeof(ev));
		ev.kind = AEV_LOST;
		agg_flows_event(a->flows, &ev);
	}
}

static void
handle_samples(struct agg *a, const struct msg_samples *s)
{
	size_t off = 0;

	while (off < s->len) {
		uint32_t type;
		uint16_t size;

		/* Framing was validated by the decoder of the message. */
		memcpy(&size, s->records + off + 6, sizeof(size));
		memcpy(&type, s->records + off, sizeof(type));
		if (type == PERF_RECORD_SAMPLE && s->cpu < MSG_MAX_CPUS)
			a->received[s->cpu]++;
		if (agg_decode_record(a->dec, s->records + off, size,
		    agg_reorder_slot(a->reorder)) == 1)
			agg_reorder_commit(a->reorder);
		off += size;
	}
}

static void
handle_frame(struct agg *a, const struct frame *f)
{
	const char *errstr = NULL;
	char err[256];

	switch (a->state) {
	case CONN_HELLO: {
		struct msg_hello h;

		if (f->hdr.type != FRAME_HELLO)
			fatalx("probe: %s frame before hello",
			    frame_type_name(f->hdr.type));
		if (msg_decode_hello(f->payload, f->hdr.len, &h, &errstr) == -1)
			fatalx("probe: bad hello: %s", errstr);
		if (strcmp(h.component, "probe") != 0)
			fatalx("probe: peer says it is %s", h.component);
		log_info("probe %s (pid %u, %s backend) connected",
		    h.software_version, h.pid, h.backend);
		stream_clock_set(a, h.monotonic_ns);
		/* Counts start again with this probe (check_dropped). */
		memset(a->received, 0, sizeof(a->received));
		memset(a->drop_base, 0, sizeof(a->drop_base));
		free(a->dropped_cpu);
		a->dropped_cpu = NULL;
		a->drop_rebase = h.resumed > 0;
		if (h.resumed > 0) {
			/*
			 * The probe lived on after an aggregator before this
			 * one, which died with the flows it held: those are
			 * partial here (agg_flows_resumed).
			 */
			log_info("the probe served %u aggregator(s) before; "
			    "the last went away %llu ms ago", h.resumed,
			    (unsigned long long)(h.monotonic_ns > h.gap_ns ?
			    (h.monotonic_ns - h.gap_ns) / 1000000 : 0));
			agg_flows_resumed(a->flows, h.gap_ns);
			a->probe_resumed++;
		}
		/*
		 * A probe before this one went away: what happened between
		 * the two was not seen, so every flow open now is partial.
		 */
		if (a->probe_left)
			agg_flows_gap(a->flows);
		a->probe_left = 0;
		a->state = CONN_FORMATS;
		break;
	}
	case CONN_FORMATS: {
		struct msg_formats fm;

		if (f->hdr.type != FRAME_FORMATS)
			fatalx("probe: %s frame before formats",
			    frame_type_name(f->hdr.type));
		if (msg_decode_formats(f->payload, f->hdr.len, &fm,
		    &errstr) == -1)
			fatalx("probe: bad formats: %s", errstr);
		a->ncpus = fm.ncpus;
		a->ndrained = 0;
		memset(a->drained, 0, MSG_MAX_CPUS * sizeof(*a->drained));
		a->dec = agg_decoder_new(&fm, err, sizeof(err));
		msg_formats_free(&fm);
		if (a->dec == NULL)
			fatalx("cannot use this kernel's event formats: %s",
			    err);
		agg_decoder_set_cgroup_cb(a->dec, on_cgroup, a);
		a->state = CONN_RUN;
		break;
	}
	case CONN_RUN:
		switch (f->hdr.type) {
		case FRAME_SAMPLES: {
			struct msg_samples s;

			if (msg_decode_samples(f->payload, f->hdr.len, &s,
			    &errstr) == -1)
				fatalx("probe: bad samples: %s", errstr);
			handle_samples(a, &s);
			drained(a, s.cpu, s.drained_until);
			msg_samples_free(&s);
			break;
		}
		case FRAME_LOST: {
			struct msg_lost l;
			uint64_t total = 0;
			size_t i;

			if (msg_decode_lost(f->payload, f->hdr.len, &l,
			    &errstr) == -1)
				fatalx("probe: bad lost counts: %s", errstr);
			for (i = 0; i < l.n; i++)
				total += l.lost[i];
			if (total > a->probe_lost)
				log_warnx("the kernel lost %llu sample(s)",
				    (unsigned long long)(total - a->probe_lost));
			a->probe_lost = total;
			free(a->lost_cpu);
			a->lost_cpu = l.lost;
			a->nlost_cpu = l.n;
			l.lost = NULL;
			if (l.counted != NULL)
				check_dropped(a, l.counted, l.n);
			msg_lost_free(&l);
			break;
		}
		case FRAME_DIAG: {
			struct msg_diag dg;
			size_t i;

			if (msg_decode_diag(f->payload, f->hdr.len, &dg,
			    &errstr) == -1)
				fatalx("probe: bad sock_diag batch: %s", errstr);
			if (dg.dump_protocol != 0) {
				/* Listeners first, then the connections. */
				a->dump_proto = dg.dump_protocol;
				agg_flows_dump_begin(a->flows, a->reorder);
				for (a->dump_pass = 0; a->dump_pass < 2;
				    a->dump_pass++)
					for (i = 0; i < dg.n; i++)
						agg_diag_parse(dg.dgram[i],
						    dg.len[i], on_dump, a,
						    &a->diag_bad);
				agg_flows_dump_end(a->flows);
			} else {
				/*
				 * Notifications come on the socket the probe
				 * handed over (diag_read, which counts its
				 * overruns); any in a batch are still used.
				 */
				for (i = 0; i < dg.n; i++)
					agg_diag_parse(dg.dgram[i], dg.len[i],
					    on_diag, a, &a->diag_bad);
			}
			msg_diag_free(&dg);
			break;
		}
		case FRAME_NETNS: {
			struct msg_netns nn;

			if (msg_decode_netns(f->payload, f->hdr.len, &nn,
			    &errstr) == -1)
				fatalx("probe: bad namespaces: %s", errstr);
			agg_flows_netns_initial(a->flows, &nn);
			msg_netns_free(&nn);
			break;
		}
		case FRAME_PACKETS: {
			struct msg_packets pb;
			size_t i;

			if (msg_decode_packets(f->payload, f->hdr.len, &pb,
			    &errstr) == -1)
				fatalx("probe: bad packet batch: %s", errstr);
			for (i = 0; i < pb.n; i++)
				if (agg_dns_packet(a->dns, &pb.v[i],
				    agg_reorder_slot(a->reorder)) == 1)
					agg_reorder_commit(a->reorder);
			if (pb.drops > a->dns_drops)
				log_warnx("the DNS capture dropped %llu "
				    "packet(s)", (unsigned long long)
				    (pb.drops - a->dns_drops));
			a->dns_drops = pb.drops;
			msg_packets_free(&pb);
			break;
		}
		case FRAME_STATS: {
			struct msg_stats st;

			if (msg_decode_stats(f->payload, f->hdr.len, &st,
			    &errstr) == -1)
				fatalx("probe: bad stats: %s", errstr);
			msg_stats_free(&a->probe_stats);
			a->probe_stats = st;
			break;
		}
		default:
			fatalx("probe: unexpected %s frame",
			    frame_type_name(f->hdr.type));
		}
		break;
	}
}

static void
probe_read_cb(struct bufferevent *bev, void *arg)
{
	struct agg *a = arg;
	struct frame f;
	const char *errstr;
	int rv;

	while ((rv = frame_read(bufferevent_get_input(bev), &f, &errstr)) == 1) {
		handle_frame(a, &f);
		frame_clear(&f);
	}
	if (rv == -1)
		fatalx("probe: %s", errstr);
	/*
	 * All the probe sent is handled: the flows it ended go to the
	 * enricher now, one batch a drain cycle of the probe.
	 */
	if (evbuffer_get_length(bufferevent_get_input(bev)) == 0)
		flush_pend(a);
}

static void
probe_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct agg *a = arg;

	if (what & BEV_EVENT_ERROR)
		log_warn("probe connection");
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (evbuffer_get_length(bufferevent_get_input(bev)) != 0)
			log_warnx("probe closed in the middle of a frame");
		log_info("probe disconnected");
		probe_gone(a);
	}
}

/*
 * The probe's first bytes, the hello's frame header, come with its
 * sock_diag socket (SCM_RIGHTS), which must be read with recvmsg before
 * the stream goes to a bufferevent. The socket is kept only if it is what
 * it should be: a NETLINK_SOCK_DIAG socket.
 */
static int
take_hello_header(struct agg *a, int fd, uint8_t *hdr, size_t *nhdr)
{
	struct pollfd pfd;
	int passed = -1, dom = 0, proto = 0;
	socklen_t l1 = sizeof(dom), l2 = sizeof(proto);
	ssize_t n;

	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 2000) != 1) {
		log_warnx("the probe sent nothing for 2 s");
		return -1;
	}
	if ((n = sock_recv_with_fd(fd, hdr, FRAME_HDR_LEN, &passed)) <= 0) {
		log_warn("the probe's first frame");
		return -1;
	}
	*nhdr = (size_t)n;
	if (passed == -1) {
		log_warnx("the probe sent no sock_diag socket: TCP flows will "
		    "have no packet counts");
		return 0;
	}
	if (getsockopt(passed, SOL_SOCKET, SO_DOMAIN, &dom, &l1) == -1 ||
	    getsockopt(passed, SOL_SOCKET, SO_PROTOCOL, &proto, &l2) == -1 ||
	    dom != AF_NETLINK || proto != NETLINK_SOCK_DIAG) {
		log_warnx("the descriptor the probe sent is not a sock_diag "
		    "socket; not used");
		close(passed);
		return 0;
	}
	if (a->diag_fd != -1)
		close(a->diag_fd);
	a->diag_fd = passed;
	agg_flows_diag_live(a->flows);
	return 0;
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct agg *a = arg;
	uint8_t hdr[FRAME_HDR_LEN];
	size_t nhdr = 0;
	uid_t uid = (uid_t)-1;
	pid_t pid = 0;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("accept");
		return;
	}
	/* Only root may speak for the kernel. */
	if (privdrop_peer_uid(fd, &uid, &pid) == -1 || uid != 0) {
		log_warnx("refusing a connection from uid %ld: the probe "
		    "runs as root", (long)uid);
		a->refused_peers++;
		close(fd);
		return;
	}
	if (a->probe != NULL || a->stopping) {
		log_warnx("refusing a second probe connection (pid %ld)",
		    (long)pid);
		a->refused_peers++;
		close(fd);
		return;
	}
	if (take_hello_header(a, fd, hdr, &nhdr) == -1) {
		a->refused_peers++;
		close(fd);
		return;
	}
	a->probe = bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (a->probe == NULL)
		fatalx("bufferevent_socket_new");
	/*
	 * The header read here is the start of the stream. A bufferevent's
	 * input only takes what the bufferevent reads: its end is frozen.
	 */
	{
		struct evbuffer *in = bufferevent_get_input(a->probe);

		evbuffer_unfreeze(in, 0);
		if (evbuffer_add(in, hdr, nhdr) == -1)
			fatalx("evbuffer_add");
		evbuffer_freeze(in, 0);
	}
	a->state = CONN_HELLO;
	bufferevent_setcb(a->probe, probe_read_cb, NULL, probe_event_cb, a);
	bufferevent_enable(a->probe, EV_READ);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agg *a = arg;
	uint64_t until = a->ordered;

	/* Only what the reorder buffer has released is final enough. */
	if (until != 0) {
		agg_flows_sweep(a->flows, until);
		agg_dns_expire(a->dns, until);
	}
}

static void
clock_cb(evutil_socket_t fd, short what, void *arg)
{
	if (agg_clock_sync())
		log_warnx("wall clock moved against the kernel clock; "
		    "times corrected");
}

static void
stats_cb(evutil_socket_t fd, short what, void *arg)
{
	send_stats(arg);
}

static void
stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("probe did not close in %d s; exiting", STOP_TIMEOUT_S);
	finish(arg);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct agg *a = arg;
	struct timeval tv = { STOP_TIMEOUT_S, 0 };

	if (a->probe == NULL)
		finish(a);
	/* Read what the probe still sends until it closes. */
	a->stopping = 1;
	event_add(a->stop_ev, &tv);
}

static void	enr_connect(struct agg *);

static void
enr_path_again(struct agg *a)
{
	char dir[PATH_MAX];
	const char *base;
	int fd;

	if ((base = strrchr(a->enr_path, '/')) == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = a->enr_path;
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - a->enr_path),
		    a->enr_path);
		if (dir[0] == '\0')
			snprintf(dir, sizeof(dir), "/");
		base++;
	}
	if ((fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("%s", dir);
	if ((size_t)snprintf(a->enr_again, sizeof(a->enr_again),
	    "/proc/self/fd/%d/%s", fd, base) >= sizeof(a->enr_again))
		fatalx("enricher socket name too long: %s", base);
}

/*
 * The enricher went away (killed, or started again by the launcher or
 * systemd). The aggregator keeps its socket and flow tables and connects
 * again; the flows in flight then lose only what the dead enricher held.
 * Of what its connection still had to send, the batch it was in the
 * middle of cannot be resumed at a frame boundary and is dropped
 * (counted, enricher_lost_bytes); the batches after it are kept, with the
 * frames made meanwhile, up to OUTPUT_CAP, for the next connection.
 */
static void
enr_gone(struct agg *a, const char *why)
{
	struct evbuffer *out = bufferevent_get_output(a->enr);
	struct timeval tv = { 0, ENR_RETRY_MS * 1000 };
	size_t skip, lost;

	/*
	 * The rest of the batch it was in is dropped, and counted; the rest
	 * of a hello is no loss. (What the dead enricher had not read from
	 * its socket, up to the socket's buffer, is lost too and cannot be
	 * counted: the kernel freed it with the socket.)
	 */
	skip = units_cut(&a->units, evbuffer_get_length(out), &lost);
	/*
	 * A socket bufferevent freezes the front of its output for its own
	 * writes; this is the end of its use.
	 */
	evbuffer_unfreeze(out, 1);
	if (evbuffer_drain(out, skip) == -1 ||
	    evbuffer_add_buffer(a->carry, out) == -1) {
		lost += evbuffer_get_length(out);
		evbuffer_drain(out, evbuffer_get_length(out));
		units_clear(&a->units);
	}
	a->enr_lost_bytes += lost;
	log_warnx("enricher %s: connecting again, %zu byte(s) kept, %zu "
	    "lost", why, evbuffer_get_length(a->carry), lost);
	bufferevent_free(a->enr);
	a->enr = NULL;
	if (a->stopping)
		finish(a);
	evtimer_add(a->enr_retry_ev, &tv);
}

static void
enr_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_EOF)
		enr_gone(arg, "closed the connection");
	else if (what & BEV_EVENT_ERROR)
		enr_gone(arg, "connection failed");
}

static void
enr_read_cb(struct bufferevent *bev, void *arg)
{
	/* Data never flows up: a peer that sends is not the enricher. */
	enr_gone(arg, "sent data");
}

static void
enr_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	enr_connect(arg);
}

/*
 * Connect to the enricher: first the hello, then what was kept from a
 * lost connection, then what waits. At start a failure is fatal (the
 * launcher and systemd start the enricher's socket first); later it is
 * tried again every ENR_RETRY_MS.
 */
static void
enr_connect(struct agg *a)
{
	struct timeval tv = { 0, ENR_RETRY_MS * 1000 };
	uint8_t *frame;
	size_t len;
	int fd;

	if ((fd = sock_connect_path_try(!a->enr_once ? a->enr_path :
	    a->enr_again)) == -1) {
		if (!a->enr_once)
			fatal("connect %s", a->enr_path);
		if (!a->enr_warned)
			log_warn("connect %s (trying again every %d ms)",
			    a->enr_path, ENR_RETRY_MS);
		a->enr_warned = 1;
		evtimer_add(a->enr_retry_ev, &tv);
		return;
	}
	a->enr_warned = 0;
	if (evutil_make_socket_nonblocking(fd) == -1)
		fatal("nonblocking enricher socket");
	a->enr = bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (a->enr == NULL)
		fatalx("bufferevent_socket_new");
	bufferevent_setcb(a->enr, enr_read_cb, NULL, enr_event_cb, a);
	bufferevent_enable(a->enr, EV_READ | EV_WRITE);
	if (a->enr_once) {
		a->enr_reconnects++;
		log_info("enricher connected again (%llu time(s))",
		    (unsigned long long)a->enr_reconnects);
	}
	if ((frame = msg_encode_hello(&a->hello, &len)) == NULL)
		fatalx("cannot encode hello");
	a->enr_once = 1;
	/* The hello, this connection's own, before the batches carried. */
	units_push(&a->units, len, 1);
	a->units.preamble = 1;
	if (bufferevent_write(a->enr, frame, len) == -1 ||
	    bufferevent_write_buffer(a->enr, a->carry) == -1)
		fatalx("cannot queue for the enricher");
	units_connected(&a->units,
	    evbuffer_get_length(bufferevent_get_output(a->enr)));
	free(frame);
	flush_pend(a);
	/* A new enricher: the open flows it must know of, again. */
	if (a->enr_reconnects > 0)
		agg_flows_renotice(a->flows);
}

int
main(int argc, char *argv[])
{
	struct agg a;
	int follow = 0;
	struct sf_config cfg;
	const char *listen_path = NULL, *enr_path = NULL, *user;
	struct sf_opts so = { .verbose = 1 };
	struct timeval rtv = { 0, RELEASE_INTERVAL_MS * 1000 };
	struct timeval stv;
	struct timeval swtv = { 1, 0 }, ctv;
	struct agg_flow_conf fconf;
	int ch, lfd;

	log_init("sockflow-aggregator", so.verbose);
	while ((ch = getopt(argc, argv, "de:f:l:o:Tu:v")) != -1) {
		if (sf_opts_take(&so, ch, optarg))
			continue;
		switch (ch) {
		case 'e':
			enr_path = optarg;
			break;
		case 'l':
			listen_path = optarg;
			break;
		case 'T':
			follow = 1;
			break;
		default:
			usage();
		}
	}
	if (enr_path == NULL || optind != argc)
		usage();
	sf_opts_finish(&so, &cfg);
	user = so.user;
	malloc_tune();
	signal(SIGPIPE, SIG_IGN);

	/* 1. Resources: the probe's listening socket, the enricher. */
	if ((lfd = sock_listen_fd_from_env()) == -1) {
		if (listen_path == NULL)
			fatalx("no listening socket: give -l or LISTEN_FDS");
		lfd = sock_listen_path(listen_path);
	}
	if (evutil_make_socket_nonblocking(lfd) == -1)
		fatal("nonblocking listener");

	/* 2. Every object of the event loop. */
	memset(&a, 0, sizeof(a));
	a.follow_probe_clock = follow;
	a.diag_fd = -1;
	agg_flow_conf_default(&fconf);
	fconf.flow_inactive = (uint64_t)cfg.flow_inactive_timeout;
	fconf.flow_termination = (uint64_t)cfg.flow_termination_timeout;
	fconf.socket_inactive = (uint64_t)cfg.socket_inactive_timeout;
	fconf.report_interval = (uint64_t)cfg.flow_report_interval;
	if ((a.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((a.drained = calloc(MSG_MAX_CPUS, sizeof(*a.drained))) == NULL ||
	    (a.drained_cpus = calloc(MSG_MAX_CPUS,
	    sizeof(*a.drained_cpus))) == NULL)
		fatalx("out of memory");
	agg_clock_init(cfg.clock_max_drift);
	agg_clock_sync();
	if ((a.reorder = agg_reorder_new((size_t)cfg.perf_queue_size, on_event,
	    &a)) == NULL ||
	    (a.flows = agg_flows_new(SOCK_TABLE_CAP, &fconf, on_flow,
	    on_process, &a)) == NULL ||
	    (a.dns = agg_dns_new(on_dns, &a)) == NULL)
		fatalx("out of memory");
	agg_flows_set_dns(a.flows, a.dns);
	a.enr_path = enr_path;
	enr_path_again(&a);
	if ((a.carry = evbuffer_new()) == NULL ||
	    (a.enr_retry_ev = evtimer_new(a.base, enr_retry_cb, &a)) == NULL)
		fatalx("out of memory");
	a.accept_ev = event_new(a.base, lfd, EV_READ | EV_PERSIST, accept_cb,
	    &a);
	a.release_ev = event_new(a.base, -1, EV_PERSIST, release_cb, &a);
	a.stats_ev = event_new(a.base, -1, EV_PERSIST, stats_cb, &a);
	a.sweep_ev = event_new(a.base, -1, EV_PERSIST, sweep_cb, &a);
	/* Often enough that an interim report is at most a quarter late. */
	if (cfg.flow_report_interval != 0 &&
	    cfg.flow_report_interval / 4 < 1000000000LL) {
		swtv.tv_sec = 0;
		swtv.tv_usec = (suseconds_t)(cfg.flow_report_interval / 4 /
		    1000);
	}
	{
		int64_t iv = cfg.stats_interval != 0 &&
		    cfg.stats_interval < STATS_INTERVAL_NS ?
		    cfg.stats_interval : STATS_INTERVAL_NS;

		stv.tv_sec = (time_t)(iv / 1000000000);
		stv.tv_usec = (suseconds_t)(iv % 1000000000 / 1000);
	}
	a.clock_ev = event_new(a.base, -1, EV_PERSIST, clock_cb, &a);
	ctv.tv_sec = (time_t)(cfg.clock_sync_period / 1000000000);
	ctv.tv_usec = (suseconds_t)(cfg.clock_sync_period % 1000000000 / 1000);
	a.stop_ev = evtimer_new(a.base, stop_timeout_cb, &a);
	if ((a.pend = evbuffer_new()) == NULL ||
	    (a.pend_ev = evtimer_new(a.base, pend_cb, &a)) == NULL)
		fatalx("output buffer");
	a.sigterm_ev = evsignal_new(a.base, SIGTERM, signal_cb, &a);
	a.sigint_ev = evsignal_new(a.base, SIGINT, signal_cb, &a);
	if (a.accept_ev == NULL || event_add(a.accept_ev, NULL) == -1 ||
	    a.release_ev == NULL || event_add(a.release_ev, &rtv) == -1 ||
	    a.stats_ev == NULL || event_add(a.stats_ev, &stv) == -1 ||
	    a.sweep_ev == NULL || event_add(a.sweep_ev, &swtv) == -1 ||
	    a.clock_ev == NULL || event_add(a.clock_ev, &ctv) == -1 ||
	    a.stop_ev == NULL || a.sigterm_ev == NULL ||
	    event_add(a.sigterm_ev, NULL) == -1 || a.sigint_ev == NULL ||
	    event_add(a.sigint_ev, NULL) == -1)
		fatalx("event setup");

	a.hello.protocol_version = FRAME_VERSION;
	snprintf(a.hello.component, sizeof(a.hello.component), "aggregator");
	snprintf(a.hello.software_version, sizeof(a.hello.software_version),
	    "%s", PACKAGE_VERSION);
	a.hello.pid = (uint32_t)getpid();
	/* This process, on each of its connections (a pid may be reused). */
	a.hello.instance = (uint64_t)getpid() << 32 ^ now_mono();
	/* Before the sandbox: the first connection's failure is fatal. */
	enr_connect(&a);

	/* 3. Drop, verify, lock, sandbox. */
	agg_sandbox_enter(user);

	/* 4. Run. */
	event_base_dispatch(a.base);
	fatalx("event loop ended");
}

/*
 * sockflow-probe main: options, the fixed start-up order (open every
 * privileged resource, connect, drop, verify, lock) and the libevent loop
 * that drains the perf rings into the aggregator connection.
 *
 * The aggregator never sends anything back. When its connection ends
 * (it died, or sent a byte, which no aggregator does) the probe lives on:
 * it keeps its perf events on, its rings and its sock_diag socket, and
 * connects again every AGG_RETRY_MS (agg_gone, agg_connect). Meanwhile it
 * drains the rings into memory, up to OUTPUT_HIGH_WATER, and then leaves
 * them to fill, where the kernel counts what it cannot store. The next
 * aggregator gets a hello that says so (resumed, gap_ns), the event
 * formats, the namespaces as known now, the whole frames not yet written
 * to the dead one's socket, every sample since, and a new start-up dump: a
 * connection begun and ended while no aggregator ran is still reported,
 * and the flows the dead one held are reported partial, not lost.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "frame.h"
#include "log.h"
#include "msg.h"
#include "probe.h"
#include "sfconfig.h"
#include "sock.h"
#include "units.h"
#include "xmalloc.h"

#define DRAIN_INTERVAL_MS	100
#define STATS_INTERVAL_S	10
#define COUNT_INTERVAL_MS	1000
/* Beyond this much unsent output the rings are left to fill. */
#define OUTPUT_HIGH_WATER	(32 * 1024 * 1024)
/* Connecting to the aggregator again after it went away, this often. */
#define AGG_RETRY_MS		200

/* Whether this host can do IPv6 at all: an AF_INET6 socket opens. */
static int
ipv6_available(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}


/* What exit must undo: kprobes outlive the process that made them. */
static struct backend	*exit_backend;
static struct perf_set	*exit_perf;

static void
remove_probes(void)
{
	if (exit_backend == NULL)
		return;
	/* The kernel refuses to remove a probe whose events are open. */
	if (exit_perf != NULL)
		perf_close(exit_perf);
	exit_perf = NULL;
	backend_kprobes_remove(exit_backend);
	exit_backend = NULL;
}

struct probe {
	struct event_base	*base;
	struct bufferevent	*out;
	struct perf_set		 perf;
	struct event		**ring_ev;
	struct event		**ns_ev;
	struct event		*drain_ev;
	struct event		*dns_ev[2];	/* the DNS capture, if on */
	struct event		*sigterm_ev, *sigint_ev;
	uint64_t		 records;
	uint64_t		 batches;
	uint64_t		 paused;
	uint64_t		 last_lost;
	int			 count_ticks;
	int			 stats_ticks;
	int			 idle_marked;	/* empty drain marks sent */
	const struct backend	*be;		/* kprobes, for their misses */
	const struct probe_event *be_events;	/* every event opened */

	/* The aggregator's connection, and what outlives it. */
	const char		*sockpath;
	int			 diag_fd;	/* handed to each aggregator */
	int			 use_v6;
	uint8_t			*formats;	/* the formats frame, kept */
	size_t			 formats_len;
	struct evbuffer		*carry;		/* frames while none is connected */
	struct event		*retry_ev;
	/*
	 * The frames queued and not yet written whole, so that a connection
	 * lost in the middle of one is resumed at the next frame's start;
	 * the formats and namespaces in front are each connection's own.
	 */
	struct units		 units;
	uint32_t		 connections;	/* aggregators served */
	uint64_t		 gap_ns;	/* when the last one went away */
	uint64_t		 agg_lost_bytes;	/* the rest of a cut frame */
	uint64_t		 agg_carried_bytes;
	uint64_t		 dns_paused;
	int			 force;		/* drain past the high-water mark */
	unsigned		 warned;	/* connects failed in a row */
};

static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: sockflow-probe [-dv] -c socket [-f config] "
	    "[-o key=value]\n"
	    "       sockflow-probe -C [-f config] [-o key=value]\n");
	exit(2);
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Where frames go now: the connection's output, or the carry. */
static struct evbuffer *
queue(struct probe *p)
{
	return p->out != NULL ? bufferevent_get_output(p->out) : p->carry;
}

static size_t
queued(struct probe *p)
{
	return evbuffer_get_length(queue(p));
}

/* Forget the frames the connection has written whole since last time. */
static void
frames_settle(struct probe *p)
{
	if (p->out != NULL)
		units_settle(&p->units, queued(p));
}

static void
queue_frame(struct probe *p, const uint8_t *frame, size_t len,
    const char *what)
{
	frames_settle(p);
	if (evbuffer_add(queue(p), frame, len) == -1)
		fatalx("cannot queue %s", what);
	units_push(&p->units, len, 0);
}

static void
send_frame(struct probe *p, uint8_t *frame, size_t len, const char *what)
{
	if (frame == NULL)
		fatalx("cannot encode %s", what);
	queue_frame(p, frame, len, what);
	free(frame);
}

static void
on_batch(const struct msg_samples *s, void *arg)
{
	struct probe *p = arg;
	uint8_t *frame;
	size_t len;

	frame = msg_encode_samples(s, &len);
	send_frame(p, frame, len, "sample batch");
	p->records += s->nrecords;
	p->batches++;
}

static void
on_diag(const struct msg_diag *d, void *arg)
{
	struct probe *p = arg;
	uint8_t *frame;
	size_t len;

	frame = msg_encode_diag(d, &len);
	send_frame(p, frame, len, "sock_diag batch");
}

static void
on_packets(const struct msg_packets *b, void *arg)
{
	struct probe *p = arg;
	uint8_t *frame;
	size_t len;

	frame = msg_encode_packets(b, &len);
	send_frame(p, frame, len, "packet batch");
}

/*
 * DNS packets are read as they come, so that their time stamps are in
 * the aggregator before the samples of the connections that follow them.
 */
static void
dns_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	int i;

	/*
	 * Past the high-water mark the capture is left unread until the
	 * drain timer finds room: its socket then fills, and the kernel
	 * counts the packets it drops (PACKET_STATISTICS, in the batches).
	 */
	if (queued(p) > OUTPUT_HIGH_WATER) {
		for (i = 0; i < 2; i++)
			if (p->dns_ev[i] != NULL)
				event_del(p->dns_ev[i]);
		p->dns_paused++;
		return;
	}
	dns_read(fd, on_packets, arg);
}

static void
dns_resume(struct probe *p)
{
	int i;

	if (queued(p) > OUTPUT_HIGH_WATER)
		return;
	for (i = 0; i < 2; i++)
		if (p->dns_ev[i] != NULL &&
		    !event_pending(p->dns_ev[i], EV_READ, NULL))
			event_add(p->dns_ev[i], NULL);
}

static size_t
drain_ring(struct probe *p, int i)
{
	if (!p->force && queued(p) > OUTPUT_HIGH_WATER) {
		/* The kernel counts what it cannot store; we count pauses. */
		p->paused++;
		return 0;
	}
	return perf_drain(&p->perf, i, on_batch, p);
}

/*
 * The kernel's lost counts when they changed, and the counted samples
 * when given (read before the drain that preceded this).
 */
static void
send_lost(struct probe *p, uint64_t *counted)
{
	struct msg_lost l;
	uint64_t total = 0;
	uint8_t *frame;
	size_t len;
	int i;

	/* Indexed by CPU number, as the samples' batches are. */
	l.n = 0;
	for (i = 0; i < p->perf.nrings; i++)
		if ((size_t)perf_ring_cpu(&p->perf, i) + 1 > l.n)
			l.n = (size_t)perf_ring_cpu(&p->perf, i) + 1;
	l.lost = xcalloc(l.n, sizeof(uint64_t));
	l.counted = NULL;
	if (counted != NULL)
		l.counted = xcalloc(l.n, sizeof(uint64_t));
	for (i = 0; i < p->perf.nrings; i++) {
		size_t c = (size_t)perf_ring_cpu(&p->perf, i);

		l.lost[c] = perf_lost(&p->perf, i);
		total += l.lost[c];
		if (counted != NULL)
			l.counted[c] = counted[i];
	}
	if (total != p->last_lost || counted != NULL) {
		frame = msg_encode_lost(&l, &len);
		send_frame(p, frame, len, "lost counts");
		p->last_lost = total;
	}
	free(l.lost);
	free(l.counted);
}

static void
send_stats(struct probe *p)
{
	const struct netns_stats *ns = netns_stats();
	struct msg_counter c[24 + PROBE_MAX_EVENTS];
	const size_t nc = sizeof(c) / sizeof(c[0]);
	struct msg_stats s = { .last = false };
	uint8_t *frame;
	size_t len, i, n = 0;

	memset(c, 0, sizeof(c));
	snprintf(s.component, sizeof(s.component), "probe");
	msg_counter_add(c, &n, nc, "records", p->records);
	msg_counter_add(c, &n, nc, "batches", p->batches);
	msg_counter_add(c, &n, nc, "lost", p->last_lost);
	msg_counter_add(c, &n, nc, "ring_corrupt", perf_corrupt(&p->perf));
	msg_counter_add(c, &n, nc, "output_paused", p->paused);
	msg_counter_add(c, &n, nc, "aggregator_reconnects",
	    p->connections > 0 ? p->connections - 1 : 0);
	msg_counter_add(c, &n, nc, "aggregator_carried_bytes",
	    p->agg_carried_bytes);
	msg_counter_add(c, &n, nc, "aggregator_lost_bytes", p->agg_lost_bytes);
	msg_counter_add(c, &n, nc, "dns_paused", p->dns_paused);
	msg_counter_add(c, &n, nc, "restarts", sf_restarts());
	msg_counter_add(c, &n, nc, "netns_ids_given", ns->assigned);
	msg_counter_add(c, &n, nc, "netns_ids_failed", ns->failed);
	msg_counter_add(c, &n, nc, "netns_records_lost", ns->lost);
	dns_counters(c, &n, nc);
	/*
	 * Calls a kprobe did not see: a return probe with no free instance
	 * (more calls in flight than its maxactive), or recursion.
	 */
	for (i = 0; p->be != NULL && i < p->be->nkprobes; i++) {
		uint64_t hits, misses;
		char name[MSG_NAME_LEN];

		if (kprobe_profile(p->be->tracefs, p->be->group,
		    p->be->knames[i], &hits, &misses) == -1)
			continue;
		snprintf(name, sizeof(name), "kprobe_%s_misses",
		    p->be->kprobes[i]);
		msg_counter_add(c, &n, nc, name, misses);
	}
	s.v = c;
	s.n = n;
	frame = msg_encode_stats(&s, &len);
	send_frame(p, frame, len, "stats");
}

/*
 * One drain cycle: every ring, so that all CPUs' drain marks move
 * together and the aggregator holds about one cycle of samples to order
 * them. (The sock_diag notifications are the aggregator's to read.)
 */
static void
drain_all(struct probe *p, uint64_t *counted)
{
	uint64_t paused = p->paused;
	size_t n = 0;
	int i, mark;

	for (i = 0; i < p->perf.nnsrings; i++)
		perf_drain_ns(&p->perf, i);
	for (i = 0; i < p->perf.nrings; i++)
		n += drain_ring(p, i);
	/*
	 * A ring left to fill keeps samples the kernel counted: its count
	 * would read as samples dropped without a trace. None goes then.
	 */
	if (p->paused != paused)
		counted = NULL;
	/*
	 * Once the aggregator has a mark past everything sent, further
	 * empty marks tell it nothing it must know soon: while the rings
	 * stay empty, they go only with the kernel's counts, once a second,
	 * and the aggregator is not woken ten times a second for nothing.
	 */
	mark = n > 0 || !p->idle_marked || counted != NULL;
	for (i = 0; i < p->perf.nrings; i++)
		perf_drain_end(&p->perf, i, on_batch, p, mark);
	if (mark)
		p->idle_marked = n == 0;
	send_lost(p, counted);
}

/* A task changed namespaces: give a new network namespace its id now. */
static void
ns_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	int i;

	for (i = 0; i < p->perf.nnsrings; i++)
		if (perf_ns_ring_fd(&p->perf, i) == fd)
			perf_drain_ns(&p->perf, i);
}

/* One ring reached its watermark: a cycle for all of them. */
static void
ring_cb(evutil_socket_t fd, short what, void *arg)
{
	drain_all(arg, NULL);
}

static void
drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	uint64_t *counted;

	dns_resume(p);
	/*
	 * With no aggregator and the carry full, counts and stats wait:
	 * each is a total, so the next one says all that these would.
	 */
	if (p->out == NULL && queued(p) > OUTPUT_HIGH_WATER) {
		drain_all(p, NULL);
		return;
	}
	/*
	 * Once a second, the kernel's counts, read before the drain; the
	 * aggregator compares them with what has arrived by the next ones.
	 */
	if (++p->count_ticks >= COUNT_INTERVAL_MS / DRAIN_INTERVAL_MS) {
		p->count_ticks = 0;
		counted = xcalloc((size_t)p->perf.nrings, sizeof(uint64_t));
		perf_counts(&p->perf, counted);
		drain_all(p, counted);
		free(counted);
	} else
		drain_all(p, NULL);
	if (++p->stats_ticks >= STATS_INTERVAL_S * 1000 / DRAIN_INTERVAL_MS) {
		p->stats_ticks = 0;
		send_stats(p);
	}
}

/*
 * socket.guess_timeout: the probe's own loopback traffic must bring a
 * sample of every event in time, or the probe that stays silent is named
 * and start-up fails (probe_selftest.c).
 */
static void
selftest(struct probe *p, const struct sf_config *cfg, const uint32_t *ids,
    size_t n, int use_v6)
{
	struct timespec ts;
	uint64_t start, now, last;
	char missing[1024];
	size_t i, off;

	p->perf.seen = xcalloc(65536 / 8, 1);
	selftest_traffic(use_v6);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	start = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	last = start;
	for (;;) {
		drain_all(p, NULL);
		missing[0] = '\0';
		for (i = 0, off = 0; i < n; i++)
			if (!p->be_events[i].no_selftest &&
			    !(p->perf.seen[ids[i] / 8] & (1 << (ids[i] % 8))) &&
			    off < sizeof(missing))
				off += (size_t)snprintf(missing + off,
				    sizeof(missing) - off, "%s%s:%s",
				    off ? ", " : "", p->be_events[i].system,
				    p->be_events[i].name);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ULL +
		    (uint64_t)ts.tv_nsec;
		if (missing[0] == '\0')
			break;
		if (now - start > (uint64_t)cfg->guess_timeout)
			fatalx("self-test: no sample within "
			    "socket.guess_timeout from %s", missing);
		/* A sample can be lost (a full ring): the traffic again. */
		if (now - last >= 1000000000ULL) {
			selftest_traffic(use_v6);
			last = now;
		}
		usleep(20000);
	}
	log_info("self-test: every event delivered a sample in %llu ms",
	    (unsigned long long)((now - start) / 1000000));
	free(p->perf.seen);
	p->perf.seen = NULL;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct probe *p = arg;

	log_info("signal %d: final drain and exit", (int)sig);
	drain_all(p, NULL);
	send_stats(p);
	if (p->out != NULL)
		sock_flush_blocking(p->out);
	else
		log_warnx("no aggregator: %zu byte(s) not sent",
		    evbuffer_get_length(p->carry));
	remove_probes();
	perf_close(&p->perf);
	exit(0);
}

static void	agg_connect(struct probe *);

/*
 * The namespaces frame of now, or NULL when none is known: every
 * aggregator gets one, the records before it went to those before.
 */
static uint8_t *
netns_frame(size_t *len)
{
	struct msg_netns nn;
	uint8_t *frame = NULL;

	*len = 0;
	netns_current(&nn);
	if (nn.n > 0 && (frame = msg_encode_netns(&nn, len)) == NULL)
		fatalx("cannot encode namespaces");
	msg_netns_free(&nn);
	return frame;
}

/*
 * The aggregator went away. Of what its connection still had to send,
 * the rest of a frame it was in the middle of is dropped (counted,
 * aggregator_lost_bytes); the whole frames after it are carried over to
 * the next aggregator, with what the rings give meanwhile. (What the dead
 * one had not read from its socket is lost too and cannot be counted:
 * the kernel freed it with the socket. The flows it held are reported
 * partial by the next one, from the hello's gap_ns.)
 */
static void
agg_gone(struct probe *p, const char *why)
{
	struct evbuffer *out = bufferevent_get_output(p->out);
	struct timeval tv = { 0, AGG_RETRY_MS * 1000 };
	size_t cut, skip;

	/*
	 * The rest of a frame begun (lost, unless preamble), and this
	 * connection's preamble not yet begun (the next has its own).
	 */
	skip = units_cut(&p->units, evbuffer_get_length(out), &cut);
	/* The end of the bufferevent's use: its output is ours now. */
	evbuffer_unfreeze(out, 1);
	if (evbuffer_drain(out, skip) == -1 ||
	    evbuffer_add_buffer(p->carry, out) == -1)
		fatalx("cannot keep the aggregator's output");
	p->agg_lost_bytes += cut;
	p->gap_ns = mono_ns();
	bufferevent_free(p->out);
	p->out = NULL;
	log_warnx("aggregator %s: connecting again every %d ms; %zu byte(s) "
	    "kept, %zu of a frame lost", why, AGG_RETRY_MS,
	    evbuffer_get_length(p->carry), cut);
	evtimer_add(p->retry_ev, &tv);
}

static void
out_read_cb(struct bufferevent *bev, void *arg)
{
	/* Data flows downhill only: a peer that sends is no aggregator. */
	agg_gone(arg, "sent data");
}

static void
out_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_EOF)
		agg_gone(arg, "closed the connection");
	else if (what & BEV_EVENT_ERROR)
		agg_gone(arg, "connection failed");
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	agg_connect(arg);
}

/*
 * Connect to the aggregator: the hello with the sock_diag socket, and,
 * to an aggregator after the first, the formats and namespaces again,
 * the frames carried over, every ring drained to now (past the high-water
 * mark: the rings are bounded) and a new dump of the connections open,
 * after those samples, so that it lists none whose start they hold. The
 * first connection failing is fatal (the launcher and systemd listen
 * first); later ones are tried again every AGG_RETRY_MS.
 */
static void
agg_connect(struct probe *p)
{
	struct timeval tv = { 0, AGG_RETRY_MS * 1000 };
	struct msg_hello hello;
	uint8_t *frame, *netns;
	size_t len, carried, netns_len;
	int fd;

	if ((fd = sock_connect_path_try(p->sockpath)) == -1) {
		if (p->connections == 0)
			fatal("connect %s", p->sockpath);
		/* Said at once, then once a minute while it lasts. */
		if (p->warned++ % (60 * 1000 / AGG_RETRY_MS) == 0)
			log_warn("connect %s: no aggregator for %llu s, %zu "
			    "byte(s) waiting", p->sockpath, (unsigned long long)
			    ((mono_ns() - p->gap_ns) / 1000000000ULL),
			    queued(p));
		evtimer_add(p->retry_ev, &tv);
		return;
	}
	p->warned = 0;
	memset(&hello, 0, sizeof(hello));
	hello.protocol_version = FRAME_VERSION;
	snprintf(hello.component, sizeof(hello.component), "probe");
	snprintf(hello.software_version, sizeof(hello.software_version),
	    "%s", PACKAGE_VERSION);
	hello.pid = (uint32_t)getpid();
	snprintf(hello.backend, sizeof(hello.backend), "%s",
	    p->be != NULL ? "kprobe" : "tracepoint");
	/* The samples' clock (perf_event_attr.clockid), now. */
	hello.monotonic_ns = mono_ns();
	hello.resumed = p->connections;
	hello.gap_ns = p->gap_ns;
	if ((frame = msg_encode_hello(&hello, &len)) == NULL)
		fatalx("hello");
	if (sock_send_with_fd(fd, frame, len, p->diag_fd) == -1) {
		if (p->connections == 0)
			fatal("hello to the aggregator");
		log_warn("hello to the aggregator");
		free(frame);
		close(fd);
		evtimer_add(p->retry_ev, &tv);
		return;
	}
	free(frame);
	if (evutil_make_socket_nonblocking(fd) == -1)
		fatal("nonblocking");
	p->out = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (p->out == NULL)
		fatalx("bufferevent_socket_new");
	bufferevent_setcb(p->out, out_read_cb, NULL, out_event_cb, p);
	bufferevent_enable(p->out, EV_READ | EV_WRITE);
	units_connected(&p->units, 0);
	if (p->connections++ == 0)
		return;

	/* Before the carried frames, so their lengths go in front. */
	carried = evbuffer_get_length(p->carry);
	netns = netns_frame(&netns_len);
	if (netns != NULL)
		units_push(&p->units, netns_len, 1);
	units_push(&p->units, p->formats_len, 1);
	p->units.preamble = netns != NULL ? 2 : 1;
	if (evbuffer_add(queue(p), p->formats, p->formats_len) == -1 ||
	    (netns != NULL && evbuffer_add(queue(p), netns, netns_len) == -1) ||
	    evbuffer_add_buffer(queue(p), p->carry) == -1)
		fatalx("cannot queue for the aggregator");
	units_connected(&p->units, queued(p));
	free(netns);
	p->agg_carried_bytes += carried;
	p->force = 1;
	p->idle_marked = 0;
	drain_all(p, NULL);
	p->force = 0;
	diag_dump(p->use_v6, on_diag, p);
	log_info("aggregator connected again (%u time(s)); %zu byte(s) "
	    "carried over", p->connections - 1, carried);
}

int
main(int argc, char *argv[])
{
	struct probe p;
	struct msg_formats fmts;
	struct sf_config cfg;
	struct sf_opts so = { .verbose = 1 };
	const char *sockpath = NULL, *tracefs;
	int cpus[MSG_MAX_CPUS], ncpus, ch, diag_fd, i;
	int dns_fds[2], ndns;
	struct timeval tv = { 0, DRAIN_INTERVAL_MS * 1000 };
	static struct backend be;
	uint32_t ids[PROBE_MAX_EVENTS];
	char why[512], err[512];
	uint8_t *frame;
	size_t j, len;
	int use_v6, check = 0, kind;

	log_init("sockflow-probe", so.verbose);
	while ((ch = getopt(argc, argv, "Cc:df:o:v")) != -1) {
		if (sf_opts_take(&so, ch, optarg))
			continue;
		switch (ch) {
		case 'C':
			check = 1;
			break;
		case 'c':
			sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	if ((sockpath == NULL && !check) || optind != argc)
		usage();
	sf_opts_finish(&so, &cfg);
	malloc_tune();
	if (geteuid() != 0)
		fatalx("must run as root");
	signal(SIGPIPE, SIG_IGN);

	/* 1. Privileged resources: tracefs, event formats, perf rings. */
	tracefs = tracefs_locate(cfg.tracefs_path[0] ? cfg.tracefs_path : NULL);
	memset(&fmts, 0, sizeof(fmts));
	if (cfg.enable_ipv6 == -1)
		use_v6 = ipv6_available();
	else if ((use_v6 = cfg.enable_ipv6) && !ipv6_available())
		fatalx("socket.enable_ipv6 is true but this host has no IPv6");
	if (check) {
		fflush(stdout);
		exit(backend_check(&cfg, tracefs, use_v6, stdout));
	}
	if ((kind = backend_choose(cfg.backend, tracefs, why,
	    sizeof(why))) == -1)
		fatalx("%s", why);
	if (kind == BACKEND_KPROBE) {
		exit_backend = &be;
		if (atexit(remove_probes) != 0)
			fatalx("atexit");
		if (backend_kprobes(&be, tracefs, use_v6, NULL, err,
		    sizeof(err)) == -1)
			fatalx("kprobe backend: %s", err);
	} else
		backend_tracepoints(&be, tracefs, use_v6);
	fmts.v = xcalloc(be.nevents, sizeof(*fmts.v));
	for (j = 0; j < be.nevents; j++) {
		if (tracefs_read_event(tracefs, be.events[j].system,
		    be.events[j].name, &fmts.v[j]) == -1)
			fatal("event %s:%s", be.events[j].system,
			    be.events[j].name);
		fmts.n = j + 1;
	}
	snprintf(fmts.tracefs_path, sizeof(fmts.tracefs_path), "%s", tracefs);
	ncpus = perf_online_cpus(cpus, MSG_MAX_CPUS);
	fmts.ncpus = (uint32_t)ncpus;

	memset(&p, 0, sizeof(p));
	if (kind == BACKEND_KPROBE)
		p.be = &be;
	p.be_events = be.events;
	diag_fd = diag_open();
	ndns = dns_open(&cfg, dns_fds);
	netns_open();
	exit_perf = &p.perf;
	perf_open(&p.perf, cpus, ncpus, &fmts, be.events,
	    (int)cfg.ring_size_exponent);

	/*
	 * 2. The aggregator. The hello goes first, carrying the sock_diag
	 * socket: the aggregator reads the destroy notifications itself
	 * (they are kernel messages it parses anyway), which saves a copy
	 * and a frame per closed socket. The socket was opened and set up
	 * here; without CAP_NET_ADMIN the aggregator could neither subscribe
	 * it nor, as the kernel checks the sender's capabilities too, make
	 * it destroy sockets. The probe keeps it: an aggregator after the
	 * first gets the same socket, with the notifications that came
	 * while none ran, which the probe could not subscribe again after
	 * its drop (CAP_NET_BROADCAST).
	 */
	if ((p.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((p.carry = evbuffer_new()) == NULL ||
	    (p.retry_ev = evtimer_new(p.base, retry_cb, &p)) == NULL)
		fatalx("event setup");
	p.sockpath = sockpath;
	p.diag_fd = diag_fd;
	p.use_v6 = use_v6;
	agg_connect(&p);
	p.ring_ev = xcalloc((size_t)ncpus, sizeof(*p.ring_ev));
	for (i = 0; i < ncpus; i++) {
		p.ring_ev[i] = event_new(p.base, perf_ring_fd(&p.perf, i),
		    EV_READ | EV_PERSIST, ring_cb, &p);
		if (p.ring_ev[i] == NULL || event_add(p.ring_ev[i], NULL) == -1)
			fatalx("ring event");
	}
	p.ns_ev = xcalloc((size_t)ncpus, sizeof(*p.ns_ev));
	for (i = 0; i < ncpus; i++) {
		if (perf_ns_ring_fd(&p.perf, i) == -1)
			continue;
		p.ns_ev[i] = event_new(p.base, perf_ns_ring_fd(&p.perf, i),
		    EV_READ | EV_PERSIST, ns_cb, &p);
		if (p.ns_ev[i] == NULL || event_add(p.ns_ev[i], NULL) == -1)
			fatalx("namespaces ring event");
	}
	for (i = 0; i < ndns; i++)
		if ((p.dns_ev[i] = event_new(p.base, dns_fds[i],
		    EV_READ | EV_PERSIST, dns_cb, &p)) == NULL ||
		    event_add(p.dns_ev[i], NULL) == -1)
			fatalx("DNS capture event");
	p.drain_ev = event_new(p.base, -1, EV_PERSIST, drain_timer_cb, &p);
	p.sigterm_ev = evsignal_new(p.base, SIGTERM, signal_cb, &p);
	p.sigint_ev = evsignal_new(p.base, SIGINT, signal_cb, &p);
	if (p.drain_ev == NULL || event_add(p.drain_ev, &tv) == -1 ||
	    p.sigterm_ev == NULL || event_add(p.sigterm_ev, NULL) == -1 ||
	    p.sigint_ev == NULL || event_add(p.sigint_ev, NULL) == -1)
		fatalx("event setup");

	for (j = 0; j < be.nevents; j++) {
		ids[j] = fmts.v[j].id;
		fmts.v[j].stack_user = p.perf.stack_user[j];
	}
	fmts.sample_cgroup = p.perf.sample_cgroup != 0;
	/* Kept: every aggregator after the first gets them again. */
	if ((p.formats = msg_encode_formats(&fmts, &p.formats_len)) == NULL)
		fatalx("cannot encode formats");
	queue_frame(&p, p.formats, p.formats_len, "formats");
	msg_formats_free(&fmts);
	p.units.preamble = 1;
	if ((frame = netns_frame(&len)) != NULL) {
		queue_frame(&p, frame, len, "namespaces");
		free(frame);
		p.units.preamble++;
	}

	/* 3. Drop, verify, lock. */
	probe_privs_drop();

	/* 4. Start sampling and run. */
	perf_enable(&p.perf);
	/*
	 * After the events are on, so that no connection falls between the
	 * dump and the first sample: what is open now, with its tuple.
	 * After the samples taken so far, as on every later connection.
	 */
	drain_all(&p, NULL);
	diag_dump(use_v6, on_diag, &p);
	selftest(&p, &cfg, ids, be.nevents, use_v6);
	log_info("%s backend (%s): %zu event(s) on %d cpu(s), IPv6 %s, "
	    "tracefs %s", kind == BACKEND_KPROBE ? "kprobe" : "tracepoint",
	    why, be.nevents, ncpus, use_v6 ? "on" : "off", tracefs);
	event_base_dispatch(p.base);
	fatalx("event loop ended");
}

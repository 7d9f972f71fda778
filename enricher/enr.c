/*
 * sockflow-enricher main: options, start-up order, the aggregator
 * connection and the JSON output.
 *
 * The aggregator is the less privileged, more exposed peer: a bad frame
 * from it never ends the enricher. The connection is closed, the error
 * counted and logged, and the enricher waits for the next connection.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "dnsparse.h"
#include "enr.h"
#include "frame.h"
#include "log.h"
#include "xmalloc.h"
#include "msg.h"
#include "privdrop.h"
#include "sfconfig.h"
#include "sock.h"

#define PROC_TABLE_CAP		(64 * 1024)
/* Flows in flight kept, as many as the aggregator's socket table holds. */
#define INFLIGHT_CAP		(256 * 1024)
#define DNS_NAMES_CAP		(64 * 1024)
#define CGROUPS_CAP		(64 * 1024)
#define PROC_GRACE_NS		(60LL * 1000000000LL)
#define EXPIRE_INTERVAL_S	5
#define STOP_TIMEOUT_S		5
/* Refuse to buffer more than this from a peer that does not send frames. */
#define INPUT_HIGH_WATER	(4 * 1024 * 1024)

struct enr {
	struct event_base	*base;
	struct event		*accept_ev, *expire_ev, *stop_ev;
	struct event		*sigterm_ev, *sigint_ev, *sigusr1_ev;
	struct bufferevent	*agg;
	int			 hello_seen;
	int			 stopping;
	uid_t			 agg_uid;
	struct enr_host		 host;
	struct enr_procs	*procs;
	struct enr_names	*names;		/* user and group names */
	struct enr_dns		*dns;		/* NULL: socket.dns off */
	struct enr_cgroups	*cgroups;
	int64_t			 stream_ns;	/* latest event time seen */
	struct jw		 jw;		/* the line being written */
	struct event		*flush_ev;	/* stdout within OUT_DELAY_MS */
	uint64_t		 flows;
	uint64_t		 unwritten;	/* no memory for the line */
	uint64_t		 unflushed;	/* documents in stdio's buffer */
	uint64_t		 lost_output;	/* the output refused them */
	int			 out_broken;	/* the last write failed */
	time_t			 out_warned;
	uint64_t		 bad_frames;
	uint64_t		 refused_peers;
	int64_t			 stats_interval;	/* ns, 0 = never */
	int64_t			 stats_written;		/* wall ns */
	struct msg_stats	 agg_stats;		/* the latest */
	struct enr_inflight	*inflight;	/* flows the aggregator holds */
	int			 agg_clean;	/* it said it stops cleanly */
	uint64_t		 agg_instance;	/* whose flows inflight holds */
	/* Pending while one that went away uncleanly may come back. */
	struct event		*orphan_ev;
};

/* An aggregator gone uncleanly and not back in this long is dead. */
#define ORPHAN_WAIT_S		5

#define OUT_DELAY_MS	20

static char outbuf[64 * 1024];

static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: sockflow-enricher [-dnv] [-a aggregator_user] "
	    "[-f config] [-l socket] [-o key=value] [-u user]\n");
	exit(2);
}

/*
 * Now, for what ages with the events (exited processes, DNS answers):
 * the latest event time the aggregator sent, never past the wall clock.
 * Live the two are close; a replayed stream (tests/replay) carries the
 * recorded times, and its processes must not all look a minute dead.
 */
static void
stream_seen(struct enr *e, int64_t t)
{
	if (t > e->stream_ns)
		e->stream_ns = t;
}

/*
 * On a quiet machine the latest event time stands still, and so does
 * expiry until events come again: the tables stay bounded by their caps,
 * and what they answer for a flow is decided by the flow's own times.
 */
static int64_t
stream_now(const struct enr *e)
{
	int64_t now = sf_time_now();

	return e->stream_ns != 0 && e->stream_ns < now ? e->stream_ns : now;
}

/*
 * The output refused what stdio held (a full disk, a closed pipe): those
 * documents are counted as lost and dropped from the buffer, which would
 * otherwise grow or be retried for ever; the failure is logged at most
 * every 10 s with the count so far. A line the failed write cut short is
 * ended by a newline before the next document, so every later line is
 * whole.
 */
static void
out_failed(struct enr *e)
{
	time_t now = time(NULL);
	int err = errno;

	e->lost_output += e->unflushed;
	e->unflushed = 0;
	__fpurge(stdout);
	clearerr(stdout);
	e->out_broken = 1;
	if (now - e->out_warned >= 10) {
		e->out_warned = now;
		log_warnx("cannot write the output (%s): %llu document(s) "
		    "lost so far", strerror(err),
		    (unsigned long long)e->lost_output);
	}
}

/* Everything in stdio's buffer out now; what fails is counted. */
static void
out_flush(struct enr *e)
{
	if (fflush(stdout) == EOF)
		out_failed(e);
	else
		e->unflushed = 0;
}

/*
 * Before a document: after a failure, a newline first, in the stream's
 * order, to end the line the failed write may have cut.
 */
static void
out_begin(struct enr *e)
{
	if (e->out_broken) {
		fputc('\n', stdout);
		e->out_broken = 0;
	}
	e->unflushed++;
}

static void
write_flow(struct enr *e, const struct msg_flow *f)
{
	struct enr_proc_info pi;
	struct enr_flow_extra x;

	if (enr_procs_lookup(e->procs, f->pid, &pi) == -1)
		memset(&pi, 0, sizeof(pi));
	if (pi.have_creds && e->names != NULL) {
		pi.user_name = enr_names_user(e->names, pi.uid);
		pi.group_name = enr_names_group(e->names, pi.gid);
		pi.names_gen = enr_names_gen(e->names);
	}
	memset(&x, 0, sizeof(x));
	if (e->dns != NULL && f->pid != 0) {
		int64_t now = stream_now(e);

		if (f->local_ip_known)
			x.local_domain = enr_dns_name(e->dns, f->pid,
			    pi.start_ticks, f->family, f->local.ip, f->start_ns,
			    f->end_ns, now);
		if (f->remote_known)
			x.remote_domain = enr_dns_name(e->dns, f->pid,
			    pi.start_ticks, f->family, f->remote.ip,
			    f->start_ns, f->end_ns, now);
	}
	if (f->cgroup != 0)
		x.cgroup_path = enr_cgroups_path(e->cgroups, f->cgroup,
		    &x.container_id, &x.container_runtime);
	if (enr_json_flow(&e->jw, f, &e->host, &pi, &x) == -1) {
		/* Out of memory for one line: counted, not half written. */
		e->unwritten++;
		return;
	}
	e->jw.buf[e->jw.len] = '\n';
	out_begin(e);
	if (fwrite(e->jw.buf, 1, e->jw.len + 1, stdout) != e->jw.len + 1)
		out_failed(e);
	e->jw.buf[e->jw.len] = '\0';
	e->flows++;
}

/*
 * The periodic stats document: the aggregator's counters (its own, and
 * the probe's prefixed probe_, with lost samples per CPU) and the
 * enricher's, on the same output as the flows.
 */
static void
write_stats(struct enr *e)
{
	struct json_object *doc, *ev, *sf, *st, *o;
	char ts[40];
	const char *s;
	size_t i;

	e->stats_written = sf_time_now();
	sf_time_rfc3339(e->stats_written, ts, sizeof(ts));
	doc = json_object_new_object();
	json_object_object_add(doc, "@timestamp", json_object_new_string(ts));
	ev = json_object_new_object();
	json_object_object_add(ev, "kind", json_object_new_string("metric"));
	json_object_object_add(ev, "module",
	    json_object_new_string("sockflow"));
	json_object_object_add(ev, "dataset",
	    json_object_new_string("sockflow.stats"));
	json_object_object_add(doc, "event", ev);
	o = json_object_new_object();
	json_object_object_add(o, "name",
	    json_object_new_string(e->host.hostname));
	json_object_object_add(doc, "host", o);
	sf = json_object_new_object();
	st = json_object_new_object();
	o = json_object_new_object();
	for (i = 0; i < e->agg_stats.n; i++)
		json_object_object_add(o, e->agg_stats.v[i].name,
		    json_object_new_int64((int64_t)e->agg_stats.v[i].value));
	json_object_object_add(st, "aggregator", o);
	o = json_object_new_object();
	json_object_object_add(o, "flows_written",
	    json_object_new_int64((int64_t)e->flows));
	json_object_object_add(o, "flows_unwritten",
	    json_object_new_int64((int64_t)e->unwritten));
	json_object_object_add(o, "documents_lost_output",
	    json_object_new_int64((int64_t)e->lost_output));
	json_object_object_add(o, "bad_frames",
	    json_object_new_int64((int64_t)e->bad_frames));
	json_object_object_add(o, "refused_peers",
	    json_object_new_int64((int64_t)e->refused_peers));
	json_object_object_add(o, "restarts",
	    json_object_new_int64((int64_t)sf_restarts()));
	{
		const struct enr_inflight_stats *is =
		    enr_inflight_stats(e->inflight);

		json_object_object_add(o, "flows_in_flight", json_object_new_int64(
		    (int64_t)enr_inflight_count(e->inflight)));
		json_object_object_add(o, "flows_in_flight_table_full",
		    json_object_new_int64((int64_t)is->full));
		json_object_object_add(o, "flows_orphaned",
		    json_object_new_int64((int64_t)is->orphaned));
	}
	json_object_object_add(o, "processes",
	    json_object_new_int64((int64_t)enr_procs_count(e->procs)));
	json_object_object_add(o, "process_table_full",
	    json_object_new_int64((int64_t)enr_procs_full(e->procs)));
	if (e->names != NULL) {
		const struct enr_names_stats *ns = enr_names_stats(e->names);

		json_object_object_add(o, "user_names",
		    json_object_new_int64((int64_t)ns->users));
		json_object_object_add(o, "group_names",
		    json_object_new_int64((int64_t)ns->groups));
		json_object_object_add(o, "name_lines_skipped",
		    json_object_new_int64((int64_t)ns->bad_lines));
	}
	json_object_object_add(o, "cgroups",
	    json_object_new_int64((int64_t)enr_cgroups_count(e->cgroups)));
	json_object_object_add(o, "cgroup_ids_unknown",
	    json_object_new_int64((int64_t)enr_cgroups_unknown(e->cgroups)));
	json_object_object_add(o, "cgroup_table_full",
	    json_object_new_int64((int64_t)enr_cgroups_full(e->cgroups)));
	if (e->dns != NULL) {
		const struct enr_dns_stats *ds = enr_dns_stats(e->dns);
		char name[64];
		int k;

#define DNS_COUNTER(n, v) json_object_object_add(o, (n), \
	json_object_new_int64((int64_t)(v)))
		DNS_COUNTER("dns_messages", ds->messages);
		for (k = 1; k < DNS_ERR__MAX; k++) {
			snprintf(name, sizeof(name), "dns_malformed_%s",
			    dns_err_name(k));
			DNS_COUNTER(name, ds->malformed[k]);
		}
		DNS_COUNTER("dns_cut", ds->cut);
		DNS_COUNTER("dns_name_too_long", ds->name_too_long);
		DNS_COUNTER("dns_queries", ds->queries);
		DNS_COUNTER("dns_queries_evicted", ds->queries_evicted);
		DNS_COUNTER("dns_responses", ds->responses);
		DNS_COUNTER("dns_responses_unmatched", ds->unmatched);
		DNS_COUNTER("dns_responses_unqueried", ds->unqueried);
		DNS_COUNTER("dns_responses_unattributed", ds->unattributed);
		DNS_COUNTER("dns_names", enr_dns_count(e->dns));
		DNS_COUNTER("dns_names_added", ds->names_added);
		DNS_COUNTER("dns_names_evicted", ds->names_evicted);
		DNS_COUNTER("dns_names_expired", ds->names_expired);
		DNS_COUNTER("dns_no_memory", ds->no_memory);
		DNS_COUNTER("dns_flows_named", ds->flows_named);
#undef DNS_COUNTER
	}
	json_object_object_add(st, "enricher", o);
	json_object_object_add(sf, "stats", st);
	json_object_object_add(doc, "sockflow", sf);
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	out_begin(e);
	fputs(s, stdout);
	fputc('\n', stdout);
	out_flush(e);
	json_object_put(doc);
}

static void
log_stats(const struct msg_stats *st)
{
	char line[1024];
	size_t i, off = 0;

	for (i = 0; i < st->n && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    "%s%s=%llu", i ? " " : "", st->v[i].name,
		    (unsigned long long)st->v[i].value);
	log_debug("stats from %s: %s", st->component, line);
}

/* A flow the aggregator held when it died: as last told, partial. */
static void
write_orphan(const struct msg_flow *f, void *arg)
{
	struct msg_flow o = *f;

	o.open = false;
	o.final = false;
	o.complete = false;
	o.samples_lost = true;
	o.orphaned = true;
	write_flow(arg, &o);
}

/* The aggregator is dead: the flows it held, partial, not lost with it. */
static void
write_orphans(struct enr *e)
{
	size_t n = enr_inflight_count(e->inflight);

	if (evtimer_pending(e->orphan_ev, NULL))
		evtimer_del(e->orphan_ev);
	if (n == 0)
		return;
	log_warnx("the aggregator went away holding %zu flow(s) in flight: "
	    "written as partial", n);
	enr_inflight_drain(e->inflight, write_orphan, e);
	out_flush(e);
}

static void
orphan_cb(evutil_socket_t fd, short what, void *arg)
{
	write_orphans(arg);
}

/*
 * The aggregator's connection ended. If it said it stops cleanly, it
 * reported every flow. If not, it died, or it lives and connects again
 * (this enricher dropped it for a bad frame): the hello that comes next
 * tells which, by its instance, and without one in ORPHAN_WAIT_S it is
 * taken for dead. Its flows in flight wait until then.
 */
static void
agg_ended(struct enr *e)
{
	struct timeval tv = { ORPHAN_WAIT_S, 0 };

	bufferevent_free(e->agg);
	e->agg = NULL;
	if (e->agg_clean) {
		enr_inflight_drain(e->inflight, NULL, NULL);
		return;
	}
	if (enr_inflight_count(e->inflight) == 0)
		return;
	if (e->stopping) {
		write_orphans(e);
		return;
	}
	evtimer_add(e->orphan_ev, &tv);
}

static void
drop_peer(struct enr *e, const char *why)
{
	log_warnx("closing the aggregator connection: %s", why);
	e->bad_frames++;
	agg_ended(e);
	if (e->stopping)
		exit(0);
}

/* Returns -1 when the connection was dropped. */
static int
handle_frame(struct enr *e, const struct frame *f)
{
	const char *errstr = NULL;

	if (!e->hello_seen) {
		struct msg_hello h;

		if (f->hdr.type != FRAME_HELLO) {
			drop_peer(e, "frame before hello");
			return -1;
		}
		if (msg_decode_hello(f->payload, f->hdr.len, &h, &errstr) == -1) {
			drop_peer(e, errstr);
			return -1;
		}
		if (strcmp(h.component, "aggregator") != 0) {
			drop_peer(e, "peer is not an aggregator");
			return -1;
		}
		/* Another aggregator: the one gone uncleanly is dead. */
		if (evtimer_pending(e->orphan_ev, NULL)) {
			if (h.instance != e->agg_instance)
				write_orphans(e);
			else
				evtimer_del(e->orphan_ev);
		}
		e->agg_instance = h.instance;
		e->hello_seen = 1;
		return 0;
	}
	switch (f->hdr.type) {
	case FRAME_FLOW: {
		struct msg_flow fl;

		if (msg_decode_flow(f->payload, f->hdr.len, &fl, &errstr) == -1)
			break;
		stream_seen(e, fl.end_ns);
		enr_inflight_note(e->inflight, &fl);
		if (!fl.open)
			write_flow(e, &fl);
		return 0;
	}
	case FRAME_PROCESS: {
		struct msg_process p;

		if (msg_decode_process(f->payload, f->hdr.len, &p,
		    &errstr) == -1)
			break;
		stream_seen(e, p.time_ns);
		enr_procs_event(e->procs, &p);
		return 0;
	}
	case FRAME_CGROUP: {
		struct msg_cgroup c;

		if (msg_decode_cgroup(f->payload, f->hdr.len, &c,
		    &errstr) == -1)
			break;
		enr_cgroups_add(e->cgroups, c.id, c.path);
		return 0;
	}
	case FRAME_DNS: {
		struct msg_dns d;
		struct enr_proc_info pi;

		if (msg_decode_dns(f->payload, f->hdr.len, &d, &errstr) == -1)
			break;
		stream_seen(e, d.time_ns);
		if (e->dns != NULL) {
			if (d.pid == 0 ||
			    enr_procs_lookup(e->procs, d.pid, &pi) == -1)
				pi.start_ticks = 0;
			enr_dns_message(e->dns, &d, pi.start_ticks);
		}
		msg_dns_free(&d);
		return 0;
	}
	case FRAME_STATS: {
		struct msg_stats st;

		if (msg_decode_stats(f->payload, f->hdr.len, &st,
		    &errstr) == -1)
			break;
		log_stats(&st);
		if (st.last)
			e->agg_clean = 1;
		msg_stats_free(&e->agg_stats);
		e->agg_stats = st;
		if (e->stats_interval != 0 &&
		    sf_time_now() - e->stats_written >= e->stats_interval)
			write_stats(e);
		return 0;
	}
	default:
		errstr = "unexpected frame type";
		break;
	}
	drop_peer(e, errstr);
	return -1;
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	out_flush(arg);
}

static void
agg_read_cb(struct bufferevent *bev, void *arg)
{
	struct enr *e = arg;
	struct frame f;
	const char *errstr;
	int rv;

	while ((rv = frame_read(bufferevent_get_input(bev), &f, &errstr)) == 1) {
		int r = handle_frame(e, &f);

		frame_clear(&f);
		if (r == -1) {
			out_flush(e);
			return;
		}
	}
	/*
	 * The aggregator sends flows in batches: with all it sent handled,
	 * they are written at once. A frame still coming in part waits for
	 * its rest at most OUT_DELAY_MS (or until stdio's buffer fills).
	 */
	if (evbuffer_get_length(bufferevent_get_input(bev)) == 0) {
		out_flush(e);
		if (evtimer_pending(e->flush_ev, NULL))
			evtimer_del(e->flush_ev);
	} else if (!evtimer_pending(e->flush_ev, NULL)) {
		struct timeval tv = { 0, OUT_DELAY_MS * 1000 };

		evtimer_add(e->flush_ev, &tv);
	}
	if (rv == -1)
		drop_peer(e, errstr);
}

static void
agg_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct enr *e = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (evbuffer_get_length(bufferevent_get_input(bev)) != 0)
			e->bad_frames++;
		log_info("aggregator disconnected");
		agg_ended(e);
		/* Its last counters, which show any gap, are written now. */
		if (e->stats_interval != 0 && e->agg_stats.n > 0)
			write_stats(e);
		if (e->stopping)
			exit(0);
	}
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct enr *e = arg;
	uid_t uid = (uid_t)-1;
	pid_t pid = 0;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("accept");
		return;
	}
	if (privdrop_peer_uid(fd, &uid, &pid) == -1 ||
	    (uid != e->agg_uid && uid != 0)) {
		log_warnx("refusing a connection from uid %ld pid %ld",
		    (long)uid, (long)pid);
		e->refused_peers++;
		close(fd);
		return;
	}
	if (e->agg != NULL) {
		log_warnx("refusing a second aggregator connection");
		e->refused_peers++;
		close(fd);
		return;
	}
	e->agg = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (e->agg == NULL)
		fatalx("bufferevent_socket_new");
	e->hello_seen = 0;
	e->agg_clean = 0;
	bufferevent_setcb(e->agg, agg_read_cb, NULL, agg_event_cb, e);
	bufferevent_setwatermark(e->agg, EV_READ, 0, INPUT_HIGH_WATER);
	bufferevent_enable(e->agg, EV_READ);
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct enr *e = arg;

	enr_procs_expire(e->procs, stream_now(e), PROC_GRACE_NS);
	if (e->dns != NULL)
		enr_dns_expire(e->dns, stream_now(e));
	/* An added user, a renamed group: read again when they change. */
	if (e->names != NULL)
		enr_names_refresh(e->names);
}

static void
stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("aggregator did not close in %d s; exiting", STOP_TIMEOUT_S);
	exit(0);
}

/* SIGUSR1 (sockflow stats): the stats document now. */
static void
stats_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	write_stats(arg);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct enr *e = arg;
	struct timeval tv = { STOP_TIMEOUT_S, 0 };

	/* Write out whatever the aggregator still sends, then exit. */
	if (e->agg == NULL) {
		if (evtimer_pending(e->orphan_ev, NULL))
			write_orphans(e);
		exit(0);
	}
	e->stopping = 1;
	event_add(e->stop_ev, &tv);
}

int
main(int argc, char *argv[])
{
	struct enr e;
	struct privdrop_user au;
	const char *listen_path = NULL, *user, *agg_user = NULL;
	const char *root = "/";
	struct sf_opts so = { .verbose = 1 };
	struct sf_config cfg;
	struct timeval etv = { EXPIRE_INTERVAL_S, 0 };
	int ch, lfd;

	log_init("sockflow-enricher", so.verbose);
	/* "sockflow stats" before the loop handles it must not kill. */
	signal(SIGUSR1, SIG_IGN);
	memset(&e, 0, sizeof(e));
	while ((ch = getopt(argc, argv, "a:df:l:no:u:v")) != -1) {
		if (sf_opts_take(&so, ch, optarg))
			continue;
		switch (ch) {
		case 'a':
			agg_user = optarg;
			break;
		case 'l':
			listen_path = optarg;
			break;
		case 'n':
			/*
			 * stdout is a pipe shared with an earlier enricher
			 * (sockflow-output's input), which may have died in
			 * a write: end its cut line before the first document.
			 */
			e.out_broken = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	sf_opts_finish(&so, &cfg);
	user = so.user;
	malloc_tune();
	e.stats_interval = cfg.stats_interval;
	e.stats_written = sf_time_now();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

	/* 1. Resources: listener, host facts, the process table. */
	if ((lfd = sock_listen_fd_from_env()) == -1) {
		if (listen_path == NULL)
			fatalx("no listening socket: give -l or LISTEN_FDS");
		lfd = sock_listen_path(listen_path);
	}
	if (evutil_make_socket_nonblocking(lfd) == -1)
		fatal("nonblocking listener");
	privdrop_lookup(agg_user != NULL ? agg_user : user, &au);
	e.agg_uid = au.uid;
	enr_host_load(&e.host, root);
	/* Not NSS: the sandbox would not let its modules work (enr_names.c). */
	if ((e.names = enr_names_new(root)) == NULL)
		fatalx("out of memory");
	if ((cfg.dns_enabled && (e.dns = enr_dns_new(DNS_NAMES_CAP)) == NULL) ||
	    (e.cgroups = enr_cgroups_new(CGROUPS_CAP)) == NULL)
		fatalx("out of memory");
	/* Before the sandbox, which has no directory reads. */
	enr_cgroups_scan(e.cgroups, "/proc/self/mounts");
	if ((e.inflight = enr_inflight_new(INFLIGHT_CAP)) == NULL)
		fatal("flows in flight table");
	if ((e.procs = enr_procs_new(PROC_TABLE_CAP, "/proc")) == NULL)
		fatalx("out of memory");
	enr_procs_scan(e.procs);
	/*
	 * Things libraries do once, lazily, that the sandbox would refuse:
	 * glibc reads /etc/localtime on the first time conversion, json-c
	 * seeds its hash tables on the first object.
	 */
	tzset();
	json_object_put(json_object_new_object());

	/* 2. Every object of the event loop. */
	if ((e.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	e.accept_ev = event_new(e.base, lfd, EV_READ | EV_PERSIST, accept_cb,
	    &e);
	e.expire_ev = event_new(e.base, -1, EV_PERSIST, expire_cb, &e);
	e.stop_ev = evtimer_new(e.base, stop_timeout_cb, &e);
	if ((e.orphan_ev = evtimer_new(e.base, orphan_cb, &e)) == NULL)
		fatalx("event setup");
	if ((e.flush_ev = evtimer_new(e.base, flush_cb, &e)) == NULL)
		fatalx("flush timer");
	e.sigterm_ev = evsignal_new(e.base, SIGTERM, signal_cb, &e);
	e.sigint_ev = evsignal_new(e.base, SIGINT, signal_cb, &e);
	e.sigusr1_ev = evsignal_new(e.base, SIGUSR1, stats_signal_cb, &e);
	if (e.accept_ev == NULL || event_add(e.accept_ev, NULL) == -1 ||
	    e.expire_ev == NULL || event_add(e.expire_ev, &etv) == -1 ||
	    e.stop_ev == NULL || e.sigterm_ev == NULL ||
	    event_add(e.sigterm_ev, NULL) == -1 || e.sigint_ev == NULL ||
	    event_add(e.sigint_ev, NULL) == -1 || e.sigusr1_ev == NULL ||
	    event_add(e.sigusr1_ev, NULL) == -1)
		fatalx("event setup");

	/* 3. Drop, verify, lock, sandbox. */
	enr_sandbox_enter(user);

	/* 4. Run. */
	event_base_dispatch(e.base);
	fatalx("event loop ended");
}

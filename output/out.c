/*
 * sockflow-output main: takes the enricher's JSON lines and hands each to
 * every configured output (console, file, syslog, kafka, elasticsearch).
 *
 * It is a process of its own so that the enricher, which parses what
 * other processes and the network put in front of it (DNS answers,
 * process names and arguments), never holds a network socket or a
 * writable file: shipping is the one job that needs both, and it parses
 * nothing but its own peers' replies.
 *
 Input: a pipe or FIFO of lines, handed over on fd 3 (LISTEN_FDS) by the
 * launcher (an anonymous pipe) or by systemd (sockflow-output.socket's
 * FIFO), or with -i the standard input until its end. The launcher or the
 * socket unit holds the pipe open across restarts of either side, so
 * lines wait in it while this process is started again. An enricher
 * killed in a write leaves a cut line there; the next enricher begins
 * with a newline (its -n), and the cut line, no longer an object, is
 * counted and dropped, never joined to the next. So is a line longer
 * than LINE_MAX_BYTES.
 *
 * Every output has its own bounded queue and counters: one that is slow
 * or down drops what does not fit and counts it, and never holds back the
 * reading or the other outputs. The stats document (every
 * sockflow.stats_interval, and on SIGUSR1) goes to every output like a
 * flow.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "log.h"
#include "out.h"
#include "out_main.h"
#include "privdrop.h"
#include "sfconfig.h"
#include "sock.h"
#include "timefmt.h"

/* A flow document is a few KB; this bounds a line that never ends. */
#define LINE_MAX_BYTES		(1024 * 1024)
#define STOP_DEADLINE_S		5

static const struct out_ops *const all_ops[] = {
	&out_console_ops, &out_file_ops, &out_syslog_ops, &out_kafka_ops,
	&out_es_ops,
};
#define NOPS	(sizeof(all_ops) / sizeof(all_ops[0]))

struct outputd {
	struct event_base	*base;
	struct event		*stats_ev;
	struct event		*sigterm_ev, *sigint_ev, *sigusr1_ev;
	struct bufferevent	*in;		/* the current writer */
	char			 host[256];
	const struct out_ops	*ops[NOPS];
	void			*out[NOPS];
	size_t			 nout;
	int			 skipping;	/* inside an overlong line */
	uint64_t		 lines;
	uint64_t		 bad_lines;	/* overlong, empty, not an object */
	uint64_t		 cut_lines;	/* ended by the writer's death */
	uint64_t		 no_memory;
	uint64_t		 stats_docs;
};

static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: sockflow-output [-div] [-f config] "
	    "[-o key=value] [-u user]\n");
	exit(2);
}

/* One document to every output; each takes its own reference. */
static void
dispatch(struct outputd *o, const char *line, size_t len)
{
	struct out_doc *d;
	size_t i;

	if ((d = out_doc_new(line, len)) == NULL) {
		o->no_memory++;
		return;
	}
	for (i = 0; i < o->nout; i++)
		o->ops[i]->push(o->out[i], d);
	out_doc_unref(d);
}

/*
 * A line is passed on if it looks like one JSON object; its content is
 * the enricher's, and the outputs send it as it is. What else arrives
 * (an empty line, a stray fragment) is counted, not shipped.
 */
static void
take_line(struct outputd *o, char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* The newline a new enricher begins with ends a cut line, if any. */
	if (len == 0)
		return;
	if (len < 2 || line[0] != '{' || line[len - 1] != '}' ||
	    memchr(line, '\0', len) != NULL) {
		o->bad_lines++;
		return;
	}
	o->lines++;
	dispatch(o, line, len);
}

static void
in_read_cb(struct bufferevent *bev, void *arg)
{
	struct outputd *o = arg;
	struct evbuffer *ib = bufferevent_get_input(bev);
	struct evbuffer_ptr p;
	size_t len;
	char *line;

	for (;;) {
		p = evbuffer_search_eol(ib, NULL, &len, EVBUFFER_EOL_LF);
		if (p.pos == -1) {
			/* No end in sight: drop what came, and the rest. */
			if (evbuffer_get_length(ib) > LINE_MAX_BYTES) {
				evbuffer_drain(ib, evbuffer_get_length(ib));
				if (!o->skipping)
					o->bad_lines++;
				o->skipping = 1;
			}
			return;
		}
		if (o->skipping || (size_t)p.pos > LINE_MAX_BYTES) {
			evbuffer_drain(ib, (size_t)p.pos + 1);
			if (!o->skipping)
				o->bad_lines++;
			o->skipping = 0;
			continue;
		}
		if ((line = (char *)evbuffer_pullup(ib, p.pos + 1)) == NULL) {
			o->no_memory++;
			evbuffer_drain(ib, (size_t)p.pos + 1);
			continue;
		}
		take_line(o, line, (size_t)p.pos);
		evbuffer_drain(ib, (size_t)p.pos + 1);
	}
}

static void	stop(struct outputd *);

/*
 * The end of the input: every writer is gone (the launcher or systemd,
 * which hold the pipe, are gone too, or -i's input ended).
 */
static void
in_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct outputd *o = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (evbuffer_get_length(bufferevent_get_input(bev)) != 0 ||
	    o->skipping)
		o->cut_lines++;
	o->skipping = 0;
	evbuffer_drain(bufferevent_get_input(bev),
	    evbuffer_get_length(bufferevent_get_input(bev)));
	stop(o);
}

static void
start_reading(struct outputd *o, int fd)
{
	if (evutil_make_socket_nonblocking(fd) == -1)
		fatal("nonblocking input");
	o->in = bufferevent_socket_new(o->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (o->in == NULL)
		fatalx("bufferevent_socket_new");
	bufferevent_setcb(o->in, in_read_cb, NULL, in_event_cb, o);
	bufferevent_enable(o->in, EV_READ);
}

/* The stats document: this process's counters and every output's. */
static void
write_stats(struct outputd *o)
{
	struct json_object *doc, *ev, *sf, *st, *outs, *oj, *h;
	struct out_counters c;
	const char *s;
	char ts[40];
	size_t i;

	sf_time_rfc3339(sf_time_now(), ts, sizeof(ts));
	o->stats_docs++;

	doc = json_object_new_object();
	json_object_object_add(doc, "@timestamp", json_object_new_string(ts));
	ev = json_object_new_object();
	json_object_object_add(ev, "kind", json_object_new_string("metric"));
	json_object_object_add(ev, "module",
	    json_object_new_string("sockflow"));
	json_object_object_add(ev, "dataset",
	    json_object_new_string("sockflow.stats"));
	json_object_object_add(doc, "event", ev);
	h = json_object_new_object();
	json_object_object_add(h, "name", json_object_new_string(o->host));
	json_object_object_add(doc, "host", h);
	sf = json_object_new_object();
	st = json_object_new_object();
	outs = json_object_new_object();
#define ADD(obj, n, v) json_object_object_add((obj), (n), \
	json_object_new_int64((int64_t)(v)))
	ADD(outs, "lines", o->lines);
	ADD(outs, "bad_lines", o->bad_lines);
	ADD(outs, "cut_lines", o->cut_lines);
	ADD(outs, "no_memory", o->no_memory);
	ADD(outs, "restarts", sf_restarts());
	for (i = 0; i < o->nout; i++) {
		memset(&c, 0, sizeof(c));
		o->ops[i]->counters(o->out[i], &c);
		oj = json_object_new_object();
		ADD(oj, "accepted", c.accepted);
		ADD(oj, "sent", c.sent);
		ADD(oj, "dropped_full", c.dropped_full);
		ADD(oj, "dropped_failed", c.dropped_failed);
		ADD(oj, "rejected", c.rejected);
		ADD(oj, "dead_lettered", c.dead_lettered);
		ADD(oj, "retries", c.retries);
		ADD(oj, "reconnects", c.reconnects);
		ADD(oj, "queued", c.queued);
		ADD(oj, "queue_cap", c.queue_cap);
		json_object_object_add(oj, "up", json_object_new_boolean(c.up));
		json_object_object_add(outs, o->ops[i]->name, oj);
	}
#undef ADD
	json_object_object_add(st, "output", outs);
	json_object_object_add(sf, "stats", st);
	json_object_object_add(doc, "sockflow", sf);
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	dispatch(o, s, strlen(s));
	json_object_put(doc);
}

static void
stats_cb(evutil_socket_t fd, short what, void *arg)
{
	write_stats(arg);
}

/* Close every output within one deadline, then exit. */
static void
stop(struct outputd *o)
{
	int64_t deadline = out_now() + STOP_DEADLINE_S * 1000000000LL;
	size_t i;

	/*
	 * What the pipe still holds: the writer's last lines, written before
	 * it was stopped (the launcher and systemd stop the enricher first).
	 * Read until the pipe is empty; its other end may stay open.
	 */
	if (o->in != NULL) {
		struct evbuffer *ib = bufferevent_get_input(o->in);
		int fd = bufferevent_getfd(o->in);

		bufferevent_disable(o->in, EV_READ);
		/* The bufferevent froze the end of its input for its own reads. */
		evbuffer_unfreeze(ib, 0);
		for (;;) {
			in_read_cb(o->in, o);
			if (evbuffer_get_length(ib) > LINE_MAX_BYTES ||
			    evbuffer_read(ib, fd, 64 * 1024) <= 0)
				break;
		}
		in_read_cb(o->in, o);
		if (evbuffer_get_length(ib) != 0)
			o->cut_lines++;
		bufferevent_free(o->in);
		o->in = NULL;
	}
	log_info("stopping: %llu lines, %llu bad, %llu cut",
	    (unsigned long long)o->lines, (unsigned long long)o->bad_lines,
	    (unsigned long long)o->cut_lines);
	for (i = 0; i < o->nout; i++)
		o->ops[i]->close(o->out[i], deadline);
	exit(0);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct outputd *o = arg;

	if (sig == SIGUSR1)
		write_stats(o);
	else
		stop(o);
}

/* One lookup of host, to load what glibc needs to resolve it. */
static void
preload_name(const char *host, size_t len)
{
	struct addrinfo hints, *res;
	char name[256];

	if (len == 0 || len >= sizeof(name))
		return;
	memcpy(name, host, len);
	name[len] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) == 0)
		freeaddrinfo(res);
}

/*
 * Libraries that resolve names (libcurl, librdkafka) load glibc's NSS
 * modules on the first lookup, which maps code: every configured host is
 * looked up once here, before the sandbox forbids executable mappings,
 * so that the modules its lookups go through are loaded. list is
 * "host:port,..." or "scheme://[user@]host[:port]/...,...".
 */
static void
preload_resolver(const char *list)
{
	const char *p = list, *end, *h, *e;

	while (*p != '\0') {
		end = p + strcspn(p, ",");
		h = p;
		if ((e = memchr(h, '/', (size_t)(end - h))) != NULL &&
		    e + 1 < end && e[1] == '/')
			h = e + 2;
		if ((e = memchr(h, '@', (size_t)(end - h))) != NULL)
			h = e + 1;
		if (*h == '[') {
			h++;
			e = memchr(h, ']', (size_t)(end - h));
		} else
			e = h + strcspn(h, ":/,");
		if (e != NULL && e <= end)
			preload_name(h, (size_t)(e - h));
		p = *end == ',' ? end + 1 : end;
	}
}

int
main(int argc, char *argv[])
{
	struct outputd o;
	struct privdrop_user u;
	const char *user;
	struct sf_opts so = { .verbose = 1 };
	struct sf_config cfg;
	char err[512];
	size_t i;
	int ch, in = -1;

	log_init("sockflow-output", so.verbose);
	/* "sockflow stats" before the loop handles it must not kill. */
	signal(SIGUSR1, SIG_IGN);
	memset(&o, 0, sizeof(o));
	while ((ch = getopt(argc, argv, "df:io:u:v")) != -1) {
		if (sf_opts_take(&so, ch, optarg))
			continue;
		switch (ch) {
		case 'i':
			in = STDIN_FILENO;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	sf_opts_finish(&so, &cfg);
	user = so.user;
	signal(SIGPIPE, SIG_IGN);

	/* 1. The input; facts read once. */
	if (in == -1 && (in = sock_listen_fd_from_env()) == -1)
		fatalx("no input: give -i, or a pipe on fd 3 with LISTEN_FDS");
	privdrop_lookup(user, &u);
	if (gethostname(o.host, sizeof(o.host)) == -1)
		o.host[0] = '\0';
	o.host[sizeof(o.host) - 1] = '\0';
	tzset();
	json_object_put(json_object_new_object());
	preload_resolver("localhost");
	if (cfg.kafka_enabled == 1)
		preload_resolver(cfg.kafka_hosts);
	if (cfg.es_enabled == 1)
		preload_resolver(cfg.es_hosts);

	/* 2. Drop: the outputs open their files and sockets as the user. */
	privdrop_to_user(&u);
	if ((o.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	for (i = 0; i < NOPS; i++) {
		if (!all_ops[i]->enabled(&cfg))
			continue;
		if ((o.out[o.nout] = all_ops[i]->open(o.base, &cfg, err,
		    sizeof(err))) == NULL)
			fatalx("output %s: %s", all_ops[i]->name, err);
		o.ops[o.nout++] = all_ops[i];
	}
	if (o.nout == 0)
		fatalx("no output is enabled");

	/* 3. The loop's events. */
	o.sigterm_ev = evsignal_new(o.base, SIGTERM, signal_cb, &o);
	o.sigint_ev = evsignal_new(o.base, SIGINT, signal_cb, &o);
	o.sigusr1_ev = evsignal_new(o.base, SIGUSR1, signal_cb, &o);
	if (o.sigterm_ev == NULL || event_add(o.sigterm_ev, NULL) == -1 ||
	    o.sigint_ev == NULL || event_add(o.sigint_ev, NULL) == -1 ||
	    o.sigusr1_ev == NULL || event_add(o.sigusr1_ev, NULL) == -1)
		fatalx("signal events");
	if (cfg.stats_interval != 0) {
		struct timeval tv;

		tv.tv_sec = cfg.stats_interval / 1000000000LL;
		tv.tv_usec = (cfg.stats_interval % 1000000000LL) / 1000;
		o.stats_ev = event_new(o.base, -1, EV_PERSIST, stats_cb, &o);
		if (o.stats_ev == NULL || event_add(o.stats_ev, &tv) == -1)
			fatalx("stats timer");
	}
	start_reading(&o, in);

	/* 4. Sandbox, for every thread the outputs started, and run. */
	out_sandbox_enter(&cfg);
	log_info("shipping to %zu output(s)", o.nout);
	event_base_dispatch(o.base);
	fatalx("event loop ended");
}

/*
 * Configuration file and command-line options. See sfconfig.h.
 *
 * The file is read with libyaml's document loader, which keeps the line
 * of every node, so each error can name where it is. Values go into a
 * scratch copy that replaces the caller's only when the whole file is good.
 */
#include "config.h"
#include "sfconfig.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <yaml.h>

#include "log.h"

#define NS	INT64_C(1)
#define MS	(INT64_C(1000000) * NS)
#define SEC	(1000 * MS)
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)

enum key_type {
	K_DURATION,
	K_INT,
	K_BOOL_AUTO,	/* true, false; absent = detect */
	K_PATH,		/* absolute path, or empty */
	K_NAME,		/* a user or interface name, or empty */
	K_CHOICE,	/* one of choices[], stored as its index */
	K_STRING,	/* printable, no blank, quote or backslash; or empty */
	K_MODE,		/* file permission bits, in octal */
	K_SECRET,	/* a K_STRING never written back by config_dump */
};

/* In the order of BACKEND_*. */
static const char *const backend_names[] = { "auto", "kprobe", "tracepoint",
    NULL };
static const char *const dns_types[] = { "af_packet", NULL };
static const char *const fsync_names[] = { "never", "rotate", "always", NULL };
static const char *const syslog_nets[] = { "unix", "udp", "tcp", NULL };
/* RFC 5424 facility codes are the indexes. */
static const char *const facilities[] = { "kern", "user", "mail", "daemon",
    "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
    "local3", "local4", "local5", "local6", "local7", NULL };
static const char *const compressions[] = { "none", "gzip", "snappy", "lz4",
    "zstd", NULL };
static const char *const es_ops[] = { "index", "create", NULL };

struct config_key {
	const char	*name;
	enum key_type	 type;
	size_t		 off;
	size_t		 size;		/* strings */
	int64_t		 min, max;	/* durations and integers */
	int64_t		 def;
	int		 zero_or_second;	/* 0 = off, else at least 1s */
	const char	*sdef;		/* strings: the default */
	const char *const *choices;	/* K_CHOICE, NULL-terminated */
};

#define O(f)	offsetof(struct sf_config, f)
#define S(f)	sizeof(((struct sf_config *)0)->f)

static const struct config_key keys[] = {
	/* The system/socket dataset's options, its names and defaults. */
	{ .name = "socket.flow_inactive_timeout", .type = K_DURATION,
	    .off = O(flow_inactive_timeout), .min = 100 * MS, .max = 24 * HOUR,
	    .def = 30 * SEC },
	{ .name = "socket.flow_termination_timeout", .type = K_DURATION,
	    .off = O(flow_termination_timeout), .max = HOUR, .def = 5 * SEC },
	{ .name = "socket.socket_inactive_timeout", .type = K_DURATION,
	    .off = O(socket_inactive_timeout), .min = 100 * MS,
	    .max = 7 * 24 * HOUR, .def = MIN },
	{ .name = "socket.perf_queue_size", .type = K_INT,
	    .off = O(perf_queue_size), .min = 1, .max = 1 << 24, .def = 4096 },
	{ .name = "socket.lost_queue_size", .type = K_INT,
	    .off = O(lost_queue_size), .min = 1, .max = 1 << 20, .def = 128 },
	{ .name = "socket.ring_size_exponent", .type = K_INT,
	    .off = O(ring_size_exponent), .min = 1, .max = 14, .def = 7 },
	{ .name = "socket.tracefs_path", .type = K_PATH,
	    .off = O(tracefs_path), .size = S(tracefs_path) },
	{ .name = "socket.enable_ipv6", .type = K_BOOL_AUTO,
	    .off = O(enable_ipv6), .def = -1 },
	{ .name = "socket.clock_max_drift", .type = K_DURATION,
	    .off = O(clock_max_drift), .min = 1 * MS, .max = MIN,
	    .def = 100 * MS },
	{ .name = "socket.clock_sync_period", .type = K_DURATION,
	    .off = O(clock_sync_period), .min = 100 * MS, .max = HOUR,
	    .def = 10 * SEC },
	{ .name = "socket.guess_timeout", .type = K_DURATION,
	    .off = O(guess_timeout), .min = 100 * MS, .max = 10 * MIN,
	    .def = 15 * SEC },
	{ .name = "socket.dns.enabled", .type = K_BOOL_AUTO,
	    .off = O(dns_enabled), .def = 1 },
	{ .name = "socket.dns.type", .type = K_CHOICE, .off = O(dns_type),
	    .choices = dns_types },
	{ .name = "socket.dns.af_packet.interface", .type = K_NAME,
	    .off = O(dns_interface), .size = S(dns_interface), .sdef = "any" },
	{ .name = "socket.dns.af_packet.snaplen", .type = K_INT,
	    .off = O(dns_snaplen), .min = 128, .max = 65535, .def = 1024 },
	{ .name = "socket.backend", .type = K_CHOICE, .off = O(backend),
	    .def = BACKEND_AUTO, .choices = backend_names },
	/* sockflow's own. */
	{ .name = "sockflow.flow_report_interval", .type = K_DURATION,
	    .off = O(flow_report_interval), .max = 7 * 24 * HOUR, .def = MIN,
	    .zero_or_second = 1 },
	{ .name = "sockflow.stats_interval", .type = K_DURATION,
	    .off = O(stats_interval), .max = 24 * HOUR, .def = MIN,
	    .zero_or_second = 1 },
	{ .name = "sockflow.user", .type = K_NAME, .off = O(user),
	    .size = S(user) },
	/* Outputs. */
	{ .name = "output.console.enabled", .type = K_BOOL_AUTO,
	    .off = O(console_enabled), .def = 1 },
	{ .name = "output.console.queue_size", .type = K_INT,
	    .off = O(console_queue_size), .min = 1, .max = 1 << 22,
	    .def = 4096 },
	{ .name = "output.file.enabled", .type = K_BOOL_AUTO,
	    .off = O(file_enabled), .def = 0 },
	{ .name = "output.file.path", .type = K_PATH, .off = O(file_path),
	    .size = S(file_path), .sdef = "/var/lib/sockflow" },
	{ .name = "output.file.filename", .type = K_NAME, .off = O(file_name),
	    .size = S(file_name), .sdef = "sockflow.ndjson" },
	{ .name = "output.file.rotate_every_kb", .type = K_INT,
	    .off = O(file_rotate_every_kb), .min = 1, .max = 1 << 30,
	    .def = 10240 },
	{ .name = "output.file.number_of_files", .type = K_INT,
	    .off = O(file_number_of_files), .min = 2, .max = 1024, .def = 7 },
	{ .name = "output.file.permissions", .type = K_MODE,
	    .off = O(file_permissions), .min = 0, .max = 0666, .def = 0600 },
	{ .name = "output.file.fsync", .type = K_CHOICE, .off = O(file_fsync),
	    .def = FSYNC_ROTATE, .choices = fsync_names },
	{ .name = "output.file.queue_size", .type = K_INT,
	    .off = O(file_queue_size), .min = 1, .max = 1 << 22, .def = 4096 },
	{ .name = "output.syslog.enabled", .type = K_BOOL_AUTO,
	    .off = O(syslog_enabled), .def = 0 },
	{ .name = "output.syslog.network", .type = K_CHOICE,
	    .off = O(syslog_network), .def = SYSLOG_NET_UNIX,
	    .choices = syslog_nets },
	{ .name = "output.syslog.address", .type = K_STRING,
	    .off = O(syslog_address), .size = S(syslog_address),
	    .sdef = "/dev/log" },
	{ .name = "output.syslog.facility", .type = K_CHOICE,
	    .off = O(syslog_facility), .def = 16, .choices = facilities },
	{ .name = "output.syslog.app_name", .type = K_NAME,
	    .off = O(syslog_app_name), .size = S(syslog_app_name),
	    .sdef = "sockflow" },
	{ .name = "output.syslog.queue_size", .type = K_INT,
	    .off = O(syslog_queue_size), .min = 1, .max = 1 << 22,
	    .def = 4096 },
	{ .name = "output.kafka.enabled", .type = K_BOOL_AUTO,
	    .off = O(kafka_enabled), .def = 0 },
	{ .name = "output.kafka.hosts", .type = K_STRING,
	    .off = O(kafka_hosts), .size = S(kafka_hosts),
	    .sdef = "localhost:9092" },
	{ .name = "output.kafka.topic", .type = K_NAME,
	    .off = O(kafka_topic), .size = S(kafka_topic), .sdef = "sockflow" },
	{ .name = "output.kafka.key", .type = K_NAME, .off = O(kafka_key),
	    .size = S(kafka_key), .sdef = "network.community_id" },
	{ .name = "output.kafka.required_acks", .type = K_INT,
	    .off = O(kafka_required_acks), .min = -1, .max = 1, .def = 1 },
	{ .name = "output.kafka.compression", .type = K_CHOICE,
	    .off = O(kafka_compression), .def = KAFKA_COMP_GZIP,
	    .choices = compressions },
	{ .name = "output.kafka.client_id", .type = K_NAME,
	    .off = O(kafka_client_id), .size = S(kafka_client_id),
	    .sdef = "sockflow" },
	{ .name = "output.kafka.timeout", .type = K_DURATION,
	    .off = O(kafka_timeout), .min = SEC, .max = HOUR, .def = 5 * MIN },
	{ .name = "output.kafka.queue_size", .type = K_INT,
	    .off = O(kafka_queue_size), .min = 1, .max = 1 << 22,
	    .def = 100000 },
	{ .name = "output.elasticsearch.enabled", .type = K_BOOL_AUTO,
	    .off = O(es_enabled), .def = 0 },
	{ .name = "output.elasticsearch.hosts", .type = K_STRING,
	    .off = O(es_hosts), .size = S(es_hosts),
	    .sdef = "http://localhost:9200" },
	{ .name = "output.elasticsearch.index", .type = K_NAME,
	    .off = O(es_index), .size = S(es_index), .sdef = "sockflow" },
	{ .name = "output.elasticsearch.op_type", .type = K_CHOICE,
	    .off = O(es_op_type), .def = ES_OP_CREATE, .choices = es_ops },
	{ .name = "output.elasticsearch.username", .type = K_NAME,
	    .off = O(es_username), .size = S(es_username) },
	{ .name = "output.elasticsearch.password", .type = K_SECRET,
	    .off = O(es_password), .size = S(es_password) },
	{ .name = "output.elasticsearch.ssl.certificate_authorities",
	    .type = K_PATH, .off = O(es_ssl_ca), .size = S(es_ssl_ca) },
	{ .name = "output.elasticsearch.ssl.verification", .type = K_BOOL_AUTO,
	    .off = O(es_ssl_verify), .def = 1 },
	{ .name = "output.elasticsearch.bulk_max_size", .type = K_INT,
	    .off = O(es_bulk_max_size), .min = 1, .max = 100000, .def = 1600 },
	{ .name = "output.elasticsearch.max_retries", .type = K_INT,
	    .off = O(es_max_retries), .min = 0, .max = 1000, .def = 3 },
	{ .name = "output.elasticsearch.backoff.init", .type = K_DURATION,
	    .off = O(es_backoff_init), .min = 10 * MS, .max = HOUR,
	    .def = SEC },
	{ .name = "output.elasticsearch.backoff.max", .type = K_DURATION,
	    .off = O(es_backoff_max), .min = 10 * MS, .max = HOUR,
	    .def = MIN },
	{ .name = "output.elasticsearch.timeout", .type = K_DURATION,
	    .off = O(es_timeout), .min = SEC, .max = HOUR, .def = 90 * SEC },
	{ .name = "output.elasticsearch.dead_letter_path", .type = K_PATH,
	    .off = O(es_dead_letter), .size = S(es_dead_letter) },
	{ .name = "output.elasticsearch.queue_size", .type = K_INT,
	    .off = O(es_queue_size), .min = 1, .max = 1 << 22,
	    .def = 16384 },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

void
config_defaults(struct sf_config *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NKEYS; i++) {
		const struct config_key *k = &keys[i];
		char *p = (char *)c + k->off;

		switch (k->type) {
		case K_DURATION:
		case K_INT:
			memcpy(p, &k->def, sizeof(int64_t));
			break;
		case K_BOOL_AUTO:
		case K_CHOICE: {
			int v = (int)k->def;

			memcpy(p, &v, sizeof(int));
			break;
		}
		case K_MODE:
			memcpy(p, &k->def, sizeof(int64_t));
			break;
		case K_PATH:
		case K_NAME:
		case K_STRING:
		case K_SECRET:
			if (k->sdef != NULL)
				snprintf(p, k->size, "%s", k->sdef);
			break;
		}
	}
}

int
config_needs_output(const struct sf_config *c)
{
	return c->file_enabled == 1 || c->syslog_enabled == 1 ||
	    c->kafka_enabled == 1 || c->es_enabled == 1;
}

int
config_parse_duration(const char *s, int64_t *ns)
{
	static const struct {
		const char	*unit;
		int64_t		 mult;
	} units[] = {
		{ "ns", NS }, { "us", 1000 * NS }, { "ms", MS }, { "s", SEC },
		{ "m", MIN }, { "h", HOUR },
	};
	int64_t total = 0;
	const char *p = s;

	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		int64_t v = 0, mult = 0;
		size_t i, ulen, best = 0;

		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (v > (INT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (*p++ - '0');
		}
		/* The longest unit that matches ("ms" before "m"). */
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			ulen = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, ulen) == 0 &&
			    ulen > best) {
				best = ulen;
				mult = units[i].mult;
			}
		}
		if (best == 0)
			return -1;
		p += best;
		if (v > INT64_MAX / mult || total > INT64_MAX - v * mult)
			return -1;
		total += v * mult;
	}
	*ns = total;
	return 0;
}

static const struct config_key *
find_key(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Apply one value; where is "FILE:LINE" or "command line". */
static int
set_value(struct sf_config *c, const char *where, const char *key,
    const char *val, char *err, size_t errsz)
{
	const struct config_key *k = find_key(key);
	char *p = (char *)c + (k ? k->off : 0);
	int64_t v;
	char *ep;
	size_t i, n;

	if (k == NULL) {
		seterr(err, errsz, "%s: unknown option %s", where, key);
		return -1;
	}
	switch (k->type) {
	case K_DURATION:
		if (config_parse_duration(val, &v) == -1) {
			seterr(err, errsz, "%s: %s: \"%s\" is not a duration "
			    "(like 30s, 1m30s, 100ms)", where, key, val);
			return -1;
		}
		if (v < k->min || v > k->max) {
			seterr(err, errsz, "%s: %s: %s is out of range (%"
			    PRId64 "ms to %" PRId64 "ms)", where, key, val,
			    k->min / MS, k->max / MS);
			return -1;
		}
		if (k->zero_or_second && v != 0 && v < SEC) {
			seterr(err, errsz, "%s: %s: %s is out of range (0s "
			    "for never, or at least 1s)", where, key, val);
			return -1;
		}
		memcpy(p, &v, sizeof(v));
		return 0;
	case K_INT:
		errno = 0;
		v = strtoll(val, &ep, 10);
		if (errno != 0 || ep == val || *ep != '\0') {
			seterr(err, errsz, "%s: %s: \"%s\" is not an integer",
			    where, key, val);
			return -1;
		}
		if (v < k->min || v > k->max) {
			seterr(err, errsz, "%s: %s: %s is out of range (%"
			    PRId64 " to %" PRId64 ")", where, key, val, k->min,
			    k->max);
			return -1;
		}
		memcpy(p, &v, sizeof(v));
		return 0;
	case K_MODE:
		errno = 0;
		v = strtoll(val, &ep, 8);
		if (errno != 0 || ep == val || *ep != '\0' || val[0] != '0' ||
		    v < k->min || v > k->max) {
			seterr(err, errsz, "%s: %s: \"%s\" is not a mode in "
			    "octal from 0 to 0%llo (like 0600)", where, key, val,
			    (unsigned long long)k->max);
			return -1;
		}
		memcpy(p, &v, sizeof(v));
		return 0;
	case K_BOOL_AUTO: {
		int b;

		if (strcmp(val, "true") == 0)
			b = 1;
		else if (strcmp(val, "false") == 0)
			b = 0;
		else {
			seterr(err, errsz, "%s: %s: \"%s\" is not true or "
			    "false", where, key, val);
			return -1;
		}
		memcpy(p, &b, sizeof(b));
		return 0;
	}
	case K_CHOICE: {
		char list[128];
		size_t off = 0;
		int b;

		for (b = 0; k->choices[b] != NULL; b++)
			if (strcmp(val, k->choices[b]) == 0) {
				memcpy(p, &b, sizeof(b));
				return 0;
			}
		list[0] = '\0';
		for (b = 0; k->choices[b] != NULL && off < sizeof(list); b++)
			off += (size_t)snprintf(list + off, sizeof(list) - off,
			    "%s%s", b == 0 ? "" : k->choices[b + 1] == NULL ?
			    " or " : ", ", k->choices[b]);
		seterr(err, errsz, "%s: %s: \"%s\" is not %s%s", where, key,
		    val, b > 1 ? "one of " : "", list);
		return -1;
	}
	case K_PATH:
	case K_NAME:
	case K_STRING:
	case K_SECRET:
		n = strlen(val);
		if (n >= k->size) {
			seterr(err, errsz, "%s: %s: value too long", where, key);
			return -1;
		}
		/*
		 * No quote or backslash either: the configuration's dump
		 * (sockflow -n) writes values in double quotes, and must load
		 * back as it was.
		 */
		for (i = 0; i < n; i++)
			if ((unsigned char)val[i] <= ' ' ||
			    (unsigned char)val[i] >= 0x7f || val[i] == '"' ||
			    val[i] == '\\') {
				seterr(err, errsz, "%s: %s: bad character in "
				    "value", where, key);
				return -1;
			}
		if (k->type == K_PATH && n > 0 && val[0] != '/') {
			seterr(err, errsz, "%s: %s: not an absolute path",
			    where, key);
			return -1;
		}
		if (k->type == K_NAME && n > 0 && (strchr(val, '/') ||
		    strchr(val, ':'))) {
			seterr(err, errsz, "%s: %s: bad name", where, key);
			return -1;
		}
		memcpy(p, val, n + 1);
		return 0;
	}
	return -1;
}

/* Walk a mapping; nested mappings extend the dotted prefix. */
static int
walk(struct sf_config *c, const char *name, yaml_document_t *doc,
    yaml_node_t *map, const char *prefix, int depth, char *err, size_t errsz)
{
	yaml_node_pair_t *pair;

	if (depth > 4) {
		seterr(err, errsz, "%s:%lu: nested too deeply", name,
		    (unsigned long)map->start_mark.line + 1);
		return -1;
	}
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(doc, pair->value);
		char key[256], where[300];
		unsigned long line;

		if (k == NULL || v == NULL)
			continue;
		line = (unsigned long)k->start_mark.line + 1;
		snprintf(where, sizeof(where), "%s:%lu", name, line);
		if (k->type != YAML_SCALAR_NODE) {
			seterr(err, errsz, "%s: a key must be a name", where);
			return -1;
		}
		if ((size_t)snprintf(key, sizeof(key), "%s%s", prefix,
		    (const char *)k->data.scalar.value) >= sizeof(key)) {
			seterr(err, errsz, "%s: key too long", where);
			return -1;
		}
		if (v->type == YAML_MAPPING_NODE) {
			char sub[260];

			snprintf(sub, sizeof(sub), "%s.", key);
			if (walk(c, name, doc, v, sub, depth + 1, err,
			    errsz) == -1)
				return -1;
		} else if (v->type == YAML_SCALAR_NODE) {
			if (strlen((const char *)v->data.scalar.value) !=
			    v->data.scalar.length) {
				seterr(err, errsz, "%s: %s: NUL in value",
				    where, key);
				return -1;
			}
			if (set_value(c, where, key,
			    (const char *)v->data.scalar.value, err,
			    errsz) == -1)
				return -1;
		} else {
			seterr(err, errsz, "%s: %s: lists are not accepted",
			    where, key);
			return -1;
		}
	}
	return 0;
}

int
config_load_buffer(struct sf_config *cfg, const char *name, const char *buf,
    size_t len, char *err, size_t errsz)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct sf_config tmp = *cfg;
	int rv = -1;

	if (!yaml_parser_initialize(&parser)) {
		seterr(err, errsz, "%s: cannot initialise the YAML parser",
		    name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		seterr(err, errsz, "%s:%lu: %s", name,
		    (unsigned long)parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "YAML error");
		yaml_parser_delete(&parser);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		/* An empty file: every option keeps its value. */
		rv = 0;
	} else if (root->type != YAML_MAPPING_NODE) {
		seterr(err, errsz, "%s:%lu: the file must be a mapping of "
		    "options", name, (unsigned long)root->start_mark.line + 1);
	} else if (walk(&tmp, name, &doc, root, "", 0, err, errsz) == 0) {
		rv = 0;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rv == 0)
		*cfg = tmp;
	return rv;
}

int
config_load_file(struct sf_config *cfg, const char *path, char *err,
    size_t errsz)
{
	char *buf;
	size_t len;
	FILE *f;
	int rv;

	if ((f = fopen(path, "r")) == NULL) {
		seterr(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(1024 * 1024 + 1);
	if (buf == NULL) {
		fclose(f);
		seterr(err, errsz, "%s: out of memory", path);
		return -1;
	}
	len = fread(buf, 1, 1024 * 1024 + 1, f);
	fclose(f);
	if (len > 1024 * 1024) {
		free(buf);
		seterr(err, errsz, "%s: larger than 1 MiB", path);
		return -1;
	}
	rv = config_load_buffer(cfg, path, buf, len, err, errsz);
	free(buf);
	return rv;
}

int
config_set_arg(struct sf_config *cfg, const char *arg, char *err,
    size_t errsz)
{
	const char *eq = strchr(arg, '=');
	char key[128];

	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
		seterr(err, errsz, "command line: \"%s\" is not key=value", arg);
		return -1;
	}
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	return set_value(cfg, "command line", key, eq + 1, err, errsz);
}

static void
dump_duration(FILE *f, int64_t ns)
{
	if (ns == 0)
		fprintf(f, "0s");
	else if (ns % HOUR == 0)
		fprintf(f, "%" PRId64 "h", ns / HOUR);
	else if (ns % MIN == 0)
		fprintf(f, "%" PRId64 "m", ns / MIN);
	else if (ns % SEC == 0)
		fprintf(f, "%" PRId64 "s", ns / SEC);
	else if (ns % MS == 0)
		fprintf(f, "%" PRId64 "ms", ns / MS);
	else
		fprintf(f, "%" PRId64 "ns", ns);
}

void
config_dump(const struct sf_config *c, FILE *f)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const struct config_key *k = &keys[i];
		const char *p = (const char *)c + k->off;
		int64_t v;
		int b;

		switch (k->type) {
		case K_DURATION:
			memcpy(&v, p, sizeof(v));
			fprintf(f, "%s: ", k->name);
			dump_duration(f, v);
			fputc('\n', f);
			break;
		case K_INT:
			memcpy(&v, p, sizeof(v));
			fprintf(f, "%s: %" PRId64 "\n", k->name, v);
			break;
		case K_BOOL_AUTO:
			memcpy(&b, p, sizeof(b));
			if (b == -1)
				fprintf(f, "# %s: (detected at start)\n",
				    k->name);
			else
				fprintf(f, "%s: %s\n", k->name,
				    b ? "true" : "false");
			break;
		case K_PATH:
		case K_NAME:
		case K_STRING:
			fprintf(f, "%s: \"%s\"\n", k->name, p);
			break;
		case K_SECRET:
			fprintf(f, "# %s: (%s)\n", k->name,
			    *p ? "set, not shown" : "not set");
			break;
		case K_MODE:
			memcpy(&v, p, sizeof(v));
			fprintf(f, "%s: \"0%03llo\"\n", k->name,
			    (unsigned long long)v);
			break;
		case K_CHOICE:
			memcpy(&b, p, sizeof(b));
			fprintf(f, "%s: %s\n", k->name, k->choices[b]);
			break;
		}
	}
}

void
config_args_set(struct config_args *ca, char *kv)
{
	if (ca->nsets == CONFIG_MAX_SETS)
		fatalx("too many -o options (at most %d)", CONFIG_MAX_SETS);
	ca->sets[ca->nsets++] = kv;
}

int
sf_opts_take(struct sf_opts *o, int ch, char *arg)
{
	switch (ch) {
	case 'd':
		o->verbose = 2;
		return 1;
	case 'f':
		o->ca.path = arg;
		return 1;
	case 'o':
		config_args_set(&o->ca, arg);
		return 1;
	case 'u':
		o->user = arg;
		return 1;
	case 'v':
		o->verbose++;
		return 1;
	}
	return 0;
}

void
sf_opts_finish(struct sf_opts *o, struct sf_config *cfg)
{
	log_setverbose(o->verbose);
	config_init(cfg, &o->ca);
	if (o->user == NULL && cfg->user[0] != '\0')
		o->user = cfg->user;
}

void
config_init(struct sf_config *cfg, const struct config_args *ca)
{
	const char *path = ca->path;
	char err[512];
	int i;

	config_defaults(cfg);
	if (path == NULL) {
		/* The default file is optional; a named one is not. */
		if (access(CONFIG_DEFAULT_PATH, F_OK) == 0)
			path = CONFIG_DEFAULT_PATH;
	}
	if (path != NULL && config_load_file(cfg, path, err, sizeof(err)))
		fatalx("%s", err);
	for (i = 0; i < ca->nsets; i++)
		if (config_set_arg(cfg, ca->sets[i], err, sizeof(err)) == -1)
			fatalx("%s", err);
}

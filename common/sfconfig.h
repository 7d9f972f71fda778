/*
 * sockflow's configuration: one YAML file (default
 * /etc/sockflow/sockflow.yml) with the system/socket dataset's option
 * names and defaults plus sockflow's own, overridable with key=value pairs
 * on the command line. Keys may be written dotted ("socket.x: 1") or
 * nested ("socket: {x: 1}"). An unknown key or a bad value is an error
 * naming the file, the line and the key; nothing is half-applied.
 *
 * Every component parses the same file itself, before dropping its
 * privileges, and uses the options that concern it.
 */
#ifndef SOCKFLOW_SFCONFIG_H
#define SOCKFLOW_SFCONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH	"/etc/sockflow/sockflow.yml"
/* Most key=value overrides one command line may carry. */
#define CONFIG_MAX_SETS		32

struct sf_config {
	int64_t	flow_inactive_timeout;		/* ns */
	int64_t	flow_termination_timeout;	/* ns */
	int64_t	socket_inactive_timeout;	/* ns */
	int64_t	perf_queue_size;
	int64_t	lost_queue_size;
	int64_t	ring_size_exponent;
	char	tracefs_path[200];		/* "" = find it */
	int	enable_ipv6;			/* -1 = detect */
	int64_t	clock_max_drift;		/* ns */
	int64_t	clock_sync_period;		/* ns */
	int64_t	flow_report_interval;		/* ns, 0 = never */
	int64_t	stats_interval;			/* ns, 0 = never */
	char	user[64];			/* "" = sockflow or nobody */
	int	backend;			/* BACKEND_* */
	int64_t	guess_timeout;			/* ns */
	int	dns_enabled;
	int	dns_type;			/* DNS_TYPE_* */
	char	dns_interface[16];		/* "any" or a name */
	int64_t	dns_snaplen;

	/* Outputs (sockflow-output); several may be on at once. */
	int	console_enabled;
	int64_t	console_queue_size;		/* documents */
	int	file_enabled;
	char	file_path[200];			/* directory */
	char	file_name[64];
	int64_t	file_rotate_every_kb;
	int64_t	file_number_of_files;
	int64_t	file_permissions;		/* mode bits */
	int	file_fsync;			/* FSYNC_* */
	int64_t	file_queue_size;
	int	syslog_enabled;
	int	syslog_network;			/* SYSLOG_NET_* */
	char	syslog_address[200];		/* path, or host:port */
	int	syslog_facility;		/* RFC 5424 code */
	char	syslog_app_name[49];
	int64_t	syslog_queue_size;
	int	kafka_enabled;
	char	kafka_hosts[512];		/* host:port,host:port */
	char	kafka_topic[250];
	char	kafka_key[128];			/* dotted field; "" = none */
	int64_t	kafka_required_acks;		/* -1, 0 or 1 */
	int	kafka_compression;		/* KAFKA_COMP_* */
	char	kafka_client_id[64];
	int64_t	kafka_timeout;			/* ns, per message */
	int64_t	kafka_queue_size;
	int	es_enabled;
	char	es_hosts[512];			/* URL,URL */
	char	es_index[200];
	int	es_op_type;			/* ES_OP_* */
	char	es_username[64];
	char	es_password[128];
	char	es_ssl_ca[200];			/* "" = the system's */
	int	es_ssl_verify;
	int64_t	es_bulk_max_size;		/* documents per request */
	int64_t	es_max_retries;
	int64_t	es_backoff_init;		/* ns */
	int64_t	es_backoff_max;			/* ns */
	int64_t	es_timeout;			/* ns, per request */
	char	es_dead_letter[200];		/* file; "" = drop, counted */
	int64_t	es_queue_size;
};

/* output.file.fsync */
#define FSYNC_NEVER		0
#define FSYNC_ROTATE		1	/* before each rotation and at stop */
#define FSYNC_ALWAYS		2	/* after every write */

/* output.syslog.network */
#define SYSLOG_NET_UNIX		0
#define SYSLOG_NET_UDP		1
#define SYSLOG_NET_TCP		2

/* output.kafka.compression */
#define KAFKA_COMP_NONE		0
#define KAFKA_COMP_GZIP		1
#define KAFKA_COMP_SNAPPY	2
#define KAFKA_COMP_LZ4		3
#define KAFKA_COMP_ZSTD		4

/* output.elasticsearch.op_type */
#define ES_OP_INDEX		0
#define ES_OP_CREATE		1	/* data streams need it */

/* socket.dns.type */
#define DNS_TYPE_AF_PACKET	0

/* socket.backend: which kernel instrumentation the probe uses. */
#define BACKEND_AUTO		0	/* kprobes where the kernel has them */
#define BACKEND_KPROBE		1
#define BACKEND_TRACEPOINT	2

void	config_defaults(struct sf_config *);
/*
 * Load a file over the current values. Returns 0, or -1 with a message
 * "FILE:LINE: ..." in err; on error *cfg is unchanged.
 */
int	config_load_file(struct sf_config *, const char *path, char *err,
	    size_t errsz);
/* Parse the same from a buffer; name is used in messages. */
int	config_load_buffer(struct sf_config *, const char *name,
	    const char *buf, size_t len, char *err, size_t errsz);
/* Apply one "key=value" from the command line. */
int	config_set_arg(struct sf_config *, const char *arg, char *err,
	    size_t errsz);
/* Whether any output other than the console is on. */
int	config_needs_output(const struct sf_config *);
/* Write the effective configuration as YAML (dotted keys). */
void	config_dump(const struct sf_config *, FILE *);
/* What the command line said of the configuration: -f and every -o. */
struct config_args {
	const char	*path;			/* NULL: the default file */
	char		*sets[CONFIG_MAX_SETS];	/* "key=value" */
	int		 nsets;
};

/* Record one -o key=value; fatal past CONFIG_MAX_SETS. */
void	config_args_set(struct config_args *, char *);
/*
 * Defaults, then the file (the one named, or the default file when it
 * exists), then each -o; any error is fatal with its message.
 */
void	config_init(struct sf_config *, const struct config_args *);
/*
 * The options every program takes alike: -d (debug), -f file, -o
 * key=value, -u user, -v (more messages).
 */
struct sf_opts {
	struct config_args	 ca;
	const char		*user;		/* -u, NULL when not given */
	int			 verbose;	/* the caller sets the start */
};
/* Take one of them: 1 when ch was one of them, 0 when it is the caller's. */
int	sf_opts_take(struct sf_opts *, int ch, char *arg);
/*
 * After the options: the verbosity, the configuration (config_init), and
 * the user from it when -u did not name one.
 */
void	sf_opts_finish(struct sf_opts *, struct sf_config *);
/* Parse a duration ("30s", "1m30s", "100ms", "2h"); -1 when invalid. */
int	config_parse_duration(const char *, int64_t *ns);

#endif

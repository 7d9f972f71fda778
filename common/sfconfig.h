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
};

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
/* Parse a duration ("30s", "1m30s", "100ms", "2h"); -1 when invalid. */
int	config_parse_duration(const char *, int64_t *ns);

#endif

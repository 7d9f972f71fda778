/*
 * sockflow-probe: the only privileged process. It locates tracefs, opens
 * the tracepoints it needs on every online CPU with one perf ring per CPU,
 * drops every capability but CAP_SYS_ADMIN and CAP_NET_ADMIN, and forwards
 * raw ring records in batches to the aggregator. It parses nothing that
 * user space controls.
 */
#ifndef SOCKFLOW_PROBE_H
#define SOCKFLOW_PROBE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "msg.h"

#define PROBE_MAX_EVENTS	32

/* One tracepoint to open: where it lives and the in-kernel filter. */
struct probe_event {
	const char	*system;
	const char	*name;
	const char	*filter;
	int		 no_selftest;	/* loopback traffic does not fire it */
	uint32_t	 stack_user;	/* user stack bytes to take, 0 none */
};

/* probe_tracefs.c */
const char	*tracefs_locate(const char *configured);
int		 tracefs_read_event(const char *tracefs, const char *system,
		    const char *name, struct msg_format *out);

/* probe_perf.c */
struct perf_ring;
struct perf_set {
	struct perf_ring *rings;	/* one per online CPU */
	int		 nrings;
	int		*fds;		/* every event fd, for cleanup */
	int		 nfds;
	size_t		 ring_pages;
	int		 nevents;	/* tracepoints per CPU; fds[c * n + i] */
	struct perf_ring *nsrings;	/* namespaces of new tasks, per CPU */
	int		 nnsrings;
	uint8_t		*seen;		/* event ids sampled, a bitmap; the
					   start-up self-test's, else NULL */
	int		 sample_cgroup;	/* PERF_SAMPLE_CGROUP is on */
	uint32_t	*stack_user;	/* per event, as opened */
};
typedef void (*perf_batch_cb)(const struct msg_samples *, void *);

int		 perf_online_cpus(int *cpus, int max);
void		 perf_open(struct perf_set *, const int *cpus, int ncpus,
		    const struct msg_formats *, const struct probe_event *,
		    int ring_exponent);
void		 perf_enable(struct perf_set *);
void		 perf_close(struct perf_set *);
/* Open one event on one CPU with its filter, and close it: would it work? */
int		 perf_try_event(uint32_t id, int cpu, const char *filter,
		    char *err, size_t errsz);
int		 perf_ring_fd(const struct perf_set *, int idx);
int		 perf_ring_cpu(const struct perf_set *, int idx);
/*
 * Copy out every complete record of a ring; full batches go to cb, the
 * last one waits for perf_drain_end, which says, when mark is set, up to
 * when the ring was drained (even with no records).
 */
size_t		 perf_drain(struct perf_set *, int idx, perf_batch_cb, void *);
void		 perf_drain_end(struct perf_set *, int idx, perf_batch_cb,
		    void *, int mark);
uint64_t	 perf_lost(const struct perf_set *, int idx);
uint64_t	 perf_corrupt(const struct perf_set *);
int		 perf_ns_ring_fd(const struct perf_set *, int idx);
/* Samples the kernel counted on each ring's CPU, into counts[nrings]. */
void		 perf_counts(const struct perf_set *, uint64_t *counts);
size_t		 perf_drain_ns(struct perf_set *, int idx);

/* probe_btf.c: struct layouts and prototypes from the kernel's BTF. */
struct btf;
struct btf_field {
	uint32_t	 offset;	/* bytes from the start of the struct */
	uint32_t	 size;		/* bytes; 0 when not fixed */
};
int		 btf_load(struct btf **, const char *path, char *err,
		    size_t errsz);
int		 btf_parse(struct btf **, const uint8_t *, size_t, char *err,
		    size_t errsz);
void		 btf_free(struct btf *);
/* "struct.member[.member...]", anonymous members looked through. */
int		 btf_member(const struct btf *, const char *path,
		    struct btf_field *, char *err, size_t errsz);
int		 btf_struct_size(const struct btf *, const char *name);
/* Index of a named parameter (0-based), or -1; *nparams, -1 if no func. */
int		 btf_func_param(const struct btf *, const char *func,
		    const char *param, int *nparams);
int		 btf_has_func(const struct btf *, const char *func);

/* probe_kprobe.c: kprobe events in a group of this process's own. */
int		 kprobe_supported(const char *tracefs);
/* The group's name and the suffix its events carry. */
void		 kprobe_group_name(char *, size_t, char *suffix, size_t);
/* "where" is "SYMBOL ARGS"; maxactive 0 is the kernel's default. */
int		 kprobe_add(const char *tracefs, const char *group,
		    const char *event, int retprobe, int maxactive,
		    const char *where, char *err, size_t errsz);
/* Remove a group's probes; how many, or -1 with a reason. */
int		 kprobe_remove_group(const char *tracefs, const char *group,
		    char *err, size_t errsz);
/* Remove the groups of sockflow probes that no longer run. */
int		 kprobe_remove_stale(const char *tracefs, char *err,
		    size_t errsz);
int		 kprobe_count_group(const char *tracefs, const char *group);
int		 kprobe_symbols_listed(const char *tracefs,
		    const char *const *syms, int n, int *listed);
int		 kprobe_profile(const char *tracefs, const char *group,
		    const char *event, uint64_t *hits, uint64_t *misses);

/* probe_backend.c: what each backend opens. */
struct backend {
	int			 kind;		/* BACKEND_KPROBE, _TRACEPOINT */
	struct probe_event	 events[PROBE_MAX_EVENTS];
	size_t			 nevents;
	char			 group[64];	/* sockflow_<pid>_<random> */
	const char		*kprobes[PROBE_MAX_EVENTS];	/* as planned */
	char			 knames[PROBE_MAX_EVENTS][64];	/* registered */
	size_t			 nkprobes;
	const char		*tracefs;
};
int		 backend_tracepoint_ok(const char *tracefs, char *why,
		    size_t whysz);
int		 backend_kprobe_ok(const char *tracefs, char *why,
		    size_t whysz);
/* BACKEND_KPROBE or BACKEND_TRACEPOINT, or -1; why says why. */
int		 backend_choose(int configured, const char *tracefs,
		    char *why, size_t whysz);
void		 backend_tracepoints(struct backend *, const char *tracefs,
		    int use_v6);
/* Register the kprobes (each also written to report when not NULL). */
int		 backend_kprobes(struct backend *, const char *tracefs,
		    int use_v6, FILE *report, char *err, size_t errsz);
void		 backend_kprobes_remove(struct backend *);
/* sockflow --check: print what this kernel offers; 0 if all is there. */
struct sf_config;
int		 backend_check(const struct sf_config *, const char *tracefs,
		    int use_v6, FILE *);

/* probe_selftest.c: every event delivers for the probe's own traffic. */
struct probe_selftest;
void		 selftest_traffic(int use_v6);
/* probe_diag.c: the sock_diag socket, and the start-up dump. */
int		 diag_open(void);
/* Dump the TCP sockets open now (IPv6 too when v6) to cb. */
void		 diag_dump(int v6, void (*cb)(const struct msg_diag *, void *),
		    void *arg);

/* probe_netns.c: ids for other network namespaces. */
struct netns_stats {
	uint64_t	 assigned;	/* ids given */
	uint64_t	 failed;	/* refused, or the process was gone */
	uint64_t	 forgotten;
	uint64_t	 lost;		/* namespaces records the kernel lost */
};
void		 netns_open(void);
void		 netns_seen(uint32_t pid, uint64_t ino, uint64_t now);
void		 netns_lost(void);
/* Each process's network namespace at start; empty it once sent. */
/* The latest namespace known of each process (arrays to msg_netns_free). */
void		 netns_current(struct msg_netns *);
const struct netns_stats *netns_stats(void);

/* probe_dns.c: the DNS capture sockets, into fds[2]; 0 when none. */
int		 dns_open(const struct sf_config *, int *fds);
void		 dns_read(int fd, void (*)(const struct msg_packets *, void *),
		    void *);
void		 dns_counters(struct msg_counter *, size_t *, size_t cap);

/* probe_privs.c */
/* Keep CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8) and CAP_NET_ADMIN. */
void		 probe_privs_drop(void);

#endif

/*
 * sockflow-enricher: unprivileged and seccomp-sandboxed. It receives flow
 * records and process events from the aggregator, attaches host and
 * process fields and writes one ECS JSON document per flow and line.
 */
#ifndef SOCKFLOW_ENR_H
#define SOCKFLOW_ENR_H

#include "timefmt.h"

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct json_object;

/* enr_host.c: facts about the machine, gathered once before the sandbox. */
struct enr_host {
	char	hostname[256];
	char	architecture[72];
	char	kernel[256];
	char	os_name[128];
	char	os_version[128];
	char	os_family[64];
	char	os_platform[64];
	char	os_codename[64];
	char	id[64];
};
void	enr_host_load(struct enr_host *, const char *root);

/* enr_proc.c: the process table. */
struct enr_procs;
struct enr_proc_info {
	char		comm[MSG_COMM_LEN + 1];
	uint32_t	ppid;
	int		have_comm;
	const char	*exe;		/* NULL when unknown; valid until the
					   table changes */
	int		have_creds;
	uint32_t	uid, gid, euid, egid;
	const uint8_t	*args;		/* NUL-ended strings, args_len bytes */
	size_t		args_len;
	uint32_t	argc;
	uint64_t	version;	/* changes whenever any of this does */
	int64_t		created;	/* wall ns the process started; 0 */
	const char	*boot_id;	/* with start_ticks, the entity id's */
	uint64_t	start_ticks;	/* start, clock ticks since boot */
	const char	*user_name;	/* of uid and gid, NULL when unknown */
	const char	*group_name;
	uint64_t	names_gen;	/* enr_names_gen() they came from */
};
struct enr_procs *enr_procs_new(size_t cap, const char *procroot);
void	enr_procs_free(struct enr_procs *);
/* Seed the table with every process running now. */
void	enr_procs_scan(struct enr_procs *);
void	enr_procs_event(struct enr_procs *, const struct msg_process *);
/* Look a pid up, falling back to /proc for a process we never saw. */
int	enr_procs_lookup(struct enr_procs *, uint32_t pid,
	    struct enr_proc_info *);
/* Forget processes that exited more than grace_ns before now_ns. */
void	enr_procs_expire(struct enr_procs *, int64_t now_ns, int64_t grace_ns);
size_t	enr_procs_count(const struct enr_procs *);
uint64_t enr_procs_full(const struct enr_procs *);

/* enr_inflight.c: flows the aggregator said are open, not yet final. */
struct enr_inflight;
struct enr_inflight_stats {
	uint64_t	noted;		/* flows announced and kept */
	uint64_t	full;		/* announced past the capacity */
	uint64_t	orphaned;	/* written as partial: the aggregator died */
};
struct enr_inflight *enr_inflight_new(size_t cap);
void	enr_inflight_free(struct enr_inflight *);
/* A notice, interim or final report: keep, refresh or forget the flow. */
void	enr_inflight_note(struct enr_inflight *, const struct msg_flow *);
/* Each flow still held to cb (none when NULL), and forget them all. */
void	enr_inflight_drain(struct enr_inflight *,
	    void (*cb)(const struct msg_flow *, void *), void *);
size_t	enr_inflight_count(const struct enr_inflight *);
const struct enr_inflight_stats *enr_inflight_stats(
	    const struct enr_inflight *);

/* enr_cid.c: a process's entity id, base64 of a hash of key. */
void		 enr_entity_id(const char *key, char *out, size_t outsz);

/* enr_names.c: user and group names from /etc/passwd and /etc/group. */
struct enr_names;
struct enr_names_stats {
	uint64_t	users, groups;	/* entries read */
	uint64_t	bad_lines;	/* lines skipped, over every read */
};
/* root: "/" or a directory standing for it (tests). */
struct enr_names *enr_names_new(const char *root);
void		 enr_names_free(struct enr_names *);
/* Read the files again if their content changed. */
void		 enr_names_refresh(struct enr_names *);
const char	*enr_names_user(const struct enr_names *, uint32_t uid);
const char	*enr_names_group(const struct enr_names *, uint32_t gid);
/* Changes whenever a name may have: what was made of them is stale. */
uint64_t	 enr_names_gen(const struct enr_names *);
const struct enr_names_stats *enr_names_stats(const struct enr_names *);

/* enr_jw.c: JSON text, written in order. */
#define JW_MAXDEPTH	16
struct jw {
	char	*buf;
	size_t	 len, cap;
	int	 depth;
	int	 first[JW_MAXDEPTH];
	int	 oom;			/* out of memory: the text is cut */
};
void	jw_reset(struct jw *);
void	jw_free(struct jw *);
/*
 * key is NULL for the document itself and for array elements. Keys are
 * the program's literals; their lengths are worked out when compiling.
 */
static inline size_t
jw_klen(const char *k)
{
	return k == NULL ? 0 : __builtin_strlen(k);
}
#define JW_KLEN(k)	jw_klen(k)
#define jw_open(w, k)		jw_open_((w), (k), JW_KLEN(k))
#define jw_open_array(w, k)	jw_open_array_((w), (k), JW_KLEN(k))
#define jw_str(w, k, v)		jw_str_((w), (k), JW_KLEN(k), (v))
#define jw_u64(w, k, v)		jw_u64_((w), (k), JW_KLEN(k), (v))
#define jw_i64(w, k, v)		jw_i64_((w), (k), JW_KLEN(k), (v))
#define jw_bool(w, k, v)	jw_bool_((w), (k), JW_KLEN(k), (v))
#define jw_raw(w, k, v)		jw_raw_((w), (k), JW_KLEN(k), (v))
#define jw_open_members(w, k, m) jw_open_members_((w), (k), JW_KLEN(k), (m))
void	jw_open_(struct jw *, const char *key, size_t klen);
void	jw_close(struct jw *);
void	jw_open_array_(struct jw *, const char *key, size_t klen);
void	jw_close_array(struct jw *);
void	jw_str_(struct jw *, const char *key, size_t klen, const char *v);
void	jw_u64_(struct jw *, const char *key, size_t klen, uint64_t v);
void	jw_i64_(struct jw *, const char *key, size_t klen, int64_t v);
void	jw_bool_(struct jw *, const char *key, size_t klen, int v);
/* A value that is JSON text already. */
void	jw_raw_(struct jw *, const char *key, size_t klen, const char *json);
/* An object whose first members are JSON text already; more may follow. */
void	jw_open_members_(struct jw *, const char *key, size_t klen,
	    const char *members);

/* enr_json.c: the ECS document of one flow, into w (reset first). */
/* What the enricher found for one flow besides its process; NULL: none. */
struct enr_flow_extra {
	const char	*local_domain;	/* names the process resolved */
	const char	*remote_domain;
	const char	*cgroup_path;
	const char	*container_id;
	const char	*container_runtime;
};
int	enr_json_flow(struct jw *w, const struct msg_flow *,
	    const struct enr_host *, const struct enr_proc_info *,
	    const struct enr_flow_extra *);

/* enr_cid.c: Community ID v1 into out (at least 32 bytes). */
int	enr_community_id(int family, const uint8_t *sip, const uint8_t *dip,
	    uint8_t proto, uint16_t sport, uint16_t dport, uint16_t seed,
	    char *out, size_t outsz);

/* enr_cgroup.c: cgroup paths by id, and the containers they are. */
struct enr_cgroups;
struct enr_cgroups *enr_cgroups_new(size_t cap);
void		 enr_cgroups_free(struct enr_cgroups *);
/* Walk the cgroup v2 mount named in mounts (a /proc/self/mounts). */
void		 enr_cgroups_scan(struct enr_cgroups *, const char *mounts);
void		 enr_cgroups_add(struct enr_cgroups *, uint64_t id,
		    const char *path);
/* The path of a cgroup, and the container it names (cid NULL: none). */
const char	*enr_cgroups_path(struct enr_cgroups *, uint64_t id,
		    const char **cid, const char **runtime);
size_t		 enr_cgroups_count(const struct enr_cgroups *);
uint64_t	 enr_cgroups_unknown(const struct enr_cgroups *);
uint64_t	 enr_cgroups_full(const struct enr_cgroups *);
/* The container id (64 hex digits) a cgroup path names, or -1. */
int		 enr_container_id(const char *path, char *id, size_t idsz,
		    const char **runtime);

/* enr_dns.c: the names processes resolved, from their DNS answers. */
struct enr_dns;
struct enr_dns_stats {
	uint64_t	messages;
	uint64_t	malformed[16];	/* by dns_err_name() */
	uint64_t	cut;		/* answers cut by the capture */
	uint64_t	name_too_long;
	uint64_t	queries;
	uint64_t	queries_evicted;	/* before an answer could come */
	uint64_t	responses;
	uint64_t	unmatched;	/* answers to no query seen */
	uint64_t	unqueried;	/* remote servers' answers taken by
					   their client's process alone */
	uint64_t	unattributed;	/* of no known process */
	uint64_t	names_added;
	uint64_t	names_evicted;	/* the table was full */
	uint64_t	names_expired;
	uint64_t	no_memory;
	uint64_t	flows_named;
};
struct enr_dns	*enr_dns_new(size_t cap);
void		 enr_dns_free(struct enr_dns *);
/* A DNS message; start: the start of process m->pid, 0 when unknown. */
void		 enr_dns_message(struct enr_dns *, const struct msg_dns *m,
		    uint64_t start);
/* The name process (pid, start) resolved to ip, fit for the flow. */
const char	*enr_dns_name(struct enr_dns *, uint32_t pid, uint64_t start,
		    uint8_t family, const uint8_t *ip, int64_t flow_start,
		    int64_t flow_end, int64_t now);
void		 enr_dns_expire(struct enr_dns *, int64_t now);
size_t		 enr_dns_count(const struct enr_dns *);
const struct enr_dns_stats *enr_dns_stats(const struct enr_dns *);

/* enr_sandbox.c */
void	enr_sandbox_enter(const char *user);
/* The seccomp policy, not loaded (tests/sandbox exports it). */
#include <seccomp.h>
scmp_filter_ctx enr_sandbox_policy(void);

#endif

/*
 * The ECS document of one flow, field-compatible with the system/socket
 * dataset: source/destination/client/server, network.*, event.*, flow.*,
 * process.*, host.*, system.audit.socket.*. Written as text in order
 * (enr_jw.c), strings escaped by json-c where they need it, so process
 * names (set by any process) cannot break the line.
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enr.h"

#define ECS_VERSION	"8.0.0"

/* An address as text: IPv4 by hand (inet_ntop goes through sprintf). */
static void
ip_text(int family, const uint8_t *ip, char *out, size_t outsz)
{
	char *p = out;
	int i;

	if (family != 4) {
		inet_ntop(AF_INET6, ip, out, (socklen_t)outsz);
		return;
	}
	for (i = 0; i < 4; i++) {
		unsigned int v = ip[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

static bool
packets_known(const struct msg_flow *f)
{
	return f->packet_source != FLOW_PKTS_NONE;
}

/*
 * One endpoint: address, port and what this side sent, as IP-level bytes
 * (payload plus headers, derived) and packets when the packets are known.
 */
static void
endpoint(struct jw *w, const char *key, const struct msg_flow *f,
    const struct flow_endpoint *e, bool ip_known, const char *domain)
{
	char ip[INET6_ADDRSTRLEN];

	jw_open(w, key);
	if (ip_known) {
		ip_text(f->family, e->ip, ip, sizeof(ip));
		jw_str(w, "ip", ip);
	}
	if (domain != NULL)
		jw_str(w, "domain", domain);
	if (e->port != 0)
		jw_u64(w, "port", e->port);
	if (packets_known(f)) {
		jw_u64(w, "bytes", e->ip_bytes);
		jw_u64(w, "packets", e->packets);
	}
	jw_close(w);
}

static void
add_nonempty(struct jw *w, const char *k, const char *v)
{
	if (v[0] != '\0')
		jw_str(w, k, v);
}

/*
 * process.args: the strings of the block, each ended by a NUL; a last
 * one the block cut short is left out. process.args_count is how many
 * the exec had, which may be more than the block holds.
 */
static void
args_json(struct jw *w, const struct enr_proc_info *pi)
{
	char arg[MSG_ARGS_LEN + 1];
	size_t i, start = 0;

	jw_open_array(w, "args");
	for (i = 0; i < pi->args_len; i++) {
		if (pi->args[i] != '\0')
			continue;
		memcpy(arg, pi->args + start, i - start);
		arg[i - start] = '\0';
		jw_str(w, NULL, arg);
		start = i + 1;
	}
	jw_close_array(w);
	jw_u64(w, "args_count", pi->argc);
}

/*
 * What a document says of its process, as text, made again only when the
 * process table changed something of it (its version): most flows come
 * from processes that made flows before.
 */
#define PROC_JSON_SLOTS	256

struct proc_json {
	uint64_t	version;
	uint64_t	names_gen;
	uint32_t	pid;
	struct jw	process, user, group;
};

/*
 * A member again under another key: the value of the member written at
 * [from, to) of the text (after its key).
 */
static int
again(struct jw *w, const char *key, size_t from, size_t to)
{
	char value[512];
	const char *v = memchr(w->buf + from, '{', to - from);
	size_t n;

	if (v == NULL || (n = (size_t)(w->buf + to - v)) >= sizeof(value))
		return -1;
	memcpy(value, v, n);
	value[n] = '\0';
	jw_raw_(w, key, strlen(key), value);
	return 0;
}

/* A text made, or an empty object when memory ran out making it. */
static const char *
jw_text(const struct jw *j)
{
	return j->buf != NULL && !j->oom ? j->buf : "{}";
}

static const struct proc_json *
process_json(uint32_t pid, const struct enr_proc_info *pi)
{
	static struct proc_json cache[PROC_JSON_SLOTS];
	struct proc_json *c = &cache[pid % PROC_JSON_SLOTS];
	char id[16];

	if (c->pid == pid && c->version == pi->version && pi->version != 0 &&
	    c->names_gen == pi->names_gen && c->process.buf != NULL)
		return c;
	jw_reset(&c->process);
	jw_open(&c->process, NULL);
	jw_u64(&c->process, "pid", pid);
	if (pi->have_comm)
		jw_str(&c->process, "name", pi->comm);
	if (pi->ppid != 0)
		jw_u64(&c->process, "ppid", pi->ppid);
	if (pi->exe != NULL)
		jw_str(&c->process, "executable", pi->exe);
	if (pi->args != NULL)
		args_json(&c->process, pi);
	if (pi->created != 0) {
		char created[40];

		sf_time_rfc3339(pi->created, created, sizeof(created));
		jw_str(&c->process, "created", created);
	}
	/*
	 * A stable id for the process: this boot, the pid and its start in
	 * clock ticks since boot (what /proc says, whichever way the start
	 * was learnt), hashed.
	 */
	if (pi->boot_id != NULL) {
		char key[96], eid[48];

		snprintf(key, sizeof(key), "%s:%u:%llu", pi->boot_id, pid,
		    (unsigned long long)pi->start_ticks);
		enr_entity_id(key, eid, sizeof(eid));
		jw_str(&c->process, "entity_id", eid);
	}
	jw_close(&c->process);
	jw_reset(&c->user);
	jw_open(&c->user, NULL);
	snprintf(id, sizeof(id), "%u", pi->uid);
	jw_str(&c->user, "id", id);
	if (pi->user_name != NULL)
		jw_str(&c->user, "name", pi->user_name);
	jw_close(&c->user);
	jw_reset(&c->group);
	jw_open(&c->group, NULL);
	snprintf(id, sizeof(id), "%u", pi->gid);
	jw_str(&c->group, "id", id);
	if (pi->group_name != NULL)
		jw_str(&c->group, "name", pi->group_name);
	jw_close(&c->group);
	/* A text cut short for want of memory is not kept (jw_text). */
	if (c->process.oom || c->user.oom || c->group.oom)
		c->version = 0;
	else {
		c->pid = pid;
		c->version = pi->version;
		c->names_gen = pi->names_gen;
	}
	return c;
}

/* The host object as JSON text, made again only when the facts change. */
static const char *
host_json(const struct enr_host *h)
{
	static struct enr_host cached;
	static struct jw w;
	static int made;

	if (made && memcmp(&cached, h, sizeof(cached)) == 0)
		return w.buf;
	jw_reset(&w);
	jw_open(&w, NULL);
	add_nonempty(&w, "name", h->hostname);
	add_nonempty(&w, "hostname", h->hostname);
	add_nonempty(&w, "architecture", h->architecture);
	add_nonempty(&w, "id", h->id);
	jw_open(&w, "os");
	add_nonempty(&w, "name", h->os_name);
	add_nonempty(&w, "version", h->os_version);
	add_nonempty(&w, "family", h->os_family);
	add_nonempty(&w, "platform", h->os_platform);
	add_nonempty(&w, "codename", h->os_codename);
	add_nonempty(&w, "kernel", h->kernel);
	jw_close(&w);
	jw_close(&w);
	if (w.oom)
		return "{}";
	cached = *h;
	made = 1;
	return w.buf;
}

int
enr_json_flow(struct jw *w, const struct msg_flow *f,
    const struct enr_host *h, const struct enr_proc_info *pi,
    const struct enr_flow_extra *x)
{
	static const struct enr_flow_extra none;
	const struct flow_endpoint *src, *dst;
	const char *src_domain, *dst_domain;
	char start[40], end[40], addr[32];
	const char *dir;
	bool src_known, dst_known;

	if (x == NULL)
		x = &none;
	sf_time_rfc3339(f->start_ns, start, sizeof(start));
	sf_time_rfc3339(f->end_ns, end, sizeof(end));
	jw_reset(w);
	jw_open(w, NULL);
	jw_str(w, "@timestamp", end);

	/*
	 * Source is the side that opened the connection when that is known
	 * (the dataset's convention), the local side otherwise.
	 */
	switch (f->direction) {
	case FLOW_DIR_INBOUND:
		src = &f->remote;
		dst = &f->local;
		src_known = f->remote_known;
		dst_known = f->local_ip_known;
		src_domain = x->remote_domain;
		dst_domain = x->local_domain;
		dir = "inbound";
		break;
	case FLOW_DIR_OUTBOUND:
		src = &f->local;
		dst = &f->remote;
		src_known = f->local_ip_known;
		dst_known = f->remote_known;
		src_domain = x->local_domain;
		dst_domain = x->remote_domain;
		dir = "outbound";
		break;
	default:
		src = &f->local;
		dst = &f->remote;
		src_known = f->local_ip_known;
		dst_known = f->remote_known;
		src_domain = x->local_domain;
		dst_domain = x->remote_domain;
		dir = "unknown";
		break;
	}
	{
		size_t s0, s1, d1;

		s0 = w->len;
		endpoint(w, "source", f, src, src_known, src_domain);
		s1 = w->len;
		endpoint(w, "destination", f, dst, dst_known, dst_domain);
		d1 = w->len;
		/* Client and server are source and destination again. */
		if (f->direction != FLOW_DIR_UNKNOWN) {
			if (w->oom || again(w, "client", s0, s1) == -1)
				endpoint(w, "client", f, src, src_known,
				    src_domain);
			if (w->oom || again(w, "server", s1, d1) == -1)
				endpoint(w, "server", f, dst, dst_known,
				    dst_domain);
		}
	}

	jw_open(w, "network");
	jw_str(w, "type", f->family == 4 ? "ipv4" : "ipv6");
	jw_str(w, "transport", f->transport == 6 ? "tcp" : "udp");
	jw_str(w, "direction", dir);
	if (packets_known(f)) {
		jw_u64(w, "bytes", f->local.ip_bytes + f->remote.ip_bytes);
		jw_u64(w, "packets", f->local.packets + f->remote.packets);
	}
	/* Community ID and related.ip need what is known of both ends. */
	if (src_known && dst_known && src->port != 0 && dst->port != 0) {
		char cid[40];

		if (enr_community_id(f->family, src->ip, dst->ip, f->transport,
		    src->port, dst->port, 0, cid, sizeof(cid)) == 0)
			jw_str(w, "community_id", cid);
	}
	jw_close(w);
	{
		char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

		jw_open(w, "related");
		jw_open_array(w, "ip");
		a[0] = b[0] = '\0';
		if (src_known) {
			ip_text(f->family, src->ip, a, sizeof(a));
			jw_str(w, NULL, a);
		}
		if (dst_known) {
			ip_text(f->family, dst->ip, b, sizeof(b));
			if (strcmp(a, b) != 0)
				jw_str(w, NULL, b);
		}
		jw_close_array(w);
		if (src_domain != NULL || dst_domain != NULL) {
			jw_open_array(w, "hosts");
			if (src_domain != NULL)
				jw_str(w, NULL, src_domain);
			if (dst_domain != NULL && (src_domain == NULL ||
			    strcmp(src_domain, dst_domain) != 0))
				jw_str(w, NULL, dst_domain);
			jw_close_array(w);
		}
		jw_close(w);
	}

	/*
	 * sockflow's own fields: the exact payload bytes each side sent, and
	 * where the counters come from.
	 */
	jw_open(w, "sockflow");
	jw_open(w, "source");
	jw_u64(w, "payload_bytes", src->bytes);
	jw_close(w);
	jw_open(w, "destination");
	jw_u64(w, "payload_bytes", dst->bytes);
	jw_close(w);
	jw_open(w, "counters");
	jw_str(w, "bytes", !packets_known(f) ? "payload_only" :
	    f->bytes_source == FLOW_BYTES_PER_PACKET ? "per_packet" :
	    f->bytes_source == FLOW_BYTES_PER_PACKET_DERIVED ?
	    "per_packet+derived" : "derived");
	jw_str(w, "packets", f->packet_source == FLOW_PKTS_DATAGRAMS ?
	    "datagrams" : f->packet_source == FLOW_PKTS_TCP_INFO ?
	    "tcp_info" : f->packet_source == FLOW_PKTS_TCP_INFO_TIMEWAIT ?
	    "tcp_info+timewait" : "unknown");
	jw_close(w);
	if (!f->remote_known)
		jw_bool(w, "remote_unknown", 1);
	if (f->existing)
		jw_bool(w, "existing", 1);
	if (f->disconnected)
		jw_bool(w, "tcp_disconnected", 1);
	if (f->remote_inferred)
		jw_bool(w, "remote_inferred", 1);
	if (f->samples_lost)
		jw_bool(w, "samples_lost", 1);
	if (f->orphaned)
		jw_bool(w, "aggregator_lost", 1);
	if (f->cgroup != 0) {
		jw_open(w, "cgroup");
		jw_u64(w, "id", f->cgroup);
		if (x->cgroup_path != NULL)
			jw_str(w, "path", x->cgroup_path);
		jw_close(w);
	}
	if (f->netns != 0)
		jw_u64(w, "netns", f->netns);
	jw_close(w);
	if (x->container_id != NULL) {
		jw_open(w, "container");
		jw_str(w, "id", x->container_id);
		if (x->container_runtime != NULL)
			jw_str(w, "runtime", x->container_runtime);
		jw_close(w);
	}

	/* The constant part of event, then its times. */
	jw_open_members(w, "event", "\"kind\":\"event\","
	    "\"action\":\"network_flow\",\"category\":\"network\","
	    "\"module\":\"system\",\"dataset\":\"socket\"");
	jw_str(w, "start", start);
	jw_str(w, "end", end);
	jw_i64(w, "duration", f->end_ns - f->start_ns);
	jw_close(w);

	jw_open(w, "flow");
	jw_bool(w, "final", f->final);
	jw_bool(w, "complete", f->complete);
	jw_close(w);

	if (f->pid != 0 && pi != NULL) {
		const struct proc_json *pj = process_json(f->pid, pi);

		jw_raw(w, "process", jw_text(&pj->process));
		if (pi->have_creds) {
			jw_raw(w, "user", jw_text(&pj->user));
			jw_raw(w, "group", jw_text(&pj->group));
		}
	} else if (f->pid != 0) {
		jw_open(w, "process");
		jw_u64(w, "pid", f->pid);
		jw_close(w);
	}

	jw_raw(w, "host", host_json(h));
	jw_raw(w, "agent", "{\"type\":\"sockflow\",\"version\":\""
	    PACKAGE_VERSION "\"}");
	jw_raw(w, "ecs", "{\"version\":\"" ECS_VERSION "\"}");
	jw_raw(w, "service", "{\"type\":\"system\"}");

	{
		static const char hex[] = "0123456789abcdef";
		int i;

		addr[0] = '0';
		addr[1] = 'x';
		for (i = 0; i < 16; i++)
			addr[2 + i] = hex[(f->sock >> (60 - 4 * i)) & 0xf];
		addr[18] = '\0';
	}
	jw_open(w, "system");
	jw_open(w, "audit");
	jw_open(w, "socket");
	jw_str(w, "kernel_sock_address", addr);
	if (f->pid != 0 && pi != NULL && pi->have_creds) {
		jw_u64(w, "uid", pi->uid);
		jw_u64(w, "gid", pi->gid);
		jw_u64(w, "euid", pi->euid);
		jw_u64(w, "egid", pi->egid);
	}
	jw_close(w);
	jw_close(w);
	jw_close(w);
	jw_close(w);
	return w->oom ? -1 : 0;
}

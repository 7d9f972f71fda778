/*
 * The ECS document of one flow, field-compatible with the system/socket
 * dataset: source/destination/client/server, network.*, event.*, flow.*,
 * process.*, host.*, system.audit.socket.*. Built with json-c, which
 * escapes every string, so process names (set by any process) cannot break
 * the line.
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "enr.h"

#define ECS_VERSION	"8.0.0"

void
enr_json_time(int64_t ns, char *buf, size_t bufsz)
{
	time_t secs = (time_t)(ns / 1000000000LL);
	long usec = (long)((ns % 1000000000LL) / 1000);
	struct tm tm;

	if (ns < 0 || gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, bufsz, "1970-01-01T00:00:00.000000Z");
		return;
	}
	snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, usec);
}

static void
add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void
add_nonempty(struct json_object *o, const char *k, const char *v)
{
	if (v[0] != '\0')
		add_str(o, k, v);
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
static struct json_object *
endpoint(const struct msg_flow *f, const struct flow_endpoint *e,
    bool ip_known)
{
	struct json_object *o = json_object_new_object();
	char ip[INET6_ADDRSTRLEN];

	if (ip_known) {
		inet_ntop(f->family == 4 ? AF_INET : AF_INET6, e->ip, ip,
		    sizeof(ip));
		add_str(o, "ip", ip);
	}
	if (e->port != 0)
		json_object_object_add(o, "port", json_object_new_int(e->port));
	if (packets_known(f)) {
		json_object_object_add(o, "bytes",
		    json_object_new_int64((int64_t)e->ip_bytes));
		json_object_object_add(o, "packets",
		    json_object_new_int64((int64_t)e->packets));
	}
	return o;
}

static struct json_object *
host_object(const struct enr_host *h)
{
	struct json_object *o = json_object_new_object(), *os;

	add_nonempty(o, "name", h->hostname);
	add_nonempty(o, "hostname", h->hostname);
	add_nonempty(o, "architecture", h->architecture);
	add_nonempty(o, "id", h->id);
	os = json_object_new_object();
	add_nonempty(os, "name", h->os_name);
	add_nonempty(os, "version", h->os_version);
	add_nonempty(os, "family", h->os_family);
	add_nonempty(os, "platform", h->os_platform);
	add_nonempty(os, "codename", h->os_codename);
	add_nonempty(os, "kernel", h->kernel);
	json_object_object_add(o, "os", os);
	return o;
}

/*
 * Parts that are the same in every document are serialised once and
 * spliced in: building and printing them anew for each flow cost more
 * than the rest of the document.
 */
static int
print_fragment(struct json_object *o, struct printbuf *pb, int level,
    int flags)
{
	const char *text = json_object_get_userdata(o);

	return printbuf_memappend(pb, text, (int)strlen(text));
}

static struct json_object *
fragment(const char *text)
{
	struct json_object *o = json_object_new_int(0);

	json_object_set_serializer(o, print_fragment, (void *)text, NULL);
	return o;
}

/* The host object as JSON text, made again only when the facts change. */
static const char *
host_json(const struct enr_host *h)
{
	static struct enr_host cached;
	static char *text;
	struct json_object *o;

	if (text != NULL && memcmp(&cached, h, sizeof(cached)) == 0)
		return text;
	free(text);
	o = host_object(h);
	text = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (text == NULL)
		text = strdup("{}");
	cached = *h;
	return text != NULL ? text : "{}";
}

struct json_object *
enr_json_flow(const struct msg_flow *f, const struct enr_host *h,
    const struct enr_proc_info *pi)
{
	struct json_object *doc = json_object_new_object();
	struct json_object *ev, *net, *flow, *proc, *sys, *audit, *sock;
	const struct flow_endpoint *src, *dst;
	struct json_object *sf, *so;
	char start[40], end[40], addr[32];
	const char *dir;
	bool src_known, dst_known;

	enr_json_time(f->start_ns, start, sizeof(start));
	enr_json_time(f->end_ns, end, sizeof(end));
	add_str(doc, "@timestamp", end);

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
		dir = "inbound";
		break;
	case FLOW_DIR_OUTBOUND:
		src = &f->local;
		dst = &f->remote;
		src_known = f->local_ip_known;
		dst_known = f->remote_known;
		dir = "outbound";
		break;
	default:
		src = &f->local;
		dst = &f->remote;
		src_known = f->local_ip_known;
		dst_known = f->remote_known;
		dir = "unknown";
		break;
	}
	json_object_object_add(doc, "source", endpoint(f, src, src_known));
	json_object_object_add(doc, "destination", endpoint(f, dst, dst_known));
	if (f->direction != FLOW_DIR_UNKNOWN) {
		json_object_object_add(doc, "client",
		    endpoint(f, src, src_known));
		json_object_object_add(doc, "server",
		    endpoint(f, dst, dst_known));
	}

	net = json_object_new_object();
	add_str(net, "type", f->family == 4 ? "ipv4" : "ipv6");
	add_str(net, "transport", f->transport == 6 ? "tcp" : "udp");
	add_str(net, "direction", dir);
	if (packets_known(f)) {
		uint64_t pk = f->local.packets + f->remote.packets;

		json_object_object_add(net, "bytes", json_object_new_int64(
		    (int64_t)(f->local.ip_bytes + f->remote.ip_bytes)));
		json_object_object_add(net, "packets",
		    json_object_new_int64((int64_t)pk));
	}
	/* Community ID and related.ip need what is known of both ends. */
	if (src_known && dst_known && src->port != 0 && dst->port != 0) {
		char cid[40];

		if (enr_community_id(f->family, src->ip, dst->ip, f->transport,
		    src->port, dst->port, 0, cid, sizeof(cid)) == 0)
			add_str(net, "community_id", cid);
	}
	json_object_object_add(doc, "network", net);
	{
		struct json_object *rel = json_object_new_object();
		struct json_object *ips = json_object_new_array();
		char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
		int af = f->family == 4 ? AF_INET : AF_INET6;

		a[0] = b[0] = '\0';
		if (src_known) {
			inet_ntop(af, src->ip, a, sizeof(a));
			json_object_array_add(ips, json_object_new_string(a));
		}
		if (dst_known) {
			inet_ntop(af, dst->ip, b, sizeof(b));
			if (strcmp(a, b) != 0)
				json_object_array_add(ips,
				    json_object_new_string(b));
		}
		json_object_object_add(rel, "ip", ips);
		json_object_object_add(doc, "related", rel);
	}

	/*
	 * sockflow's own fields: the exact payload bytes each side sent, and
	 * where the counters come from.
	 */
	sf = json_object_new_object();
	so = json_object_new_object();
	json_object_object_add(so, "payload_bytes",
	    json_object_new_int64((int64_t)src->bytes));
	json_object_object_add(sf, "source", so);
	so = json_object_new_object();
	json_object_object_add(so, "payload_bytes",
	    json_object_new_int64((int64_t)dst->bytes));
	json_object_object_add(sf, "destination", so);
	so = json_object_new_object();
	add_str(so, "bytes", packets_known(f) ? "derived" : "payload_only");
	add_str(so, "packets", f->packet_source == FLOW_PKTS_DATAGRAMS ?
	    "datagrams" : f->packet_source == FLOW_PKTS_TCP_INFO ?
	    "tcp_info" : f->packet_source == FLOW_PKTS_TCP_INFO_TIMEWAIT ?
	    "tcp_info+timewait" : "unknown");
	json_object_object_add(sf, "counters", so);
	if (!f->remote_known)
		json_object_object_add(sf, "remote_unknown",
		    json_object_new_boolean(1));
	if (f->existing)
		json_object_object_add(sf, "existing",
		    json_object_new_boolean(1));
	if (f->remote_inferred)
		json_object_object_add(sf, "remote_inferred",
		    json_object_new_boolean(1));
	if (f->samples_lost)
		json_object_object_add(sf, "samples_lost",
		    json_object_new_boolean(1));
	json_object_object_add(doc, "sockflow", sf);

	ev = json_object_new_object();
	add_str(ev, "kind", "event");
	add_str(ev, "action", "network_flow");
	add_str(ev, "category", "network");
	add_str(ev, "module", "system");
	add_str(ev, "dataset", "socket");
	add_str(ev, "start", start);
	add_str(ev, "end", end);
	json_object_object_add(ev, "duration",
	    json_object_new_int64(f->end_ns - f->start_ns));
	json_object_object_add(doc, "event", ev);

	flow = json_object_new_object();
	json_object_object_add(flow, "final", json_object_new_boolean(f->final));
	json_object_object_add(flow, "complete",
	    json_object_new_boolean(f->complete));
	json_object_object_add(doc, "flow", flow);

	if (f->pid != 0) {
		proc = json_object_new_object();
		json_object_object_add(proc, "pid",
		    json_object_new_int64(f->pid));
		if (pi != NULL && pi->have_comm)
			add_str(proc, "name", pi->comm);
		if (pi != NULL && pi->ppid != 0)
			json_object_object_add(proc, "ppid",
			    json_object_new_int64(pi->ppid));
		json_object_object_add(doc, "process", proc);
	}

	json_object_object_add(doc, "host", fragment(host_json(h)));
	json_object_object_add(doc, "agent", fragment("{\"type\":\"sockflow\","
	    "\"version\":\"" PACKAGE_VERSION "\"}"));
	json_object_object_add(doc, "ecs",
	    fragment("{\"version\":\"" ECS_VERSION "\"}"));
	json_object_object_add(doc, "service",
	    fragment("{\"type\":\"system\"}"));

	sys = json_object_new_object();
	audit = json_object_new_object();
	sock = json_object_new_object();
	snprintf(addr, sizeof(addr), "0x%016" PRIx64, f->sock);
	add_str(sock, "kernel_sock_address", addr);
	json_object_object_add(audit, "socket", sock);
	json_object_object_add(sys, "audit", audit);
	json_object_object_add(doc, "system", sys);
	return doc;
}

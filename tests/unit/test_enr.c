/*
 * Tests of the enricher's core: the ECS document of a flow (endpoint
 * roles by direction, times, escaping), the process table (side band,
 * /proc fallback, expiry, capacity) and host facts, all without a live
 * pipeline. /proc and /etc are fixture trees made by the test.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "check.h"
#include "dnsparse.h"
#include "enr.h"

static char tmpdir[] = "/tmp/sockflow-test-enr.XXXXXX";

static void
write_file(const char *rel, const char *content)
{
	char path[512], dir[512], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = dir + strlen(tmpdir) + 1; (slash = strchr(slash, '/'));
	    slash++) {
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(content, f);
	fclose(f);
}

static const char *
get_str(struct json_object *doc, const char *a, const char *b)
{
	struct json_object *o, *v;

	if (!json_object_object_get_ex(doc, a, &o))
		return NULL;
	if (b == NULL)
		return json_object_get_string(o);
	if (!json_object_object_get_ex(o, b, &v))
		return NULL;
	return json_object_get_string(v);
}

static int64_t
get_int(struct json_object *doc, const char *a, const char *b)
{
	struct json_object *o, *v;

	if (!json_object_object_get_ex(doc, a, &o) ||
	    !json_object_object_get_ex(o, b, &v))
		return -1;
	return json_object_get_int64(v);
}

/* What the enricher writes, read back: the checks see the output. */
static struct json_object *
flow_doc(const struct msg_flow *f, const struct enr_host *h,
    const struct enr_proc_info *pi)
{
	static struct jw w;
	struct json_object *back;

	if (enr_json_flow(&w, f, h, pi, NULL) == -1) {
		fprintf(stderr, "the document was not written\n");
		exit(1);
	}
	if (strlen(w.buf) != w.len || strchr(w.buf, '\n') != NULL) {
		fprintf(stderr, "the document is not one line\n");
		exit(1);
	}
	back = json_tokener_parse(w.buf);
	if (back == NULL) {
		fprintf(stderr, "the document does not parse\n");
		exit(1);
	}
	return back;
}

static void
make_flow(struct msg_flow *f, int dir)
{
	memset(f, 0, sizeof(*f));
	f->family = 4;
	f->transport = 6;
	f->direction = (uint8_t)dir;
	inet_pton(AF_INET, "192.0.2.1", f->local.ip);
	inet_pton(AF_INET, "198.51.100.7", f->remote.ip);
	f->local.port = 40192;
	f->remote.port = 80;
	f->pid = 4970;
	/* 2019-08-22T20:46:35.001Z, and 30.7286 ms later. */
	f->start_ns = 1566506795001000000LL;
	f->end_ns = f->start_ns + 30728600;
	f->final = true;
	f->complete = true;
	f->sock = 0xffff8de29d337000ULL;
	f->local_ip_known = true;
	f->remote_known = true;
}

static void
test_json(void)
{
	struct enr_host h;
	struct enr_proc_info pi;
	struct msg_flow f;
	struct json_object *doc, *back;
	const char *s;
	char buf[64];

	memset(&h, 0, sizeof(h));
	snprintf(h.hostname, sizeof(h.hostname), "stretch");
	memset(&pi, 0, sizeof(pi));
	snprintf(pi.comm, sizeof(pi.comm), "curl");
	pi.have_comm = 1;
	pi.ppid = 1;

	make_flow(&f, FLOW_DIR_OUTBOUND);
	doc = flow_doc(&f, &h, &pi);
	CHECK(strcmp(get_str(doc, "source", "ip"), "192.0.2.1") == 0);
	CHECK(get_int(doc, "source", "port") == 40192);
	CHECK(strcmp(get_str(doc, "destination", "ip"), "198.51.100.7") == 0);
	CHECK(strcmp(get_str(doc, "client", "ip"), "192.0.2.1") == 0);
	CHECK(strcmp(get_str(doc, "server", "ip"), "198.51.100.7") == 0);
	CHECK(strcmp(get_str(doc, "network", "direction"), "outbound") == 0);
	CHECK(strcmp(get_str(doc, "network", "type"), "ipv4") == 0);
	CHECK(strcmp(get_str(doc, "network", "transport"), "tcp") == 0);
	CHECK(strcmp(get_str(doc, "event", "start"),
	    "2019-08-22T20:46:35.001000Z") == 0);
	CHECK(strcmp(get_str(doc, "event", "end"),
	    "2019-08-22T20:46:35.031728Z") == 0);
	CHECK(get_int(doc, "event", "duration") == 30728600);
	CHECK(strcmp(get_str(doc, "event", "dataset"), "socket") == 0);
	CHECK(strcmp(get_str(doc, "event", "action"), "network_flow") == 0);
	CHECK(get_int(doc, "process", "pid") == 4970);
	CHECK(get_str(doc, "network", "community_id") != NULL);
	CHECK(strcmp(get_str(doc, "process", "name"), "curl") == 0);
	CHECK(strcmp(get_str(doc, "host", "name"), "stretch") == 0);
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	CHECK(strstr(s, "\"kernel_sock_address\":\"0xffff8de29d337000\"") !=
	    NULL);
	CHECK(strstr(s, "\"final\":true") != NULL);
	/* Nothing known of the file or the credentials: nothing said. */
	CHECK(get_str(doc, "process", "executable") == NULL);
	CHECK(get_str(doc, "user", "id") == NULL);
	CHECK(strstr(s, "\"uid\"") == NULL);
	json_object_put(doc);

	/* The file executed and the credentials, as the dataset has them. */
	pi.exe = "/usr/bin/curl";
	pi.have_creds = 1;
	pi.uid = 1000;
	pi.gid = 1001;
	pi.euid = 0;
	pi.egid = 4;
	doc = flow_doc(&f, &h, &pi);
	CHECK(strcmp(get_str(doc, "process", "executable"),
	    "/usr/bin/curl") == 0);
	CHECK(strcmp(get_str(doc, "user", "id"), "1000") == 0);
	CHECK(strcmp(get_str(doc, "group", "id"), "1001") == 0);
	CHECK(get_str(doc, "user", "name") == NULL);
	json_object_put(doc);
	pi.user_name = "alice";
	pi.group_name = "staff";
	pi.names_gen = 3;
	pi.created = 1566506794928000000LL;
	pi.boot_id = "0f0e0d0c";
	pi.start_ticks = 12345;
	doc = flow_doc(&f, &h, &pi);
	CHECK(strcmp(get_str(doc, "user", "name"), "alice") == 0);
	CHECK(strcmp(get_str(doc, "process", "created"),
	    "2019-08-22T20:46:34.928000Z") == 0);
	CHECK(get_str(doc, "process", "entity_id") != NULL &&
	    strlen(get_str(doc, "process", "entity_id")) == 20);
	/* Another start: another id; the same start again: the same id. */
	{
		char e1[48];
		struct json_object *d2;

		snprintf(e1, sizeof(e1), "%s",
		    get_str(doc, "process", "entity_id"));
		pi.start_ticks = 12346;
		d2 = flow_doc(&f, &h, &pi);
		CHECK(strcmp(get_str(d2, "process", "entity_id"), e1) != 0);
		json_object_put(d2);
		pi.start_ticks = 12345;
		d2 = flow_doc(&f, &h, &pi);
		CHECK(strcmp(get_str(d2, "process", "entity_id"), e1) == 0);
		json_object_put(d2);
	}
	pi.created = 0;
	pi.boot_id = NULL;
	CHECK(strcmp(get_str(doc, "group", "name"), "staff") == 0);
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	CHECK(strstr(s, "\"uid\":1000,\"gid\":1001,\"euid\":0,\"egid\":4")
	    != NULL);
	json_object_put(doc);

	/*
	 * The arguments: each string of the block; one the block cut short
	 * is left out, and args_count says how many there were.
	 */
	pi.args = (const uint8_t *)"curl\0-o\0/dev/nu";
	pi.args_len = 15;
	pi.argc = 4;
	doc = flow_doc(&f, &h, &pi);
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	CHECK(strstr(s, "\"args\":[\"curl\",\"-o\"],\"args_count\":4") !=
	    NULL);
	json_object_put(doc);
	pi.args = NULL;
	pi.args_len = 0;
	pi.exe = NULL;
	pi.have_creds = 0;
	pi.user_name = pi.group_name = NULL;

	/*
	 * What is written of a process is made once per version of it:
	 * the same version writes the same text, a new one the new facts.
	 */
	pi.version = 7;
	snprintf(pi.comm, sizeof(pi.comm), "first");
	doc = flow_doc(&f, &h, &pi);
	CHECK(strcmp(get_str(doc, "process", "name"), "first") == 0);
	json_object_put(doc);
	snprintf(pi.comm, sizeof(pi.comm), "second");
	doc = flow_doc(&f, &h, &pi);
	CHECK(strcmp(get_str(doc, "process", "name"), "first") == 0);
	json_object_put(doc);
	pi.version = 8;
	doc = flow_doc(&f, &h, &pi);
	CHECK(strcmp(get_str(doc, "process", "name"), "second") == 0);
	json_object_put(doc);
	pi.version = 0;
	snprintf(pi.comm, sizeof(pi.comm), "curl");

	/* Inbound: the remote side opened it, so it is source and client. */
	make_flow(&f, FLOW_DIR_INBOUND);
	doc = flow_doc(&f, &h, NULL);
	CHECK(strcmp(get_str(doc, "source", "ip"), "198.51.100.7") == 0);
	CHECK(get_int(doc, "source", "port") == 80);
	CHECK(strcmp(get_str(doc, "destination", "ip"), "192.0.2.1") == 0);
	CHECK(strcmp(get_str(doc, "client", "ip"), "198.51.100.7") == 0);
	CHECK(strcmp(get_str(doc, "network", "direction"), "inbound") == 0);
	CHECK(get_str(doc, "process", "name") == NULL);
	json_object_put(doc);

	/* Unknown direction: no client or server; no pid, no process. */
	make_flow(&f, FLOW_DIR_UNKNOWN);
	f.pid = 0;
	f.family = 6;
	inet_pton(AF_INET6, "2001:db8::1", f.local.ip);
	inet_pton(AF_INET6, "2001:db8::2", f.remote.ip);
	doc = flow_doc(&f, &h, NULL);
	CHECK(get_str(doc, "client", "ip") == NULL);
	CHECK(get_str(doc, "process", NULL) == NULL);
	CHECK(strcmp(get_str(doc, "source", "ip"), "2001:db8::1") == 0);
	CHECK(strcmp(get_str(doc, "network", "type"), "ipv6") == 0);
	CHECK(strcmp(get_str(doc, "network", "direction"), "unknown") == 0);
	json_object_put(doc);

	/* A hostile process name cannot break the line or the document. */
	make_flow(&f, FLOW_DIR_OUTBOUND);
	snprintf(pi.comm, sizeof(pi.comm), "a\"b\n}{\\x");
	doc = flow_doc(&f, &h, &pi);
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	CHECK(strchr(s, '\n') == NULL);
	back = json_tokener_parse(s);
	CHECK(back != NULL);
	if (back != NULL) {
		CHECK(strcmp(get_str(back, "process", "name"), pi.comm) == 0);
		json_object_put(back);
	}
	json_object_put(doc);

	/* Counters: payload only for TCP without packet counts... */
	make_flow(&f, FLOW_DIR_INBOUND);
	f.local.bytes = 1000;
	f.remote.bytes = 250;
	doc = flow_doc(&f, &h, NULL);
	CHECK(get_int(doc, "source", "bytes") == -1);
	CHECK(strcmp(get_str(doc, "sockflow", "counters") ? "x" : "", "x") == 0);
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	CHECK(strstr(s, "\"source\":{\"payload_bytes\":250}") != NULL);
	CHECK(strstr(s, "\"destination\":{\"payload_bytes\":1000}") != NULL);
	CHECK(strstr(s, "\"bytes\":\"payload_only\",\"packets\":\"unknown\"")
	    != NULL);
	json_object_put(doc);
	/* ... and IP-level bytes derived from datagrams for UDP. */
	make_flow(&f, FLOW_DIR_OUTBOUND);
	f.transport = 17;
	f.packet_source = FLOW_PKTS_DATAGRAMS;
	f.local.bytes = 300;
	f.local.packets = 3;
	f.local.ip_bytes = 384;
	f.remote.bytes = 600;
	f.remote.packets = 3;
	f.remote.ip_bytes = 684;
	f.remote_known = false;
	f.local_ip_known = false;
	doc = flow_doc(&f, &h, NULL);
	CHECK(get_int(doc, "source", "bytes") == 384);
	CHECK(get_int(doc, "source", "packets") == 3);
	CHECK(get_int(doc, "destination", "bytes") == 684);
	CHECK(get_int(doc, "network", "bytes") == 384 + 684);
	CHECK(get_int(doc, "network", "packets") == 6);
	CHECK(get_str(doc, "source", "ip") == NULL);
	CHECK(get_str(doc, "destination", "ip") == NULL);
	CHECK(get_int(doc, "source", "port") == 40192);
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	CHECK(strstr(s, "\"remote_unknown\":true") != NULL);
	CHECK(strstr(s, "\"packets\":\"datagrams\"") != NULL);
	json_object_put(doc);

	sf_time_rfc3339(0, buf, sizeof(buf));
	CHECK(strcmp(buf, "1970-01-01T00:00:00.000000Z") == 0);
	sf_time_rfc3339(951782400123456789LL, buf, sizeof(buf));
	CHECK(strcmp(buf, "2000-02-29T00:00:00.123456Z") == 0);
	/* The date of the last second is kept: moving on and back. */
	sf_time_rfc3339(951782400999999999LL, buf, sizeof(buf));
	CHECK(strcmp(buf, "2000-02-29T00:00:00.999999Z") == 0);
	sf_time_rfc3339(951782461000001000LL, buf, sizeof(buf));
	CHECK(strcmp(buf, "2000-02-29T00:01:01.000001Z") == 0);
	sf_time_rfc3339(951782400000000000LL, buf, sizeof(buf));
	CHECK(strcmp(buf, "2000-02-29T00:00:00.000000Z") == 0);
	sf_time_rfc3339(-1, buf, sizeof(buf));
	CHECK(strcmp(buf, "1970-01-01T00:00:00.000000Z") == 0);
}

/* The published test vectors of the Community ID specification. */
/*
 * The text writer against json-c's parser: any bytes in a string (a
 * process name may hold any byte but NUL) come back unchanged from one
 * line of valid JSON, and numbers at their limits are exact.
 */
/* IPv4 addresses are written by hand: the same text as inet_ntop. */
static void
test_ipv4_text(void)
{
	struct enr_host h;
	struct msg_flow f;
	struct json_object *doc;
	char want[INET_ADDRSTRLEN];
	unsigned int seed = 7;
	int i, bad = 0;

	memset(&h, 0, sizeof(h));
	for (i = 0; i < 2000; i++) {
		uint32_t v = i == 0 ? 0 : i == 1 ? 0xffffffffU :
		    (uint32_t)rand_r(&seed) ^ ((uint32_t)rand_r(&seed) << 16);

		make_flow(&f, FLOW_DIR_OUTBOUND);
		memcpy(f.local.ip, &v, 4);
		inet_ntop(AF_INET, &v, want, sizeof(want));
		doc = flow_doc(&f, &h, NULL);
		if (strcmp(get_str(doc, "source", "ip"), want) != 0)
			bad++;
		json_object_put(doc);
	}
	CHECK(bad == 0);
}

static void
test_writer(void)
{
	struct jw w;
	struct json_object *o, *v;
	char str[64];
	unsigned int seed = 12345;
	int i, j, n, bad = 0;

	memset(&w, 0, sizeof(w));
	for (i = 0; i < 20000; i++) {
		n = 1 + (int)(rand_r(&seed) % 40);
		for (j = 0; j < n; j++)
			str[j] = (char)(1 + rand_r(&seed) % 255);
		str[n] = '\0';
		jw_reset(&w);
		jw_open(&w, NULL);
		jw_str(&w, "s", str);
		jw_open_array(&w, "a");
		jw_str(&w, NULL, str);
		jw_u64(&w, NULL, UINT64_MAX);
		jw_close_array(&w);
		jw_i64(&w, "neg", INT64_MIN);
		jw_close(&w);
		o = json_tokener_parse(w.buf);
		if (o == NULL || strchr(w.buf, '\n') != NULL ||
		    !json_object_object_get_ex(o, "s", &v) ||
		    strcmp(json_object_get_string(v), str) != 0 ||
		    !json_object_object_get_ex(o, "a", &v) ||
		    strcmp(json_object_get_string(
		    json_object_array_get_idx(v, 0)), str) != 0 ||
		    json_object_get_uint64(json_object_array_get_idx(v, 1)) !=
		    UINT64_MAX ||
		    !json_object_object_get_ex(o, "neg", &v) ||
		    json_object_get_int64(v) != INT64_MIN)
			bad++;
		json_object_put(o);
	}
	CHECK(bad == 0);
	/* Plain text is copied as it is, without escapes. */
	jw_reset(&w);
	jw_open(&w, NULL);
	jw_str(&w, "k", "a/b c");
	jw_i64(&w, "d", -5);
	jw_bool(&w, "t", 1);
	jw_open_members(&w, "e", "\"x\":1");
	jw_u64(&w, "y", 0);
	jw_close(&w);
	jw_close(&w);
	CHECK(strcmp(w.buf, "{\"k\":\"a/b c\",\"d\":-5,\"t\":true,"
	    "\"e\":{\"x\":1,\"y\":0}}") == 0);
	jw_free(&w);
}

static void
test_community_id(void)
{
	uint8_t a[16], b[16];
	char out[40];

	inet_pton(AF_INET, "1.2.3.4", a);
	inet_pton(AF_INET, "5.6.7.8", b);
	CHECK(enr_community_id(4, a, b, 6, 1122, 3344, 0, out,
	    sizeof(out)) == 0);
	CHECK(strcmp(out, "1:wCb3OG7yAFWelaUydu0D+125CLM=") == 0);
	/* Either direction gives the same id. */
	CHECK(enr_community_id(4, b, a, 6, 3344, 1122, 0, out,
	    sizeof(out)) == 0);
	CHECK(strcmp(out, "1:wCb3OG7yAFWelaUydu0D+125CLM=") == 0);
	CHECK(enr_community_id(4, a, b, 17, 1122, 3344, 0, out,
	    sizeof(out)) == 0);
	CHECK(strcmp(out, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=") == 0);
	CHECK(enr_community_id(4, a, b, 6, 1122, 3344, 1, out,
	    sizeof(out)) == 0);
	CHECK(strcmp(out, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=") == 0);
	CHECK(enr_community_id(4, b, a, 17, 3344, 1122, 1, out,
	    sizeof(out)) == 0);
	CHECK(strcmp(out, "1:OShq+iKDAMVouh/4bMxB9Sz4amw=") == 0);
	/* Same address both ends: the ports decide the order. */
	{
		char x[40], y[40];

		CHECK(enr_community_id(4, a, a, 6, 80, 40000, 0, x,
		    sizeof(x)) == 0);
		CHECK(enr_community_id(4, a, a, 6, 40000, 80, 0, y,
		    sizeof(y)) == 0);
		CHECK(strcmp(x, y) == 0);
	}
	CHECK(enr_community_id(4, a, b, 6, 1, 2, 0, out, 16) == -1);
	/* IPv6 addresses hash all 16 bytes. */
	inet_pton(AF_INET6, "2001:db8::1", a);
	inet_pton(AF_INET6, "2001:db8::2", b);
	{
		char x[40], y[40];

		CHECK(enr_community_id(6, a, b, 6, 1, 2, 0, x, sizeof(x)) == 0);
		b[15] = 3;
		CHECK(enr_community_id(6, a, b, 6, 1, 2, 0, y, sizeof(y)) == 0);
		CHECK(strcmp(x, y) != 0 && strlen(x) == 30);
	}
}

static void
test_procs(void)
{
	char procroot[256];
	struct enr_procs *t;
	struct enr_proc_info pi;
	struct msg_process ev;

	write_file("proc/1/comm", "init\n");
	write_file("proc/4242/comm", "sshd\n");
	write_file("proc/self/comm", "ignored\n");
	snprintf(procroot, sizeof(procroot), "%s/proc", tmpdir);

	t = enr_procs_new(4, procroot);
	enr_procs_scan(t);
	CHECK(enr_procs_count(t) == 2);
	/*
	 * A process that exec'd after the scan, before any event could say
	 * so, is read again when first used; after that, events rule.
	 */
	write_file("proc/4242/comm", "sshd\n");
	write_file("proc/1/comm", "systemd\n");
	CHECK(enr_procs_lookup(t, 1, &pi) == 0 && strcmp(pi.comm,
	    "systemd") == 0);
	write_file("proc/1/comm", "other\n");
	CHECK(enr_procs_lookup(t, 1, &pi) == 0 && strcmp(pi.comm,
	    "systemd") == 0);
	CHECK(enr_procs_lookup(t, 4242, &pi) == 0 && pi.have_comm &&
	    strcmp(pi.comm, "sshd") == 0);

	/* exec renames, fork inherits the parent's name, exit expires. */
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_EXEC;
	ev.pid = 4242;
	snprintf(ev.comm, sizeof(ev.comm), "curl");
	enr_procs_event(t, &ev);
	CHECK(enr_procs_lookup(t, 4242, &pi) == 0 &&
	    strcmp(pi.comm, "curl") == 0);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_FORK;
	ev.pid = 5000;
	ev.ppid = 4242;
	enr_procs_event(t, &ev);
	CHECK(enr_procs_lookup(t, 5000, &pi) == 0 && pi.ppid == 4242 &&
	    strcmp(pi.comm, "curl") == 0);
	ev.kind = PROC_EV_EXIT;
	ev.time_ns = 1000;
	enr_procs_event(t, &ev);
	enr_procs_expire(t, 1000 + 50, 100);
	CHECK(enr_procs_lookup(t, 5000, &pi) == 0);
	enr_procs_expire(t, 1000 + 200, 100);
	CHECK(enr_procs_count(t) == 2);
	CHECK(enr_procs_lookup(t, 5000, &pi) == -1);

	/*
	 * The file of an exec and new credentials; a child inherits both,
	 * and its own exec and setuid() change them.
	 */
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_EXECUTABLE;
	ev.pid = 4242;
	snprintf(ev.executable, sizeof(ev.executable), "/usr/bin/curl");
	enr_procs_event(t, &ev);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_CREDS;
	ev.pid = 4242;
	ev.uid = ev.euid = 1000;
	ev.gid = ev.egid = 100;
	enr_procs_event(t, &ev);
	CHECK(enr_procs_lookup(t, 4242, &pi) == 0 && pi.exe != NULL &&
	    strcmp(pi.exe, "/usr/bin/curl") == 0 && pi.have_creds &&
	    pi.uid == 1000 && pi.egid == 100);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_ARGS;
	ev.pid = 4242;
	memcpy(ev.args, "curl\0x\0", 7);
	ev.args_len = 7;
	ev.argc = 2;
	enr_procs_event(t, &ev);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_FORK;
	ev.pid = 5001;
	ev.ppid = 4242;
	enr_procs_event(t, &ev);
	CHECK(enr_procs_lookup(t, 5001, &pi) == 0 && pi.exe != NULL &&
	    strcmp(pi.exe, "/usr/bin/curl") == 0 && pi.uid == 1000);
	CHECK(pi.args_len == 7 && memcmp(pi.args, "curl\0x\0", 7) == 0 &&
	    pi.argc == 2);
	ev.kind = PROC_EV_CREDS;
	ev.uid = ev.euid = 0;
	enr_procs_event(t, &ev);
	CHECK(enr_procs_lookup(t, 5001, &pi) == 0 && pi.uid == 0 &&
	    pi.gid == 0);
	/*
	 * A child's inherited ids are read again from /proc when next
	 * needed (the tracepoint backend sees no setuid()); an exec clears
	 * the file and arguments of the image it replaced.
	 */
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_FORK;
	ev.pid = 5002;
	ev.ppid = 4242;
	enr_procs_event(t, &ev);
	write_file("proc/5002/status", "Name:\tsh\nUid:\t1001\t1001\t1001\t1001\n"
	    "Gid:\t1002\t1002\t1002\t1002\n");
	CHECK(enr_procs_lookup(t, 5002, &pi) == 0 && pi.uid == 1001 &&
	    pi.egid == 1002);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_EXEC;
	ev.pid = 5002;
	ev.is_exec = true;
	snprintf(ev.comm, sizeof(ev.comm), "sh");
	enr_procs_event(t, &ev);
	write_file("proc/5002/comm", "sh\n");
	CHECK(enr_procs_lookup(t, 5002, &pi) == 0 && pi.exe == NULL &&
	    pi.args == NULL && strcmp(pi.comm, "sh") == 0);
	/* A new name that is not an exec keeps them. */
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_EXECUTABLE;
	ev.pid = 5002;
	snprintf(ev.executable, sizeof(ev.executable), "/bin/sh");
	enr_procs_event(t, &ev);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PROC_EV_EXEC;
	ev.pid = 5002;
	snprintf(ev.comm, sizeof(ev.comm), "worker");
	enr_procs_event(t, &ev);
	CHECK(enr_procs_lookup(t, 5002, &pi) == 0 && pi.exe != NULL &&
	    strcmp(pi.exe, "/bin/sh") == 0);
	ev.kind = PROC_EV_EXIT;
	ev.time_ns = 1000;
	enr_procs_event(t, &ev);
	CHECK(enr_procs_lookup(t, 4242, &pi) == 0 && pi.uid == 1000);
	ev.kind = PROC_EV_EXIT;
	ev.time_ns = 1000;
	ev.pid = 5001;
	enr_procs_event(t, &ev);
	enr_procs_expire(t, 1000 + 200, 100);

	/*
	 * A process no event told of: its credentials from /proc (real and
	 * effective ids of the Uid: and Gid: lines).
	 */
	write_file("proc/888/comm", "srv\n");
	write_file("proc/888/status", "Name:\tsrv\nUmask:\t0022\n"
	    "Uid:\t33\t0\t0\t0\nGid:\t34\t35\t35\t35\n");
	CHECK(enr_procs_lookup(t, 888, &pi) == 0 && pi.have_creds &&
	    pi.uid == 33 && pi.euid == 0 && pi.gid == 34 && pi.egid == 35);

	/*
	 * When a process started: from the fork, or from /proc/PID/stat
	 * (clock ticks since boot, counted from the name's last ')', which
	 * may hold spaces and parentheses); and a stable entity id, the same
	 * whichever way the start was learnt, different for another start.
	 */
	write_file("proc/sys/kernel/random/boot_id",
	    "0f0e0d0c-0b0a-0908-0706-050403020100\n");
	{
		struct enr_procs *t2 = enr_procs_new(8, procroot);
		struct enr_proc_info a, b;

		write_file("proc/900/comm", "odd ) name\n");
		write_file("proc/900/stat", "900 (odd ) name) S 1 900 900 0 -1 "
		    "4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 100\n");
		CHECK(enr_procs_lookup(t2, 900, &a) == 0 && a.created != 0 &&
		    a.boot_id != NULL && a.start_ticks == 12345);
		/* The same start, learnt from the fork: the same id. */
		memset(&ev, 0, sizeof(ev));
		ev.kind = PROC_EV_FORK;
		ev.pid = 901;
		ev.ppid = 1;
		ev.time_ns = a.created;
		enr_procs_event(t2, &ev);
		CHECK(enr_procs_lookup(t2, 901, &b) == 0 &&
		    b.created == a.created && b.start_ticks == 12345);
		CHECK(enr_procs_lookup(t2, 900, &b) == 0 &&
		    b.start_ticks == 12345);
		/* A later start of that pid (reused): another id. */
		ev.pid = 900;
		ev.time_ns = a.created + 5000000000LL;
		enr_procs_event(t2, &ev);
		CHECK(enr_procs_lookup(t2, 900, &b) == 0 &&
		    b.created == a.created + 5000000000LL &&
		    b.start_ticks == 12345 + 500);
		/* The fork's start is the one the stat file had: same. */
		ev.time_ns = a.created;
		enr_procs_event(t2, &ev);
		CHECK(enr_procs_lookup(t2, 900, &b) == 0 &&
		    b.start_ticks == 12345);
		enr_procs_free(t2);
	}

	/* A pid never seen is read from /proc when it is looked up. */
	write_file("proc/777/comm", "late\n");
	CHECK(enr_procs_lookup(t, 777, &pi) == 0 &&
	    strcmp(pi.comm, "late") == 0);
	CHECK(enr_procs_lookup(t, 0, &pi) == -1);

	/* Capacity 4 (1, 4242, 888, 777): the next ones are counted. */
	write_file("proc/778/comm", "x\n");
	write_file("proc/779/comm", "y\n");
	CHECK(enr_procs_lookup(t, 778, &pi) == -1);
	CHECK(enr_procs_lookup(t, 779, &pi) == -1);
	CHECK(enr_procs_full(t) == 2);
	enr_procs_free(t);
}

/*
 * Names from the files: the first line of an id wins; malformed lines
 * are counted and skipped; a change of content is read again, and says
 * so by a new generation.
 */
static void
test_names(void)
{
	struct enr_names *n;
	char root[512];
	uint64_t gen;

	snprintf(root, sizeof(root), "%s/names", tmpdir);
	write_file("names/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
	    "# a comment\n"
	    "daemon:x:1:1::/:/usr/sbin/nologin\n"
	    "shadow-root:x:0:0::/:/bin/sh\n"
	    "broken line without fields\n"
	    "bad id:x:12:12::/:/bin/sh\n"
	    "toolong_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x:13:13::/:/bin/sh\n"
	    "big:x:4294967296:1::/:/bin/sh\n"
	    "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
	    "noeol:x:1001:1001::/:/bin/sh");
	write_file("names/etc/group", "root:x:0:\nusers:x:100:\n"
	    "alice:x:1000:\n");
	n = enr_names_new(root);
	CHECK(n != NULL);
	if (n == NULL)
		return;
	CHECK(enr_names_user(n, 0) != NULL &&
	    strcmp(enr_names_user(n, 0), "root") == 0);
	CHECK(strcmp(enr_names_user(n, 1000), "alice") == 0);
	CHECK(strcmp(enr_names_user(n, 1001), "noeol") == 0);
	CHECK(enr_names_user(n, 12) == NULL && enr_names_user(n, 13) == NULL);
	CHECK(enr_names_user(n, 5) == NULL);
	CHECK(strcmp(enr_names_group(n, 100), "users") == 0);
	CHECK(enr_names_group(n, 1001) == NULL);
	CHECK(enr_names_stats(n)->users == 5 &&
	    enr_names_stats(n)->bad_lines == 4);
	/* The same content again: nothing read, nothing changed. */
	gen = enr_names_gen(n);
	enr_names_refresh(n);
	CHECK(enr_names_gen(n) == gen);
	/* A new user: read again. */
	write_file("names/etc/passwd", "root:x:0:0::/:/bin/sh\n"
	    "bob:x:1002:1002::/:/bin/sh\n");
	enr_names_refresh(n);
	CHECK(enr_names_gen(n) != gen);
	CHECK(strcmp(enr_names_user(n, 1002), "bob") == 0 &&
	    enr_names_user(n, 1000) == NULL);
	enr_names_free(n);

	/* No files at all: no names, no failure. */
	snprintf(root, sizeof(root), "%s/nonames", tmpdir);
	n = enr_names_new(root);
	CHECK(n != NULL && enr_names_user(n, 0) == NULL);
	enr_names_free(n);
}

static void
test_host(void)
{
	struct enr_host h;

	write_file("root/etc/os-release", "NAME=\"Debian GNU/Linux\"\n"
	    "VERSION=\"12 (bookworm)\"\nID=debian\n"
	    "VERSION_CODENAME=bookworm\n");
	write_file("root/etc/machine-id", "b3531219b5b4449eadbec59d47945649\n");
	{
		char root[512];

		snprintf(root, sizeof(root), "%s/root", tmpdir);
		enr_host_load(&h, root);
	}
	CHECK(strcmp(h.os_name, "Debian GNU/Linux") == 0);
	CHECK(strcmp(h.os_version, "12 (bookworm)") == 0);
	CHECK(strcmp(h.os_platform, "debian") == 0);
	CHECK(strcmp(h.os_family, "debian") == 0);
	CHECK(strcmp(h.os_codename, "bookworm") == 0);
	CHECK(strcmp(h.id, "b3531219b5b4449eadbec59d47945649") == 0);
	CHECK(h.hostname[0] != '\0' && h.kernel[0] != '\0');
}

/* ---- cgroups and containers (enr_cgroup.c) ---- */

/* path with its "{ID}" replaced by id. */
static void
subst_id(char *out, size_t outsz, const char *path, const char *id)
{
	const char *at = strstr(path, "{ID}");

	if (at == NULL) {
		snprintf(out, outsz, "%s", path);
		return;
	}
	snprintf(out, outsz, "%.*s%s%s", (int)(at - path), path, id, at + 4);
}

static void
test_containers(void)
{
	static const struct {
		const char	*path;
		const char	*runtime;	/* NULL: none; "-": no id */
	} cases[] = {
		{ "/system.slice/docker-{ID}.scope", "docker" },
		{ "/docker/{ID}", "docker" },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
		    "pod1234.slice/cri-containerd-{ID}.scope", "containerd" },
		{ "/kubepods/besteffort/pod5678/{ID}", NULL },
		{ "/machine.slice/libpod-{ID}.scope", "podman" },
		{ "/machine.slice/libpod-{ID}.scope/container", "podman" },
		{ "/user.slice/user-1000.slice/user@1000.service/user.slice/"
		    "libpod-{ID}.scope", "podman" },
		{ "/machine.slice/crio-{ID}.scope", "cri-o" },
		{ "/machine.slice/libpod-conmon-{ID}.scope", "-" },
		{ "/system.slice/docker-%s.mount", "-" },
		{ "/user.slice/user-1000.slice/session-3.scope", "-" },
		{ "/", "-" },
		{ "/system.slice/docker-0123456789abcdef0123456789abcdef"
		    "0123456789abcdef0123456789abcde.scope", "-" },
		{ "/other/{ID}", "-" },
	};
	const char *hex = "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef";
	char path[512], id[80];
	const char *rt;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rv;

		subst_id(path, sizeof(path), cases[i].path, hex);
		rv = enr_container_id(path, id, sizeof(id), &rt);
		if (cases[i].runtime != NULL && strcmp(cases[i].runtime,
		    "-") == 0) {
			CHECK_MSG(rv == -1, "%s", path);
			continue;
		}
		CHECK_MSG(rv == 0 && strcmp(id, hex) == 0, "%s", path);
		CHECK_MSG(rv == 0 && ((rt == NULL && cases[i].runtime ==
		    NULL) || (rt != NULL && cases[i].runtime != NULL &&
		    strcmp(rt, cases[i].runtime) == 0)), "%s", path);
	}
	/* Upper-case hex is not an id a runtime makes. */
	snprintf(path, sizeof(path), "/system.slice/docker-%s.scope",
	    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef");
	CHECK(enr_container_id(path, id, sizeof(id), &rt) == -1);
}

static void
test_cgroup_table(void)
{
	struct enr_cgroups *t = enr_cgroups_new(8);
	char root[700], mounts[800], dir[800];
	struct stat sb;
	FILE *f;
	const char *p, *cid, *rt;

	CHECK(t != NULL);
	if (t == NULL)
		return;
	/* A tree standing for the cgroup v2 mount, found in a mounts file. */
	snprintf(root, sizeof(root), "%s/cg", tmpdir);
	snprintf(dir, sizeof(dir), "%s/a.slice/docker-x.scope", root);
	CHECK(mkdir(root, 0755) == 0);
	snprintf(mounts, sizeof(mounts), "%s/a.slice", root);
	CHECK(mkdir(mounts, 0755) == 0 && mkdir(dir, 0755) == 0);
	snprintf(mounts, sizeof(mounts), "%s/mounts", tmpdir);
	f = fopen(mounts, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fprintf(f, "proc /proc proc rw 0 0\ncgroup2 %s cgroup2 rw 0 0\n",
	    root);
	fclose(f);
	enr_cgroups_scan(t, mounts);
	CHECK(enr_cgroups_count(t) == 3);
	CHECK(stat(dir, &sb) == 0);
	p = enr_cgroups_path(t, (uint64_t)sb.st_ino, &cid, &rt);
	CHECK(p != NULL && strcmp(p, "/a.slice/docker-x.scope") == 0 &&
	    cid == NULL);
	CHECK(stat(root, &sb) == 0);
	p = enr_cgroups_path(t, (uint64_t)sb.st_ino, &cid, &rt);
	CHECK(p != NULL && strcmp(p, "/") == 0);
	/* Later cgroups come as events; an id not known is counted. */
	enr_cgroups_add(t, 12345678, "/new.slice/libpod-0123456789abcdef"
	    "0123456789abcdef0123456789abcdef0123456789abcdef.scope");
	p = enr_cgroups_path(t, 12345678, &cid, &rt);
	CHECK(p != NULL && strncmp(p, "/new.slice/libpod-", 18) == 0 &&
	    cid != NULL && strncmp(cid, "0123456789abcdef", 16) == 0 &&
	    strlen(cid) == 64 && rt != NULL && strcmp(rt, "podman") == 0);
	CHECK(enr_cgroups_path(t, 87654321, &cid, &rt) == NULL &&
	    cid == NULL && enr_cgroups_unknown(t) == 1);
	/* Bounded. */
	{
		uint64_t id;

		for (id = 1; id <= 10; id++)
			enr_cgroups_add(t, 9000 + id, "/x");
		CHECK(enr_cgroups_count(t) == 8 && enr_cgroups_full(t) == 6);
	}
	enr_cgroups_free(t);
}

/* ---- DNS correlation (enr_dns.c) ---- */

#define SEC_NS	1000000000LL

/* A DNS message: header, one question, answers "A name ip ttl" etc. */
struct dnsb {
	uint8_t	b[512];
	size_t	n;
};

static void
dnsb_name(struct dnsb *m, const char *name)
{
	const char *p = name, *dot;

	while (*p != '\0') {
		size_t l;

		dot = strchr(p, '.');
		l = dot ? (size_t)(dot - p) : strlen(p);
		m->b[m->n++] = (uint8_t)l;
		memcpy(m->b + m->n, p, l);
		m->n += l;
		p += l + (dot ? 1 : 0);
	}
	m->b[m->n++] = 0;
}

static void
dnsb_u16(struct dnsb *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)(v >> 8);
	m->b[m->n++] = (uint8_t)v;
}

static void
dnsb_start(struct dnsb *m, unsigned id, int response, const char *qname,
    unsigned qtype, unsigned ancount)
{
	memset(m, 0, sizeof(*m));
	dnsb_u16(m, id);
	dnsb_u16(m, response ? 0x8180 : 0x0100);
	dnsb_u16(m, 1);
	dnsb_u16(m, ancount);
	dnsb_u16(m, 0);
	dnsb_u16(m, 0);
	dnsb_name(m, qname);
	dnsb_u16(m, qtype);
	dnsb_u16(m, 1);
}

static void
dnsb_rr(struct dnsb *m, const char *owner, unsigned type, uint32_t ttl,
    const void *rdata, size_t rdlen, const char *target)
{
	dnsb_name(m, owner);
	dnsb_u16(m, type);
	dnsb_u16(m, 1);
	dnsb_u16(m, ttl >> 16);
	dnsb_u16(m, ttl & 0xffff);
	if (target != NULL) {
		size_t at = m->n;

		m->n += 2;
		dnsb_name(m, target);
		m->b[at] = (uint8_t)((m->n - at - 2) >> 8);
		m->b[at + 1] = (uint8_t)(m->n - at - 2);
		return;
	}
	dnsb_u16(m, (unsigned)rdlen);
	memcpy(m->b + m->n, rdata, rdlen);
	m->n += rdlen;
}

/* Hand a built message to the table as the aggregator would. */
static void
dns_feed_from(struct enr_dns *d, struct dnsb *b, int response, uint32_t pid,
    uint16_t cport, int64_t t, const char *server);

static void
dns_feed(struct enr_dns *d, struct dnsb *b, int response, uint32_t pid,
    uint16_t cport, int64_t t)
{
	dns_feed_from(d, b, response, pid, cport, t, "\x7f\0\0\x35");
}

static void
dns_feed_from(struct enr_dns *d, struct dnsb *b, int response, uint32_t pid,
    uint16_t cport, int64_t t, const char *server)
{
	struct msg_dns m;

	memset(&m, 0, sizeof(m));
	m.pid = pid;
	m.time_ns = t;
	m.transport = 17;
	m.family = 4;
	memcpy(m.client_ip, "\x7f\0\0\x01", 4);
	memcpy(m.server_ip, server, 4);
	m.client_port = cport;
	m.server_port = 53;
	m.response = response;
	m.whole = true;
	m.payload = b->b;
	m.len = b->n;
	enr_dns_message(d, &m, 777);
}

static void
test_dns_names(void)
{
	struct enr_dns *d = enr_dns_new(4);
	const struct enr_dns_stats *st;
	struct dnsb q, r;
	uint8_t ip1[4] = { 10, 0, 0, 1 }, ip2[4] = { 10, 0, 0, 2 };
	uint8_t ip9[4] = { 10, 0, 0, 9 }, ip6[16] = { 0xfd, 0x77 };
	int64_t t0 = 1700000000 * SEC_NS;
	const char *n;
	int i;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	st = enr_dns_stats(d);
	ip6[15] = 1;

	/* A query and its answer: the process's flow to the address. */
	dnsb_start(&q, 0x1111, 0, "WWW.Example.test", 1, 0);
	dns_feed(d, &q, 0, 100, 40000, t0);
	dnsb_start(&r, 0x1111, 1, "www.example.test", 1, 1);
	dnsb_rr(&r, "www.example.test", 1, 60, ip1, 4, NULL);
	dns_feed(d, &r, 1, 100, 40000, t0 + 1000);
	n = enr_dns_name(d, 100, 777, 4, ip1, t0 + 2000, t0 + 3000, t0);
	CHECK(n != NULL && strcmp(n, "www.example.test") == 0);
	/* Another process, or another start of the pid, is not named. */
	CHECK(enr_dns_name(d, 101, 777, 4, ip1, t0 + 2000, t0 + 3000,
	    t0) == NULL);
	CHECK(enr_dns_name(d, 100, 778, 4, ip1, t0 + 2000, t0 + 3000,
	    t0) == NULL);
	/* Nor another address, nor a flow long after the TTL ran out. */
	CHECK(enr_dns_name(d, 100, 777, 4, ip2, t0 + 2000, t0 + 3000,
	    t0) == NULL);
	CHECK(enr_dns_name(d, 100, 777, 4, ip1, t0 + 62 * SEC_NS,
	    t0 + 63 * SEC_NS, t0) == NULL);
	/* A flow that ended before the answer came is not named. */
	CHECK(enr_dns_name(d, 100, 777, 4, ip1, t0 - 5 * SEC_NS,
	    t0 - 4 * SEC_NS, t0) == NULL);

	/* An answer to no query (other id, port or name) names nothing. */
	dnsb_start(&r, 0x2222, 1, "evil.test", 1, 1);
	dnsb_rr(&r, "evil.test", 1, 60, ip9, 4, NULL);
	dns_feed(d, &r, 1, 100, 40000, t0);
	dnsb_start(&q, 0x3333, 0, "good.test", 1, 0);
	dns_feed(d, &q, 0, 100, 40001, t0);
	dnsb_start(&r, 0x3333, 1, "good.test", 1, 1);
	dnsb_rr(&r, "good.test", 1, 60, ip9, 4, NULL);
	dns_feed(d, &r, 1, 100, 40002, t0);
	dnsb_start(&r, 0x3333, 1, "other.test", 1, 1);
	dnsb_rr(&r, "other.test", 1, 60, ip9, 4, NULL);
	dns_feed(d, &r, 1, 100, 40001, t0);
	CHECK(st->unmatched == 3);
	CHECK(enr_dns_name(d, 100, 777, 4, ip9, t0, t0, t0) == NULL);
	/*
	 * A remote server's answer: its query left unseen (the capture sees
	 * what arrives). Taken when the aggregator named the process that
	 * asked, not otherwise.
	 */
	dnsb_start(&r, 0x7777, 1, "remote.test", 1, 1);
	dnsb_rr(&r, "remote.test", 1, 60, ip9, 4, NULL);
	dns_feed_from(d, &r, 1, 0, 40010, t0, "\x0a\0\0\x35");
	CHECK(st->unmatched == 4 && st->unqueried == 0);
	dns_feed_from(d, &r, 1, 120, 40010, t0, "\x0a\0\0\x35");
	CHECK(st->unqueried == 1);
	n = enr_dns_name(d, 120, 777, 4, ip9, t0, t0, t0);
	CHECK(n != NULL && strcmp(n, "remote.test") == 0);

	/* A CNAME chain: the question's name goes to the end address. */
	dnsb_start(&q, 0x4444, 0, "alias.test", 28, 0);
	dns_feed(d, &q, 0, 200, 40003, t0);
	dnsb_start(&r, 0x4444, 1, "alias.test", 28, 3);
	dnsb_rr(&r, "mid.test", 5, 300, NULL, 0, "end.test");
	dnsb_rr(&r, "end.test", 28, 300, ip6, 16, NULL);
	dnsb_rr(&r, "alias.test", 5, 300, NULL, 0, "mid.test");
	dns_feed(d, &r, 1, 0, 40003, t0);	/* the query's pid */
	n = enr_dns_name(d, 200, 777, 6, ip6, t0, t0 + 1, t0);
	CHECK(n != NULL && strcmp(n, "alias.test") == 0);

	/* A hostile answer (a pointer to itself) is counted, nothing more. */
	dnsb_start(&q, 0x5555, 0, "loop.test", 1, 0);
	dns_feed(d, &q, 0, 300, 40004, t0);
	dnsb_start(&r, 0x5555, 1, "loop.test", 1, 1);
	r.b[r.n++] = 0xc0;
	r.b[r.n] = (uint8_t)r.n - 1;
	r.n++;
	dns_feed(d, &r, 1, 300, 40004, t0);
	{
		uint64_t bad = 0;

		for (i = 1; i < DNS_ERR__MAX; i++)
			bad += st->malformed[i];
		CHECK(bad == 1);
	}

	/* Bounded: past the cap the entry used longest ago goes. */
	for (i = 0; i < 6; i++) {
		uint8_t ip[4] = { 10, 1, 0, (uint8_t)i };
		char name[32];

		snprintf(name, sizeof(name), "h%d.test", i);
		dnsb_start(&q, 0x6000 + (unsigned)i, 0, name, 1, 0);
		dns_feed(d, &q, 0, 400, 41000, t0);
		dnsb_start(&r, 0x6000 + (unsigned)i, 1, name, 1, 1);
		dnsb_rr(&r, name, 1, 60, ip, 4, NULL);
		dns_feed(d, &r, 1, 400, 41000, t0);
	}
	CHECK(enr_dns_count(d) == 4);
	CHECK(st->names_evicted == 5);	/* 3 before, h0 and h1 */
	{
		uint8_t ip0[4] = { 10, 1, 0, 0 }, ip5[4] = { 10, 1, 0, 5 };

		CHECK(enr_dns_name(d, 400, 777, 4, ip0, t0, t0, t0) == NULL);
		n = enr_dns_name(d, 400, 777, 4, ip5, t0, t0, t0);
		CHECK(n != NULL && strcmp(n, "h5.test") == 0);
	}
	/* Entries neither valid nor used for long are expired. */
	enr_dns_expire(d, t0 + 3600 * SEC_NS);
	CHECK(enr_dns_count(d) == 0 && st->names_expired == 4);
	enr_dns_free(d);
}

/* The flows in flight: kept from a notice, refreshed, ended by final. */
static uint64_t orphan_ids[8];
static size_t norphans;

static void
orphan_cb(const struct msg_flow *f, void *arg)
{
	if (norphans < 8)
		orphan_ids[norphans] = f->flow_id;
	norphans++;
}

static void
test_inflight(void)
{
	struct enr_inflight *t = enr_inflight_new(3);
	struct msg_flow f;
	size_t i;

	CHECK(t != NULL);
	memset(&f, 0, sizeof(f));
	/* Without an id, or an interim report never announced: not kept. */
	f.open = true;
	enr_inflight_note(t, &f);
	f.open = false;
	f.flow_id = 7;
	enr_inflight_note(t, &f);
	CHECK(enr_inflight_count(t) == 0);
	/* Announced, then an interim report refreshes what is kept. */
	f.open = true;
	f.local.bytes = 10;
	enr_inflight_note(t, &f);
	f.open = false;
	f.local.bytes = 20;
	enr_inflight_note(t, &f);
	CHECK(enr_inflight_count(t) == 1);
	/* Announced twice (a new enricher is told again): one entry. */
	f.open = true;
	enr_inflight_note(t, &f);
	CHECK(enr_inflight_count(t) == 1);
	/* Two more fill it; a fourth is counted, not kept. */
	for (i = 8; i <= 10; i++) {
		f.flow_id = i;
		enr_inflight_note(t, &f);
	}
	CHECK(enr_inflight_count(t) == 3);
	CHECK(enr_inflight_stats(t)->full == 1);
	/* A final report forgets its flow, whether open or not. */
	f.open = false;
	f.final = true;
	f.flow_id = 8;
	enr_inflight_note(t, &f);
	f.flow_id = 99;
	enr_inflight_note(t, &f);
	CHECK(enr_inflight_count(t) == 2);
	/* The aggregator died: each left once, then none. */
	enr_inflight_drain(t, orphan_cb, NULL);
	CHECK(norphans == 2);
	CHECK((orphan_ids[0] == 7 && orphan_ids[1] == 9) ||
	    (orphan_ids[0] == 9 && orphan_ids[1] == 7));
	CHECK(enr_inflight_count(t) == 0);
	CHECK(enr_inflight_stats(t)->orphaned == 2);
	/* The last record of a flow that is not final forgets it too. */
	f.final = false;
	f.open = true;
	f.flow_id = 50;
	enr_inflight_note(t, &f);
	f.open = false;
	f.gone = true;
	enr_inflight_note(t, &f);
	CHECK(enr_inflight_count(t) == 0);
	f.gone = false;
	/* A clean stop forgets without writing. */
	f.final = false;
	f.open = true;
	enr_inflight_note(t, &f);
	enr_inflight_drain(t, NULL, NULL);
	CHECK(norphans == 2 && enr_inflight_count(t) == 0);
	enr_inflight_free(t);

	/* Honest ids (socket gen, then a serial) spread: none is refused. */
	t = enr_inflight_new(300000);
	f.open = true;
	for (i = 0; i < 200000; i++) {
		f.flow_id = (uint64_t)(i / 3 + 1) << 24 | (i + 1);
		enr_inflight_note(t, &f);
	}
	CHECK(enr_inflight_count(t) == 200000);
	CHECK(enr_inflight_stats(t)->full == 0);
	enr_inflight_free(t);
}

int
main(void)
{
	char cmd[600];
	int rv;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_json();
	test_writer();
	test_ipv4_text();
	test_community_id();
	test_procs();
	test_host();
	test_names();
	test_dns_names();
	test_containers();
	test_cgroup_table();
	test_inflight();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	rv = check_done("test_enr");
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return rv;
}

/*
 * Which kernel instrumentation the probe uses, and what each backend
 * opens. The tracepoint backend needs sock:sock_send_length and
 * sock:sock_recv_length (Linux 6.3 and later). The kprobe backend takes
 * the same facts from kprobes where tracepoints are missing: the entry of
 * each send and receive function (the socket, its family and protocol,
 * the receive flags) and its return (the bytes moved), paired by thread
 * in the aggregator; the tracepoints every kernel since 4.16 has
 * (inet_sock_set_state, tcp_destroy_sock, the FIB lookups) and sock_diag
 * do the rest, as in the tracepoint backend. Offsets and argument
 * registers come from the kernel's BTF; nothing is guessed.
 *
 * "auto" prefers kprobes where the kernel offers them (kprobe_events and
 * BTF) and falls back to tracepoints otherwise; the reason is logged.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "sfconfig.h"
#include "xmalloc.h"

#define BTF_PATH	"/sys/kernel/btf/vmlinux"

/*
 * The tracepoints of both backends with their in-kernel filters, which
 * keep AF_UNIX, netlink, listeners, errors and MSG_PEEK out of the rings.
 */
#define TCP_UDP		"(protocol == 6 || protocol == 17)"
#define TCP_STATES	"oldstate != 10 && (newstate == 1 || newstate == 2 || " \
			"(newstate == 7 && (oldstate == 5 || oldstate == 2)))"

/*
 * TCP only, no listener transitions, and only the changes the flow model
 * uses: to SYN_SENT and ESTABLISHED (the start, the direction, the
 * tuple), to CLOSE from FIN_WAIT2 (a socket handed to a TIME_WAIT
 * mini-socket before the peer's FIN, whose counters miss that FIN and its
 * ACK) and from SYN_SENT (a failed connect: the last sample with its
 * local port, which the failure releases). Every TCP socket's end is its
 * destroy sample; the other states would be five more samples a
 * connection.
 */
static const struct probe_event tp_set_state_v46 =
	{ "sock", "inet_sock_set_state", "protocol == 6 && " TCP_STATES, 0, 0 };
static const struct probe_event tp_set_state_v4 =
	{ "sock", "inet_sock_set_state", "family == 2 && protocol == 6 && "
	    TCP_STATES, 0, 0 };
/* Payload bytes of every send and receive that moved data (6.3+). */
static const struct probe_event tp_send_v46 =
	{ "sock", "sock_send_length",
	    "(family == 2 || family == 10) && " TCP_UDP " && ret > 0", 0, 0 };
static const struct probe_event tp_recv_v46 =
	{ "sock", "sock_recv_length",
	    "(family == 2 || family == 10) && " TCP_UDP
	    " && ret > 0 && !(flags & 2)", 0, 0 };
static const struct probe_event tp_send_v4 =
	{ "sock", "sock_send_length", "family == 2 && " TCP_UDP " && ret > 0",
	    0, 0 };
static const struct probe_event tp_recv_v4 =
	{ "sock", "sock_recv_length", "family == 2 && " TCP_UDP
	    " && ret > 0 && !(flags & 2)", 0, 0 };
/*
 * The end of a TCP socket. Not filtered on dport: a socket that
 * tcp_disconnect reset (a failed connect(), a close() with SO_LINGER 0)
 * ends with no remote port; the aggregator ignores the ends of sockets it
 * never saw (listeners, never connected). Linux 5.10's has no family
 * field to filter on; the aggregator then drops IPv6 ends itself.
 */
static const struct probe_event tp_destroy_v46 =
	{ "tcp", "tcp_destroy_sock", NULL, 0, 0 };
static const struct probe_event tp_destroy_v4 =
	{ "tcp", "tcp_destroy_sock", "family == 2", 0, 0 };
/*
 * Every exec, with the file executed (process.executable). The start-up
 * self-test does not wait for it: the probe executes nothing.
 */
static const struct probe_event tp_exec =
	{ "sched", "sched_process_exec", NULL, 1, 0 };
/*
 * The tracepoint backend's exec also takes the top of the new program's
 * stack, where the kernel has just put argc, the argument pointers and,
 * further up, the strings (process.args). Between the two lies a random
 * gap of up to 8 KiB (stack randomization, x86), so 12 KiB hold the
 * arguments unless the environment is very large. The aggregator keeps
 * the argument strings only; the environment's are never read.
 */
static const struct probe_event tp_exec_args =
	{ "sched", "sched_process_exec", NULL, 1, 12288 };
/*
 * set*id() calls, with their arguments, and their results: a process's
 * ids that changed after its exec (a daemon dropping root). The
 * aggregator pairs each call with its result by thread.
 */
static const struct probe_event tp_setid[] = {
	{ "syscalls", "sys_enter_setuid", NULL, 1, 0 },
	{ "syscalls", "sys_enter_setgid", NULL, 1, 0 },
	{ "syscalls", "sys_enter_setreuid", NULL, 1, 0 },
	{ "syscalls", "sys_enter_setregid", NULL, 1, 0 },
	{ "syscalls", "sys_enter_setresuid", NULL, 1, 0 },
	{ "syscalls", "sys_enter_setresgid", NULL, 1, 0 },
	{ "syscalls", "sys_exit_setuid", "ret == 0", 1, 0 },
	{ "syscalls", "sys_exit_setgid", "ret == 0", 1, 0 },
	{ "syscalls", "sys_exit_setreuid", "ret == 0", 1, 0 },
	{ "syscalls", "sys_exit_setregid", "ret == 0", 1, 0 },
	{ "syscalls", "sys_exit_setresuid", "ret == 0", 1, 0 },
	{ "syscalls", "sys_exit_setresgid", "ret == 0", 1, 0 },
};
/* UDP route lookups of sendto() and connect(): the remote. */
static const struct probe_event tp_fib4 =
	{ "fib", "fib_table_lookup", "proto == 17 && dport != 0", 0, 0 };
static const struct probe_event tp_fib6 =
	{ "fib6", "fib6_table_lookup", "proto == 17 && dport != 0", 0, 0 };

/*
 * The kprobes of the kprobe backend. Each names its event, whether it is
 * a return probe (with how many calls may be in flight at once: sends
 * and receives block, and a return probe without a free instance is a
 * miss), the functions that may carry it on a kernel, in order of
 * preference, and what it fetches.
 */
enum kargs {
	KA_SOCK,	/* sk, family, protocol */
	KA_SOCK_FLAGS,	/* the same and the receive flags */
	KA_RET,		/* the return value */
	KA_PKT4,	/* an IPv4 packet: its length, addresses, ports */
	KA_PKT6,	/* an IPv6 packet: the same */
	KA_CREDS,	/* new credentials: uid, gid, euid, egid */
	KA_ARGS,	/* an exec's arguments, from the new image's memory */
};

struct kplan {
	const char	*event;
	int		 ret;
	int		 maxactive;
	int		 v6;		/* only with IPv6 on */
	enum kargs	 args;
	const char	*syms[3];
};

static const struct kplan kplans[] = {
	{ "send_tcp", 0, 0, 0, KA_SOCK, { "tcp_sendmsg" } },
	{ "sendret_tcp", 1, 1024, 0, KA_RET, { "tcp_sendmsg" } },
	{ "send_udp", 0, 0, 0, KA_SOCK, { "udp_sendmsg" } },
	{ "sendret_udp", 1, 1024, 0, KA_RET, { "udp_sendmsg" } },
	{ "send_udp6", 0, 0, 1, KA_SOCK, { "udpv6_sendmsg" } },
	{ "sendret_udp6", 1, 1024, 1, KA_RET, { "udpv6_sendmsg" } },
	{ "recv_tcp", 0, 0, 0, KA_SOCK_FLAGS, { "tcp_recvmsg" } },
	{ "recvret_tcp", 1, 4096, 0, KA_RET, { "tcp_recvmsg" } },
	{ "recv_udp", 0, 0, 0, KA_SOCK_FLAGS, { "udp_recvmsg" } },
	{ "recvret_udp", 1, 4096, 0, KA_RET, { "udp_recvmsg" } },
	{ "recv_udp6", 0, 0, 1, KA_SOCK_FLAGS, { "udpv6_recvmsg" } },
	{ "recvret_udp6", 1, 4096, 1, KA_RET, { "udpv6_recvmsg" } },
	/*
	 * Every TCP packet at the IP layer, for exact IP-level bytes: what
	 * leaves (ip_output, ip6_output: after the IP header is built, for
	 * every locally made packet, SYN-ACKs and resets included) and what
	 * is delivered to this host (ip_local_deliver, ip6_input: before
	 * the IP header is pulled).
	 */
	{ "pkt_out4", 0, 0, 0, KA_PKT4, { "ip_output", "__ip_local_out" } },
	{ "pkt_in4", 0, 0, 0, KA_PKT4, { "ip_local_deliver" } },
	{ "pkt_out6", 0, 0, 1, KA_PKT6, { "ip6_output", "ip6_finish_output" } },
	{ "pkt_in6", 0, 0, 1, KA_PKT6, { "ip6_input" } },
	/*
	 * A process's new credentials, each time they change: at an exec
	 * (a setuid file too) and at setuid() and the like, in the
	 * process's own context.
	 */
	{ "creds", 0, 0, 0, KA_CREDS, { "commit_creds" } },
	/*
	 * An exec's arguments: at finalize_exec the new image is in place,
	 * its stack built (the mm reached through the stack's vma,
	 * bprm->vma->vm_mm); the first 256 bytes of its argument strings
	 * are read from that user memory, with argc to say how many there
	 * were.
	 */
	{ "args", 0, 0, 0, KA_ARGS, { "finalize_exec" } },
};
#define NKPLANS	(sizeof(kplans) / sizeof(kplans[0]))

/* x86-64 argument registers, in kprobe_events' spelling. */
static const char *const argregs[] = { "%di", "%si", "%dx", "%cx", "%r8",
    "%r9" };

/*
 * The register that carries a function's named parameter, as BTF says;
 * NULL, and why in err, when it is not in one.
 */
static const char *
param_reg(const struct btf *btf, const char *sym, const char *param,
    char *err, size_t errsz)
{
	int i, n;

	i = btf_func_param(btf, sym, param, &n);
	if (i >= 0 && i < (int)(sizeof(argregs) / sizeof(argregs[0])))
		return argregs[i];
	if (n < 0)
		snprintf(err, errsz, "%s: not in the kernel's BTF", sym);
	else
		snprintf(err, errsz, "%s: no parameter %s in a register", sym,
		    param);
	return NULL;
}

static void
add_event(struct backend *b, const struct probe_event *e)
{
	if (b->nevents == PROBE_MAX_EVENTS)
		fatalx("too many events");
	b->events[b->nevents++] = *e;
}

int
backend_tracepoint_ok(const char *tracefs, char *why, size_t whysz)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/events/sock/sock_send_length",
	    tracefs);
	if (stat(path, &st) == 0)
		return 1;
	snprintf(why, whysz, "this kernel has no sock:sock_send_length "
	    "tracepoint (Linux 6.3 and later)");
	return 0;
}

int
backend_kprobe_ok(const char *tracefs, char *why, size_t whysz)
{
	char err[256];
	struct btf *btf;

	if (!kprobe_supported(tracefs)) {
		snprintf(why, whysz, "this kernel has no kprobe_events in "
		    "%s (CONFIG_KPROBE_EVENTS off, or no kprobes)", tracefs);
		return 0;
	}
#ifndef __x86_64__
	snprintf(why, whysz, "the kprobe backend knows only x86-64's "
	    "argument registers");
	return 0;
#endif
	if (btf_load(&btf, BTF_PATH, err, sizeof(err)) == -1) {
		snprintf(why, whysz, "no kernel BTF (%s); the kprobe backend "
		    "does not guess struct offsets", err);
		return 0;
	}
	btf_free(btf);
	return 1;
}

int
backend_choose(int configured, const char *tracefs, char *why, size_t whysz)
{
	char kwhy[256], twhy[256];

	switch (configured) {
	case BACKEND_KPROBE:
		snprintf(why, whysz, "socket.backend is kprobe");
		return BACKEND_KPROBE;
	case BACKEND_TRACEPOINT:
		snprintf(why, whysz, "socket.backend is tracepoint");
		return BACKEND_TRACEPOINT;
	}
	if (backend_kprobe_ok(tracefs, kwhy, sizeof(kwhy))) {
		snprintf(why, whysz, "auto: kprobes and BTF are available");
		return BACKEND_KPROBE;
	}
	if (backend_tracepoint_ok(tracefs, twhy, sizeof(twhy))) {
		snprintf(why, whysz, "auto: %s", kwhy);
		return BACKEND_TRACEPOINT;
	}
	snprintf(why, whysz, "auto: neither backend can run: %s; %s", kwhy,
	    twhy);
	return -1;
}

void
backend_tracepoints(struct backend *b, const char *tracefs, int use_v6)
{
	char path[512];
	size_t i;

	memset(b, 0, sizeof(*b));
	b->kind = BACKEND_TRACEPOINT;
	if (use_v6) {
		add_event(b, &tp_set_state_v46);
		add_event(b, &tp_send_v46);
		add_event(b, &tp_recv_v46);
		add_event(b, &tp_destroy_v46);
		add_event(b, &tp_fib4);
		add_event(b, &tp_fib6);
	} else {
		add_event(b, &tp_set_state_v4);
		add_event(b, &tp_send_v4);
		add_event(b, &tp_recv_v4);
		add_event(b, &tp_destroy_v4);
		add_event(b, &tp_fib4);
	}
	add_event(b, &tp_exec_args);
	/* Kernels without CONFIG_FTRACE_SYSCALLS have none of them. */
	snprintf(path, sizeof(path), "%s/events/syscalls/sys_exit_setuid",
	    tracefs);
	if (access(path, F_OK) == -1) {
		log_warnx("no syscalls tracepoints: ids a process changes "
		    "after its exec are not followed");
		return;
	}
	for (i = 0; i < sizeof(tp_setid) / sizeof(tp_setid[0]); i++)
		add_event(b, &tp_setid[i]);
}

/*
 * A packet's IP and transport headers, fetched through skb->data: the
 * length of the packet (skb->len), the first byte (version and header
 * length: the ports are read where a 20-byte IPv4 header ends, and the
 * aggregator drops the rare packet with IP options), the protocol, the
 * addresses and the two ports as they are on the wire.
 */
static int
packet_args(const struct btf *btf, const struct kplan *k, const char *sym,
    char *out, size_t outsz, char *err, size_t errsz)
{
	struct btf_field len, data;
	const char *skb, *sk;
	char d[32];
	size_t n;

	if ((skb = param_reg(btf, sym, "skb", err, errsz)) == NULL)
		return -1;
	if (btf_member(btf, "sk_buff.len", &len, err, errsz) == -1 ||
	    btf_member(btf, "sk_buff.data", &data, err, errsz) == -1)
		return -1;
	if (len.size != 4 || data.size != 8) {
		snprintf(err, errsz, "sk_buff.len or sk_buff.data has an "
		    "unexpected size");
		return -1;
	}
	snprintf(d, sizeof(d), "+%u(%s)", data.offset, skb);
	if (k->args == KA_PKT4)
		snprintf(out, outsz, "%s len=+%u(%s):u32 vihl=+0(%s):u8 "
		    "proto=+9(%s):u8 saddr=+12(%s):u32 daddr=+16(%s):u32 "
		    "ports=+20(%s):u32", sym, len.offset, skb, d, d,
		    d, d, d);
	else
		snprintf(out, outsz, "%s len=+%u(%s):u32 vihl=+0(%s):u8 "
		    "proto=+6(%s):u8 saddr=+8(%s):x8[16] daddr=+24(%s):x8[16] "
		    "ports=+40(%s):u32", sym, len.offset, skb, d, d,
		    d, d, d);
	/*
	 * On the output path, the socket: a forwarded packet has none and
	 * is filtered out in the kernel (it is not this host's traffic, and
	 * would be counted again under its tuple).
	 */
	if (strncmp(k->event, "pkt_out", 7) == 0) {
		if ((sk = param_reg(btf, sym, "sk", err, errsz)) == NULL)
			return -1;
		n = strlen(out);
		snprintf(out + n, outsz - n, " sk=%s:x64", sk);
	}
	return 0;
}

/*
 * An exec's arguments (see the plan): argc, where the argument strings
 * begin and end in the new image (mm->arg_start, mm->arg_end), and the
 * first ARGS_WORDS * 8 bytes from the start, read from user memory as
 * 64-bit words. A string fetch would copy each argument whole, up to 4
 * KiB: a record the kernel refuses past its trace buffer size (with a
 * warning, a panic under panic_on_warn), which any user could provoke.
 * This record has a fixed size. Bytes past arg_end (the environment's
 * first ones, when the arguments are short) are dropped by the
 * aggregator.
 */
#define ARGS_WORDS	32

static int
args_args(const struct btf *btf, const char *sym, char *out, size_t outsz,
    char *err, size_t errsz)
{
	struct btf_field vma, vmmm, start, end, argc;
	const char *bprm;
	char mm[96];
	size_t off;
	int i;

	if ((bprm = param_reg(btf, sym, "bprm", err, errsz)) == NULL)
		return -1;
	if (btf_member(btf, "linux_binprm.vma", &vma, err, errsz) == -1 ||
	    btf_member(btf, "linux_binprm.argc", &argc, err, errsz) == -1 ||
	    btf_member(btf, "vm_area_struct.vm_mm", &vmmm, err, errsz) == -1 ||
	    btf_member(btf, "mm_struct.arg_start", &start, err, errsz) == -1 ||
	    btf_member(btf, "mm_struct.arg_end", &end, err, errsz) == -1)
		return -1;
	if (vma.size != 8 || vmmm.size != 8 || start.size != 8 ||
	    end.size != 8 || argc.size != 4) {
		snprintf(err, errsz, "an exec's fields have unexpected sizes");
		return -1;
	}
	snprintf(mm, sizeof(mm), "+%u(+%u(%s))", vmmm.offset, vma.offset,
	    bprm);
	off = (size_t)snprintf(out, outsz, "%s argc=+%u(%s):s32 "
	    "start=+%u(%s):u64 end=+%u(%s):u64", sym, argc.offset, bprm,
	    start.offset, mm, end.offset, mm);
	for (i = 0; i < ARGS_WORDS && off < outsz; i++)
		off += (size_t)snprintf(out + off, outsz - off,
		    " w%d=+u%d(+%u(%s)):u64", i, 8 * i, start.offset, mm);
	if (off >= outsz) {
		snprintf(err, errsz, "%s: definition too long", sym);
		return -1;
	}
	return 0;
}

/* The ids of a struct cred, the function's first parameter. */
static int
creds_args(const struct btf *btf, const char *sym, char *out, size_t outsz,
    char *err, size_t errsz)
{
	static const char *const ids[] = { "uid", "gid", "euid", "egid" };
	struct btf_field f;
	const char *cred;
	char path[32];
	size_t i, off;

	if ((cred = param_reg(btf, sym, "new", err, errsz)) == NULL)
		return -1;
	off = (size_t)snprintf(out, outsz, "%s", sym);
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "cred.%s", ids[i]);
		if (btf_member(btf, path, &f, err, errsz) == -1)
			return -1;
		if (f.size != 4) {
			snprintf(err, errsz, "%s is not 32 bits", path);
			return -1;
		}
		off += (size_t)snprintf(out + off, outsz - off,
		    " %s=+%u(%s):u32", ids[i], f.offset, cred);
	}
	return 0;
}

/* The fetch arguments of a plan on one function, from BTF. */
static int
kprobe_args(const struct btf *btf, const struct kplan *k, const char *sym,
    char *out, size_t outsz, char *err, size_t errsz)
{
	struct btf_field fam, proto;
	const char *sk, *flags = NULL;
	int n;

	if (k->args == KA_RET) {
		snprintf(out, outsz, "%s ret=$retval:s32", sym);
		return 0;
	}
	if (k->args == KA_PKT4 || k->args == KA_PKT6)
		return packet_args(btf, k, sym, out, outsz, err, errsz);
	if (k->args == KA_CREDS)
		return creds_args(btf, sym, out, outsz, err, errsz);
	if (k->args == KA_ARGS)
		return args_args(btf, sym, out, outsz, err, errsz);
	if ((sk = param_reg(btf, sym, "sk", err, errsz)) == NULL ||
	    (k->args == KA_SOCK_FLAGS &&
	    (flags = param_reg(btf, sym, "flags", err, errsz)) == NULL))
		return -1;
	if (btf_member(btf, "sock_common.skc_family", &fam, err, errsz) == -1 ||
	    btf_member(btf, "sock.sk_protocol", &proto, err, errsz) == -1)
		return -1;
	if (fam.size != 2 || proto.size != 2) {
		snprintf(err, errsz, "skc_family or sk_protocol is not 16 bits");
		return -1;
	}
	n = snprintf(out, outsz, "%s sk=%s:x64 family=+%u(%s):u16 "
	    "protocol=+%u(%s):u16", sym, sk, fam.offset, sk, proto.offset,
	    sk);
	if (flags != NULL && n > 0 && (size_t)n < outsz)
		snprintf(out + n, outsz - (size_t)n, " flags=%s:s32", flags);
	return 0;
}

int
backend_kprobes(struct backend *b, const char *tracefs, int use_v6,
    FILE *report, char *err, size_t errsz)
{
	struct btf *btf;
	char where[3072], why[256];
	const char *syms[3 * NKPLANS];
	char suffix[16];
	int listed[3 * NKPLANS], have_list;
	size_t i, j, nsyms;
	int removed;

	memset(b, 0, sizeof(*b));
	b->kind = BACKEND_KPROBE;
	b->tracefs = tracefs;
	kprobe_group_name(b->group, sizeof(b->group), suffix, sizeof(suffix));
	if ((removed = kprobe_remove_stale(tracefs, why, sizeof(why))) > 0)
		log_info("removed %d probe(s) a stopped sockflow left behind",
		    removed);
	else if (removed == -1)
		log_warnx("%s", why);
	if (btf_load(&btf, BTF_PATH, err, errsz) == -1)
		return -1;
	add_event(b, use_v6 ? &tp_set_state_v46 : &tp_set_state_v4);
	/* Linux 5.10's tcp_destroy_sock has no family to filter on. */
	add_event(b, &tp_destroy_v46);
	add_event(b, &tp_fib4);
	if (use_v6)
		add_event(b, &tp_fib6);
	add_event(b, &tp_exec);
	/*
	 * The functions the kernel lists as attachable, where it says so:
	 * an alternative it does not list is not tried.
	 */
	for (i = 0, nsyms = 0; i < NKPLANS; i++)
		for (j = 0; j < 3 && kplans[i].syms[j] != NULL; j++)
			syms[nsyms++] = kplans[i].syms[j];
	have_list = kprobe_symbols_listed(tracefs, syms, (int)nsyms,
	    listed) == 0;
	for (i = 0, nsyms = 0; i < NKPLANS; i++) {
		const struct kplan *k = &kplans[i];
		int done = 0;

		if (k->v6 && !use_v6) {
			for (j = 0; j < 3 && k->syms[j] != NULL; j++)
				nsyms++;
			continue;
		}
		why[0] = '\0';
		/* The planned name and this instance's suffix. */
		snprintf(b->knames[b->nkprobes], sizeof(b->knames[0]), "%s_%s",
		    k->event, suffix);
		for (j = 0; j < 3 && k->syms[j] != NULL; j++, nsyms++) {
			if (done)
				continue;
			if (have_list && !listed[nsyms]) {
				snprintf(why, sizeof(why), "%s is not in "
				    "available_filter_functions", k->syms[j]);
				continue;
			}
			if (kprobe_args(btf, k, k->syms[j], where,
			    sizeof(where), why, sizeof(why)) == -1)
				continue;
			if (kprobe_add(tracefs, b->group, b->knames[b->nkprobes],
			    k->ret, k->maxactive, where, why,
			    sizeof(why)) == -1) {
				/* Tried and refused: the next alternative. */
				char tmp[256];

				snprintf(tmp, sizeof(tmp), "%s: %s",
				    k->syms[j], why);
				snprintf(why, sizeof(why), "%s", tmp);
				continue;
			}
			done = 1;
			if (report != NULL)
				fprintf(report, "kprobe %s/%s: %s%s %s\n",
				    b->group, b->knames[b->nkprobes],
				    k->ret ? "return of " :
				    "", k->syms[j], where + strlen(k->syms[j]));
		}
		if (!done) {
			snprintf(err, errsz, "kprobe %s: %s", k->event,
			    why[0] != '\0' ? why : "no function to attach to");
			btf_free(btf);
			backend_kprobes_remove(b);
			return -1;
		}
		b->kprobes[b->nkprobes] = k->event;
		add_event(b, &(struct probe_event){ b->group,
		    b->knames[b->nkprobes++],
		    k->ret || k->args == KA_CREDS || k->args == KA_ARGS ? NULL :
		    (k->args == KA_PKT4 || k->args == KA_PKT6) &&
		    strncmp(k->event, "pkt_out", 7) == 0 ?
		    "proto == 6 && sk != 0" :
		    k->args == KA_PKT4 || k->args == KA_PKT6 ? "proto == 6" :
		    use_v6 ? "family == 2 || family == 10" : "family == 2",
		    k->args == KA_CREDS || k->args == KA_ARGS, 0 });
	}
	btf_free(btf);
	return 0;
}

void
backend_kprobes_remove(struct backend *b)
{
	char err[256];

	if (b->kind != BACKEND_KPROBE || b->group[0] == '\0')
		return;
	if (kprobe_remove_group(b->tracefs, b->group, err, sizeof(err)) == -1)
		log_warnx("%s", err);
}

/* One event: its format is readable and it opens with its filter. */
static int
check_event(const char *tracefs, const struct probe_event *e, int cpu,
    FILE *out)
{
	struct msg_format f;
	char err[256];

	if (tracefs_read_event(tracefs, e->system, e->name, &f) == -1) {
		fprintf(out, "  %s:%s: MISSING (%s)\n", e->system, e->name,
		    strerror(errno));
		return -1;
	}
	free(f.text);
	if (perf_try_event(f.id, cpu, e->filter, err, sizeof(err)) == -1) {
		fprintf(out, "  %s:%s: id %u, CANNOT OPEN: %s\n", e->system,
		    e->name, f.id, err);
		return -1;
	}
	fprintf(out, "  %s:%s: id %u, filter %s%s%s\n", e->system, e->name,
	    f.id, e->filter != NULL ? "\"" : "", e->filter != NULL ?
	    e->filter : "none", e->filter != NULL ? "\"" : "");
	return 0;
}

int
backend_check(const struct sf_config *cfg, const char *tracefs, int use_v6,
    FILE *out)
{
	struct backend b;
	struct btf *btf;
	struct utsname un;
	char why[512], err[512], kwhy[256], twhy[256];
	int kind, kok, tok, bad = 0, cpus[MSG_MAX_CPUS];
	size_t i;

	if (uname(&un) == 0)
		fprintf(out, "kernel: %s %s %s\n", un.sysname, un.release,
		    un.machine);
	fprintf(out, "tracefs: %s\n", tracefs);
	if (btf_load(&btf, BTF_PATH, err, sizeof(err)) == 0) {
		fprintf(out, "btf: %s\n", BTF_PATH);
		btf_free(btf);
	} else
		fprintf(out, "btf: none (%s)\n", err);
	fprintf(out, "kprobe_events: %s\n", kprobe_supported(tracefs) ?
	    "present" : "absent");
	fprintf(out, "IPv6: %s\n", use_v6 ? "on" : "off");
	kok = backend_kprobe_ok(tracefs, kwhy, sizeof(kwhy));
	tok = backend_tracepoint_ok(tracefs, twhy, sizeof(twhy));
	fprintf(out, "kprobe backend: %s%s\n", kok ? "possible" :
	    "not possible: ", kok ? "" : kwhy);
	fprintf(out, "tracepoint backend: %s%s\n", tok ? "possible" :
	    "not possible: ", tok ? "" : twhy);
	if ((kind = backend_choose(cfg->backend, tracefs, why,
	    sizeof(why))) == -1) {
		fprintf(out, "backend: none (%s)\nresult: NOT OK\n", why);
		return 1;
	}
	fprintf(out, "backend: %s (%s)\n", kind == BACKEND_KPROBE ?
	    "kprobe" : "tracepoint", why);
	if ((kind == BACKEND_KPROBE && !kok) ||
	    (kind == BACKEND_TRACEPOINT && !tok))
		bad = 1;
	if (perf_online_cpus(cpus, MSG_MAX_CPUS) < 1)
		cpus[0] = 0;
	if (kind == BACKEND_KPROBE) {
		/* Registered for real, as at start, then removed. */
		if (backend_kprobes(&b, tracefs, use_v6, out, err,
		    sizeof(err)) == -1) {
			fprintf(out, "kprobes: NOT REGISTERED: %s\n", err);
			bad = 1;
			b.nevents = 0;
		}
	} else
		backend_tracepoints(&b, tracefs, use_v6);
	fprintf(out, "events:\n");
	for (i = 0; i < b.nevents; i++)
		if (check_event(tracefs, &b.events[i], cpus[0], out) == -1)
			bad = 1;
	if (kind == BACKEND_KPROBE) {
		backend_kprobes_remove(&b);
		if (kprobe_count_group(tracefs, b.group) != 0) {
			fprintf(out, "kprobes: %s NOT REMOVED\n", b.group);
			bad = 1;
		}
	}
	fprintf(out, "result: %s\n", bad ? "NOT OK" : "ok");
	return bad ? 1 : 0;
}

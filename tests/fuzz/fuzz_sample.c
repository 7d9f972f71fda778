/*
 * libFuzzer target for the aggregator's raw record decoder
 * (aggregator/agg_decode.c): the records the probe forwards unparsed from
 * the kernel's perf rings, samples of every event the aggregator knows
 * and the side-band records (COMM, FORK, EXIT, LOST, NAMESPACES, CGROUP).
 *
 * Two decoders are made once, from the saved formats of
 * tests/data/formats (the tracepoint and the kprobe backend's events)
 * and three set*id() formats of the same kernel: the first as a probe
 * that asks for nothing more announces them, the second with every
 * sample ending in its cgroup id and sched_process_exec carrying the
 * user stack, as the tracepoint backend opens them. The first input byte
 * picks the decoder, the rest is one record. Every event decoded must
 * hold what the flow table takes for granted, and every cgroup path
 * handed on must be a printable string.
 */
#include "config.h"

#include <linux/perf_event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "formatfile.h"

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR	"."
#endif

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

/* The user stack the tracepoint backend takes with each exec. */
#define EXEC_STACK_USER	12288

/* Saved formats, in tests/data/formats, and their event's system. */
static const struct {
	const char	*file;
	const char	*system;
} saved[] = {
	{ "sock_inet_sock_set_state", "sock" },
	{ "sock_sock_send_length", "sock" },
	{ "sock_sock_recv_length", "sock" },
	{ "tcp_tcp_destroy_sock", "tcp" },
	{ "fib_fib_table_lookup", "fib" },
	{ "fib6_fib6_table_lookup", "fib6" },
	{ "sched_sched_process_exec", "sched" },
	/* The kprobe backend's own group, sockflow_<pid>. */
	{ "kprobe_send_tcp", "sockflow_4242" },
	{ "kprobe_sendret_tcp", "sockflow_4242" },
	{ "kprobe_recv_tcp", "sockflow_4242" },
	{ "kprobe_recvret_tcp", "sockflow_4242" },
	{ "kprobe_send_udp", "sockflow_4242" },
	{ "kprobe_sendret_udp", "sockflow_4242" },
	{ "kprobe_send_udp6", "sockflow_4242" },
	{ "kprobe_sendret_udp6", "sockflow_4242" },
	{ "kprobe_pkt_out4", "sockflow_4242" },
	{ "kprobe_pkt_in4", "sockflow_4242" },
	{ "kprobe_creds", "sockflow_4242" },
	{ "kprobe_args", "sockflow_4242" },
};
#define NSAVED	(sizeof(saved) / sizeof(saved[0]))

/*
 * set*id() entry and exit, as the kernel of tests/data/formats/KERNEL
 * describes them (one of each layout: one id, two ids, the return).
 */
#define SYSCALL_COMMON \
	"format:\n" \
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" \
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" \
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;" \
	"\tsigned:0;\n" \
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n" \
	"\n" \
	"\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
static const char *const syscall_formats[] = {
	"name: sys_enter_setuid\nID: 323\n" SYSCALL_COMMON
	"\tfield:uid_t uid;\toffset:16;\tsize:8;\tsigned:0;\n\n"
	"print fmt: \"uid: 0x%08lx\", ((unsigned long)(REC->uid))\n",
	"name: sys_enter_setresuid\nID: 321\n" SYSCALL_COMMON
	"\tfield:uid_t ruid;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:uid_t euid;\toffset:24;\tsize:8;\tsigned:0;\n"
	"\tfield:uid_t suid;\toffset:32;\tsize:8;\tsigned:0;\n\n"
	"print fmt: \"ruid: 0x%08lx, euid: 0x%08lx, suid: 0x%08lx\", "
	"((unsigned long)(REC->ruid)), ((unsigned long)(REC->euid)), "
	"((unsigned long)(REC->suid))\n",
	"name: sys_exit_setuid\nID: 322\n" SYSCALL_COMMON
	"\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n\n"
	"print fmt: \"0x%lx\", REC->ret\n",
};
#define NSYSCALL	(sizeof(syscall_formats) / sizeof(syscall_formats[0]))
#define NFORMATS	(NSAVED + NSYSCALL)

static struct agg_decoder *dec[2];
static uint64_t last_seq[2];
static size_t ncgroups;

/* One announced format, as the probe sends them. */
static void
announce(struct msg_format *mf, const char *system, char *text, size_t len)
{
	struct tp_format fmt;
	char err[256];

	if (tpformat_parse(text, len, &fmt, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", system, err);
		exit(1);
	}
	memset(mf, 0, sizeof(*mf));
	mf->id = fmt.id;
	snprintf(mf->system, sizeof(mf->system), "%s", system);
	snprintf(mf->name, sizeof(mf->name), "%s", fmt.name);
	mf->text = text;
	mf->textlen = len;
}

static struct agg_decoder *
decoder(struct msg_format *mf, int with_cgroup)
{
	struct msg_formats fm;
	struct agg_decoder *d;
	char err[256];
	size_t i;

	for (i = 0; i < NFORMATS; i++)
		mf[i].stack_user = with_cgroup &&
		    strcmp(mf[i].name, "sched_process_exec") == 0 ?
		    EXEC_STACK_USER : 0;
	memset(&fm, 0, sizeof(fm));
	fm.v = mf;
	fm.n = NFORMATS;
	fm.ncpus = 2;
	fm.sample_cgroup = with_cgroup != 0;
	if ((d = agg_decoder_new(&fm, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_sample: no decoder: %s\n", err);
		exit(1);
	}
	return d;
}

/* A new cgroup: what the enricher is sent must be a printable path. */
static void
on_cgroup(const struct msg_cgroup *c, void *arg)
{
	const char *end;
	const char *p;

	CHECK(c->id != 0);
	CHECK((end = memchr(c->path, '\0', sizeof(c->path))) != NULL);
	CHECK(c->path[0] == '/');
	for (p = c->path; p < end; p++)
		CHECK(*p >= 0x20 && *p < 0x7f);
	ncgroups++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct msg_format mf[NFORMATS];
	const char *srcdir = getenv("top_srcdir");
	size_t i, len;
	char *text;

	if (srcdir == NULL)
		srcdir = FUZZ_SRCDIR;
	for (i = 0; i < NSAVED; i++) {
		text = format_file(srcdir, saved[i].file, &len);
		announce(&mf[i], saved[i].system, text, len);
	}
	for (i = 0; i < NSYSCALL; i++)
		announce(&mf[NSAVED + i], "syscalls",
		    (char *)syscall_formats[i], strlen(syscall_formats[i]));
	dec[0] = decoder(mf, 0);
	dec[1] = decoder(mf, 1);
	for (i = 0; i < 2; i++)
		agg_decoder_set_cgroup_cb(dec[i], on_cgroup, NULL);
	/* The decoders keep what they need; mf stays, as the texts do. */
	return 0;
}

/* Argument strings kept aside: whole strings only, within bounds. */
static void
check_args(struct agg_decoder *d, uint32_t slot, uint64_t seq)
{
	const uint8_t *a;
	size_t len;

	CHECK((a = agg_decoder_exec_args(d, slot, seq, &len)) != NULL);
	CHECK(len <= MSG_ARGS_LEN);
	CHECK(len == 0 || a[len - 1] == '\0');
}

static void
check_event(struct agg_decoder *d, const struct agg_event *ev)
{
	const char *path;

	CHECK(ev->cpu < MSG_MAX_CPUS);
	switch (ev->kind) {
	case AEV_SET_STATE:
	case AEV_DESTROY:
		CHECK(ev->u.st.sk != 0);
		CHECK(ev->u.st.family == 4 || ev->u.st.family == 6);
		CHECK(ev->kind == AEV_DESTROY ||
		    (ev->u.st.oldstate >= 0 && ev->u.st.oldstate <= 255 &&
		    ev->u.st.newstate >= 0 && ev->u.st.newstate <= 255));
		break;
	case AEV_SEND:
	case AEV_RECV:
		CHECK(ev->u.io.sk != 0 && ev->u.io.bytes != 0);
		CHECK(ev->u.io.family == 4 || ev->u.io.family == 6);
		CHECK(ev->u.io.proto == 6 || ev->u.io.proto == 17);
		break;
	case AEV_FIB:
		CHECK(ev->proc_ctx && ev->u.fib.dport != 0);
		CHECK(ev->u.fib.family == 4 || ev->u.fib.family == 6);
		break;
	case AEV_CALL:
		CHECK(ev->u.call.sk != 0);
		CHECK(ev->u.call.family == 0 || ev->u.call.family == 4 ||
		    ev->u.call.family == 6);
		CHECK(ev->u.call.dir == CALL_SEND ||
		    ev->u.call.dir == CALL_RECV);
		break;
	case AEV_RET:
		CHECK(ev->u.ret.dir == CALL_SEND || ev->u.ret.dir == CALL_RECV);
		break;
	case AEV_PKT:
		CHECK(ev->u.pkt.family == 4 || ev->u.pkt.family == 6);
		break;
	case AEV_EXEC:
		CHECK(ev->u.exec.pid != 0);
		path = agg_decoder_exec_path(d, ev->u.exec.slot,
		    ev->u.exec.seq);
		CHECK(path != NULL && strlen(path) <= MSG_PATH_LEN);
		if (ev->u.exec.args)
			check_args(d, ev->u.exec.aslot, ev->u.exec.aseq);
		break;
	case AEV_ARGS:
		CHECK(ev->proc_ctx);
		check_args(d, ev->u.exec.slot, ev->u.exec.seq);
		break;
	case AEV_CREDS:
		CHECK(ev->proc_ctx);
		break;
	case AEV_SETID:
		CHECK(ev->proc_ctx && ev->u.setid.call <= SETID_RESGID);
		break;
	case AEV_COMM:
		CHECK(ev->u.proc.pid != 0);
		CHECK(memchr(ev->u.proc.comm, '\0',
		    sizeof(ev->u.proc.comm)) != NULL);
		break;
	case AEV_FORK:
		CHECK(ev->u.proc.pid != 0 && !ev->u.proc.thread &&
		    ev->tid == ev->u.proc.pid);
		break;
	case AEV_EXIT:
		CHECK(ev->u.proc.pid != 0 &&
		    ev->u.proc.thread == (ev->tid != ev->u.proc.pid));
		break;
	case AEV_NETNS:
		CHECK(ev->pid != 0 && ev->u.netns.ino != 0);
		break;
	case AEV_LOST:
		break;
	default:
		/* Nothing else comes out of a perf record. */
		abort();
	}
	/* In process context means in a process. */
	CHECK(!ev->proc_ctx || ev->pid != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agg_decode_stats before;
	const struct agg_decode_stats *after;
	struct agg_event ev;
	struct agg_decoder *d;
	uint8_t *rec;
	size_t len, cg = ncgroups;
	uint32_t type = 0;
	int which, rv;

	if (size < 1)
		return 0;
	which = data[0] & 1;
	d = dec[which];
	len = size - 1;
	/*
	 * The record in a buffer of its own, aligned as in a SampleBatch
	 * and exactly its size, so that the sanitizer sees any read past.
	 */
	if ((rec = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(rec, data + 1, len);
	if (len >= sizeof(type))
		memcpy(&type, rec, sizeof(type));
	before = *agg_decoder_stats(d);
	/* A reorder slot is reused: whatever was in it is still there. */
	memset(&ev, 0xa5, sizeof(ev));

	rv = agg_decode_record(d, rec, len, &ev);

	CHECK(rv == -1 || rv == 0 || rv == 1);
	after = agg_decoder_stats(d);
	CHECK(after->records == before.records + 1);
	CHECK(after->bad_records == before.bad_records + (rv == -1));
	/* Only a CGROUP record hands on a path, at most one. */
	CHECK(ncgroups == cg || (type == PERF_RECORD_CGROUP &&
	    ncgroups == cg + 1 && rv == 0));
	if (rv == 1) {
		CHECK(ev.seq == last_seq[which] + 1);
		last_seq[which] = ev.seq;
		check_event(d, &ev);
	}
	free(rec);
	return 0;
}

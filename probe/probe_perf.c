/*
 * perf ring buffers: one per online CPU, fed by every tracepoint the probe
 * opens on that CPU (PERF_EVENT_IOC_SET_OUTPUT), woken by a watermark rather
 * than per sample. The ring is read like a wire format: a record shorter
 * than its header or longer than what the kernel published is corruption,
 * counted, and the rest of the ring is skipped. Records are copied out raw
 * (wrap-around handled) and handed over in batches; the probe never looks
 * inside a sample.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <linux/perf_event.h>
#if defined(__x86_64__) || defined(__aarch64__)
#include <asm/perf_regs.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "probe.h"
#include "xmalloc.h"

/* How far behind "now" a drained ring is declared complete. */
#define DRAIN_MARGIN_NS	(5ULL * 1000 * 1000)
/*
 * Where a sample's raw data starts: header, pid and tid, time, cpu and
 * reserved, raw size (the sample_type perf_open asks for).
 */
#define RAW_OFFSET	(sizeof(struct perf_event_header) + 8 + 8 + 8 + 4)

/* The namespaces ring: records of about 150 bytes, read at once. */
#define NS_RING_PAGES	4
/* The user stack pointer, the one register an exec's sample takes. */
#if defined(__x86_64__)
#define SP_REG_MASK	(1ULL << PERF_REG_X86_SP)
#elif defined(__aarch64__)
#define SP_REG_MASK	(1ULL << PERF_REG_ARM64_SP)
#endif

/* Room for one batch: the frame's maximum less protobuf overhead. */
#define BATCH_MAX	(FRAME_MAX_PAYLOAD - 64)

struct perf_ring {
	int		 cpu;
	int		 fd;		/* the event that owns the mmap */
	struct perf_event_mmap_page *meta;
	uint8_t		*data;
	size_t		 datasz;
	size_t		 mapsz;
	uint64_t	 lost;
	uint8_t		*batch;
	size_t		 batchlen;
	uint32_t	 batchn;
	uint64_t	 until;		/* this drain's mark, 0 if none */
};

static uint64_t corrupt_records;

static int
sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu,
    int group, unsigned long flags)
{
	return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
}

int
perf_online_cpus(int *cpus, int max)
{
	char buf[1024], *p, *tok, *save = NULL;
	FILE *f;
	int n = 0;
	long a, b, i;

	if ((f = fopen("/sys/devices/system/cpu/online", "r")) == NULL)
		fatal("/sys/devices/system/cpu/online");
	if (fgets(buf, sizeof(buf), f) == NULL)
		fatalx("cannot read online CPU list");
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	for (p = buf; (tok = strtok_r(p, ",", &save)) != NULL; p = NULL) {
		char *dash, *ep;

		a = strtol(tok, &ep, 10);
		if ((dash = strchr(tok, '-')) != NULL)
			b = strtol(dash + 1, &ep, 10);
		else
			b = a;
		if (*ep != '\0' || a < 0 || b < a || b >= MSG_MAX_CPUS)
			fatalx("bad online CPU list \"%s\"", buf);
		for (i = a; i <= b; i++) {
			if (n >= max)
				fatalx("too many CPUs");
			cpus[n++] = (int)i;
		}
	}
	if (n == 0)
		fatalx("no online CPU");
	return n;
}

void
perf_open(struct perf_set *ps, const int *cpus, int ncpus,
    const struct msg_formats *fmts, const struct probe_event *evs,
    int ring_exponent)
{
	long pagesz = sysconf(_SC_PAGESIZE);
	size_t i;
	int c, with_cgroup;

	memset(ps, 0, sizeof(*ps));
	ps->ring_pages = (size_t)1 << ring_exponent;
	ps->rings = xcalloc((size_t)ncpus, sizeof(*ps->rings));
	ps->fds = xcalloc((size_t)ncpus * (fmts->n + 1), sizeof(int));
	ps->nsrings = xcalloc((size_t)ncpus, sizeof(*ps->nsrings));
	ps->nrings = ncpus;
	ps->nevents = (int)fmts->n;
	ps->stack_user = xcalloc(fmts->n ? fmts->n : 1, sizeof(uint32_t));
	for (i = 0; i < fmts->n; i++)
		ps->stack_user[i] = evs[i].stack_user;
	with_cgroup = 1;

	for (c = 0; c < ncpus; c++) {
		struct perf_ring *r = &ps->rings[c];

		r->cpu = cpus[c];
		r->fd = -1;
		r->datasz = ps->ring_pages * (size_t)pagesz;
		r->mapsz = r->datasz + (size_t)pagesz;
		/* Not zeroed: pages are touched only as batches fill them. */
		r->batch = xreallocarray(NULL, 1, BATCH_MAX);
		for (i = 0; i < fmts->n; i++) {
			struct perf_event_attr attr;
			int fd;

			memset(&attr, 0, sizeof(attr));
			attr.size = sizeof(attr);
			attr.type = PERF_TYPE_TRACEPOINT;
			attr.config = fmts->v[i].id;
			attr.sample_period = 1;
			attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
			    PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
			/*
			 * The cgroup (v2) of the task each sample was taken
			 * in, after the raw data (Linux 5.7 and later; the
			 * aggregator reads it when the record holds it).
			 */
			if (with_cgroup)
				attr.sample_type |= PERF_SAMPLE_CGROUP;
#ifdef SP_REG_MASK
			/*
			 * The user stack pointer and the stack above it, of
			 * the events that ask (the exec: its arguments).
			 */
			if (ps->stack_user[i] != 0) {
				attr.sample_type |= PERF_SAMPLE_REGS_USER |
				    PERF_SAMPLE_STACK_USER;
				attr.sample_regs_user = SP_REG_MASK;
				attr.sample_stack_user = ps->stack_user[i];
			}
#else
			ps->stack_user[i] = 0;
#endif
			attr.disabled = 1;
			attr.use_clockid = 1;
			attr.clockid = CLOCK_MONOTONIC;
			/* Wake the reader at a quarter of the ring. */
			attr.watermark = 1;
			attr.wakeup_watermark = (uint32_t)(r->datasz / 4);
			attr.sample_id_all = 1;
			if (i == 0) {
				/*
				 * The first event of each CPU also carries
				 * the process side band: exec/comm changes,
				 * forks and exits, each with pid and time.
				 */
				attr.comm = 1;
				attr.comm_exec = 1;
				attr.task = 1;
				/*
				 * And the namespaces of new tasks (fork,
				 * unshare, setns), and each new cgroup's id
				 * and path.
				 */
				attr.namespaces = 1;
				attr.cgroup = with_cgroup;
			}
			fd = sys_perf_event_open(&attr, -1, r->cpu, -1,
			    PERF_FLAG_FD_CLOEXEC);
			if (fd == -1 && errno == EINVAL &&
			    ps->stack_user[i] != 0 && c == 0) {
				log_warnx("%s:%s: no user stack from this "
				    "kernel: no process.args", fmts->v[i].system,
				    fmts->v[i].name);
				ps->stack_user[i] = 0;
				i--;
				continue;
			}
			if (fd == -1 && errno == EINVAL && with_cgroup &&
			    c == 0 && i == 0) {
				log_warnx("this kernel cannot tell the cgroup of "
				    "a sample (before Linux 5.7?): no cgroup "
				    "and container fields");
				with_cgroup = 0;
				i--;
				continue;
			}
			if (fd == -1)
				fatal("perf_event_open %s:%s on cpu %d",
				    fmts->v[i].system, fmts->v[i].name, r->cpu);
			ps->fds[ps->nfds++] = fd;
			if (i == 0) {
				void *m;

				m = mmap(NULL, r->mapsz, PROT_READ | PROT_WRITE,
				    MAP_SHARED, fd, 0);
				if (m == MAP_FAILED)
					fatal("mmap perf ring of cpu %d",
					    r->cpu);
				r->fd = fd;
				r->meta = m;
				r->data = (uint8_t *)m + pagesz;
			} else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT,
			    r->fd) == -1)
				fatal("PERF_EVENT_IOC_SET_OUTPUT on cpu %d",
				    r->cpu);
			if (evs[i].filter != NULL && ioctl(fd,
			    PERF_EVENT_IOC_SET_FILTER, evs[i].filter) == -1)
				fatal("filter \"%s\" on %s:%s", evs[i].filter,
				    fmts->v[i].system, fmts->v[i].name);
		}
	}
	/*
	 * The namespaces of new tasks (fork, unshare, setns), for the probe
	 * itself (probe_netns.c), on a small ring of their own that wakes
	 * the probe at every record: a new network namespace must have its
	 * id before its first connection closes, not at the next drain.
	 */
	for (c = 0; c < ncpus; c++) {
		struct perf_ring *r = &ps->nsrings[c];
		struct perf_event_attr attr;
		void *m;
		int fd;

		r->cpu = cpus[c];
		r->datasz = NS_RING_PAGES * (size_t)pagesz;
		r->mapsz = r->datasz + (size_t)pagesz;
		memset(&attr, 0, sizeof(attr));
		attr.size = sizeof(attr);
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = PERF_COUNT_SW_DUMMY;
		attr.disabled = 1;
		attr.namespaces = 1;
		/*
		 * The kernel sends namespaces records to side-band events
		 * only, and an event is one when it asks for some other
		 * side-band record; ksymbol records (kernel symbols added
		 * or removed, as when BPF code is loaded) are rare, and are
		 * skipped when read.
		 */
		attr.ksymbol = 1;
		/* Records that are not samples wake by watermark only. */
		attr.watermark = 1;
		attr.wakeup_watermark = 1;
		fd = sys_perf_event_open(&attr, -1, r->cpu, -1,
		    PERF_FLAG_FD_CLOEXEC);
		if (fd == -1) {
			log_warn("perf_event_open namespaces on cpu %d: new "
			    "network namespaces are learnt at start only",
			    r->cpu);
			r->fd = -1;
			continue;
		}
		ps->fds[ps->nfds++] = fd;
		m = mmap(NULL, r->mapsz, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
		if (m == MAP_FAILED)
			fatal("mmap namespaces ring of cpu %d", r->cpu);
		r->fd = fd;
		r->meta = m;
		r->data = (uint8_t *)m + pagesz;
	}
	ps->nnsrings = ncpus;
	ps->sample_cgroup = with_cgroup;
}

void
perf_enable(struct perf_set *ps)
{
	int i;

	for (i = 0; i < ps->nfds; i++)
		if (ioctl(ps->fds[i], PERF_EVENT_IOC_ENABLE, 0) == -1)
			fatal("PERF_EVENT_IOC_ENABLE");
}

void
perf_close(struct perf_set *ps)
{
	int i;

	for (i = 0; i < ps->nfds; i++) {
		ioctl(ps->fds[i], PERF_EVENT_IOC_DISABLE, 0);
		close(ps->fds[i]);
	}
	for (i = 0; i < ps->nrings; i++) {
		if (ps->rings[i].meta != NULL)
			munmap(ps->rings[i].meta, ps->rings[i].mapsz);
		free(ps->rings[i].batch);
	}
	for (i = 0; i < ps->nnsrings; i++)
		if (ps->nsrings[i].meta != NULL)
			munmap(ps->nsrings[i].meta, ps->nsrings[i].mapsz);
	free(ps->nsrings);
	free(ps->stack_user);
	free(ps->rings);
	free(ps->fds);
	memset(ps, 0, sizeof(*ps));
}

int
perf_try_event(uint32_t id, int cpu, const char *filter, char *err,
    size_t errsz)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.config = id;
	attr.sample_period = 1;
	attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
	    PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
	attr.disabled = 1;
	if ((fd = sys_perf_event_open(&attr, -1, cpu, -1,
	    PERF_FLAG_FD_CLOEXEC)) == -1) {
		snprintf(err, errsz, "perf_event_open: %s", strerror(errno));
		return -1;
	}
	if (filter != NULL &&
	    ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) == -1) {
		snprintf(err, errsz, "filter \"%s\": %s", filter,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
perf_ring_fd(const struct perf_set *ps, int idx)
{
	return ps->rings[idx].fd;
}

int
perf_ring_cpu(const struct perf_set *ps, int idx)
{
	return ps->rings[idx].cpu;
}

uint64_t
perf_lost(const struct perf_set *ps, int idx)
{
	return ps->rings[idx].lost;
}

uint64_t
perf_corrupt(const struct perf_set *ps)
{
	return corrupt_records;
}

/* Copy len bytes at ring offset pos, wrapping at the end of the data. */
static void
ring_copy(const struct perf_ring *r, uint64_t pos, void *dst, size_t len)
{
	size_t off = (size_t)(pos % r->datasz);
	size_t first = r->datasz - off;

	if (first >= len)
		memcpy(dst, r->data + off, len);
	else {
		memcpy(dst, r->data + off, first);
		memcpy((uint8_t *)dst + first, r->data, len - first);
	}
}

/* Where the kernel has written up to; *tail is where reading starts. */
static uint64_t
ring_begin(struct perf_ring *r, uint64_t *tail)
{
	uint64_t head;

	head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	*tail = r->meta->data_tail;
	if (head - *tail > r->datasz) {
		/* The kernel never does this in non-overwrite mode. */
		corrupt_records++;
		*tail = head;
	}
	return head;
}

/*
 * The header of the record at *tail, if there is a whole one before head.
 * A header that cannot be right ends the read: the rest is skipped and
 * counted.
 */
static int
ring_next(struct perf_ring *r, uint64_t *tail, uint64_t head,
    struct perf_event_header *h)
{
	if (*tail >= head)
		return 0;
	ring_copy(r, *tail, h, sizeof(*h));
	if (h->size < sizeof(*h) || h->size > head - *tail ||
	    h->size % 8 != 0) {
		corrupt_records++;
		*tail = head;
		return 0;
	}
	return 1;
}

/*
 * Hand a batch over; the last one of a drain also says up to when the
 * ring is drained (and goes even when empty), which lets the aggregator
 * put the CPUs' streams in order without waiting longer than needed.
 */
static void
batch_flush(struct perf_ring *r, perf_batch_cb cb, void *arg,
    uint64_t drained_until)
{
	struct msg_samples s;

	if (r->batchn == 0 && drained_until == 0)
		return;
	memset(&s, 0, sizeof(s));
	s.cpu = (uint32_t)r->cpu;
	s.records = r->batch;
	s.len = r->batchlen;
	s.nrecords = r->batchn;
	s.drained_until = drained_until;
	cb(&s, arg);
	r->batchlen = 0;
	r->batchn = 0;
}

/*
 * A NAMESPACES record: pid, tid, the number of namespaces, then (dev,
 * inode) pairs in the kernel's order, the network namespace first.
 */
static void
namespaces_record(const struct perf_ring *r, uint64_t pos, size_t size,
    uint64_t now)
{
	struct {
		uint32_t pid, tid;
		uint64_t nr;
		uint64_t net_dev, net_ino;
	} ns;

	if (size < sizeof(struct perf_event_header) + sizeof(ns))
		return;
	ring_copy(r, pos + sizeof(struct perf_event_header), &ns, sizeof(ns));
	if (ns.nr > NET_NS_INDEX)
		netns_seen(ns.pid, ns.net_ino, now);
}

size_t
perf_drain(struct perf_set *ps, int idx, perf_batch_cb cb, void *arg)
{
	struct perf_ring *r = &ps->rings[idx];
	struct perf_event_header h;
	struct timespec ts;
	uint64_t head, tail, until;
	size_t n = 0;

	/*
	 * Every sample stamped before now is in the ring once its writer
	 * publishes it, which takes microseconds; a margin covers a writer
	 * on another CPU caught between the two.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	until = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	r->until = until > DRAIN_MARGIN_NS ? until - DRAIN_MARGIN_NS : 1;
	head = ring_begin(r, &tail);
	while (ring_next(r, &tail, head, &h)) {
		if (h.type == PERF_RECORD_LOST &&
		    h.size >= sizeof(h) + 2 * sizeof(uint64_t)) {
			uint64_t lost;

			ring_copy(r, tail + sizeof(h) + sizeof(uint64_t),
			    &lost, sizeof(lost));
			r->lost += lost;
		}
		if (ps->seen != NULL && h.type == PERF_RECORD_SAMPLE &&
		    h.size >= RAW_OFFSET + 2) {
			uint16_t id;

			/* The event's id, the first field of its raw data. */
			ring_copy(r, tail + RAW_OFFSET, &id, sizeof(id));
			ps->seen[id / 8] |= (uint8_t)(1 << (id % 8));
		}
		if (r->batchlen + h.size > BATCH_MAX)
			batch_flush(r, cb, arg, 0);
		ring_copy(r, tail, r->batch + r->batchlen, h.size);
		r->batchlen += h.size;
		r->batchn++;
		tail += h.size;
		n++;
	}
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
	return n;
}

void
perf_drain_end(struct perf_set *ps, int idx, perf_batch_cb cb, void *arg,
    int mark)
{
	struct perf_ring *r = &ps->rings[idx];

	batch_flush(r, cb, arg, mark ? r->until : 0);
	r->until = 0;
}

int
perf_ns_ring_fd(const struct perf_set *ps, int idx)
{
	return idx < ps->nnsrings ? ps->nsrings[idx].fd : -1;
}

/*
 * Read a namespaces ring: each NAMESPACES record goes to netns_seen; the
 * records are not forwarded. Returns how many records were read.
 */
size_t
perf_drain_ns(struct perf_set *ps, int idx)
{
	struct perf_ring *r = &ps->nsrings[idx];
	struct perf_event_header h;
	struct timespec ts;
	uint64_t head, tail, now;
	size_t n = 0;

	if (r->meta == NULL)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	head = ring_begin(r, &tail);
	while (ring_next(r, &tail, head, &h)) {
		if (h.type == PERF_RECORD_NAMESPACES)
			namespaces_record(r, tail, h.size, now);
		else if (h.type == PERF_RECORD_LOST)
			netns_lost();
		tail += h.size;
		n++;
	}
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
	return n;
}

/*
 * What the kernel counted for each CPU's events (after their filters). A
 * sample the kernel counted is written to the ring, or counted lost; the
 * aggregator compares, and so learns of samples dropped without either
 * (the kernel does drop some, silently, under bursts).
 */
void
perf_counts(const struct perf_set *ps, uint64_t *counts)
{
	uint64_t v;
	int c, i;

	for (c = 0; c < ps->nrings; c++) {
		counts[c] = 0;
		for (i = 0; i < ps->nevents; i++)
			if (read(ps->fds[c * ps->nevents + i], &v,
			    sizeof(v)) == (ssize_t)sizeof(v))
				counts[c] += v;
	}
}

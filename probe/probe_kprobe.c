/*
 * Kprobe events through tracefs (kprobe_events), for the kprobe backend.
 * Every probe of a running probe process lives in one group named after
 * it, "sockflow_<pid>", so that two instances never touch each other's
 * probes and what a crashed instance left behind can be told apart: at
 * start, groups of sockflow processes that no longer run are removed, and
 * nothing else. A definition the kernel refuses is reported with the
 * kernel's own reason from error_log. Probes are removed on every exit
 * this process can see (after their perf events are closed: the kernel
 * refuses to remove a probe that is in use); after a kill -9 the next
 * start removes them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/random.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "readfile.h"
#include "xmalloc.h"

#define GROUP_PREFIX	"sockflow_"

static int
tracefs_path(char *buf, size_t len, const char *tracefs, const char *file)
{
	return snprintf(buf, len, "%s/%s", tracefs, file) >= (int)len ? -1 : 0;
}

int
kprobe_supported(const char *tracefs)
{
	char path[PATH_MAX];

	if (tracefs_path(path, sizeof(path), tracefs, "kprobe_events") == -1)
		return 0;
	return access(path, W_OK) == 0;
}

/* The last line the kernel wrote to error_log, for a refused write. */
static void
last_error(const char *tracefs, char *err, size_t errsz)
{
	char path[PATH_MAX], line[512], last[512] = "";
	FILE *f;

	if (tracefs_path(path, sizeof(path), tracefs, "error_log") == -1 ||
	    (f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p;

		/* "[ time] trace_kprobe: error: <reason>" */
		if ((p = strstr(line, "error: ")) != NULL) {
			snprintf(last, sizeof(last), "%s", p + 7);
			last[strcspn(last, "\n")] = '\0';
		}
	}
	fclose(f);
	if (last[0] != '\0')
		snprintf(err, errsz, "%s", last);
}

/* Write one command to kprobe_events; -1 with the reason in err. */
static int
kprobe_write(const char *tracefs, const char *cmd, char *err, size_t errsz)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, saved;

	if (tracefs_path(path, sizeof(path), tracefs, "kprobe_events") == -1) {
		snprintf(err, errsz, "tracefs path too long");
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, cmd, strlen(cmd));
	saved = errno;
	close(fd);
	if (n == (ssize_t)strlen(cmd))
		return 0;
	snprintf(err, errsz, "%s", n == -1 ? strerror(saved) : "short write");
	last_error(tracefs, err, errsz);
	errno = saved;
	return -1;
}

/*
 * sockflow_<pid>_<random>: the pid tells a stale group from a live one
 * (a live one also refuses removal while its events are open, EBUSY);
 * the random part keeps two probes apart that have one pid in different
 * PID namespaces. Event names carry it too: kprobe_profile lists events
 * by name alone.
 */
void
kprobe_group_name(char *buf, size_t len, char *suffix, size_t slen)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
	snprintf(suffix, slen, "%08x", r);
	snprintf(buf, len, GROUP_PREFIX "%ld_%s", (long)getpid(), suffix);
}

int
kprobe_add(const char *tracefs, const char *group, const char *event,
    int retprobe, int maxactive, const char *where, char *err, size_t errsz)
{
	char cmd[3584], kind[16];

	if (!retprobe)
		snprintf(kind, sizeof(kind), "p");
	else if (maxactive > 0)
		snprintf(kind, sizeof(kind), "r%d", maxactive);
	else
		snprintf(kind, sizeof(kind), "r");
	if (snprintf(cmd, sizeof(cmd), "%s:%s/%s %s\n", kind, group, event,
	    where) >= (int)sizeof(cmd)) {
		snprintf(err, errsz, "definition too long");
		return -1;
	}
	return kprobe_write(tracefs, cmd, err, errsz);
}

/*
 * Each line of kprobe_events is "p:GROUP/EVENT SYMBOL ARGS" (r, rN for
 * return probes); call cb with group and event of each. The whole list
 * is read first: the file is made anew for each read, so removing probes
 * while reading it would skip lines.
 */
static void
each_probe(const char *tracefs, void (*cb)(const char *, const char *,
    void *), void *arg)
{
	char path[PATH_MAX], *buf, *line, *next;
	size_t len;

	/* 16 MiB is thousands of times what any host has. */
	if (tracefs_path(path, sizeof(path), tracefs, "kprobe_events") == -1 ||
	    (buf = read_file_all(path, 16 * 1024 * 1024, &len, NULL)) == NULL)
		return;
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		char *colon, *slash, *end;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((colon = strchr(line, ':')) == NULL ||
		    (slash = strchr(colon, '/')) == NULL)
			continue;
		end = slash + strcspn(slash, " ");
		*slash = '\0';
		*end = '\0';
		cb(colon + 1, slash + 1, arg);
	}
	free(buf);
}

struct remove_ctx {
	const char	*tracefs;
	const char	*group;		/* NULL: stale groups */
	pid_t		 self;
	int		 removed;
	int		 failed;
	char		 err[640];
};

/* Whether the sockflow_<pid> group's process still runs as a probe. */
static int
group_alive(const char *group, pid_t self)
{
	char path[64], comm[64] = "";
	const char *p = group + strlen(GROUP_PREFIX);
	char *ep;
	long pid;
	FILE *f;

	errno = 0;
	pid = strtol(p, &ep, 10);
	if (errno != 0 || ep == p || (*ep != '\0' && *ep != '_') ||
	    pid <= 0 || pid > INT_MAX)
		return 1;	/* not a name this program makes: keep it */
	if ((pid_t)pid == self)
		return 0;
	if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		return 0;
	/* A pid reused by another program is not a probe. */
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "sockflow-probe") == 0;
}

static void
remove_cb(const char *group, const char *event, void *arg)
{
	struct remove_ctx *c = arg;
	char cmd[512], err[256];

	if (c->group != NULL) {
		if (strcmp(group, c->group) != 0)
			return;
	} else if (strncmp(group, GROUP_PREFIX, strlen(GROUP_PREFIX)) != 0 ||
	    group_alive(group, c->self))
		return;
	snprintf(cmd, sizeof(cmd), "-:%s/%s\n", group, event);
	if (kprobe_write(c->tracefs, cmd, err, sizeof(err)) == 0)
		c->removed++;
	else {
		c->failed++;
		snprintf(c->err, sizeof(c->err), "%s/%s: %s", group, event,
		    err);
	}
}

int
kprobe_remove_group(const char *tracefs, const char *group, char *err,
    size_t errsz)
{
	struct remove_ctx c;

	memset(&c, 0, sizeof(c));
	c.tracefs = tracefs;
	c.group = group;
	c.self = getpid();
	each_probe(tracefs, remove_cb, &c);
	if (c.failed != 0) {
		snprintf(err, errsz, "%d probe(s) not removed: %s", c.failed,
		    c.err);
		return -1;
	}
	return c.removed;
}

int
kprobe_remove_stale(const char *tracefs, char *err, size_t errsz)
{
	struct remove_ctx c;

	memset(&c, 0, sizeof(c));
	c.tracefs = tracefs;
	c.self = getpid();
	each_probe(tracefs, remove_cb, &c);
	if (c.failed != 0) {
		snprintf(err, errsz, "%d stale probe(s) not removed: %s",
		    c.failed, c.err);
		return -1;
	}
	return c.removed;
}

struct count_ctx {
	const char	*group;
	int		 n;
};

static void
count_cb(const char *group, const char *event, void *arg)
{
	struct count_ctx *c = arg;

	if (strcmp(group, c->group) == 0)
		c->n++;
}

int
kprobe_count_group(const char *tracefs, const char *group)
{
	struct count_ctx c = { group, 0 };

	each_probe(tracefs, count_cb, &c);
	return c.n;
}

/*
 * Hits and misses of an event, from kprobe_profile ("  NAME HITS
 * MISSES", the name without its group on the kernels this supports;
 * some print "GROUP/NAME"). Returns -1 when the event is not listed.
 */
int
kprobe_profile(const char *tracefs, const char *group, const char *event,
    uint64_t *hits, uint64_t *misses)
{
	char path[PATH_MAX], line[512], name[256], full[256];
	unsigned long long h, m;
	int rv = -1;
	FILE *f;

	if (tracefs_path(path, sizeof(path), tracefs, "kprobe_profile") == -1 ||
	    (f = fopen(path, "r")) == NULL)
		return -1;
	snprintf(full, sizeof(full), "%s/%s", group, event);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%255s %llu %llu", name, &h, &m) != 3)
			continue;
		if (strcmp(name, event) == 0 || strcmp(name, full) == 0) {
			*hits = h;
			*misses = m;
			rv = 0;
			break;
		}
	}
	fclose(f);
	return rv;
}

/*
 * Which of syms the kernel lists in available_filter_functions (the
 * functions a kprobe can attach to through ftrace), one pass over the
 * file; -1 when it cannot be read, and then trial registration decides.
 */
int
kprobe_symbols_listed(const char *tracefs, const char *const *syms, int n,
    int *listed)
{
	char path[PATH_MAX], line[512];
	FILE *f;
	int i;

	if (tracefs_path(path, sizeof(path), tracefs,
	    "available_filter_functions") == -1 ||
	    (f = fopen(path, "r")) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		listed[i] = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "name" or "name [module]" */
		line[strcspn(line, " \t\n")] = '\0';
		for (i = 0; i < n; i++)
			if (!listed[i] && strcmp(line, syms[i]) == 0)
				listed[i] = 1;
	}
	fclose(f);
	return 0;
}

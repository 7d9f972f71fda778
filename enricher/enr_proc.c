/*
 * The process table: pid -> name, parent, the file executed and the
 * credentials, kept from the probe's process events (exec/comm, the file
 * of each exec, credential changes where the backend sees them, fork,
 * exit) and one scan of /proc at start (names and credentials). A process that exits is kept for a grace period so that flows
 * reported after its exit still get its name. The table has a fixed
 * capacity; what does not fit is counted.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enr.h"

#define NBUCKETS	16384

struct enr_proc {
	struct enr_proc	*next;
	uint32_t	 pid;
	uint32_t	 ppid;
	int64_t		 exited;	/* ns, 0 while alive */
	int		 have_comm;
	/*
	 * Known only from the scan at start: a process that exec'd after
	 * the scan but before the probe's events were on (the probe itself,
	 * started after the enricher) is read again once, when first used.
	 */
	int		 from_scan;
	char		 comm[MSG_COMM_LEN + 1];
	uint64_t	 version;	/* enr_proc_info.version */
	int64_t		 created;	/* wall ns; 0 when unknown */
	char		*exe;		/* the file executed, when seen */
	uint8_t		*args;		/* its arguments, when seen */
	size_t		 args_len;
	uint32_t	 argc;
	/* /proc/PID/cmdline was read for this image (args_fill). */
	int		 args_tried;
	int		 have_creds;
	/*
	 * Inherited at a fork or from before an exec: read again from
	 * /proc when next needed, unless a credentials event comes first.
	 */
	int		 creds_stale;
	uint32_t	 uid, gid, euid, egid;
	unsigned	 creds_set;	/* CR_*: set by set*id() calls */
};

struct enr_procs {
	uint64_t	 versions;	/* the last version given */
	int64_t		 boot_wall;	/* wall ns of the boot */
	long		 hz;		/* /proc's clock ticks a second */
	char		 boot_id[40];	/* this boot's random id */
	struct enr_proc	*buckets[NBUCKETS];
	size_t		 count;
	size_t		 cap;
	uint64_t	 full;
	char		 procroot[256];
};

struct enr_procs *
enr_procs_new(size_t cap, const char *procroot)
{
	struct enr_procs *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cap = cap;
	snprintf(t->procroot, sizeof(t->procroot), "%s", procroot);
	/*
	 * A process's start time in /proc is in clock ticks since boot:
	 * the boot's own wall time turns it into a date.
	 */
	{
		struct timespec rt, bt;
		char path[320];
		ssize_t n;
		int fd;

		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_BOOTTIME, &bt);
		t->boot_wall = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL +
		    (rt.tv_nsec - bt.tv_nsec);
		if ((t->hz = sysconf(_SC_CLK_TCK)) <= 0)
			t->hz = 100;
		snprintf(path, sizeof(path), "%s/sys/kernel/random/boot_id",
		    procroot);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
			n = read(fd, t->boot_id, sizeof(t->boot_id) - 1);
			close(fd);
			if (n > 0)
				t->boot_id[strcspn(t->boot_id, "\n")] = '\0';
		}
	}
	return t;
}

/* /proc/PID/file into buf, NUL-ended; its length, or -1. */
static ssize_t
read_proc(const struct enr_procs *t, uint32_t pid, const char *file,
    char *buf, size_t size)
{
	char path[320];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%u/%s", t->procroot, pid, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/*
 * When a process started, from field 22 of /proc/PID/stat (after the
 * name in parentheses, which may hold anything, so counted from its
 * last ')'); 0 when unknown.
 */
static int64_t
read_start(const struct enr_procs *t, uint32_t pid)
{
	char buf[1024], *p;
	unsigned long long ticks;
	int i;

	if (read_proc(t, pid, "stat", buf, sizeof(buf)) == -1 ||
	    (p = strrchr(buf, ')')) == NULL)
		return 0;
	/* ") S ppid ..." : starttime is the 20th field after the name. */
	for (i = 0; i < 20 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	return t->boot_wall + (int64_t)(ticks * 1000000000ULL /
	    (unsigned long long)t->hz);
}

void
enr_procs_free(struct enr_procs *t)
{
	struct enr_proc *p, *n;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < NBUCKETS; i++)
		for (p = t->buckets[i]; p != NULL; p = n) {
			n = p->next;
			free(p->exe);
			free(p->args);
			free(p);
		}
	free(t);
}

static struct enr_proc *
find(struct enr_procs *t, uint32_t pid)
{
	struct enr_proc *p;

	for (p = t->buckets[pid % NBUCKETS]; p != NULL; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static struct enr_proc *
get(struct enr_procs *t, uint32_t pid)
{
	struct enr_proc *p;

	if ((p = find(t, pid)) != NULL)
		return p;
	if (t->count >= t->cap || (p = calloc(1, sizeof(*p))) == NULL) {
		t->full++;
		return NULL;
	}
	p->pid = pid;
	p->next = t->buckets[pid % NBUCKETS];
	t->buckets[pid % NBUCKETS] = p;
	t->count++;
	return p;
}

/* Read /proc/PID/comm; 0 on success. */
static int
read_comm(const struct enr_procs *t, uint32_t pid, char *comm)
{
	char buf[MSG_COMM_LEN + 2];
	ssize_t n;

	if ((n = read_proc(t, pid, "comm", buf, sizeof(buf))) == -1)
		return -1;
	if (buf[n - 1] == '\n')
		n--;
	if (n > MSG_COMM_LEN)
		n = MSG_COMM_LEN;
	memcpy(comm, buf, (size_t)n);
	comm[n] = '\0';
	return 0;
}

/*
 * The Uid: and Gid: lines of /proc/PID/status (real, effective, saved,
 * filesystem), for a process whose credentials no event gave.
 */
static void
read_creds(struct enr_procs *t, struct enr_proc *p)
{
	char buf[4096], *l;
	unsigned long r, e;
	int have = 0;

	if (read_proc(t, p->pid, "status", buf, sizeof(buf)) == -1)
		return;
	if ((l = strstr(buf, "\nUid:")) != NULL &&
	    sscanf(l + 5, "%lu %lu", &r, &e) == 2 && r <= UINT32_MAX &&
	    e <= UINT32_MAX) {
		p->uid = (uint32_t)r;
		p->euid = (uint32_t)e;
		have++;
	}
	if ((l = strstr(buf, "\nGid:")) != NULL &&
	    sscanf(l + 5, "%lu %lu", &r, &e) == 2 && r <= UINT32_MAX &&
	    e <= UINT32_MAX) {
		p->gid = (uint32_t)r;
		p->egid = (uint32_t)e;
		have++;
	}
	if (have == 2) {
		p->have_creds = 1;
		p->creds_stale = 0;
		p->version = ++t->versions;
	}
}

static void
remember(struct enr_procs *t, uint32_t pid)
{
	char comm[MSG_COMM_LEN + 2];
	struct enr_proc *p;

	if (read_comm(t, pid, comm) == -1)
		return;
	if ((p = get(t, pid)) == NULL)
		return;
	memcpy(p->comm, comm, sizeof(p->comm));
	p->have_comm = 1;
	p->version = ++t->versions;
	if (p->created == 0)
		p->created = read_start(t, pid);
	if (!p->have_creds)
		read_creds(t, p);
}

void
enr_procs_scan(struct enr_procs *t)
{
	struct enr_proc *p;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(t->procroot)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *ep;
		unsigned long pid = strtoul(de->d_name, &ep, 10);

		if (*ep != '\0' || pid == 0 || pid > (1UL << 22))
			continue;
		remember(t, (uint32_t)pid);
		if ((p = find(t, (uint32_t)pid)) != NULL)
			p->from_scan = 1;
	}
	closedir(d);
}

static void	procs_event(struct enr_procs *, const struct msg_process *);

/* What a process knew of the file it ran and its arguments. */
static void
forget_image(struct enr_proc *p)
{
	free(p->exe);
	p->exe = NULL;
	free(p->args);
	p->args = NULL;
	p->args_len = 0;
	p->argc = 0;
	p->args_tried = 0;
}

/* How many whole strings an argument block holds. */
static size_t
nstrings(const uint8_t *b, size_t len)
{
	size_t i, n = 0;

	for (i = 0; b != NULL && i < len; i++)
		if (b[i] == '\0')
			n++;
	return n;
}

/*
 * Arguments the exec event did not bring whole (the tracepoint backend's
 * copy of the new stack can end before the strings, and processes from
 * the start-up scan have none), from /proc/PID/cmdline, once an image,
 * while the process runs. What the exec event brought is kept when the
 * file gives no more (a process may rewrite its own command line).
 */
static void
args_fill(struct enr_procs *t, struct enr_proc *p)
{
	char buf[4096];
	size_t i, keep = 0, count = 0, nkeep = 0;
	ssize_t n;
	uint8_t *a;

	p->args_tried = 1;
	if ((n = read_proc(t, p->pid, "cmdline", buf, sizeof(buf))) <= 0)
		return;
	for (i = 0; i < (size_t)n; i++)
		if (buf[i] == '\0') {
			count++;
			if (i + 1 <= MSG_ARGS_LEN) {
				keep = i + 1;
				nkeep++;
			}
		}
	if (nkeep <= nstrings(p->args, p->args_len) ||
	    (a = malloc(keep)) == NULL)
		return;
	memcpy(a, buf, keep);
	free(p->args);
	p->args = a;
	p->args_len = keep;
	/* A full buffer may hold only the first of many. */
	if (p->argc < count)
		p->argc = (uint32_t)count;
	p->version = ++t->versions;
}

/*
 * A set*id() call that succeeded (tracepoint backend): the ids it set,
 * on the ids known before it. setuid() and setgid() set the real id too
 * only when the caller was privileged (effective uid 0 here; without
 * known ids, it is taken to be, as a daemon dropping root is). Ids not
 * known before are read from /proc while the process runs; a process
 * already gone is given what its calls set, once they set all four.
 */
#define CR_UID	1
#define CR_EUID	2
#define CR_GID	4
#define CR_EGID	8
#define CR_ALL	15

static void
apply_setid(struct enr_procs *t, struct enr_proc *p,
    const struct msg_process *ev)
{
	int priv;

	if (!p->have_creds && p->exited == 0)
		read_creds(t, p);
	priv = !p->have_creds || p->euid == 0;
	switch (ev->setid_call) {
	case SETID_UID:
		if (priv) {
			p->uid = ev->uid;
			p->creds_set |= CR_UID;
		}
		p->euid = ev->euid;
		p->creds_set |= CR_EUID;
		break;
	case SETID_GID:
		if (priv) {
			p->gid = ev->gid;
			p->creds_set |= CR_GID;
		}
		p->egid = ev->egid;
		p->creds_set |= CR_EGID;
		break;
	default:
		if (ev->uid != SETID_KEEP) {
			p->uid = ev->uid;
			p->creds_set |= CR_UID;
		}
		if (ev->euid != SETID_KEEP) {
			p->euid = ev->euid;
			p->creds_set |= CR_EUID;
		}
		if (ev->gid != SETID_KEEP) {
			p->gid = ev->gid;
			p->creds_set |= CR_GID;
		}
		if (ev->egid != SETID_KEEP) {
			p->egid = ev->egid;
			p->creds_set |= CR_EGID;
		}
		break;
	}
	if (p->creds_set == CR_ALL)
		p->have_creds = 1;
	/* Exact now: /proc would only say the same, or something later. */
	if (p->have_creds)
		p->creds_stale = 0;
}

void
enr_procs_event(struct enr_procs *t, const struct msg_process *ev)
{
	struct enr_proc *p;

	procs_event(t, ev);
	/* Whatever changed, what is written of the process is made anew. */
	if ((p = find(t, ev->pid)) != NULL)
		p->version = ++t->versions;
}

static void
procs_event(struct enr_procs *t, const struct msg_process *ev)
{
	struct enr_proc *p, *parent;

	switch (ev->kind) {
	case PROC_EV_EXEC:
		if ((p = get(t, ev->pid)) == NULL)
			return;
		memcpy(p->comm, ev->comm, sizeof(p->comm));
		p->have_comm = 1;
		p->from_scan = 0;
		p->exited = 0;
		if (ev->is_exec) {
			/*
			 * A new image: its file and arguments come next; a
			 * setuid file may change its credentials.
			 */
			forget_image(p);
			p->creds_stale = 1;
		}
		break;
	case PROC_EV_FORK:
		if ((p = get(t, ev->pid)) == NULL)
			return;
		/* A pid can be reused: the new process starts afresh. */
		p->exited = 0;
		p->ppid = ev->ppid;
		p->created = ev->time_ns;
		p->have_comm = 0;
		p->from_scan = 0;
		forget_image(p);
		p->have_creds = 0;
		p->creds_set = 0;
		if ((parent = find(t, ev->ppid)) != NULL && parent->have_comm) {
			memcpy(p->comm, parent->comm, sizeof(p->comm));
			p->have_comm = 1;
		}
		/* A child runs its parent's file with its credentials. */
		if (parent != NULL && !parent->args_tried &&
		    parent->exited == 0 && parent->args != NULL &&
		    nstrings(parent->args, parent->args_len) < parent->argc)
			args_fill(t, parent);
		if (parent != NULL) {
			if (parent->exe != NULL)
				p->exe = strdup(parent->exe);
			if (parent->args != NULL &&
			    (p->args = malloc(parent->args_len + 1)) != NULL) {
				memcpy(p->args, parent->args,
				    parent->args_len);
				p->args_len = parent->args_len;
				p->argc = parent->argc;
			}
			p->have_creds = parent->have_creds;
			p->creds_stale = 1;
			p->uid = parent->uid;
			p->gid = parent->gid;
			p->euid = parent->euid;
			p->egid = parent->egid;
		}
		break;
	case PROC_EV_EXIT:
		if ((p = find(t, ev->pid)) != NULL)
			p->exited = ev->time_ns > 0 ? ev->time_ns : 1;
		break;
	case PROC_EV_EXECUTABLE:
		if ((p = get(t, ev->pid)) == NULL)
			return;
		free(p->exe);
		p->exe = strdup(ev->executable);
		break;
	case PROC_EV_ARGS:
		if ((p = get(t, ev->pid)) == NULL)
			return;
		free(p->args);
		p->args = NULL;
		p->args_len = 0;
		/* Known even when none fitted: args_count still says. */
		if ((p->args = malloc(ev->args_len + 1)) != NULL) {
			memcpy(p->args, ev->args, ev->args_len);
			p->args_len = ev->args_len;
		}
		p->argc = ev->argc;
		/* Not all there (a copy of the stack that ended early)? */
		if (p->exited == 0 && nstrings(p->args, p->args_len) < p->argc)
			args_fill(t, p);
		break;
	case PROC_EV_CREDS:
		if ((p = get(t, ev->pid)) == NULL)
			return;
		p->uid = ev->uid;
		p->gid = ev->gid;
		p->euid = ev->euid;
		p->egid = ev->egid;
		p->have_creds = 1;
		p->creds_stale = 0;
		break;
	case PROC_EV_SETID:
		if ((p = get(t, ev->pid)) != NULL)
			apply_setid(t, p, ev);
		break;
	}
}

int
enr_procs_lookup(struct enr_procs *t, uint32_t pid, struct enr_proc_info *out)
{
	struct enr_proc *p;

	memset(out, 0, sizeof(*out));
	if (pid == 0)
		return -1;
	if ((p = find(t, pid)) == NULL || !p->have_comm || p->from_scan) {
		remember(t, pid);
		if ((p = find(t, pid)) != NULL)
			p->from_scan = 0;
	}
	if (p == NULL)
		return -1;
	if (p->creds_stale && p->exited == 0)
		read_creds(t, p);
	if (!p->args_tried && p->exited == 0) {
		if (p->args == NULL || nstrings(p->args, p->args_len) < p->argc)
			args_fill(t, p);
		else
			p->args_tried = 1;	/* whole: not looked at again */
	}
	memcpy(out->comm, p->comm, sizeof(out->comm));
	out->have_comm = p->have_comm;
	out->ppid = p->ppid;
	out->exe = p->exe;
	out->args = p->args;
	out->args_len = p->args_len;
	out->argc = p->argc;
	out->have_creds = p->have_creds;
	out->uid = p->uid;
	out->gid = p->gid;
	out->euid = p->euid;
	out->egid = p->egid;
	out->version = p->version;
	out->created = p->created;
	/* What process.entity_id is made of (enr_json.c, once a version). */
	if (p->created != 0 && t->boot_id[0] != '\0') {
		out->boot_id = t->boot_id;
		out->start_ticks = (uint64_t)((p->created - t->boot_wall) *
		    t->hz / 1000000000LL);
	}
	return 0;
}

void
enr_procs_expire(struct enr_procs *t, int64_t now_ns, int64_t grace_ns)
{
	struct enr_proc **pp, *p;
	size_t i;

	for (i = 0; i < NBUCKETS; i++) {
		pp = &t->buckets[i];
		while ((p = *pp) != NULL) {
			if (p->exited != 0 && now_ns - p->exited > grace_ns) {
				*pp = p->next;
				free(p->exe);
				free(p->args);
				free(p);
				t->count--;
			} else
				pp = &p->next;
		}
	}
}

size_t
enr_procs_count(const struct enr_procs *t)
{
	return t->count;
}

uint64_t
enr_procs_full(const struct enr_procs *t)
{
	return t->full;
}

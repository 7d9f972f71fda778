/*
 * sock_diag destroy notifications of other network namespaces.
 *
 * The kernel sends a namespace's notifications to listeners in that
 * namespace, and to a listener elsewhere that set NETLINK_LISTEN_ALL_NSID
 * only when the namespace has an id (an "nsid") in the listener's own
 * namespace. The probe's sock_diag socket sets that option; this file
 * gives every network namespace it learns of an id, with RTM_NEWNSID by
 * the pid of a process inside it, so that the final tcp_info of sockets
 * in containers and other namespaces reaches the aggregator too.
 *
 * This does not hold the namespaces: an id goes with its namespace when
 * the namespace ends, unlike a socket opened inside it, which would keep
 * a deleted namespace (and its interfaces) alive. The cost is a visible
 * side effect: the ids show in "ip netns list-id".
 *
 * Namespaces are learnt from perf NAMESPACES records (one at every fork,
 * unshare and setns carries the task's network namespace inode), on a
 * ring that wakes the probe at each record, and, at start, from /proc.
 * The id is given within the probe's wake-up time of the namespace's
 * first process, so only a connection closed in that time is missed.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "xmalloc.h"

/*
 * Namespace inodes already given an id (or found to have one). Inode
 * numbers are reused after a namespace ends, so the set is forgotten
 * every NETNS_FORGET_NS and rebuilt: asking again for a namespace that
 * has an id costs one EEXIST answer.
 */
#define NETNS_SLOTS	1024
#define NETNS_FORGET_NS	(10ULL * 1000 * 1000 * 1000)

static struct {
	int		 fd;		/* NETLINK_ROUTE, for RTM_NEWNSID */
	uint64_t	 self;		/* the probe's own namespace inode */
	uint64_t	 inos[NETNS_SLOTS];
	size_t		 n;
	uint64_t	 forget_at;
	uint32_t	 seq;
	struct netns_stats st;
} ns;

static uint64_t
ns_inode(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		return 0;
	return (uint64_t)sb.st_ino;
}

static void
forget(void)
{
	memset(ns.inos, 0, sizeof(ns.inos));
	ns.n = 0;
}

/*
 * The slot holding ino, or the empty one where it would go (open
 * addressing; the set is forgotten before it is half full, so there is
 * always one).
 */
static uint64_t *
slot_of(uint64_t ino)
{
	size_t i, h = (size_t)(ino * 0x9e3779b97f4a7c15ULL >> 54) % NETNS_SLOTS;
	uint64_t *v = NULL;

	for (i = 0; i < NETNS_SLOTS; i++) {
		v = &ns.inos[(h + i) % NETNS_SLOTS];
		if (*v == ino || *v == 0)
			break;
	}
	return v;
}

/*
 * RTM_NEWNSID for the namespace of pid, id chosen by the kernel. Returns
 * 0 when the namespace has an id now (given here or before), -1 when the
 * process is gone or the kernel refused.
 */
static int
assign(uint32_t pid)
{
	struct {
		struct nlmsghdr	 h;
		struct rtgenmsg	 g;
		uint8_t		 pad[3];
		struct nlattr	 a_nsid;
		int32_t		 nsid;
		struct nlattr	 a_pid;
		uint32_t	 pid;
	} req;
	struct {
		struct nlmsghdr	 h;
		struct nlmsgerr	 e;
		uint8_t		 rest[256];
	} ans;
	ssize_t r;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_NEWNSID;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.h.nlmsg_seq = ++ns.seq;
	req.g.rtgen_family = AF_UNSPEC;
	req.a_nsid.nla_len = sizeof(req.a_nsid) + sizeof(req.nsid);
	req.a_nsid.nla_type = NETNSA_NSID;
	req.nsid = -1;			/* the kernel picks one */
	req.a_pid.nla_len = sizeof(req.a_pid) + sizeof(req.pid);
	req.a_pid.nla_type = NETNSA_PID;
	req.pid = pid;
	if (send(ns.fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
		log_warn("RTM_NEWNSID");
		ns.st.failed++;
		return -1;
	}
	for (;;) {
		r = recv(ns.fd, &ans, sizeof(ans), 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r < (ssize_t)(sizeof(ans.h) + sizeof(ans.e))) {
			log_warn("RTM_NEWNSID answer");
			ns.st.failed++;
			return -1;
		}
		if (ans.h.nlmsg_seq == ns.seq && ans.h.nlmsg_type == NLMSG_ERROR)
			break;
		/* An answer to an earlier request that timed out. */
	}
	switch (-ans.e.error) {
	case 0:
		ns.st.assigned++;
		return 0;
	case EEXIST:
		return 0;
	default:
		/* ESRCH: the process is gone; the next record retries. */
		log_debug("RTM_NEWNSID pid %u: %s", pid,
		    strerror(-ans.e.error));
		ns.st.failed++;
		return -1;
	}
}

/*
 * The latest namespace known of each process, for the aggregator (which
 * tells the network namespace of each socket by its process's): from the
 * scan at start and every NAMESPACES record since, one slot per pid
 * modulo its size, so the latest MSG_MAX_NETNS pids made are kept. Each
 * aggregator gets it when it connects: the records before went to the
 * ones before it. Exits are not seen here; a dead pid's entry stays
 * until its number is reused.
 */
static struct {
	uint32_t	pid;
	uint64_t	ino;
} known[MSG_MAX_NETNS];

static void
keep_known(uint32_t pid, uint64_t ino)
{
	if (pid == 0 || ino == 0 || ino > UINT32_MAX)
		return;
	known[pid % MSG_MAX_NETNS].pid = pid;
	known[pid % MSG_MAX_NETNS].ino = ino;
}

void
netns_current(struct msg_netns *out)
{
	size_t i, n = 0;

	out->pid = xreallocarray(NULL, MSG_MAX_NETNS, sizeof(*out->pid));
	out->netns = xreallocarray(NULL, MSG_MAX_NETNS, sizeof(*out->netns));
	for (i = 0; i < MSG_MAX_NETNS; i++)
		if (known[i].pid != 0) {
			out->pid[n] = known[i].pid;
			out->netns[n++] = known[i].ino;
		}
	out->n = n;
}

void
netns_seen(uint32_t pid, uint64_t ino, uint64_t now)
{
	uint64_t *v;

	keep_known(pid, ino);
	if (ns.self == 0 || ino == 0 || ino == ns.self)
		return;
	if (now >= ns.forget_at) {
		forget();
		ns.forget_at = now + NETNS_FORGET_NS;
	}
	if (*(v = slot_of(ino)) == ino || assign(pid) == -1)
		return;
	if (ns.n >= NETNS_SLOTS / 2) {
		/* Half full: forget; ids given stay given. */
		forget();
		ns.st.forgotten++;
		v = slot_of(ino);
	}
	*v = ino;
	ns.n++;
}

/* Every namespace that has a process now, while the probe may read /proc. */
static void
scan_proc(void)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	uint64_t ino;
	char *end;
	unsigned long pid;

	if ((d = opendir("/proc")) == NULL) {
		log_warn("/proc");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		pid = strtoul(de->d_name, &end, 10);
		if (*end != '\0' || pid == 0 || pid > UINT32_MAX)
			continue;
		snprintf(path, sizeof(path), "/proc/%lu/ns/net", pid);
		/* Unreadable for some processes; they are learnt later. */
		if ((ino = ns_inode(path)) == 0)
			continue;
		netns_seen((uint32_t)pid, ino, 0);
	}
	closedir(d);
}

void
netns_open(void)
{
	struct timeval tv = { 1, 0 };

	uint64_t self;

	/* Until both are there, netns_seen does nothing. */
	if ((self = ns_inode("/proc/self/ns/net")) == 0) {
		log_warn("/proc/self/ns/net: other namespaces not followed");
		return;
	}
	ns.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (ns.fd == -1) {
		log_warn("socket(NETLINK_ROUTE): other namespaces not "
		    "followed");
		return;
	}
	/* Never block the drain for long on an answer. */
	if (setsockopt(ns.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		fatal("SO_RCVTIMEO");
	ns.forget_at = NETNS_FORGET_NS;
	ns.self = self;
	scan_proc();
	log_debug("namespaces given an id at start: %llu",
	    (unsigned long long)ns.st.assigned);
}

/*
 * The kernel lost namespaces records: a new namespace may have been
 * missed, so look at every process again.
 */
void
netns_lost(void)
{
	ns.st.lost++;
	if (ns.self != 0)
		scan_proc();
}

const struct netns_stats *
netns_stats(void)
{
	return &ns.st;
}

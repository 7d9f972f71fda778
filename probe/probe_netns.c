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

void
netns_seen(uint32_t pid, uint64_t ino, uint64_t now)
{
	uint64_t *v;

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

/*
 * Every process's namespace at start, for the aggregator (which tells
 * the network namespace of each socket by its process's): collected by
 * the first scan, taken by netns_initial().
 */
static struct msg_netns initial;
static size_t initial_cap;

static void
keep_initial(uint32_t pid, uint64_t ino)
{
	if (initial.n == initial_cap) {
		if (initial_cap >= MSG_MAX_NETNS)
			return;
		initial_cap = initial_cap ? initial_cap * 2 : 1024;
		initial.pid = xreallocarray(initial.pid, initial_cap,
		    sizeof(*initial.pid));
		initial.netns = xreallocarray(initial.netns, initial_cap,
		    sizeof(*initial.netns));
	}
	initial.pid[initial.n] = pid;
	initial.netns[initial.n++] = ino;
}

struct msg_netns *
netns_initial(void)
{
	return &initial;
}

/* Every namespace that has a process now, while the probe may read /proc. */
static void
scan_proc(int first)
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
		if (first && ino <= UINT32_MAX)
			keep_initial((uint32_t)pid, ino);
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
	scan_proc(1);
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
		scan_proc(0);
}

const struct netns_stats *
netns_stats(void)
{
	return &ns.st;
}

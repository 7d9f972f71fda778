/*
 * Every privilege decision of the probe, in one file for auditing.
 *
 * The probe runs as root because tracefs files are root-only. Once its
 * perf rings and sockets are open it keeps exactly two capabilities in its
 * effective and permitted sets, drops the rest (and the bounding set where
 * it may), proves the result by reading the sets back, and sets
 * no_new_privs so no exec could ever widen them.
 *
 * The two are CAP_NET_ADMIN and, on kernels that have it (Linux 5.8 and
 * later), CAP_PERFMON; CAP_SYS_ADMIN only on older ones. Everything the
 * probe does after the drop that needs more than its uid is perf: events
 * opened again and their filters (perfmon_capable() accepts either). Its
 * tracefs writes (removing its kprobes at exit) are allowed by the files'
 * owner, root, and need no capability. Measured: the whole test suite runs
 * with CAP_PERFMON in its place, on this machine's kernel and on Debian's
 * 5.10, 6.1 and 6.12 with the kprobe backend (README).
 */
#include "config.h"

#include <sys/prctl.h>

#include <cap-ng.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "probe.h"

/*
 * The capability perf_event_open() wants: CAP_PERFMON where the kernel
 * knows it (asking for a capability it does not know is EINVAL), unless
 * kernel.perf_event_paranoid is above 2. That level is Debian's (and
 * Android's) own, "no perf events without privilege", and bookworm's 6.1
 * checks CAP_SYS_ADMIN for it: with CAP_PERFMON alone the events of a CPU
 * that comes online could not be opened (tests/vm/systemd.sh saw EACCES).
 * CAP_SYS_ADMIN too when the process was started without CAP_PERFMON: a
 * container runtime that does not know its name (Docker 20.10 of Debian
 * 12 refuses "--cap-add PERFMON") cannot give it, and a capability not
 * held cannot be kept. Call after capng_get_caps_process().
 */
static int
probe_perf_capability(void)
{
	FILE *f;
	int paranoid = 2;

	if (prctl(PR_CAPBSET_READ, CAP_PERFMON, 0, 0, 0) < 0)
		return CAP_SYS_ADMIN;
	if (!capng_have_capability(CAPNG_PERMITTED, CAP_PERFMON))
		return CAP_SYS_ADMIN;
	if ((f = fopen("/proc/sys/kernel/perf_event_paranoid", "r")) != NULL) {
		if (fscanf(f, "%d", &paranoid) != 1)
			paranoid = 2;
		fclose(f);
	}
	return paranoid > 2 ? CAP_SYS_ADMIN : CAP_PERFMON;
}

void
probe_privs_drop(void)
{
	int rc, c, perf, setpcap;

	capng_get_caps_process();
	perf = probe_perf_capability();
	setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
	    /*
	     * perf_event_open() of system-wide tracepoint events when a CPU
	     * comes back online, and PERF_EVENT_IOC_SET_FILTER on them; the
	     * kernel checks it again on every new event.
	     */
	    perf,
	    /*
	     * Giving network namespaces that appear later an id in this one
	     * (RTM_NEWNSID), so that their sock_diag notifications reach the
	     * socket handed to the aggregator; that socket's subscription and
	     * NETLINK_LISTEN_ALL_NSID were set up before this drop.
	     */
	    CAP_NET_ADMIN,
	    -1) != 0)
		fatalx("capng_updatev");
	/*
	 * Clearing the bounding set needs CAP_SETPCAP. Under systemd the unit
	 * owns the bounding set (CapabilityBoundingSet=, without it): the
	 * other sets are applied alone, and the check below still holds.
	 */
	rc = capng_apply(setpcap ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS);
	if (rc != 0)
		fatalx("capng_apply failed (%d)", rc);

	/* Read the sets back: exactly the two capabilities, nothing else. */
	capng_get_caps_process();
	for (c = 0; c <= CAP_LAST_CAP; c++) {
		int want = c == perf || c == CAP_NET_ADMIN;

		if (capng_have_capability(CAPNG_EFFECTIVE, (unsigned)c) != want ||
		    capng_have_capability(CAPNG_PERMITTED, (unsigned)c) != want)
			fatalx("capability %s %s after the drop",
			    capng_capability_to_name((unsigned)c),
			    want ? "missing" : "kept");
		if (capng_have_capability(CAPNG_INHERITABLE, (unsigned)c))
			fatalx("inheritable capability %s kept",
			    capng_capability_to_name((unsigned)c));
	}

	log_info("kept capabilities %s and net_admin, no other",
	    capng_capability_to_name((unsigned)perf));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		fatalx("no_new_privs not set");
	/* No core dumps and no ptrace by the same uid. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_DUMPABLE)");
}

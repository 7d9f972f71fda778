/*
 * Dropping to an unprivileged user and proving it. See privdrop.h.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

void
privdrop_lookup(const char *name, struct privdrop_user *u)
{
	struct passwd *pw;

	if (name == NULL) {
		if ((pw = getpwnam("sockflow")) == NULL)
			pw = getpwnam("nobody");
		if (pw == NULL)
			fatalx("neither user sockflow nor nobody exists");
	} else if ((pw = getpwnam(name)) == NULL)
		fatalx("unknown user %s", name);
	if (pw->pw_uid == 0)
		fatalx("refusing to run as %s: uid 0", pw->pw_name);
	if (strlen(pw->pw_name) >= sizeof(u->name))
		fatalx("user name too long");
	strcpy(u->name, pw->pw_name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
}

void
privdrop_to_user(const struct privdrop_user *u)
{
	uid_t r, e, s;
	pid_t parent = getppid();
	int pdeath = 0;

	/*
	 * The kernel clears the parent-death signal when credentials change;
	 * a component started by the launcher must keep it, so that killing
	 * the launcher still takes the whole pipeline down.
	 */
	if (prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0) == -1)
		fatal("prctl(PR_GET_PDEATHSIG)");
	if (geteuid() == 0) {
		if (setgroups(1, &u->gid) == -1)
			fatal("setgroups");
		if (setresgid(u->gid, u->gid, u->gid) == -1)
			fatal("setresgid %u", (unsigned)u->gid);
		if (setresuid(u->uid, u->uid, u->uid) == -1)
			fatal("setresuid %u", (unsigned)u->uid);
		/* Try to undo the drop; it must fail. */
		if (setuid(0) != -1 || seteuid(0) != -1)
			fatalx("could regain uid 0 after dropping privileges");
		if (setgid(0) != -1 && u->gid != 0)
			fatalx("could regain gid 0 after dropping privileges");
	}
	if (getresuid(&r, &e, &s) == -1)
		fatal("getresuid");
	if (r == 0 || e == 0 || s == 0)
		fatalx("still uid 0 after dropping privileges");

	/* An unprivileged process keeps no capability in any set. */
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_apply(CAPNG_SELECT_CAPS) != 0)
		fatalx("cannot clear capabilities");
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		fatalx("capabilities remain after dropping privileges");

	if (pdeath != 0) {
		if (prctl(PR_SET_PDEATHSIG, pdeath, 0, 0, 0) == -1)
			fatal("prctl(PR_SET_PDEATHSIG)");
		/* The parent may have died before the signal was set again. */
		if (getppid() != parent)
			fatalx("parent exited during start-up");
	}

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		fatalx("no_new_privs not set");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_DUMPABLE)");
}

int
privdrop_peer_uid(int fd, uid_t *uid, pid_t *pid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return -1;
	if (len != sizeof(cr)) {
		errno = EINVAL;
		return -1;
	}
	*uid = cr.uid;
	*pid = cr.pid;
	return 0;
}

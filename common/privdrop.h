/*
 * Dropping to an unprivileged user, for the aggregator and the enricher,
 * and the checks that prove the drop: the process may not regain its old
 * ids, holds no capability in any set, and has no_new_privs set. Any
 * failure is fatal. Runs before the seccomp filter is loaded.
 */
#ifndef SOCKFLOW_PRIVDROP_H
#define SOCKFLOW_PRIVDROP_H

#include <sys/types.h>

struct privdrop_user {
	char	name[64];
	uid_t	uid;
	gid_t	gid;
};

/*
 * Resolve the user to run as: name, or when NULL "sockflow" if it exists
 * and "nobody" otherwise. Uses NSS, so it must run before any sandbox.
 */
void	privdrop_lookup(const char *name, struct privdrop_user *);
/* Become the user (when root), drop every capability, set no_new_privs. */
void	privdrop_to_user(const struct privdrop_user *);
/* Peer check for a connected Unix socket: 0 if its uid is allowed. */
int	privdrop_peer_uid(int fd, uid_t *uid, pid_t *pid);

#endif

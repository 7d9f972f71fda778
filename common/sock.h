/*
 * Unix stream sockets between sockflow processes: listening sockets handed
 * over by systemd or the launcher (the LISTEN_FDS protocol), connecting by
 * path, and a blocking flush of a bufferevent for orderly exits.
 */
#ifndef SOCKFLOW_SOCK_H
#define SOCKFLOW_SOCK_H

#include <sys/types.h>

struct bufferevent;

/* fd 3 when LISTEN_PID/LISTEN_FDS hand one over, else -1. */
int	sock_listen_fd_from_env(void);
/* A new listening socket at path (an old node is replaced). */
int	sock_listen_path(const char *path);
int	sock_connect_path(const char *path);
/* The same, -1 with errno instead of a fatal error. */
int	sock_connect_path_try(const char *path);
/* Send buf (all of it) with one descriptor attached (SCM_RIGHTS). */
int	sock_send_with_fd(int fd, const void *buf, size_t len, int pass);
/*
 * Read len bytes (blocking) and the one descriptor sent with them, in
 * *passed (-1 when none came; extra ones are closed).
 */
ssize_t	sock_recv_with_fd(int fd, void *buf, size_t len, int *passed);
/* Write everything queued on bev, blocking; for use at exit only. */
void	sock_flush_blocking(struct bufferevent *bev);

#endif

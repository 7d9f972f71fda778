/*
 * The file output: JSON lines in output.file.path/filename, rotated by
 * size into filename.1 ... filename.(number_of_files - 1), oldest removed.
 *
 * Never a partial line:
 *  - each batch goes in one writev(); a short or failed write (a full
 *    disk) is cut back with ftruncate() to where the batch began, and the
 *    batch stays queued to be written again a second later;
 *  - at open, a file whose last byte is not a newline (the process or the
 *    machine died in a write) is cut back to its last whole line, and the
 *    number of bytes removed is logged.
 * New files are created with output.file.permissions (0600 by default)
 * and an existing one is set to them. fsync: never; at rotation and stop
 * (the default); or after every batch.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "out.h"
#include "sfconfig.h"

#define FILE_IOV	128	/* lines per writev(): two iovecs each */
#define FILE_RETRY_S	1

struct ofile {
	struct event		*kick, *retry;
	int			 dirfd, fd;
	char			 name[64];
	char			 path[PATH_MAX];	/* for messages */
	off_t			 size;
	off_t			 limit;
	int			 keep;		/* files, the current one too */
	mode_t			 mode;
	int			 fsync;
	int			 warned;
	struct out_queue	 q;
	struct out_counters	 c;
};

static int
file_enabled(const struct sf_config *c)
{
	return c->file_enabled == 1;
}

/*
 * Cut a partial last line (a write the process or the machine did not
 * finish) so that the file holds whole lines only.
 */
static int
file_repair(struct ofile *f)
{
	char buf[4096];
	off_t end, pos;
	ssize_t n, i;

	if ((end = lseek(f->fd, 0, SEEK_END)) == -1)
		return -1;
	for (pos = end; pos > 0; pos -= n) {
		n = pos < (off_t)sizeof(buf) ? (ssize_t)pos :
		    (ssize_t)sizeof(buf);
		if (pread(f->fd, buf, (size_t)n, pos - n) != n)
			return -1;
		for (i = n - 1; i >= 0; i--)
			if (buf[i] == '\n')
				break;
		if (i >= 0) {
			pos = pos - n + i + 1;
			break;
		}
	}
	if (pos < 0)
		pos = 0;
	if (pos != end) {
		if (ftruncate(f->fd, pos) == -1)
			return -1;
		log_warnx("%s: removed a partial last line (%lld bytes)",
		    f->path, (long long)(end - pos));
	}
	f->size = pos;
	return 0;
}

static int
file_open_current(struct ofile *f)
{
	struct stat st;

	f->fd = openat(f->dirfd, f->name, O_RDWR | O_APPEND | O_CREAT |
	    O_CLOEXEC | O_NOFOLLOW, f->mode);
	if (f->fd == -1)
		return -1;
	/* The configured mode, whatever the umask or an older file said. */
	if (fstat(f->fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    ((st.st_mode & 07777) != f->mode && fchmod(f->fd, f->mode) == -1) ||
	    file_repair(f) == -1) {
		if (errno == 0)
			errno = EINVAL;
		close(f->fd);
		f->fd = -1;
		return -1;
	}
	return 0;
}

/* name.(keep-1) removed, name.i to name.(i+1), name to name.1. */
static int
file_rotate(struct ofile *f)
{
	char from[80], to[80];
	int i;

	if (f->fsync != FSYNC_NEVER && fdatasync(f->fd) == -1)
		log_warn("%s: fdatasync", f->path);
	close(f->fd);
	f->fd = -1;
	snprintf(to, sizeof(to), "%s.%d", f->name, f->keep - 1);
	if (unlinkat(f->dirfd, to, 0) == -1 && errno != ENOENT)
		log_warn("%s: removing %s", f->path, to);
	for (i = f->keep - 2; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%d", f->name, i);
		snprintf(to, sizeof(to), "%s.%d", f->name, i + 1);
		if (renameat(f->dirfd, from, f->dirfd, to) == -1 &&
		    errno != ENOENT)
			log_warn("%s: renaming %s", f->path, from);
	}
	snprintf(to, sizeof(to), "%s.1", f->name);
	/*
	 * Without this rename the current file stays full: a failure, tried
	 * again a second later (file_failed), not a loop rotating it.
	 */
	if (renameat(f->dirfd, f->name, f->dirfd, to) == -1)
		return -1;
	return file_open_current(f);
}

/* The write failed: cut what it left, keep the batch, try again later. */
static void
file_failed(struct ofile *f, const char *what)
{
	struct timeval tv = { FILE_RETRY_S, 0 };
	int err = errno;

	if (f->fd != -1 && ftruncate(f->fd, f->size) == -1)
		log_warn("%s: cutting a failed write", f->path);
	if (!f->warned)
		log_warnx("%s: %s: %s; keeping up to %zu lines and trying "
		    "again every %d s", f->path, what, strerror(err),
		    f->q.cap, FILE_RETRY_S);
	f->warned = 1;
	f->c.up = 0;
	f->c.retries++;
	evtimer_add(f->retry, &tv);
}

/* Write what is queued, in batches; stops at the first failure. */
static int
file_drain(struct ofile *f)
{
	struct iovec iov[FILE_IOV * 2];
	struct out_doc *d;
	size_t i, n, lines;
	off_t bytes;
	ssize_t w;

	while (f->q.n > 0) {
		if (f->fd == -1 && file_open_current(f) == -1) {
			file_failed(f, "open");
			return -1;
		}
		n = lines = 0;
		bytes = 0;
		for (i = 0; i < f->q.n && i < FILE_IOV; i++) {
			d = out_queue_peek(&f->q, i);
			/* Rotate before a line that would pass the limit. */
			if (f->size + bytes + (off_t)d->len + 1 > f->limit &&
			    (f->size > 0 || lines > 0))
				break;
			iov[n].iov_base = d->data;
			iov[n++].iov_len = d->len;
			iov[n].iov_base = (void *)"\n";
			iov[n++].iov_len = 1;
			bytes += (off_t)d->len + 1;
			lines++;
		}
		if (lines == 0) {
			if (file_rotate(f) == -1) {
				file_failed(f, "rotate");
				return -1;
			}
			continue;
		}
		w = writev(f->fd, iov, (int)n);
		if (w != (ssize_t)bytes) {
			if (w >= 0)
				errno = ENOSPC;
			file_failed(f, "write");
			return -1;
		}
		if (f->fsync == FSYNC_ALWAYS && fdatasync(f->fd) == -1) {
			file_failed(f, "fdatasync");
			return -1;
		}
		f->size += bytes;
		out_queue_pop(&f->q, lines);
		f->c.sent += lines;
		if (f->warned)
			log_info("%s: writing again", f->path);
		f->warned = 0;
		f->c.up = 1;
	}
	return 0;
}

static void
file_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ofile *f = arg;

	if (!evtimer_pending(f->retry, NULL))
		file_drain(f);
}

static void
file_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	file_drain(arg);
}

static void *
file_open(struct event_base *base, const struct sf_config *c, char *err,
    size_t errsz)
{
	struct ofile *f;

	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    out_queue_init(&f->q, (size_t)c->file_queue_size) == -1) {
		free(f);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	snprintf(f->name, sizeof(f->name), "%s", c->file_name);
	snprintf(f->path, sizeof(f->path), "%s/%s", c->file_path,
	    c->file_name);
	f->limit = (off_t)c->file_rotate_every_kb * 1024;
	f->keep = (int)c->file_number_of_files;
	f->mode = (mode_t)c->file_permissions;
	f->fsync = c->file_fsync;
	f->fd = -1;
	f->c.queue_cap = f->q.cap;
	f->c.up = 1;
	f->kick = evtimer_new(base, file_kick_cb, f);
	f->retry = evtimer_new(base, file_retry_cb, f);
	if (f->kick == NULL || f->retry == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if ((f->dirfd = open(c->file_path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", c->file_path, strerror(errno));
		goto fail;
	}
	if (file_open_current(f) == -1) {
		snprintf(err, errsz, "%s: %s", f->path, strerror(errno));
		close(f->dirfd);
		goto fail;
	}
	return f;
fail:
	if (f->kick != NULL)
		event_free(f->kick);
	if (f->retry != NULL)
		event_free(f->retry);
	out_queue_free(&f->q);
	free(f);
	return NULL;
}

static void
file_push(void *arg, struct out_doc *d)
{
	struct ofile *f = arg;
	struct timeval now = { 0, 0 };

	if (out_queue_push(&f->q, d) == -1) {
		f->c.dropped_full++;
		return;
	}
	f->c.accepted++;
	/* Batched: written once the loop has handled what is readable. */
	if (!evtimer_pending(f->kick, NULL))
		evtimer_add(f->kick, &now);
}

static void
file_counters(void *arg, struct out_counters *c)
{
	struct ofile *f = arg;

	*c = f->c;
	c->queued = f->q.n;
}

static void
file_close(void *arg, int64_t deadline)
{
	struct ofile *f = arg;

	/* One more try, then whatever could not be written is counted. */
	while (f->q.n > 0 && file_drain(f) == -1 && out_now() < deadline)
		usleep(100 * 1000);
	f->c.dropped_failed += f->q.n;
	if (f->fd != -1) {
		if (f->fsync != FSYNC_NEVER && fdatasync(f->fd) == -1)
			log_warn("%s: fdatasync", f->path);
		close(f->fd);
	}
	log_info("file %s: %llu sent, %llu dropped (queue full), %llu "
	    "dropped (failed)", f->path, (unsigned long long)f->c.sent,
	    (unsigned long long)f->c.dropped_full,
	    (unsigned long long)f->c.dropped_failed);
	close(f->dirfd);
	event_free(f->kick);
	event_free(f->retry);
	out_queue_free(&f->q);
	free(f);
}

const struct out_ops out_file_ops = {
	.name = "file",
	.enabled = file_enabled,
	.open = file_open,
	.push = file_push,
	.counters = file_counters,
	.close = file_close,
};

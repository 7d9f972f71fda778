/*
 * Finding tracefs and reading event descriptions from it. The probe reads
 * only the "id" and "format" files of the events it opens; the format text
 * is forwarded unparsed and decoded by the aggregator.
 */
#include "config.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "probe.h"
#include "xmalloc.h"

static int
has_events(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/events", dir) >= (int)sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Any tracefs mount listed in /proc/mounts. */
static const char *
find_mounted(void)
{
	static char found[PATH_MAX];
	char line[1024], dev[256], dir[PATH_MAX], type[64];
	const char *rv = NULL;
	FILE *f;

	if ((f = fopen("/proc/self/mounts", "r")) == NULL)
		return NULL;
	while (rv == NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) != 3)
			continue;
		if (strcmp(type, "tracefs") == 0 && has_events(dir)) {
			strcpy(found, dir);
			rv = found;
		}
	}
	fclose(f);
	return rv;
}

const char *
tracefs_locate(const char *configured)
{
	static const char *candidates[] = {
		"/sys/kernel/tracing",
		"/sys/kernel/debug/tracing",
	};
	const char *p;
	size_t i;

	if (configured != NULL) {
		if (!has_events(configured))
			fatalx("tracefs path %s has no events directory",
			    configured);
		return configured;
	}
	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (has_events(candidates[i]))
			return candidates[i];
	if ((p = find_mounted()) != NULL)
		return p;
	/* Not mounted anywhere: mount it where the kernel expects it. */
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == -1)
		fatal("mount tracefs on /sys/kernel/tracing");
	log_info("mounted tracefs on /sys/kernel/tracing");
	if (!has_events("/sys/kernel/tracing"))
		fatalx("tracefs mounted but has no events directory");
	return "/sys/kernel/tracing";
}

static ssize_t
read_file(const char *path, char *buf, size_t bufsz)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (off < bufsz) {
		n = read(fd, buf + off, bufsz - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (off == bufsz) {
		errno = EFBIG;
		return -1;
	}
	return (ssize_t)off;
}

int
tracefs_read_event(const char *tracefs, const char *system, const char *name,
    struct msg_format *out)
{
	char path[PATH_MAX], idbuf[32], *ep;
	char *text;
	ssize_t n;
	unsigned long id;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/events/%s/%s/id", tracefs, system,
	    name);
	if ((n = read_file(path, idbuf, sizeof(idbuf) - 1)) <= 0)
		return -1;
	idbuf[n] = '\0';
	errno = 0;
	id = strtoul(idbuf, &ep, 10);
	if (errno != 0 || (*ep != '\n' && *ep != '\0') || id == 0 ||
	    id > 0xffff) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/events/%s/%s/format", tracefs,
	    system, name);
	text = xcalloc(1, MSG_MAX_FORMAT_TEXT + 1);
	if ((n = read_file(path, text, MSG_MAX_FORMAT_TEXT)) <= 0) {
		free(text);
		return -1;
	}
	text[n] = '\0';
	out->id = (uint32_t)id;
	snprintf(out->system, sizeof(out->system), "%s", system);
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->text = text;
	out->textlen = (size_t)n;
	return 0;
}

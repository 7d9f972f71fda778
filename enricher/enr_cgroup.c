/*
 * Cgroups: the path of a cgroup v2 id, and the container it stands for.
 *
 * The aggregator gives each flow the cgroup id its process had when it
 * first used the socket (perf's PERF_SAMPLE_CGROUP), so a process that
 * moved or exited since is still placed where it was. Ids are turned
 * into paths with a table filled once at start, by walking the cgroup v2
 * hierarchy (a directory's inode number is its cgroup id), and then from
 * each new cgroup's PERF_RECORD_CGROUP. An id the table does not hold is
 * reported without a path, and counted.
 *
 * The container id comes from the path alone, from the deepest component
 * that names one: Docker ("docker-ID.scope" under systemd, "docker/ID"
 * with cgroupfs), containerd's CRI plugin ("cri-containerd-ID.scope"),
 * Podman ("libpod-ID.scope", not its "libpod-conmon-" monitor), CRI-O
 * ("crio-ID.scope") and Kubernetes with cgroupfs ("podUID/ID"). ID is 64
 * lower-case hex digits; anything else is not taken for one.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enr.h"
#include "log.h"

#define CG_BITS		14
#define SCAN_DEPTH	32

struct cg {
	struct cg	*next;
	uint64_t	 id;
	const char	*runtime;	/* of the container, when cid is one */
	char		 cid[65];	/* "" when the path names none */
	char		 path[];
};

struct enr_cgroups {
	struct cg	*buckets[1U << CG_BITS];
	size_t		 n, cap;
	uint64_t	 full;
	uint64_t	 unknown;
	uint64_t	 scanned;
};

struct enr_cgroups *
enr_cgroups_new(size_t cap)
{
	struct enr_cgroups *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cap = cap;
	return t;
}

void
enr_cgroups_free(struct enr_cgroups *t)
{
	struct cg *c, *n;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < (1U << CG_BITS); i++)
		for (c = t->buckets[i]; c != NULL; c = n) {
			n = c->next;
			free(c);
		}
	free(t);
}

static size_t
bucket(uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> (64 - CG_BITS));
}

void
enr_cgroups_add(struct enr_cgroups *t, uint64_t id, const char *path)
{
	struct cg **pp, *c;
	size_t len = strlen(path);

	if (id == 0)
		return;
	for (pp = &t->buckets[bucket(id)]; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			/* Ids are not reused while the cgroup lives: renamed. */
			c = *pp;
			*pp = c->next;
			free(c);
			t->n--;
			break;
		}
	if (t->n >= t->cap || (c = malloc(sizeof(*c) + len + 1)) == NULL) {
		t->full++;
		return;
	}
	c->id = id;
	memcpy(c->path, path, len + 1);
	/* Worked out once, not for every flow. */
	if (enr_container_id(path, c->cid, sizeof(c->cid), &c->runtime) == -1)
		c->cid[0] = '\0';
	c->next = t->buckets[bucket(id)];
	t->buckets[bucket(id)] = c;
	t->n++;
}

const char *
enr_cgroups_path(struct enr_cgroups *t, uint64_t id, const char **cid,
    const char **runtime)
{
	struct cg *c;

	*cid = *runtime = NULL;
	for (c = t->buckets[bucket(id)]; c != NULL; c = c->next)
		if (c->id == id) {
			if (c->cid[0] != '\0') {
				*cid = c->cid;
				*runtime = c->runtime;
			}
			return c->path;
		}
	t->unknown++;
	return NULL;
}

static void
walk(struct enr_cgroups *t, char *abs, size_t rootlen, int depth)
{
	size_t len = strlen(abs);
	struct dirent *de;
	struct stat sb;
	DIR *d;

	if (stat(abs, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return;
	enr_cgroups_add(t, (uint64_t)sb.st_ino,
	    len == rootlen ? "/" : abs + rootlen);
	t->scanned++;
	if (depth >= SCAN_DEPTH || t->n >= t->cap || (d = opendir(abs)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (len + 1 + strlen(de->d_name) >= MSG_CGROUP_PATH_LEN)
			continue;
		abs[len] = '/';
		strcpy(abs + len + 1, de->d_name);
		walk(t, abs, rootlen, depth + 1);
		abs[len] = '\0';
	}
	closedir(d);
}

/* The cgroup v2 mount point, from a mounts file; -1 when there is none. */
static int
cgroup2_mount(const char *mounts, char *out, size_t outsz)
{
	char line[1024], dev[256], dir[512], type[64];
	FILE *f;
	int rv = -1;

	if ((f = fopen(mounts, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%255s %511s %63s", dev, dir, type) == 3 &&
		    strcmp(type, "cgroup2") == 0 &&
		    strlen(dir) < outsz) {
			snprintf(out, outsz, "%s", dir);
			rv = 0;
			break;
		}
	fclose(f);
	return rv;
}

void
enr_cgroups_scan(struct enr_cgroups *t, const char *mounts)
{
	char abs[MSG_CGROUP_PATH_LEN + 600];

	if (cgroup2_mount(mounts, abs, 512) == -1) {
		log_info("no cgroup v2 hierarchy: flows get no cgroup paths");
		return;
	}
	/* "\040" and the like stand for odd bytes in a mount point. */
	if (strchr(abs, '\\') != NULL) {
		log_warnx("cgroup v2 mount point %s: not read", abs);
		return;
	}
	walk(t, abs, strlen(abs), 0);
	log_debug("cgroups at start: %llu under %s",
	    (unsigned long long)t->scanned, abs);
}

size_t
enr_cgroups_count(const struct enr_cgroups *t)
{
	return t->n;
}

uint64_t
enr_cgroups_unknown(const struct enr_cgroups *t)
{
	return t->unknown;
}

uint64_t
enr_cgroups_full(const struct enr_cgroups *t)
{
	return t->full;
}

/* s[0..n) is 64 lower-case hex digits. */
static int
hex64(const char *s, size_t n)
{
	size_t i;

	if (n != 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return 1;
}

/* "PREFIX<id>.scope" */
static int
scope_id(const char *c, size_t n, const char *prefix, const char **id)
{
	size_t pl = strlen(prefix);

	if (n < pl + 6 || strncmp(c, prefix, pl) != 0 ||
	    strncmp(c + n - 6, ".scope", 6) != 0 ||
	    !hex64(c + pl, n - pl - 6))
		return 0;
	*id = c + pl;
	return 1;
}

int
enr_container_id(const char *path, char *id, size_t idsz,
    const char **runtime)
{
	const char *end = path + strlen(path), *c, *prev_end, *got = NULL;
	size_t n;

	*runtime = NULL;
	/* Components from the deepest up. */
	while (end > path) {
		for (c = end; c > path && c[-1] != '/'; c--)
			;
		n = (size_t)(end - c);
		if (scope_id(c, n, "docker-", &got))
			*runtime = "docker";
		else if (scope_id(c, n, "cri-containerd-", &got))
			*runtime = "containerd";
		else if (scope_id(c, n, "libpod-", &got))
			*runtime = "podman";
		else if (scope_id(c, n, "crio-", &got))
			*runtime = "cri-o";
		else if (hex64(c, n) && c > path) {
			/* cgroupfs: the parent says whose it is. */
			const char *p;

			prev_end = c - 1;
			for (p = prev_end; p > path && p[-1] != '/'; p--)
				;
			if ((size_t)(prev_end - p) == 6 &&
			    strncmp(p, "docker", 6) == 0) {
				got = c;
				*runtime = "docker";
			} else if (prev_end - p > 3 &&
			    strncmp(p, "pod", 3) == 0) {
				got = c;
				*runtime = NULL;
			}
		}
		if (got != NULL)
			break;
		end = c > path ? c - 1 : path;
	}
	if (got == NULL || idsz < 65)
		return -1;
	memcpy(id, got, 64);
	id[64] = '\0';
	return 0;
}

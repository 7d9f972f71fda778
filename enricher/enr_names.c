/*
 * User and group names for the ids of a flow's process, from the system's
 * files (/etc/passwd, /etc/group), not from NSS: the enricher is
 * sandboxed, and NSS modules (LDAP, SSSD, systemd's) open sockets and
 * files of their own that its policy forbids. So a user known only to a
 * directory service has its id and no name. The files are read again
 * when their content changes (looked at every few seconds: the sandbox
 * has no stat(), so the content's hash says). Lines that are not
 * "name:x:id:..." are counted and skipped; every table is bounded.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enr.h"
#include "hash.h"
#include "readfile.h"

#define NAMES_MAX	65536		/* entries per file */
#define FILE_MAX	(4 * 1024 * 1024)
#define NAME_MAX_LEN	32		/* what useradd allows */

struct name_entry {
	uint32_t	 id;
	uint32_t	 line;		/* order in the file */
	char		 name[NAME_MAX_LEN + 1];
};

struct name_table {
	struct name_entry *v;
	size_t		 n;
	uint64_t	 hash;		/* of the content last read */
	size_t		 len;
	int		 read;
};

struct enr_names {
	char		 passwd[512], group[512];
	struct name_table users, groups;
	uint64_t	 gen;		/* changes when a table does */
	struct enr_names_stats stats;
};

static uint64_t
fnv(const char *p, size_t n)
{
	return fnv1a(FNV_OFFSET, p, n);
}

static int
by_id(const void *a, const void *b)
{
	const struct name_entry *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* A name as the files may hold it: printable, no ':' , not too long. */
static int
good_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/*
 * Parse "name:x:id:..." lines; the id is the third field. The first
 * entry of an id wins, as getpwuid() has it.
 */
static void
parse(struct name_table *t, char *text, uint64_t *bad)
{
	char *line, *next;
	size_t n = 0, cap = 0;
	struct name_entry *v = NULL;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		char *f[4], *ep;
		unsigned long id;
		int k;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		f[0] = line;
		for (k = 1; k < 4; k++) {
			if ((f[k] = strchr(f[k - 1], ':')) == NULL)
				break;
			*f[k]++ = '\0';
		}
		errno = 0;
		if (k < 4 || !good_name(f[0], strlen(f[0])) ||
		    (id = strtoul(f[2], &ep, 10), errno != 0) || ep == f[2] ||
		    *ep != '\0' || id > UINT32_MAX || n == NAMES_MAX) {
			(*bad)++;
			continue;
		}
		if (n == cap) {
			struct name_entry *nv;

			cap = cap == 0 ? 256 : cap * 2;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				(*bad)++;
				break;
			}
			v = nv;
		}
		v[n].id = (uint32_t)id;
		v[n].line = (uint32_t)n;
		snprintf(v[n].name, sizeof(v[n].name), "%s", f[0]);
		n++;
	}
	/* By id, and for equal ids by line: the first line wins. */
	if (n > 1)
		qsort(v, n, sizeof(*v), by_id);
	free(t->v);
	t->v = v;
	t->n = n;
}

/* Read a file again if its content changed; 1 when the table did. */
static int
refresh(struct name_table *t, const char *path, uint64_t *bad)
{
	size_t len = 0;
	char *text = read_file_all(path, FILE_MAX, &len, NULL);
	uint64_t h;

	if (text == NULL) {
		if (t->read && t->n > 0) {
			free(t->v);
			t->v = NULL;
			t->n = 0;
			t->read = 0;
			return 1;
		}
		return 0;
	}
	h = fnv(text, len);
	if (t->read && h == t->hash && len == t->len) {
		free(text);
		return 0;
	}
	parse(t, text, bad);
	free(text);
	t->hash = h;
	t->len = len;
	t->read = 1;
	return 1;
}

struct enr_names *
enr_names_new(const char *root)
{
	struct enr_names *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	snprintf(s->passwd, sizeof(s->passwd), "%s/etc/passwd",
	    strcmp(root, "/") == 0 ? "" : root);
	snprintf(s->group, sizeof(s->group), "%s/etc/group",
	    strcmp(root, "/") == 0 ? "" : root);
	enr_names_refresh(s);
	return s;
}

void
enr_names_free(struct enr_names *s)
{
	if (s == NULL)
		return;
	free(s->users.v);
	free(s->groups.v);
	free(s);
}

void
enr_names_refresh(struct enr_names *s)
{
	int changed;

	changed = refresh(&s->users, s->passwd, &s->stats.bad_lines);
	changed |= refresh(&s->groups, s->group, &s->stats.bad_lines);
	if (changed)
		s->gen++;
	s->stats.users = s->users.n;
	s->stats.groups = s->groups.n;
}

static const char *
lookup(const struct name_table *t, uint32_t id)
{
	size_t lo = 0, hi = t->n;

	/* The first of equal ids: the lowest index whose id is >= id. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && t->v[lo].id == id ? t->v[lo].name : NULL;
}

const char *
enr_names_user(const struct enr_names *s, uint32_t uid)
{
	return lookup(&s->users, uid);
}

const char *
enr_names_group(const struct enr_names *s, uint32_t gid)
{
	return lookup(&s->groups, gid);
}

uint64_t
enr_names_gen(const struct enr_names *s)
{
	return s->gen;
}

const struct enr_names_stats *
enr_names_stats(const struct enr_names *s)
{
	return &s->stats;
}

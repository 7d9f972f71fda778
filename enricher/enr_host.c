/*
 * Host facts for the host.* fields: name, architecture, kernel, operating
 * system (os-release) and machine id. Read once at start, before the
 * sandbox, from files under root ("/" in production; tests point it at a
 * fixture tree).
 */
#include "config.h"

#include <sys/utsname.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "enr.h"

static void
copy_value(char *dst, size_t dstsz, const char *v)
{
	size_t n = strlen(v);

	while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == '\r'))
		n--;
	/* os-release values may be quoted. */
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v++;
		n -= 2;
	}
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static void
read_os_release(struct enr_host *h, const char *root)
{
	char path[600], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/etc/os-release", root);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(path, sizeof(path), "%s/usr/lib/os-release", root);
		if ((f = fopen(path, "r")) == NULL)
			return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '=');

		if (eq == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "NAME") == 0)
			copy_value(h->os_name, sizeof(h->os_name), eq);
		else if (strcmp(line, "VERSION") == 0)
			copy_value(h->os_version, sizeof(h->os_version), eq);
		else if (strcmp(line, "ID") == 0)
			copy_value(h->os_platform, sizeof(h->os_platform), eq);
		else if (strcmp(line, "ID_LIKE") == 0)
			copy_value(h->os_family, sizeof(h->os_family), eq);
		else if (strcmp(line, "VERSION_CODENAME") == 0)
			copy_value(h->os_codename, sizeof(h->os_codename), eq);
	}
	fclose(f);
	if (h->os_family[0] == '\0')
		memcpy(h->os_family, h->os_platform, sizeof(h->os_family));
}

void
enr_host_load(struct enr_host *h, const char *root)
{
	struct utsname u;
	char path[600], line[128];
	FILE *f;

	memset(h, 0, sizeof(*h));
	if (gethostname(h->hostname, sizeof(h->hostname) - 1) == -1)
		snprintf(h->hostname, sizeof(h->hostname), "unknown");
	if (uname(&u) == 0) {
		snprintf(h->architecture, sizeof(h->architecture), "%s",
		    u.machine);
		snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
	}
	read_os_release(h, root);
	snprintf(path, sizeof(path), "%s/etc/machine-id", root);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL)
			copy_value(h->id, sizeof(h->id), line);
		fclose(f);
	}
}

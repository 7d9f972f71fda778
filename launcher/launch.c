/*
 * sockflow: runs the whole pipeline on one host without an init system.
 *
 * It creates the two rendezvous sockets in a runtime directory (the probe
 * connects to the aggregator's, the aggregator to the enricher's), starts
 * the enricher, the aggregator and the probe with their listening sockets
 * handed over as systemd does (LISTEN_FDS), and then only waits:
 *  - SIGINT or SIGTERM stops the pipeline from the top (probe, then
 *    aggregator, then enricher) so that every flow in flight is written;
 *  - a component that dies is started again, and the launcher says which
 *    one died and how. The listening sockets stay with the launcher, so
 *    its peers' connections wait in their backlog meanwhile: a probe
 *    whose aggregator went away connects to the new one, carrying the
 *    samples taken meanwhile; an aggregator whose enricher went away
 *    connects to the new one and keeps its flows. A component that dies RESTART_MAX
 *    times within RESTART_WINDOW seconds stops the others, and the
 *    launcher exits non-zero. Each start after the first gets its number
 *    in SOCKFLOW_RESTARTS, which the components put in their stats.
 * Children get PR_SET_PDEATHSIG so that even a killed launcher leaves no
 * component behind. The runtime directory is removed on exit.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"
#include "sfconfig.h"
#include "sock.h"

#define STOP_WAIT_MS	6000
#define RESTART_MAX	5
#define RESTART_WINDOW	60	/* seconds */

enum { C_OUTPUT, C_ENRICHER, C_AGGREGATOR, C_PROBE, NCOMP };

struct component {
	const char	*name;
	const char	*binary;
	pid_t		 pid;
	int		 status;
	int		 exited;
	int		 reported;
	char		**argv;		/* to start it again */
	int		 listen_fd;
	int		 stdout_fd;	/* its stdout, when not ours */
	unsigned	 restarts;
	time_t		 deaths[RESTART_MAX];	/* the last ones, a ring */
};

static struct component comps[NCOMP] = {
	[C_OUTPUT] =	 { .name = "output", .binary = "sockflow-output" },
	[C_ENRICHER] =	 { .name = "enricher", .binary = "sockflow-enricher" },
	[C_AGGREGATOR] = { .name = "aggregator",
			   .binary = "sockflow-aggregator" },
	[C_PROBE] =	 { .name = "probe", .binary = "sockflow-probe" },
};

static char rundir[200];
static char agg_sock[240], enr_sock[240], lock_path[240];

static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: sockflow [-dnv] [-f config] [-o key=value] "
	    "[-r rundir] [-u user]\n"
	    "       sockflow --check [-f config] [-o key=value]\n"
	    "       sockflow stats\n");
	exit(2);
}

/* Component binaries: beside this program, else the libexec directory. */
static void
component_path(const char *binary, char *out, size_t outsz)
{
	char self[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(out, outsz, "%s/%s", dirname(self), binary);
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, outsz, "%s/%s", SOCKFLOW_LIBEXECDIR, binary);
	if (access(out, X_OK) != 0)
		fatal("cannot find %s", binary);
}

static pid_t
spawn(struct component *c, int listen_fd, char *argv[])
{
	char path[PATH_MAX], pidbuf[32];
	sigset_t none;
	pid_t pid, launcher = getpid();

	component_path(c->binary, path, sizeof(path));
	c->argv = argv;
	c->listen_fd = listen_fd;
	c->exited = c->reported = 0;
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0) {
		c->pid = pid;
		return pid;
	}
	/* Child. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_IGN);	/* the launcher stops us in order */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		_exit(127);
	/*
	 * The launcher died before the signal was armed. Not "getppid() ==
	 * 1": in a container's own pid namespace the launcher is pid 1.
	 */
	if (getppid() != launcher)
		_exit(127);
	if (c->stdout_fd > 0 && dup2(c->stdout_fd, STDOUT_FILENO) == -1)
		_exit(127);
	if (listen_fd != -1) {
		if (listen_fd != 3) {
			if (dup2(listen_fd, 3) == -1)
				_exit(127);
		} else if (fcntl(3, F_SETFD, 0) == -1)
			_exit(127);
		snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
		setenv("LISTEN_PID", pidbuf, 1);
		setenv("LISTEN_FDS", "1", 1);
	}
	if (c->restarts > 0) {
		snprintf(pidbuf, sizeof(pidbuf), "%u", c->restarts);
		setenv("SOCKFLOW_RESTARTS", pidbuf, 1);
	}
	argv[0] = path;
	execv(path, argv);
	fprintf(stderr, "sockflow: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

static struct component *
component_of(pid_t pid)
{
	int i;

	for (i = 0; i < NCOMP; i++)
		if (comps[i].pid == pid && !comps[i].exited)
			return &comps[i];
	return NULL;
}

static void
describe(const struct component *c, char *buf, size_t bufsz)
{
	if (WIFSIGNALED(c->status))
		snprintf(buf, bufsz, "was killed by signal %d (%s)",
		    WTERMSIG(c->status), strsignal(WTERMSIG(c->status)));
	else
		snprintf(buf, bufsz, "exited with status %d",
		    WEXITSTATUS(c->status));
}

/* Say how a component ended, once, unless it ended cleanly after a stop. */
static int
report(struct component *c, const char *suffix)
{
	char how[128];

	if (!c->exited || c->reported)
		return 0;
	if (*suffix == '\0' && WIFEXITED(c->status) &&
	    WEXITSTATUS(c->status) == 0)
		return 0;
	c->reported = 1;
	describe(c, how, sizeof(how));
	log_warnx("%s (pid %ld) %s%s", c->name, (long)c->pid, how, suffix);
	return 1;
}

/* Collect every child that has exited; returns the first of ours. */
static struct component *
reap(void)
{
	struct component *first = NULL, *c;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = component_of(pid)) == NULL)
			continue;
		c->status = status;
		c->exited = 1;
		if (first == NULL)
			first = c;
	}
	return first;
}

/*
 * A component died while the pipeline runs: start it again, unless it has
 * died RESTART_MAX times within RESTART_WINDOW seconds. Returns 0 when
 * it was started again.
 */
static int
restart(struct component *c)
{
	time_t now = time(NULL), oldest;

	oldest = c->deaths[c->restarts % RESTART_MAX];
	if (c->restarts >= RESTART_MAX && now - oldest < RESTART_WINDOW) {
		report(c, "; it died too often, stopping the others");
		return -1;
	}
	c->deaths[c->restarts % RESTART_MAX] = now;
	c->restarts++;
	report(c, "; starting it again");
	spawn(c, c->listen_fd, c->argv);
	log_info("%s started again (pid %ld, restart %u)", c->name,
	    (long)c->pid, c->restarts);
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
stop(struct component *c)
{
	int waited = 0;

	if (c->pid == 0 || c->exited)
		return;
	kill(c->pid, SIGTERM);
	while (!c->exited && waited < STOP_WAIT_MS) {
		reap();
		if (c->exited)
			break;
		sleep_ms(10);
		waited += 10;
	}
	if (!c->exited) {
		log_warnx("%s (pid %ld) did not stop; killing it", c->name,
		    (long)c->pid);
		kill(c->pid, SIGKILL);
		while (!c->exited) {
			reap();
			sleep_ms(10);
		}
	}
}

/*
 * sockflow stats: SIGUSR1 to every running enricher and output process,
 * started by a launcher or by systemd; each writes its stats document to
 * its outputs at once.
 */
static int
ask_stats(void)
{
	char path[64], exe[PATH_MAX], *base;
	struct dirent *de;
	ssize_t n;
	long pid;
	int sent = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		fatal("/proc");
	while ((de = readdir(d)) != NULL) {
		if ((pid = strtol(de->d_name, &base, 10)) <= 0 || *base != '\0')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
		if ((n = readlink(path, exe, sizeof(exe) - 1)) <= 0)
			continue;
		exe[n] = '\0';
		/* A binary replaced by an upgrade while it runs. */
		if (n > 10 && strcmp(exe + n - 10, " (deleted)") == 0)
			exe[n - 10] = '\0';
		base = strrchr(exe, '/');
		base = base != NULL ? base + 1 : exe;
		if (strcmp(base, comps[C_ENRICHER].binary) != 0 &&
		    strcmp(base, comps[C_OUTPUT].binary) != 0)
			continue;
		if (kill((pid_t)pid, SIGUSR1) == -1) {
			log_warn("%s (pid %ld)", base, pid);
			continue;
		}
		printf("asked %s (pid %ld) for its stats\n", base, pid);
		sent++;
	}
	closedir(d);
	if (sent == 0) {
		log_warnx("no sockflow-enricher or sockflow-output is running "
		    "(or they are not visible to this user)");
		return 1;
	}
	printf("the documents (event.dataset sockflow.stats) are on the "
	    "outputs\n");
	return 0;
}

static void
cleanup(void)
{
	unlink(agg_sock);
	unlink(enr_sock);
	unlink(lock_path);
	rmdir(rundir);
}

int
main(int argc, char *argv[])
{
	struct privdrop_user u;
	struct sf_config cfg;
	struct sf_opts so = { .verbose = 0 };
	const char *user;
	char *common[2 * CONFIG_MAX_SETS + 8];
	char *eargv[2 * CONFIG_MAX_SETS + 16], *aargv[2 * CONFIG_MAX_SETS + 16];
	char *pargv[2 * CONFIG_MAX_SETS + 16], *oargv[2 * CONFIG_MAX_SETS + 16];
	int ch, lockfd, alfd, elfd, olfd = -1, i, n, nc, rc = 0;
	int check_only = 0, kernel_check = 0;
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	sigset_t set;

	log_init("sockflow", 1);
	snprintf(rundir, sizeof(rundir), "/run/sockflow");
	while ((ch = getopt_long(argc, argv, "df:no:r:u:v", longopts,
	    NULL)) != -1) {
		/* Its own verbosity stays; -d and -v go to the components. */
		if (sf_opts_take(&so, ch, optarg))
			continue;
		switch (ch) {
		case 'C':
			kernel_check = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'r':
			if (strlen(optarg) >= sizeof(rundir) - 32)
				fatalx("runtime directory name too long");
			snprintf(rundir, sizeof(rundir), "%s", optarg);
			break;
		default:
			usage();
		}
	}
	if (optind == argc - 1 && strcmp(argv[optind], "stats") == 0)
		return ask_stats();
	if (optind != argc)
		usage();
	/* Check the configuration before starting anything. */
	config_init(&cfg, &so.ca);
	if (cfg.console_enabled != 1 && !config_needs_output(&cfg))
		fatalx("no output is enabled (output.console.enabled is false "
		    "and no other output is on)");
	if (check_only) {
		config_dump(&cfg, stdout);
		return 0;
	}
	user = so.user;
	if (user == NULL && cfg.user[0] != '\0')
		user = cfg.user;
	/* What every component gets: the same file and overrides. */
	nc = 0;
	if (so.ca.path != NULL) {
		common[nc++] = (char *)"-f";
		common[nc++] = (char *)so.ca.path;
	}
	for (i = 0; i < so.ca.nsets; i++) {
		common[nc++] = (char *)"-o";
		common[nc++] = so.ca.sets[i];
	}
	for (i = 0; i < so.verbose; i++)
		common[nc++] = (char *)"-v";
	if (kernel_check) {
		/* What the kernel offers is the probe's to say: it asks. */
		char path[PATH_MAX];

		if (geteuid() != 0)
			fatalx("--check must run as root (it reads tracefs "
			    "and tries the kernel's probes)");
		component_path(comps[C_PROBE].binary, path, sizeof(path));
		n = 0;
		pargv[n++] = path;
		pargv[n++] = (char *)"-C";
		for (i = 0; i < nc; i++)
			pargv[n++] = common[i];
		pargv[n] = NULL;
		execv(path, pargv);
		fatal("%s", path);
	}
	if (geteuid() != 0)
		fatalx("must run as root (the probe opens kernel tracepoints)");
	privdrop_lookup(user, &u);

	if (mkdir(rundir, 0755) == -1 && errno != EEXIST)
		fatal("mkdir %s", rundir);
	snprintf(lock_path, sizeof(lock_path), "%s/lock", rundir);
	snprintf(agg_sock, sizeof(agg_sock), "%s/aggregator.sock", rundir);
	snprintf(enr_sock, sizeof(enr_sock), "%s/enricher.sock", rundir);
	if ((lockfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		fatal("%s", lock_path);
	if (flock(lockfd, LOCK_EX | LOCK_NB) == -1)
		fatalx("another sockflow is running (%s is locked)", lock_path);

	/* Both rendezvous sockets exist before any component starts. */
	umask(077);
	alfd = sock_listen_path(agg_sock);
	elfd = sock_listen_path(enr_sock);
	/* Only the aggregator's user may connect to the enricher. */
	if (chown(enr_sock, u.uid, u.gid) == -1)
		fatal("chown %s", enr_sock);
	/*
	 * Outputs beyond the console: the enricher's stdout is a pipe to
	 * sockflow-output. The launcher holds both ends, so that either
	 * side can be started again while the lines wait in the pipe. The
	 * console alone needs no fourth process.
	 */
	if (config_needs_output(&cfg)) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) == -1)
			fatal("pipe");
		/* As much room as the kernel gives an unprivileged pipe. */
		(void)fcntl(p[1], F_SETPIPE_SZ, 1024 * 1024);
		olfd = p[0];
		comps[C_ENRICHER].stdout_fd = p[1];
	}

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (olfd != -1) {
		n = 0;
		oargv[n++] = NULL;
		oargv[n++] = (char *)"-u";
		oargv[n++] = u.name;
		for (i = 0; i < nc; i++)
			oargv[n++] = common[i];
		oargv[n] = NULL;
		spawn(&comps[C_OUTPUT], olfd, oargv);
	}

	n = 0;
	eargv[n++] = NULL;
	eargv[n++] = (char *)"-u";
	eargv[n++] = u.name;
	/* A pipe it shares with earlier runs: begin with a newline. */
	if (olfd != -1)
		eargv[n++] = (char *)"-n";
	for (i = 0; i < nc; i++)
		eargv[n++] = common[i];
	eargv[n] = NULL;
	spawn(&comps[C_ENRICHER], elfd, eargv);

	n = 0;
	aargv[n++] = NULL;
	aargv[n++] = (char *)"-e";
	aargv[n++] = enr_sock;
	aargv[n++] = (char *)"-u";
	aargv[n++] = u.name;
	for (i = 0; i < nc; i++)
		aargv[n++] = common[i];
	aargv[n] = NULL;
	/* Give the enricher its listener before the aggregator connects. */
	spawn(&comps[C_AGGREGATOR], alfd, aargv);

	n = 0;
	pargv[n++] = NULL;
	pargv[n++] = (char *)"-c";
	pargv[n++] = agg_sock;
	for (i = 0; i < nc; i++)
		pargv[n++] = common[i];
	pargv[n] = NULL;
	spawn(&comps[C_PROBE], -1, pargv);
	/* alfd and elfd stay open: a component started again gets them. */

	for (;;) {
		int sig = sigwaitinfo(&set, NULL);

		if (sig == -1) {
			if (errno == EINTR)
				continue;
			fatal("sigwaitinfo");
		}
		if (sig == SIGCHLD) {
			if (reap() == NULL)
				continue;
			for (i = 0; i < NCOMP && rc == 0; i++)
				if (comps[i].exited && restart(&comps[i]) == -1)
					rc = 1;
			if (rc != 0)
				break;
			continue;
		}
		log_info("signal %d: stopping", sig);
		break;
	}
	/* From the top, so that each stage can hand on what it holds. */
	stop(&comps[C_PROBE]);
	stop(&comps[C_AGGREGATOR]);
	stop(&comps[C_ENRICHER]);
	stop(&comps[C_OUTPUT]);
	/* Anything that did not end cleanly on the way down is named too. */
	for (i = 0; i < NCOMP; i++)
		if (report(&comps[i], ""))
			rc = 1;
	cleanup();
	return rc;
}

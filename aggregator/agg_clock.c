/*
 * Kernel time to wall time. Samples carry CLOCK_MONOTONIC timestamps; a
 * flow record carries wall-clock times. The offset between the two clocks
 * is taken from a (monotonic, realtime) pair read every
 * socket.clock_sync_period and kept while it stays within
 * socket.clock_max_drift of the new pair, so that the times of one flow
 * are consistent with each other; a larger difference (the wall clock was
 * stepped, or drifted that far) is corrected at once and counted.
 */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include "agg.h"

static struct {
	int64_t		offset;		/* realtime - monotonic, ns */
	int		set;
	int64_t		max_drift;
	uint64_t	steps;
	uint64_t	syncs;
} clk = { 0, 0, 100 * 1000 * 1000, 0, 0 };

void
agg_clock_init(int64_t max_drift_ns)
{
	clk.max_drift = max_drift_ns;
	clk.set = 0;
	clk.steps = clk.syncs = 0;
}

int
agg_clock_pair(int64_t mono, int64_t real)
{
	int64_t off = real - mono;

	clk.syncs++;
	if (!clk.set) {
		clk.offset = off;
		clk.set = 1;
		return 0;
	}
	if (llabs(off - clk.offset) <= clk.max_drift)
		return 0;
	clk.offset = off;
	clk.steps++;
	return 1;
}

int
agg_clock_sync(void)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return agg_clock_pair((int64_t)m.tv_sec * 1000000000LL + m.tv_nsec,
	    (int64_t)r.tv_sec * 1000000000LL + r.tv_nsec);
}

int64_t
agg_mono_to_wall(uint64_t mono)
{
	if (!clk.set)
		agg_clock_sync();
	return (int64_t)mono + clk.offset;
}

uint64_t
agg_clock_steps(void)
{
	return clk.steps;
}

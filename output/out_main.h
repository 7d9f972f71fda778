/*
 * The parts of sockflow-output that are not an output: its sandbox.
 */
#ifndef SOCKFLOW_OUT_MAIN_H
#define SOCKFLOW_OUT_MAIN_H

#include <seccomp.h>

struct sf_config;

/* The allow-list for the outputs the configuration turns on. */
scmp_filter_ctx	out_sandbox_policy(const struct sf_config *);
/* Load it for every thread of the process. */
void		out_sandbox_enter(const struct sf_config *);

#endif

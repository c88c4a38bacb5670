/* reproduce: the registered experiments that `subq reproduce` runs, each writing results/<name>.h5.
 *
 * Profiles: smoke (every experiment end to end at toy size; CI), default (the CPU-scale reproduction),
 * paper (the published sizes, for bigger machines). A finished experiment whose results file exists with the
 * same profile is skipped unless forced, so an interrupted `make reproduce` resumes. */
#ifndef SUBQ_REPRODUCE_H
#define SUBQ_REPRODUCE_H

#include <stddef.h>

#include "exp_common.h"

int repro_profile_from_name(const char *name, ReproProfile *out);
const Experiment *repro_experiments(int *count);
const Experiment *repro_find(const char *name);

/* Runs the named experiments (all if only == NULL). Returns 0, or -1 after the first failure. */
int repro_run_all(ReproContext *ctx, const char *only, int force, char *err, size_t errlen);

#endif

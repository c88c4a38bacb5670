/* reproduce: the registered experiments that `subq reproduce` runs, each writing results/<name>.h5.
 *
 * Profiles: smoke (every experiment end to end at toy size; CI), default (the CPU-scale reproduction),
 * paper (the published sizes, for bigger machines). A finished experiment whose results file exists with the
 * same profile is skipped unless forced, so an interrupted `make reproduce` resumes. */
#ifndef SUBQ_REPRODUCE_H
#define SUBQ_REPRODUCE_H

#include <stddef.h>
#include <stdint.h>

#include "results.h"
#include "timing.h"

/* The published claims (bench/claims.h), relative to the repository root where `subq reproduce` runs. An experiment
 * that compares with a published number during the run (a target loss) reads it from here. */
#define REPRO_PUBLISHED_TSV "baselines/published.tsv"

typedef enum ReproProfile { PROFILE_SMOKE, PROFILE_DEFAULT, PROFILE_PAPER, PROFILE_COUNT } ReproProfile;

typedef struct ReproContext {
    ReproProfile profile;
    const char *profile_name;
    const char *results_dir;
    uint64_t seed;
    int threads;
    int quiet;
    double calibration_gflops; /* measured once per `subq reproduce`, recorded by every experiment */
    double calibration_ms;
    double calibration_min_ms; /* the fastest calibration repetition, for the regression ratios */
} ReproContext;

typedef struct Experiment {
    const char *name;
    const char *summary;
    /* Fills an open results file; returns 0, or -1 with a one-line message (the file is then discarded). */
    int (*run)(const ReproContext *ctx, Results *results, char *err, size_t errlen);
} Experiment;

int repro_profile_from_name(const char *name, ReproProfile *out);
const Experiment *repro_experiments(int *count);
const Experiment *repro_find(const char *name);

/* Runs the named experiments (all if only == NULL). Returns 0, or -1 after the first failure. */
int repro_run_all(ReproContext *ctx, const char *only, int force, char *err, size_t errlen);

/* Progress lines go to stdout unless quiet. */
void repro_log(const ReproContext *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/* exp_common: what every experiment shares: the run's context (profile, seed, threads, the calibration sgemm),
 * the Experiment type that reproduce.c lists, progress lines, and the helpers that record operator benchmarks
 * and metrics over seeds into the results file. */
#ifndef SUBQ_EXP_COMMON_H
#define SUBQ_EXP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "benchop.h"
#include "opbuf.h"
#include "results.h"
#include "timing.h"

/* The published claims (bench/report/claims.h), relative to the repository root where `subq reproduce` runs. An
 * experiment that compares with a published number during the run (a target loss) reads it from here. */
#define REPRO_PUBLISHED_TSV "baselines/published.tsv"

typedef enum ReproProfile { PROFILE_SMOKE, PROFILE_DEFAULT, PROFILE_PAPER, PROFILE_COUNT } ReproProfile;

struct ExpShard; /* exp_shard.h */

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
    /* `subq reproduce --only peers --points A,B`: the named points alone (NULL: all). The results file then
     * records the list as its root attribute "points" and never counts as a finished experiment. */
    const char *points;
    struct ExpShard *shard; /* under MPI: the sharded reproduction's plan and pass (exp_shard.h); else NULL */
    int spread_timing;      /* under MPI: the timing experiments one per rank at once (--spread-timing), not all on rank 0 */
} ReproContext;

typedef struct Experiment {
    const char *name;
    const char *summary;
    /* Fills an open results file; returns 0, or -1 with a one-line message (the file is then discarded). */
    int (*run)(const ReproContext *ctx, Results *results, char *err, size_t errlen);
    /* 1: it measures speed, so under MPI it runs on rank 0 alone with the machine to itself (section 10). */
    int timing;
} Experiment;

/* Progress lines go to stdout unless quiet. */
void repro_log(const ReproContext *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));


/* The next item of a comma-separated list into item (truncated to len); returns where the list goes on (at its
 * terminating '\0' after the last item). */
const char *exp_list_next(const char *list, char *item, size_t len);
/* 1 if ctx->points is NULL or names the point (a comma-separated list of whole names). */
int exp_point_selected(const ReproContext *ctx, const char *point);

/* Configures an operator from a literal config; -1 with a message if the config is invalid. */
int exp_configure(Op *op, const char *name, const char *config, char *err, size_t errlen);
/* The timing policy for a point of the given FLOPs: the default (warm-up, >= 5 repetitions, >= 0.5 s) unless
 * one repetition is expected to take more than a few seconds at a conservative 30% of the calibration
 * sgemm's rate; then a single timed repetition, so the long points of a sweep cost minutes, not hours. */
TimingPolicy exp_policy_for(const ReproContext *ctx, double flops);
/* A timing as a multiple of the calibration sgemm of the same run, for regression tracking (subq compare).
 * It uses the fastest repetition of both: other work on the machine only ever adds time, so minima follow
 * the code and hardly the load, where medians of short OpenMP kernels moved up to 2x between runs. */
double exp_calibration_ratio(const ReproContext *ctx, const TimingStats *t);
/* Opens run <run> for an operator point: its config, op, B, L and analytic FLOPs (forward, backward). */
void exp_record_point(Results *results, const char *run, const Op *op, int B, int L);
/* Records one benchmarked point as run <run>: config, B, L, FLOPs, the timing statistics of forward and
 * (when measured) forward+backward, GFLOP/s, memory, and times relative to the calibration sgemm. */
void exp_record_bench(const ReproContext *ctx, Results *results, const char *run, const Op *op, int B, int L,
                      const BenchOpResult *r);
/* The PyTorch peers (baselines/torch, PyPI torch in the project's virtual environment, `make peers`). */
#define EXP_PEER_PYTHON ".venv/bin/python"
/* The peer's interpreter: $SUBQ_PEER_PYTHON if set (an environment of one's own with torch), else
 * EXP_PEER_PYTHON. */
const char *exp_peer_python(void);
/* 1 if exp_peer_python() exists and imports torch. */
int exp_peer_python_ready(void);

/* Seeds (docs/DESIGN.md section 8): accuracy and loss claims are judged over EXP_MAX_SEEDS >= n >= 3 seeds. */
#define EXP_MAX_SEEDS 8
/* How many seeds a seeded run trains in this profile: 3 (smoke: 2, enough to exercise the code). */
int exp_seed_count(const ReproContext *ctx);
/* The k-th seed for a purpose (an experiment's offset): ctx->seed + offset for k = 0, as before seeds were
 * run, then spread by 1000003 per seed. */
uint64_t exp_seed(const ReproContext *ctx, uint64_t offset, int k);
/* Records a metric measured over n seeds: attribute <name> (the mean) on run `run` (NULL: the root), beside
 * the dataset <name>_by_seed and the attribute <name>_sd (sample standard deviation, 0 for one seed). Returns
 * the mean. */
double exp_record_over_seeds(Results *results, const char *run, const char *name, const double *values, int n);

/* Prints one progress line for a benchmarked point. */
void exp_log_bench(const ReproContext *ctx, const char *run, const BenchOpResult *r);

#endif

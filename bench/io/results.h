/* results: writes an experiment's results file (DESIGN.md section 5) through h5io.
 *   root attributes  experiment, profile, seed, threads and the provenance of the run (git commit and
 *                    dirty flag, UTC date, CPU model, cores, compiler and flags, FFTW/OpenBLAS/HDF5 versions);
 *   /runs/<name>     one group per run: attribute `config` (the operator/model config string), final
 *                    metrics as attributes, series as 1-D datasets.
 * The file is created under a temporary name and renamed by results_commit, so a failed or interrupted
 * experiment never leaves a half-written results file. */
#ifndef SUBQ_RESULTS_H
#define SUBQ_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "h5io.h"

typedef struct Results {
    H5File *file;
    char path[1024];
    int failed; /* sticky: after the first error every call is a no-op and commit refuses */
    char err[256];
} Results;

typedef struct ResultsMeta {
    const char *experiment;
    const char *profile;
    uint64_t seed;
    int threads;
} ResultsMeta;

int results_create(Results *r, const char *path, const ResultsMeta *meta, char *err, size_t errlen);
/* Creates /runs/<run> with its config string. */
void results_run(Results *r, const char *run, const char *config);
void results_metric(Results *r, const char *run, const char *name, double value);
void results_metric_str(Results *r, const char *run, const char *name, const char *value);
void results_root_metric(Results *r, const char *name, double value);
void results_root_str(Results *r, const char *name, const char *value);
void results_series(Results *r, const char *run, const char *name, const double *values, int n);
/* A 1-D dataset /<name> at the root (values over seeds of a root metric). */
void results_root_series(Results *r, const char *name, const double *values, int n);
/* A 2-D float dataset /runs/<run>/<name> (rows, cols): for heat-maps (`subq results heatmap`). */
void results_matrix(Results *r, const char *run, const char *name, const float *values, int rows, int cols);
/* Closes and renames onto the final path; -1 with the first error if anything failed. */
int results_commit(Results *r, char *err, size_t errlen);
void results_abort(Results *r);

/* Provenance strings (also printed by `subq version`). */
void results_git_commit(char *out, size_t outlen, int *dirty);
void results_cpu_model(char *out, size_t outlen);
void results_utc_now(char *out, size_t outlen);
/* The 1-minute load average (-1 if unknown): timings taken while other work runs are not comparable, so it
 * is recorded with every results file and `subq reproduce` warns when the machine is busy. */
double results_load_average(void);

#endif

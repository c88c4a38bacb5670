/* compare: `subq compare BASE.h5 NEW.h5 [NEW2.h5 ...]`, the performance regression check of DESIGN.md section 6. Every
 * timing is stored as a ratio to the calibration sgemm of its own run (`*_calibration_ratio`, attributes and
 * series), which cancels most of the machine's speed; compare reports, per run and metric present in both
 * files, NEW/BASE of those ratios and flags a slowdown beyond the threshold. */
#ifndef SUBQ_COMPARE_H
#define SUBQ_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#define COMPARE_MAX_NEW 16

/* Compares BASE with n_new (1 ... COMPARE_MAX_NEW) repeated measurements of the same benchmarks: each metric
 * (attribute or series point) takes the fastest of the new files that have it, so one slow repetition on a
 * shared machine does not count as a regression while a real slowdown, present in every repetition, does.
 * Returns the number of regressions (>= 0) and prints the table to out, or -1 with a message. */
int compare_results(const char *base_path, const char *const *new_paths, int n_new, double threshold, FILE *out,
                    char *err, size_t errlen);

/* Determinism check (`subq compare --identical`): every numeric metric and series of every run of BASE that
 * does not depend on the clock (names with _ms, seconds, time, tokens_per_s, gflops, calibration, speedup,
 * reps, rss, torch, load_average, ratio_) must be bitwise equal in NEW. Returns the number of differences
 * (>= 0; each printed), or -1 with a message. */
int compare_identical(const char *base_path, const char *new_path, FILE *out, char *err, size_t errlen);

#endif

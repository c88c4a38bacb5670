/* compare: `subq compare BASE.h5 NEW.h5 [NEW2.h5 ...]` or `subq compare BASE.h5... --vs NEW.h5...`, the
 * performance regression check of DESIGN.md section 6. Every
 * timing is stored as a ratio to the calibration sgemm of its own run (`*_calibration_ratio`, attributes and
 * series), which cancels most of the machine's speed; compare reports, per run and metric present in both
 * files, NEW/BASE of those ratios and flags a slowdown beyond the threshold. */
#ifndef SUBQ_COMPARE_H
#define SUBQ_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#define COMPARE_MAX_NEW 16

/* Compares n_base measurements of the base with n_new measurements of the new code (1 ... COMPARE_MAX_NEW
 * each; for the A/B of `make perf-check`, taken alternately on one machine): each metric (attribute or
 * series point) takes the fastest of each side's files that have it, so one slow repetition on a shared
 * machine does not count as a regression while a real slowdown, present in every repetition, does. The runs
 * compared are those of the first base file, and the metrics those whose names end in metric_suffix (NULL:
 * "_calibration_ratio", which makes files of different runs comparable; an A/B in one run can compare the
 * times themselves, "_ms_min", without the calibration's own noise). Returns the number of regressions (>= 0) and prints the table
 * to out, or -1 with a message. */
int compare_results(const char *const *base_paths, int n_base, const char *const *new_paths, int n_new,
                    double threshold, const char *metric_suffix, FILE *out, char *err, size_t errlen);

/* Determinism check (`subq compare --identical`): every numeric metric and series of every run of BASE that
 * does not depend on the clock (names with _ms, seconds, time, tokens_per_s, gflops, calibration, speedup,
 * reps, rss, torch, load_average, ratio_) must be bitwise equal in NEW. Returns the number of differences
 * (>= 0; each printed), or -1 with a message. */
int compare_identical(const char *base_path, const char *new_path, FILE *out, char *err, size_t errlen);

#endif

/* compare: `subq compare BASE.h5 NEW.h5`, the performance regression check of DESIGN.md section 6. Every
 * timing is stored as a ratio to the calibration sgemm of its own run (`*_calibration_ratio`, attributes and
 * series), which cancels most of the machine's speed; compare reports, per run and metric present in both
 * files, NEW/BASE of those ratios and flags a slowdown beyond the threshold. */
#ifndef SUBQ_COMPARE_H
#define SUBQ_COMPARE_H

#include <stddef.h>
#include <stdio.h>

/* Returns the number of regressions (>= 0) and prints the table to out, or -1 with a message. */
int compare_results(const char *base_path, const char *new_path, double threshold, FILE *out, char *err,
                    size_t errlen);

/* Determinism check (`subq compare --identical`): every numeric metric and series of every run of BASE that
 * does not depend on the clock (names with _ms, seconds, time, tokens_per_s, gflops, calibration, speedup,
 * reps, rss, torch, load_average, ratio_) must be bitwise equal in NEW. Returns the number of differences
 * (>= 0; each printed), or -1 with a message. */
int compare_identical(const char *base_path, const char *new_path, FILE *out, char *err, size_t errlen);

#endif

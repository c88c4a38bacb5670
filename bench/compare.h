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

#endif

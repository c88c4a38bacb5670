/* report: results/REPORT.md, generated from the results files alone. For every published number in
 * baselines/published.tsv (claim, paper, table, setting, metric, value, note) it prints subq's number, the
 * conditions it was measured under (profile, sizes, data source, machine) and a verdict: reproduced, not
 * reproduced, or not run at this scale. The mapping from a claim to the measurement that tests it lives in
 * one table (report.c). */
#ifndef SUBQ_REPORT_H
#define SUBQ_REPORT_H

#include <stddef.h>

int report_write(const char *published_tsv, const char *results_dir, const char *out_path, char *err,
                 size_t errlen);

#endif

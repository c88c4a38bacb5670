/* report_scaling: the "Data-parallel scaling (model)" section of results/REPORT.md, from results/lm_flops.h5:
 * the predicted efficiency of the Pile models' data-parallel training at 8, 64 and 512 ranks, with the
 * assumptions it rests on (docs/DESIGN.md section 10). Says how to get it when the file is absent. */
#ifndef SUBQ_REPORT_SCALING_H
#define SUBQ_REPORT_SCALING_H

#include <stdio.h>

void report_scaling_section(FILE *out, const char *results_dir);

#endif

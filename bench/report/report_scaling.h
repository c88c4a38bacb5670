/* report_scaling: the scaling sections of results/REPORT.md. "Data-parallel scaling (model)", from
 * results/lm_flops.h5: the predicted efficiency of the Pile models' data-parallel training at 8, 64 and 512 ranks,
 * with the assumptions it rests on (docs/DESIGN.md section 10). "Generation", from results/generation.h5: tokens/s
 * and state against the context (section 11). Each says how to get it when its file is absent. */
#ifndef SUBQ_REPORT_SCALING_H
#define SUBQ_REPORT_SCALING_H

#include <stdio.h>

void report_scaling_section(FILE *out, const char *results_dir);
/* Generation (generation.h5): tokens/s of each method by context and batch, its state, its step-vs-forward error. */
void report_generation_section(FILE *out, const char *results_dir);

#endif

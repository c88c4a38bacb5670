/* report_cifar: the CIFAR-10 sections of results/REPORT.md (bench/report/report.h), read from the results files of
 * cifar_fff (the FFF paper's table layout: memorisation / generalisation accuracy per model and training width),
 * cifar_vit, scifar and cifar_2d (one row per run: parameters, accuracies, inference FLOPs, channel neurons used,
 * time), each with the profile and scale it was measured at. Experiments without a results file are listed as
 * not run. */
#ifndef SUBQ_REPORT_CIFAR_H
#define SUBQ_REPORT_CIFAR_H

#include <stdio.h>

void report_cifar_sections(FILE *out, const char *results_dir);

#endif

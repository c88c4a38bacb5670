/* show: `subq results show FILE.h5` (a readable table of a results file (root attributes, then each run's
 * attributes and its series as columns) and `subq results export` (text tables for gnuplot). Reads any file of
 * the results schema. */
#ifndef SUBQ_SHOW_H
#define SUBQ_SHOW_H

#include <stddef.h>
#include <stdio.h>

int show_results(const char *path, FILE *out, char *err, size_t errlen);

/* Writes each run's series as a whitespace-separated text table OUTDIR/<run>.dat (a "# name ..." header,
 * then one row per point), the form gnuplot reads (plots/). Returns the number of files or -1. */
int show_export(const char *path, const char *outdir, char *err, size_t errlen);

#endif

/* report_peers: the "baselines against PyTorch" section of results/REPORT.md (bench/report/report.h): every speed
 * claim is a ratio against subq's own baselines, so the report shows how each baseline compares with what a PyTorch
 * user would run, from results/peers.h5 (bench/experiments/exp_peers.c): per point and phase, PyTorch time / subq
 * time of the fastest repetitions in alternating rounds, its spread over the rounds, the outcome (subq faster,
 * level, PyTorch faster) and both sides' rates as fractions of the in-run calibration sgemm. Without peer results it
 * says how to get them (`make peers`). */
#ifndef SUBQ_REPORT_PEERS_H
#define SUBQ_REPORT_PEERS_H

#include <stdio.h>

void report_peers_section(FILE *out, const char *results_dir);

#endif

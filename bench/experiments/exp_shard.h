/* exp_shard: a sharded reproduction inside the experiments (docs/DESIGN.md section 10).
 *
 * An experiment's independent training runs (one model at one seed) are its units. Under MPI every rank runs
 * each experiment's code in the compute pass and trains only the units it owns: the rank with the least
 * estimated cost so far (over all experiments; the lowest rank on a tie), in the order the experiment meets
 * them, so every rank computes the same plan without talking. Each unit's outcome and a copy of its run group
 * go to the rank's part file. Rank 0 then runs each experiment's code again in the merge pass, where every unit
 * is taken from the part file that holds it instead of trained: the summaries over units run on the same
 * numbers in the same order, and the results file is the one a single process writes.
 *
 * What an experiment must keep for this: the units it meets, their keys and their costs may not depend on the
 * outcomes of other units (the compute pass gives the units a rank does not own an outcome of zeros); a unit
 * writes only its own run group, between exp_unit_begin and exp_unit_end. Without MPI (ctx->shard NULL) every
 * unit is trained where it is met and nothing else happens. */
#ifndef SUBQ_EXP_SHARD_H
#define SUBQ_EXP_SHARD_H

#include <stddef.h>

#include "exp_common.h"

#define EXP_SHARD_MAX_RANKS 256

typedef enum ExpShardPass { EXP_SHARD_COMPUTE, EXP_SHARD_MERGE } ExpShardPass;

struct ExpShard {
    ExpShardPass pass;
    int rank, ranks;
    double load[EXP_SHARD_MAX_RANKS]; /* the estimated cost handed to each rank so far */
    H5File *parts[EXP_SHARD_MAX_RANKS]; /* merge pass: the experiment's part file of every rank */
    Results *results; /* the experiment's open file: this rank's part (compute) or the results file (merge) */
};

/* Before unit `key` (unique within the experiment, e.g. "<run>.seed1") of estimated cost `cost` (in any unit
 * the experiments share, the same on every rank: training FLOPs). Returns 1: train it here, then call
 * exp_unit_end; 0: outcome[0..n) holds its outcome (zeros in the compute pass on a rank that does not own it)
 * and, in the merge pass, /runs/<run> its run group (run != NULL); -1 with a one-line message. */
int exp_unit_begin(const ReproContext *ctx, const char *key, const char *run, double cost, double *outcome, int n,
                   char *err, size_t errlen);
/* After a unit trained here: in the compute pass, its outcome and a copy of its run group go to the part
 * file. Returns 0, or -1 with a one-line message. */
int exp_unit_end(const ReproContext *ctx, const char *key, const char *run, const double *outcome, int n, char *err,
                 size_t errlen);

/* The part file of an experiment on a rank: <results_dir>/.part-<experiment>-r<rank>.h5. */
void exp_shard_part_path(const ReproContext *ctx, const char *experiment, int rank, char *out, size_t len);
/* Merge pass: opens every rank's part file of the experiment (the results directory must be one every rank
 * sees, as a cluster's shared file system is). Returns 0, or -1 with a one-line message. */
int exp_shard_open_parts(const ReproContext *ctx, struct ExpShard *shard, const char *experiment, char *err,
                         size_t errlen);
/* Closes the part files and, if remove_files, deletes them. */
void exp_shard_close_parts(const ReproContext *ctx, struct ExpShard *shard, const char *experiment,
                           int remove_files);

#endif

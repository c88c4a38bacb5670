/* The units of a sharded reproduction (exp_shard.h). */
#include "exp_shard.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The rank that trains the next unit: the least loaded, the lowest on a tie; the load grows by its cost. */
static int owner_of(struct ExpShard *s, double cost)
{
    int r = 0;
    for (int k = 1; k < s->ranks; k++)
        r = s->load[k] < s->load[r] ? k : r;
    s->load[r] += cost > 0 ? cost : 1;
    return r;
}

static void unit_path(const char *key, char *out, size_t len) { snprintf(out, len, "units/%s", key); }

/* Merge pass: the outcome and run group of a unit from the part file that holds it. */
static int take_unit(const struct ExpShard *s, const char *key, const char *run, double *outcome, int n, char *err,
                     size_t errlen)
{
    char path[512], from[600], to[512];
    unit_path(key, path, sizeof path);
    for (int r = 0; r < s->ranks; r++) {
        H5File *part = s->parts[r];
        if (!part || !h5io_exists(part, path))
            continue;
        for (int i = 0; i < n; i++) {
            char name[32];
            snprintf(name, sizeof name, "outcome_%d", i);
            if (h5io_read_attr_double(part, path, name, &outcome[i]) != 0) {
                snprintf(err, errlen, "unit %s: rank %d's part file lacks %s", key, r, name);
                return -1;
            }
        }
        if (!run || s->results->failed)
            return 0;
        snprintf(from, sizeof from, "%s/run", path);
        snprintf(to, sizeof to, "runs/%s", run);
        return h5io_copy(part, from, s->results->file, to, err, errlen);
    }
    snprintf(err, errlen, "unit %s: no rank's part file holds it", key);
    return -1;
}

int exp_unit_begin(const ReproContext *ctx, const char *key, const char *run, double cost, double *outcome, int n,
                   char *err, size_t errlen)
{
    struct ExpShard *s = ctx->shard;
    if (!s)
        return 1;
    if (s->pass == EXP_SHARD_MERGE)
        return take_unit(s, key, run, outcome, n, err, errlen) == 0 ? 0 : -1;
    if (owner_of(s, cost) == s->rank)
        return 1;
    memset(outcome, 0, sizeof *outcome * (size_t)n);
    if (!run || s->results->failed)
        return 0;
    /* An empty group, so what the experiment writes to the run after the unit has a place (this part file's
     * runs are never merged). */
    char path[512];
    snprintf(path, sizeof path, "runs/%s", run);
    return h5io_group(s->results->file, path, err, errlen) == 0 ? 0 : -1;
}

int exp_unit_end(const ReproContext *ctx, const char *key, const char *run, const double *outcome, int n, char *err,
                 size_t errlen)
{
    const struct ExpShard *s = ctx->shard;
    if (!s || s->pass != EXP_SHARD_COMPUTE)
        return 0;
    Results *results = s->results;
    char path[512], to[600], from[512];
    unit_path(key, path, sizeof path);
    if (results->failed) {
        snprintf(err, errlen, "unit %s: %s", key, results->err);
        return -1;
    }
    if (h5io_group(results->file, path, err, errlen) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "outcome_%d", i);
        if (h5io_attr_double(results->file, path, name, outcome[i], err, errlen) != 0)
            return -1;
    }
    if (!run)
        return 0;
    /* A copy as the unit left it: what the experiment adds to the run group afterwards it adds again in the
     * merge pass, from the merged outcomes. */
    snprintf(from, sizeof from, "runs/%s", run);
    snprintf(to, sizeof to, "%s/run", path);
    return h5io_copy(results->file, from, results->file, to, err, errlen);
}

void exp_shard_part_path(const ReproContext *ctx, const char *experiment, int rank, char *out, size_t len)
{
    snprintf(out, len, "%s/.part-%s-r%d.h5", ctx->results_dir, experiment, rank);
}

int exp_shard_open_parts(const ReproContext *ctx, struct ExpShard *shard, const char *experiment, char *err,
                         size_t errlen)
{
    for (int r = 0; r < shard->ranks; r++) {
        char path[1024], msg[256];
        exp_shard_part_path(ctx, experiment, r, path, sizeof path);
        if (!(shard->parts[r] = h5io_open_read(path, msg, sizeof msg))) {
            snprintf(err, errlen, "rank %d's part of %s: %s (the results directory must be one every rank sees)",
                     r, experiment, msg);
            exp_shard_close_parts(ctx, shard, experiment, 0);
            return -1;
        }
    }
    return 0;
}

void exp_shard_close_parts(const ReproContext *ctx, struct ExpShard *shard, const char *experiment,
                           int remove_files)
{
    for (int r = 0; r < shard->ranks; r++) {
        if (shard->parts[r])
            h5io_close(shard->parts[r]);
        shard->parts[r] = NULL;
        char path[1024];
        exp_shard_part_path(ctx, experiment, r, path, sizeof path);
        if (remove_files)
            unlink(path);
    }
}

#include "reproduce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "comm.h"
#include "exp_shard.h"
#include "experiments.h"
#include "h5io.h"

static const char *const profile_names[PROFILE_COUNT] = {"smoke", "default", "paper"};

static const Experiment experiments[] = {
    {"ops_core", "ffn and attention (naive, tiled) speed against the calibration sgemm; tiled at long L",
     exp_ops_core, 1},
    {"ops_scaling", "forward and forward+backward time vs sequence length: attention, hyena, s4d, fftconv",
     exp_ops_scaling, 1},
    {"channel_speed", "inference time of FFF, UltraFastBERT's FFF and MoE against the dense ffn vs width",
     exp_channel_speed, 1},
    {"lm_shakespeare", "byte-level tiny Shakespeare: nanoGPT's CPU GPT vs Hyena and S4D at matched parameters",
     exp_lm_shakespeare, 0},
    {"lm_flops", "training FLOPs per token of GPT and Hyena at the Hyena paper's Pile shapes (analytic, no training)",
     exp_lm_flops, 0},
    {"lm_sotu", "State of the Union corpus, context 1024: GPT vs Hyena vs S4D at matched parameters, training FLOPs",
     exp_lm_sotu, 0},
    {"assoc_recall", "associative recall accuracy of hyena, attention and s4d over vocabularies and lengths",
     exp_assoc_recall, 0},
    {"peers", "the same operators and shapes timed with PyTorch (optional; `make peers`)", exp_peers, 1},
    {"generation", "time and state per generated token against the context: attention's KV cache, S4D, Hyena",
     exp_generation, 1},
    {"hyena_distill", "Hyena's filters distilled into modal recurrences: filter error and LM loss against the order",
     exp_hyena_distill, 0},
    {"cifar_fff", "flattened CIFAR-10: FF vs FFF vs MoE at equal training width, memorisation and generalisation",
     exp_cifar_fff, 0},
    {"cifar_vit", "small ViT on CIFAR-10 (patch 4): attention vs hyena mixers, ffn vs fff channels", exp_cifar_vit, 0},
    {"scifar", "sequential CIFAR-10 (1024 pixels as tokens): s4d vs hyena", exp_scifar, 0},
    {"cifar_2d", "isometric CIFAR-10 network: 3x3 convolutions vs 2D long convolutions (Hyena-ISO)", exp_cifar_2d, 0},
};

int repro_profile_from_name(const char *name, ReproProfile *out)
{
    for (int p = 0; p < PROFILE_COUNT; p++)
        if (strcmp(name, profile_names[p]) == 0) {
            *out = (ReproProfile)p;
            return 0;
        }
    return -1;
}

const Experiment *repro_experiments(int *count)
{
    *count = (int)(sizeof experiments / sizeof experiments[0]);
    return experiments;
}

const Experiment *repro_find(const char *name)
{
    int count;
    const Experiment *all = repro_experiments(&count);
    for (int i = 0; i < count; i++)
        if (strcmp(all[i].name, name) == 0)
            return &all[i];
    return NULL;
}

/* An experiment is done when its results file exists and was written by the same profile. */
static int already_done(const char *path, const char *profile)
{
    char err[256], stored[64];
    H5File *f = h5io_open_read(path, err, sizeof err);
    if (!f)
        return 0;
    int same = h5io_read_attr_str(f, "/", "profile", stored, sizeof stored) == 0 && strcmp(stored, profile) == 0 &&
               h5io_read_attr_str(f, "/", "points", stored, sizeof stored) != 0; /* a --points run is partial */
    h5io_close(f);
    return same;
}

/* Runs one experiment into a results file at path. In a sharded reproduction's merge pass the experiment's
 * time is that of its slowest rank's compute pass plus the merge. */
static int run_into(const ReproContext *ctx, const Experiment *e, const char *path, char *err, size_t errlen)
{
    Results results;
    ResultsMeta meta = {e->name, ctx->profile_name, ctx->seed, ctx->threads};
    if (results_create(&results, path, &meta, err, errlen) != 0)
        return -1;
    results_root_metric(&results, "calibration_gflops", ctx->calibration_gflops);
    results_root_metric(&results, "calibration_ms", ctx->calibration_ms);
    results_root_metric(&results, "calibration_min_ms", ctx->calibration_min_ms);
    if (ctx->points)
        results_root_str(&results, "points", ctx->points);
    if (ctx->shard)
        ctx->shard->results = &results;
    char msg[512];
    const double t0 = timing_now_seconds();
    if (e->run(ctx, &results, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s: %s", e->name, msg);
        results_abort(&results);
        return -1;
    }
    /* How long the experiment took here, so the cost of a profile is known from its results (the threads and
     * the load beside it say how comparable it is). */
    double seconds = timing_now_seconds() - t0, slowest = 0;
    for (int r = 0; ctx->shard && ctx->shard->pass == EXP_SHARD_MERGE && r < ctx->shard->ranks; r++) {
        double s = h5io_attr_num(ctx->shard->parts[r], "/", "experiment_seconds");
        slowest = s > slowest ? s : slowest;
    }
    seconds += slowest;
    results_root_metric(&results, "experiment_seconds", seconds);
    if (results_commit(&results, err, errlen) != 0)
        return -1;
    repro_log(ctx, "== %s: wrote %s (%.0f s)\n", e->name, path, seconds);
    return 0;
}

static void final_path(const ReproContext *ctx, const Experiment *e, char *out, size_t len)
{
    snprintf(out, len, "%s/%s.h5", ctx->results_dir, e->name);
}

static int run_one(const ReproContext *ctx, const Experiment *e, int force, char *err, size_t errlen)
{
    char path[1024];
    final_path(ctx, e, path, sizeof path);
    if (!force && already_done(path, ctx->profile_name)) {
        repro_log(ctx, "== %s: %s exists (profile %s), skipped; --force reruns it\n", e->name, path,
                  ctx->profile_name);
        return 0;
    }
    repro_log(ctx, "== %s (%s profile): %s\n", e->name, ctx->profile_name, e->summary);
    return run_into(ctx, e, path, err, errlen);
}

/* Whether `subq reproduce --only` (NULL: everything) selects the experiment. */
static int selected(const char *only, const Experiment *e) { return !only || strcmp(only, e->name) == 0; }

/* The calibration sgemm, timed on this rank's threads. */
static int calibrate(ReproContext *ctx, char *err, size_t errlen)
{
    TimingPolicy policy = timing_default_policy();
    TimingStats stats;
    ctx->calibration_gflops = timing_calibration_gflops(&policy, &stats);
    ctx->calibration_ms = stats.median_ms;
    ctx->calibration_min_ms = stats.min_ms;
    if (ctx->calibration_gflops <= 0) {
        snprintf(err, errlen, "out of memory for the calibration sgemm");
        return -1;
    }
    repro_log(ctx, "calibration sgemm %dx%dx%d: %.1f GFLOP/s (%.2f ms) on %d threads\n", TIMING_CALIBRATION_N,
              TIMING_CALIBRATION_N, TIMING_CALIBRATION_N, ctx->calibration_gflops, ctx->calibration_ms, ctx->threads);
    return 0;
}

/* Under MPI (docs/DESIGN.md section 10, exp_shard.h): every rank runs each selected training experiment in the
 * compute pass, training its share of the experiment's units with its own threads into its part file; after a
 * world barrier rank 0 merges each experiment's parts into the results file one process would write (the merge
 * pass), then runs the timing experiments alone with the machine's threads while the others wait without
 * spinning. */
static int run_sharded(ReproContext *ctx, const Experiment *all, int count, const char *only, int force, char *err,
                       size_t errlen)
{
    double todo[64];
    if (count > 64 || comm_world_size() > EXP_SHARD_MAX_RANKS) {
        snprintf(err, errlen, "a sharded reproduction takes at most %d ranks", EXP_SHARD_MAX_RANKS);
        return -1;
    }
    const int rank = comm_world_rank();
    /* Rank 0 decides which experiments are finished (files another rank might not see); the sum tells all. */
    for (int i = 0; i < count; i++) {
        char path[1024];
        final_path(ctx, &all[i], path, sizeof path);
        todo[i] = rank == 0 && !all[i].timing && selected(only, &all[i]) &&
                  (force || !already_done(path, ctx->profile_name));
    }
    if (comm_sum_doubles(todo, (size_t)count, err, errlen) != 0)
        return -1;
    struct ExpShard *shard = calloc(1, sizeof *shard);
    if (!shard) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *shard = (struct ExpShard){.pass = EXP_SHARD_COMPUTE, .rank = rank, .ranks = comm_world_size()};
    repro_log(ctx, "sharded over %d ranks: each training experiment's runs spread by cost, merged by rank 0; then %s\n",
              shard->ranks, ctx->spread_timing ? "the timing experiments one per rank, side by side (--spread-timing)"
                                               : "the timing experiments on rank 0 alone (--spread-timing spreads them)");
    ctx->shard = shard;
    comm_solo(1); /* each unit trains whole on its rank (comm_wait_all still waits for the whole world) */
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++)
        if (todo[i] > 0) {
            char part[1024];
            exp_shard_part_path(ctx, all[i].name, rank, part, sizeof part);
            repro_log(ctx, "== %s (%s profile, rank %d's share): %s\n", all[i].name, ctx->profile_name, rank,
                      all[i].summary);
            rc = run_into(ctx, &all[i], part, err, errlen);
        }
    if (rc == 0)
        rc = comm_wait_all(err, errlen);
    shard->pass = EXP_SHARD_MERGE;
    for (int i = 0; i < count && rc == 0 && rank == 0; i++)
        if (todo[i] > 0 && (rc = exp_shard_open_parts(ctx, shard, all[i].name, err, errlen)) == 0) {
            char path[1024];
            final_path(ctx, &all[i], path, sizeof path);
            repro_log(ctx, "== %s: merging the parts of %d ranks\n", all[i].name, shard->ranks);
            rc = run_into(ctx, &all[i], path, err, errlen);
            exp_shard_close_parts(ctx, shard, all[i].name, rc == 0);
        }
    ctx->shard = NULL;
    free(shard);
    if (rc == 0 && ctx->spread_timing) {
        /* Asked for: each timing experiment whole on one rank, in turn, all at once, each with its rank's threads
         * and calibration. Sound when every rank has a machine of its own. */
        if (comm_local_size() > 1)
            repro_log(ctx, "warning: %d ranks share this machine: the timing experiments running side by side "
                           "slow each other down\n", comm_local_size());
        for (int i = 0, k = 0; i < count && rc == 0; i++)
            if (all[i].timing && selected(only, &all[i]) && k++ % comm_world_size() == rank)
                rc = run_one(ctx, &all[i], force, err, errlen);
    } else if (rc == 0 && rank == 0) {
        ctx->threads = timing_machine_threads();
        timing_set_threads(ctx->threads);
        rc = calibrate(ctx, err, errlen);
        for (int i = 0; i < count && rc == 0; i++)
            if (all[i].timing && selected(only, &all[i]))
                rc = run_one(ctx, &all[i], force, err, errlen);
    }
    comm_solo(0);
    return rc != 0 ? rc : comm_wait_all(err, errlen);
}

int repro_run_all(ReproContext *ctx, const char *only, int force, char *err, size_t errlen)
{
    if (only && !repro_find(only)) {
        snprintf(err, errlen, "unknown experiment '%s' (see `subq reproduce --list`)", only);
        return -1;
    }
    ctx->profile_name = profile_names[ctx->profile];
    if (mkdir(ctx->results_dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create results directory %s: %s", ctx->results_dir, strerror(errno));
        return -1;
    }
    double load = results_load_average();
    if (load > 0.5 * ctx->threads)
        repro_log(ctx, "warning: load average %.2f on %d threads: other work is running, timings will be slow and "
                       "noisy\n", load, ctx->threads);
    if (calibrate(ctx, err, errlen) != 0)
        return -1;
    int count;
    const Experiment *all = repro_experiments(&count);
    if (comm_size() > 1)
        return run_sharded(ctx, all, count, only, force, err, errlen);
    for (int i = 0; i < count; i++)
        if (selected(only, &all[i]) && run_one(ctx, &all[i], force, err, errlen) != 0)
            return -1;
    return 0;
}

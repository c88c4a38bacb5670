#include "reproduce.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "comm.h"
#include "experiments.h"
#include "h5io.h"

static const char *const profile_names[PROFILE_COUNT] = {"smoke", "default", "paper"};

static const Experiment experiments[] = {
    {"ops_core", "ffn and attention (naive, tiled) speed against the calibration sgemm; tiled at long L",
     exp_ops_core, 1, 60},
    {"ops_scaling", "forward and forward+backward time vs sequence length: attention, hyena, s4d, fftconv",
     exp_ops_scaling, 1, 1200},
    {"channel_speed", "inference time of FFF, UltraFastBERT's FFF and MoE against the dense ffn vs width",
     exp_channel_speed, 1, 300},
    {"lm_shakespeare", "byte-level tiny Shakespeare: nanoGPT's CPU GPT vs Hyena and S4D at matched parameters",
     exp_lm_shakespeare, 0, 1000},
    {"lm_flops", "training FLOPs per token of GPT and Hyena at the Hyena paper's Pile shapes (analytic, no training)",
     exp_lm_flops, 0, 1},
    {"lm_sotu", "State of the Union corpus, context 1024: GPT vs Hyena vs S4D at matched parameters, training FLOPs",
     exp_lm_sotu, 0, 3000},
    {"assoc_recall", "associative recall accuracy of hyena, attention and s4d over vocabularies and lengths",
     exp_assoc_recall, 0, 3500},
    {"peers", "the same operators and shapes timed with PyTorch (optional; `make peers`)", exp_peers, 1, 650},
    {"cifar_fff", "flattened CIFAR-10: FF vs FFF vs MoE at equal training width, memorisation and generalisation",
     exp_cifar_fff, 0, 1800},
    {"cifar_vit", "small ViT on CIFAR-10 (patch 4): attention vs hyena mixers, ffn vs fff channels", exp_cifar_vit,
     0, 2100},
    {"scifar", "sequential CIFAR-10 (1024 pixels as tokens): s4d vs hyena", exp_scifar, 0, 1030},
    {"cifar_2d", "isometric CIFAR-10 network: 3x3 convolutions vs 2D long convolutions (Hyena-ISO)", exp_cifar_2d,
     0, 460},
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

static int run_one(const ReproContext *ctx, const Experiment *e, int force, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.h5", ctx->results_dir, e->name);
    if (!force && already_done(path, ctx->profile_name)) {
        repro_log(ctx, "== %s: %s exists (profile %s), skipped; --force reruns it\n", e->name, path,
                  ctx->profile_name);
        return 0;
    }
    repro_log(ctx, "== %s (%s profile): %s\n", e->name, ctx->profile_name, e->summary);
    Results results;
    ResultsMeta meta = {e->name, ctx->profile_name, ctx->seed, ctx->threads};
    if (results_create(&results, path, &meta, err, errlen) != 0)
        return -1;
    results_root_metric(&results, "calibration_gflops", ctx->calibration_gflops);
    results_root_metric(&results, "calibration_ms", ctx->calibration_ms);
    results_root_metric(&results, "calibration_min_ms", ctx->calibration_min_ms);
    if (ctx->points)
        results_root_str(&results, "points", ctx->points);
    char msg[512];
    const double t0 = timing_now_seconds();
    if (e->run(ctx, &results, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s: %s", e->name, msg);
        results_abort(&results);
        return -1;
    }
    /* How long the experiment took here, so the cost of a profile is known from its results (the threads and
     * the load beside it say how comparable it is). */
    const double seconds = timing_now_seconds() - t0;
    results_root_metric(&results, "experiment_seconds", seconds);
    if (results_commit(&results, err, errlen) != 0)
        return -1;
    repro_log(ctx, "== %s: wrote %s (%.0f s)\n", e->name, path, seconds);
    return 0;
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

/* The rank that runs each selected experiment that is not a timing one: longest (cost_s) first, each to the
 * least loaded rank (the lowest on a tie), so every rank computes the same plan. owner[i] = -1: not this
 * phase's. */
static void plan_ranks(const Experiment *all, int count, const char *only, int ranks, int *owner)
{
    double load[1024] = {0};
    int done[64] = {0};
    ranks = ranks < 1024 ? ranks : 1024;
    for (int i = 0; i < count; i++)
        owner[i] = -1;
    for (;;) {
        int pick = -1;
        for (int i = 0; i < count; i++)
            if (!done[i] && !all[i].timing && selected(only, &all[i]) &&
                (pick < 0 || all[i].cost_s > all[pick].cost_s))
                pick = i;
        if (pick < 0)
            return;
        int r = 0;
        for (int k = 1; k < ranks; k++)
            r = load[k] < load[r] ? k : r;
        owner[pick] = r;
        load[r] += all[pick].cost_s;
        done[pick] = 1;
    }
}

/* Under MPI (docs/DESIGN.md section 10): the training experiments are spread over the ranks, each run whole on
 * one rank with that rank's threads; then rank 0 alone runs the timing experiments with the machine's threads
 * while the others wait without spinning. Each experiment writes its own results file, as one process would. */
static int run_sharded(ReproContext *ctx, const Experiment *all, int count, const char *only, int force, char *err,
                       size_t errlen)
{
    int owner[64];
    if (count > 64) {
        snprintf(err, errlen, "too many experiments to shard");
        return -1;
    }
    const int rank = comm_world_rank();
    plan_ranks(all, count, only, comm_world_size(), owner);
    repro_log(ctx, "sharded over %d ranks: the training experiments spread by cost, then the timing experiments on "
                   "rank 0 alone\n", comm_world_size());
    int rc = 0;
    comm_solo(1); /* each experiment runs whole on its rank (comm_wait_all still waits for the whole world) */
    for (int i = 0; i < count && rc == 0; i++)
        if (owner[i] == rank)
            rc = run_one(ctx, &all[i], force, err, errlen);
    if (rc == 0)
        rc = comm_wait_all(err, errlen);
    if (rc == 0 && rank == 0) {
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

/* Helpers shared by the experiments (exp_common.h). */
#include "exp_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm.h"

int exp_configure(Op *op, const char *name, const char *config, char *err, size_t errlen)
{
    char msg[256];
    if (op_configure(op, name, config, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "bad built-in config %s '%s': %s", name, config, msg);
        return -1;
    }
    return 0;
}

TimingPolicy exp_policy_for(const ReproContext *ctx, double flops)
{
    double expected_s = flops / (0.3 * ctx->calibration_gflops * 1e9);
    return expected_s > 3.0 ? timing_single_policy() : timing_default_policy();
}

double exp_calibration_ratio(const ReproContext *ctx, const TimingStats *t)
{
    return t->min_ms / ctx->calibration_min_ms;
}

static void record_timing(const ReproContext *ctx, Results *results, const char *run, const char *what,
                          const TimingStats *t, double gflops)
{
    char name[64];
    snprintf(name, sizeof name, "%s_ms_median", what);
    results_metric(results, run, name, t->median_ms);
    snprintf(name, sizeof name, "%s_ms_min", what);
    results_metric(results, run, name, t->min_ms);
    snprintf(name, sizeof name, "%s_ms_iqr", what);
    results_metric(results, run, name, t->iqr_ms);
    snprintf(name, sizeof name, "%s_reps", what);
    results_metric(results, run, name, t->reps);
    snprintf(name, sizeof name, "%s_gflops", what);
    results_metric(results, run, name, gflops);
    /* Machine-independent forms for regression tracking (DESIGN.md section 6). */
    snprintf(name, sizeof name, "%s_calibration_ratio", what);
    results_metric(results, run, name, exp_calibration_ratio(ctx, t));
    snprintf(name, sizeof name, "%s_gflops_fraction_of_calibration", what);
    results_metric(results, run, name, gflops / ctx->calibration_gflops);
}

void exp_record_point(Results *results, const char *run, const Op *op, int B, int L)
{
    char config[1024];
    op_config_string(op, config, sizeof config);
    char full[1100];
    snprintf(full, sizeof full, "op=%s,%s", op->info->name, config);
    results_run(results, run, full);
    results_metric_str(results, run, "op", op->info->name);
    results_metric(results, run, "batch", B);
    results_metric(results, run, "seq_len", L);
    OpFlops fl = op_flops(op, B, L);
    results_metric(results, run, "flops_forward", fl.forward);
    results_metric(results, run, "flops_backward", fl.backward);
}

void exp_record_bench(const ReproContext *ctx, Results *results, const char *run, const Op *op, int B, int L,
                      const BenchOpResult *r)
{
    exp_record_point(results, run, op, B, L);
    results_metric(results, run, "buffer_bytes", (double)r->buffer_bytes);
    results_metric(results, run, "peak_rss_bytes", (double)r->peak_bytes);
    record_timing(ctx, results, run, "forward", &r->forward, r->gflops_forward);
    if (r->training.reps > 0)
        record_timing(ctx, results, run, "forward_backward", &r->training, r->gflops_training);
}

void exp_log_bench(const ReproContext *ctx, const char *run, const BenchOpResult *r)
{
    repro_log(ctx, "  %-28s fwd %10.2f ms (min %.2f, %5.1f GFLOP/s)", run, r->forward.median_ms, r->forward.min_ms,
              r->gflops_forward);
    if (r->training.reps > 0)
        repro_log(ctx, "  fwd+bwd %10.2f ms (%5.1f GFLOP/s)", r->training.median_ms, r->gflops_training);
    repro_log(ctx, "  buffers %.2f GiB, peak RSS %.2f GiB\n", (double)r->buffer_bytes / (1u << 30),
              (double)r->peak_bytes / (1u << 30));
}

const char *exp_peer_python(void)
{
    const char *env = getenv("SUBQ_PEER_PYTHON");
    return env && *env ? env : EXP_PEER_PYTHON;
}

int exp_peer_python_ready(void)
{
    char cmd[1200];
    if (snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' 2>/dev/null", exp_peer_python()) >= (int)sizeof cmd ||
        strchr(exp_peer_python(), '\''))
        return 0;
    return access(exp_peer_python(), X_OK) == 0 && system(cmd) == 0;
}

int exp_seed_count(const ReproContext *ctx) { return ctx->profile == PROFILE_SMOKE ? 2 : 3; }

uint64_t exp_seed(const ReproContext *ctx, uint64_t offset, int k)
{
    return ctx->seed + offset + 1000003ull * (uint64_t)k;
}

double exp_record_over_seeds(Results *results, const char *run, const char *name, const double *values, int n)
{
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        sum += values[i];
    double mean = n > 0 ? sum / n : NAN;
    for (int i = 0; i < n; i++)
        sq += (values[i] - mean) * (values[i] - mean);
    char key[160];
    if (run) {
        results_metric(results, run, name, mean);
        snprintf(key, sizeof key, "%.140s_sd", name);
        results_metric(results, run, key, n > 1 ? sqrt(sq / (n - 1)) : 0);
        snprintf(key, sizeof key, "%.140s_by_seed", name);
        results_series(results, run, key, values, n);
    } else {
        results_root_metric(results, name, mean);
        snprintf(key, sizeof key, "%.140s_sd", name);
        results_root_metric(results, key, n > 1 ? sqrt(sq / (n - 1)) : 0);
        snprintf(key, sizeof key, "%.140s_by_seed", name);
        results_root_series(results, key, values, n);
    }
    return mean;
}

void repro_log(const ReproContext *ctx, const char *fmt, ...)
{
    if (ctx->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (comm_world_size() > 1) /* the ranks' lines interleave: say whose each is */
        printf("[rank %d] ", comm_world_rank());
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

const char *exp_list_next(const char *list, char *item, size_t len)
{
    const char *end = strchr(list, ',');
    const size_t n = end ? (size_t)(end - list) : strlen(list);
    snprintf(item, len, "%.*s", (int)n, list);
    return list + n + (end != NULL);
}

int exp_point_selected(const ReproContext *ctx, const char *point)
{
    char item[128];
    for (const char *s = ctx->points; s && *s;) {
        s = exp_list_next(s, item, sizeof item);
        if (strcmp(item, point) == 0)
            return 1;
    }
    return !ctx->points;
}

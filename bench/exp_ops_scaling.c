/* ops_scaling: forward and forward+backward time versus sequence length at D=768 (the Hyena paper's runtime
 * figure): attention naive (while it fits the memory limit) and tiled, hyena order 2 and 3, s4d and fftconv
 * alone. One run per operator variant with the series seq_len, times, FLOPs and GFLOP/s; root attributes give
 * the crossover length from which hyena (order 2) is faster than tiled attention at every longer length, the
 * speedup at the longest length and its ratio to the analytic FLOP ratio (the efficiency of the FFT path). */
#include <stdio.h>
#include <string.h>

#include "experiments.h"

#define MAX_POINTS 16
#define GIB ((size_t)1 << 30)

typedef struct ScalingSizes {
    int d_model, n_heads, min_len, max_len;
    size_t mem_limit;
} ScalingSizes;

static ScalingSizes scaling_sizes(ReproProfile profile)
{
    if (profile == PROFILE_SMOKE)
        return (ScalingSizes){.d_model = 128, .n_heads = 4, .min_len = 256, .max_len = 2048, .mem_limit = 2 * GIB};
    return (ScalingSizes){.d_model = 768, .n_heads = 12, .min_len = 256, .max_len = 65536, .mem_limit = 12 * GIB};
}

typedef struct Variant {
    const char *run, *op, *config_fmt; /* config_fmt gets d_model, then n_heads or l_max */
    int uses_heads, uses_l_max;
} Variant;

static const Variant variants[] = {
    {"attention_naive", "attention", "d_model=%d,n_heads=%d,impl=naive", 1, 0},
    {"attention_tiled", "attention", "d_model=%d,n_heads=%d,impl=tiled", 1, 0},
    {"hyena_order2", "hyena", "d_model=%d,order=2,l_max=%d", 0, 1},
    {"hyena_order3", "hyena", "d_model=%d,order=3,l_max=%d", 0, 1},
    {"s4d", "s4d", "d_model=%d", 0, 0},
    {"fftconv", "fftconv", "d_model=%d,l_max=%d", 0, 1},
};
#define N_VARIANTS ((int)(sizeof variants / sizeof variants[0]))

/* The series of one variant; a length that does not fit the memory limit ends it. */
typedef struct Series {
    int n;
    double seq_len[MAX_POINTS], fwd_ms[MAX_POINTS], fwd_min[MAX_POINTS], fwd_iqr[MAX_POINTS];
    double train_ms[MAX_POINTS], train_min[MAX_POINTS], train_iqr[MAX_POINTS];
    double flops_fwd[MAX_POINTS], flops_bwd[MAX_POINTS], gflops_fwd[MAX_POINTS], gflops_train[MAX_POINTS];
    double ratio_fwd[MAX_POINTS], ratio_train[MAX_POINTS], peak_gib[MAX_POINTS];
} Series;

static void series_add(Series *s, const ReproContext *ctx, int L, const BenchOpResult *r)
{
    int i = s->n++;
    s->seq_len[i] = L;
    s->fwd_ms[i] = r->forward.median_ms, s->fwd_min[i] = r->forward.min_ms, s->fwd_iqr[i] = r->forward.iqr_ms;
    s->train_ms[i] = r->training.median_ms, s->train_min[i] = r->training.min_ms;
    s->train_iqr[i] = r->training.iqr_ms;
    s->flops_fwd[i] = r->flops_forward, s->flops_bwd[i] = r->flops_backward;
    s->gflops_fwd[i] = r->gflops_forward, s->gflops_train[i] = r->gflops_training;
    s->ratio_fwd[i] = exp_calibration_ratio(ctx, &r->forward);
    s->ratio_train[i] = exp_calibration_ratio(ctx, &r->training);
    s->peak_gib[i] = (double)r->peak_bytes / GIB;
}

static void series_write(Results *results, const char *run, const Series *s)
{
    struct {
        const char *name;
        const double *values;
    } cols[] = {
        {"seq_len", s->seq_len},
        {"forward_ms_median", s->fwd_ms},
        {"forward_ms_min", s->fwd_min},
        {"forward_ms_iqr", s->fwd_iqr},
        {"forward_backward_ms_median", s->train_ms},
        {"forward_backward_ms_min", s->train_min},
        {"forward_backward_ms_iqr", s->train_iqr},
        {"flops_forward", s->flops_fwd},
        {"flops_backward", s->flops_bwd},
        {"gflops_forward", s->gflops_fwd},
        {"gflops_forward_backward", s->gflops_train},
        {"forward_calibration_ratio", s->ratio_fwd},
        {"forward_backward_calibration_ratio", s->ratio_train},
        {"peak_rss_gib", s->peak_gib},
    };
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        results_series(results, run, cols[c].name, cols[c].values, s->n);
}

static int variant_op(const Variant *v, const ScalingSizes *sz, int L, Op *op, char *err, size_t errlen)
{
    char config[256];
    snprintf(config, sizeof config, v->config_fmt, sz->d_model, v->uses_heads ? sz->n_heads : L);
    return exp_configure(op, v->op, config, err, errlen);
}

/* Runs one variant over the lengths; stops at the first length over the memory limit. */
static int run_variant(const ReproContext *ctx, Results *results, const Variant *v, const ScalingSizes *sz,
                       Series *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    Op op;
    for (int L = sz->min_len; L <= sz->max_len && s->n < MAX_POINTS; L *= 2) {
        if (variant_op(v, sz, L, &op, err, errlen) != 0)
            return -1;
        OpFlops f = op_flops(&op, 1, L);
        TimingPolicy policy = exp_policy_for(ctx, f.forward + f.backward);
        BenchOpResult r;
        BenchOpStatus st = benchop_run(&op, 1, L, 1, &policy, sz->mem_limit, ctx->seed, &r, err, errlen);
        if (st == BENCHOP_TOO_BIG) {
            repro_log(ctx, "  %-16s L=%6d skipped: %s\n", v->run, L, err);
            break;
        }
        if (st != BENCHOP_OK)
            return -1;
        series_add(s, ctx, L, &r);
        repro_log(ctx, "  %-16s L=%6d fwd %10.2f ms  fwd+bwd %10.2f ms  %6.1f GFLOP/s\n", v->run, L,
                  r.forward.median_ms, r.training.median_ms, r.gflops_training);
    }
    char config[256];
    snprintf(config, sizeof config, "op=%s,%s,batch=1", v->op, v->config_fmt);
    results_run(results, v->run, config);
    series_write(results, v->run, s);
    results_metric(results, v->run, "max_seq_len_measured", s->n ? s->seq_len[s->n - 1] : 0);
    return 0;
}

/* Crossover: the smallest measured length from which hyena's fwd+bwd beats attention's at every longer
 * common length (0 if it never does); then the speedup and FLOP ratio at the longest common length. */
static void compare_hyena_attention(const ReproContext *ctx, Results *results, const Series *attn,
                                    const Series *hyena)
{
    int n = attn->n < hyena->n ? attn->n : hyena->n;
    if (n == 0)
        return;
    int cross = -1;
    for (int i = n - 1; i >= 0 && hyena->train_ms[i] < attn->train_ms[i]; i--)
        cross = i;
    double crossover = cross >= 0 ? attn->seq_len[cross] : 0;
    int last = n - 1;
    double speedup = attn->train_ms[last] / hyena->train_ms[last];
    double flop_ratio = (attn->flops_fwd[last] + attn->flops_bwd[last]) /
                        (hyena->flops_fwd[last] + hyena->flops_bwd[last]);
    results_root_metric(results, "crossover_seq_len_hyena_vs_tiled_attention", crossover);
    results_root_metric(results, "longest_seq_len", attn->seq_len[last]);
    results_root_metric(results, "speedup_at_longest", speedup);
    results_root_metric(results, "flop_ratio_at_longest", flop_ratio);
    results_root_metric(results, "speedup_over_flop_ratio", speedup / flop_ratio);
    repro_log(ctx, "  hyena (order 2) faster than tiled attention from L=%.0f; at L=%.0f: %.2fx faster, FLOP ratio "
                   "%.2f, efficiency %.0f%%\n",
              crossover, attn->seq_len[last], speedup, flop_ratio, 100 * speedup / flop_ratio);
}

int exp_ops_scaling(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    ScalingSizes sz = scaling_sizes(ctx->profile);
    Series series[N_VARIANTS];
    for (int v = 0; v < N_VARIANTS; v++)
        if (run_variant(ctx, results, &variants[v], &sz, &series[v], err, errlen) != 0)
            return -1;
    compare_hyena_attention(ctx, results, &series[1], &series[2]);
    return 0;
}

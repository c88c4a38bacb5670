/* ops_scaling: forward and forward+backward time versus sequence length at D=768 (the Hyena paper's runtime
 * figure): attention naive (while it fits the memory limit) and tiled, hyena order 2 and 3, s4d and fftconv
 * alone. One run per operator variant with the series seq_len, times, FLOPs and GFLOP/s; root attributes give,
 * for hyena (order 2) against naive and against tiled attention, the crossover length from which hyena is faster
 * at every longer length (absent, with a _why, when it never is), the speedup at every common length
 * (speedup_vs_<naive|tiled>_attention_L<L>, fastest repetitions, with _median), and against tiled attention the
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

/* The indices of the series compare_hyena_attention reads. */
enum { VARIANT_ATTENTION_NAIVE, VARIANT_ATTENTION_TILED, VARIANT_HYENA_ORDER2 };

static const Variant variants[] = {
    [VARIANT_ATTENTION_NAIVE] = {"attention_naive", "attention", "d_model=%d,n_heads=%d,impl=naive", 1, 0},
    [VARIANT_ATTENTION_TILED] = {"attention_tiled", "attention", "d_model=%d,n_heads=%d,impl=tiled", 1, 0},
    [VARIANT_HYENA_ORDER2] = {"hyena_order2", "hyena", "d_model=%d,order=2,l_max=%d", 0, 1},
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
 * common length. When hyena is slower at the longest common length there is none: the attribute is absent and
 * <name>_why says up to which length it was measured (docs/DESIGN.md section 8). */
static void record_crossover(Results *results, const char *name, const Series *attn, const Series *hyena, int n)
{
    int cross = -1;
    for (int i = n - 1; i >= 0 && hyena->train_min[i] < attn->train_min[i]; i--)
        cross = i;
    char why[160];
    if (cross >= 0)
        results_root_metric(results, name, attn->seq_len[cross]);
    else {
        snprintf(why, sizeof why, "hyena is not faster at the longest length measured, L=%.0f", attn->seq_len[n - 1]);
        char key[128];
        snprintf(key, sizeof key, "%.100s_why", name);
        results_root_str(results, key, why);
    }
}

/* The speedup of hyena over attention at common point i, from the fastest repetitions (<name>) and from the
 * medians (<name>_median). */
static void record_speedup(Results *results, const char *name, const Series *attn, const Series *hyena, int i)
{
    char key[128];
    results_root_metric(results, name, attn->train_min[i] / hyena->train_min[i]);
    snprintf(key, sizeof key, "%s_median", name);
    results_root_metric(results, key, attn->train_ms[i] / hyena->train_ms[i]);
}

static int common_points(const Series *a, const Series *b) { return a->n < b->n ? a->n : b->n; }

/* Hyena (order 2) against naive and tiled attention: crossovers, the speedup at every common length, and at
 * the longest length of the tiled comparison the FLOP ratio and the efficiency of the FFT path. */
static void compare_hyena_attention(const ReproContext *ctx, Results *results, const Series *naive,
                                    const Series *tiled, const Series *hyena)
{
    const struct {
        const char *label;
        const Series *attn;
    } sides[] = {{"naive", naive}, {"tiled", tiled}};
    char key[128];
    for (int s = 0; s < 2; s++) {
        int n = common_points(sides[s].attn, hyena);
        if (n == 0)
            continue;
        snprintf(key, sizeof key, "crossover_seq_len_hyena_vs_%s_attention", sides[s].label);
        record_crossover(results, key, sides[s].attn, hyena, n);
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof key, "speedup_vs_%s_attention_L%.0f", sides[s].label, hyena->seq_len[i]);
            record_speedup(results, key, sides[s].attn, hyena, i);
        }
    }
    int n = common_points(tiled, hyena);
    if (n == 0)
        return;
    int last = n - 1;
    double speedup = tiled->train_min[last] / hyena->train_min[last];
    double flop_ratio = (tiled->flops_fwd[last] + tiled->flops_bwd[last]) /
                        (hyena->flops_fwd[last] + hyena->flops_bwd[last]);
    results_root_metric(results, "longest_seq_len", tiled->seq_len[last]);
    record_speedup(results, "speedup_at_longest", tiled, hyena, last);
    results_root_metric(results, "flop_ratio_at_longest", flop_ratio);
    results_root_metric(results, "speedup_over_flop_ratio", speedup / flop_ratio);
    repro_log(ctx, "  at L=%.0f hyena (order 2) is %.2fx faster than tiled attention (fastest repetitions), FLOP "
                   "ratio %.2f, efficiency %.0f%%\n",
              tiled->seq_len[last], speedup, flop_ratio, 100 * speedup / flop_ratio);
}

int exp_ops_scaling(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    ScalingSizes sz = scaling_sizes(ctx->profile);
    Series series[N_VARIANTS];
    for (int v = 0; v < N_VARIANTS; v++)
        if (run_variant(ctx, results, &variants[v], &sz, &series[v], err, errlen) != 0)
            return -1;
    results_root_metric(results, "d_model", sz.d_model);
    results_root_metric(results, "n_heads", sz.n_heads);
    results_root_metric(results, "batch", 1);
    compare_hyena_attention(ctx, results, &series[VARIANT_ATTENTION_NAIVE], &series[VARIANT_ATTENTION_TILED],
                            &series[VARIANT_HYENA_ORDER2]);
    return 0;
}

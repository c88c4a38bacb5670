/* generation: the cost of generating one token against the context length (docs/DESIGN.md section 11), for each
 * sequence mixer's step at D=768 (smoke: 64): attention with its key/value cache, S4D's recurrence, and Hyena
 * (order 2) by the exact cached convolution, by exact FFT tiles, and by its filters distilled into 16-degree modal
 * recurrences (an approximation; its error against the forward is its step_vs_forward_max_error); batch 1 and 16
 * (smoke: 4). The state's values
 * do not change a step's work, so a point times single steps at chosen positions of a context of T tokens
 * instead of generating all of them, and reports the mean per token over generating T tokens from an empty
 * context: for the cached methods (work linear in t) the step at (T - 1) / 2, for S4D any step, for the FFT
 * tiles each tile size weighted by how often it occurs. A point whose state would exceed the memory limit is
 * skipped.
 *
 * Each run <method>_b1 and <method>_batched (attribute batch): series context, ms_per_token_min and _median
 * (that mean, from the fastest and the median repetitions), ms_at_full_context_min (the step at t = T - 1),
 * tokens_per_s (B per mean step), state_mib (what the method keeps), flops_per_token (the mean); root
 * throughput_modal_over_<attention|cached>_T<T>_b<B> (Laughing Hyena's comparisons); attribute
 * step_vs_forward_max_error: the worst error of every step against the forward's rows over a 96-token sequence
 * at a small width (the equality the generation relies on, checked where it is run). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments.h"
#include "rng.h"

#define GEN_MAX_POINTS 8
#define GEN_MIB (1024.0 * 1024.0)

/* How a step's cost depends on its position t: linearly (a cache read whole), not at all (a recurrence), or by
 * the size of the FFT tile that follows it (the largest power of two dividing t + 1). */
typedef enum GenCost { GEN_COST_LINEAR, GEN_COST_CONSTANT, GEN_COST_TILES } GenCost;

typedef struct GenMethod {
    const char *name, *op, *config_fmt; /* config_fmt gets d_model, then n_heads (attention) or l_max */
    int uses_heads;
    GenCost cost;
} GenMethod;

static const GenMethod methods[] = {
    {"attention_kv_cache", "attention", "d_model=%d,n_heads=%d,impl=tiled", 1, GEN_COST_LINEAR},
    {"s4d_recurrence", "s4d", "d_model=%d", 0, GEN_COST_CONSTANT},
    {"hyena_cached", "hyena", "d_model=%d,order=2,l_max=%d", 0, GEN_COST_LINEAR},
    {"hyena_fft", "hyena", "d_model=%d,order=2,l_max=%d,step=fft", 0, GEN_COST_TILES},
    {"hyena_modal", "hyena", "d_model=%d,order=2,l_max=%d,step=modal,modal_order=16", 0, GEN_COST_CONSTANT},
};
enum { METHOD_ATTENTION = 0, METHOD_HYENA_CACHED = 2, METHOD_HYENA_MODAL = 4, N_METHODS = 5 };

typedef struct GenSizes {
    int d_model, n_heads, batches[2], contexts[GEN_MAX_POINTS], n_contexts;
    size_t mem_limit;
} GenSizes;

static GenSizes gen_sizes(ReproProfile p)
{
    if (p == PROFILE_SMOKE)
        return (GenSizes){64, 4, {1, 4}, {256, 1024}, 2, (size_t)1 << 30};
    return (GenSizes){768, 12, {1, 16}, {1024, 4096, 16384, 65536}, 4, (size_t)12 << 30};
}

static int method_op(const GenMethod *m, int D, int heads, int T, Op *op, char *err, size_t errlen)
{
    char config[256];
    snprintf(config, sizeof config, m->config_fmt, D, m->uses_heads ? heads : T);
    return exp_configure(op, m->op, config, err, errlen);
}

/* The worst scaled error of op_step against the forward's rows over B x L random inputs. */
static int step_vs_forward(const GenMethod *m, double *worst, char *err, size_t errlen)
{
    const int D = 32, B = 2, L = 96;
    Op op;
    if (method_op(m, D, 4, L, &op, err, errlen) != 0)
        return -1;
    const size_t n = (size_t)B * L * D, ws_n = op_workspace_floats(&op, B, L) + op_step_workspace_floats(&op, B, L);
    float *params = core_alloc_floats(op_num_params(&op)), *x = core_alloc_floats(n), *y = core_alloc_floats(n);
    float *act = core_alloc_floats(op_act_floats(&op, B, L)), *ws_buf = core_alloc_floats(ws_n);
    float *state = core_alloc_floats(op_state_floats(&op, B, L) + 1), *xt = core_alloc_floats((size_t)B * D);
    float *yt = core_alloc_floats((size_t)B * D);
    int rc = params && x && y && act && ws_buf && state && xt && yt ? 0 : -1;
    *worst = 0.0;
    if (rc == 0) {
        Rng rng;
        rng_init(&rng, 2024);
        op_init(&op, params, &rng);
        for (size_t i = 0; i < n; i++)
            x[i] = rng_normal(&rng);
        Workspace ws;
        ws_init(&ws, ws_buf, ws_n);
        op_forward(&op, params, x, y, act, B, L, &ws);
        memset(state, 0, (op_state_floats(&op, B, L) + 1) * sizeof(float));
        for (int t = 0; t < L; t++) {
            for (int b = 0; b < B; b++)
                memcpy(xt + (size_t)b * D, x + ((size_t)b * L + t) * D, sizeof(float) * D);
            ws_init(&ws, ws_buf, ws_n);
            op_step(&op, params, xt, yt, state, B, t, L, &ws);
            for (int b = 0; b < B; b++) {
                double top = 1e-3, diff = 0.0;
                for (int d = 0; d < D; d++) {
                    const double want = y[((size_t)b * L + t) * D + d];
                    top = fabs(want) > top ? fabs(want) : top;
                    diff = fabs(yt[(size_t)b * D + d] - want) > diff ? fabs(yt[(size_t)b * D + d] - want) : diff;
                }
                *worst = diff / top > *worst ? diff / top : *worst;
            }
        }
    } else {
        snprintf(err, errlen, "out of memory for the step check");
    }
    core_free(params), core_free(x), core_free(y), core_free(act), core_free(ws_buf), core_free(state);
    core_free(xt), core_free(yt);
    return rc;
}

typedef struct StepBody {
    const Op *op;
    const float *params, *x;
    float *y, *state;
    Workspace ws;
    int B, t, T;
} StepBody;

static void step_body(void *p)
{
    StepBody *s = p;
    ws_reset(&s->ws);
    op_step(s->op, s->params, s->x, s->y, s->state, s->B, s->t, s->T, &s->ws);
}

typedef struct GenSeries {
    int n;
    double context[GEN_MAX_POINTS], ms_min[GEN_MAX_POINTS], ms_median[GEN_MAX_POINTS], tokens_per_s[GEN_MAX_POINTS];
    double ms_last[GEN_MAX_POINTS];
    double state_mib[GEN_MAX_POINTS], flops[GEN_MAX_POINTS];
} GenSeries;

/* Times the step at position t (the state's values do not change its work). */
static int time_position(const ReproContext *ctx, StepBody *body, int t, TimingStats *st)
{
    body->t = t;
    TimingPolicy policy = exp_policy_for(ctx, op_step_flops(body->op, body->B, t));
    timing_measure(step_body, body, &policy, st);
    return 0;
}

/* Times one step at position T - 1 of B sequences; 1 if the point was skipped (memory), 0 if timed. */
static int time_point(const ReproContext *ctx, const GenMethod *m, const GenSizes *sz, int B, int T, GenSeries *s,
                      char *err, size_t errlen)
{
    Op op;
    if (method_op(m, sz->d_model, sz->n_heads, T, &op, err, errlen) != 0)
        return -1;
    const size_t state_n = op_state_floats(&op, B, T), ws_n = op_step_workspace_floats(&op, B, T);
    const size_t bytes = sizeof(float) * (state_n + ws_n + op_num_params(&op));
    if (bytes > sz->mem_limit) {
        repro_log(ctx, "  %-20s B=%2d T=%6d skipped: %.1f GiB of state over the %.0f GiB limit\n", m->name, B, T,
                  bytes / (GEN_MIB * 1024), sz->mem_limit / (GEN_MIB * 1024));
        return 1;
    }
    const int D = sz->d_model;
    float *params = core_alloc_floats(op_num_params(&op)), *state = core_alloc_floats(state_n + 1);
    float *ws_buf = core_alloc_floats(ws_n + 1), *x = core_alloc_floats((size_t)B * D);
    float *y = core_alloc_floats((size_t)B * D);
    int rc = params && state && ws_buf && x && y ? 0 : -1;
    if (rc == 0) {
        Rng rng;
        rng_init(&rng, ctx->seed + 17);
        op_init(&op, params, &rng);
        for (int i = 0; i < B * D; i++)
            x[i] = rng_normal(&rng);
        memset(state, 0, (state_n + 1) * sizeof(float));
        StepBody body = {&op, params, x, y, state, {0}, B, 0, T};
        ws_init(&body.ws, ws_buf, ws_n + 1);
        step_body(&body); /* t = 0 fills what the method derives from its parameters (filters, coefficients) */
        TimingStats last, mean;
        double flops_mean = 0.0;
        if (time_position(ctx, &body, T - 1, &last) != 0)
            return -1;
        if (m->cost == GEN_COST_CONSTANT) {
            mean = last, flops_mean = op_step_flops(&op, B, T - 1);
        } else if (m->cost == GEN_COST_LINEAR) {
            /* The work grows linearly with t, so the mean over positions 0 .. T - 1 is the work at (T - 1) / 2. */
            if (time_position(ctx, &body, (T - 1) / 2, &mean) != 0)
                return -1;
            flops_mean = op_step_flops(&op, B, (T - 1) / 2);
        } else {
            /* Every position does the direct term; position t then runs a tile of b = lowbit(t + 1) inputs, which
             * happens floor((T - 1 + b) / (2b)) times among t < T - 1. The mean weights one timed step per tile size
             * by that count; position T - 1 (no tile) once. (The filter's preparation at t = 0 is not counted:
             * the cached method does it too.) */
            double sum_min = last.min_ms, sum_median = last.median_ms;
            flops_mean = op_step_flops(&op, B, T - 1);
            for (int b = 1; b < T; b *= 2) {
                const double count = (double)((T - 1 + b) / (2 * b));
                TimingStats tile;
                /* t = b - 1 runs a tile of b; for b = 1 that is t = 0, which also prepares the filter: t = 2. */
                if (count < 1 || time_position(ctx, &body, b == 1 ? 2 : b - 1, &tile) != 0)
                    continue;
                sum_min += count * tile.min_ms, sum_median += count * tile.median_ms;
                flops_mean += count * op_step_flops(&op, B, b == 1 ? 2 : b - 1);
            }
            mean = last;
            mean.min_ms = sum_min / T, mean.median_ms = sum_median / T, flops_mean /= T;
        }
        const int i = s->n++;
        s->context[i] = T, s->ms_min[i] = mean.min_ms, s->ms_median[i] = mean.median_ms;
        s->ms_last[i] = last.min_ms;
        s->tokens_per_s[i] = B / (mean.min_ms / 1e3), s->state_mib[i] = sizeof(float) * state_n / GEN_MIB;
        s->flops[i] = flops_mean / B;
        repro_log(ctx, "  %-20s B=%2d T=%6d  %9.3f ms/step (mean over T)  %9.3f ms at t=T-1  %9.0f tokens/s  "
                       "state %8.1f MiB\n",
                  m->name, B, T, mean.min_ms, last.min_ms, s->tokens_per_s[i], s->state_mib[i]);
    } else {
        snprintf(err, errlen, "out of memory for %s at B=%d, T=%d", m->name, B, T);
    }
    core_free(params), core_free(state), core_free(ws_buf), core_free(x), core_free(y);
    return rc;
}

static void series_write(Results *results, const char *run, const GenSeries *s)
{
    results_series(results, run, "context", s->context, s->n);
    results_series(results, run, "ms_per_token_min", s->ms_min, s->n);
    results_series(results, run, "ms_per_token_median", s->ms_median, s->n);
    results_series(results, run, "ms_at_full_context_min", s->ms_last, s->n);
    results_series(results, run, "tokens_per_s", s->tokens_per_s, s->n);
    results_series(results, run, "state_mib", s->state_mib, s->n);
    results_series(results, run, "flops_per_token", s->flops, s->n);
}

/* Laughing Hyena's throughput comparisons: the distilled Hyena's tokens/s over attention's and over the cached
 * Hyena's, at every context and batch (root throughput_modal_over_<attention|cached>_T<T>_b<B>). */
static void record_throughput_ratios(Results *results, const GenSizes *sz, GenSeries (*series)[2])
{
    static const struct {
        int method;
        const char *name;
    } against[] = {{METHOD_ATTENTION, "attention"}, {METHOD_HYENA_CACHED, "cached"}};
    for (size_t a = 0; a < 2; a++)
        for (int bi = 0; bi < 2; bi++) {
            const GenSeries *modal = &series[METHOD_HYENA_MODAL][bi], *other = &series[against[a].method][bi];
            for (int i = 0; i < modal->n && i < other->n; i++) {
                char name[96];
                snprintf(name, sizeof name, "throughput_modal_over_%s_T%.0f_b%d", against[a].name, modal->context[i],
                         sz->batches[bi]);
                results_root_metric(results, name, modal->tokens_per_s[i] / other->tokens_per_s[i]);
            }
        }
}

int exp_generation(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    const GenSizes sz = gen_sizes(ctx->profile);
    static GenSeries series[N_METHODS][2];
    _Static_assert(sizeof methods / sizeof methods[0] == N_METHODS, "one series per method");
    results_root_metric(results, "d_model", sz.d_model);
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
        double worst;
        if (step_vs_forward(&methods[k], &worst, err, errlen) != 0)
            return -1;
        repro_log(ctx, "  %-20s step vs forward (96 tokens): worst error %.2g\n", methods[k].name, worst);
        for (int bi = 0; bi < 2; bi++) {
            const int B = sz.batches[bi];
            char run[64], config[256];
            GenSeries *sp = &series[k][bi];
            memset(sp, 0, sizeof *sp);
            snprintf(run, sizeof run, "%s_%s", methods[k].name, bi == 0 ? "b1" : "batched");
            snprintf(config, sizeof config, methods[k].config_fmt, sz.d_model,
                     methods[k].uses_heads ? sz.n_heads : sz.contexts[sz.n_contexts - 1]);
            for (int c = 0; c < sz.n_contexts; c++) {
                int rc = time_point(ctx, &methods[k], &sz, B, sz.contexts[c], sp, err, errlen);
                if (rc < 0)
                    return -1;
            }
            results_run(results, run, config);
            results_metric_str(results, run, "method", methods[k].name);
            results_metric(results, run, "batch", B);
            results_metric(results, run, "step_vs_forward_max_error", worst);
            series_write(results, run, sp);
        }
    }
    record_throughput_ratios(results, &sz, series);
    return 0;
}

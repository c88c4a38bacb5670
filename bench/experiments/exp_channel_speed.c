/* channel_speed: inference time of the conditional channel mixers against the dense ffn of the same
 * training width W (the FFF paper's speed claim), at batch 1 and a large batch, over W = 256 ... 16384.
 *
 * Fair by construction: the dense baseline is one sgemm per layer (one sgemv at batch 1, ops/gemm.c); every
 * timed call takes its tokens from a pool of distinct input rows (a new row or block of rows per repetition),
 * so neither side gets a cache-hot input or, for FFF, a cache-hot path; nothing is allocated in the timed
 * region; outputs of every variant are checked finite before timing. Variants at training width W:
 *   ffn        d_hidden = W;
 *   fff_leaf1  depth log2 W, leaf width 1;       fff_leaf16  depth log2(W/16), leaf width 16;
 *   ufb        depth log2 W - 1 (2^(d+1) - 1 = W - 1 neurons), path neurons only, reading the node-major
 *              copy of linear_out that UltraFastBERT's CPU path uses (made once, outside the timed region);
 *   moe_k1     16 experts of width W/16, top-1, noise off (inference);  moe_k2  the same with top-2;
 *   fff_leaf32 depth log2(W/32), leaf width 32; moe_e32_k1/k2  W/32 experts of width 32, top-1/top-2: the FFF
 *              paper's comparison (leaf width = expert width), summarised per batch in run leaf32_<suffix>.
 * Batches: 1 token per call (run suffix b1), 256 (bmany) and 4096 (blarge; smoke: 1, 16, 64).
 * Runs /runs/<variant>_<suffix> hold the series width, time, FLOPs, and speedup and FLOP ratio vs ffn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments.h"
#include "fff_infer.h"
#include "opbuf.h"

#define MAX_WIDTHS 8
#define POOL_ROWS 4096
#define MAX_HIDDEN_FLOATS ((size_t)1 << 30) /* 4 GiB of dense ffn activations per call */
#define N_BATCHES 3
static const char *const batch_suffix[N_BATCHES] = {"b1", "bmany", "blarge"};

typedef struct SpeedSizes {
    int d_model, widths[MAX_WIDTHS], n_widths, batches[N_BATCHES];
} SpeedSizes;

static SpeedSizes speed_sizes(ReproProfile p)
{
    if (p == PROFILE_SMOKE)
        return (SpeedSizes){.d_model = 128, .widths = {256, 1024}, .n_widths = 2, .batches = {1, 16, 64}};
    if (p == PROFILE_PAPER) /* up to the FFF paper's widest: 32 x 2^15 neurons (6 GiB of ffn weights) */
        return (SpeedSizes){.d_model = 768, .widths = {256, 1024, 4096, 16384, 65536, 262144, 1048576}, .n_widths = 7,
                            .batches = {1, 256, POOL_ROWS}};
    return (SpeedSizes){.d_model = 768, .widths = {256, 1024, 4096, 16384}, .n_widths = 4,
                        .batches = {1, 256, POOL_ROWS}};
}

typedef struct SpeedVariant {
    const char *name, *op;
    int (*config)(int d_model, int width, char *out, size_t len); /* -1: not defined at this width */
} SpeedVariant;

static int log2_exact(int w)
{
    int d = 0;
    while ((1 << d) < w)
        d++;
    return (1 << d) == w ? d : -1;
}

static int cfg_ffn(int D, int W, char *o, size_t n) { return snprintf(o, n, "d_model=%d,d_hidden=%d", D, W) > 0 ? 0 : -1; }

static int cfg_fff1(int D, int W, char *o, size_t n)
{
    int d = log2_exact(W);
    return d < 1 ? -1 : (snprintf(o, n, "d_model=%d,depth=%d,leaf_width=1,mode=infer", D, d), 0);
}

static int cfg_fff16(int D, int W, char *o, size_t n)
{
    int d = log2_exact(W / 16);
    return W < 32 || d < 1 ? -1 : (snprintf(o, n, "d_model=%d,depth=%d,leaf_width=16,mode=infer", D, d), 0);
}

static int cfg_ufb(int D, int W, char *o, size_t n)
{
    int d = log2_exact(W) - 1;
    return d < 0 ? -1 : (snprintf(o, n, "d_model=%d,depth=%d,variant=ufb,mode=infer", D, d), 0);
}

/* The FFF paper's speed comparison: leaf width 32 against experts of width 32 (W/32 of them), top-1 and top-2. */
static int cfg_fff32(int D, int W, char *o, size_t n)
{
    int d = log2_exact(W / 32);
    return W < 64 || d < 1 ? -1 : (snprintf(o, n, "d_model=%d,depth=%d,leaf_width=32,mode=infer", D, d), 0);
}

static int cfg_moe_e32(int D, int W, int k, char *o, size_t n)
{
    return W < 64 ? -1
                  : (snprintf(o, n, "d_model=%d,n_experts=%d,top_k=%d,d_hidden=32,mode=infer", D, W / 32, k), 0);
}
static int cfg_moe_e32_k1(int D, int W, char *o, size_t n) { return cfg_moe_e32(D, W, 1, o, n); }
static int cfg_moe_e32_k2(int D, int W, char *o, size_t n) { return cfg_moe_e32(D, W, 2, o, n); }

static int cfg_moe(int D, int W, char *o, size_t n)
{
    return W < 16 ? -1 : (snprintf(o, n, "d_model=%d,n_experts=16,top_k=1,d_hidden=%d,mode=infer", D, W / 16), 0);
}

static int cfg_moe2(int D, int W, char *o, size_t n)
{
    return W < 16 ? -1 : (snprintf(o, n, "d_model=%d,n_experts=16,top_k=2,d_hidden=%d,mode=infer", D, W / 16), 0);
}

static const SpeedVariant speed_variants[] = {
    {"ffn", "ffn", cfg_ffn},
    {"fff_leaf1", "fff", cfg_fff1},
    {"fff_leaf16", "fff", cfg_fff16},
    {"ufb", "fff", cfg_ufb},
    {"moe_k1", "moe", cfg_moe},
    {"moe_k2", "moe", cfg_moe2},
    {"fff_leaf32", "fff", cfg_fff32},
    {"moe_e32_k1", "moe", cfg_moe_e32_k1},
    {"moe_e32_k2", "moe", cfg_moe_e32_k2},
};
/* Indices of the like-for-like comparison's variants in speed_variants. */
enum { V_FFN = 0, V_FFF32 = 6, V_MOE32_K1 = 7, V_MOE32_K2 = 8 };
#define N_SPEED_VARIANTS ((int)(sizeof speed_variants / sizeof speed_variants[0]))

/* The timed body: forward on the next block of `batch` rows of the pool. */
typedef struct PoolCtx {
    const Op *op;
    OpBuffers *buf;
    const float *pool;
    const float *packed; /* ufb: the node-major copy of linear_out, made once outside the timed region */
    int pool_rows, next, batch, d_model;
} PoolCtx;

static void pool_forward(void *ctx)
{
    PoolCtx *c = ctx;
    const float *x = c->pool + (size_t)c->next * c->d_model;
    c->next = (c->next + c->batch) % (c->pool_rows - c->batch + 1);
    ws_reset(&c->buf->ws);
    if (c->packed)
        fff_infer_forward(&c->op->cfg.fff, c->buf->params, c->packed, x, c->buf->y, c->buf->act, c->batch,
                          &c->buf->ws);
    else
        op_forward(c->op, c->buf->params, x, c->buf->y, c->buf->act, 1, c->batch, &c->buf->ws);
}

/* UltraFastBERT's CPU path reads linear_out node-major; like loading a model, the copy is made once. */
static float *pack_if_ufb(const Op *op, const float *params)
{
    if (op->info != op_info(OP_FFF) || op->cfg.fff.variant != FFF_VARIANT_UFB)
        return NULL;
    float *packed = core_alloc_floats(fff_infer_packed_floats(&op->cfg.fff));
    if (packed)
        fff_infer_pack(&op->cfg.fff, params, packed);
    return packed;
}

/* MoE's gate starts at zero (the reference's init): every logit ties and every token would go to expert 0.
 * A trained router spreads tokens, so the gate gets N(0, 1/sqrt(D)) weights before timing. */
static void spread_moe_gates(const Op *op, float *params, Rng *rng)
{
    if (op->info != op_info(OP_MOE))
        return;
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int n = op_param_specs(op, specs);
    for (int t = 0; t < n; t++)
        if (strcmp(specs[t].name, "gate.weight") == 0)
            rng_fill_normal(rng, params + specs[t].offset, specs[t].numel, 0.0f, 1.0f / sqrtf((float)op_d_in(op)));
}

/* Times one variant at one width and batch; returns the median ms (t: all statistics), or < 0 on error. */
static double time_variant(const ReproContext *ctx, const Op *op, int batch, const float *pool, double *flops,
                           TimingStats *t, char *err, size_t errlen)
{
    OpBuffers buf;
    if (opbuf_alloc(&buf, op, 1, batch, 0, err, errlen) != 0)
        return -1;
    Rng rng;
    rng_init(&rng, ctx->seed);
    op_init(op, buf.params, &rng);
    spread_moe_gates(op, buf.params, &rng);
    PoolCtx c = {op, &buf, pool, pack_if_ufb(op, buf.params), POOL_ROWS, 0, batch, op_d_in(op)};
    pool_forward(&c);
    for (size_t i = 0; i < buf.n_y; i++)
        if (!isfinite(buf.y[i])) {
            snprintf(err, errlen, "%s produced a non-finite output", op->info->name);
            opbuf_free(&buf);
            core_free((void *)c.packed);
            return -1;
        }
    TimingPolicy policy = timing_default_policy();
    timing_measure(pool_forward, &c, &policy, t);
    *flops = op_flops(op, 1, batch).forward;
    opbuf_free(&buf);
    core_free((void *)c.packed);
    return t->median_ms;
}

typedef struct SpeedSeries {
    int n;
    double width[MAX_WIDTHS], ms[MAX_WIDTHS], ms_min[MAX_WIDTHS], flops[MAX_WIDTHS], speedup[MAX_WIDTHS];
    double flop_ratio[MAX_WIDTHS];
    double calib_ratio[MAX_WIDTHS];
} SpeedSeries;

static void write_series(Results *results, const char *run, const char *config, const SpeedSeries *s)
{
    results_run(results, run, config);
    results_series(results, run, "width", s->width, s->n);
    results_series(results, run, "forward_ms_median", s->ms, s->n);
    results_series(results, run, "forward_ms_min", s->ms_min, s->n);
    results_series(results, run, "flops_forward", s->flops, s->n);
    results_series(results, run, "speedup_over_ffn", s->speedup, s->n);
    results_series(results, run, "flop_ratio_ffn_over_this", s->flop_ratio, s->n);
    results_series(results, run, "forward_calibration_ratio", s->calib_ratio, s->n);
}

/* One variant over all widths at one batch; dense (the ffn series) must already be measured. */
static int run_speed_variant(const ReproContext *ctx, Results *results, const SpeedSizes *sz, const SpeedVariant *v,
                             int b, const float *pool, const SpeedSeries *dense, SpeedSeries *out, char *err,
                             size_t errlen)
{
    const int batch = sz->batches[b];
    memset(out, 0, sizeof *out);
    for (int i = 0; i < sz->n_widths; i++) {
        char config[256];
        Op op;
        if ((size_t)batch * (size_t)sz->widths[i] > MAX_HIDDEN_FLOATS) {
            /* The dense ffn's hidden activations would not fit (the paper profile's 32 x 2^15 at 4096 tokens:
             * 16 GiB): the widest widths are left out of this batch for every variant alike, so the series stay
             * aligned with the dense one. */
            repro_log(ctx, "  %-10s W=%5d batch %3d: skipped, %zu hidden floats over the limit\n", v->name,
                      sz->widths[i], batch, (size_t)batch * (size_t)sz->widths[i]);
            continue;
        }
        if (v->config(sz->d_model, sz->widths[i], config, sizeof config) != 0)
            continue;
        if (exp_configure(&op, v->op, config, err, errlen) != 0)
            return -1;
        TimingStats t;
        double flops, ms = time_variant(ctx, &op, batch, pool, &flops, &t, err, errlen);
        if (ms < 0)
            return -1;
        int k = out->n++;
        out->width[k] = sz->widths[i], out->ms[k] = ms, out->ms_min[k] = t.min_ms, out->flops[k] = flops;
        out->calib_ratio[k] = exp_calibration_ratio(ctx, &t);
        out->speedup[k] = dense ? dense->ms[i] / ms : 1.0;
        out->flop_ratio[k] = dense ? dense->flops[i] / flops : 1.0;
        repro_log(ctx, "  %-10s W=%5d batch %3d: %9.4f ms  speedup %7.1fx  FLOP ratio %7.1fx\n", v->name,
                  sz->widths[i], batch, ms, out->speedup[k], out->flop_ratio[k]);
    }
    char run[96]; /* the batch's suffix; its size is in the config */
    snprintf(run, sizeof run, "%s_%s", v->name, batch_suffix[b]);
    char config[128];
    snprintf(config, sizeof config, "op=%s,d_model=%d,batch=%d", v->op, sz->d_model, batch);
    write_series(results, run, config, out);
    return 0;
}

/* Root attributes for the targets at width 4096: speedup and FLOP ratio per variant and batch. Returns
 * the speedup at 4096 (-1 when the width is not in the profile). */
static double record_targets(Results *results, const char *variant, int batch, const SpeedSeries *s)
{
    double at_4096 = -1;
    for (int k = 0; k < s->n; k++)
        if (s->width[k] == 4096) {
            at_4096 = s->speedup[k];
            char key[128];
            snprintf(key, sizeof key, "speedup_%s_w4096_b%d", variant, batch);
            results_root_metric(results, key, s->speedup[k]);
            snprintf(key, sizeof key, "flop_ratio_%s_w4096_b%d", variant, batch);
            results_root_metric(results, key, s->flop_ratio[k]);
        }
    return at_4096;
}

/* The FFF paper's comparison at one batch (run leaf32_<suffix>): at the widest width where the dense ffn, FFF
 * leaf 32 and MoE with experts of width 32 were all measured, how many times faster FFF is than each, with the
 * attributes the claims' conditions read (leaf and expert width, batch, training width). */
static void record_like_for_like(Results *results, const SpeedSizes *sz, int b, const SpeedSeries *series)
{
    const SpeedSeries *ffn = &series[V_FFN], *fff = &series[V_FFF32];
    const SpeedSeries *k1 = &series[V_MOE32_K1], *k2 = &series[V_MOE32_K2];
    if (fff->n == 0 || k1->n != fff->n || k2->n != fff->n)
        return;
    int last = fff->n - 1, dense = -1;
    for (int i = 0; i < ffn->n; i++)
        dense = ffn->width[i] == fff->width[last] ? i : dense;
    if (dense < 0)
        return;
    char run[64], config[160];
    snprintf(run, sizeof run, "leaf32_%s", batch_suffix[b]);
    snprintf(config, sizeof config, "FFF leaf 32 vs ffn and MoE (experts of width 32) at width %.0f, d_model=%d, "
             "batch=%d", fff->width[last], sz->d_model, sz->batches[b]);
    results_run(results, run, config);
    results_metric(results, run, "leaf_width", 32);
    results_metric(results, run, "expert_width", 32);
    results_metric(results, run, "batch", sz->batches[b]);
    results_metric(results, run, "training_width", fff->width[last]);
    /* Ratios of the fastest repetitions (other work only adds time), with the ratios of medians beside them. */
    const struct {
        const char *name;
        const SpeedSeries *slow;
        int at;
    } ratios[] = {{"ff_over_fff", ffn, dense}, {"moe_k1_over_fff", k1, last}, {"moe_k2_over_fff", k2, last}};
    for (size_t r = 0; r < sizeof ratios / sizeof ratios[0]; r++) {
        char key[64];
        results_metric(results, run, ratios[r].name, ratios[r].slow->ms_min[ratios[r].at] / fff->ms_min[last]);
        snprintf(key, sizeof key, "%s_median", ratios[r].name);
        results_metric(results, run, key, ratios[r].slow->ms[ratios[r].at] / fff->ms[last]);
    }
    results_metric(results, run, "flop_ratio_ff_over_fff", ffn->flops[dense] / fff->flops[last]);
    results_metric(results, run, "flop_ratio_moe_k1_over_fff", k1->flops[last] / fff->flops[last]);
}

int exp_channel_speed(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    SpeedSizes sz = speed_sizes(ctx->profile);
    float *pool = core_alloc_floats((size_t)POOL_ROWS * sz.d_model);
    SpeedSeries *series = calloc(N_SPEED_VARIANTS, sizeof *series);
    if (!pool || !series) {
        core_free(pool);
        free(series);
        snprintf(err, errlen, "out of memory for the input pool");
        return -1;
    }
    results_root_metric(results, "d_model", sz.d_model);
    Rng rng;
    rng_init(&rng, ctx->seed + 17);
    rng_fill_normal(&rng, pool, (size_t)POOL_ROWS * sz.d_model, 0.0f, 1.0f);
    int rc = 0;
    for (int b = 0; b < N_BATCHES && rc == 0; b++) {
        double fff = -1, moe = -1;
        rc = run_speed_variant(ctx, results, &sz, &speed_variants[V_FFN], b, pool, NULL, &series[V_FFN], err, errlen);
        for (int v = 1; v < N_SPEED_VARIANTS && rc == 0; v++) {
            rc = run_speed_variant(ctx, results, &sz, &speed_variants[v], b, pool, &series[V_FFN], &series[v], err,
                                   errlen);
            double s = rc == 0 ? record_targets(results, speed_variants[v].name, sz.batches[b], &series[v]) : -1;
            fff = strcmp(speed_variants[v].name, "fff_leaf1") == 0 ? s : fff;
            moe = strcmp(speed_variants[v].name, "moe_k1") == 0 ? s : moe;
        }
        /* FFF leaf 1 against top-1 MoE of 16 experts at equal training width (not the paper's comparison, which
         * keeps leaf and expert widths equal: leaf32_*), as a ratio of their speedups over the one dense baseline
         * (= MoE time / FFF time). */
        if (rc == 0 && fff > 0 && moe > 0) {
            char key[128];
            snprintf(key, sizeof key, "fff_leaf1_over_moe16_w4096_b%d", sz.batches[b]);
            results_root_metric(results, key, fff / moe);
        }
        if (rc == 0)
            record_like_for_like(results, &sz, b, series);
    }
    free(series);
    core_free(pool);
    return rc;
}

#include "attention.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gemm.h"
#include "linear.h"

/* glibc's libmvec has a vector expf, but math.h announces it only under -ffast-math (see gelu.c): declaring
 * it SIMD-callable lets the softmax loops vectorise without fast-math's other licences. */
__attribute__((__simd__("notinbranch"))) float expf(float);

/* Tile sizes of the tiled kernel, in rows. Forward: a query block keeps its output rows (QB x hd) and its
 * score tile (QB x KB, 256 KiB) in L2 while the key blocks stream past; every query block streams all the keys
 * before it, so the keys and values are read L / QB times. Measured at D=768, H=12, 2 threads of an AMD EPYC
 * (Zen 4) VM, alternating runs, forward minimum: QB 256 x KB 256 against 128 x 256 is level at L=1024 (36.5 vs
 * 36.0 ms), 5% faster at L=4096 (300 vs 316 ms) and 7-15% faster at L=16384 (3151-3182 vs 3406-3720 ms);
 * 256 x 512 is level with 256 x 256, and 64 x 512 is 10-20% slower. Backward: a key block keeps its dK, dV
 * rows (KB x hd) hot while the query blocks stream past; 64..256 x 128..256 land within 5% at L=4096. The
 * OpenBLAS kernel dominates either way (76% of the forward's samples; its packing another 10%). */
#define FWD_QUERY_BLOCK 256
#define FWD_KEY_BLOCK 256
#define BWD_QUERY_BLOCK 128
#define BWD_KEY_BLOCK 128
#define NAIVE_PARALLEL_ROWS 64 /* below this many rows a parallel softmax costs more than it saves */
/* Up to this length the naive kernel runs its (b, h) heads in parallel, each head's GEMMs on one thread
 * (OpenBLAS runs single-threaded inside an OpenMP region): at short lengths a head's GEMMs are a few MFLOP,
 * and threading each call costs more than it saves (the LM's context 64 makes 48 heads of 64 x 64 per layer
 * and step). Longer sequences keep one head at a time with threaded GEMMs. */
#define NAIVE_HEAD_PARALLEL_MAX_L 512

const ConfigField attention_config_fields[] = {
    {"d_model", CONFIG_INT, offsetof(AttentionConfig, d_model), "64", NULL, "model width D"},
    {"n_heads", CONFIG_INT, offsetof(AttentionConfig, n_heads), "4", NULL, "heads H (D % H == 0)"},
    {"impl", CONFIG_ENUM, offsetof(AttentionConfig, impl), "naive", "naive|tiled",
     "naive: L x L probabilities; tiled: online softmax, O(L) memory"},
    {"causal", CONFIG_INT, offsetof(AttentionConfig, causal), "1", NULL,
     "1: query t sees keys s <= t; 0: every key (bidirectional, ViT)"},
};
const int attention_config_field_count = sizeof attention_config_fields / sizeof attention_config_fields[0];

/* ---- parameters ---- */

/* Views of the parameter (or gradient) block, in attention_param_specs order. */
typedef struct AttentionParams {
    float *in_w;  /* (3D, D) */
    float *in_b;  /* (3D) */
    float *out_w; /* (D, D) */
    float *out_b; /* (D) */
} AttentionParams;

static AttentionParams attention_views(const AttentionConfig *cfg, const float *block)
{
    size_t D = (size_t)cfg->d_model;
    float *p = (float *)block;
    return (AttentionParams){p, p + 3 * D * D, p + 3 * D * D + 3 * D, p + 4 * D * D + 3 * D};
}

int attention_validate(const AttentionConfig *cfg, char *err, size_t errlen)
{
    if (cfg->d_model < 1 || cfg->n_heads < 1 || cfg->d_model % cfg->n_heads != 0) {
        snprintf(err, errlen, "attention: need d_model >= 1, n_heads >= 1 and d_model %% n_heads == 0 (got %d, %d)",
                 cfg->d_model, cfg->n_heads);
        return -1;
    }
    if (cfg->impl != ATTENTION_NAIVE && cfg->impl != ATTENTION_TILED) {
        snprintf(err, errlen, "attention: impl must be naive or tiled");
        return -1;
    }
    if (cfg->causal != 0 && cfg->causal != 1) {
        snprintf(err, errlen, "attention: causal must be 0 or 1 (got %d)", cfg->causal);
        return -1;
    }
    return 0;
}

int attention_param_specs(const AttentionConfig *cfg, ParamSpec *out)
{
    int D = cfg->d_model;
    size_t off = core_spec(&out[0], "in_proj_weight", 0, 2, (int[]){3 * D, D});
    off = core_spec(&out[1], "in_proj_bias", off, 1, (int[]){3 * D});
    off = core_spec(&out[2], "out_proj.weight", off, 2, (int[]){D, D});
    core_spec(&out[3], "out_proj.bias", off, 1, (int[]){D});
    return 4;
}

size_t attention_num_params(const AttentionConfig *cfg)
{
    size_t D = (size_t)cfg->d_model;
    return 4 * D * D + 4 * D;
}

void attention_init(const AttentionConfig *cfg, float *params, Rng *rng)
{
    size_t D = (size_t)cfg->d_model;
    AttentionParams p = attention_views(cfg, params);
    /* xavier_uniform_ on (3D, D): fan_in D, fan_out 3D. */
    float bound = sqrtf(6.0f / (float)(D + 3 * D));
    rng_fill_uniform(rng, p.in_w, 3 * D * D, -bound, bound);
    memset(p.in_b, 0, 3 * D * sizeof(float));
    linear_init_uniform(p.out_w, D * D, cfg->d_model, rng);
    memset(p.out_b, 0, D * sizeof(float));
}

/* ---- buffer layout ----
 * act:  qkv (B, L, 3D) in-projection output | ctx (B, L, D) attention output before out_proj
 *       | naive: probs (B, H, L, L) causal softmax, zero above the diagonal
 *       | tiled: lse (B, H, L) per-row log-sum-exp of the scaled scores
 * Backward workspace: dqkv (B, L, 3D) | naive: dS (L, L), one head at a time
 *                                     | tiled: per thread Drow (L) and two (QB x KB) tiles.
 * dctx (B, L, D) lives in dx, which is free until the in-projection's input gradient overwrites it. */

typedef struct AttnDims {
    int B, L, D, H, hd;
    float scale; /* 1 / sqrt(hd) */
    int causal;
} AttnDims;

static AttnDims attention_dims(const AttentionConfig *cfg, int B, int L)
{
    int hd = cfg->d_model / cfg->n_heads;
    return (AttnDims){B, L, cfg->d_model, cfg->n_heads, hd, 1.0f / sqrtf((float)hd), cfg->causal};
}

static size_t qkv_floats(const AttnDims *d) { return (size_t)d->B * d->L * 3 * d->D; }
static size_t ctx_floats(const AttnDims *d) { return (size_t)d->B * d->L * d->D; }

size_t attention_act_floats(const AttentionConfig *cfg, int B, int L)
{
    AttnDims d = attention_dims(cfg, B, L);
    size_t heads = (size_t)B * d.H;
    size_t softmax_state = cfg->impl == ATTENTION_NAIVE ? heads * L * (size_t)L : heads * L;
    return qkv_floats(&d) + ctx_floats(&d) + softmax_state;
}

static size_t tiled_fwd_thread_floats(void) { return ws_floats_for((size_t)FWD_QUERY_BLOCK * FWD_KEY_BLOCK); }

static size_t tiled_bwd_thread_floats(int L)
{
    return ws_floats_for((size_t)L) + 2 * ws_floats_for((size_t)BWD_QUERY_BLOCK * BWD_KEY_BLOCK);
}

static int naive_heads_in_parallel(const AttnDims *d)
{
    return d->L <= NAIVE_HEAD_PARALLEL_MAX_L && d->B * d->H > 1 && omp_get_max_threads() > 1;
}

/* The naive backward's dS scratch: one (L, L) per thread when heads run in parallel, else one. */
static size_t naive_ds_scratch_floats(const AttnDims *d)
{
    return (naive_heads_in_parallel(d) ? (size_t)omp_get_max_threads() : 1) * ws_floats_for((size_t)d->L * d->L);
}

/* Depends on the OpenMP thread count: size it after setting that count (as fftconv does). */
size_t attention_workspace_floats(const AttentionConfig *cfg, int B, int L)
{
    AttnDims d = attention_dims(cfg, B, L);
    size_t threads = (size_t)omp_get_max_threads();
    size_t dqkv = ws_floats_for(qkv_floats(&d));
    if (cfg->impl == ATTENTION_NAIVE)
        return dqkv + naive_ds_scratch_floats(&d);
    size_t fwd = threads * tiled_fwd_thread_floats(), bwd = dqkv + threads * tiled_bwd_thread_floats(L);
    return fwd > bwd ? fwd : bwd;
}

/* One (b, h) head inside the (B, L, .) buffers: row t of q, k, v (or of their gradients) is at
 * base + t * 3D, row t of the output (or of its gradient) at o + t * D; each row holds hd values. The view
 * is not const so one type serves inputs and gradients; kernels write only through gradient views. */
typedef struct AttnHead {
    float *q, *k, *v; /* (L, hd), row stride 3D */
    float *o;         /* (L, hd), row stride D */
} AttnHead;

static AttnHead head_view(const AttnDims *d, const float *qkv, const float *o, int b, int h)
{
    size_t row0 = (size_t)b * d->L;
    float *base = (float *)qkv + row0 * 3 * d->D + (size_t)h * d->hd;
    return (AttnHead){base, base + d->D, base + 2 * (size_t)d->D, (float *)o + row0 * d->D + (size_t)h * d->hd};
}

/* ---- naive kernel: one head at a time, whole L x L matrices through threaded BLAS ---- */

/* Row t of p (L, L) holds scaled scores; keep s <= t (every s when not causal), softmax them, zero the rest. */
static void naive_softmax_rows(float *p, int L, int causal)
{
#pragma omp parallel for schedule(dynamic, 16) if (L >= NAIVE_PARALLEL_ROWS)
    for (int t = 0; t < L; t++) {
        float *row = p + (size_t)t * L;
        const int last = causal ? t : L - 1;
        float row_max = row[0], sum = 0.0f;
#pragma omp simd reduction(max : row_max)
        for (int s = 1; s <= last; s++)
            row_max = row[s] > row_max ? row[s] : row_max;
#pragma omp simd reduction(+ : sum)
        for (int s = 0; s <= last; s++) {
            row[s] = expf(row[s] - row_max);
            sum += row[s];
        }
        float inv = 1.0f / sum;
        for (int s = 0; s <= last; s++)
            row[s] *= inv;
        memset(row + last + 1, 0, (size_t)(L - 1 - last) * sizeof(float));
    }
}

static void naive_core_forward(const AttnDims *d, const float *qkv, float *ctx, float *probs)
{
    const int L = d->L, ld = 3 * d->D, heads = d->B * d->H;
#pragma omp parallel for schedule(dynamic, 1) if (naive_heads_in_parallel(d))
    for (int bh = 0; bh < heads; bh++) {
        AttnHead hv = head_view(d, qkv, ctx, bh / d->H, bh % d->H);
        float *p = probs + (size_t)bh * L * L; /* (L, L) */
        gemm(false, true, L, L, d->hd, d->scale, hv.q, ld, hv.k, ld, 0.0f, p, L);
        naive_softmax_rows(p, L, d->causal);
        gemm(false, false, L, d->hd, L, 1.0f, p, L, hv.v, ld, 0.0f, hv.o, d->D);
    }
}

/* ds (L, L) holds dP on entry; leaves dS = P * (dP - rowsum(P * dP)), zero above the diagonal when causal. */
static void naive_softmax_backward_rows(const float *p, float *ds, int L, int causal)
{
#pragma omp parallel for schedule(dynamic, 16) if (L >= NAIVE_PARALLEL_ROWS)
    for (int t = 0; t < L; t++) {
        const float *prow = p + (size_t)t * L;
        const int last = causal ? t : L - 1;
        float *drow = ds + (size_t)t * L, dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int s = 0; s <= last; s++)
            dot += prow[s] * drow[s];
#pragma omp simd
        for (int s = 0; s <= last; s++)
            drow[s] = prow[s] * (drow[s] - dot);
        memset(drow + last + 1, 0, (size_t)(L - 1 - last) * sizeof(float));
    }
}

/* Writes the heads' columns of dqkv from dctx (each head owns its columns, so heads run in parallel without
 * locks). scratch: one (L, L) dS per thread when heads run in parallel, else one. */
static void naive_core_backward(const AttnDims *d, const float *qkv, const float *probs, const float *dctx,
                                float *dqkv, float *scratch)
{
    const int L = d->L, ld = 3 * d->D, hd = d->hd, heads = d->B * d->H;
#pragma omp parallel for schedule(dynamic, 1) if (naive_heads_in_parallel(d))
    for (int bh = 0; bh < heads; bh++) {
        const int b = bh / d->H, h = bh % d->H;
        float *ds = scratch + (size_t)omp_get_thread_num() * ws_floats_for((size_t)L * L);
        AttnHead hv = head_view(d, qkv, dctx, b, h), g = head_view(d, dqkv, dctx, b, h);
        const float *p = probs + (size_t)bh * L * L;
        gemm(true, false, L, hd, L, 1.0f, p, L, hv.o, d->D, 0.0f, g.v, ld);         /* dV = P^T dO */
        gemm(false, true, L, L, hd, 1.0f, hv.o, d->D, hv.v, ld, 0.0f, ds, L);       /* dP = dO V^T */
        naive_softmax_backward_rows(p, ds, L, d->causal);
        gemm(false, false, L, hd, L, d->scale, ds, L, hv.k, ld, 0.0f, g.q, ld);     /* dQ = dS K / sqrt(hd) */
        gemm(true, false, L, hd, L, d->scale, ds, L, hv.q, ld, 0.0f, g.k, ld);      /* dK = dS^T Q / sqrt(hd) */
    }
}

/* ---- tiled kernel: FlashAttention-2's online softmax on CPU tiles ---- */

/* One key block's update of a query block's running softmax (rows i < nq of the (nq, nk) tile s, row
 * stride lds, already scaled). Query row i may see tile columns j < diag + i + 1 (diag = q0 - k0).
 * Turns s into the unnormalised probabilities exp(s - m_new), zero where masked, updates the running max m
 * and sum l, and rescales the output accumulator rows o (row stride ldo) by exp(m_old - m_new). */
static void online_softmax_update(float *s, int lds, int nq, int nk, int diag, float *m, float *l, float *o,
                                  int ldo, int hd)
{
    for (int i = 0; i < nq; i++) {
        float *row = s + (size_t)i * lds;
        int limit = diag + i + 1 < nk ? diag + i + 1 : nk;
        if (limit <= 0) { /* the whole block is in this row's future */
            memset(row, 0, (size_t)nk * sizeof(float));
            continue;
        }
        float row_max = m[i], sum = 0.0f;
#pragma omp simd reduction(max : row_max)
        for (int j = 0; j < limit; j++)
            row_max = row[j] > row_max ? row[j] : row_max;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < limit; j++) {
            row[j] = expf(row[j] - row_max);
            sum += row[j];
        }
        memset(row + limit, 0, (size_t)(nk - limit) * sizeof(float));
        float rescale = expf(m[i] - row_max); /* 0 on the first block, where m[i] = -inf */
        l[i] = l[i] * rescale + sum;
        m[i] = row_max;
        if (rescale != 1.0f) {
            float *orow = o + (size_t)i * ldo;
#pragma omp simd
            for (int c = 0; c < hd; c++)
                orow[c] *= rescale;
        }
    }
}

/* Output rows [q0, q0 + nq) of one head: o = softmax(q k^T / sqrt(hd)) v over keys s <= t (all keys when not
 * causal), and the rows' log-sum-exp. s: (FWD_QUERY_BLOCK, FWD_KEY_BLOCK) scratch. */
static void tiled_query_block(const AttnDims *d, const AttnHead *hv, float *lse, int q0, int nq, float *s)
{
    const int ld = 3 * d->D, hd = d->hd, key_end = d->causal ? q0 + nq : d->L;
    float m[FWD_QUERY_BLOCK], l[FWD_QUERY_BLOCK];
    float *o = hv->o + (size_t)q0 * d->D;
    for (int i = 0; i < nq; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
        memset(o + (size_t)i * d->D, 0, (size_t)hd * sizeof(float));
    }
    for (int k0 = 0; k0 < key_end; k0 += FWD_KEY_BLOCK) {
        int nk = key_end - k0 < FWD_KEY_BLOCK ? key_end - k0 : FWD_KEY_BLOCK;
        gemm(false, true, nq, nk, hd, d->scale, hv->q + (size_t)q0 * ld, ld, hv->k + (size_t)k0 * ld, ld, 0.0f, s,
             FWD_KEY_BLOCK);
        /* Not causal: a diagonal offset of a whole tile makes every column visible to every row. */
        online_softmax_update(s, FWD_KEY_BLOCK, nq, nk, d->causal ? q0 - k0 : FWD_KEY_BLOCK, m, l, o, d->D, hd);
        gemm(false, false, nq, hd, nk, 1.0f, s, FWD_KEY_BLOCK, hv->v + (size_t)k0 * ld, ld, 1.0f, o, d->D);
    }
    for (int i = 0; i < nq; i++) {
        float inv = 1.0f / l[i], *orow = o + (size_t)i * d->D;
#pragma omp simd
        for (int c = 0; c < hd; c++)
            orow[c] *= inv;
        lse[q0 + i] = m[i] + logf(l[i]);
    }
}

/* Parallel over (b, h, query block); the last (longest) query blocks are handed out first so the dynamic
 * schedule ends with short tasks. Per-thread score tiles come from the workspace. */
static void tiled_core_forward(const AttnDims *d, const float *qkv, float *ctx, float *lse, Workspace *ws)
{
    const int blocks = (d->L + FWD_QUERY_BLOCK - 1) / FWD_QUERY_BLOCK, threads = omp_get_max_threads();
    const long tasks = (long)d->B * d->H * blocks;
    float *scratch = ws_take(ws, (size_t)threads * tiled_fwd_thread_floats());
#pragma omp parallel num_threads(threads)
    {
        float *s = scratch + (size_t)omp_get_thread_num() * tiled_fwd_thread_floats();
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < tasks; task++) {
            int block = blocks - 1 - (int)(task / ((long)d->B * d->H));
            int bh = (int)(task % ((long)d->B * d->H)), b = bh / d->H, h = bh % d->H;
            AttnHead hv = head_view(d, qkv, ctx, b, h);
            int q0 = block * FWD_QUERY_BLOCK;
            int nq = d->L - q0 < FWD_QUERY_BLOCK ? d->L - q0 : FWD_QUERY_BLOCK;
            tiled_query_block(d, &hv, lse + (size_t)bh * d->L, q0, nq, s);
        }
    }
}

/* Tile scratch of one thread in the tiled backward. */
typedef struct BwdTiles {
    float *drow; /* (L) rowsum(dO * O) of the current head */
    float *p;    /* (BWD_QUERY_BLOCK, BWD_KEY_BLOCK) probabilities */
    float *dp;   /* same shape: dP, then dS */
} BwdTiles;

/* Recomputes P = exp(S - lse) for the (nq, nk) tile (S scaled, masked as in the forward: column j is
 * visible to row i when j < diag + i + 1), and turns dp into dS = P * (dP - drow). */
static void tile_softmax_backward(float *p, float *dp, int nq, int nk, int diag, const float *lse,
                                  const float *drow)
{
    for (int i = 0; i < nq; i++) {
        float *prow = p + (size_t)i * BWD_KEY_BLOCK, *dprow = dp + (size_t)i * BWD_KEY_BLOCK;
        int limit = diag + i + 1 < nk ? diag + i + 1 : nk;
        limit = limit > 0 ? limit : 0;
        float row_lse = lse[i], row_d = drow[i];
#pragma omp simd
        for (int j = 0; j < limit; j++) {
            prow[j] = expf(prow[j] - row_lse);
            dprow[j] = prow[j] * (dprow[j] - row_d);
        }
        for (int j = limit; j < nk; j++)
            prow[j] = dprow[j] = 0.0f;
    }
}

/* One (query block, key block) tile of a head's backward: accumulates dV_j, dK_j (rows k0..k0+nk of g)
 * and dQ_i (rows q0..q0+nq). hv: q, k, v and dO; g: dq, dk, dv. */
static void tiled_backward_tile(const AttnDims *d, const AttnHead *hv, const AttnHead *g, const float *lse,
                                const BwdTiles *t, int q0, int nq, int k0, int nk)
{
    const int ld = 3 * d->D, hd = d->hd;
    const float *q = hv->q + (size_t)q0 * ld, *k = hv->k + (size_t)k0 * ld, *v = hv->v + (size_t)k0 * ld;
    const float *dout = hv->o + (size_t)q0 * d->D;
    float *dq = g->q + (size_t)q0 * ld, *dk = g->k + (size_t)k0 * ld, *dv = g->v + (size_t)k0 * ld;
    const int ldt = BWD_KEY_BLOCK;
    gemm(false, true, nq, nk, hd, d->scale, q, ld, k, ld, 0.0f, t->p, ldt);   /* S = Q K^T / sqrt(hd) */
    gemm(false, true, nq, nk, hd, 1.0f, dout, d->D, v, ld, 0.0f, t->dp, ldt); /* dP = dO V^T */
    tile_softmax_backward(t->p, t->dp, nq, nk, d->causal ? q0 - k0 : BWD_KEY_BLOCK, lse + q0, t->drow + q0);
    gemm(true, false, nk, hd, nq, 1.0f, t->p, ldt, dout, d->D, 1.0f, dv, ld);  /* dV += P^T dO */
    gemm(false, false, nq, hd, nk, d->scale, t->dp, ldt, k, ld, 1.0f, dq, ld); /* dQ += dS K / sqrt(hd) */
    gemm(true, false, nk, hd, nq, d->scale, t->dp, ldt, q, ld, 1.0f, dk, ld);  /* dK += dS^T Q / sqrt(hd) */
}

/* A whole head: key blocks outer (their dK, dV rows stay in cache), query blocks from the diagonal down (all
 * query blocks when not causal). */
static void tiled_backward_head(const AttnDims *d, const float *qkv, const float *ctx, const float *dctx,
                                float *dqkv, const float *lse, const BwdTiles *t, int b, int h)
{
    const int L = d->L, hd = d->hd, ld = 3 * d->D;
    AttnHead hv = head_view(d, qkv, dctx, b, h), out = head_view(d, qkv, ctx, b, h);
    AttnHead g = head_view(d, dqkv, dctx, b, h);
    for (int r = 0; r < L; r++) {
        const float *orow = out.o + (size_t)r * d->D, *drow = hv.o + (size_t)r * d->D;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < hd; c++)
            dot += orow[c] * drow[c];
        t->drow[r] = dot; /* D_t = rowsum(dO * O) = rowsum(P * dP) */
        for (int part = 0; part < 3; part++)
            memset(g.q + (size_t)r * ld + (size_t)part * d->D, 0, (size_t)hd * sizeof(float));
    }
    for (int k0 = 0; k0 < L; k0 += BWD_KEY_BLOCK) {
        int nk = L - k0 < BWD_KEY_BLOCK ? L - k0 : BWD_KEY_BLOCK;
        for (int q0 = d->causal ? k0 / BWD_QUERY_BLOCK * BWD_QUERY_BLOCK : 0; q0 < L; q0 += BWD_QUERY_BLOCK) {
            int nq = L - q0 < BWD_QUERY_BLOCK ? L - q0 : BWD_QUERY_BLOCK;
            tiled_backward_tile(d, &hv, &g, lse, t, q0, nq, k0, nk);
        }
    }
}

/* Parallel over (b, h): each task owns its head's columns of dqkv, so the accumulations need no locks. */
static void tiled_core_backward(const AttnDims *d, const float *qkv, const float *ctx, const float *lse,
                                const float *dctx, float *dqkv, Workspace *ws)
{
    const int threads = omp_get_max_threads(), heads = d->B * d->H;
    const size_t per_thread = tiled_bwd_thread_floats(d->L);
    float *scratch = ws_take(ws, (size_t)threads * per_thread);
#pragma omp parallel num_threads(threads)
    {
        float *mine = scratch + (size_t)omp_get_thread_num() * per_thread;
        size_t tile = ws_floats_for((size_t)BWD_QUERY_BLOCK * BWD_KEY_BLOCK);
        BwdTiles t = {mine, mine + ws_floats_for((size_t)d->L), mine + ws_floats_for((size_t)d->L) + tile};
#pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < heads; bh++)
            tiled_backward_head(d, qkv, ctx, dctx, dqkv, lse + (size_t)bh * d->L, &t, bh / d->H, bh % d->H);
    }
}

/* ---- the operator ---- */

void attention_forward(const AttentionConfig *cfg, const float *params, const float *x, float *y, float *act, int B,
                       int L, Workspace *ws)
{
    AttnDims d = attention_dims(cfg, B, L);
    AttentionParams p = attention_views(cfg, params);
    const int rows = B * L, D = d.D;
    float *qkv = act, *ctx = act + qkv_floats(&d);
    float *softmax_state = ctx + ctx_floats(&d); /* naive: probs (B, H, L, L); tiled: lse (B, H, L) */
    gemm_linear_forward(x, p.in_w, p.in_b, qkv, rows, D, 3 * D);
    if (cfg->impl == ATTENTION_NAIVE)
        naive_core_forward(&d, qkv, ctx, softmax_state);
    else
        tiled_core_forward(&d, qkv, ctx, softmax_state, ws);
    gemm_linear_forward(ctx, p.out_w, p.out_b, y, rows, D, D);
}

void attention_backward(const AttentionConfig *cfg, const float *params, const float *x, const float *act,
                        const float *dy, float *dx, float *dparams, int B, int L, Workspace *ws)
{
    AttnDims d = attention_dims(cfg, B, L);
    AttentionParams p = attention_views(cfg, params), g = attention_views(cfg, dparams);
    const int rows = B * L, D = d.D;
    const float *qkv = act, *ctx = act + qkv_floats(&d), *softmax_state = ctx + ctx_floats(&d);
    float *dctx = dx; /* (B, L, D); dx is not needed until the last GEMM, which reads only dqkv */
    float *dqkv = ws_take(ws, qkv_floats(&d));
    gemm_linear_backward_params(dy, ctx, g.out_w, g.out_b, rows, D, D);
    gemm_linear_backward_input(dy, p.out_w, dctx, rows, D, D, 0.0f);
    if (cfg->impl == ATTENTION_NAIVE)
        naive_core_backward(&d, qkv, softmax_state, dctx, dqkv, ws_take(ws, naive_ds_scratch_floats(&d)));
    else
        tiled_core_backward(&d, qkv, ctx, softmax_state, dctx, dqkv, ws);
    gemm_linear_backward_params(dqkv, x, g.in_w, g.in_b, rows, D, 3 * D);
    gemm_linear_backward_input(dqkv, p.in_w, dx, rows, D, 3 * D, 0.0f);
}

/* Useful work, per (b, h) and per visible (query t, key s) pair (s <= t when causal, every s otherwise),
 * hd = D / H:
 *   forward:  q.k 2hd, * 1/sqrt(hd) 1, softmax 4 (subtract the row max, exp, add to the row sum, divide
 *             by it), p * v 2hd  ->  4hd + 5
 *   backward: dP = dO.v 2hd, dV += p dO 2hd, rowsum(P * dP) 2, dS = P (dP - rowsum) 2,
 *             * 1/sqrt(hd) 1, dQ += dS k 2hd, dK += dS q 2hd  ->  8hd + 5
 * plus the in- and out-projections (bias included). The row maxima are comparisons (0). Neither the naive
 * kernel's masked upper triangle nor the tiled kernel's rescaling and recomputation counts. */
OpFlops attention_flops(const AttentionConfig *cfg, int B, int L)
{
    const int D = cfg->d_model;
    const double rows = (double)B * L, hd = (double)D / cfg->n_heads;
    const double pairs = (double)B * cfg->n_heads * (cfg->causal ? (double)L * (L + 1) / 2.0 : (double)L * L);
    double fwd = gemm_linear_flops_forward(rows, D, 3 * D, 1) + pairs * (4.0 * hd + 5.0) +
                 gemm_linear_flops_forward(rows, D, D, 1);
    double bwd = gemm_linear_flops_backward(rows, D, D, 1) + pairs * (8.0 * hd + 5.0) +
                 gemm_linear_flops_backward(rows, D, 3 * D, 1);
    return (OpFlops){fwd, bwd};
}

/* ---- generation ---- */

size_t attention_state_floats(const AttentionConfig *cfg, int B, int T) { return 2 * (size_t)B * T * cfg->d_model; }

size_t attention_step_workspace_floats(const AttentionConfig *cfg, int B, int T)
{
    const size_t D = (size_t)cfg->d_model;
    return ws_floats_for(3 * B * D) + ws_floats_for(B * D) + ws_floats_for((size_t)B * cfg->n_heads * T);
}

/* One query row against keys and values 0..t of one head: o = softmax(q k^T scale) v, scores in p (t + 1). */
static void step_head(const float *q, const float *keys, const float *values, size_t stride, int hd, int t,
                      float scale, float *p, float *o)
{
    float top = -INFINITY;
    for (int s = 0; s <= t; s++) {
        const float *k = keys + (size_t)s * stride;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int i = 0; i < hd; i++)
            dot += q[i] * k[i];
        p[s] = dot * scale;
        top = p[s] > top ? p[s] : top;
    }
    float sum = 0.0f;
    for (int s = 0; s <= t; s++) {
        p[s] = expf(p[s] - top);
        sum += p[s];
    }
    for (int i = 0; i < hd; i++)
        o[i] = 0.0f;
    for (int s = 0; s <= t; s++) {
        const float *v = values + (size_t)s * stride, w = p[s];
#pragma omp simd
        for (int i = 0; i < hd; i++)
            o[i] += w * v[i];
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < hd; i++)
        o[i] *= inv;
}

void attention_step(const AttentionConfig *cfg, const float *params, const float *x, float *y, float *state, int B,
                    int t, int T, Workspace *ws)
{
    const AttnDims d = attention_dims(cfg, B, T);
    const AttentionParams p = attention_views(cfg, params);
    const size_t D = (size_t)d.D;
    float *qkv = ws_take(ws, 3 * B * D), *ctx = ws_take(ws, B * D), *scores = ws_take(ws, (size_t)B * d.H * T);
    float *keys = state, *values = state + (size_t)B * T * D;
    gemm_linear_forward(x, p.in_w, p.in_b, qkv, B, d.D, 3 * d.D);
    for (int b = 0; b < B; b++) {
        memcpy(keys + ((size_t)b * T + t) * D, qkv + (size_t)b * 3 * D + D, D * sizeof(float));
        memcpy(values + ((size_t)b * T + t) * D, qkv + (size_t)b * 3 * D + 2 * D, D * sizeof(float));
    }
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * (t + 1) * D > 65536)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < d.H; h++) {
            const size_t head = (size_t)h * d.hd, seq = (size_t)b * T * D;
            step_head(qkv + (size_t)b * 3 * D + head, keys + seq + head, values + seq + head, D, d.hd, t, d.scale,
                      scores + ((size_t)b * d.H + h) * T, ctx + (size_t)b * D + head);
        }
    gemm_linear_forward(ctx, p.out_w, p.out_b, y, B, d.D, d.D);
}

double attention_step_flops(const AttentionConfig *cfg, int B, int t)
{
    const int D = cfg->d_model, hd = D / cfg->n_heads;
    return gemm_linear_flops_forward(B, D, 3 * D, 1) + gemm_linear_flops_forward(B, D, D, 1) +
           (double)B * cfg->n_heads * (t + 1) * (4.0 * hd + 5.0);
}

#include "ref_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_ops.h"

/* Shapes of one call; q, k, v of head h at token t are qkv[(b*L + t)*3D + {0, D, 2D} + h*hd + c]. */
typedef struct RefDims {
    int B, L, D, H, hd;
    double scale;
    int causal; /* 1: query t sees keys s <= t; 0: all L keys */
} RefDims;

/* The last key query t sees. */
static int last_key(const RefDims *d, int t) { return d->causal ? t : d->L - 1; }

static size_t qkv_at(const RefDims *d, int b, int t, int part, int h)
{
    return ((size_t)b * d->L + t) * 3 * d->D + (size_t)part * d->D + (size_t)h * d->hd;
}

static size_t ctx_at(const RefDims *d, int b, int t, int h)
{
    return ((size_t)b * d->L + t) * d->D + (size_t)h * d->hd;
}

static double dot(const double *a, const double *b, int n, double *flops)
{
    double acc = 0.0;
    for (int c = 0; c < n; c++, *flops += 2)
        acc += a[c] * b[c];
    return acc;
}

/* acc[c] += w * a[c] */
static void axpy(double *acc, double w, const double *a, int n, double *flops)
{
    for (int c = 0; c < n; c++, *flops += 2)
        acc[c] += w * a[c];
}

/* Query t of head (b, h): p[s] for s <= last_key (row of probs) and ctx_t = sum_s p[s] v_s. */
static void ref_query_forward(const RefDims *d, const double *qkv, double *ctx, double *p, int b, int h, int t,
                              double *flops)
{
    const double *q = qkv + qkv_at(d, b, t, 0, h);
    const int last = last_key(d, t);
    double max = -INFINITY, sum = 0.0;
    for (int s = 0; s <= last; s++) {
        p[s] = dot(q, qkv + qkv_at(d, b, s, 1, h), d->hd, flops) * d->scale;
        *flops += 1;
        max = p[s] > max ? p[s] : max;
    }
    for (int s = 0; s <= last; s++, *flops += 3) {
        p[s] = exp(p[s] - max);
        sum += p[s];
    }
    double *out = ctx + ctx_at(d, b, t, h);
    for (int s = 0; s <= last; s++) {
        p[s] /= sum;
        *flops += 1;
        axpy(out, p[s], qkv + qkv_at(d, b, s, 2, h), d->hd, flops);
    }
}

/* Query t of head (b, h) backward: from dctx_t and the row p, adds into dq_t, dk_s, dv_s (s <= last_key). */
static void ref_query_backward(const RefDims *d, const double *qkv, const double *dctx, const double *p,
                               double *dqkv, double *dp, int b, int h, int t, double *flops)
{
    const double *dout = dctx + ctx_at(d, b, t, h);
    const int last = last_key(d, t);
    double row_dot = 0.0;
    for (int s = 0; s <= last; s++) {
        dp[s] = dot(dout, qkv + qkv_at(d, b, s, 2, h), d->hd, flops);
        axpy(dqkv + qkv_at(d, b, s, 2, h), p[s], dout, d->hd, flops);
    }
    for (int s = 0; s <= last; s++, *flops += 2)
        row_dot += p[s] * dp[s];
    for (int s = 0; s <= last; s++) {
        double ds = p[s] * (dp[s] - row_dot) * d->scale; /* sub, mul, mul */
        *flops += 3;
        axpy(dqkv + qkv_at(d, b, t, 0, h), ds, qkv + qkv_at(d, b, s, 1, h), d->hd, flops);
        axpy(dqkv + qkv_at(d, b, s, 1, h), ds, qkv + qkv_at(d, b, t, 0, h), d->hd, flops);
    }
}

/* Buffers of one reference call (doubles unless noted). */
typedef struct RefBufs {
    double *qkv, *ctx, *probs, *dctx, *dqkv, *dy, *dp;
    float *ctx_f; /* ctx rounded to float: the out-projection reference takes float inputs */
} RefBufs;

static int ref_alloc(const RefDims *d, RefBufs *r)
{
    size_t rows = (size_t)d->B * d->L, heads = (size_t)d->B * d->H;
    r->qkv = calloc(rows * 3 * d->D, sizeof(double));
    r->dqkv = calloc(rows * 3 * d->D, sizeof(double));
    r->ctx = calloc(rows * d->D, sizeof(double));
    r->dctx = calloc(rows * d->D, sizeof(double));
    r->dy = calloc(rows * d->D, sizeof(double));
    r->probs = calloc(heads * d->L * d->L, sizeof(double));
    r->dp = calloc((size_t)d->L, sizeof(double));
    r->ctx_f = calloc(rows * d->D, sizeof(float));
    return r->qkv && r->dqkv && r->ctx && r->dctx && r->dy && r->probs && r->dp && r->ctx_f ? 0 : -1;
}

static void ref_free(RefBufs *r)
{
    free(r->qkv), free(r->dqkv), free(r->ctx), free(r->dctx), free(r->dy), free(r->probs), free(r->dp);
    free(r->ctx_f);
}

static double *probs_row(const RefDims *d, const RefBufs *r, int b, int h, int t)
{
    return r->probs + (((size_t)b * d->H + h) * d->L + t) * d->L;
}

int ref_attention(const AttentionConfig *cfg, const float *params, const float *x, const float *dy, int B, int L,
                  double *y, double *dx, double *dparams, double *flops_forward, double *flops_backward)
{
    const int D = cfg->d_model, H = cfg->n_heads, rows = B * L;
    RefDims d = {B, L, D, H, D / H, 1.0 / sqrt((double)(D / H)), cfg->causal};
    ParamSpec s[4];
    attention_param_specs(cfg, s); /* in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias */
    RefBufs r;
    if (ref_alloc(&d, &r) != 0) {
        ref_free(&r);
        return -1;
    }
    ref_linear_forward(x, params + s[0].offset, params + s[1].offset, r.qkv, rows, D, 3 * D, flops_forward);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < L; t++)
                ref_query_forward(&d, r.qkv, r.ctx, probs_row(&d, &r, b, h, t), b, h, t, flops_forward);
    for (size_t i = 0; i < (size_t)rows * D; i++) {
        r.ctx_f[i] = (float)r.ctx[i];
        r.dy[i] = dy[i];
    }
    ref_linear_forward(r.ctx_f, params + s[2].offset, params + s[3].offset, y, rows, D, D, flops_forward);

    memset(dparams, 0, core_spec_total(s, 4) * sizeof(double));
    ref_linear_backward(r.ctx_f, params + s[2].offset, r.dy, r.dctx, dparams + s[2].offset, dparams + s[3].offset,
                        rows, D, D, flops_backward);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < L; t++)
                ref_query_backward(&d, r.qkv, r.dctx, probs_row(&d, &r, b, h, t), r.dqkv, r.dp, b, h, t,
                                   flops_backward);
    ref_linear_backward(x, params + s[0].offset, r.dqkv, dx, dparams + s[0].offset, dparams + s[1].offset, rows, D,
                        3 * D, flops_backward);
    ref_free(&r);
    return 0;
}

#include "ref_ops.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

void ref_linear_forward(const float *x, const float *w, const float *b, double *y, int rows, int d_in, int d_out,
                        double *flops)
{
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < d_out; o++) {
            double acc = 0.0;
            for (int i = 0; i < d_in; i++, *flops += 2)
                acc += (double)x[r * d_in + i] * w[o * d_in + i];
            if (b) {
                acc += b[o];
                *flops += 1;
            }
            y[r * d_out + o] = acc;
        }
}

void ref_linear_backward(const float *x, const float *w, const double *dy, double *dx, double *dw, double *db,
                         int rows, int d_in, int d_out, double *flops)
{
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < d_in; i++) {
            double acc = 0.0;
            for (int o = 0; o < d_out; o++, *flops += 2)
                acc += dy[r * d_out + o] * w[o * d_in + i];
            dx[r * d_in + i] = acc;
        }
    for (int o = 0; o < d_out; o++) {
        for (int i = 0; i < d_in; i++)
            for (int r = 0; r < rows; r++, *flops += 2)
                dw[o * d_in + i] += dy[r * d_out + o] * x[r * d_in + i];
        if (db)
            for (int r = 0; r < rows; r++, *flops += 1)
                db[o] += dy[r * d_out + o];
    }
}

void ref_gelu_forward(const double *x, double *y, long n, double *flops)
{
    for (long i = 0; i < n; i++) {
        double u = x[i] / sqrt(2.0); /* 1 (sqrt(2) is a constant) */
        double e = erf(u);           /* 1 */
        double s = 1.0 + e;          /* 1 */
        double h = 0.5 * x[i];       /* 1 */
        y[i] = h * s;                /* 1 */
        *flops += 5;
    }
}

void ref_gelu_backward(const double *x, const double *dy, double *dx, long n, double *flops)
{
    for (long i = 0; i < n; i++) {
        double cdf = 0.5 * (1.0 + erf(x[i] / sqrt(2.0)));        /* div, erf, add, mul: 4 */
        double pdf = exp(-0.5 * x[i] * x[i]) / sqrt(2.0 * M_PI); /* mul, mul, exp, div: 4 */
        dx[i] = dy[i] * (cdf + x[i] * pdf);                       /* mul, add, mul: 3 */
        *flops += 11;
    }
}

static void row_stats(const float *xr, int D, double eps, double *mean, double *rstd, double *flops)
{
    double sum = 0.0;
    for (int i = 0; i < D; i++, *flops += 1)
        sum += xr[i];
    *mean = sum / D;
    *flops += 1;
    double sq = 0.0;
    for (int i = 0; i < D; i++, *flops += 3)
        sq += (xr[i] - *mean) * (xr[i] - *mean); /* sub (the square reuses it), multiply-add */
    *rstd = 1.0 / sqrt(sq / D + eps);           /* div, add, sqrt, div */
    *flops += 4;
}

void ref_layernorm_forward(const float *x, const float *w, const float *b, double *y, int rows, int D, double eps,
                           double *flops)
{
    for (int r = 0; r < rows; r++) {
        double mean, rstd;
        row_stats(x + (size_t)r * D, D, eps, &mean, &rstd, flops);
        for (int i = 0; i < D; i++, *flops += 4)
            y[(size_t)r * D + i] = (x[(size_t)r * D + i] - mean) * rstd * w[i] + b[i];
    }
}

void ref_layernorm_backward(const float *x, const float *w, const double *dy, double *dx, double *dw, double *db,
                            int rows, int D, double eps, double *flops)
{
    double xhat[4096], g[4096]; /* tests use D <= 4096 */
    for (int r = 0; r < rows; r++) {
        double mean, rstd, fwd_flops = 0.0; /* statistics are forward work, recomputed here uncounted */
        row_stats(x + (size_t)r * D, D, eps, &mean, &rstd, &fwd_flops);
        double sum_g = 0.0, sum_gx = 0.0;
        for (int i = 0; i < D; i++) {
            size_t k = (size_t)r * D + i;
            xhat[i] = (x[k] - mean) * rstd; /* 2 */
            g[i] = dy[k] * w[i];            /* 1 */
            sum_g += g[i];                  /* 1 */
            sum_gx += g[i] * xhat[i];       /* 2 */
            dw[i] += dy[k] * xhat[i];       /* 2 */
            db[i] += dy[k];                 /* 1 */
            *flops += 9;
        }
        double m1 = sum_g / D, m2 = sum_gx / D;
        *flops += 2;
        for (int i = 0; i < D; i++, *flops += 4)
            dx[(size_t)r * D + i] = (g[i] - m1 - xhat[i] * m2) * rstd;
    }
}

double ref_softmax_ce(const float *logits, const int *targets, int rows, int vocab, double *dlogits, double *flops_fwd,
                      double *flops_bwd)
{
    int counted = 0;
    for (int r = 0; r < rows; r++)
        counted += targets[r] >= 0;
    double total = 0.0;
    for (int r = 0; r < rows; r++) {
        const float *row = logits + (size_t)r * vocab;
        double *drow = dlogits + (size_t)r * vocab;
        if (targets[r] < 0) {
            for (int v = 0; v < vocab; v++)
                drow[v] = 0.0;
            continue;
        }
        double max = row[0], sum = 0.0;
        for (int v = 1; v < vocab; v++)
            max = row[v] > max ? row[v] : max;
        for (int v = 0; v < vocab; v++, *flops_fwd += 3)
            sum += exp(row[v] - max);
        double lse = log(sum) + max; /* log, add */
        total += lse - row[targets[r]]; /* sub, add */
        *flops_fwd += 4;
        for (int v = 0; v < vocab; v++, *flops_bwd += 3)
            drow[v] = exp(row[v] - lse) / counted;
        drow[targets[r]] -= 1.0 / counted;
        *flops_bwd += 1;
    }
    return total / counted;
}

void ref_outputs_free(RefOutputs *r)
{
    free(r->y), free(r->dx), free(r->dparams);
    *r = (RefOutputs){0};
}

static int ref_outputs_alloc(RefOutputs *r, size_t ny, size_t nx, size_t np)
{
    *r = (RefOutputs){.y = calloc(ny, sizeof(double)), .dx = calloc(nx, sizeof(double)),
                     .dparams = calloc(np ? np : 1, sizeof(double))};
    if (r->y && r->dx && r->dparams)
        return 0;
    ref_outputs_free(r);
    return -1;
}

int ref_ffn(const float *params, const float *x, const float *dy, int rows, int D, int H, RefOutputs *out)
{
    const size_t n_hid = (size_t)rows * H, n_tok = (size_t)rows * D;
    const float *w1 = params, *b1 = w1 + (size_t)H * D, *w2 = b1 + H, *b2 = w2 + (size_t)D * H;
    double *pre = calloc(n_hid, sizeof *pre), *hid = calloc(n_hid, sizeof *hid), *dhid = calloc(n_hid, sizeof *dhid);
    double *dyd = calloc(n_tok, sizeof *dyd);
    float *hid_f = calloc(n_hid, sizeof *hid_f);
    int rc = pre && hid && dhid && dyd && hid_f ? ref_outputs_alloc(out, n_tok, n_tok, 2 * (size_t)H * D + H + D) : -1;
    if (rc == 0) {
        double *dw1 = out->dparams, *db1 = dw1 + (size_t)H * D, *dw2 = db1 + H, *db2 = dw2 + (size_t)D * H;
        ref_linear_forward(x, w1, b1, pre, rows, D, H, &out->flops_forward);
        ref_gelu_forward(pre, hid, (long)n_hid, &out->flops_forward);
        for (size_t i = 0; i < n_hid; i++)
            hid_f[i] = (float)hid[i];
        ref_linear_forward(hid_f, w2, b2, out->y, rows, H, D, &out->flops_forward);
        for (size_t i = 0; i < n_tok; i++)
            dyd[i] = dy[i];
        ref_linear_backward(hid_f, w2, dyd, dhid, dw2, db2, rows, H, D, &out->flops_backward);
        ref_gelu_backward(pre, dhid, dhid, (long)n_hid, &out->flops_backward);
        ref_linear_backward(x, w1, dhid, out->dx, dw1, db1, rows, D, H, &out->flops_backward);
    }
    free(pre), free(hid), free(dhid), free(dyd), free(hid_f);
    return rc;
}

int ref_conv2d(const Conv2dConfig *cfg, const float *params, const float *x, const float *dy, int B, RefOutputs *out)
{
    const int H = cfg->height, W = cfg->width, k = cfg->kernel, r = (k - 1) / 2, Ci = cfg->d_in, Co = cfg->d_out;
    const int cin_g = Ci / cfg->groups, cout_g = Co / cfg->groups;
    const size_t nw = (size_t)Co * cin_g * k * k;
    const float *bias = cfg->bias ? params + nw : NULL;
    if (ref_outputs_alloc(out, (size_t)B * H * W * Co, (size_t)B * H * W * Ci, nw + (cfg->bias ? Co : 0)) != 0)
        return -1;
    double *dw = out->dparams, *db = out->dparams + nw;
    for (int b = 0; b < B; b++)
        for (int p = 0; p < H; p++)
            for (int q = 0; q < W; q++)
                for (int o = 0; o < Co; o++) {
                    const size_t at = (((size_t)b * H + p) * W + q) * Co + o;
                    double acc = bias ? bias[o] : 0.0;
                    if (bias) {
                        db[o] += dy[at];
                        out->flops_forward += 1;
                        out->flops_backward += 1;
                    }
                    for (int j = 0; j < cin_g; j++)
                        for (int a = 0; a < k; a++)
                            for (int c = 0; c < k; c++) {
                                out->flops_forward += 2;
                                out->flops_backward += 4;
                                const int pi = p + a - r, qi = q + c - r, ci = (o / cout_g) * cin_g + j;
                                if (pi < 0 || pi >= H || qi < 0 || qi >= W)
                                    continue;
                                const size_t xi = (((size_t)b * H + pi) * W + qi) * Ci + ci;
                                const size_t wi = (((size_t)o * cin_g + j) * k + a) * k + c;
                                acc += (double)params[wi] * x[xi];
                                out->dx[xi] += (double)params[wi] * dy[at];
                                dw[wi] += (double)dy[at] * x[xi];
                            }
                    out->y[at] = acc;
                }
    return 0;
}

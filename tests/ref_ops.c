#include "ref_ops.h"

#include <math.h>
#include <stddef.h>

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

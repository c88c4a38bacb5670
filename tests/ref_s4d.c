#include "ref_s4d.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One mode's constants in double. */
typedef struct RefMode {
    double dt;
    double complex A, C, e, w; /* e = exp(dt A), w = C (e - 1) / A */
} RefMode;

static RefMode ref_mode(const S4dConfig *cfg, const float *params, int h, int n)
{
    ParamSpec s[S4D_PARAM_TENSORS];
    s4d_param_specs(cfg, s);
    const size_t i = (size_t)h * (cfg->d_state / 2) + n;
    RefMode m;
    m.dt = exp((double)params[s[2].offset + h]);
    m.A = -exp((double)params[s[3].offset + i]) + I * (double)params[s[4].offset + i];
    m.C = (double)params[s[1].offset + 2 * i] + I * (double)params[s[1].offset + 2 * i + 1];
    m.e = cexp(m.dt * m.A);
    m.w = m.C * (m.e - 1.0) / m.A;
    return m;
}

double ref_s4d_kernel_at(const S4dConfig *cfg, const float *params, int h, long l, double *scale)
{
    double value = 0.0, size = 0.0;
    for (int n = 0; n < cfg->d_state / 2; n++) {
        RefMode m = ref_mode(cfg, params, h, n);
        double complex term = m.w * cexp(m.dt * m.A * (double)l);
        value += 2.0 * creal(term);
        size += 2.0 * cabs(term);
    }
    if (scale)
        *scale = size;
    return value;
}

void ref_s4d_kernel(const S4dConfig *cfg, const float *params, double *K, int L)
{
    for (int h = 0; h < cfg->d_model; h++)
        for (int l = 0; l < L; l++)
            K[(size_t)h * L + l] = ref_s4d_kernel_at(cfg, params, h, l, NULL);
}

/* Differentiates
 * K_l = 2 Re(w E_l), E_l = exp(dt A l), w = C (e - 1) / A, e = exp(dt A), term by term:
 *   dK_l/dRe C = 2 Re((e-1)/A E_l),  dK_l/dIm C = -2 Im((e-1)/A E_l),
 *   dK_l/dlog_dt = 2 dt Re(C e E_l + w A l E_l),
 *   Z_l = d(w E_l)/dA = C (dt e A - (e - 1)) / A^2 E_l + w dt l E_l:
 *   dK_l/dlog_A_real = Re A 2 Re Z_l,  dK_l/dA_imag = -2 Im Z_l. */
void ref_s4d_kernel_backward(const S4dConfig *cfg, const float *params, const double *dK, double *dparams, int L)
{
    ParamSpec s[S4D_PARAM_TENSORS];
    s4d_param_specs(cfg, s);
    const int M = cfg->d_state / 2;
    for (int h = 0; h < cfg->d_model; h++)
        for (int n = 0; n < M; n++) {
            RefMode m = ref_mode(cfg, params, h, n);
            const size_t i = (size_t)h * M + n;
            const double complex dw_dA = m.C * (m.dt * m.e * m.A - (m.e - 1.0)) / (m.A * m.A);
            for (int l = 0; l < L; l++) {
                const double g = dK[(size_t)h * L + l];
                const double complex E = cexp(m.dt * m.A * (double)l), q = (m.e - 1.0) / m.A * E;
                const double complex Z = dw_dA * E + m.w * m.dt * l * E;
                dparams[s[1].offset + 2 * i] += g * 2.0 * creal(q);
                dparams[s[1].offset + 2 * i + 1] += g * -2.0 * cimag(q);
                dparams[s[2].offset + h] += g * 2.0 * m.dt * creal(m.C * m.e * E + m.w * m.A * (double)l * E);
                dparams[s[3].offset + i] += g * creal(m.A) * 2.0 * creal(Z);
                dparams[s[4].offset + i] += g * -2.0 * cimag(Z);
            }
        }
}

/* y1[b, t, h] = sum_{s <= t} K[h, s] x[b, t - s, h] + D[h] x[b, t, h]. */
static void ref_conv_forward(const double *K, const float *D, const float *x, double *y1, int B, int L, int H)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++)
            for (int h = 0; h < H; h++) {
                double acc = (double)D[h] * x[((size_t)b * L + t) * H + h];
                for (int j = 0; j <= t; j++)
                    acc += K[(size_t)h * L + j] * x[((size_t)b * L + t - j) * H + h];
                y1[((size_t)b * L + t) * H + h] = acc;
            }
}

/* dx, dD and dK of the convolution from dy1, all written out as sums over (b, t). */
static void ref_conv_backward(const double *K, const float *D, const float *x, const double *dy1, double *dx,
                              double *dD, double *dK, int B, int L, int H)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++)
            for (int h = 0; h < H; h++) {
                const size_t at = ((size_t)b * L + t) * H + h;
                double acc = (double)D[h] * dy1[at];
                for (int j = 0; t + j < L; j++)
                    acc += K[(size_t)h * L + j] * dy1[at + (size_t)j * H];
                dx[at] = acc;
                dD[h] += dy1[at] * x[at];
                for (int j = 0; j <= t; j++)
                    dK[(size_t)h * L + j] += dy1[at] * x[at - (size_t)j * H];
            }
}

/* z = g W^T + bias (2 per multiply-add, 1 per bias add), then y = z_a sigmoid(z_b) (4 per output). */
static void ref_head_forward(const double *g, const float *W, const float *bias, double *z, double *y, size_t rows,
                             int H, double *flops)
{
    for (size_t r = 0; r < rows; r++) {
        for (int c = 0; c < 2 * H; c++) {
            double acc = bias[c];
            for (int k = 0; k < H; k++)
                acc += (double)W[(size_t)c * H + k] * g[r * H + k];
            z[r * 2 * H + c] = acc;
        }
        for (int h = 0; h < H; h++)
            y[r * H + h] = z[r * 2 * H + h] / (1.0 + exp(-z[r * 2 * H + H + h]));
    }
    *flops += (double)rows * 2 * H * (2.0 * H + 1.0) + 4.0 * rows * H;
}

/* GLU backward (8 per output), then the Conv1d's: dg = dz W, dW += dz^T g, dbias += column sums.
 * dz: scratch of 2H. */
static void ref_head_backward(const double *g, const float *W, const double *z, const float *dy, double *dz,
                              double *dg, double *dW, double *dbias, size_t rows, int H, double *flops)
{
    for (size_t r = 0; r < rows; r++) {
        for (int h = 0; h < H; h++) {
            const double s = 1.0 / (1.0 + exp(-z[r * 2 * H + H + h]));
            dz[h] = dy[r * H + h] * s;
            dz[H + h] = dy[r * H + h] * z[r * 2 * H + h] * s * (1.0 - s);
        }
        for (int k = 0; k < H; k++) {
            double acc = 0.0;
            for (int c = 0; c < 2 * H; c++)
                acc += dz[c] * W[(size_t)c * H + k];
            dg[r * H + k] = acc;
        }
        for (int c = 0; c < 2 * H; c++) {
            dbias[c] += dz[c];
            for (int k = 0; k < H; k++)
                dW[(size_t)c * H + k] += dz[c] * g[r * H + k];
        }
    }
    *flops += 8.0 * rows * H + (double)rows * 2 * H * (4.0 * H + 1.0);
}

/* Exact GELU and its derivative, counted as ops/gelu.h does: 5 forward, 11 backward per element. */
static double gelu(double v) { return 0.5 * v * (1.0 + erf(v / sqrt(2.0))); }
static double gelu_grad(double v)
{
    return 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2.0 * M_PI);
}

int ref_s4d(const S4dConfig *cfg, const float *params, const float *x, const float *dy, int B, int L, double *y,
            double *dx, double *dparams, double *flops_fwd, double *flops_bwd)
{
    const int H = cfg->d_model;
    const size_t n = (size_t)B * L * H, rows = (size_t)B * L, HL = (size_t)H * L;
    ParamSpec s[S4D_PARAM_TENSORS];
    s4d_param_specs(cfg, s);
    double *K = malloc(sizeof(double) * HL), *dK = calloc(HL, sizeof(double));
    double *y1 = malloc(sizeof(double) * n), *g = malloc(sizeof(double) * n), *dg = malloc(sizeof(double) * n);
    double *z = malloc(sizeof(double) * 2 * n), *dz = malloc(sizeof(double) * 2 * H);
    if (!K || !dK || !y1 || !g || !dg || !z || !dz) {
        free(K), free(dK), free(y1), free(g), free(dg), free(z), free(dz);
        return -1;
    }
    *flops_fwd = *flops_bwd = 0.0;
    memset(dparams, 0, sizeof(double) * s4d_num_params(cfg));
    ref_s4d_kernel(cfg, params, K, L);
    ref_conv_forward(K, params + s[0].offset, x, y1, B, L, H);
    for (size_t i = 0; i < n; i++)
        g[i] = gelu(y1[i]);
    *flops_fwd += 5.0 * n;
    ref_head_forward(g, params + s[5].offset, params + s[6].offset, z, y, rows, H, flops_fwd);

    ref_head_backward(g, params + s[5].offset, z, dy, dz, dg, dparams + s[5].offset, dparams + s[6].offset, rows, H,
                      flops_bwd);
    for (size_t i = 0; i < n; i++)
        dg[i] *= gelu_grad(y1[i]); /* now dy1 */
    *flops_bwd += 11.0 * n;
    ref_conv_backward(K, params + s[0].offset, x, dg, dx, dparams + s[0].offset, dK, B, L, H);
    ref_s4d_kernel_backward(cfg, params, dK, dparams, L);
    free(K), free(dK), free(y1), free(g), free(dg), free(z), free(dz);
    return 0;
}

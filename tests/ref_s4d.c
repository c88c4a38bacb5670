#include "ref_s4d.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>

void ref_s4d_kernel(const S4dConfig *cfg, const float *params, double *K, int L)
{
    const int H = cfg->d_model, M = cfg->d_state / 2;
    ParamSpec s[7];
    s4d_param_specs(cfg, s);
    const float *C = params + s[1].offset, *log_dt = params + s[2].offset;
    const float *lar = params + s[3].offset, *aim = params + s[4].offset;
    for (int h = 0; h < H; h++) {
        double dt = exp((double)log_dt[h]);
        for (int l = 0; l < L; l++)
            K[(size_t)h * L + l] = 0.0;
        for (int n = 0; n < M; n++) {
            size_t i = (size_t)h * M + n;
            double complex A = -exp((double)lar[i]) + I * (double)aim[i], dtA = dt * A;
            double complex w = ((double)C[2 * i] + I * (double)C[2 * i + 1]) * (cexp(dtA) - 1.0) / A;
            for (int l = 0; l < L; l++)
                K[(size_t)h * L + l] += 2.0 * creal(w * cexp(dtA * (double)l));
        }
    }
}

void ref_s4d_forward(const S4dConfig *cfg, const float *params, const float *x, double *y, int B, int L)
{
    const int H = cfg->d_model;
    ParamSpec s[7];
    s4d_param_specs(cfg, s);
    const float *D = params + s[0].offset, *W = params + s[5].offset, *bias = params + s[6].offset;
    double *K = malloc(sizeof(double) * H * L), *g = malloc(sizeof(double) * B * L * H);
    if (!K || !g)
        abort();
    ref_s4d_kernel(cfg, params, K, L);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++)
            for (int h = 0; h < H; h++) {
                double acc = D[h] * x[((size_t)b * L + t) * H + h];
                for (int j = 0; j <= t; j++)
                    acc += K[(size_t)h * L + j] * x[((size_t)b * L + t - j) * H + h];
                g[((size_t)b * L + t) * H + h] = 0.5 * acc * (1.0 + erf(acc / sqrt(2.0)));
            }
    for (size_t r = 0; r < (size_t)B * L; r++)
        for (int h = 0; h < H; h++) {
            double za = bias[h], zb = bias[H + h];
            for (int k = 0; k < H; k++) {
                za += W[(size_t)h * H + k] * g[r * H + k];
                zb += W[(size_t)(H + h) * H + k] * g[r * H + k];
            }
            y[r * H + h] = za / (1.0 + exp(-zb));
        }
    free(K), free(g);
}

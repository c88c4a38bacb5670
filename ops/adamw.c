#include "adamw.h"

#include <math.h>


void adamw_step(const AdamWConfig *cfg, float *params, const float *grads, float *m, float *v, size_t n, long step)
{
    /* Bias corrections in double, as PyTorch computes them from Python floats. */
    double bias1 = 1.0 - pow(cfg->beta1, (double)step);
    double bias2 = 1.0 - pow(cfg->beta2, (double)step);
    const float step_size = (float)(cfg->lr / bias1);
    const float bias2_sqrt = (float)sqrt(bias2);
    const float decay = 1.0f - cfg->lr * cfg->weight_decay;
    const float b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    /* simd: the element updates are independent, and IEEE sqrt and division round the same in vector lanes, so
     * the result is bitwise that of the scalar loop (the build does not contract to FMA: -std=c11). */
#pragma omp parallel for simd schedule(static) if (parallel : n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        params[i] *= decay;
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        float denom = sqrtf(v[i]) / bias2_sqrt + eps;
        params[i] -= step_size * m[i] / denom;
    }
}

double adamw_flops(size_t n) { return 14.0 * (double)n; }

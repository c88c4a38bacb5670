/* adamw: the update of torch.optim.AdamW (decoupled weight decay, bias correction, eps added after the
 * bias-corrected square root), in the same order of float32 operations as PyTorch's single-tensor path:
 *   p *= 1 - lr * weight_decay
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * The caller owns m and v (zero before step 1) and passes the 1-based step t and the scheduled lr, so one
 * call per parameter group serves groups with their own learning rate or weight decay. */
#ifndef SUBQ_ADAMW_H
#define SUBQ_ADAMW_H

#include <stddef.h>

typedef struct AdamWConfig {
    float lr;
    float beta1, beta2;
    float eps;
    float weight_decay;
} AdamWConfig;

void adamw_step(const AdamWConfig *cfg, float *params, const float *grads, float *m, float *v, size_t n, long step);
/* Per parameter: decay 2, m 3, v 4, update 5 (sqrt, div, add, mul, sub). */
double adamw_flops(size_t n);

#endif

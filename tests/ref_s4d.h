/* ref_s4d: a plain double-precision S4D (direct complex exponentials, O(L^2) direct convolution) for tests. */
#ifndef SUBQ_REF_S4D_H
#define SUBQ_REF_S4D_H

#include "s4d.h"

/* y (B, L, H) from x (B, L, H); params as laid out by s4d_param_specs. */
void ref_s4d_forward(const S4dConfig *cfg, const float *params, const float *x, double *y, int B, int L);
/* K[h, l] for l < L, in double. */
void ref_s4d_kernel(const S4dConfig *cfg, const float *params, double *K, int L);

#endif

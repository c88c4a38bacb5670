/* ref_s4d: a plain double-precision S4D for tests. The kernel comes from one complex exponential per mode and
 * position, the causal convolution is the direct O(L^2) sum, and the backward differentiates each K[h, l]
 * directly with respect to each real parameter (a derivation independent of the block sums in ops/s4d.c). */
#ifndef SUBQ_REF_S4D_H
#define SUBQ_REF_S4D_H

#include "s4d.h"

/* K (H, L) in double. */
void ref_s4d_kernel(const S4dConfig *cfg, const float *params, double *K, int L);
/* K[h, l] at one position; *scale = 2 sum_n |C'_n exp(dtA_n l)|, the size of the terms it sums. */
double ref_s4d_kernel_at(const S4dConfig *cfg, const float *params, int h, long l, double *scale);
/* From dK (H, L): accumulates (+=) the gradients of kernel.C, kernel.log_dt, kernel.log_A_real and kernel.A_imag
 * into dparams (laid out like params). */
void ref_s4d_kernel_backward(const S4dConfig *cfg, const float *params, const double *dK, double *dparams, int L);

/* Forward and backward of the loss sum(y * dy) in double: y and dx (B, L, H), dparams (s4d_num_params,
 * written, laid out like params). *flops_fwd and *flops_bwd (written) count the operations of GELU, the
 * output Conv1d and GLU only: the kernel and the convolution are counted by s4d_kernel_flops and
 * fftconv_cm_flops. Returns 0, or -1 if out of memory. */
int ref_s4d(const S4dConfig *cfg, const float *params, const float *x, const float *dy, int B, int L, double *y,
            double *dx, double *dparams, double *flops_fwd, double *flops_bwd);

#endif

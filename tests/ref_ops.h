/* ref_ops: plain-loop references of the small operators, in double, each counting the floating-point
 * operations it performs into *flops (multiply-add 2, other arithmetic and exp/erf/sqrt 1), so tests can
 * check both the fast kernels' values and the analytic *_flops formulas. */
#ifndef SUBQ_REF_OPS_H
#define SUBQ_REF_OPS_H

#include <stdint.h>

#include "conv2d.h"

void ref_linear_forward(const float *x, const float *w, const float *b, double *y, int rows, int d_in, int d_out,
                        double *flops);
void ref_linear_backward(const float *x, const float *w, const double *dy, double *dx, double *dw, double *db,
                         int rows, int d_in, int d_out, double *flops);
void ref_gelu_forward(const double *x, double *y, long n, double *flops);
void ref_gelu_backward(const double *x, const double *dy, double *dx, long n, double *flops);
void ref_layernorm_forward(const float *x, const float *w, const float *b, double *y, int rows, int D, double eps,
                           double *flops);
void ref_layernorm_backward(const float *x, const float *w, const double *dy, double *dx, double *dw, double *db,
                            int rows, int D, double eps, double *flops);
/* Forward and backward (loss sum(y * dy)) of a whole operator in double, with the operations counted. Every
 * buffer is allocated by the reference and written, not accumulated; free with ref_outputs_free. */
typedef struct RefOutputs {
    double *y, *dx, *dparams; /* dparams laid out like the operator's parameter block */
    double flops_forward, flops_backward;
} RefOutputs;
void ref_outputs_free(RefOutputs *r);

/* ffn = fc2(gelu(fc1(x))) on rows x D tokens with hidden width H, params as ffn_param_specs lays them out
 * (fc1.weight, fc1.bias, fc2.weight, fc2.bias). Returns 0, or -1 if out of memory. */
int ref_ffn(const float *params, const float *x, const float *dy, int rows, int D, int H, RefOutputs *out);

/* conv2d on (B, H*W, C) by plain loops over every tap (padded ones included, counted but skipped) and the
 * operations of a textbook implementation: a multiply-add per tap for y, dx and dweight, an add per output
 * for the bias and for dbias. Returns 0, or -1 if out of memory. */
int ref_conv2d(const Conv2dConfig *cfg, const float *params, const float *x, const float *dy, int B, RefOutputs *out);

double ref_softmax_ce(const float *logits, const int *targets, int rows, int vocab, double *dlogits, double *flops_fwd,
                      double *flops_bwd);

#endif

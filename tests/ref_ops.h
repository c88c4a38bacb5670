/* ref_ops: plain-loop references of the small operators, in double, each counting the floating-point
 * operations it performs into *flops (multiply-add 2, other arithmetic and exp/erf/sqrt 1), so tests can
 * check both the fast kernels' values and the analytic *_flops formulas. */
#ifndef SUBQ_REF_OPS_H
#define SUBQ_REF_OPS_H

#include <stdint.h>

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
double ref_softmax_ce(const float *logits, const int *targets, int rows, int vocab, double *dlogits, double *flops_fwd,
                      double *flops_bwd);

#endif

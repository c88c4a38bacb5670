/* gemm: the few cblas_sgemm shapes the operators use (row-major), in one place so that the BLAS
 * binding, its threading and any future replacement live here and nowhere else. */
#ifndef SUBQ_GEMM_H
#define SUBQ_GEMM_H

#include <stdbool.h>

/* C (M x N) = alpha * op(A) op(B) + beta * C, row-major; op(A) is M x K, op(B) is K x N. */
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
          int ldb, float beta, float *C, int ldc);

/* Linear layer, PyTorch layout: weight (d_out, d_in), bias (d_out) or NULL.
 * forward:          y (rows, d_out) = x (rows, d_in) weight^T + bias
 * backward_input:   dx (rows, d_in) = dy weight            (beta: 0 to write, 1 to accumulate)
 * backward_params:  dweight += dy^T x; dbias += column sums of dy (dbias may be NULL) */
void gemm_linear_forward(const float *x, const float *weight, const float *bias, float *y, int rows, int d_in,
                         int d_out);
void gemm_linear_backward_input(const float *dy, const float *weight, float *dx, int rows, int d_in, int d_out,
                                float beta);
void gemm_linear_backward_params(const float *dy, const float *x, float *dweight, float *dbias, int rows, int d_in,
                                 int d_out);
/* FLOPs of one linear forward (with bias when has_bias) and of its backward (input + params). */
double gemm_linear_flops_forward(double rows, int d_in, int d_out, int has_bias);
double gemm_linear_flops_backward(double rows, int d_in, int d_out, int has_bias);

/* Threads BLAS may use; set once at start-up with the OpenMP count (see bench/cli/main.c). */
void gemm_set_threads(int threads);
/* 1 if the linked OpenBLAS is its OpenMP build (required: see DESIGN.md section 3). */
int gemm_blas_is_openmp(void);
const char *gemm_blas_config(void);

#endif

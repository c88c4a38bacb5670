#include "gemm.h"

#include <cblas.h>
#include <string.h>

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
          int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (M == 1) {
        /* One row (a single token): C = op(B)^T a is a matrix-vector product. sgemv streams B once without
         * sgemm's packing, which matters at batch 1 where B is the whole weight matrix. */
        cblas_sgemv(CblasRowMajor, trans_b ? CblasNoTrans : CblasTrans, trans_b ? N : K, trans_b ? K : N, alpha, B,
                    ldb, A, trans_a ? lda : 1, beta, C, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_linear_forward(const float *x, const float *weight, const float *bias, float *y, int rows, int d_in,
                         int d_out)
{
    float beta = 0.0f;
    if (bias) {
        /* Broadcast the bias into y first so the GEMM adds onto it (beta = 1) in one pass. */
#pragma omp parallel for schedule(static) if ((long)rows * d_out > 65536)
        for (int r = 0; r < rows; r++)
            memcpy(y + (long)r * d_out, bias, (size_t)d_out * sizeof(float));
        beta = 1.0f;
    }
    gemm(false, true, rows, d_out, d_in, 1.0f, x, d_in, weight, d_in, beta, y, d_out);
}

void gemm_linear_backward_input(const float *dy, const float *weight, float *dx, int rows, int d_in, int d_out,
                                float beta)
{
    gemm(false, false, rows, d_in, d_out, 1.0f, dy, d_out, weight, d_in, beta, dx, d_in);
}

void gemm_linear_backward_params(const float *dy, const float *x, float *dweight, float *dbias, int rows, int d_in,
                                 int d_out)
{
    gemm(true, false, d_out, d_in, rows, 1.0f, dy, d_out, x, d_in, 1.0f, dweight, d_in);
    if (!dbias)
        return;
    /* Column sums in blocks of 64 columns: each thread streams the rows once for its block. */
    int blocks = (d_out + 63) / 64;
#pragma omp parallel for schedule(static) if ((long)rows * d_out > 65536)
    for (int blk = 0; blk < blocks; blk++) {
        int o0 = blk * 64, o1 = o0 + 64 < d_out ? o0 + 64 : d_out;
        float acc[64] = {0};
        for (int r = 0; r < rows; r++) {
            const float *row = dy + (long)r * d_out;
#pragma omp simd
            for (int o = o0; o < o1; o++)
                acc[o - o0] += row[o];
        }
        for (int o = o0; o < o1; o++)
            dbias[o] += acc[o - o0];
    }
}

double gemm_linear_flops_forward(double rows, int d_in, int d_out, int has_bias)
{
    return rows * d_out * (2.0 * d_in + (has_bias ? 1.0 : 0.0));
}

double gemm_linear_flops_backward(double rows, int d_in, int d_out, int has_bias)
{
    /* dx and dweight are each a rows x d_in x d_out contraction; dbias is rows x d_out adds. */
    return rows * d_out * (4.0 * d_in + (has_bias ? 1.0 : 0.0));
}

void gemm_set_threads(int threads) { openblas_set_num_threads(threads); }

int gemm_blas_is_openmp(void) { return openblas_get_parallel() == 2; }

const char *gemm_blas_config(void) { return openblas_get_config(); }

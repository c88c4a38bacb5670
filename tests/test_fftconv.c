/* fftconv against the direct O(L^2) causal convolution, forward and backward, and finite differences. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Direct (B, L, D) reference in double: y, and for dy the gradients dx, dk (D, l_max), dbias. */
static void direct_conv(const float *x, const float *k, int l_max, const float *bias, const float *dy, double *y,
                        double *dx, double *dk, double *dbias, int B, int L, int D)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < D; c++)
            for (int t = 0; t < L; t++) {
                size_t at = ((size_t)b * L + t) * D + c;
                double acc = (double)bias[c] * x[at], grad = (double)bias[c] * dy[at];
                for (int s = 0; s <= t; s++)
                    acc += (double)k[c * l_max + s] * x[((size_t)b * L + t - s) * D + c];
                for (int s = t; s < L; s++) /* dx[t] = sum_{s >= t} k[s - t] dy[s] */
                    grad += (double)k[c * l_max + s - t] * dy[((size_t)b * L + s) * D + c];
                y[at] = acc;
                dx[at] = grad;
                dbias[c] += (double)dy[at] * x[at];
                for (int j = 0; j <= t; j++)
                    dk[c * l_max + j] += (double)dy[at] * x[((size_t)b * L + t - j) * D + c];
            }
}

static void expect_matches_direct(int L, int D)
{
    const int B = 2, l_max = L + 3; /* taps beyond L must be ignored */
    char config[64];
    snprintf(config, sizeof config, "d_model=%d,l_max=%d", D, l_max);
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "fftconv", config, B, L, 11 + L, 0.0f), 0);
    fixture_backward(&fx);
    size_t n = (size_t)B * L * D;
    double *y = calloc(n, sizeof *y), *dx = calloc(n, sizeof *dx);
    double *dk = calloc((size_t)D * l_max, sizeof *dk), *db = calloc(D, sizeof *db);
    const float *k = fx.params, *bias = fx.params + (size_t)D * l_max;
    direct_conv(fx.x, k, l_max, bias, fx.dy, y, dx, dk, db, B, L, D);
    double err_y = max_scaled_diff_d(fx.y, y, n, 1e-12);
    cr_expect_leq(err_y, 1e-4, "y, L=%d D=%d: %.3g", L, D, err_y);
    cr_expect_leq(max_scaled_diff_d(fx.dx, dx, n, 1e-12), 1e-4, "dx, L=%d D=%d", L, D);
    cr_expect_leq(max_scaled_diff_d(fx.dparams, dk, (size_t)D * l_max, 1e-12), 1e-4, "dk, L=%d D=%d", L, D);
    cr_expect_leq(max_scaled_diff_d(fx.dparams + (size_t)D * l_max, db, D, 1e-12), 1e-4, "dbias, L=%d D=%d", L, D);
    for (int c = 0; c < D; c++)
        for (int j = L; j < l_max; j++)
            cr_expect_eq(fx.dparams[(size_t)c * l_max + j], 0.0f, "taps past L get no gradient");
    free(y), free(dx), free(dk), free(db);
    fixture_teardown(&fx);
}

Test(fftconv, equals_direct_convolution_for_odd_and_even_lengths)
{
    /* 37 channels: two whole blocks of 16 gathered channels and a partial one. */
    const int lengths[] = {1, 2, 3, 17, 64, 1000}, widths[] = {1, 5, 37};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++)
        for (size_t j = 0; j < sizeof widths / sizeof widths[0]; j++)
            expect_matches_direct(lengths[i], widths[j]);
}

Test(fftconv, gradients_match_finite_differences)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "fftconv", "d_model=3,l_max=9", 2, 9, 5, 0.0f), 0);
    char worst[256];
    double err = gradcheck_op(&fx, 1e-2f, 40, 1e-2, worst, sizeof worst);
    cr_expect_leq(err, 1e-2, "worst gradient error %.3g at %s", err, worst);
    fixture_teardown(&fx);
}

Test(fftconv, rejects_sequences_longer_than_l_max)
{
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "fftconv", "d_model=2,l_max=8", err, sizeof err), 0);
    cr_expect_eq(op_check_shape(&op, 1, 8, err, sizeof err), 0);
    cr_expect_eq(op_check_shape(&op, 1, 9, err, sizeof err), -1);
    cr_expect(strstr(err, "l_max") != NULL, "%s", err);
}

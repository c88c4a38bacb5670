/* testutil: shared helpers for the Criterion tests (finite differences, comparisons, buffers). */
#ifndef SUBQ_TESTUTIL_H
#define SUBQ_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "h5io.h"
#include "lm.h" /* LmTensor */
#include "registry.h"

/* Everything needed to run one configured operator on random data. */
typedef struct OpFixture {
    Op op;
    int B, L, d_in, d_out;
    size_t n_params, n_act, n_ws;
    float *x, *y, *dy, *dx, *params, *dparams, *act, *ws_buf;
    Workspace ws;
} OpFixture;

/* Configures op `name` with `config` (asserts it is valid), allocates all buffers, fills x and dy with
 * N(0,1), initialises params with the op's init plus N(0, param_noise) so that zero-initialised biases
 * are exercised too. Returns 0 on success. */
int fixture_setup(OpFixture *fx, const char *name, const char *config, int B, int L, uint64_t seed,
                  float param_noise);
void fixture_teardown(OpFixture *fx);
void fixture_forward(OpFixture *fx);
/* Runs forward then backward (dparams zeroed first). */
void fixture_backward(OpFixture *fx);

/* Finite-difference check of backward for the loss sum(y * dy), central differences of step eps with the
 * loss accumulated in double. Checks up to `samples` random entries of x and of every parameter tensor.
 * Returns the worst error |analytic - numeric| / (|numeric| + atol) over them, and names it in worst. */
double gradcheck_op(OpFixture *fx, float eps, int samples, double atol, char *worst, size_t worst_len);

/* Causality of a sequence operator on a B = 1 fixture: adding 1 to every channel of x at position t0 moves no
 * output before t0 by more than 1e-5 (FFT round-off), and moves the outputs from t0 on by more than 1e-2 in
 * total (or the first check would prove nothing). Asserts with Criterion. */
void expect_causal(OpFixture *fx, int t0);
/* The backward contract: a second backward on the same inputs writes the same dx (=) and doubles the
 * parameter gradients (+=). Asserts with Criterion. */
void expect_backward_overwrites_dx_and_accumulates(OpFixture *fx);

/* max |a - b| / (max |b| + floor): a scale-aware error for comparing whole tensors. */
/* Central differences of objective(ctx) on up to per_tensor entries of every tensor of a model (all entries of
 * smaller tensors, else random ones, seed 99) against the analytic gradient grads; returns the worst
 * |analytic - numeric| / (|numeric| + floor) and describes it in worst. Shared by the LM and classifier tests. */
double gradcheck_model(const LmTensor *tensors, int n_tensors, float *params, const float *grads, int per_tensor,
                       float eps, double floor, double (*objective)(void *ctx), void *ctx, char *worst,
                       size_t worst_len);

/* A fresh directory /tmp/subq_<prefix>_XXXXXX in dir (asserts it was made), and its removal with everything in
 * it: the .init and .fini of tests that write files. */
void tmp_dir_make(char *dir, size_t len, const char *prefix);
void tmp_dir_remove(const char *dir);

double max_scaled_diff(const float *a, const float *b, size_t n, double floor);
/* The same against a double reference (NaN in a counts as an infinite difference). */
double max_scaled_diff_d(const float *a, const double *b, size_t n, double floor);
void fill_normal(float *x, size_t n, uint64_t seed, float std);

/* The dataset at path in f holds n values within 1e-6 (scaled) of want: what `subq op run` wrote against a
 * direct call of the same kernels on the same floats (threading order is the only difference). Names what
 * in the messages. Asserts with Criterion. */
void expect_h5_dataset(H5File *f, const char *what, const char *path, const float *want, size_t n);

#endif

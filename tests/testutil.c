#include "testutil.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fill_normal(float *x, size_t n, uint64_t seed, float std)
{
    Rng rng;
    rng_init(&rng, seed);
    rng_fill_normal(&rng, x, n, 0.0f, std);
}

double max_scaled_diff(const float *a, const float *b, size_t n, double floor)
{
    double max_diff = 0.0, max_b = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= max_diff)) /* also catches NaN */
            max_diff = isnan(d) ? INFINITY : d;
        if (fabs((double)b[i]) > max_b)
            max_b = fabs((double)b[i]);
    }
    return max_diff / (max_b + floor);
}

double max_scaled_diff_d(const float *a, const double *b, size_t n, double floor)
{
    double max_diff = 0.0, max_b = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= max_diff))
            max_diff = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > max_b)
            max_b = fabs(b[i]);
    }
    return max_diff / (max_b + floor);
}

static float *alloc_or_null(size_t n) { return n ? core_alloc_floats(n) : NULL; }

int fixture_setup(OpFixture *fx, const char *name, const char *config, int B, int L, uint64_t seed,
                  float param_noise)
{
    char err[CONFIG_ERR_LEN];
    memset(fx, 0, sizeof *fx);
    if (op_configure(&fx->op, name, config, err, sizeof err) != 0) {
        fprintf(stderr, "fixture_setup: %s\n", err);
        return -1;
    }
    fx->B = B;
    fx->L = L;
    fx->d_in = op_d_in(&fx->op);
    fx->d_out = op_d_out(&fx->op);
    fx->n_params = op_num_params(&fx->op);
    fx->n_act = op_act_floats(&fx->op, B, L);
    fx->n_ws = op_workspace_floats(&fx->op, B, L);
    size_t nx = (size_t)B * L * fx->d_in, ny = (size_t)B * L * fx->d_out;
    fx->x = core_alloc_floats(nx);
    fx->dx = core_alloc_floats(nx);
    fx->y = core_alloc_floats(ny);
    fx->dy = core_alloc_floats(ny);
    fx->params = alloc_or_null(fx->n_params);
    fx->dparams = alloc_or_null(fx->n_params);
    fx->act = alloc_or_null(fx->n_act);
    fx->ws_buf = alloc_or_null(fx->n_ws);
    if (!fx->x || !fx->dx || !fx->y || !fx->dy || (fx->n_params && (!fx->params || !fx->dparams)) ||
        (fx->n_act && !fx->act) || (fx->n_ws && !fx->ws_buf))
        return -1;
    ws_init(&fx->ws, fx->ws_buf, fx->n_ws);
    fill_normal(fx->x, nx, seed, 1.0f);
    fill_normal(fx->dy, ny, seed + 1, 1.0f);
    if (fx->n_params) {
        Rng rng;
        rng_init(&rng, seed + 2);
        op_init(&fx->op, fx->params, &rng);
        for (size_t i = 0; i < fx->n_params; i++)
            fx->params[i] += param_noise * rng_normal(&rng);
    }
    return 0;
}

void fixture_teardown(OpFixture *fx)
{
    float *bufs[] = {fx->x, fx->y, fx->dy, fx->dx, fx->params, fx->dparams, fx->act, fx->ws_buf};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        core_free(bufs[i]);
    memset(fx, 0, sizeof *fx);
}

void fixture_forward(OpFixture *fx)
{
    ws_reset(&fx->ws);
    op_forward(&fx->op, fx->params, fx->x, fx->y, fx->act, fx->B, fx->L, &fx->ws);
}

void fixture_backward(OpFixture *fx)
{
    fixture_forward(fx);
    if (fx->n_params)
        memset(fx->dparams, 0, fx->n_params * sizeof(float));
    ws_reset(&fx->ws);
    op_backward(&fx->op, fx->params, fx->x, fx->act, fx->dy, fx->dx, fx->dparams, fx->B, fx->L, &fx->ws);
}

static double loss_of(OpFixture *fx)
{
    fixture_forward(fx);
    size_t ny = (size_t)fx->B * fx->L * fx->d_out;
    double loss = 0.0;
    for (size_t i = 0; i < ny; i++)
        loss += (double)fx->y[i] * fx->dy[i];
    return loss;
}

static double numeric_grad(OpFixture *fx, float *value, float eps)
{
    float saved = *value;
    *value = saved + eps;
    double plus = loss_of(fx);
    *value = saved - eps;
    double minus = loss_of(fx);
    *value = saved;
    return (plus - minus) / (2.0 * eps);
}

/* Checks `samples` random entries of one tensor; updates the worst error. */
static void check_tensor(OpFixture *fx, const char *label, float *values, const float *analytic, size_t n,
                         float eps, int samples, double atol, Rng *rng, double *worst_err, char *worst,
                         size_t worst_len)
{
    int count = (size_t)samples < n ? samples : (int)n;
    for (int s = 0; s < count; s++) {
        size_t i = (size_t)samples < n ? rng_below(rng, (uint32_t)n) : (size_t)s;
        double num = numeric_grad(fx, &values[i], eps);
        double err = fabs((double)analytic[i] - num) / (fabs(num) + atol);
        if (isnan(err))
            err = INFINITY;
        if (err > *worst_err) {
            *worst_err = err;
            snprintf(worst, worst_len, "%s[%zu]: analytic %.6g numeric %.6g", label, i, (double)analytic[i], num);
        }
    }
}

double gradcheck_op(OpFixture *fx, float eps, int samples, double atol, char *worst, size_t worst_len)
{
    Rng rng;
    rng_init(&rng, 12345);
    fixture_backward(fx);
    double worst_err = 0.0;
    snprintf(worst, worst_len, "(none)");
    size_t nx = (size_t)fx->B * fx->L * fx->d_in;
    check_tensor(fx, "x", fx->x, fx->dx, nx, eps, samples, atol, &rng, &worst_err, worst, worst_len);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&fx->op, specs);
    for (int t = 0; t < count; t++)
        check_tensor(fx, specs[t].name, fx->params + specs[t].offset, fx->dparams + specs[t].offset,
                     specs[t].numel, eps, samples, atol, &rng, &worst_err, worst, worst_len);
    return worst_err;
}

void expect_causal(OpFixture *fx, int t0)
{
    const int L = fx->L, D = fx->d_in;
    const size_t n = (size_t)L * fx->d_out;
    cr_assert_eq(fx->B, 1, "expect_causal needs B = 1");
    fixture_forward(fx);
    float *before = malloc(n * sizeof *before);
    cr_assert_not_null(before);
    memcpy(before, fx->y, n * sizeof *before);
    for (int d = 0; d < D; d++)
        fx->x[(size_t)t0 * D + d] += 1.0f;
    fixture_forward(fx);
    const int Dy = fx->d_out;
    for (int t = 0; t < t0; t++)
        for (int d = 0; d < Dy; d++)
            cr_expect_leq(fabsf(fx->y[t * Dy + d] - before[t * Dy + d]), 1e-5f, "y[%d] moved", t);
    double moved = 0.0;
    for (int t = t0; t < L; t++)
        for (int d = 0; d < Dy; d++)
            moved += fabsf(fx->y[t * Dy + d] - before[t * Dy + d]);
    cr_expect_gt(moved, 1e-2, "the perturbation must reach y[t >= t0] (moved %g)", moved);
    free(before);
}

void expect_backward_overwrites_dx_and_accumulates(OpFixture *fx)
{
    fixture_backward(fx);
    const size_t nx = (size_t)fx->B * fx->L * fx->d_in;
    float *dx1 = malloc(nx * sizeof *dx1), *dp1 = malloc((fx->n_params ? fx->n_params : 1) * sizeof *dp1);
    cr_assert(dx1 && dp1);
    memcpy(dx1, fx->dx, nx * sizeof *dx1);
    if (fx->n_params) /* an operator without parameters has no gradient block */
        memcpy(dp1, fx->dparams, fx->n_params * sizeof *dp1);
    ws_reset(&fx->ws);
    op_backward(&fx->op, fx->params, fx->x, fx->act, fx->dy, fx->dx, fx->dparams, fx->B, fx->L, &fx->ws);
    for (size_t i = 0; i < nx; i++)
        cr_expect_float_eq(fx->dx[i], dx1[i], 1e-6f * (1.0f + fabsf(dx1[i])), "dx[%zu] must be overwritten", i);
    for (size_t i = 0; i < fx->n_params; i++)
        cr_expect_float_eq(fx->dparams[i], 2.0f * dp1[i], 1e-5f * (1.0f + fabsf(dp1[i])), "dparams[%zu] += ", i);
    free(dx1), free(dp1);
}

double gradcheck_model(const LmTensor *tensors, int n_tensors, float *params, const float *grads, int per_tensor,
                       float eps, double floor, double (*objective)(void *ctx), void *ctx, char *worst,
                       size_t worst_len)
{
    double max_err = 0.0;
    Rng rng;
    rng_init(&rng, 99);
    for (int t = 0; t < n_tensors; t++) {
        const ParamSpec *s = &tensors[t].spec;
        for (int k = 0; k < per_tensor && (size_t)k < s->numel; k++) {
            size_t i = s->offset + (s->numel <= (size_t)per_tensor ? (size_t)k : rng_below(&rng, (uint32_t)s->numel));
            float saved = params[i];
            params[i] = saved + eps;
            double up = objective(ctx);
            params[i] = saved - eps;
            double down = objective(ctx);
            params[i] = saved;
            double numeric = (up - down) / (2.0 * eps), analytic = grads[i];
            double err = fabs(analytic - numeric) / (fabs(numeric) + floor);
            if (err > max_err) {
                max_err = err;
                snprintf(worst, worst_len, "%s[%zu]: analytic %.6g numeric %.6g", s->name, i - s->offset, analytic,
                         numeric);
            }
        }
    }
    return max_err;
}

void tmp_dir_make(char *dir, size_t len, const char *prefix)
{
    snprintf(dir, len, "/tmp/subq_%s_XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(dir), "cannot make a temporary directory");
}

void tmp_dir_remove(const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

void expect_h5_dataset(H5File *f, const char *what, const char *path, const float *want, size_t n)
{
    char err[256];
    H5Tensor t;
    cr_assert_eq(h5io_read_tensor(f, path, &t, err, sizeof err), 0, "%s: %s", what, err);
    cr_assert_eq(t.numel, n, "%s: /%s has %zu values, expected %zu", what, path, t.numel, n);
    double diff = max_scaled_diff(t.data, want, n, 1e-6);
    cr_expect_leq(diff, 1e-6, "%s: /%s differs from the direct run by %.3g", what, path, diff);
    h5io_tensor_free(&t);
}

/* The vision operators against plain double loops and finite differences: conv2d (ops/conv2d.h) and
 * its instrumented FLOP count; longconv2d (ops/longconv2d.h): the FFT engine against a direct O(H^2 W^2) 2D
 * convolution, the whole operator against the same direct convolution with its own filter, the decay window,
 * finite differences of every parameter; pooling (ops/pool2d.h); shape rules; and the runner on both image
 * operators. Suites vision_conv2d, vision_longconv2d, vision_pool, vision_oprun: --filter 'vision*' + '/' + '*'. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conv2d.h"
#include "h5io.h"
#include "hyena_filter.h"
#include "longconv2d.h"
#include "oprun.h"
#include "pool2d.h"
#include "ref_ops.h"
#include "testutil.h"

#define REF_TOL 1e-5  /* max |fast - reference| / (max |reference| + REF_FLOOR), per tensor */
#define REF_FLOOR 1e-6
#define GRAD_TOL 1e-2 /* worst |analytic - numeric| / (|numeric| + atol) of gradcheck_op */
#define LONGCONV2D_GRAD_TOL 2e-2 /* as Hyena's: float32 finite differences through a sin MLP */

static float *to_float(const double *v, size_t n)
{
    float *out = malloc(n * sizeof *out);
    cr_assert_not_null(out);
    for (size_t i = 0; i < n; i++)
        out[i] = (float)v[i];
    return out;
}

/* Compares a float tensor with a double reference (rounded to float: far below the tolerances used). */
static void expect_close(const float *got, const double *want, size_t n, double tol, const char *what)
{
    float *w = to_float(want, n);
    double err = max_scaled_diff(got, w, n, REF_FLOOR);
    cr_expect_leq(err, tol, "%s differs from the reference by %.3g (scaled)", what, err);
    free(w);
}

/* ==== conv2d ==== */

static void expect_conv2d_matches_naive(const char *config, int B, uint64_t seed)
{
    OpFixture fx;
    Op probe;
    char err[256];
    cr_assert_eq(op_configure(&probe, "conv2d", config, err, sizeof err), 0, "%s", err);
    const Conv2dConfig *cfg = &probe.cfg.conv2d;
    const int L = cfg->height * cfg->width;
    cr_assert_eq(fixture_setup(&fx, "conv2d", config, B, L, seed, 0.1f), 0, "%s", config);
    fixture_backward(&fx);
    RefOutputs n;
    cr_assert_eq(ref_conv2d(cfg, fx.params, fx.x, fx.dy, B, &n), 0);
    char what[320];
    snprintf(what, sizeof what, "%s: y", config);
    expect_close(fx.y, n.y, (size_t)B * L * cfg->d_out, REF_TOL, what);
    snprintf(what, sizeof what, "%s: dx", config);
    expect_close(fx.dx, n.dx, (size_t)B * L * cfg->d_in, REF_TOL, what);
    const size_t nw = (size_t)cfg->d_out * (cfg->d_in / cfg->groups) * cfg->kernel * cfg->kernel;
    snprintf(what, sizeof what, "%s: dweight", config);
    expect_close(fx.dparams, n.dparams, nw, REF_TOL, what);
    if (cfg->bias) {
        snprintf(what, sizeof what, "%s: dbias", config);
        expect_close(fx.dparams + nw, n.dparams + nw, (size_t)cfg->d_out, REF_TOL, what);
    }
    OpFlops f = conv2d_flops(cfg, B, L);
    cr_expect_eq(f.forward, n.flops_forward, "%s: forward flops %.17g, counted %.17g", config, f.forward,
                 n.flops_forward);
    cr_expect_eq(f.backward, n.flops_backward, "%s: backward flops %.17g, counted %.17g", config, f.backward,
                 n.flops_backward);
    ref_outputs_free(&n);
    fixture_teardown(&fx);
}

Test(vision_conv2d, dense_forward_backward_and_flops_equal_naive_direct_loop)
{
    expect_conv2d_matches_naive("d_in=3,d_out=5,height=6,width=7,kernel=3", 2, 1);
    expect_conv2d_matches_naive("d_in=4,d_out=2,height=5,width=4,kernel=5,bias=0", 2, 2);
    expect_conv2d_matches_naive("d_in=2,d_out=3,height=3,width=3,kernel=1", 3, 3);
    expect_conv2d_matches_naive("d_in=2,d_out=2,height=3,width=2,kernel=7", 2, 4); /* kernel larger than image */
    expect_conv2d_matches_naive("d_in=1,d_out=1,height=1,width=1,kernel=3", 1, 5);
}

Test(vision_conv2d, depthwise_and_grouped_equal_naive_direct_loop)
{
    expect_conv2d_matches_naive("d_in=6,d_out=6,height=5,width=6,kernel=3,groups=6", 2, 11);
    expect_conv2d_matches_naive("d_in=3,d_out=6,height=4,width=5,kernel=3,groups=3", 2, 12); /* multiplier 2 */
    expect_conv2d_matches_naive("d_in=4,d_out=6,height=4,width=4,kernel=3,groups=2,bias=0", 2, 13);
    expect_conv2d_matches_naive("d_in=5,d_out=5,height=7,width=3,kernel=5,groups=5", 3, 14);
}

/* 32 x 32 x 520 with k = 3 has 4.8M im2col floats per image, over the 4M bound: one image per GEMM chunk. */
Test(vision_conv2d, dense_batch_split_into_several_gemm_chunks_equals_naive_loop)
{
    expect_conv2d_matches_naive("d_in=520,d_out=3,height=32,width=32,kernel=3", 2, 21);
}

static void expect_conv2d_gradcheck(const char *config, int B, int L)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "conv2d", config, B, L, 31, 0.1f), 0, "%s", config);
    char worst[256];
    double err = gradcheck_op(&fx, 1e-2f, 40, 1e-2, worst, sizeof worst);
    cr_expect_leq(err, GRAD_TOL, "%s: worst gradient error %.3g at %s", config, err, worst);
    fixture_teardown(&fx);
}

Test(vision_conv2d, dense_gradients_match_finite_differences)
{
    expect_conv2d_gradcheck("d_in=3,d_out=4,height=5,width=4,kernel=3", 2, 20);
}

Test(vision_conv2d, depthwise_gradients_match_finite_differences)
{
    expect_conv2d_gradcheck("d_in=4,d_out=4,height=4,width=5,kernel=3,groups=4", 2, 20);
    expect_conv2d_gradcheck("d_in=2,d_out=4,height=3,width=3,kernel=3,groups=2", 2, 9);
}

Test(vision_conv2d, param_specs_follow_torch_conv2d_names_and_shapes)
{
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "conv2d", "d_in=6,d_out=4,kernel=5,groups=2", err, sizeof err), 0, "%s", err);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    cr_assert_eq(op_param_specs(&op, specs), 2);
    cr_expect_str_eq(specs[0].name, "weight");
    cr_expect_eq(specs[0].ndim, 4);
    const int want[4] = {4, 3, 5, 5};
    for (int d = 0; d < 4; d++)
        cr_expect_eq(specs[0].shape[d], want[d], "weight dim %d", d);
    cr_expect_str_eq(specs[1].name, "bias");
    cr_expect_eq(specs[1].offset, 4u * 3 * 25);
    cr_expect_eq(op_num_params(&op), conv2d_num_params(&op.cfg.conv2d));
    cr_assert_eq(op_configure(&op, "conv2d", "d_in=6,d_out=4,bias=0", err, sizeof err), 0, "%s", err);
    cr_expect_eq(op_param_specs(&op, specs), 1);
}

/* torch.nn.Conv2d's default: every weight and bias in [-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in/G k k,
 * and spread over it (not all near zero). */
Test(vision_conv2d, default_init_is_uniform_within_the_torch_bound)
{
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "conv2d", "d_in=8,d_out=16,kernel=3,groups=2", err, sizeof err), 0, "%s", err);
    const size_t n = op_num_params(&op);
    float *p = malloc(n * sizeof *p);
    cr_assert_not_null(p);
    Rng rng;
    rng_init(&rng, 5);
    op_init(&op, p, &rng);
    const float bound = 1.0f / sqrtf(4.0f * 9.0f);
    float max_abs = 0.0f;
    for (size_t i = 0; i < n; i++) {
        cr_expect(p[i] >= -bound && p[i] < bound, "param %zu = %g outside +-%g", i, p[i], bound);
        max_abs = fabsf(p[i]) > max_abs ? fabsf(p[i]) : max_abs;
    }
    cr_expect_gt(max_abs, 0.9f * bound);
    free(p);
}

Test(vision_conv2d, validate_rejects_even_kernels_and_groups_that_do_not_divide)
{
    const char *bad[] = {"kernel=2", "kernel=0", "d_in=6,groups=4", "d_in=4,d_out=6,groups=4", "bias=2", "height=0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Op op;
        char err[256];
        cr_expect_eq(op_configure(&op, "conv2d", bad[i], err, sizeof err), -1, "%s accepted", bad[i]);
    }
}

Test(vision_conv2d, rejects_sequences_other_than_height_times_width)
{
    const char *ops[] = {"conv2d", "longconv2d"};
    const char *configs[] = {"d_in=2,d_out=2,height=4,width=3", "d_model=2,height=4,width=3"};
    for (int i = 0; i < 2; i++) {
        Op op;
        char err[256];
        cr_assert_eq(op_configure(&op, ops[i], configs[i], err, sizeof err), 0, "%s", err);
        cr_expect_eq(op_check_shape(&op, 2, 12, err, sizeof err), 0, "%s", err);
        cr_expect_eq(op_check_shape(&op, 2, 11, err, sizeof err), -1);
        cr_expect(strstr(err, "height * width") != NULL && strchr(err, '\n') == NULL, "%s", err);
        cr_expect_eq(op_check_shape(&op, 2, 13, err, sizeof err), -1);
    }
}

/* ==== longconv2d ==== */

/* expect_close for a tensor of an H x W image operator, naming the size. */
static void expect_close_image(const float *got, const double *want, size_t n, const char *what, int H, int W)
{
    char label[96];
    snprintf(label, sizeof label, "%s at %dx%d", what, H, W);
    expect_close(got, want, n, REF_TOL, label);
}

/* The direct convolution in double, channel-major: u, dy (B, C, H, W), k (C, H, W), centre (H/2, W/2):
 * y[p, q] = sum_{i, j} k[i, j] u[p + ci - i, q + cj - j] + bias u[p, q]; and its gradients for dy. */
typedef struct Direct {
    double *y, *du, *dk, *dbias;
} Direct;

static Direct direct_conv(const float *k, const float *bias, const float *u, const float *dy, int B, int C, int H,
                          int W)
{
    const size_t L = (size_t)H * W, n = (size_t)B * C * L;
    const int ci = H / 2, cj = W / 2;
    Direct d = {calloc(n, sizeof(double)), calloc(n, sizeof(double)), calloc((size_t)C * L, sizeof(double)),
                calloc((size_t)C, sizeof(double))};
    cr_assert(d.y && d.du && d.dk && d.dbias);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const size_t at = ((size_t)b * C + c) * L;
            for (int p = 0; p < H; p++)
                for (int q = 0; q < W; q++) {
                    const size_t out = at + (size_t)p * W + q;
                    double acc = (double)bias[c] * u[out];
                    d.du[out] += (double)bias[c] * dy[out];
                    d.dbias[c] += (double)dy[out] * u[out];
                    for (int i = 0; i < H; i++)
                        for (int j = 0; j < W; j++) {
                            const int pi = p + ci - i, qj = q + cj - j;
                            if (pi < 0 || pi >= H || qj < 0 || qj >= W)
                                continue;
                            const size_t in = at + (size_t)pi * W + qj, tap = (size_t)c * L + (size_t)i * W + j;
                            acc += (double)k[tap] * u[in];
                            d.du[in] += (double)k[tap] * dy[out];
                            d.dk[tap] += (double)dy[out] * u[in];
                        }
                    d.y[out] = acc;
                }
        }
    return d;
}

static void direct_free(Direct *d) { free(d->y), free(d->du), free(d->dk), free(d->dbias); }

static void expect_engine_matches_direct(int B, int C, int H, int W)
{
    const size_t L = (size_t)H * W, n = (size_t)B * C * L;
    float *k = core_alloc_floats((size_t)C * L), *bias = core_alloc_floats((size_t)C), *u = core_alloc_floats(n);
    float *dy = core_alloc_floats(n), *y = core_alloc_floats(n), *du = core_alloc_floats(n);
    float *dk = core_alloc_floats((size_t)C * L), *dbias = core_alloc_floats((size_t)C);
    size_t ws_n = longconv2d_cm_workspace_floats(H, W);
    float *ws_buf = core_alloc_floats(ws_n);
    cr_assert(k && bias && u && dy && y && du && dk && dbias && ws_buf);
    fill_normal(k, (size_t)C * L, 1 + H * W, 1.0f);
    fill_normal(bias, (size_t)C, 2 + H, 1.0f);
    fill_normal(u, n, 3 + W, 1.0f);
    fill_normal(dy, n, 4 + H * W, 1.0f);
    memset(dk, 0, (size_t)C * L * sizeof(float));
    memset(dbias, 0, (size_t)C * sizeof(float));
    Workspace ws;
    ws_init(&ws, ws_buf, ws_n);
    longconv2d_cm_forward(k, bias, u, y, B, C, H, W, &ws);
    ws_reset(&ws);
    longconv2d_cm_backward(k, bias, u, dy, du, dk, dbias, B, C, H, W, &ws);
    Direct d = direct_conv(k, bias, u, dy, B, C, H, W);
    expect_close_image(y, d.y, n, "y", H, W);
    expect_close_image(du, d.du, n, "du", H, W);
    expect_close_image(dk, d.dk, (size_t)C * L, "dk", H, W);
    expect_close_image(dbias, d.dbias, (size_t)C, "dbias", H, W);
    direct_free(&d);
    float *bufs[] = {k, bias, u, dy, y, du, dk, dbias, ws_buf};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        core_free(bufs[i]);
}

Test(vision_longconv2d, fft_convolution_equals_direct_2d_convolution_for_odd_and_even_sizes)
{
    const int sizes[][2] = {{1, 1}, {1, 6}, {2, 3}, {5, 4}, {7, 7}, {8, 6}, {16, 16}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        expect_engine_matches_direct(2, 3, sizes[i][0], sizes[i][1]);
    expect_engine_matches_direct(1, 5, 32, 32); /* CIFAR size; more channels than threads */
}

/* The whole operator: y and dx equal the direct convolution with the operator's own filter and skip bias, and
 * the skip bias gradient matches too (the filter gradients are checked by finite differences below). */
static void expect_operator_matches_direct(const char *config, int B)
{
    Op probe;
    char err[256];
    cr_assert_eq(op_configure(&probe, "longconv2d", config, err, sizeof err), 0, "%s", err);
    const Longconv2dConfig *cfg = &probe.cfg.longconv2d;
    const int H = cfg->height, W = cfg->width, D = cfg->d_model, L = H * W;
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "longconv2d", config, B, L, 17, 0.1f), 0, "%s", config);
    fixture_backward(&fx);
    const size_t n = (size_t)B * L * D;
    float *h = malloc((size_t)D * L * sizeof *h), *scratch = core_alloc_floats(longconv2d_act_floats(cfg, 1, L));
    float *u = malloc(n * sizeof *u), *g = malloc(n * sizeof *g), *y = malloc(n * sizeof *y);
    float *dx = malloc(n * sizeof *dx);
    cr_assert(h && scratch && u && g && y && dx);
    longconv2d_filter_values(cfg, fx.params, scratch, h);
    core_transpose(fx.x, u, B, L, D);
    core_transpose(fx.dy, g, B, L, D);
    core_transpose(fx.y, y, B, L, D);
    core_transpose(fx.dx, dx, B, L, D);
    Direct d = direct_conv(h, fx.params /* bias (D) comes first */, u, g, B, D, H, W);
    expect_close_image(y, d.y, n, "operator y", H, W);
    expect_close_image(dx, d.du, n, "operator dx", H, W);
    expect_close_image(fx.dparams, d.dbias, (size_t)D, "operator dbias", H, W);
    direct_free(&d);
    free(h), free(u), free(g), free(y), free(dx);
    core_free(scratch);
    fixture_teardown(&fx);
}

Test(vision_longconv2d, operator_equals_direct_convolution_with_its_filter)
{
    expect_operator_matches_direct("d_model=3,height=5,width=6,filter_order=8", 2);
    expect_operator_matches_direct("d_model=4,height=8,width=8,filter_order=8,emb_dim=6,modulate=0", 2);
    expect_operator_matches_direct("d_model=16,height=32,width=32,filter_order=16", 2); /* multithreaded paths */
}

/* h(modulate=1) / h(modulate=0) = exp(-alpha_c r) + shift at every tap, alpha_c = |hyena delta_c|, and the
 * window is 1 + shift at the centre tap. */
Test(vision_longconv2d, decay_window_is_exp_of_minus_alpha_times_distance_from_the_centre)
{
    const char *with = "d_model=4,height=6,width=5,filter_order=8,shift=0.1";
    const char *without = "d_model=4,height=6,width=5,filter_order=8,shift=0.1,modulate=0";
    Op a, b;
    char err[256];
    cr_assert_eq(op_configure(&a, "longconv2d", with, err, sizeof err), 0, "%s", err);
    cr_assert_eq(op_configure(&b, "longconv2d", without, err, sizeof err), 0, "%s", err);
    const int D = 4, H = 6, W = 5, L = H * W;
    const size_t np = op_num_params(&a);
    float *params = malloc(np * sizeof *params), *hw = malloc((size_t)D * L * sizeof *hw);
    float *hn = malloc((size_t)D * L * sizeof *hn), *scratch = core_alloc_floats(op_act_floats(&a, 1, L));
    cr_assert(params && hw && hn && scratch);
    Rng rng;
    rng_init(&rng, 3);
    op_init(&a, params, &rng);
    longconv2d_filter_values(&a.cfg.longconv2d, params, scratch, hw);
    longconv2d_filter_values(&b.cfg.longconv2d, params, scratch, hn);
    HyenaConfig spread = {.d_model = D, .order = 2, .target = 0.01f, .fast_decay_pct = 0.3f, .slow_decay_pct = 1.5f};
    for (int c = 0; c < D; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double u = (i - H / 2) / (H / 2.0), v = (j - W / 2) / (W / 2.0), r = sqrt((u * u + v * v) / 2);
                double want = exp(-fabs(hyena_delta(&spread, c)) * r) + 0.1;
                size_t t = (size_t)c * L + (size_t)i * W + j;
                cr_expect_float_eq(hw[t], hn[t] * want, 1e-6 * (1.0 + fabs(hn[t])), "c=%d (%d, %d)", c, i, j);
                if (i == H / 2 && j == W / 2)
                    cr_expect_float_eq(hw[t], 1.1f * hn[t], 1e-6f * (1.0f + fabsf(hn[t])));
            }
    free(params), free(hw), free(hn);
    core_free(scratch);
}

static void expect_gradcheck(const char *config, int B)
{
    Op probe;
    char err[256];
    cr_assert_eq(op_configure(&probe, "longconv2d", config, err, sizeof err), 0, "%s", err);
    const int L = probe.cfg.longconv2d.height * probe.cfg.longconv2d.width;
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "longconv2d", config, B, L, 21, 0.1f), 0, "%s", config);
    char worst[256];
    double e = gradcheck_op(&fx, 1e-2f, 40, 1e-2, worst, sizeof worst);
    cr_expect_leq(e, LONGCONV2D_GRAD_TOL, "%s: worst gradient error %.3g at %s", config, e, worst);
    fixture_teardown(&fx);
}

/* gradcheck_op samples x and every parameter tensor: bias, each Linear's weight and bias, the shared freq. */
Test(vision_longconv2d, gradients_of_input_and_every_parameter_match_finite_differences)
{
    expect_gradcheck("d_model=3,height=4,width=5,filter_order=6,emb_dim=6,num_inner_mlps=1", 2);
    expect_gradcheck("d_model=2,height=3,width=3,filter_order=4,num_inner_mlps=0,modulate=0", 2);
    expect_gradcheck("d_model=2,height=4,width=4,filter_order=4,emb_dim=10,num_inner_mlps=2,shift=0.2,w=2", 1);
}

Test(vision_longconv2d, param_specs_follow_the_torch_module_order_and_shapes)
{
    const char *names[] = {"bias", "implicit_filter.0.weight", "implicit_filter.0.bias", "implicit_filter.1.freq",
                           "implicit_filter.2.weight", "implicit_filter.2.bias", "implicit_filter.4.weight",
                           "implicit_filter.4.bias", "implicit_filter.6.weight"};
    const int shapes[][2] = {{5}, {8, 10}, {8}, {1, 8}, {8, 8}, {8}, {8, 8}, {8}, {5, 8}};
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "longconv2d", "d_model=5,filter_order=8", err, sizeof err), 0, "%s", err);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&op, specs);
    cr_assert_eq(count, 9);
    for (int i = 0; i < count; i++) {
        cr_expect_str_eq(specs[i].name, names[i]);
        for (int d = 0; d < specs[i].ndim; d++)
            cr_expect_eq(specs[i].shape[d], shapes[i][d], "%s dim %d", names[i], d);
    }
    cr_expect_eq(core_spec_total(specs, count), longconv2d_num_params(&op.cfg.longconv2d));
    /* freq starts at w; the skip bias is drawn from N(0, 1), so not all of it is within the Linear bound */
    float *p = malloc(op_num_params(&op) * sizeof *p);
    cr_assert_not_null(p);
    Rng rng;
    rng_init(&rng, 9);
    op_init(&op, p, &rng);
    for (int f = 0; f < 8; f++)
        cr_expect_eq(p[specs[3].offset + f], 1.0f);
    free(p);
}

Test(vision_longconv2d, validate_rejects_bad_emb_dim_decay_and_sizes)
{
    const char *bad[] = {"emb_dim=3", "emb_dim=8", "emb_dim=0", "target=0", "fast_decay_pct=-1", "modulate=2",
                         "num_inner_mlps=17", "height=0", "filter_order=0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Op op;
        char err[256];
        cr_expect_eq(op_configure(&op, "longconv2d", bad[i], err, sizeof err), -1, "%s accepted", bad[i]);
    }
}

/* ==== pooling ==== */

typedef enum PoolKind { POOL_MAX, POOL_AVG, POOL_GLOBAL } PoolKind;

/* Buffers for one pooling case: x (B, H W, C), y and dy (B, outputs, C), dx, argmax. */
typedef struct PoolCase {
    PoolKind kind;
    Pool2dShape s;
    size_t nx, ny;
    float *x, *y, *dy, *dx;
    int32_t *argmax;
} PoolCase;

static PoolCase pool_case(PoolKind kind, Pool2dShape s, uint64_t seed)
{
    PoolCase pc = {kind, s, (size_t)s.batch * s.height * s.width * s.channels, 0, NULL, NULL, NULL, NULL, NULL};
    size_t outputs = kind == POOL_GLOBAL ? 1 : (size_t)pool2d_out_height(&s) * pool2d_out_width(&s);
    pc.ny = (size_t)s.batch * outputs * s.channels;
    pc.x = malloc(pc.nx * sizeof(float)), pc.dx = malloc(pc.nx * sizeof(float));
    pc.y = malloc(pc.ny * sizeof(float)), pc.dy = malloc(pc.ny * sizeof(float));
    pc.argmax = malloc(pc.ny * sizeof(int32_t));
    cr_assert(pc.x && pc.dx && pc.y && pc.dy && pc.argmax);
    /* Distinct values at least 0.01 apart (a shuffled ramp), so that a finite-difference step of 1e-3 never
     * changes which entry of a window is the maximum. */
    Rng rng;
    rng_init(&rng, seed);
    for (size_t i = 0; i < pc.nx; i++)
        pc.x[i] = 0.01f * (float)i - 0.005f * (float)pc.nx;
    for (size_t i = pc.nx; i > 1; i--) {
        size_t j = rng_below(&rng, (uint32_t)i);
        float t = pc.x[i - 1];
        pc.x[i - 1] = pc.x[j], pc.x[j] = t;
    }
    fill_normal(pc.dy, pc.ny, seed + 1, 1.0f);
    return pc;
}

static void pool_case_free(PoolCase *pc) { free(pc->x), free(pc->y), free(pc->dy), free(pc->dx), free(pc->argmax); }

static void pool_forward(PoolCase *pc)
{
    const Pool2dShape *s = &pc->s;
    if (pc->kind == POOL_MAX)
        pool2d_max_forward(s, pc->x, pc->y, pc->argmax);
    else if (pc->kind == POOL_AVG)
        pool2d_avg_forward(s, pc->x, pc->y);
    else
        pool2d_global_avg_forward(pc->x, pc->y, s->batch, s->height * s->width, s->channels);
}

static void pool_backward(PoolCase *pc)
{
    const Pool2dShape *s = &pc->s;
    memset(pc->dx, 0x7f, pc->nx * sizeof(float)); /* garbage: backward must write every entry */
    if (pc->kind == POOL_MAX)
        pool2d_max_backward(s, pc->dy, pc->argmax, pc->dx);
    else if (pc->kind == POOL_AVG)
        pool2d_avg_backward(s, pc->dy, pc->dx);
    else
        pool2d_global_avg_backward(pc->dy, pc->dx, s->batch, s->height * s->width, s->channels);
}

static double pool_loss(PoolCase *pc)
{
    pool_forward(pc);
    double loss = 0.0;
    for (size_t i = 0; i < pc->ny; i++)
        loss += (double)pc->y[i] * pc->dy[i];
    return loss;
}

/* Central differences of sum(y * dy) at every input entry against dx. */
static void expect_pool_gradcheck(PoolKind kind, Pool2dShape s)
{
    PoolCase pc = pool_case(kind, s, 7);
    pool_forward(&pc);
    pool_backward(&pc);
    const float eps = 1e-3f;
    double worst = 0.0;
    size_t worst_at = 0;
    for (size_t i = 0; i < pc.nx; i++) {
        float saved = pc.x[i];
        pc.x[i] = saved + eps;
        double plus = pool_loss(&pc);
        pc.x[i] = saved - eps;
        double minus = pool_loss(&pc);
        pc.x[i] = saved;
        double numeric = (plus - minus) / (2.0 * eps), err = fabs(pc.dx[i] - numeric) / (fabs(numeric) + 1e-2);
        if (!(err <= worst))
            worst = err, worst_at = i;
    }
    cr_expect_leq(worst, GRAD_TOL, "kind %d %dx%dx%d k=%d: worst gradient error %.3g at x[%zu]", kind, s.height,
                  s.width, s.channels, s.kernel, worst, worst_at);
    pool_case_free(&pc);
}

Test(vision_pool, max_pool_gradients_match_finite_differences)
{
    expect_pool_gradcheck(POOL_MAX, (Pool2dShape){2, 4, 6, 3, 2});
    expect_pool_gradcheck(POOL_MAX, (Pool2dShape){1, 5, 7, 2, 2}); /* dropped last row and column */
    expect_pool_gradcheck(POOL_MAX, (Pool2dShape){2, 6, 6, 2, 3});
}

Test(vision_pool, avg_pool_gradients_match_finite_differences)
{
    expect_pool_gradcheck(POOL_AVG, (Pool2dShape){2, 4, 6, 3, 2});
    expect_pool_gradcheck(POOL_AVG, (Pool2dShape){1, 5, 7, 2, 2});
    expect_pool_gradcheck(POOL_AVG, (Pool2dShape){2, 6, 6, 2, 3});
}

Test(vision_pool, global_avg_pool_gradients_match_finite_differences)
{
    expect_pool_gradcheck(POOL_GLOBAL, (Pool2dShape){2, 4, 5, 3, 1});
    expect_pool_gradcheck(POOL_GLOBAL, (Pool2dShape){3, 1, 1, 4, 1});
}

/* Max and mean of every window by plain loops; argmax names the maximum's position in its image. */
Test(vision_pool, windows_give_the_maximum_with_its_position_and_the_mean)
{
    const Pool2dShape s = {2, 5, 7, 3, 2};
    PoolCase mx = pool_case(POOL_MAX, s, 3), avg = pool_case(POOL_AVG, s, 3);
    pool_forward(&mx);
    pool_forward(&avg);
    const int Ho = 2, Wo = 3, C = 3, W = 7;
    cr_assert_eq(pool2d_out_height(&s), Ho);
    cr_assert_eq(pool2d_out_width(&s), Wo);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++)
                for (int c = 0; c < C; c++) {
                    float best = -INFINITY;
                    int best_pos = -1;
                    double sum = 0.0;
                    for (int a = 0; a < 2; a++)
                        for (int d = 0; d < 2; d++) {
                            int pos = (2 * i + a) * W + 2 * j + d;
                            float v = mx.x[((size_t)b * 35 + pos) * C + c];
                            sum += v;
                            if (v > best)
                                best = v, best_pos = pos;
                        }
                    size_t o = (((size_t)b * Ho + i) * Wo + j) * C + c;
                    cr_expect_eq(mx.y[o], best);
                    cr_expect_eq(mx.argmax[o], best_pos);
                    cr_expect_float_eq(avg.y[o], sum / 4.0, 1e-6);
                }
    pool_case_free(&mx), pool_case_free(&avg);
}

Test(vision_pool, max_pool_propagates_nan)
{
    const Pool2dShape s = {1, 2, 2, 1, 2};
    float x[4] = {1.0f, NAN, 3.0f, 2.0f}, y;
    int32_t arg;
    pool2d_max_forward(&s, x, &y, &arg);
    cr_expect(isnan(y));
    cr_expect_eq(arg, 1);
}

/* Analytic counts against the operations of the textbook loops (core.h: comparisons and copies are free). */
Test(vision_pool, flops_count_adds_and_scalings_only)
{
    const Pool2dShape s = {2, 5, 7, 3, 2};
    const double outputs = 2.0 * 2 * 3 * 3; /* B Ho Wo C */
    OpFlops mx = pool2d_max_flops(&s), avg = pool2d_avg_flops(&s), glob = pool2d_global_avg_flops(2, 35, 3);
    cr_expect_eq(mx.forward, 0.0);
    cr_expect_eq(mx.backward, 0.0);
    cr_expect_eq(avg.forward, outputs * (3 + 1)); /* k^2 - 1 adds and a scaling */
    cr_expect_eq(avg.backward, outputs * 4);      /* one scaling per pooled input entry */
    cr_expect_eq(glob.forward, 2.0 * 3 * (34 + 1));
    cr_expect_eq(glob.backward, 2.0 * 3 * 35);
}

/* ==== the runner (`subq op run`) on the image operators ==== */

static char run_dir[64], run_in[128], run_out[128];

static void make_run_dir(void)
{
    snprintf(run_dir, sizeof run_dir, "/tmp/subq_vision_XXXXXX");
    cr_assert_not_null(mkdtemp(run_dir));
    snprintf(run_in, sizeof run_in, "%s/in.h5", run_dir);
    snprintf(run_out, sizeof run_out, "%s/out.h5", run_dir);
}

static void remove_run_dir(void)
{
    unlink(run_in), unlink(run_out);
    cr_assert_eq(rmdir(run_dir), 0);
}

TestSuite(vision_oprun, .init = make_run_dir, .fini = remove_run_dir);

/* IN.h5 with /x (B, L, d_in) and /dy (B, L, d_out) of the fixture; no params (the runner draws them). */
static void write_run_input(const OpFixture *fx, int L)
{
    char err[256];
    H5File *f = h5io_create_atomic(run_in, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    int xs[3] = {fx->B, L, fx->d_in}, ys[3] = {fx->B, L, fx->d_out};
    cr_assert_eq(h5io_write_floats(f, "x", fx->x, 3, xs, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_write_floats(f, "dy", fx->dy, 3, ys, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
}

static void expect_run_output(H5File *f, const char *path, const float *want, size_t n)
{
    char err[256];
    H5Tensor t;
    cr_assert_eq(h5io_read_tensor(f, path, &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.numel, n, "/%s has %zu values, expected %zu", path, t.numel, n);
    double diff = max_scaled_diff(t.data, want, n, 1e-6);
    cr_expect_leq(diff, 1e-6, "/%s differs from the direct run by %.3g", path, diff);
    h5io_tensor_free(&t);
}

static void expect_runner_matches_direct_run(const char *name, const char *config, int B, int L)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, name, config, B, L, 3, 0.0f), 0, "%s %s", name, config);
    Rng rng;
    rng_init(&rng, 42);
    op_init(&fx.op, fx.params, &rng);
    write_run_input(&fx, L);
    char err[512];
    cr_assert_eq(oprun_run(name, config, run_in, run_out, 42, err, sizeof err), OPRUN_OK, "%s: %s", name, err);
    fixture_backward(&fx);
    H5File *f = h5io_open_read(run_out, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    expect_run_output(f, "y", fx.y, (size_t)B * L * fx.d_out);
    expect_run_output(f, "dx", fx.dx, (size_t)B * L * fx.d_in);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&fx.op, specs);
    for (int t = 0; t < count; t++) {
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "grads/%.*s", CORE_NAME_LEN, specs[t].name);
        expect_run_output(f, path, fx.dparams + specs[t].offset, specs[t].numel);
    }
    h5io_close(f);
    unlink(run_out);
    fixture_teardown(&fx);
}

Test(vision_oprun, runner_runs_conv2d_and_longconv2d_like_a_direct_call)
{
    expect_runner_matches_direct_run("conv2d", "d_in=3,d_out=4,height=4,width=5,kernel=3", 2, 20);
    expect_runner_matches_direct_run("conv2d", "d_in=4,d_out=4,height=3,width=3,groups=4", 1, 9);
    expect_runner_matches_direct_run("longconv2d", "d_model=3,height=4,width=5,filter_order=8", 2, 20);
}

Test(vision_oprun, runner_refuses_a_sequence_that_is_not_the_image)
{
    const char *names[] = {"conv2d", "longconv2d"};
    const char *configs[] = {"d_in=3,d_out=3,height=4,width=5", "d_model=3,height=4,width=5,filter_order=8"};
    for (int i = 0; i < 2; i++) {
        OpFixture fx;
        cr_assert_eq(fixture_setup(&fx, names[i], configs[i], 1, 19, 3, 0.0f), 0);
        write_run_input(&fx, 19);
        char err[512] = "";
        int rc = oprun_run(names[i], configs[i], run_in, run_out, 0, err, sizeof err);
        cr_expect_eq(rc, OPRUN_BAD_INPUT, "%s: expected exit code 2, got %d (%s)", names[i], rc, err);
        cr_expect(strstr(err, "height * width = 4 * 5 = 20") != NULL, "%s", err);
        cr_expect(strchr(err, '\n') == NULL, "one line");
        cr_expect_neq(access(run_out, F_OK), 0, "no output file on bad input");
        fixture_teardown(&fx);
    }
}

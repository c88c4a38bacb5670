/* Hyena (ops/hyena.h) against: the plain-loop double reference (tests/ref_hyena.c), finite differences, the
 * instrumented FLOP count, and golden vectors from the PyTorch re-implementation of safari's HyenaOperator
 * (baselines/torch/ref_hyena.py, written by baselines/torch/golden_hyena.py). */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fftconv.h"
#include "h5io.h"
#include "hyena.h"
#include "hyena_filter.h"
#include "ref_hyena.h"
#include "testutil.h"

#define REF_TOL 1e-4     /* max |fast - reference| / max |reference|, per tensor */
#define GOLDEN_TOL 1e-5  /* the same against PyTorch (float64 from the stored float32 inputs) */
#define GOLDEN_FLOOR 1e-6

static HyenaConfig parse_config(const char *text)
{
    HyenaConfig cfg;
    char err[CONFIG_ERR_LEN];
    cr_assert_eq(config_parse(hyena_config_fields, hyena_config_field_count, text, &cfg, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(hyena_validate(&cfg, err, sizeof err), 0, "%s", err);
    return cfg;
}

/* max |a - b| / (max |b| + floor) with a float and b double. */
/* ---- parameter layout ---- */

Test(hyena, param_specs_follow_torch_named_parameters_order_and_shapes)
{
    const char *names[] = {"in_proj.weight", "in_proj.bias", "out_proj.weight", "out_proj.bias",
                           "short_filter.weight", "short_filter.bias", "filter_fn.bias", "filter_fn.pos_emb.z",
                           "filter_fn.implicit_filter.0.weight", "filter_fn.implicit_filter.0.bias",
                           "filter_fn.implicit_filter.1.freq", "filter_fn.implicit_filter.2.weight",
                           "filter_fn.implicit_filter.2.bias", "filter_fn.implicit_filter.4.weight",
                           "filter_fn.implicit_filter.4.bias", "filter_fn.implicit_filter.6.weight"};
    /* Shapes from SEMANTICS-hyena-s4d.md 1.7 for d_model=8, l_max=16, order=3, filter_order=8. */
    const int shapes[][3] = {{32, 8}, {32}, {8, 8}, {8}, {32, 1, 3}, {32}, {16}, {1, 16, 3}, {8, 3}, {8}, {1, 8},
                             {8, 8}, {8}, {8, 8}, {8}, {16, 8}};
    HyenaConfig cfg = parse_config("d_model=8,l_max=16,order=3,filter_order=8");
    ParamSpec specs[64];
    int count = hyena_param_specs(&cfg, specs);
    cr_assert_eq(count, 16);
    for (int i = 0; i < count; i++) {
        cr_expect_str_eq(specs[i].name, names[i]);
        for (int d = 0; d < specs[i].ndim; d++)
            cr_expect_eq(specs[i].shape[d], shapes[i][d], "%s dim %d", names[i], d);
    }
    cr_expect_eq(core_spec_total(specs, count), hyena_num_params(&cfg));
    /* The internal views point at the same offsets as the specs. */
    float *block = calloc(hyena_num_params(&cfg), sizeof *block);
    HyenaParams v = hyena_params_view(&cfg, block);
    const float *views[] = {v.in_w, v.in_b, v.out_w, v.out_b, v.short_w, v.short_b, v.filter_bias, v.z,
                            v.mlp_in_w, v.mlp_in_b, v.freq, v.mlp_inner, v.mlp_inner + 64, v.mlp_inner + 72,
                            v.mlp_inner + 136, v.mlp_out_w};
    for (int i = 0; i < count; i++)
        cr_expect_eq((size_t)(views[i] - block), specs[i].offset, "%s", names[i]);
    free(block);
}

Test(hyena, last_mlp_linear_is_named_by_its_sequential_index)
{
    HyenaConfig cfg = parse_config("d_model=4,l_max=8,filter_order=4,num_inner_mlps=0");
    ParamSpec specs[64];
    int count = hyena_param_specs(&cfg, specs);
    cr_assert_eq(count, 12);
    cr_expect_str_eq(specs[11].name, "filter_fn.implicit_filter.2.weight");
    cfg.num_inner_mlps = 3;
    count = hyena_param_specs(&cfg, specs);
    cr_assert_eq(count, 18);
    cr_expect_str_eq(specs[15].name, "filter_fn.implicit_filter.6.weight");
    cr_expect_str_eq(specs[17].name, "filter_fn.implicit_filter.8.weight");
}

Test(hyena, validate_rejects_order_one_even_emb_dim_and_bad_decay)
{
    const char *bad[] = {"order=1", "emb_dim=4", "emb_dim=1", "target=0", "fast_decay_pct=0", "short_filter_order=0",
                         "num_inner_mlps=17", "modulate=2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Op op;
        char err[256];
        cr_expect_eq(op_configure(&op, "hyena", bad[i], err, sizeof err), -1, "%s accepted", bad[i]);
    }
}

Test(hyena, rejects_sequences_longer_than_l_max)
{
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "hyena", "d_model=4,l_max=8", err, sizeof err), 0, "%s", err);
    cr_expect_eq(op_check_shape(&op, 1, 8, err, sizeof err), 0);
    cr_expect_eq(op_check_shape(&op, 1, 9, err, sizeof err), -1);
    cr_expect(strstr(err, "l_max") != NULL, "%s", err);
}

/* ---- against the plain-loop reference ---- */

/* Runs the fast operator and the reference on the same data; compares y, dx and every parameter gradient,
 * and checks the FLOP formula against the reference's count plus fftconv_cm_flops for the o-1 long
 * convolutions (the only part the reference does not count). */
static void expect_matches_reference(const char *config, int B, int L, uint64_t seed)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "hyena", config, B, L, seed, 0.1f), 0, "%s", config);
    const HyenaConfig *cfg = &fx.op.cfg.hyena;
    fixture_backward(&fx);
    const size_t n = (size_t)B * L * cfg->d_model;
    double *y = calloc(n, sizeof *y), *dx = calloc(n, sizeof *dx), *dp = calloc(fx.n_params, sizeof *dp);
    double ff, fb;
    cr_assert_eq(ref_hyena(cfg, fx.params, fx.x, fx.dy, B, L, y, dx, dp, &ff, &fb), 0);
    cr_expect_leq(max_scaled_diff_d(fx.y, y, n, 1e-12), REF_TOL, "%s L=%d: y differs by %.3g", config, L,
                  max_scaled_diff_d(fx.y, y, n, 1e-12));
    cr_expect_leq(max_scaled_diff_d(fx.dx, dx, n, 1e-12), REF_TOL, "%s L=%d: dx differs by %.3g", config, L,
                  max_scaled_diff_d(fx.dx, dx, n, 1e-12));
    ParamSpec specs[64];
    int count = hyena_param_specs(cfg, specs);
    for (int t = 0; t < count; t++) {
        double err = max_scaled_diff_d(fx.dparams + specs[t].offset, dp + specs[t].offset, specs[t].numel, 1e-12);
        cr_expect_leq(err, REF_TOL, "%s L=%d: grad %s differs by %.3g", config, L, specs[t].name, err);
    }
    OpFlops fast = hyena_flops(cfg, B, L), conv = fftconv_cm_flops(B, cfg->d_model, L, 1);
    double want_f = ff + (cfg->order - 1) * conv.forward, want_b = fb + (cfg->order - 1) * conv.backward;
    cr_expect_leq(fabs(fast.forward - want_f), 1e-12 * want_f, "%s: forward flops %.17g, counted %.17g", config,
                  fast.forward, want_f);
    cr_expect_leq(fabs(fast.backward - want_b), 1e-12 * want_b, "%s: backward flops %.17g, counted %.17g", config,
                  fast.backward, want_b);
    free(y), free(dx), free(dp);
    fixture_teardown(&fx);
}

Test(hyena, forward_and_backward_equal_naive_reference_order_2)
{
    expect_matches_reference("d_model=4,l_max=16,order=2,filter_order=4", 2, 16, 1);
    expect_matches_reference("d_model=4,l_max=16,order=2,filter_order=4", 2, 11, 2); /* L < l_max */
    expect_matches_reference("d_model=5,l_max=16,order=2,filter_order=6", 1, 1, 3);  /* a single step */
}

Test(hyena, forward_and_backward_equal_naive_reference_order_3)
{
    expect_matches_reference("d_model=4,l_max=16,order=3,filter_order=4", 2, 13, 4);
    expect_matches_reference("d_model=3,l_max=20,order=4,filter_order=5", 2, 20, 5);
}

Test(hyena, non_default_filter_options_equal_naive_reference)
{
    expect_matches_reference("d_model=4,l_max=12,filter_order=4,emb_dim=5,num_inner_mlps=0,w=3", 2, 12, 6);
    expect_matches_reference("d_model=4,l_max=12,filter_order=4,num_inner_mlps=3,short_filter_order=5", 2, 9, 7);
    expect_matches_reference("d_model=4,l_max=12,filter_order=4,shift=0.05,target=0.1,slow_decay_pct=2", 2, 12, 8);
    expect_matches_reference("d_model=4,l_max=12,filter_order=4,modulate=0,short_filter_order=1", 2, 12, 9);
}

Test(hyena, equals_naive_reference_at_a_length_with_several_transpose_tiles)
{
    expect_matches_reference("d_model=40,l_max=80,order=2,filter_order=8", 2, 70, 10);
}

/* Large enough that every elementwise loop takes its multi-threaded branch (L F, C L and B D L above the
 * thresholds in hyena.c and hyena_filter.c), so the per-thread partial sums are exercised. */
Test(hyena, equals_naive_reference_on_the_multithreaded_paths)
{
    expect_matches_reference("d_model=16,l_max=1100,order=2,filter_order=16", 2, 1100, 11);
}

/* ---- finite differences ---- */

static void expect_gradcheck(const char *config, int B, int L)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "hyena", config, B, L, 21, 0.1f), 0);
    char worst[256];
    double err = gradcheck_op(&fx, 1e-2f, 40, 1e-2, worst, sizeof worst);
    cr_expect_leq(err, 2e-2, "%s: worst gradient error %.3g at %s", config, err, worst);
    fixture_teardown(&fx);
}

/* Every parameter tensor (including pos_emb.z, the shared freq and filter_fn.bias) and x. */
Test(hyena, gradients_match_finite_differences_order_2)
{
    expect_gradcheck("d_model=4,l_max=12,order=2,filter_order=4", 2, 10);
}

Test(hyena, gradients_match_finite_differences_order_3)
{
    expect_gradcheck("d_model=4,l_max=16,order=3,filter_order=4", 2, 16);
}

/* ---- properties ---- */

Test(hyena, output_at_t_does_not_depend_on_later_inputs)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "hyena", "d_model=4,l_max=12,order=3,filter_order=4", 1, 12, 31, 0.1f), 0);
    expect_causal(&fx, 7);
    fixture_teardown(&fx);
}

Test(hyena, default_init_sets_freq_to_w_and_z_to_the_positional_embedding)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "hyena", "d_model=4,l_max=10,filter_order=6,w=2.5", 1, 4, 51, 0.0f), 0);
    const HyenaConfig *cfg = &fx.op.cfg.hyena;
    HyenaParams p = hyena_params_view(cfg, fx.params);
    for (int f = 0; f < 6; f++)
        cr_expect_eq(p.freq[f], 2.5f);
    for (int l = 0; l < 10; l++) {
        cr_expect_float_eq(p.z[l * 3], l / 9.0f, 1e-7f);
        cr_expect_float_eq(p.z[l * 3 + 1], cosf(1e-4f * 2.0f * (float)M_PI * l / 10.0f), 1e-7f);
        cr_expect_float_eq(p.z[l * 3 + 2], -sinf(1e-4f * 2.0f * (float)M_PI * l / 10.0f), 1e-9f);
    }
    fixture_teardown(&fx);
}

/* ---- golden vectors from PyTorch ---- */

#define GOLDEN_DIR "tests/golden" /* relative to the repository root, where the tests run */

static H5Tensor golden_tensor(H5File *f, const char *file, const char *path)
{
    char err[256];
    H5Tensor t;
    cr_assert_eq(h5io_read_tensor(f, path, &t, err, sizeof err), 0, "%s: %s", file, err);
    return t;
}

static void expect_golden(H5File *f, const char *file, const char *path, const float *got, size_t n)
{
    H5Tensor want = golden_tensor(f, file, path);
    cr_assert_eq(want.numel, n, "%s: /%s has %zu values, expected %zu", file, path, want.numel, n);
    double err = max_scaled_diff(got, want.data, n, GOLDEN_FLOOR);
    cr_expect_leq(err, GOLDEN_TOL, "%s: /%s differs from PyTorch by %.3g (scaled)", file, path, err);
    h5io_tensor_free(&want);
}

/* Loads /params/<name> for every spec (shapes must agree) and checks there is no other tensor. */
static void load_golden_params(H5File *f, const char *file, float *params, const ParamSpec *specs, int count)
{
    char names[64][128];
    cr_assert_eq(h5io_list(f, "params", names, 64), count, "%s: wrong number of tensors under /params", file);
    for (int t = 0; t < count; t++) {
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "params/%.*s", CORE_NAME_LEN, specs[t].name);
        H5Tensor p = golden_tensor(f, file, path);
        cr_assert_eq(p.ndim, specs[t].ndim, "%s: /%s rank", file, path);
        for (int d = 0; d < p.ndim; d++)
            cr_assert_eq(p.shape[d], specs[t].shape[d], "%s: /%s dim %d", file, path, d);
        memcpy(params + specs[t].offset, p.data, p.numel * sizeof(float));
        h5io_tensor_free(&p);
    }
}

/* Opens a golden file and sets up a fixture configured from its attributes with x, dy, params loaded. */
static H5File *golden_fixture(const char *file, OpFixture *fx)
{
    char err[256], op_name[64], config[256];
    H5File *f = h5io_open_read(file, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    cr_assert_eq(h5io_read_attr_str(f, "/", "op", op_name, sizeof op_name), 0, "%s: no op attribute", file);
    cr_assert_eq(h5io_read_attr_str(f, "/", "config", config, sizeof config), 0, "%s: no config attribute", file);
    cr_assert_str_eq(op_name, "hyena");
    H5Tensor x = golden_tensor(f, file, "x"), dy = golden_tensor(f, file, "dy");
    cr_assert_eq(x.ndim, 3, "%s: /x must be (B, L, D)", file);
    cr_assert_eq(fixture_setup(fx, "hyena", config, x.shape[0], x.shape[1], 1, 0.0f), 0, "%s: %s", file, config);
    cr_assert_eq(x.numel, (size_t)fx->B * fx->L * fx->d_in);
    cr_assert_eq(dy.numel, x.numel);
    memcpy(fx->x, x.data, x.numel * sizeof(float));
    memcpy(fx->dy, dy.data, dy.numel * sizeof(float));
    h5io_tensor_free(&x), h5io_tensor_free(&dy);
    ParamSpec specs[64];
    int count = op_param_specs(&fx->op, specs);
    load_golden_params(f, file, fx->params, specs, count);
    return f;
}

static void expect_matches_golden(const char *file)
{
    OpFixture fx;
    H5File *f = golden_fixture(file, &fx);
    fixture_backward(&fx);
    const size_t n = (size_t)fx.B * fx.L * fx.d_in;
    expect_golden(f, file, "y", fx.y, n);
    expect_golden(f, file, "dx", fx.dx, n);
    ParamSpec specs[64];
    int count = op_param_specs(&fx.op, specs);
    for (int t = 0; t < count; t++) {
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "grads/%.*s", CORE_NAME_LEN, specs[t].name);
        expect_golden(f, file, path, fx.dparams + specs[t].offset, specs[t].numel);
    }
    fixture_teardown(&fx);
    h5io_close(f);
}

/* L = 12 < l_max = 16: the filter comes from the first 12 points of the l_max grid. */
Test(hyena, order_2_matches_torch_hyena_operator) { expect_matches_golden(GOLDEN_DIR "/hyena_o2.h5"); }
Test(hyena, order_3_matches_torch_hyena_operator) { expect_matches_golden(GOLDEN_DIR "/hyena_o3.h5"); }

/* Distance in units in the last place between two finite floats (0 when equal, including -0 and +0). */
static long ulps_apart(float a, float b)
{
    if (a == b)
        return 0;
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    if ((ia < 0) != (ib < 0))
        return LONG_MAX;
    return labs((long)ia - (long)ib);
}

/* torch builds t, deltas and the default z in float32. We follow torch.linspace's scalar formula; its
 * vectorised loop (AVX2 lanes of 8) rounds a few entries differently, so up to 1 ulp is allowed; cos and
 * sin of the tiny band frequency agree exactly with torch's for emb_dim = 3. */
static void expect_buffers_match_torch(const char *file)
{
    OpFixture fx;
    H5File *f = golden_fixture(file, &fx);
    const HyenaConfig *cfg = &fx.op.cfg.hyena;
    const int C = (cfg->order - 1) * cfg->d_model;
    H5Tensor t = golden_tensor(f, file, "buffers/t"), deltas = golden_tensor(f, file, "buffers/deltas");
    H5Tensor z = golden_tensor(f, file, "params/filter_fn.pos_emb.z");
    cr_assert_eq(t.numel, (size_t)cfg->l_max);
    cr_assert_eq(deltas.numel, (size_t)C);
    cr_assert_eq(z.numel, (size_t)cfg->l_max * cfg->emb_dim);
    for (int l = 0; l < cfg->l_max; l++)
        cr_expect_leq(ulps_apart(hyena_linspace(0.0f, 1.0f, cfg->l_max, l), t.data[l]), 1, "t[%d]", l);
    for (int c = 0; c < C; c++)
        cr_expect_leq(ulps_apart(hyena_delta(cfg, c), deltas.data[c]), 1, "deltas[%d]", c);
    float *zc = malloc(z.numel * sizeof *zc);
    hyena_init_pos_emb(cfg, zc);
    for (size_t i = 0; i < z.numel; i++)
        cr_expect_leq(ulps_apart(zc[i], z.data[i]), 1, "z[%zu]: %.9g, torch %.9g", i, zc[i], z.data[i]);
    free(zc);
    h5io_tensor_free(&t), h5io_tensor_free(&deltas), h5io_tensor_free(&z);
    fixture_teardown(&fx);
    h5io_close(f);
}

Test(hyena, default_pos_emb_z_and_buffers_t_deltas_match_torch)
{
    expect_buffers_match_torch(GOLDEN_DIR "/hyena_o2.h5");
    expect_buffers_match_torch(GOLDEN_DIR "/hyena_o3.h5");
}

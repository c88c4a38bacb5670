/* Attention (ops/attention.h), both kernels, against: the plain-loop double reference (tests/ref_attention.c),
 * each other, finite differences and the instrumented FLOP count; plus causality, the memory contract of
 * the tiled kernel and the PyTorch parameter layout and init. Golden vectors from torch.nn.MultiheadAttention
 * are checked in test_golden.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "ref_attention.h"
#include "testutil.h"

#define REF_TOL 1e-4   /* max |fast - reference| / (max |reference| + REF_FLOOR), per tensor */
#define REF_FLOOR 1e-6
#define GRAD_EPS 1e-2f /* finite differences in float32: see test_ops.c */
#define GRAD_ATOL 1e-2
#define GRAD_TOL 1e-2

/* Lengths around the tile sizes (64-row query blocks, 128- and 256-row key blocks) and off them. */
static const int odd_lengths[] = {1, 5, 63, 64, 65, 200, 257, 513}; /* 513: three forward query blocks */
#define N_LENGTHS (int)(sizeof odd_lengths / sizeof odd_lengths[0])
/* Several head widths: hd = 8, 12 and an odd 5. */
static const char *const shapes[] = {"d_model=16,n_heads=2", "d_model=36,n_heads=3", "d_model=40,n_heads=8"};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static void setup(OpFixture *fx, const char *shape, const char *impl, int B, int L, uint64_t seed)
{
    char config[128];
    snprintf(config, sizeof config, "%s,impl=%s", shape, impl);
    cr_assert_eq(fixture_setup(fx, "attention", config, B, L, seed, 0.1f), 0, "setup %s", config);
}

static float *to_float(const double *x, size_t n)
{
    float *f = malloc(n * sizeof *f);
    cr_assert_not_null(f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}

/* The double reference's y, dx and gradients, rounded to float for max_scaled_diff. */
typedef struct RefResult {
    float *y, *dx, *dparams;
    double flops_forward, flops_backward;
} RefResult;

static RefResult run_reference(const OpFixture *fx)
{
    size_t n = (size_t)fx->B * fx->L * fx->d_in;
    double *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx), *dp = malloc(fx->n_params * sizeof *dp);
    cr_assert(y && dx && dp);
    RefResult r = {0};
    cr_assert_eq(ref_attention(&fx->op.cfg.attention, fx->params, fx->x, fx->dy, fx->B, fx->L, y, dx, dp,
                               &r.flops_forward, &r.flops_backward),
                 0);
    r.y = to_float(y, n), r.dx = to_float(dx, n), r.dparams = to_float(dp, fx->n_params);
    free(y), free(dx), free(dp);
    return r;
}

static void free_reference(RefResult *r) { free(r->y), free(r->dx), free(r->dparams); }

/* Compares dx and every parameter gradient tensor of got against want (same fixture shapes). */
static void expect_gradients_close(const OpFixture *got, const float *want_dx, const float *want_dparams,
                                   const char *what)
{
    size_t n = (size_t)got->B * got->L * got->d_in;
    double err = max_scaled_diff(got->dx, want_dx, n, REF_FLOOR);
    cr_expect_leq(err, REF_TOL, "%s: dx differs by %.3g (scaled)", what, err);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&got->op, specs);
    for (int t = 0; t < count; t++) {
        err = max_scaled_diff(got->dparams + specs[t].offset, want_dparams + specs[t].offset, specs[t].numel,
                              REF_FLOOR);
        cr_expect_leq(err, REF_TOL, "%s: grad %s differs by %.3g (scaled)", what, specs[t].name, err);
    }
}

/* ---- values ---- */

static void expect_forward_matches_reference(const char *impl)
{
    for (int s = 0; s < N_SHAPES; s++)
        for (int i = 0; i < N_LENGTHS; i++) {
            OpFixture fx;
            setup(&fx, shapes[s], impl, 2, odd_lengths[i], 100 + i);
            fixture_forward(&fx);
            RefResult ref = run_reference(&fx);
            double err = max_scaled_diff(fx.y, ref.y, (size_t)fx.B * fx.L * fx.d_out, REF_FLOOR);
            cr_expect_leq(err, REF_TOL, "%s %s L=%d: y differs from the reference by %.3g", impl, shapes[s],
                          odd_lengths[i], err);
            free_reference(&ref);
            fixture_teardown(&fx);
        }
}

Test(attention, naive_forward_matches_double_reference_on_odd_lengths) { expect_forward_matches_reference("naive"); }
Test(attention, tiled_forward_matches_double_reference_on_odd_lengths) { expect_forward_matches_reference("tiled"); }

Test(attention, naive_backward_matches_double_reference_on_odd_lengths)
{
    for (int s = 0; s < N_SHAPES; s++)
        for (int i = 0; i < N_LENGTHS; i++) {
            OpFixture fx;
            char what[96];
            setup(&fx, shapes[s], "naive", 2, odd_lengths[i], 200 + i);
            fixture_backward(&fx);
            RefResult ref = run_reference(&fx);
            snprintf(what, sizeof what, "naive %s L=%d vs reference", shapes[s], odd_lengths[i]);
            expect_gradients_close(&fx, ref.dx, ref.dparams, what);
            free_reference(&ref);
            fixture_teardown(&fx);
        }
}

Test(attention, tiled_backward_matches_naive_backward_on_odd_lengths)
{
    for (int s = 0; s < N_SHAPES; s++)
        for (int i = 0; i < N_LENGTHS; i++) {
            OpFixture naive, tiled;
            char what[96];
            setup(&naive, shapes[s], "naive", 2, odd_lengths[i], 300 + i);
            setup(&tiled, shapes[s], "tiled", 2, odd_lengths[i], 300 + i);
            fixture_backward(&naive);
            fixture_backward(&tiled);
            snprintf(what, sizeof what, "tiled %s L=%d vs naive", shapes[s], odd_lengths[i]);
            expect_gradients_close(&tiled, naive.dx, naive.dparams, what);
            double err = max_scaled_diff(tiled.y, naive.y, (size_t)naive.B * naive.L * naive.d_out, REF_FLOOR);
            cr_expect_leq(err, REF_TOL, "%s: y differs by %.3g", what, err);
            fixture_teardown(&naive);
            fixture_teardown(&tiled);
        }
}

/* Scores of several hundred: exp overflows unless each kernel subtracts its (running) row maximum. */
Test(attention, both_kernels_stay_finite_and_accurate_with_large_scores)
{
    const char *impls[] = {"naive", "tiled"};
    for (int k = 0; k < 2; k++) {
        OpFixture fx;
        setup(&fx, "d_model=16,n_heads=2", impls[k], 1, 300, 11);
        for (size_t i = 0; i < (size_t)fx.L * fx.d_in; i++)
            fx.x[i] *= 12.0f;
        fixture_backward(&fx);
        RefResult ref = run_reference(&fx);
        double err = max_scaled_diff(fx.y, ref.y, (size_t)fx.L * fx.d_out, REF_FLOOR);
        cr_expect_leq(err, REF_TOL, "%s: y differs from the reference by %.3g", impls[k], err);
        char what[32];
        snprintf(what, sizeof what, "%s large scores", impls[k]);
        expect_gradients_close(&fx, ref.dx, ref.dparams, what);
        free_reference(&ref);
        fixture_teardown(&fx);
    }
}

/* ---- gradients ---- */

static void expect_gradients_match_finite_differences(const char *shape, const char *impl, int B, int L)
{
    OpFixture fx;
    setup(&fx, shape, impl, B, L, 7);
    char worst[256];
    double err = gradcheck_op(&fx, GRAD_EPS, 40, GRAD_ATOL, worst, sizeof worst);
    cr_expect_leq(err, GRAD_TOL, "%s %s B=%d L=%d: worst gradient error %.3g at %s", impl, shape, B, L, err, worst);
    fixture_teardown(&fx);
}

Test(attention, naive_gradients_match_finite_differences)
{
    expect_gradients_match_finite_differences("d_model=8,n_heads=2", "naive", 2, 5);
    expect_gradients_match_finite_differences("d_model=6,n_heads=1", "naive", 1, 9);
}

Test(attention, tiled_gradients_match_finite_differences_across_tiles)
{
    expect_gradients_match_finite_differences("d_model=8,n_heads=2", "tiled", 2, 5);
    expect_gradients_match_finite_differences("d_model=6,n_heads=2", "tiled", 1, 140); /* > 2 query blocks */
}

/* ---- FLOPs ---- */

Test(attention, flops_equal_the_instrumented_reference_count)
{
    const struct {
        const char *shape;
        int B, L;
    } cases[] = {{"d_model=12,n_heads=3", 2, 5}, {"d_model=8,n_heads=1", 1, 7}, {"d_model=10,n_heads=5", 3, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        OpFixture naive, tiled;
        setup(&naive, cases[c].shape, "naive", cases[c].B, cases[c].L, 5);
        setup(&tiled, cases[c].shape, "tiled", cases[c].B, cases[c].L, 5);
        RefResult ref = run_reference(&naive);
        OpFlops f = op_flops(&naive.op, cases[c].B, cases[c].L), g = op_flops(&tiled.op, cases[c].B, cases[c].L);
        cr_expect_eq(f.forward, ref.flops_forward, "%s: forward flops %.0f, counted %.0f", cases[c].shape,
                     f.forward, ref.flops_forward);
        cr_expect_eq(f.backward, ref.flops_backward, "%s: backward flops %.0f, counted %.0f", cases[c].shape,
                     f.backward, ref.flops_backward);
        cr_expect(f.forward == g.forward && f.backward == g.backward, "naive and tiled count the same work");
        free_reference(&ref);
        fixture_teardown(&naive);
        fixture_teardown(&tiled);
    }
}

/* ---- structure ---- */

/* Query t sees keys s <= t only, so changing token t leaves every earlier output bit-for-bit unchanged. */
Test(attention, perturbing_token_t_leaves_earlier_outputs_unchanged)
{
    const char *impls[] = {"naive", "tiled"};
    const int L = 150, t = 97;
    for (int k = 0; k < 2; k++) {
        OpFixture fx;
        setup(&fx, "d_model=16,n_heads=4", impls[k], 2, L, 13);
        size_t n = (size_t)fx.B * L * fx.d_out;
        fixture_forward(&fx);
        float *before = malloc(n * sizeof *before);
        cr_assert_not_null(before);
        memcpy(before, fx.y, n * sizeof *before);
        for (int b = 0; b < fx.B; b++)
            for (int c = 0; c < fx.d_in; c++)
                fx.x[((size_t)b * L + t) * fx.d_in + c] += 0.5f;
        fixture_forward(&fx);
        for (int b = 0; b < fx.B; b++) {
            size_t row0 = (size_t)b * L * fx.d_out;
            cr_expect_eq(memcmp(before + row0, fx.y + row0, (size_t)t * fx.d_out * sizeof(float)), 0,
                         "%s batch %d: an output before position %d changed", impls[k], b, t);
            double moved = max_scaled_diff(fx.y + row0 + (size_t)t * fx.d_out, before + row0 + (size_t)t * fx.d_out,
                                           fx.d_out, REF_FLOOR);
            cr_expect_gt(moved, 1e-3, "%s batch %d: the output at position %d did not react", impls[k], b, t);
        }
        free(before);
        fixture_teardown(&fx);
    }
}

/* DESIGN.md section 3: fixed seeds give the same numbers for the same thread count (no data races). */
Test(attention, tiled_forward_and_backward_are_bitwise_repeatable)
{
    OpFixture fx;
    setup(&fx, "d_model=24,n_heads=3", "tiled", 2, 300, 17);
    size_t n = (size_t)fx.B * fx.L * fx.d_in;
    float *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx), *dp = malloc(fx.n_params * sizeof *dp);
    cr_assert(y && dx && dp);
    fixture_backward(&fx);
    memcpy(y, fx.y, n * sizeof *y);
    memcpy(dx, fx.dx, n * sizeof *dx);
    memcpy(dp, fx.dparams, fx.n_params * sizeof *dp);
    fixture_backward(&fx);
    cr_expect_eq(memcmp(y, fx.y, n * sizeof *y), 0, "y changed between identical runs");
    cr_expect_eq(memcmp(dx, fx.dx, n * sizeof *dx), 0, "dx changed between identical runs");
    cr_expect_eq(memcmp(dp, fx.dparams, fx.n_params * sizeof *dp), 0, "dparams changed between identical runs");
    free(y), free(dx), free(dp);
    fixture_teardown(&fx);
}

Test(attention, tiled_memory_is_linear_in_length_and_naive_is_quadratic)
{
    AttentionConfig naive = {.d_model = 768, .n_heads = 12, .impl = ATTENTION_NAIVE};
    AttentionConfig tiled = {.d_model = 768, .n_heads = 12, .impl = ATTENTION_TILED};
    const int B = 1, L = 4096;
    const size_t bld = (size_t)B * L * 768, hll = (size_t)12 * L * L;
    size_t tiled_act = attention_act_floats(&tiled, B, L), tiled_ws = attention_workspace_floats(&tiled, B, L);
    cr_expect_lt(tiled_act, 5 * bld, "tiled act %zu floats, 5 B L D = %zu", tiled_act, 5 * bld);
    /* dqkv (3 B L D) plus a few small tiles and one length-L row per thread. */
    cr_expect_lt(tiled_ws, 4 * bld, "tiled workspace %zu floats, 4 B L D = %zu", tiled_ws, 4 * bld);
    cr_expect_geq(attention_act_floats(&naive, B, L), hll, "naive keeps every head's L x L probabilities");
}

Test(attention, param_specs_follow_torch_multihead_attention)
{
    AttentionConfig cfg = {.d_model = 12, .n_heads = 3, .impl = ATTENTION_NAIVE};
    const char *names[] = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"};
    const int shapes2[][2] = {{36, 12}, {36, 0}, {12, 12}, {12, 0}};
    ParamSpec specs[4];
    cr_assert_eq(attention_param_specs(&cfg, specs), 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_str_eq(specs[i].name, names[i]);
        cr_expect_eq(specs[i].ndim, shapes2[i][1] ? 2 : 1, "%s", names[i]);
        cr_expect_eq(specs[i].shape[0], shapes2[i][0], "%s", names[i]);
        if (shapes2[i][1])
            cr_expect_eq(specs[i].shape[1], shapes2[i][1], "%s", names[i]);
    }
    cr_expect_eq(core_spec_total(specs, 4), attention_num_params(&cfg));
}

Test(attention, init_uses_xavier_in_proj_zero_biases_and_linear_default_out_proj)
{
    AttentionConfig cfg = {.d_model = 64, .n_heads = 4, .impl = ATTENTION_TILED};
    ParamSpec s[4];
    attention_param_specs(&cfg, s);
    float *p = malloc(attention_num_params(&cfg) * sizeof *p);
    cr_assert_not_null(p);
    Rng rng;
    rng_init(&rng, 3);
    attention_init(&cfg, p, &rng);
    const double bounds[] = {sqrt(6.0 / (64 + 3 * 64)), 0.0, 1.0 / sqrt(64.0), 0.0};
    for (int t = 0; t < 4; t++) {
        double max = 0.0, sum_sq = 0.0;
        for (size_t i = 0; i < s[t].numel; i++) {
            double v = fabs(p[s[t].offset + i]);
            max = v > max ? v : max;
            sum_sq += v * v;
        }
        cr_expect_leq(max, bounds[t], "%s: |w| %.4g above bound %.4g", s[t].name, max, bounds[t]);
        /* A uniform(-a, a) fill has RMS a / sqrt(3); within 5% for thousands of draws. */
        double rms = sqrt(sum_sq / s[t].numel), want = bounds[t] / sqrt(3.0);
        cr_expect(fabs(rms - want) <= 0.05 * want, "%s: RMS %.4g, expected %.4g", s[t].name, rms, want);
    }
    free(p);
}

Test(attention, config_rejects_heads_that_do_not_divide_the_width)
{
    Op op;
    char err[CONFIG_ERR_LEN], text[128];
    cr_expect_eq(op_configure(&op, "attention", "d_model=12,n_heads=5", err, sizeof err), -1);
    cr_expect_eq(op_configure(&op, "attention", "d_model=12,n_heads=0", err, sizeof err), -1);
    cr_expect_eq(op_configure(&op, "attention", "d_model=12,impl=flash", err, sizeof err), -1);
    cr_assert_eq(op_configure(&op, "attention", "d_model=12,n_heads=3,impl=tiled", err, sizeof err), 0, "%s", err);
    cr_expect_eq(op.cfg.attention.impl, ATTENTION_TILED);
    cr_assert_eq(op_config_string(&op, text, sizeof text), 0);
    cr_expect_str_eq(text, "d_model=12,n_heads=3,impl=tiled,causal=1");
    cr_expect_eq(op_configure(&op, "attention", "d_model=12,n_heads=3,causal=2", err, sizeof err), -1);
}

/* ---- bidirectional attention (causal=0, the ViT encoder's) ---- */

/* Both kernels, forward and backward, against the double reference without a mask, across the tile sizes. */
Test(attention, bidirectional_kernels_match_double_reference_on_odd_lengths)
{
    const char *impls[] = {"naive", "tiled"};
    const int lengths[] = {1, 5, 65, 200, 257};
    char shape[96], what[128];
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < N_SHAPES; s++)
            for (int i = 0; i < (int)(sizeof lengths / sizeof lengths[0]); i++) {
                OpFixture fx;
                snprintf(shape, sizeof shape, "%s,causal=0", shapes[s]);
                setup(&fx, shape, impls[k], 2, lengths[i], 400 + i);
                fixture_backward(&fx);
                RefResult ref = run_reference(&fx);
                double err = max_scaled_diff(fx.y, ref.y, (size_t)fx.B * fx.L * fx.d_out, REF_FLOOR);
                cr_expect_leq(err, REF_TOL, "%s %s L=%d: y differs from the reference by %.3g", impls[k], shape,
                              lengths[i], err);
                snprintf(what, sizeof what, "%s %s L=%d vs reference", impls[k], shape, lengths[i]);
                expect_gradients_close(&fx, ref.dx, ref.dparams, what);
                free_reference(&ref);
                fixture_teardown(&fx);
            }
}

Test(attention, bidirectional_gradients_match_finite_differences)
{
    expect_gradients_match_finite_differences("d_model=8,n_heads=2,causal=0", "naive", 2, 5);
    expect_gradients_match_finite_differences("d_model=6,n_heads=2,causal=0", "tiled", 1, 140); /* > 2 blocks */
}

Test(attention, bidirectional_flops_count_every_query_key_pair)
{
    OpFixture naive, tiled;
    setup(&naive, "d_model=12,n_heads=3,causal=0", "naive", 2, 5, 5);
    setup(&tiled, "d_model=12,n_heads=3,causal=0", "tiled", 2, 5, 5);
    RefResult ref = run_reference(&naive);
    OpFlops f = op_flops(&naive.op, 2, 5), g = op_flops(&tiled.op, 2, 5);
    cr_expect_eq(f.forward, ref.flops_forward, "forward flops %.0f, counted %.0f", f.forward, ref.flops_forward);
    cr_expect_eq(f.backward, ref.flops_backward, "backward flops %.0f, counted %.0f", f.backward,
                 ref.flops_backward);
    cr_expect(f.forward == g.forward && f.backward == g.backward, "naive and tiled count the same work");
    free_reference(&ref);
    fixture_teardown(&naive);
    fixture_teardown(&tiled);
}

/* Without the mask the first query sees the last key: changing the last token moves output 0. */
Test(attention, bidirectional_first_output_sees_the_last_token)
{
    const char *impls[] = {"naive", "tiled"};
    const int L = 150;
    for (int k = 0; k < 2; k++) {
        OpFixture fx;
        setup(&fx, "d_model=16,n_heads=4,causal=0", impls[k], 1, L, 17);
        fixture_forward(&fx);
        float before[16];
        memcpy(before, fx.y, sizeof before);
        for (int c = 0; c < fx.d_in; c++)
            fx.x[(size_t)(L - 1) * fx.d_in + c] += 0.5f;
        fixture_forward(&fx);
        double moved = max_scaled_diff(fx.y, before, 16, REF_FLOOR);
        cr_expect_gt(moved, 1e-4, "%s: output 0 did not react to token %d (%.3g)", impls[k], L - 1, moved);
        fixture_teardown(&fx);
    }
}

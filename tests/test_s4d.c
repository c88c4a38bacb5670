/* S4D (ops/s4d.h) against: the plain double reference (tests/ref_s4d.c: direct complex exponentials, direct
 * O(L^2) convolution, term-by-term kernel derivatives), finite differences, the kernel's double-precision
 * reference at long lengths, and the instrumented FLOP count. The PyTorch golden vectors
 * (tests/golden/s4d_*.h5, from baselines/torch/golden_s4d.py) are checked by tests/test_golden.c, which runs
 * every registry operator's files generically. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fftconv.h"
#include "ref_s4d.h"
#include "s4d.h"
#include "testutil.h"

#define FWD_TOL 1e-5    /* max |fast - reference| / max |reference|, y */
#define BWD_TOL 1e-5    /* the same for dx and each parameter gradient */
#define KERNEL_TOL 1e-6 /* |K - K_ref| / (|K_ref| + KERNEL_FLOOR scale) at every sampled position */
#define KERNEL_FLOOR 1e-3

/* max |a - b| / (max |b| + 1e-12), a float and b double. */
static void setup(OpFixture *fx, int B, int L, int H, int N, uint64_t seed)
{
    char config[128];
    snprintf(config, sizeof config, "d_model=%d,d_state=%d", H, N);
    cr_assert_eq(fixture_setup(fx, "s4d", config, B, L, seed, 0.1f), 0, "%s", config);
}

/* ---- parameter layout and config ---- */

Test(s4d, param_specs_follow_torch_named_parameters_order_and_shapes)
{
    /* SEMANTICS-hyena-s4d.md 2.2, S4D(d_model=4, d_state=8). */
    const char *names[] = {"D", "kernel.C", "kernel.log_dt", "kernel.log_A_real", "kernel.A_imag",
                           "output_linear.0.weight", "output_linear.0.bias"};
    const int ndim[] = {1, 3, 1, 2, 2, 3, 1};
    const int shapes[][3] = {{4}, {4, 4, 2}, {4}, {4, 4}, {4, 4}, {8, 4, 1}, {8}};
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "s4d", "d_model=4,d_state=8", err, sizeof err), 0, "%s", err);
    ParamSpec s[OP_MAX_PARAM_TENSORS];
    cr_assert_eq(op_param_specs(&op, s), S4D_PARAM_TENSORS);
    size_t offset = 0;
    for (int i = 0; i < S4D_PARAM_TENSORS; i++) {
        cr_expect_str_eq(s[i].name, names[i]);
        cr_expect_eq(s[i].ndim, ndim[i], "%s", names[i]);
        for (int d = 0; d < ndim[i]; d++)
            cr_expect_eq(s[i].shape[d], shapes[i][d], "%s dim %d", names[i], d);
        cr_expect_eq(s[i].offset, offset, "%s: tensors must be contiguous in spec order", names[i]);
        offset += s[i].numel;
    }
    cr_expect_eq(s4d_num_params(&op.cfg.s4d), offset);
    cr_expect_eq(op_num_params(&op), (size_t)(4 + 32 + 4 + 16 + 16 + 32 + 8));
}

Test(s4d, validate_rejects_odd_or_tiny_state_and_bad_dt_range)
{
    const char *bad[] = {"d_state=1", "d_state=7", "d_state=0", "d_model=0", "dt_min=0", "dt_min=0.5,dt_max=0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Op op;
        char err[256];
        cr_expect_eq(op_configure(&op, "s4d", bad[i], err, sizeof err), -1, "%s accepted", bad[i]);
    }
    Op op;
    char err[256];
    cr_expect_eq(op_configure(&op, "s4d", "d_model=3,d_state=2,dt_min=0.01,dt_max=0.01", err, sizeof err), 0, "%s",
                 err);
    cr_expect_eq(op_check_shape(&op, 1, 100000, err, sizeof err), 0, "no l_max: any length is accepted");
}

Test(s4d, default_init_is_s4d_lin_with_torch_default_conv1d)
{
    const int H = 256, M = 32;
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "s4d", "d_model=256,d_state=64,dt_min=0.002,dt_max=0.05", err, sizeof err), 0);
    ParamSpec s[OP_MAX_PARAM_TENSORS];
    op_param_specs(&op, s);
    float *p = calloc(op_num_params(&op), sizeof *p);
    cr_assert(p);
    Rng rng;
    rng_init(&rng, 7);
    op_init(&op, p, &rng);
    for (int i = 0; i < H * M; i++) {
        cr_expect_eq(p[s[3].offset + i], -0.6931472f, "log_A_real[%d] must be log 0.5", i);
        cr_expect_eq(p[s[4].offset + i], 3.14159274f * (float)(i % M), "A_imag[%d] must be fl32(pi) n", i);
    }
    for (int h = 0; h < H; h++) {
        float v = p[s[2].offset + h];
        cr_expect(v >= logf(0.002f) - 1e-6f && v < logf(0.05f) + 1e-6f, "log_dt[%d] = %g out of range", h, v);
    }
    double c2 = 0.0, d2 = 0.0;
    for (int i = 0; i < H * M * 2; i++)
        c2 += (double)p[s[1].offset + i] * p[s[1].offset + i];
    for (int h = 0; h < H; h++)
        d2 += (double)p[h] * p[h];
    cr_expect(fabs(c2 / (H * M * 2) - 0.5) < 0.03, "C parts must have variance 1/2, got %g", c2 / (H * M * 2));
    cr_expect(fabs(d2 / H - 1.0) < 0.3, "D must have variance 1, got %g", d2 / H);
    const float bound = 1.0f / sqrtf((float)H);
    for (size_t i = 0; i < s[5].numel + s[6].numel; i++)
        cr_expect(fabsf(p[s[5].offset + i]) <= bound, "output_linear[%zu] beyond 1/sqrt(H)", i);
    free(p);
}

/* ---- against the double reference ---- */

/* Fast forward and backward vs ref_s4d on the same data; y at FWD_TOL, dx and every gradient at BWD_TOL.
 * Also the FLOP count: the reference counts GELU, the Conv1d and GLU; the kernel and the convolution are
 * s4d_kernel_flops and fftconv_cm_flops. */
static void expect_matches_reference(int B, int L, int H, int N, uint64_t seed, int check_backward)
{
    OpFixture fx;
    setup(&fx, B, L, H, N, seed);
    const S4dConfig *cfg = &fx.op.cfg.s4d;
    fixture_backward(&fx);
    const size_t n = (size_t)B * L * H;
    double *y = calloc(n, sizeof *y), *dx = calloc(n, sizeof *dx), *dp = calloc(fx.n_params, sizeof *dp), ff, fb;
    cr_assert(y && dx && dp);
    cr_assert_eq(ref_s4d(cfg, fx.params, fx.x, fx.dy, B, L, y, dx, dp, &ff, &fb), 0);
    double err = max_scaled_diff_d(fx.y, y, n, 1e-12);
    cr_expect_leq(err, FWD_TOL, "B=%d L=%d H=%d N=%d: y differs from the reference by %.3g", B, L, H, N, err);
    if (check_backward) {
        err = max_scaled_diff_d(fx.dx, dx, n, 1e-12);
        cr_expect_leq(err, BWD_TOL, "L=%d H=%d N=%d: dx differs by %.3g", L, H, N, err);
        ParamSpec s[OP_MAX_PARAM_TENSORS];
        int count = op_param_specs(&fx.op, s);
        for (int t = 0; t < count; t++) {
            err = max_scaled_diff_d(fx.dparams + s[t].offset, dp + s[t].offset, s[t].numel, 1e-12);
            cr_expect_leq(err, BWD_TOL, "L=%d H=%d N=%d: grad %s differs by %.3g", L, H, N, s[t].name, err);
        }
    }
    OpFlops fast = s4d_flops(cfg, B, L), kernel = s4d_kernel_flops(cfg, L), conv = fftconv_cm_flops(B, H, L, 1);
    double want_f = ff + kernel.forward + conv.forward, want_b = fb + kernel.backward + conv.backward;
    cr_expect_leq(fabs(fast.forward - want_f), 1e-12 * want_f, "forward flops %.17g, counted %.17g", fast.forward,
                  want_f);
    cr_expect_leq(fabs(fast.backward - want_b), 1e-12 * want_b, "backward flops %.17g, counted %.17g",
                  fast.backward, want_b);
    free(y), free(dx), free(dp);
    fixture_teardown(&fx);
}

Test(s4d, forward_equals_direct_double_reference_over_lengths_widths_and_states)
{
    const int lengths[] = {1, 2, 17, 100}, widths[] = {1, 3}, states[] = {2, 8};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 2; c++)
                expect_matches_reference(2, lengths[a], widths[b], states[c], 100 + 10 * a + 3 * b + c, 0);
}

Test(s4d, backward_equals_direct_double_reference)
{
    expect_matches_reference(2, 1, 3, 2, 1, 1);
    expect_matches_reference(2, 17, 3, 8, 2, 1);
    expect_matches_reference(2, 100, 3, 8, 3, 1);  /* crosses a kernel block boundary (S4D_BLOCK = 64) */
    expect_matches_reference(1, 200, 2, 16, 4, 1); /* several blocks and a 2 x 2 anchor grid */
}

/* Large enough for the multi-threaded elementwise branches (B L H > 32768) and the engine's channel loop. */
Test(s4d, equals_direct_double_reference_on_the_multithreaded_paths)
{
    expect_matches_reference(2, 300, 64, 64, 5, 1);
}

/* ---- finite differences ---- */

/* eps trades two errors: the phase of exp(dtA l) moves by dt Im(A) l per unit of log_dt (up to ~45 rad at
 * L = 70 with 3 modes), so a large step bends the central difference (3e-3: ~0.3%); the float forward's
 * round-off in the loss (~1e-6 over a few hundred outputs) divided by 2 eps is the noise floor that atol
 * = 1e-2 absorbs for near-zero gradients. The tight check of the gradients is against the double reference
 * above; this one checks the formulas independently of it. */
static void expect_gradcheck(int L, int H, int N, float eps)
{
    OpFixture fx;
    char worst[256];
    setup(&fx, 2, L, H, N, 21);
    double err = gradcheck_op(&fx, eps, 24, 1e-2, worst, sizeof worst);
    cr_expect_leq(err, 2e-2, "L=%d H=%d N=%d: worst gradient error %.3g at %s", L, H, N, err, worst);
    fixture_teardown(&fx);
}

/* x and every parameter tensor, including the kernel's log_dt, C, log_A_real and A_imag. */
Test(s4d, gradients_of_input_and_every_parameter_match_finite_differences)
{
    expect_gradcheck(1, 2, 4, 1e-2f);
    expect_gradcheck(17, 3, 8, 3e-3f);
    expect_gradcheck(70, 2, 6, 3e-3f); /* past one kernel block */
}

/* ---- the kernel at long lengths ---- */

static float *fast_kernel(const S4dConfig *cfg, const float *params, int L)
{
    size_t nws = s4d_kernel_workspace_floats(cfg, L);
    float *K = core_alloc_floats((size_t)cfg->d_model * L), *buf = core_alloc_floats(nws);
    cr_assert(K && buf);
    Workspace ws;
    ws_init(&ws, buf, nws);
    s4d_kernel(cfg, params, K, L, &ws);
    core_free(buf);
    return K;
}

/* Worst |K - K_ref| / (|K_ref| + KERNEL_FLOOR scale) over positions l (count of them), channel h. The floor is
 * relative to the size of the summed terms, where the kernel crosses zero; 1e-30 covers positions where every
 * term has decayed below float range. */
static double kernel_error(const S4dConfig *cfg, const float *params, const float *K, int L, int h,
                           const long *positions, int count, long *where)
{
    double worst = 0.0;
    for (int i = 0; i < count; i++) {
        double scale, want = ref_s4d_kernel_at(cfg, params, h, positions[i], &scale);
        double err = fabs((double)K[(size_t)h * L + positions[i]] - want) / (fabs(want) + KERNEL_FLOOR * scale + 1e-30);
        if (!(err <= worst)) {
            worst = isnan(err) ? INFINITY : err;
            *where = positions[i];
        }
    }
    return worst;
}

/* Channels with dt from 1e-4 (slow decay, phases up to dt pi (M - 1) L ~ 640 rad at the end) to 0.1. Positions:
 * the first and last 100, both sides of 200 random block boundaries, 1000 random ones. */
Test(s4d, kernel_at_length_65536_matches_double_reference_at_sampled_positions)
{
    const int L = 65536, H = 4, count = 100 + 100 + 400 + 1000;
    OpFixture fx;
    setup(&fx, 1, 1, H, 64, 3);
    ParamSpec s[OP_MAX_PARAM_TENSORS];
    op_param_specs(&fx.op, s);
    const float dts[] = {1e-4f, 1e-3f, 1e-2f, 1e-1f};
    for (int h = 0; h < H; h++)
        fx.params[s[2].offset + h] = logf(dts[h]);
    float *K = fast_kernel(&fx.op.cfg.s4d, fx.params, L);
    long *positions = malloc(count * sizeof *positions);
    cr_assert(positions);
    Rng rng;
    rng_init(&rng, 99);
    for (int i = 0; i < 100; i++)
        positions[i] = i, positions[100 + i] = L - 1 - i;
    for (int i = 0; i < 200; i++) {
        long boundary = (long)(1 + rng_below(&rng, L / S4D_BLOCK - 1)) * S4D_BLOCK;
        positions[200 + 2 * i] = boundary - 1, positions[201 + 2 * i] = boundary;
    }
    for (int i = 600; i < count; i++)
        positions[i] = rng_below(&rng, L);
    for (int h = 0; h < H; h++) {
        long where = -1;
        double err = kernel_error(&fx.op.cfg.s4d, fx.params, K, L, h, positions, count, &where);
        cr_expect_leq(err, KERNEL_TOL, "dt=%g: kernel off by %.3g (scale-aware) at l=%ld", dts[h], err, where);
    }
    free(positions), core_free(K);
    fixture_teardown(&fx);
}

/* Every position, at lengths around the block size and with anchor grids that are not full squares. */
Test(s4d, kernel_matches_double_reference_at_every_position_of_awkward_lengths)
{
    const int lengths[] = {1, 63, 64, 65, 449, 3000};
    OpFixture fx;
    setup(&fx, 1, 1, 3, 16, 4);
    for (int i = 0; i < 6; i++) {
        const int L = lengths[i];
        float *K = fast_kernel(&fx.op.cfg.s4d, fx.params, L);
        long *positions = malloc((size_t)L * sizeof *positions);
        cr_assert(positions);
        for (int l = 0; l < L; l++)
            positions[l] = l;
        for (int h = 0; h < 3; h++) {
            long where = -1;
            double err = kernel_error(&fx.op.cfg.s4d, fx.params, K, L, h, positions, L, &where);
            cr_expect_leq(err, KERNEL_TOL, "L=%d h=%d: kernel off by %.3g at l=%ld", L, h, err, where);
        }
        free(positions), core_free(K);
    }
    fixture_teardown(&fx);
}

/* The kernel's backward at a length with a 6 x 6 anchor grid and a partial last block, against the term-by-term
 * derivatives of the reference, for a random dK; slow-decaying channels so that late positions matter. */
Test(s4d, kernel_backward_matches_double_reference_at_length_2000)
{
    const int L = 2000, H = 3;
    OpFixture fx;
    setup(&fx, 1, 1, H, 16, 6);
    const S4dConfig *cfg = &fx.op.cfg.s4d;
    ParamSpec s[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&fx.op, s);
    for (int h = 0; h < H; h++)
        fx.params[s[2].offset + h] = logf(1e-3f) + 0.5f * h; /* dt from 0.001 to 0.0027 */
    const size_t nws = s4d_kernel_workspace_floats(cfg, L), HL = (size_t)H * L;
    float *dK = malloc(HL * sizeof *dK), *buf = core_alloc_floats(nws), *grads = calloc(fx.n_params, sizeof(float));
    double *dK64 = malloc(HL * sizeof *dK64), *want = calloc(fx.n_params, sizeof *want);
    cr_assert(dK && buf && grads && dK64 && want);
    fill_normal(dK, HL, 77, 1.0f);
    for (size_t i = 0; i < HL; i++)
        dK64[i] = dK[i];
    Workspace ws;
    ws_init(&ws, buf, nws);
    s4d_kernel_backward(cfg, fx.params, dK, grads, L, &ws);
    ref_s4d_kernel_backward(cfg, fx.params, dK64, want, L);
    for (int t = 0; t < count; t++) {
        double err = max_scaled_diff_d(grads + s[t].offset, want + s[t].offset, s[t].numel, 1e-12);
        cr_expect_leq(err, BWD_TOL, "grad %s differs from the reference by %.3g", s[t].name, err);
    }
    free(dK), core_free(buf), free(grads), free(dK64), free(want);
    fixture_teardown(&fx);
}

/* ---- properties ---- */

Test(s4d, output_at_t_does_not_depend_on_later_inputs)
{
    OpFixture fx;
    setup(&fx, 1, 40, 3, 8, 31);
    expect_causal(&fx, 23);
    fixture_teardown(&fx);
}


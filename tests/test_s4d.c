/* S4D against a plain double reference (direct complex exponentials and convolution), finite differences for
 * every parameter including the kernel's, and the kernel's accuracy at long lengths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ref_s4d.h"
#include "testutil.h"

static void check_forward(int B, int L, int H, int N)
{
    char config[128];
    snprintf(config, sizeof config, "d_model=%d,d_state=%d", H, N);
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "s4d", config, B, L, 21, 0.05f), 0);
    fixture_forward(&fx);
    size_t n = (size_t)B * L * H;
    double *want = malloc(n * sizeof *want);
    float *wantf = malloc(n * sizeof *wantf);
    cr_assert(want && wantf);
    ref_s4d_forward(&fx.op.cfg.s4d, fx.params, fx.x, want, B, L);
    for (size_t i = 0; i < n; i++)
        wantf[i] = (float)want[i];
    double err = max_scaled_diff(fx.y, wantf, n, 1e-6);
    cr_expect_leq(err, 1e-5, "B=%d L=%d H=%d N=%d: forward differs from the reference by %.3g", B, L, H, N, err);
    free(want), free(wantf);
    fixture_teardown(&fx);
}

Test(s4d, forward_matches_the_direct_double_reference)
{
    const int lengths[] = {1, 2, 17, 100}, widths[] = {1, 3}, states[] = {2, 8};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 2; c++)
                check_forward(2, lengths[a], widths[b], states[c]);
}

/* eps must keep the phase change of exp(dtA l) small: d(phase)/d(log_dt) = dt Im(A) l reaches tens of radians
 * at L = 32 with 8 modes, so log_dt gets a central difference of 1e-3 (second-order error ~0.1%). */
static void check_gradients(int L, int H, int N, float eps)
{
    char config[128], worst[256] = "";
    snprintf(config, sizeof config, "d_model=%d,d_state=%d", H, N);
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "s4d", config, 2, L, 5, 0.05f), 0);
    double err = gradcheck_op(&fx, eps, 24, 1e-2, worst, sizeof worst);
    cr_expect_leq(err, 2e-2, "%s L=%d: worst gradient error %.3g at %s", config, L, err, worst);
    fixture_teardown(&fx);
}

Test(s4d, gradients_of_input_and_every_parameter_match_finite_differences)
{
    check_gradients(1, 2, 4, 1e-2f);
    check_gradients(17, 3, 8, 1e-3f);
    check_gradients(32, 2, 16, 1e-3f);
}

Test(s4d, kernel_stays_accurate_at_length_65536)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "s4d", "d_model=2,d_state=64", 1, 1, 3, 0.0f), 0);
    const int L = 65536;
    float *K = malloc(sizeof(float) * 2 * L);
    double *want = malloc(sizeof(double) * 2 * L);
    cr_assert(K && want);
    s4d_kernel(&fx.op.cfg.s4d, fx.params, K, L);
    ref_s4d_kernel(&fx.op.cfg.s4d, fx.params, want, L);
    double max_diff = 0, max_k = 0;
    for (int i = 0; i < 2 * L; i++) {
        max_diff = fmax(max_diff, fabs(K[i] - want[i]));
        max_k = fmax(max_k, fabs(want[i]));
    }
    cr_expect_leq(max_diff / max_k, 1e-5, "kernel at L=65536 off by %.3g (scaled)", max_diff / max_k);
    free(K), free(want);
    fixture_teardown(&fx);
}

Test(s4d, parameter_names_and_shapes_follow_the_reference_module)
{
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "s4d", "d_model=4,d_state=8", err, sizeof err), 0, "%s", err);
    ParamSpec s[OP_MAX_PARAM_TENSORS];
    cr_assert_eq(op_param_specs(&op, s), 7);
    const char *names[] = {"D", "kernel.C", "kernel.log_dt", "kernel.log_A_real", "kernel.A_imag",
                           "output_linear.0.weight", "output_linear.0.bias"};
    const size_t numel[] = {4, 32, 4, 16, 16, 32, 8};
    for (int i = 0; i < 7; i++) {
        cr_expect_str_eq(s[i].name, names[i]);
        cr_expect_eq(s[i].numel, numel[i], "%s", names[i]);
    }
    cr_expect_eq(op_configure(&op, "s4d", "d_model=4,d_state=1", err, sizeof err), -1);
    cr_expect_eq(op_configure(&op, "s4d", "d_model=4,dt_min=0.5,dt_max=0.1", err, sizeof err), -1);
}

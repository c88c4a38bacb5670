/* Tests of the mixture-of-experts operator (ops/moe.h): gradients against finite differences (noise fixed by
 * the seed), values, auxiliary losses and FLOP formulas against the double-precision plain-loop reference
 * (tests/ref_moe.c), the dense limit k = E against `ffn`, capacity accounting and config validation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ffn.h"
#include "moe.h"
#include "ref_moe.h"
#include "testutil.h"

/* Smaller than test_ops.c's 1e-2: a step of 1e-2 crosses ReLU kinks and top-k switches in these small cases;
 * the loss is accumulated in double, so 1e-3 still leaves float32 round-off far below GRAD_ATOL. */
#define GRAD_EPS 1e-3f
#define GRAD_ATOL 1e-2
#define GRAD_TOL 1e-2
#define REF_TOL 1e-5  /* float32 operator vs double reference, scaled by the tensor's max */

static void setup_moe(OpFixture *fx, const char *config, int B, int L, uint64_t seed)
{
    cr_assert_eq(fixture_setup(fx, "moe", config, B, L, seed, 0.3f), 0, "setup moe (%s)", config);
}

static void expect_gradients_match(const char *config, int B, int L, uint64_t seed)
{
    OpFixture fx;
    setup_moe(&fx, config, B, L, seed);
    char worst[256];
    double err = gradcheck_op(&fx, GRAD_EPS, 40, GRAD_ATOL, worst, sizeof worst);
    cr_expect_leq(err, GRAD_TOL, "moe (%s): worst gradient error %.3g at %s", config, err, worst);
    fixture_teardown(&fx);
}

Test(moe, gradients_match_finite_differences_with_seeded_noise)
{
    expect_gradients_match("d_model=6,n_experts=4,top_k=2,d_hidden=5,seed=3", 2, 3, 11);
}

Test(moe, gelu_top1_gradients_match_finite_differences_with_seeded_noise)
{
    expect_gradients_match("d_model=5,n_experts=3,top_k=1,d_hidden=4,activation=gelu,seed=8", 2, 4, 12);
}

Test(moe, infer_mode_gradients_match_finite_differences)
{
    expect_gradients_match("d_model=5,n_experts=4,top_k=3,d_hidden=3,activation=gelu,mode=infer", 1, 6, 13);
}

Test(moe, gradients_with_capacity_drops_match_finite_differences)
{
    expect_gradients_match("d_model=4,n_experts=3,top_k=2,d_hidden=3,capacity_factor=0.5,seed=5", 2, 4, 14);
}

/* Runs the operator and the reference on the same fixture; checks y, dx, every parameter gradient and both
 * FLOP counts (exact when nothing is dropped). */
static void expect_matches_reference(const char *config, int B, int L, uint64_t seed)
{
    OpFixture fx;
    setup_moe(&fx, config, B, L, seed);
    const MoeConfig *cfg = &fx.op.cfg.moe;
    const int N = B * L, D = cfg->d_model;
    fixture_backward(&fx);
    RefMoe r;
    cr_assert_eq(ref_moe_alloc(&r, cfg, N), 0);
    double fwd = 0.0, bwd = 0.0, *dx = calloc((size_t)N * D, sizeof *dx);
    double *dparams = calloc(fx.n_params, sizeof *dparams);
    cr_assert(dx && dparams);
    ref_moe_forward(cfg, fx.params, fx.x, &r, &fwd);
    ref_moe_backward(cfg, fx.params, fx.x, &r, fx.dy, dx, dparams, &bwd);
    cr_expect_leq(max_scaled_diff_d(fx.y, r.y, (size_t)N * D, 1e-6), REF_TOL, "%s: y", config);
    cr_expect_leq(max_scaled_diff_d(fx.dx, dx, (size_t)N * D, 1e-6), REF_TOL, "%s: dx", config);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&fx.op, specs);
    for (int t = 0; t < count; t++) {
        double err = max_scaled_diff_d(fx.dparams + specs[t].offset, dparams + specs[t].offset, specs[t].numel, 1e-6);
        cr_expect_leq(err, REF_TOL, "%s: grad %s differs by %.3g", config, specs[t].name, err);
    }
    if (cfg->capacity_factor == 0.0f) {
        OpFlops flops = op_flops(&fx.op, B, L);
        cr_expect_eq(flops.forward, fwd, "%s: forward flops %.0f, counted %.0f", config, flops.forward, fwd);
        cr_expect_eq(flops.backward, bwd, "%s: backward flops %.0f, counted %.0f", config, flops.backward, bwd);
    }
    free(dx), free(dparams);
    ref_moe_free(&r);
    fixture_teardown(&fx);
}

Test(moe, train_mode_with_noise_matches_double_reference_and_flop_formula)
{
    expect_matches_reference("d_model=12,n_experts=6,top_k=2,d_hidden=7,seed=21", 3, 5, 31);
}

Test(moe, train_mode_gelu_matches_double_reference_and_flop_formula)
{
    expect_matches_reference("d_model=9,n_experts=5,top_k=3,d_hidden=8,activation=gelu,seed=-4", 2, 7, 32);
}

Test(moe, infer_mode_matches_double_reference_and_flop_formula)
{
    expect_matches_reference("d_model=10,n_experts=7,top_k=1,d_hidden=6,mode=infer", 4, 3, 33);
    expect_matches_reference("d_model=8,n_experts=4,top_k=2,d_hidden=5,activation=gelu,mode=infer", 2, 5, 34);
}

Test(moe, noise_free_training_matches_double_reference_and_flop_formula)
{
    expect_matches_reference("d_model=8,n_experts=5,top_k=2,d_hidden=6,noise=0", 3, 3, 35);
}

Test(moe, capacity_limited_routing_matches_double_reference)
{
    expect_matches_reference("d_model=8,n_experts=4,top_k=2,d_hidden=5,capacity_factor=0.75,seed=2", 4, 6, 36);
}

Test(moe, flops_count_one_expert_pass_per_kept_assignment)
{
    /* Doubling k adds exactly the experts, the combine and the softmax over one more kept logit per token. */
    Op a, b;
    char err[CONFIG_ERR_LEN];
    cr_assert_eq(op_configure(&a, "moe", "d_model=16,n_experts=8,top_k=1,d_hidden=4,mode=infer", err, sizeof err), 0);
    cr_assert_eq(op_configure(&b, "moe", "d_model=16,n_experts=8,top_k=2,d_hidden=4,mode=infer", err, sizeof err), 0);
    const double N = 10, D = 16, H = 4;
    double per_assignment = (2 * D + 1) * H + (2 * H + 1) * D + 2 * D + 4;
    cr_expect_eq(op_flops(&b, 2, 5).forward - op_flops(&a, 2, 5).forward, N * per_assignment);
}

/* With k = E and no noise every expert is kept with the softmax weight of its clean logit: y is the
 * dense mixture sum_e softmax(x Wg^T)_e ffn_e(x), computed here with the `ffn` operator itself. */
Test(moe, top_k_equal_to_n_experts_without_noise_is_the_dense_softmax_mixture)
{
    enum { B = 2, L = 3, N = B * L, D = 6, H = 5, E = 4 };
    OpFixture fx;
    setup_moe(&fx, "d_model=6,n_experts=4,top_k=4,d_hidden=5,activation=gelu,noise=0", B, L, 41);
    fixture_forward(&fx);
    FfnConfig fc = {.d_model = D, .d_hidden = H};
    float block[2 * H * D + H + D], y_e[N * D], act[2 * N * H], logits[N * E];
    double want[N * D] = {0};
    ParamSpec s[6];
    moe_param_specs(&fx.op.cfg.moe, s);
    for (int n = 0; n < N; n++)
        for (int e = 0; e < E; e++) {
            double acc = 0.0;
            for (int d = 0; d < D; d++)
                acc += (double)fx.x[n * D + d] * fx.params[s[0].offset + e * D + d];
            logits[n * E + e] = (float)acc;
        }
    for (int e = 0; e < E; e++) {
        memcpy(block, fx.params + s[2].offset + e * H * D, H * D * sizeof(float));
        memcpy(block + H * D, fx.params + s[3].offset + e * H, H * sizeof(float));
        memcpy(block + H * D + H, fx.params + s[4].offset + e * D * H, D * H * sizeof(float));
        memcpy(block + 2 * H * D + H, fx.params + s[5].offset + e * D, D * sizeof(float));
        ffn_forward(&fc, block, fx.x, y_e, act, B, L, NULL);
        for (int n = 0; n < N; n++) {
            double sum = 0.0;
            for (int j = 0; j < E; j++)
                sum += exp(logits[n * E + j]);
            for (int d = 0; d < D; d++)
                want[n * D + d] += exp(logits[n * E + e]) / sum * y_e[n * D + d];
        }
    }
    cr_expect_leq(max_scaled_diff_d(fx.y, want, N * D, 1e-6), 1e-5, "k = E differs from the dense mixture");
    fixture_teardown(&fx);
}

static MoeAux aux_of(OpFixture *fx)
{
    MoeAux aux;
    ws_reset(&fx->ws);
    cr_assert_eq(moe_aux_losses(&fx->op.cfg.moe, fx->act, fx->B, fx->L, &aux, &fx->ws), 0);
    return aux;
}

static void expect_aux_matches_reference(const char *config, int B, int L, uint64_t seed)
{
    OpFixture fx;
    setup_moe(&fx, config, B, L, seed);
    fixture_forward(&fx);
    MoeAux aux = aux_of(&fx);
    RefMoe r;
    double flops = 0.0, importance, load, sw;
    cr_assert_eq(ref_moe_alloc(&r, &fx.op.cfg.moe, B * L), 0);
    ref_moe_forward(&fx.op.cfg.moe, fx.params, fx.x, &r, &flops);
    ref_moe_aux(&fx.op.cfg.moe, &r, &importance, &load, &sw);
    cr_expect(fabs(aux.importance_cv2 - importance) <= 1e-5 * fabs(importance) + 1e-9, "%s: importance %.9g, ref %.9g",
              config, aux.importance_cv2, importance);
    cr_expect(fabs(aux.load_cv2 - load) <= 1e-5 * fabs(load) + 1e-9, "%s: load %.9g, ref %.9g", config, aux.load_cv2,
              load);
    cr_expect(fabs(aux.switch_loss - sw) <= 1e-5 * fabs(sw), "%s: switch %.9g, ref %.9g", config, aux.switch_loss, sw);
    cr_expect_eq(aux.dropped_assignments, r.dropped_assignments, "%s", config);
    cr_expect_eq(aux.dropped_tokens, r.dropped_tokens, "%s", config);
    ref_moe_free(&r);
    fixture_teardown(&fx);
}

Test(moe, aux_losses_match_naive_computation)
{
    expect_aux_matches_reference("d_model=8,n_experts=6,top_k=2,d_hidden=4,seed=7", 4, 8, 51);      /* smooth load */
    expect_aux_matches_reference("d_model=8,n_experts=5,top_k=1,d_hidden=4,mode=infer", 3, 9, 52); /* counted load */
    expect_aux_matches_reference("d_model=6,n_experts=4,top_k=4,d_hidden=3,seed=1", 2, 5, 53);     /* k = E */
    expect_aux_matches_reference("d_model=6,n_experts=4,top_k=2,d_hidden=3,capacity_factor=0.5", 2, 8, 54);
}

Test(moe, single_expert_has_zero_cv_squared_and_unit_switch_loss)
{
    OpFixture fx;
    setup_moe(&fx, "d_model=4,n_experts=1,top_k=1,d_hidden=3", 2, 3, 55);
    fixture_forward(&fx);
    MoeAux aux = aux_of(&fx);
    cr_expect_eq(aux.importance_cv2, 0.0);
    cr_expect_eq(aux.load_cv2, 0.0);
    cr_expect(fabs(aux.switch_loss - 1.0) < 1e-12, "switch %.17g", aux.switch_loss);
    fixture_teardown(&fx);
}

/* loss = sum(y dy) + weights . (importance_cv2, load_cv2, switch_loss), in double. */
static double aux_loss(OpFixture *fx, const float w[3])
{
    fixture_forward(fx);
    MoeAux aux = aux_of(fx);
    double loss = w[0] * aux.importance_cv2 + w[1] * aux.load_cv2 + w[2] * aux.switch_loss;
    for (size_t i = 0; i < (size_t)fx->B * fx->L * fx->d_out; i++)
        loss += (double)fx->y[i] * fx->dy[i];
    return loss;
}

/* Worst |analytic - numeric| / (|numeric| + atol) over every `stride`-th entry of values. */
static double aux_check(OpFixture *fx, const float w[3], float *values, const float *analytic, size_t n,
                        size_t stride, float eps)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i += stride) {
        float saved = values[i];
        values[i] = saved + eps;
        double plus = aux_loss(fx, w);
        values[i] = saved - eps;
        double minus = aux_loss(fx, w);
        values[i] = saved;
        double num = (plus - minus) / (2.0 * eps), err = fabs(analytic[i] - num) / (fabs(num) + 1e-2);
        worst = (err > worst || isnan(err)) ? err : worst;
    }
    return worst;
}

static void expect_aux_gradients_match(const char *config, const float w[3], uint64_t seed)
{
    OpFixture fx;
    setup_moe(&fx, config, 2, 5, seed);
    const MoeConfig *cfg = &fx.op.cfg.moe;
    fixture_forward(&fx);
    memset(fx.dparams, 0, fx.n_params * sizeof(float));
    ws_reset(&fx.ws);
    moe_backward_aux(cfg, fx.params, fx.x, fx.act, fx.dy, fx.dx, fx.dparams, fx.B, fx.L, w[0], w[1], w[2], &fx.ws);
    float *dx = malloc((size_t)fx.B * fx.L * fx.d_in * sizeof(float)), *dp = malloc(fx.n_params * sizeof(float));
    cr_assert(dx && dp);
    memcpy(dx, fx.dx, (size_t)fx.B * fx.L * fx.d_in * sizeof(float));
    memcpy(dp, fx.dparams, fx.n_params * sizeof(float));
    const size_t gates = 2 * (size_t)cfg->n_experts * cfg->d_model; /* gate.weight and noise.weight */
    double err_gate = aux_check(&fx, w, fx.params, dp, gates, 1, 2e-3f);
    double err_rest = aux_check(&fx, w, fx.params + gates, dp + gates, fx.n_params - gates, 7, 2e-3f);
    double err_x = aux_check(&fx, w, fx.x, dx, (size_t)fx.B * fx.L * fx.d_in, 3, 2e-3f);
    cr_expect_leq(err_gate, 2e-2, "%s: gate/noise weight gradient error %.3g", config, err_gate);
    cr_expect_leq(err_rest, 2e-2, "%s: expert gradient error %.3g", config, err_rest);
    cr_expect_leq(err_x, 2e-2, "%s: dx error %.3g", config, err_x);
    free(dx), free(dp);
    fixture_teardown(&fx);
}

Test(moe, aux_loss_gradients_match_finite_differences)
{
    const float all[3] = {0.5f, 0.7f, 0.3f};
    expect_aux_gradients_match("d_model=5,n_experts=5,top_k=2,d_hidden=3,seed=9", all, 61);
    expect_aux_gradients_match("d_model=5,n_experts=4,top_k=1,d_hidden=3,activation=gelu,seed=2", all, 62);
    expect_aux_gradients_match("d_model=4,n_experts=4,top_k=2,d_hidden=3,mode=infer", all, 63);
}

Test(moe, capacity_drops_are_counted_and_dropped_tokens_output_zero)
{
    /* Every logit of expert 0 is sum(x) > 0 and the others are 0: all 8 tokens choose expert 0 first
     * (k = 1), capacity ceil(1 * 1 * 8 / 4) = 2 keeps the first two tokens and drops six. */
    enum { B = 2, L = 4, N = B * L, D = 3 };
    OpFixture fx;
    setup_moe(&fx, "d_model=3,n_experts=4,top_k=1,d_hidden=2,mode=infer,capacity_factor=1", B, L, 71);
    ParamSpec s[6];
    moe_param_specs(&fx.op.cfg.moe, s);
    memset(fx.params, 0, 2 * 4 * D * sizeof(float));
    for (int d = 0; d < D; d++)
        fx.params[s[0].offset + d] = 1.0f;
    for (int i = 0; i < N * D; i++)
        fx.x[i] = fabsf(fx.x[i]) + 0.1f;
    fixture_forward(&fx);
    MoeAux aux = aux_of(&fx);
    cr_expect_eq(aux.capacity, 2);
    cr_expect_eq(aux.dropped_assignments, 6);
    cr_expect_eq(aux.dropped_tokens, 6);
    for (int n = 0; n < N; n++) {
        double norm = 0.0;
        for (int d = 0; d < D; d++)
            norm += fabs(fx.y[n * D + d]);
        cr_expect(n < 2 ? norm > 0.0 : norm == 0.0, "token %d: |y| %.3g", n, norm);
    }
    fixture_teardown(&fx);
    /* k = 2: every second choice is expert 1 (logits 1..3 tie at 0: the lower index wins); first choices
     * fill expert 0 before any second choice is placed, and each expert keeps its first two. */
    setup_moe(&fx, "d_model=3,n_experts=4,top_k=2,d_hidden=2,mode=infer,capacity_factor=0.5", B, L, 72);
    memset(fx.params, 0, 2 * 4 * D * sizeof(float));
    for (int d = 0; d < D; d++)
        fx.params[s[0].offset + d] = 1.0f;
    for (int i = 0; i < N * D; i++)
        fx.x[i] = fabsf(fx.x[i]) + 0.1f;
    fixture_forward(&fx);
    aux = aux_of(&fx);
    cr_expect_eq(aux.capacity, 2);             /* ceil(0.5 * 2 * 8 / 4) */
    cr_expect_eq(aux.dropped_assignments, 12); /* 6 first choices on expert 0, 6 second choices on expert 1 */
    cr_expect_eq(aux.dropped_tokens, 6);
    fixture_teardown(&fx);
}

Test(moe, bad_configs_are_rejected)
{
    Op op;
    char err[CONFIG_ERR_LEN];
    const char *bad[] = {"n_experts=4,top_k=5",       "n_experts=4,top_k=0",    "n_experts=0,top_k=1",
                         "d_hidden=0",                "d_model=0",              "capacity_factor=-1",
                         "capacity_factor=inf",       "capacity_factor=nan",    "noise=2",
                         "activation=tanh",           "mode=eval",              "n_experts=2097152,top_k=1",
                         "d_model=65536,d_hidden=65536,n_experts=8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(op_configure(&op, "moe", bad[i], err, sizeof err), -1, "accepted '%s'", bad[i]);
    cr_expect_eq(op_configure(&op, "moe", "n_experts=4,top_k=4,capacity_factor=1.25,seed=-3", err, sizeof err), 0,
                 "%s", err);
    char text[256];
    cr_assert_eq(op_config_string(&op, text, sizeof text), 0);
    cr_expect_str_eq(text, "d_model=64,n_experts=4,top_k=4,d_hidden=64,activation=relu,mode=train,noise=1,"
                           "capacity_factor=1.25,seed=-3");
}

Test(moe, noise_is_a_pure_standard_normal_function_of_seed_token_and_expert)
{
    MoeConfig a = {.n_experts = 16, .seed = 5}, b = a;
    b.seed = 6;
    double sum = 0.0, sq = 0.0;
    int same_as_other_seed = 0;
    const int count = 200000;
    for (int i = 0; i < count; i++) {
        float z = moe_noise(&a, i / 16, i % 16);
        cr_assert_eq(z, moe_noise(&a, i / 16, i % 16));
        same_as_other_seed += z == moe_noise(&b, i / 16, i % 16);
        sum += z;
        sq += (double)z * z;
    }
    double mean = sum / count, var = sq / count - mean * mean;
    cr_expect(fabs(mean) < 0.01 && fabs(var - 1.0) < 0.02, "mean %.4f var %.4f", mean, var);
    cr_expect_lt(same_as_other_seed, 10);
}

Test(moe, seed_changes_the_training_output_and_infer_mode_ignores_the_noise)
{
    enum { B = 2, L = 6, D = 6 };
    OpFixture f1, f2, f3, f4;
    setup_moe(&f1, "d_model=6,n_experts=5,top_k=2,d_hidden=4,seed=1", B, L, 81);
    setup_moe(&f2, "d_model=6,n_experts=5,top_k=2,d_hidden=4,seed=2", B, L, 81);
    setup_moe(&f3, "d_model=6,n_experts=5,top_k=2,d_hidden=4,mode=infer,seed=1", B, L, 81);
    setup_moe(&f4, "d_model=6,n_experts=5,top_k=2,d_hidden=4,noise=0,seed=2", B, L, 81);
    OpFixture *all[4] = {&f1, &f2, &f3, &f4};
    for (int i = 0; i < 4; i++)
        fixture_forward(all[i]);
    cr_expect_gt(max_scaled_diff(f1.y, f2.y, B * L * D, 1e-6), 1e-3, "seed had no effect");
    cr_expect_eq(memcmp(f3.y, f4.y, B * L * D * sizeof(float)), 0, "mode=infer is not the noise-free function");
    for (int i = 0; i < 4; i++)
        fixture_teardown(all[i]);
}

/* Forward through the typed API (no registry) on N tokens; returns the max scaled difference from the
 * double reference and, in first_expert, the reference's top choice of token 0. */
static double direct_forward_vs_reference(const MoeConfig *cfg, const float *params, int N, int *first_expert)
{
    const size_t D = (size_t)cfg->d_model, n_ws = moe_workspace_floats(cfg, 1, N);
    float *x = core_alloc_floats(N * D), *y = core_alloc_floats(N * D);
    float *act = core_alloc_floats(moe_act_floats(cfg, 1, N)), *wsb = core_alloc_floats(n_ws);
    cr_assert(x && y && act && wsb);
    fill_normal(x, N * D, 4, 1.0f);
    Workspace ws;
    ws_init(&ws, wsb, n_ws);
    moe_forward(cfg, params, x, y, act, 1, N, &ws);
    RefMoe r;
    double flops = 0.0;
    cr_assert_eq(ref_moe_alloc(&r, cfg, N), 0);
    ref_moe_forward(cfg, params, x, &r, &flops);
    double err = max_scaled_diff_d(y, r.y, N * D, 1e-6);
    *first_expert = r.expert[0];
    ref_moe_free(&r);
    core_free(x), core_free(y), core_free(act), core_free(wsb);
    return err;
}

static float *init_params(const MoeConfig *cfg, uint64_t seed)
{
    float *params = core_alloc_floats(moe_num_params(cfg));
    cr_assert_not_null(params);
    Rng rng;
    rng_init(&rng, seed);
    moe_init(cfg, params, &rng);
    return params;
}

Test(moe, zero_initialised_gates_send_every_token_to_the_first_k_experts)
{
    MoeConfig cfg = {.d_model = 4, .n_experts = 3, .top_k = 1, .d_hidden = 2, .mode = MOE_MODE_INFER};
    float *params = init_params(&cfg, 3);
    ParamSpec s[6];
    moe_param_specs(&cfg, s);
    for (size_t i = 0; i < s[0].numel + s[1].numel; i++)
        cr_expect_eq(params[i], 0.0f, "gate/noise weight %zu not zero", i);
    int first;
    cr_expect_leq(direct_forward_vs_reference(&cfg, params, 5, &first), REF_TOL);
    cr_expect_eq(first, 0, "all logits tie at init: expert 0 wins");
    core_free(params);
}

Test(moe, fff_matched_configuration_has_two_to_the_depth_top1_experts_of_leaf_width)
{
    MoeConfig cfg = moe_config_matching_fff(6, 32, 768);
    char err[CONFIG_ERR_LEN];
    cr_expect_eq(moe_validate(&cfg, err, sizeof err), 0, "%s", err);
    cr_expect_eq(cfg.n_experts, 64);
    cr_expect_eq(cfg.top_k, 1);
    cr_expect_eq(cfg.d_hidden, 32);
    cr_expect_eq(cfg.d_model, 768);
    cr_expect_eq(cfg.activation, MOE_ACT_RELU);
    /* Same expert parameters as the FFF leaves (w1s, b1s, w2s, b2s), plus the two E x D gate matrices. */
    size_t leaves = 64 * (768 * 32 + 32 + 32 * 768 + 768);
    cr_expect_eq(moe_num_params(&cfg), leaves + 2 * 64 * 768);
    MoeConfig bad = moe_config_matching_fff(21, 32, 768);
    cr_expect_eq(moe_validate(&bad, err, sizeof err), -1);
    /* A small instance runs (noisy top-1 over 2^8 experts, most of them empty) and matches the reference. */
    MoeConfig small = moe_config_matching_fff(8, 2, 6);
    cr_assert_eq(moe_validate(&small, err, sizeof err), 0, "%s", err);
    float *params = init_params(&small, 5);
    int first;
    cr_expect_leq(direct_forward_vs_reference(&small, params, 40, &first), REF_TOL);
    core_free(params);
}

/* FFF (ops/fff.h, ops/fff_infer.h) against: finite differences (with and without the hardening term), the
 * plain-loop double reference (tests/ref_fff.c) for values and instrumented FLOP counts, the training mixture
 * in the saturated limit, and its own paths (batch 1 vs batched, packed vs strided, train vs infer for ufb).
 * The PyTorch golden vectors (baselines/torch/golden_fff.py) are checked by tests/test_golden.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fff.h"
#include "fff_infer.h"
#include "ref_fff.h"
#include "testutil.h"

#define GRAD_EPS 1e-2f
#define GRAD_ATOL 1e-2
#define GRAD_TOL 1e-2  /* worst |analytic - numeric| / (|numeric| + atol) */
#define REF_TOL 1e-5   /* max |float - double reference| / max |reference|, per tensor */
#define PATH_TOL 1e-5  /* two float paths of the same function */

static const FffConfig *cfg_of(const OpFixture *fx) { return &fx->op.cfg.fff; }

static void setup(OpFixture *fx, const char *config, int B, int L, uint64_t seed)
{
    cr_assert_eq(fixture_setup(fx, "fff", config, B, L, seed, 0.1f), 0, "setup fff (%s)", config);
}

/* max |a - b| / (max |b| + 1e-12), a float, b double. */
/* ---- configuration, parameters, initialisation ---- */

Test(fff, param_specs_follow_official_named_parameters_order_and_shapes)
{
    OpFixture fx;
    setup(&fx, "d_model=6,depth=3,leaf_width=4", 1, 1, 1);
    const char *names[] = {"node_weights", "node_biases", "w1s", "b1s", "w2s", "b2s"};
    const int shapes[6][3] = {{7, 6}, {7, 1}, {8, 6, 4}, {8, 4}, {8, 4, 6}, {8, 6}};
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    cr_assert_eq(op_param_specs(&fx.op, specs), 6);
    for (int t = 0; t < 6; t++) {
        cr_expect_str_eq(specs[t].name, names[t]);
        for (int d = 0; d < specs[t].ndim; d++)
            cr_expect_eq(specs[t].shape[d], shapes[t][d], "%s dim %d", names[t], d);
    }
    fixture_teardown(&fx);

    setup(&fx, "d_model=5,depth=2,variant=ufb,parallel_size=2", 1, 1, 1);
    const char *ufb_names[] = {"linear_in.weight", "linear_in.bias", "linear_out.weight"};
    const int ufb_shapes[3][2] = {{14, 5}, {14, 0}, {5, 14}}; /* P (2^(d+1) - 1) = 14 neurons */
    cr_assert_eq(op_param_specs(&fx.op, specs), 3);
    for (int t = 0; t < 3; t++) {
        cr_expect_str_eq(specs[t].name, ufb_names[t]);
        for (int d = 0; d < specs[t].ndim; d++)
            cr_expect_eq(specs[t].shape[d], ufb_shapes[t][d], "%s dim %d", ufb_names[t], d);
    }
    fixture_teardown(&fx);
}

/* max |v| over a tensor: close to, and not above, the uniform bound. */
static void expect_uniform_bound(const float *v, size_t n, double bound, const char *name)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fabs(v[i]) > m ? fabs(v[i]) : m;
    cr_expect(m <= bound && m >= 0.9 * bound, "%s: max |value| %.4f, official bound %.4f", name, m, bound);
}

Test(fff, init_draws_the_official_uniform_bounds)
{
    FffConfig cfg;
    char err[CONFIG_ERR_LEN];
    cr_assert_eq(config_parse(fff_config_fields, fff_config_field_count, "d_model=16,depth=4,leaf_width=9", &cfg,
                              err, sizeof err), 0);
    float *p = calloc(fff_num_params(&cfg), sizeof *p);
    cr_assert_not_null(p);
    Rng rng;
    rng_init(&rng, 3);
    fff_init(&cfg, p, &rng);
    FffParams v = fff_params(&cfg, p);
    expect_uniform_bound(v.node_weights, 15 * 16, 0.25, "node_weights"); /* 1/sqrt(D) */
    expect_uniform_bound(v.w1s, 16 * 16 * 9, 0.25, "w1s");
    expect_uniform_bound(v.b1s, 16 * 9, 0.25, "b1s");
    expect_uniform_bound(v.w2s, 16 * 9 * 16, 1.0 / 3.0, "w2s"); /* 1/sqrt(W) */
    expect_uniform_bound(v.b2s, 16 * 16, 1.0 / 3.0, "b2s");
    free(p);

    cr_assert_eq(config_parse(fff_config_fields, fff_config_field_count, "d_model=16,depth=3,variant=ufb", &cfg, err,
                              sizeof err), 0);
    p = calloc(fff_num_params(&cfg), sizeof *p);
    cr_assert_not_null(p);
    fff_init(&cfg, p, &rng);
    v = fff_params(&cfg, p);
    expect_uniform_bound(v.in_weight, 15 * 16, 0.25, "linear_in.weight"); /* sqrt(1/D) */
    expect_uniform_bound(v.out_weight, 16 * 15, 0.5, "linear_out.weight"); /* sqrt(1/((d+1) P)) */
    free(p);
}

static int validates(const char *text)
{
    FffConfig cfg;
    char err[CONFIG_ERR_LEN];
    if (config_parse(fff_config_fields, fff_config_field_count, text, &cfg, err, sizeof err) != 0)
        return 0;
    return fff_validate(&cfg, err, sizeof err) == 0;
}

Test(fff, bad_configs_are_rejected)
{
    cr_expect(validates("d_model=8,depth=1"));
    cr_expect(validates("d_model=8,depth=0,variant=ufb"), "ufb depth 0 is one neuron");
    cr_expect(validates("d_model=8,depth=20,leaf_width=1"));
    cr_expect_not(validates("d_model=8,depth=0"), "fff needs a node");
    cr_expect_not(validates("d_model=8,depth=21"));
    cr_expect_not(validates("d_model=8,depth=-1,variant=ufb"));
    cr_expect_not(validates("d_model=0"));
    cr_expect_not(validates("d_model=8,leaf_width=0"));
    cr_expect_not(validates("d_model=8,region_leak=1.5"));
    cr_expect_not(validates("d_model=8,region_leak=-0.1"));
    cr_expect_not(validates("d_model=8,region_leak=nan"));
    cr_expect_not(validates("d_model=8,variant=ufb,region_leak=0.1"));
    cr_expect_not(validates("d_model=8,parallel_size=2"), "parallel trees are ufb's");
    cr_expect_not(validates("d_model=8,variant=ufb,parallel_size=0"));
    cr_expect_not(validates("d_model=4096,depth=20,leaf_width=64"), "more than INT_MAX parameters");
    cr_expect_not(validates("d_model=8,activation=tanh"));
    cr_expect_not(validates("d_model=8,mode=eval"));
}

/* ---- gradients ---- */

static void expect_gradients_match(const char *config, int B, int L, float eps)
{
    OpFixture fx;
    setup(&fx, config, B, L, 7);
    char worst[256];
    double err = gradcheck_op(&fx, eps, 40, GRAD_ATOL, worst, sizeof worst);
    cr_expect_leq(err, GRAD_TOL, "fff (%s): worst gradient error %.3g at %s", config, err, worst);
    fixture_teardown(&fx);
}

Test(fff, train_gelu_gradients_match_finite_differences)
{
    expect_gradients_match("d_model=5,depth=3,leaf_width=3,activation=gelu", 2, 3, GRAD_EPS);
}
Test(fff, train_relu_width1_gradients_match_finite_differences)
{
    expect_gradients_match("d_model=6,depth=2,leaf_width=1", 2, 2, 1e-3f);
}
Test(fff, train_region_leak_gradients_match_finite_differences)
{
    expect_gradients_match("d_model=5,depth=3,leaf_width=2,activation=gelu,region_leak=0.4,seed=9", 1, 4, GRAD_EPS);
}
Test(fff, ufb_train_gradients_match_finite_differences)
{
    expect_gradients_match("d_model=6,depth=2,variant=ufb,parallel_size=2", 2, 2, 1e-3f);
}
Test(fff, infer_gradients_of_the_hard_path_match_finite_differences)
{
    expect_gradients_match("d_model=6,depth=2,leaf_width=3,activation=gelu,mode=infer", 2, 2, 1e-3f);
    expect_gradients_match("d_model=6,depth=2,variant=ufb,mode=infer", 2, 2, 1e-3f);
}

/* loss = sum(y dy) + h * mean entropy, in double */
static double hardening_loss(OpFixture *fx, double h)
{
    fixture_forward(fx);
    double loss = 0.0;
    for (size_t i = 0; i < (size_t)fx->B * fx->L * fx->d_out; i++)
        loss += (double)fx->y[i] * fx->dy[i];
    return loss + h * fff_mean_entropy(cfg_of(fx), fx->act);
}

static double numeric(OpFixture *fx, float *value, double h)
{
    const float eps = GRAD_EPS, saved = *value;
    *value = saved + eps;
    double plus = hardening_loss(fx, h);
    *value = saved - eps;
    double minus = hardening_loss(fx, h);
    *value = saved;
    return (plus - minus) / (2.0 * eps);
}

Test(fff, hardening_gradient_matches_finite_differences_of_loss_plus_h_entropy)
{
    OpFixture fx;
    setup(&fx, "d_model=5,depth=3,leaf_width=2,activation=gelu,region_leak=0.3,seed=4", 2, 3, 11);
    const double h = 3.0; /* large enough that the entropy term dominates some node gradients */
    fixture_forward(&fx);
    memset(fx.dparams, 0, fx.n_params * sizeof(float));
    ws_reset(&fx.ws);
    fff_backward_hardening(cfg_of(&fx), fx.params, fx.x, fx.act, fx.dy, fx.dx, fx.dparams, fx.B, fx.L, (float)h,
                           &fx.ws);
    double worst = 0.0;
    const size_t nx = (size_t)fx.B * fx.L * fx.d_in;
    for (size_t i = 0; i < nx; i += 3) {
        double num = numeric(&fx, &fx.x[i], h), err = fabs(fx.dx[i] - num) / (fabs(num) + GRAD_ATOL);
        worst = err > worst ? err : worst;
    }
    for (size_t i = 0; i < 7 * 5 + 7; i++) { /* node_weights and node_biases: where the entropy acts */
        double num = numeric(&fx, &fx.params[i], h), err = fabs(fx.dparams[i] - num) / (fabs(num) + GRAD_ATOL);
        cr_expect_leq(err, GRAD_TOL, "node param %zu: analytic %.6g numeric %.6g", i, fx.dparams[i], num);
        worst = err > worst ? err : worst;
    }
    cr_expect_leq(worst, GRAD_TOL, "worst hardening gradient error %.3g", worst);
    fixture_teardown(&fx);
}

/* ---- against the double reference: values and FLOP counts ---- */

/* Runs forward and backward (hardening h) and compares y, dx, dparams, the entropy and both FLOP counts
 * with ref_fff. */
static void expect_matches_reference(const char *config, int B, int L, double h)
{
    OpFixture fx;
    setup(&fx, config, B, L, 5);
    const FffConfig *cfg = cfg_of(&fx);
    const int N = B * L;
    fixture_forward(&fx);
    memset(fx.dparams, 0, fx.n_params * sizeof(float));
    ws_reset(&fx.ws);
    fff_backward_hardening(cfg, fx.params, fx.x, fx.act, fx.dy, fx.dx, fx.dparams, B, L, (float)h, &fx.ws);
    const size_t nx = (size_t)N * fx.d_in;
    RefFffOut ref = {calloc(nx, sizeof(double)), calloc(nx, sizeof(double)), calloc(fx.n_params, sizeof(double)), 0,
                     0, 0};
    cr_assert(ref.y && ref.dx && ref.dparams);
    cr_assert_eq(ref_fff(cfg, fx.params, fx.x, fx.dy, N, h, &ref), 0);
    cr_expect_leq(max_scaled_diff_d(fx.y, ref.y, nx, 1e-12), REF_TOL, "%s: y", config);
    cr_expect_leq(max_scaled_diff_d(fx.dx, ref.dx, nx, 1e-12), REF_TOL, "%s: dx", config);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&fx.op, specs);
    for (int t = 0; t < count; t++)
        cr_expect_leq(
            max_scaled_diff_d(fx.dparams + specs[t].offset, ref.dparams + specs[t].offset, specs[t].numel, 1e-12),
            REF_TOL, "%s: grad %s", config, specs[t].name);
    double entropy = fff_mean_entropy(cfg, fx.act);
    cr_expect(fabs(entropy - ref.mean_entropy) <= 1e-6 * (ref.mean_entropy + 1e-6), "%s: entropy %.9g, ref %.9g",
              config, entropy, ref.mean_entropy);
    OpFlops flops = op_flops(&fx.op, B, L);
    cr_expect_eq(flops.forward, ref.flops_forward, "%s: forward flops %.0f, counted %.0f", config, flops.forward,
                 ref.flops_forward);
    cr_expect_eq(flops.backward, ref.flops_backward, "%s: backward flops %.0f, counted %.0f", config, flops.backward,
                 ref.flops_backward);
    free(ref.y), free(ref.dx), free(ref.dparams);
    fixture_teardown(&fx);
}

Test(fff, train_relu_matches_double_reference_and_flop_count)
{
    expect_matches_reference("d_model=7,depth=3,leaf_width=4", 2, 3, 0.0);
}
Test(fff, train_gelu_width1_matches_double_reference_and_flop_count)
{
    expect_matches_reference("d_model=6,depth=4,leaf_width=1,activation=gelu", 3, 2, 0.0);
}
Test(fff, train_with_leak_and_hardening_matches_double_reference)
{
    expect_matches_reference("d_model=5,depth=3,leaf_width=3,region_leak=0.35,seed=2", 2, 4, 0.5);
}
Test(fff, infer_matches_double_reference_and_flop_count)
{
    expect_matches_reference("d_model=8,depth=3,leaf_width=5,mode=infer", 2, 3, 0.0);          /* serial path */
    expect_matches_reference("d_model=8,depth=2,leaf_width=9,activation=gelu,mode=infer", 4, 16, 0.0); /* GEMMs */
}
Test(fff, ufb_train_matches_double_reference_and_flop_count)
{
    expect_matches_reference("d_model=6,depth=3,variant=ufb", 2, 3, 0.0);
    expect_matches_reference("d_model=5,depth=2,variant=ufb,parallel_size=3,activation=relu", 1, 4, 0.0);
}
Test(fff, ufb_infer_matches_double_reference_and_flop_count)
{
    expect_matches_reference("d_model=6,depth=3,variant=ufb,mode=infer", 2, 3, 0.0);
    expect_matches_reference("d_model=5,depth=2,variant=ufb,parallel_size=3,mode=infer", 4, 8, 0.0);
    expect_matches_reference("d_model=7,depth=3,variant=ufb,mode=infer", 2, FFF_INFER_PACK_MIN, 0.0); /* packs */
}

/* ---- the modes and paths agree ---- */

Test(fff, infer_equals_training_mixture_when_decisions_saturate)
{
    const char *configs[][2] = {{"d_model=8,depth=4,leaf_width=3", "d_model=8,depth=4,leaf_width=3,mode=infer"},
                                {"d_model=8,depth=3,leaf_width=2,activation=gelu",
                                 "d_model=8,depth=3,leaf_width=2,activation=gelu,mode=infer"}};
    for (int c = 0; c < 2; c++) {
        OpFixture train, infer;
        setup(&train, configs[c][0], 2, 8, 21);
        setup(&infer, configs[c][1], 2, 8, 21);
        const int K = fff_n_nodes(cfg_of(&train)), D = train.d_in;
        for (int i = 0; i < K * D + K; i++) /* node_weights, node_biases: |logit| >> 17, sigmoid is 0 or 1 */
            train.params[i] *= 1e4f;
        memcpy(infer.params, train.params, train.n_params * sizeof(float));
        memcpy(infer.x, train.x, (size_t)16 * D * sizeof(float));
        fixture_forward(&train);
        fixture_forward(&infer);
        double err = max_scaled_diff(infer.y, train.y, (size_t)16 * D, 1e-6);
        cr_expect_leq(err, PATH_TOL, "%s: hard descent vs saturated mixture %.3g", configs[c][1], err);
        /* the clamp at 1e-6 leaves H = 1e-6 (1 - log 1e-6) = 1.5e-5 per node */
        cr_expect_leq(fff_mean_entropy(cfg_of(&train), train.act), 2e-5f, "saturated decisions: minimal entropy");
        fixture_teardown(&train);
        fixture_teardown(&infer);
    }
}

/* The batched path (routing, grouping by leaf, GEMM or per-token leaves, OpenMP) against one token at a time
 * (the batch-1 path). */
static void expect_batch_equals_single(const char *config, int N)
{
    OpFixture batch, single;
    setup(&batch, config, 1, N, 31);
    setup(&single, config, 1, 1, 31);
    memcpy(single.params, batch.params, batch.n_params * sizeof(float));
    fixture_forward(&batch);
    const int D = batch.d_in;
    float *y = malloc((size_t)N * D * sizeof *y);
    cr_assert_not_null(y);
    for (int n = 0; n < N; n++) {
        memcpy(single.x, batch.x + (size_t)n * D, (size_t)D * sizeof(float));
        fixture_forward(&single);
        memcpy(y + (size_t)n * D, single.y, (size_t)D * sizeof(float));
    }
    double err = max_scaled_diff(batch.y, y, (size_t)N * D, 1e-6);
    cr_expect_leq(err, PATH_TOL, "%s: batched vs batch-1 path %.3g", config, err);
    free(y);
    fixture_teardown(&batch);
    fixture_teardown(&single);
}

Test(fff, batch1_path_equals_batched_path)
{
    expect_batch_equals_single("d_model=16,depth=2,leaf_width=12,mode=infer", 96); /* ~24 tokens a leaf: GEMMs */
    expect_batch_equals_single("d_model=16,depth=6,leaf_width=1,mode=infer", 40);  /* per-token leaves */
    expect_batch_equals_single("d_model=20,depth=3,leaf_width=17,activation=gelu,mode=infer", 64);
    expect_batch_equals_single("d_model=16,depth=4,variant=ufb,parallel_size=2,mode=infer", 33);
    expect_batch_equals_single("d_model=16,depth=4,variant=ufb,mode=infer", FFF_INFER_PACK_MIN + 5); /* packs */
}

Test(fff, ufb_infer_equals_ufb_train_and_packed_equals_strided)
{
    OpFixture train, infer;
    setup(&train, "d_model=12,depth=4,variant=ufb,parallel_size=2", 3, 5, 41);
    setup(&infer, "d_model=12,depth=4,variant=ufb,parallel_size=2,mode=infer", 3, 5, 41);
    memcpy(infer.params, train.params, train.n_params * sizeof(float));
    memcpy(infer.x, train.x, (size_t)15 * 12 * sizeof(float));
    fixture_forward(&train);
    fixture_forward(&infer);
    cr_expect_leq(max_scaled_diff(infer.y, train.y, 15 * 12, 1e-6), PATH_TOL, "path-only vs masked dense");

    const FffConfig *cfg = cfg_of(&infer);
    float *packed = core_alloc_floats(fff_infer_packed_floats(cfg)), *y = core_alloc_floats(15 * 12);
    cr_assert(packed && y);
    fff_infer_pack(cfg, infer.params, packed);
    ws_reset(&infer.ws);
    fff_infer_forward(cfg, infer.params, packed, infer.x, y, infer.act, 15, &infer.ws);
    cr_expect_leq(max_scaled_diff(y, infer.y, 15 * 12, 1e-6), PATH_TOL, "packed vs strided linear_out");
    core_free(packed), core_free(y);
    fixture_teardown(&train);
    fixture_teardown(&infer);
}

Test(fff, region_leak_is_a_pure_function_of_the_seed)
{
    OpFixture a, b, c;
    setup(&a, "d_model=6,depth=3,leaf_width=2,region_leak=0.5,seed=1", 2, 3, 3);
    setup(&b, "d_model=6,depth=3,leaf_width=2,region_leak=0.5,seed=1", 2, 3, 3);
    setup(&c, "d_model=6,depth=3,leaf_width=2,region_leak=0.5,seed=2", 2, 3, 3);
    fixture_forward(&a), fixture_forward(&a); /* twice: no state carried between calls */
    fixture_forward(&b), fixture_forward(&c);
    cr_expect_eq(memcmp(a.y, b.y, 36 * sizeof(float)), 0, "same seed, same output");
    cr_expect_gt(max_scaled_diff(a.y, c.y, 36, 1e-6), 1e-3, "another seed swaps other nodes");
    fixture_teardown(&a), fixture_teardown(&b), fixture_teardown(&c);
}

Test(fff, region_leak_one_equals_negated_node_parameters)
{
    /* b = 1 - sigmoid(z) = sigmoid(-z): swapping every node is the tree with negated node weights and biases. */
    OpFixture leak, neg;
    setup(&leak, "d_model=6,depth=3,leaf_width=2,region_leak=1", 2, 3, 8);
    setup(&neg, "d_model=6,depth=3,leaf_width=2", 2, 3, 8);
    memcpy(neg.params, leak.params, leak.n_params * sizeof(float));
    for (int i = 0; i < 7 * 6 + 7; i++)
        neg.params[i] = -neg.params[i];
    fixture_forward(&leak), fixture_forward(&neg);
    cr_expect_leq(max_scaled_diff(leak.y, neg.y, 36, 1e-6), PATH_TOL);
    cr_expect(fabsf(fff_mean_entropy(cfg_of(&leak), leak.act) - fff_mean_entropy(cfg_of(&neg), neg.act)) < 1e-6f);
    fixture_teardown(&leak), fixture_teardown(&neg);
}

Test(fff, infer_routes_to_the_leaf_of_the_hard_descent)
{
    OpFixture fx;
    setup(&fx, "d_model=4,depth=2,leaf_width=1,mode=infer", 1, 1, 2);
    float *p = fx.params;
    memset(p, 0, fx.n_params * sizeof(float));
    /* root: x0 >= 0 goes right; node 1: x1 >= 0 right; node 2: x2 >= 0 right */
    p[0 * 4 + 0] = 1.0f, p[1 * 4 + 1] = 1.0f, p[2 * 4 + 2] = 1.0f;
    const float x[4][4] = {{-1, -1, 0, 0}, {-1, 2, 0, 0}, {1, 0, -3, 0}, {1, 0, 3, 0}};
    for (int leaf = 0; leaf < 4; leaf++)
        cr_expect_eq(fff_infer_route(cfg_of(&fx), p, x[leaf]), leaf, "leaf %d", leaf);
    cr_expect_eq(fff_infer_route(cfg_of(&fx), p, (float[]){0, 0, 0, 0}), 3, "ties (logit 0) go right (>= 0)");
    fixture_teardown(&fx);
}

Test(fff, entropy_is_zero_outside_fff_training)
{
    OpFixture fx;
    setup(&fx, "d_model=6,depth=3,mode=infer", 1, 3, 2);
    fixture_forward(&fx);
    cr_expect_eq(fff_mean_entropy(cfg_of(&fx), fx.act), 0.0f);
    fixture_teardown(&fx);
    setup(&fx, "d_model=6,depth=2", 1, 3, 2);
    fixture_forward(&fx);
    float e = fff_mean_entropy(cfg_of(&fx), fx.act);
    cr_expect(e > 0.0f && e <= logf(2.0f), "entropy %g in (0, log 2]", (double)e);
    fixture_teardown(&fx);
}

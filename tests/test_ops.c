/* Tests of the small operators: values and FLOP formulas against the instrumented plain-loop references in
 * ref_ops.c, and the config parser (their gradients and backward contract: test_contract.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embedding.h"
#include "ref_ops.h"
#include "softmax_ce.h"
#include "testutil.h"

/* Doubles of a float buffer, for feeding the references. */
static double *to_double(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    cr_assert_not_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

Test(ops, linear_matches_reference_and_flop_formula)
{
    OpFixture fx;
    const int rows = 2 * 5, d_in = 6, d_out = 4;
    cr_assert_eq(fixture_setup(&fx, "linear", "d_in=6,d_out=4", 2, 5, 3, 0.1f), 0);
    fixture_backward(&fx);
    double *y = calloc(rows * d_out, sizeof *y), *dx = calloc(rows * d_in, sizeof *dx);
    double *dw = calloc(d_out * d_in, sizeof *dw), *db = calloc(d_out, sizeof *db);
    double *dy = to_double(fx.dy, rows * d_out), fwd = 0, bwd = 0;
    const float *w = fx.params, *b = fx.params + d_out * d_in;
    ref_linear_forward(fx.x, w, b, y, rows, d_in, d_out, &fwd);
    ref_linear_backward(fx.x, w, dy, dx, dw, db, rows, d_in, d_out, &bwd);
    cr_expect_leq(max_scaled_diff_d(fx.y, y, rows * d_out, 1e-6), 1e-5);
    cr_expect_leq(max_scaled_diff_d(fx.dx, dx, rows * d_in, 1e-6), 1e-5);
    cr_expect_leq(max_scaled_diff_d(fx.dparams, dw, d_out * d_in, 1e-6), 1e-5);
    cr_expect_leq(max_scaled_diff_d(fx.dparams + d_out * d_in, db, d_out, 1e-6), 1e-5);
    OpFlops flops = op_flops(&fx.op, 2, 5);
    cr_expect_eq(flops.forward, fwd, "forward flops %.0f, counted %.0f", flops.forward, fwd);
    cr_expect_eq(flops.backward, bwd, "backward flops %.0f, counted %.0f", flops.backward, bwd);
    free(y), free(dx), free(dw), free(db), free(dy);
    fixture_teardown(&fx);
}

Test(ops, layernorm_matches_reference_and_flop_formula)
{
    OpFixture fx;
    const int rows = 3 * 2, D = 9;
    cr_assert_eq(fixture_setup(&fx, "layernorm", "d_model=9", 3, 2, 4, 0.3f), 0);
    for (int i = 0; i < rows * D; i++)
        fx.x[i] = 3.0f * fx.x[i] + 5.0f; /* an offset: the variance must not cancel */
    fixture_backward(&fx);
    double *y = calloc(rows * D, sizeof *y), *dx = calloc(rows * D, sizeof *dx);
    double *dw = calloc(D, sizeof *dw), *db = calloc(D, sizeof *db), *dy = to_double(fx.dy, rows * D);
    double fwd = 0, bwd = 0;
    ref_layernorm_forward(fx.x, fx.params, fx.params + D, y, rows, D, 1e-5, &fwd);
    ref_layernorm_backward(fx.x, fx.params, dy, dx, dw, db, rows, D, 1e-5, &bwd);
    cr_expect_leq(max_scaled_diff_d(fx.y, y, rows * D, 1e-6), 1e-5);
    cr_expect_leq(max_scaled_diff_d(fx.dx, dx, rows * D, 1e-6), 1e-4);
    cr_expect_leq(max_scaled_diff_d(fx.dparams, dw, D, 1e-6), 1e-5);
    cr_expect_leq(max_scaled_diff_d(fx.dparams + D, db, D, 1e-6), 1e-5);
    OpFlops flops = op_flops(&fx.op, 3, 2);
    cr_expect_eq(flops.forward, fwd, "forward flops %.0f, counted %.0f", flops.forward, fwd);
    cr_expect_eq(flops.backward, bwd, "backward flops %.0f, counted %.0f", flops.backward, bwd);
    free(y), free(dx), free(dw), free(db), free(dy);
    fixture_teardown(&fx);
}

Test(ops, ffn_matches_reference_and_flop_formula)
{
    OpFixture fx;
    const int B = 2, L = 3, rows = B * L, D = 4, H = 7;
    cr_assert_eq(fixture_setup(&fx, "ffn", "d_model=4,d_hidden=7", B, L, 5, 0.1f), 0);
    fixture_backward(&fx);
    RefOutputs ref;
    cr_assert_eq(ref_ffn(fx.params, fx.x, fx.dy, rows, D, H, &ref), 0);
    cr_expect_leq(max_scaled_diff_d(fx.y, ref.y, rows * D, 1e-6), 1e-5);
    cr_expect_leq(max_scaled_diff_d(fx.dx, ref.dx, rows * D, 1e-6), 1e-4);
    cr_expect_leq(max_scaled_diff_d(fx.dparams, ref.dparams, fx.n_params, 1e-6), 1e-4);
    OpFlops flops = op_flops(&fx.op, B, L);
    cr_expect_eq(flops.forward, ref.flops_forward, "forward flops %.0f, counted %.0f", flops.forward,
                 ref.flops_forward);
    cr_expect_eq(flops.backward, ref.flops_backward, "backward flops %.0f, counted %.0f", flops.backward,
                 ref.flops_backward);
    ref_outputs_free(&ref);
    fixture_teardown(&fx);
}

Test(ops, softmax_ce_matches_reference_gradient_and_flops)
{
    enum { ROWS = 6, V = 11 };
    float logits[ROWS * V], dlogits[ROWS * V];
    int targets[ROWS] = {0, 10, 3, 3, 7, 1};
    fill_normal(logits, ROWS * V, 9, 4.0f);
    logits[5] = 80.0f; /* a large logit: the log-sum-exp must not overflow */
    double ref_d[ROWS * V], fwd = 0, bwd = 0;
    double loss = softmax_ce_loss(logits, targets, ROWS, V, dlogits);
    double ref = ref_softmax_ce(logits, targets, ROWS, V, ref_d, &fwd, &bwd);
    cr_expect(fabs(loss - ref) <= 1e-6 * fabs(ref), "loss %.9g, reference %.9g", loss, ref);
    cr_expect_leq(max_scaled_diff_d(dlogits, ref_d, ROWS * V, 1e-6), 1e-6);
    OpFlops flops = softmax_ce_flops(ROWS, V);
    cr_expect_eq(flops.forward, fwd);
    cr_expect_eq(flops.backward, bwd);
    /* Finite differences of the loss itself. */
    for (int i = 0; i < ROWS * V; i += 7) {
        float saved = logits[i];
        logits[i] = saved + 1e-2f;
        double plus = softmax_ce_loss(logits, targets, ROWS, V, NULL);
        logits[i] = saved - 1e-2f;
        double minus = softmax_ce_loss(logits, targets, ROWS, V, NULL);
        logits[i] = saved;
        double num = (plus - minus) / 2e-2;
        cr_expect(fabs(num - dlogits[i]) <= 1e-3, "dlogits[%d] %.6g, numeric %.6g", i, dlogits[i], num);
    }
}

Test(ops, softmax_ce_ignores_negative_targets)
{
    float logits[3 * 4], d[3 * 4];
    fill_normal(logits, 12, 2, 1.0f);
    int all[3] = {1, 2, 3}, some[3] = {1, -1, 3};
    int two[2] = {1, 3};
    float pair[8];
    memcpy(pair, logits, 4 * sizeof(float));
    memcpy(pair + 4, logits + 8, 4 * sizeof(float));
    double masked = softmax_ce_loss(logits, some, 3, 4, d);
    cr_expect(fabs(masked - softmax_ce_loss(pair, two, 2, 4, NULL)) < 1e-9);
    cr_expect(fabs(masked - softmax_ce_loss(logits, all, 3, 4, NULL)) > 1e-6);
    for (int v = 0; v < 4; v++)
        cr_expect_eq(d[4 + v], 0.0f);
    int bad;
    cr_expect_eq(softmax_ce_check_targets((int[]){1, 4, 0}, 3, 4, &bad), -1);
    cr_expect_eq(bad, 1);
}

Test(ops, embedding_gathers_rows_and_scatters_gradients)
{
    EmbeddingConfig cfg = {.vocab = 5, .d_model = 3};
    float w[15], y[4 * 3], dw[15] = {0}, dy[12];
    for (int i = 0; i < 15; i++)
        w[i] = (float)i;
    for (int i = 0; i < 12; i++)
        dy[i] = 1.0f + i;
    int ids[4] = {4, 0, 4, 2};
    embedding_forward(&cfg, w, ids, y, 4);
    for (int t = 0; t < 4; t++)
        for (int c = 0; c < 3; c++)
            cr_expect_eq(y[t * 3 + c], w[ids[t] * 3 + c]);
    embedding_backward(&cfg, ids, dy, dw, 4);
    cr_expect_eq(dw[4 * 3 + 0], dy[0] + dy[6], "repeated ids accumulate");
    cr_expect_eq(dw[2 * 3 + 1], dy[10]);
    cr_expect_eq(dw[1 * 3 + 2], 0.0f);
    size_t bad;
    cr_expect_eq(embedding_check_ids(&cfg, (int[]){0, 5}, 2, &bad), -1);
    cr_expect_eq(bad, 1u);
    cr_expect_eq(embedding_check_ids(&cfg, ids, 4, NULL), 0);
}

Test(ops, config_parser_rejects_bad_strings_and_round_trips)
{
    Op op;
    char err[CONFIG_ERR_LEN], text[256];
    cr_expect_eq(op_configure(&op, "ffn", "d_model=8,d_hidden=16", err, sizeof err), 0, "%s", err);
    cr_expect_eq(op.cfg.ffn.d_hidden, 16);
    cr_assert_eq(op_config_string(&op, text, sizeof text), 0);
    cr_expect_str_eq(text, "d_model=8,d_hidden=16");
    cr_expect_eq(op_configure(&op, "ffn", "d_model=8,width=3", err, sizeof err), -1);
    cr_expect(strstr(err, "unknown key 'width'") != NULL, "%s", err);
    cr_expect_eq(op_configure(&op, "ffn", "d_model=eight", err, sizeof err), -1);
    cr_expect_eq(op_configure(&op, "ffn", "d_model=8,d_model=9", err, sizeof err), -1);
    cr_expect_eq(op_configure(&op, "ffn", "d_model", err, sizeof err), -1);
    cr_expect_eq(op_configure(&op, "ffn", "d_model=0", err, sizeof err), -1);
    cr_expect_eq(op_configure(&op, "nope", "", err, sizeof err), -1);
    cr_expect_eq(op_configure(&op, "layernorm", "eps=1e-3", err, sizeof err), 0, "%s", err);
    cr_expect_float_eq(op.cfg.layernorm.eps, 1e-3f, 1e-9f);
}

Test(ops, registry_names_are_unique_and_complete)
{
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *info = op_info((OpKind)k);
        cr_assert_not_null(info);
        cr_expect_eq(op_find(info->name), info, "%s", info->name);
        for (int j = 0; j < k; j++)
            cr_expect_str_neq(op_info((OpKind)j)->name, info->name);
    }
    cr_expect_null(op_find("attention2"));
}

/* Generation (docs/DESIGN.md section 11): every operator that generates, stepped one position at a time from a
 * zeroed state, gives at every position t the row t of its forward over the whole sequence (which, the operators
 * being causal, is its forward over the prefix 0..t): so every prefix length 1..L is checked. The operators that
 * do not generate say why. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "modal_fit.h"
#include "testutil.h"

typedef struct StepCase {
    const char *op, *config;
    int B, L;
    double tol; /* max |step - forward| / (max |forward| + 1e-3) over all rows */
} StepCase;

/* The stateful operators at shapes where every mechanism matters (several heads, a short filter longer than
 * one tap, order 3's two long convolutions, many modes), and the position-wise ones. */
static const StepCase cases[] = {
    {"attention", "d_model=16,n_heads=4,impl=naive", 2, 19, 1e-5},
    {"attention", "d_model=16,n_heads=2,impl=tiled", 3, 40, 1e-5},
    {"fftconv", "d_model=8,l_max=64", 2, 37, 1e-5},
    {"hyena", "d_model=8,l_max=64,order=2,filter_order=16", 2, 33, 1e-5},
    {"hyena", "d_model=8,l_max=48,order=3,filter_order=8,short_filter_order=4", 2, 48, 1e-5},
    /* Hyena by FFT tiles: a length that is no power of two (the last tiles clipped), and order 3. */
    {"hyena", "d_model=8,l_max=300,order=2,filter_order=16,step=fft", 2, 203, 1e-5},
    {"hyena", "d_model=8,l_max=64,order=3,filter_order=8,step=fft", 1, 64, 1e-5},
    {"s4d", "d_model=8,d_state=16", 2, 50, 1e-5},
    {"s4d", "d_model=4,d_state=64,dt_min=0.01,dt_max=0.5", 1, 300, 1e-5},
    {"ffn", "d_model=8,d_hidden=16", 2, 5, 1e-6},
    {"layernorm", "d_model=8", 2, 5, 1e-6},
    {"fff", "d_model=8,depth=2,leaf_width=4,mode=infer", 2, 5, 1e-6},
    {"moe", "d_model=8,n_experts=4,d_hidden=8,top_k=2,mode=infer", 2, 5, 1e-6},
};

/* Steps the fixture's x through the operator from a zeroed state (twice, the second run on the state the first
 * left after zeroing it again) and returns the worst error against the forward's rows. */
static double step_against_forward(OpFixture *fx)
{
    const int B = fx->B, L = fx->L, Din = fx->d_in, Dout = fx->d_out;
    char err[256];
    cr_assert_eq(op_step_kind(&fx->op, err, sizeof err) != OP_STEP_NONE, 1, "%s", err);
    fixture_forward(fx);
    const size_t state_n = op_state_floats(&fx->op, B, L), ws_n = op_step_workspace_floats(&fx->op, B, L);
    float *state = core_alloc_floats(state_n ? state_n : 1), *ws_buf = core_alloc_floats(ws_n ? ws_n : 1);
    float *xt = malloc(sizeof(float) * B * Din), *yt = malloc(sizeof(float) * B * Dout);
    float *want = malloc(sizeof(float) * B * Dout);
    cr_assert(state && ws_buf && xt && yt && want);
    double worst = 0.0;
    for (int run = 0; run < 2; run++) {
        memset(state, 0, (state_n ? state_n : 1) * sizeof(float));
        for (int t = 0; t < L; t++) {
            for (int b = 0; b < B; b++) {
                memcpy(xt + (size_t)b * Din, fx->x + ((size_t)b * L + t) * Din, sizeof(float) * Din);
                memcpy(want + (size_t)b * Dout, fx->y + ((size_t)b * L + t) * Dout, sizeof(float) * Dout);
            }
            Workspace ws;
            ws_init(&ws, ws_buf, ws_n);
            op_step(&fx->op, fx->params, xt, yt, state, B, t, L, &ws);
            cr_assert_leq(ws.used, ws_n, "%s: step %d took %zu floats of scratch, promised %zu", fx->op.info->name,
                          t, ws.used, ws_n);
            double e = max_scaled_diff(yt, want, (size_t)B * Dout, 1e-3);
            worst = e > worst ? e : worst;
        }
    }
    core_free(state), core_free(ws_buf), free(xt), free(yt), free(want);
    return worst;
}

Test(step, every_generating_operator_steps_to_the_rows_of_its_forward_at_every_prefix)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const StepCase *c = &cases[i];
        OpFixture fx;
        cr_assert_eq(fixture_setup(&fx, c->op, c->config, c->B, c->L, 40 + i, 0.1f), 0, "%s: setup", c->config);
        double e = step_against_forward(&fx);
        cr_expect_leq(e, c->tol, "%s (%s), B=%d L=%d: step vs forward %.3g > %.1g", c->op, c->config, c->B, c->L, e,
                      c->tol);
        fixture_teardown(&fx);
    }
}

/* The recurrence of S4D costs the same at every position; the cached convolutions grow with t. */
Test(step, step_flops_sum_to_the_forward_for_attention_and_follow_the_position)
{
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "attention", "d_model=32,n_heads=4", err, sizeof err), 0, "%s", err);
    double sum = 0.0;
    for (int t = 0; t < 64; t++)
        sum += op_step_flops(&op, 2, t);
    cr_expect_float_eq(sum, op_flops(&op, 2, 64).forward, 1e-9 * sum);
    cr_assert_eq(op_configure(&op, "s4d", "d_model=32", err, sizeof err), 0, "%s", err);
    cr_expect_eq(op_step_flops(&op, 2, 5), op_step_flops(&op, 2, 5000));
    cr_assert_eq(op_configure(&op, "hyena", "d_model=32,l_max=8192", err, sizeof err), 0, "%s", err);
    cr_expect_gt(op_step_flops(&op, 1, 4000), 10 * op_step_flops(&op, 1, 100));
    /* FFT tiles: position 4095 (a tile of 4096) costs more than position 4094 (a tile of 1), but the average
     * over 8192 positions is a small fraction of the cached convolution's at the end. */
    Op fft;
    cr_assert_eq(op_configure(&fft, "hyena", "d_model=32,l_max=8192,step=fft", err, sizeof err), 0, "%s", err);
    cr_expect_gt(op_step_flops(&fft, 1, 4095), op_step_flops(&fft, 1, 4094));
    double total = 0.0;
    for (int t = 0; t < 8192; t++)
        total += op_step_flops(&fft, 1, t);
    cr_expect_lt(total / 8192, 0.2 * op_step_flops(&op, 1, 8191));
}

Test(step, operators_that_cannot_generate_say_why)
{
    Op op;
    char err[256] = "";
    cr_assert_eq(op_configure(&op, "attention", "d_model=16,n_heads=2,causal=0", err, sizeof err), 0, "%s", err);
    cr_expect_eq(op_step_kind(&op, err, sizeof err), OP_STEP_NONE);
    cr_expect(strstr(err, "causal") != NULL, "%s", err);
    cr_assert_eq(op_configure(&op, "conv2d", "d_in=3,d_out=4,height=4,width=4", err, sizeof err), 0, "%s", err);
    cr_expect_eq(op_step_kind(&op, err, sizeof err), OP_STEP_NONE);
    cr_expect(strstr(err, "image") != NULL, "%s", err);
}

/* The language model stepped token by token gives the logits of its forward at every position, for each mixer. */
Test(step, the_language_model_steps_to_the_logits_of_its_forward)
{
    static const char *const configs[] = {
        "vocab=11,d_model=16,layers=2,context=24,mixer=attention,channel=ffn,pos_emb=1,mixer.n_heads=2,"
        "channel.d_hidden=32",
        "vocab=11,d_model=16,layers=2,context=24,mixer=hyena,channel=ffn,pos_emb=0,channel.d_hidden=32,"
        "mixer.filter_order=8",
        "vocab=11,d_model=16,layers=2,context=24,mixer=hyena,channel=ffn,pos_emb=0,channel.d_hidden=32,"
        "mixer.filter_order=8,mixer.step=fft",
        "vocab=11,d_model=16,layers=2,context=24,mixer=s4d,channel=fff,pos_emb=0,channel.depth=2,"
        "channel.leaf_width=4,channel.mode=infer",
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        LmModel m;
        char err[256];
        cr_assert_eq(lm_create(&m, configs[i], err, sizeof err), 0, "%s", err);
        cr_assert_eq(lm_can_generate(&m, err, sizeof err), 0, "%s", err);
        const int B = 2, T = m.cfg.context, V = m.cfg.vocab;
        float *params = core_alloc_floats(m.n_params), *act = core_alloc_floats(lm_act_floats(&m, B, T));
        float *ws = core_alloc_floats(lm_workspace_floats(&m, B, T));
        float *state = core_alloc_floats(lm_state_floats(&m, B, T));
        float *step_ws = core_alloc_floats(lm_step_workspace_floats(&m, B, T)), *logits = malloc(sizeof(float) * B * V);
        int ids[2 * 24], targets[2 * 24], now[2];
        cr_assert(params && act && ws && state && step_ws && logits);
        lm_init(&m, params, 5 + i);
        /* Safari's init makes every residual branch small; noise makes each operator's output matter. */
        float *noise = malloc(sizeof(float) * m.n_params);
        cr_assert_not_null(noise);
        fill_normal(noise, m.n_params, 77 + i, 0.2f);
        for (size_t k = 0; k < m.n_params; k++)
            params[k] += noise[k];
        free(noise);
        for (int k = 0; k < B * T; k++)
            ids[k] = (7 * k + 3 * (k / T)) % V, targets[k] = -1;
        lm_forward_backward(&m, params, ids, targets, B, T, act, ws, NULL, 0, 0);
        const float *want = lm_logits(&m, act, B, T);
        memset(state, 0, lm_state_floats(&m, B, T) * sizeof(float));
        double worst = 0.0;
        for (int t = 0; t < T; t++) {
            for (int b = 0; b < B; b++)
                now[b] = ids[b * T + t];
            lm_step(&m, params, now, t, B, T, state, step_ws, logits);
            for (int b = 0; b < B; b++) {
                double e = max_scaled_diff(logits + (size_t)b * V, want + ((size_t)b * T + t) * V, (size_t)V, 1e-3);
                worst = e > worst ? e : worst;
            }
        }
        cr_expect_leq(worst, 1e-5, "%s: step vs forward logits %.3g", configs[i], worst);
        /* The stepped loss (teacher forcing) is the forward's loss. */
        for (int k = 0; k < B * T; k++)
            targets[k] = k % 5 == 4 ? -1 : ids[(k + 1) % (B * T)];
        const double forward = lm_forward_backward(&m, params, ids, targets, B, T, act, ws, NULL, 0, 0);
        double stepped;
        cr_assert_eq(gen_eval_loss(&m, params, ids, targets, B, T, &stepped, err, sizeof err), 0, "%s", err);
        cr_expect(fabs(stepped - forward) <= 1e-5 * fabs(forward), "%s: stepped loss %.8f, forward %.8f", configs[i],
                  stepped, forward);
        core_free(params), core_free(act), core_free(ws), core_free(state), core_free(step_ws), free(logits);
        lm_destroy(&m);
    }
}

/* The modal fit recovers a filter that is a sum of damped modes (two conjugate pairs and one real pole: five real
 * degrees), and fits worse with fewer degrees. */
Test(step, the_modal_fit_recovers_a_sum_of_damped_modes)
{
    enum { L = 600, ORDER = 8 };
    float h[L];
    const double lr[] = {0.95 * cos(0.3), 0.8 * cos(1.2), 0.9}, li[] = {0.95 * sin(0.3), 0.8 * sin(1.2), 0.0};
    const double rr[] = {0.5, -0.3, 0.25}, ri[] = {0.2, 0.1, 0.0};
    h[0] = 0.3f;
    for (int l = 1; l < L; l++) {
        double v = 0.0;
        for (int m = 0; m < 3; m++) {
            const double mag = hypot(lr[m], li[m]), th = atan2(li[m], lr[m]), p = pow(mag, l - 1);
            v += 2.0 * (rr[m] * p * cos(th * (l - 1)) - ri[m] * p * sin(th * (l - 1)));
        }
        h[l] = (float)v;
    }
    double a[4][ORDER];
    ModalFilter f = {0, a[0], a[1], a[2], a[3]};
    const double exact = modal_fit(h, L, 5, &f);
    cr_expect(exact >= 0 && exact < 1e-5, "five degrees fit five: relative error %.3g", exact);
    cr_expect_eq(f.modes, 3, "two pairs and a real pole are three modes, got %d", f.modes);
    float taps[L];
    modal_taps(&f, h[0], L, taps);
    cr_expect_float_eq(taps[0], h[0], 0.0f, "the first tap is kept exactly");
    cr_expect_leq(max_scaled_diff(taps, h, L, 1e-3), 1e-4);
    const double more = modal_fit(h, L, ORDER, &f), fewer = modal_fit(h, L, 2, &f);
    cr_expect(more >= 0 && more < 1e-4, "more degrees than needed still fit: %.3g", more);
    cr_expect_gt(fewer, 100 * exact, "two degrees cannot fit five: %.3g vs %.3g", fewer, exact);
}

/* Hyena generating from distilled filters approaches the exact step as the order grows. */
Test(step, hyena_by_distilled_modes_approaches_the_exact_step_with_the_order)
{
    const int orders[] = {2, 8, 32};
    double errors[3];
    for (int k = 0; k < 3; k++) {
        char config[128];
        snprintf(config, sizeof config, "d_model=8,l_max=128,order=2,filter_order=16,step=modal,modal_order=%d",
                 orders[k]);
        OpFixture fx;
        cr_assert_eq(fixture_setup(&fx, "hyena", config, 1, 128, 9, 0.1f), 0, "%s", config);
        errors[k] = step_against_forward(&fx);
        fixture_teardown(&fx);
    }
    cr_expect(errors[0] > errors[1] && errors[1] > errors[2], "errors by order 2, 8, 32: %.3g %.3g %.3g", errors[0],
              errors[1], errors[2]);
    cr_expect_lt(errors[2], 1e-2, "order 32: %.3g", errors[2]);
}

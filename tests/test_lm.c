/* The decoder LM composed of registry operators: gradients against finite differences, overfitting a tiny
 * batch, the config string round trip and the parameter names. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "lm.h"
#include "testutil.h"

typedef struct LmFixture {
    LmModel m;
    int B, T;
    float *params, *grads, *act, *ws;
    int *ids, *targets;
} LmFixture;

static void lm_fixture(LmFixture *f, const char *config, int B, int T, uint64_t seed)
{
    char err[256];
    cr_assert_eq(lm_create(&f->m, config, err, sizeof err), 0, "%s", err);
    f->B = B, f->T = T;
    f->params = core_alloc_floats(f->m.n_params);
    f->grads = core_alloc_floats(f->m.n_params);
    f->act = core_alloc_floats(lm_act_floats(&f->m, B, T));
    f->ws = core_alloc_floats(lm_workspace_floats(&f->m, B, T));
    f->ids = malloc(sizeof(int) * B * T);
    f->targets = malloc(sizeof(int) * B * T);
    cr_assert(f->params && f->grads && f->act && f->ws && f->ids && f->targets);
    lm_init(&f->m, f->params, seed);
    Rng rng;
    rng_init(&rng, seed + 1);
    for (int i = 0; i < B * T; i++) {
        f->ids[i] = (int)rng_below(&rng, (uint32_t)f->m.cfg.vocab);
        f->targets[i] = (int)rng_below(&rng, (uint32_t)f->m.cfg.vocab);
    }
    f->targets[1] = -1; /* an ignored position */
}

static void lm_fixture_free(LmFixture *f)
{
    core_free(f->params), core_free(f->grads), core_free(f->act), core_free(f->ws);
    free(f->ids), free(f->targets);
    lm_destroy(&f->m);
}

static double loss_of(LmFixture *f)
{
    return lm_forward_backward(&f->m, f->params, f->ids, f->targets, f->B, f->T, f->act, f->ws, NULL, 0, 0);
}

/* Central differences on up to `per_tensor` entries of every tensor; returns the worst relative error. */
static double objective_of(void *ctx) { return loss_of(ctx); }

static double model_gradcheck(LmFixture *f, int per_tensor, char *worst, size_t worst_len)
{
    memset(f->grads, 0, f->m.n_params * sizeof(float));
    lm_forward_backward(&f->m, f->params, f->ids, f->targets, f->B, f->T, f->act, f->ws, f->grads, 1, 0);
    return gradcheck_model(f->m.tensors, f->m.n_tensors, f->params, f->grads, per_tensor, 1e-2f, 2e-3, objective_of,
                           f, worst, worst_len);
}

static void check_model_gradient(const char *config)
{
    LmFixture f;
    lm_fixture(&f, config, 2, 6, 11);
    /* Larger weights than the 0.02 init, so every path carries a gradient well above round-off. */
    Rng rng;
    rng_init(&rng, 5);
    for (size_t i = 0; i < f.m.n_params; i++)
        f.params[i] += 0.2f * rng_normal(&rng);
    char worst[256] = "";
    double err = model_gradcheck(&f, 4, worst, sizeof worst);
    cr_expect_leq(err, 2e-2, "%s: worst gradient error %.3g at %s", config, err, worst);
    lm_fixture_free(&f);
}

#define TINY "vocab=7,d_model=8,layers=2,context=6"

Test(lm, attention_ffn_model_gradient_matches_finite_differences)
{
    check_model_gradient(TINY ",mixer=attention,channel=ffn,mixer.n_heads=2,channel.d_hidden=12");
}

Test(lm, untied_head_without_positions_gradient_matches_finite_differences)
{
    check_model_gradient(TINY ",mixer=attention,channel=ffn,pos_emb=0,tied=0,mixer.n_heads=2,channel.d_hidden=12");
}

Test(lm, hyena_ffn_model_gradient_matches_finite_differences)
{
    check_model_gradient(TINY ",mixer=hyena,channel=ffn,pos_emb=0,mixer.filter_order=8,channel.d_hidden=12");
}

Test(lm, s4d_fff_model_gradient_matches_finite_differences)
{
    check_model_gradient(TINY ",mixer=s4d,channel=fff,pos_emb=0,channel.depth=2,channel.leaf_width=3");
}

/* Every expert kept and no noise, so the perturbations cannot flip the (piecewise constant) top-k choice;
 * GELU experts, since a ReLU kink inside the step breaks central differences; no balance loss, whose
 * gradient backward adds but the returned cross-entropy leaves out (the operator's own tests check top-k
 * routing and the auxiliary gradients). */
Test(lm, attention_moe_model_gradient_matches_finite_differences)
{
    check_model_gradient(TINY ",mixer=attention,channel=moe,mixer.n_heads=2,channel.n_experts=4,channel.top_k=4,"
                              "channel.d_hidden=6,channel.activation=gelu,channel.noise=0,balance=0");
}

/* Adam on one fixed batch: a working forward/backward drives the loss towards zero. */
static void check_overfits(const char *config)
{
    LmFixture f;
    lm_fixture(&f, config, 2, 8, 3);
    float *m = calloc(f.m.n_params, sizeof(float)), *v = calloc(f.m.n_params, sizeof(float));
    cr_assert(m && v);
    AdamWConfig opt = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f};
    double first = 0, loss = 0;
    for (int step = 1; step <= 300; step++) {
        memset(f.grads, 0, f.m.n_params * sizeof(float));
        loss = lm_forward_backward(&f.m, f.params, f.ids, f.targets, f.B, f.T, f.act, f.ws, f.grads, 1, (uint64_t)step);
        first = step == 1 ? loss : first;
        adamw_step(&opt, f.params, f.grads, m, v, f.m.n_params, step);
    }
    cr_expect_lt(loss, 0.05, "%s: loss %.4f after 300 steps (from %.4f)", config, loss, first);
    free(m), free(v);
    lm_fixture_free(&f);
}

#define SMALL "vocab=16,d_model=32,layers=2,context=8"
#define ATTN ",mixer=attention,mixer.n_heads=4"
#define HYENA ",mixer=hyena,pos_emb=0"
#define S4D ",mixer=s4d,pos_emb=0"
#define FFN ",channel=ffn,channel.d_hidden=64"
/* The training modes the experiments use: FFF with its hardening loss, MoE with noisy gating (fresh noise
 * every step) and its balance losses. */
#define FFF ",channel=fff,channel.depth=2,channel.leaf_width=16"
#define MOE ",channel=moe,channel.n_experts=4,channel.top_k=2,channel.d_hidden=16"

Test(lm, attention_ffn_overfits_a_tiny_batch) { check_overfits(SMALL ATTN FFN); }
Test(lm, attention_fff_overfits_a_tiny_batch) { check_overfits(SMALL ATTN FFF); }
Test(lm, attention_moe_overfits_a_tiny_batch) { check_overfits(SMALL ATTN MOE); }
Test(lm, hyena_ffn_overfits_a_tiny_batch) { check_overfits(SMALL HYENA FFN); }
Test(lm, hyena_fff_overfits_a_tiny_batch) { check_overfits(SMALL HYENA FFF); }
Test(lm, hyena_moe_overfits_a_tiny_batch) { check_overfits(SMALL HYENA MOE); }
Test(lm, s4d_ffn_overfits_a_tiny_batch) { check_overfits(SMALL S4D FFN); }
Test(lm, s4d_fff_overfits_a_tiny_batch) { check_overfits(SMALL S4D FFF); }
Test(lm, s4d_moe_overfits_a_tiny_batch) { check_overfits(SMALL S4D MOE); }

/* The trainer passes its step as `draw`: noisy MoE gating draws fresh noise per step, and a draw repeats. */
static double loss_at_draw(LmFixture *f, uint64_t draw)
{
    return lm_forward_backward(&f->m, f->params, f->ids, f->targets, f->B, f->T, f->act, f->ws, NULL, 0, draw);
}

Test(lm, moe_noise_changes_with_the_draw_and_repeats_for_the_same_draw)
{
    LmFixture f;
    lm_fixture(&f, SMALL ATTN MOE, 2, 8, 3);
    Rng rng;
    rng_init(&rng, 8);
    for (size_t i = 0; i < f.m.n_params; i++) /* nonzero gate and noise weights, so noise reorders experts */
        f.params[i] += 0.3f * rng_normal(&rng);
    double a = loss_at_draw(&f, 0), b = loss_at_draw(&f, 0), c = loss_at_draw(&f, 1);
    cr_expect_eq(a, b, "same draw, same loss: %.9g vs %.9g", a, b);
    cr_expect_gt(fabs(a - c), 1e-6, "another draw changes the noise: %.9g vs %.9g", a, c);
    lm_fixture_free(&f);
}

Test(lm, config_string_rebuilds_the_same_model_and_names_follow_the_layout)
{
    LmModel a, b;
    char err[256], text[2048], text2[2048];
    cr_assert_eq(lm_create(&a, TINY ",mixer=hyena,channel=ffn,channel.d_hidden=12", err, sizeof err), 0, "%s", err);
    cr_assert_eq(lm_config_string(&a, text, sizeof text), 0);
    cr_assert_eq(lm_create(&b, text, err, sizeof err), 0, "'%s': %s", text, err);
    cr_assert_eq(lm_config_string(&b, text2, sizeof text2), 0);
    cr_expect_str_eq(text, text2);
    cr_expect_eq(a.n_params, b.n_params);
    cr_expect(strstr(text, "mixer.l_max=6") != NULL, "hyena gets l_max = context: %s", text);
    cr_expect_str_eq(a.tensors[0].spec.name, "wte.weight");
    cr_expect_str_eq(a.tensors[2].spec.name, "layers.0.norm1.weight");
    cr_expect_str_eq(a.tensors[4].spec.name, "layers.0.mixer.in_proj.weight");
    size_t total = 0;
    for (int t = 0; t < a.n_tensors; t++)
        total += a.tensors[t].spec.numel;
    cr_expect_eq(total, a.n_params, "tensors tile the parameter block");
    lm_destroy(&a), lm_destroy(&b);
    cr_expect_eq(lm_create(&b, TINY ",mixer=hyena,bogus=1", err, sizeof err), -1);
    cr_expect(strstr(err, "bogus") != NULL, "%s", err);
    lm_destroy(&b);
}

/* Mean and standard deviation of the named tensor, and its largest magnitude. */
static void tensor_stats(const LmModel *m, const float *params, const char *name, double *mean, double *std,
                         double *max_abs)
{
    const LmTensor *t = NULL;
    for (int i = 0; i < m->n_tensors && !t; i++)
        if (strcmp(m->tensors[i].spec.name, name) == 0)
            t = &m->tensors[i];
    cr_assert(t, "no tensor %s", name);
    double s = 0, s2 = 0, mx = 0;
    const float *x = params + t->spec.offset;
    for (size_t i = 0; i < t->spec.numel; i++)
        s += x[i], s2 += (double)x[i] * x[i], mx = fabs(x[i]) > mx ? fabs(x[i]) : mx;
    *mean = s / (double)t->spec.numel;
    *std = sqrt(s2 / (double)t->spec.numel - *mean * *mean);
    *max_abs = mx;
}

static void expect_std(const LmModel *m, const float *params, const char *name, double want)
{
    double mean, std, mx;
    tensor_stats(m, params, name, &mean, &std, &mx);
    cr_expect(fabs(std / want - 1.0) < 0.08, "%s: std %.4g, want %.4g", name, std, want);
    cr_expect(fabs(mean) < 0.1 * want, "%s: mean %.3g", name, mean);
}

/* init=safari: N(0, 0.02) weights, residual projections N(0, 0.02 / sqrt(2 layers)), zero biases. init=torch:
 * wte N(0, 1), untied head and linear layers U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (std bound / sqrt(3)). */
Test(lm, initialisations_follow_their_recipes)
{
    const char *shape = "vocab=96,d_model=64,layers=2,context=32,mixer=attention,channel=ffn,mixer.n_heads=4,"
                        "channel.d_hidden=128";
    char config[512], err[256];
    LmModel m;
    snprintf(config, sizeof config, "%s,init=safari", shape);
    cr_assert_eq(lm_create(&m, config, err, sizeof err), 0, "%s", err);
    float *p = core_alloc_floats(m.n_params);
    cr_assert(p);
    lm_init(&m, p, 5);
    expect_std(&m, p, "wte.weight", 0.02);
    expect_std(&m, p, "layers.0.channel.fc1.weight", 0.02);
    expect_std(&m, p, "layers.1.channel.fc2.weight", 0.02 / 2.0);
    double mean, std, mx;
    tensor_stats(&m, p, "layers.0.channel.fc1.bias", &mean, &std, &mx);
    cr_expect_eq(mx, 0.0, "safari biases are zero");
    core_free(p), lm_destroy(&m);

    snprintf(config, sizeof config, "%s,init=torch,tied=0", shape);
    cr_assert_eq(lm_create(&m, config, err, sizeof err), 0, "%s", err);
    cr_assert(p = core_alloc_floats(m.n_params));
    lm_init(&m, p, 5);
    expect_std(&m, p, "wte.weight", 1.0);
    expect_std(&m, p, "wpe.weight", 0.02);
    expect_std(&m, p, "head.weight", 1.0 / sqrt(3.0 * 64));
    tensor_stats(&m, p, "head.weight", &mean, &std, &mx);
    cr_expect_leq(mx, 1.0 / sqrt(64.0), "head: uniform within 1/sqrt(D)");
    expect_std(&m, p, "layers.0.channel.fc1.weight", 1.0 / sqrt(3.0 * 64));
    expect_std(&m, p, "layers.1.channel.fc2.weight", 1.0 / sqrt(3.0 * 128));
    core_free(p), lm_destroy(&m);
}

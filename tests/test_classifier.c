/* The image classifiers (baselines/classifier.h) and their trainer (bench/train/train_cls.h): gradients of every model
 * kind against finite differences, overfitting a handful of images, deterministic augmentation, the NaN guard,
 * exact repetition, the config string round trip, and that a ViT with bidirectional attention lets patch 0 see
 * patch 63. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "testutil.h"
#include "train_cls.h"

#define GRAD_EPS 3e-3f   /* central differences in float32: smaller steps drown in round-off, larger in curvature */
#define GRAD_FLOOR 2e-3  /* relative error |analytic - numeric| / (|numeric| + floor) */
#define GRAD_TOL 2e-2

/* A model with its buffers and a batch of random images and labels. */
typedef struct ClsFixture {
    ClsModel m;
    int B;
    float *params, *grads, *act, *ws, *images;
    int *labels;
    float *train_grads; /* when set, objective() is the training pass (dropout on), its gradient discarded here */
} ClsFixture;

static void fixture(ClsFixture *f, const char *config, int B, uint64_t seed)
{
    char err[256];
    cr_assert_eq(cls_create(&f->m, config, err, sizeof err), 0, "%s", err);
    f->B = B;
    size_t image = (size_t)f->m.cfg.image * f->m.cfg.image * f->m.cfg.channels;
    f->params = core_alloc_floats(f->m.n_params);
    f->grads = core_alloc_floats(f->m.n_params);
    f->act = core_alloc_floats(cls_act_floats(&f->m, B));
    f->ws = core_alloc_floats(cls_workspace_floats(&f->m, B));
    f->images = core_alloc_floats((size_t)B * image);
    f->labels = malloc(sizeof(int) * (size_t)B);
    f->train_grads = NULL;
    cr_assert(f->params && f->grads && f->act && f->ws && f->images && f->labels);
    cls_init(&f->m, f->params, seed);
    fill_normal(f->images, (size_t)B * image, seed + 1, 1.0f);
    for (int b = 0; b < B; b++)
        f->labels[b] = (int)((seed + 7u * (unsigned)b) % (unsigned)f->m.cfg.classes);
}

static void fixture_free(ClsFixture *f)
{
    core_free(f->params), core_free(f->grads), core_free(f->act), core_free(f->ws), core_free(f->images);
    free(f->labels);
    core_free(f->train_grads);
    cls_destroy(&f->m);
}

static double objective(ClsFixture *f)
{
    return cls_forward_backward(&f->m, f->params, f->images, f->labels, f->B, f->act, f->ws, f->train_grads,
                                f->train_grads != NULL, 3, NULL);
}

/* Central differences on up to `per_tensor` entries of every tensor; the worst relative error. */
static double objective_of(void *ctx) { return objective(ctx); }

static double model_gradcheck(ClsFixture *f, int per_tensor, char *worst, size_t worst_len)
{
    memset(f->grads, 0, f->m.n_params * sizeof(float));
    cls_forward_backward(&f->m, f->params, f->images, f->labels, f->B, f->act, f->ws, f->grads, 1, 3, NULL);
    return gradcheck_model(f->m.tensors, f->m.n_tensors, f->params, f->grads, per_tensor, GRAD_EPS, GRAD_FLOOR,
                           objective_of, f, worst, worst_len);
}

/* The gradient of the evaluation objective or, with train, of the training objective (dropout masks of draw 3). */
static void check_gradient_of(const char *config, int train)
{
    ClsFixture f;
    fixture(&f, config, 3, 11);
    if (train)
        cr_assert(f.train_grads = core_alloc_floats(f.m.n_params));
    /* Larger weights than the init, so every path carries a gradient well above round-off. */
    Rng rng;
    rng_init(&rng, 5);
    for (size_t i = 0; i < f.m.n_params; i++)
        f.params[i] += 0.2f * rng_normal(&rng);
    char worst[256] = "";
    double err = model_gradcheck(&f, 4, worst, sizeof worst);
    cr_expect_leq(err, GRAD_TOL, "%s: worst gradient error %.3g at %s", config, err, worst);
    fixture_free(&f);
}

static void check_gradient(const char *config) { check_gradient_of(config, 0); }

#define FLAT "arch=flat,classes=3,image=4,channels=2"
#define VIT "arch=blocks,classes=3,image=4,channels=2,patch=2,d_model=8,layers=2,pos_emb=1"
#define SEQ "arch=blocks,classes=3,image=3,channels=2,patch=1,d_model=8,layers=2"

/* GELU everywhere: a ReLU kink inside a central-difference step breaks the estimate. */
Test(classifier, flat_ffn_gradient_matches_finite_differences)
{
    check_gradient(FLAT ",channel=ffn,channel.d_hidden=5");
}

Test(classifier, flat_fff_with_hardening_gradient_matches_finite_differences)
{
    check_gradient(FLAT ",channel=fff,hardening=0.5,channel.depth=2,channel.leaf_width=3,channel.activation=gelu");
}

/* Every expert kept and no gating noise, so no perturbation can flip the piecewise-constant top-k choice;
 * the balance loss is part of the objective and of its gradient. */
Test(classifier, flat_moe_with_balance_loss_gradient_matches_finite_differences)
{
    check_gradient(FLAT ",channel=moe,balance=0.1,channel.n_experts=4,channel.top_k=4,channel.d_hidden=3,"
                        "channel.activation=gelu,channel.noise=0");
}

Test(classifier, vit_bidirectional_attention_ffn_gradient_matches_finite_differences)
{
    check_gradient(VIT ",mixer=attention,channel=ffn,mixer.n_heads=2,mixer.causal=0,channel.d_hidden=12");
}

Test(classifier, vit_hyena_fff_gradient_matches_finite_differences)
{
    check_gradient(VIT ",mixer=hyena,channel=fff,hardening=0.3,mixer.filter_order=8,channel.depth=1,"
                       "channel.leaf_width=4,channel.activation=gelu");
}

Test(classifier, pixel_sequence_s4d_last_token_gradient_matches_finite_differences)
{
    check_gradient(SEQ ",mixer=s4d,channel=none,pool=last,mixer.d_state=4");
}

Test(classifier, pixel_sequence_hyena_ffn_gradient_matches_finite_differences)
{
    check_gradient(SEQ ",mixer=hyena,channel=ffn,mixer.filter_order=8,channel.d_hidden=12");
}

#define ISO "arch=blocks,classes=3,image=4,channels=2,patch=1,d_model=4,layers=2,channel=ffn,channel.d_hidden=6"

Test(classifier, isometric_depthwise_conv2d_gradient_matches_finite_differences)
{
    check_gradient(ISO ",mixer=conv2d,mixer.kernel=3,mixer.groups=4");
}

Test(classifier, isometric_longconv2d_gradient_matches_finite_differences)
{
    check_gradient(ISO ",mixer=longconv2d,mixer.filter_order=8");
}

/* The training objective with residual dropout: the masks are fixed by the draw, so the loss is a smooth
 * function of the parameters and backward must be its exact gradient (mask and 1 / (1 - p) scaling included). */
Test(classifier, isometric_longconv2d_with_dropout_training_gradient_matches_finite_differences)
{
    check_gradient_of(ISO ",mixer=longconv2d,mixer.filter_order=8,dropout=0.3", 1);
}

/* Dropout keeps 1 - p of a branch's elements, scaled by 1 / (1 - p), in training passes only. One layer without a
 * channel: the residual stream after the layer minus before it is the mixer branch, compared between a training
 * pass and an evaluation pass of the same model and images. */
Test(classifier, dropout_zeroes_p_of_the_branch_and_only_in_training)
{
    const char *base = "arch=blocks,classes=3,image=16,channels=2,patch=1,d_model=16,layers=1,channel=none,"
                       "mixer=conv2d,mixer.kernel=3,mixer.groups=16";
    char with[512];
    snprintf(with, sizeof with, "%s,dropout=0.25", base);
    ClsFixture a, b;
    fixture(&a, base, 8, 21);
    fixture(&b, with, 8, 21);
    cr_assert(b.train_grads = core_alloc_floats(b.m.n_params));
    /* Evaluation passes ignore dropout: identical losses, bit for bit. */
    double la = objective(&a), lb_eval = cls_forward_backward(&b.m, b.params, b.images, b.labels, b.B, b.act, b.ws,
                                                              NULL, 0, 3, NULL);
    cr_expect_eq(la, lb_eval, "evaluation loss %.9g with dropout, %.9g without", lb_eval, la);
    /* Training passes: the same draw repeats exactly, another draw differs. */
    double t1 = cls_forward_backward(&b.m, b.params, b.images, b.labels, b.B, b.act, b.ws, b.train_grads, 1, 5, NULL);
    double t2 = cls_forward_backward(&b.m, b.params, b.images, b.labels, b.B, b.act, b.ws, b.train_grads, 1, 5, NULL);
    double t3 = cls_forward_backward(&b.m, b.params, b.images, b.labels, b.B, b.act, b.ws, b.train_grads, 1, 6, NULL);
    cr_expect_eq(t1, t2, "same draw, different training losses %.9g and %.9g", t1, t2);
    cr_expect_neq(t1, t3, "draws 5 and 6 gave the same training loss");
    cr_expect_neq(t1, la, "the training pass with dropout 0.25 gave the evaluation loss");
    /* The layer's output is x_in + mask * mixer(x) / (1 - p) in training and x_in + mixer(x) in evaluation: count
     * the zeroed branch elements and check the kept ones' scale. */
    const size_t N = (size_t)b.B * b.m.seq_len * b.m.width;
    float *x_mid_train = malloc(N * sizeof(float)), *x_mid_eval = malloc(N * sizeof(float));
    cr_assert(x_mid_train && x_mid_eval);
    cls_forward_backward(&b.m, b.params, b.images, b.labels, b.B, b.act, b.ws, b.train_grads, 1, 5, NULL);
    memcpy(x_mid_train, cls_residual_stream(&b.m, b.act, b.B, 1), N * sizeof(float));
    cls_forward_backward(&b.m, b.params, b.images, b.labels, b.B, b.act, b.ws, NULL, 0, 5, NULL);
    memcpy(x_mid_eval, cls_residual_stream(&b.m, b.act, b.B, 1), N * sizeof(float));
    const float *x_in = cls_residual_stream(&b.m, b.act, b.B, 0);
    size_t zeroed = 0, scaled = 0;
    for (size_t i = 0; i < N; i++) {
        float branch_eval = x_mid_eval[i] - x_in[i], branch_train = x_mid_train[i] - x_in[i];
        if (fabsf(branch_eval) < 1e-3f)
            continue; /* too small to tell kept from dropped */
        if (fabsf(branch_train) <= 1e-5f * fabsf(branch_eval) + 1e-6f)
            zeroed++;
        else {
            cr_expect_leq(fabsf(branch_train - branch_eval / 0.75f), 1e-4f * fabsf(branch_eval) + 1e-5f,
                          "kept element %zu: %g, expected %g / 0.75", i, branch_train, branch_eval);
            scaled++;
        }
    }
    double frac = (double)zeroed / (double)(zeroed + scaled);
    cr_expect(zeroed + scaled > 10000, "only %zu elements checked", zeroed + scaled);
    cr_expect(fabs(frac - 0.25) < 0.02, "dropped fraction %.4f, expected 0.25", frac);
    free(x_mid_train), free(x_mid_eval);
    fixture_free(&a), fixture_free(&b);
}

/* ---- the trainer on synthetic images ---- */

/* A handful of fixed random images (N(0, 1) pixels) with fixed labels: every batch is the whole set. */
typedef struct Handful {
    int n, pixels;
    float *images;
    int *labels;
    int poison; /* 1: NaN pixels (the guard must stop the run) */
} Handful;

static int handful_train(void *ctx, uint64_t index, int B, float *images, int *labels, char *err, size_t errlen)
{
    (void)index, (void)err, (void)errlen;
    Handful *h = ctx;
    for (int b = 0; b < B; b++) {
        memcpy(images + (size_t)b * h->pixels, h->images + (size_t)(b % h->n) * h->pixels, h->pixels * sizeof(float));
        labels[b] = h->labels[b % h->n];
    }
    if (h->poison)
        images[0] = NAN;
    return 0;
}

static int handful_eval(void *ctx, int split, int first, int B, float *images, int *labels)
{
    (void)split;
    Handful *h = ctx;
    int count = 0;
    for (int i = first; i < h->n && count < B; i++, count++) {
        memcpy(images + (size_t)count * h->pixels, h->images + (size_t)i * h->pixels, h->pixels * sizeof(float));
        labels[count] = h->labels[i];
    }
    return count;
}

static ClsData handful(Handful *h, int n, int pixels, uint64_t seed)
{
    h->n = n, h->pixels = pixels, h->poison = 0;
    h->images = malloc(sizeof(float) * (size_t)n * pixels);
    h->labels = malloc(sizeof(int) * (size_t)n);
    cr_assert(h->images && h->labels);
    fill_normal(h->images, (size_t)n * pixels, seed, 1.0f);
    for (int i = 0; i < n; i++)
        h->labels[i] = i % 10;
    return (ClsData){h, handful_train, handful_eval, {n, n}};
}

static ClsTrainConfig tiny_recipe(int steps, int batch)
{
    ClsTrainConfig c = cls_train_defaults(steps, 1e-2f);
    c.opt.batch = batch, c.opt.weight_decay = 0.0f, c.opt.warmup = 5;
    c.eval_batch = 8, c.eval_test_images = 0, c.eval_train_images = 0;
    return c;
}

/* 8 images, 10 classes, 300 AdamW steps: a working forward/backward memorises them. */
static void check_overfits(const char *config)
{
    char err[256];
    ClsModel m;
    cr_assert_eq(cls_create(&m, config, err, sizeof err), 0, "%s", err);
    Handful h;
    ClsData data = handful(&h, 8, m.cfg.image * m.cfg.image * m.cfg.channels, 4);
    ClsTrainConfig cfg = tiny_recipe(300, 8);
    TrainState st;
    ClsLog log;
    ClsTrainResult r;
    cr_assert_eq(cls_state_alloc(&st, &m, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cls_log_alloc(&log, 300, 2), 0);
    cr_assert_eq(cls_train_run(&m, &cfg, &data, &st, &log, &r, err, sizeof err), 0, "%s", err);
    cr_expect_lt(r.train.loss, 0.05, "%s: memorisation loss %.4f after 300 steps (first step %.4f)", config,
                 r.train.loss, log.train_loss[0]);
    cr_expect_eq(r.train.accuracy, 100.0, "%s: memorisation accuracy %.1f%%", config, r.train.accuracy);
    cls_log_free(&log);
    train_state_free(&st);
    free(h.images), free(h.labels);
    cls_destroy(&m);
}

#define SMALL_VIT "arch=blocks,classes=10,image=8,channels=3,patch=2,d_model=32,layers=2,pos_emb=1"

Test(classifier, flat_fff_overfits_a_handful_of_images)
{
    check_overfits("arch=flat,classes=10,image=8,channels=3,channel=fff,hardening=0.1,channel.depth=2,"
                   "channel.leaf_width=8");
}

Test(classifier, vit_attention_ffn_overfits_a_handful_of_images)
{
    check_overfits(SMALL_VIT ",mixer=attention,channel=ffn,mixer.n_heads=4,mixer.causal=0,channel.d_hidden=64");
}

Test(classifier, vit_hyena_moe_overfits_a_handful_of_images)
{
    check_overfits(SMALL_VIT ",mixer=hyena,channel=moe,channel.n_experts=4,channel.top_k=1,channel.d_hidden=16");
}

Test(classifier, nan_pixels_stop_training_with_a_clear_message)
{
    char err[256] = "";
    ClsModel m;
    cr_assert_eq(cls_create(&m, "arch=flat,image=4,channels=3,channel=ffn,channel.d_hidden=8", err, sizeof err), 0);
    Handful h;
    ClsData data = handful(&h, 4, 48, 2);
    h.poison = 1;
    ClsTrainConfig cfg = tiny_recipe(10, 4);
    TrainState st;
    ClsTrainResult r;
    cr_assert_eq(cls_state_alloc(&st, &m, 1, err, sizeof err), 0);
    cr_expect_eq(cls_train_run(&m, &cfg, &data, &st, NULL, &r, err, sizeof err), -1);
    cr_expect(r.stopped_nan, "the NaN guard did not report a NaN stop");
    cr_expect(strstr(err, "step 1: loss is NaN") != NULL, "message: %s", err);
    cr_expect_eq(st.step, 0, "no update may follow a NaN step");
    train_state_free(&st);
    free(h.images), free(h.labels);
    cls_destroy(&m);
}

/* Two runs with the same seeds give bit-identical losses (MoE noise included: it is drawn from the step). */
Test(classifier, training_repeats_exactly_with_the_same_seeds)
{
    const char *config = SMALL_VIT ",mixer=attention,channel=moe,mixer.n_heads=4,mixer.causal=0,"
                                   "channel.n_experts=4,channel.top_k=1,channel.d_hidden=8";
    double losses[2][20];
    for (int run = 0; run < 2; run++) {
        char err[256];
        ClsModel m;
        cr_assert_eq(cls_create(&m, config, err, sizeof err), 0, "%s", err);
        Handful h;
        ClsData data = handful(&h, 8, 192, 4);
        ClsTrainConfig cfg = tiny_recipe(20, 8);
        TrainState st;
        ClsLog log;
        ClsTrainResult r;
        cr_assert_eq(cls_state_alloc(&st, &m, 1, err, sizeof err), 0);
        cr_assert_eq(cls_log_alloc(&log, 20, 2), 0);
        cr_assert_eq(cls_train_run(&m, &cfg, &data, &st, &log, &r, err, sizeof err), 0, "%s", err);
        memcpy(losses[run], log.train_loss, sizeof losses[run]);
        cls_log_free(&log);
        train_state_free(&st);
        free(h.images), free(h.labels);
        cls_destroy(&m);
    }
    cr_expect_eq(memcmp(losses[0], losses[1], sizeof losses[0]), 0, "the two runs' losses differ");
}

/* ---- augmentation ---- */

/* A synthetic CIFAR set of n images with distinct random bytes. */
static CifarSet synthetic_cifar(int n, uint64_t seed)
{
    CifarSet s;
    memset(&s, 0, sizeof s);
    s.n = n;
    s.labels = malloc((size_t)n);
    s.pixels = malloc((size_t)n * CIFAR_IMAGE_BYTES);
    cr_assert(s.labels && s.pixels);
    Rng rng;
    rng_init(&rng, seed);
    for (size_t i = 0; i < (size_t)n * CIFAR_IMAGE_BYTES; i++)
        s.pixels[i] = (uint8_t)rng_below(&rng, 256);
    for (int i = 0; i < n; i++)
        s.labels[i] = (uint8_t)(i % CIFAR_CLASSES);
    return s;
}

static void batch_of(ClsCifar *c, uint64_t index, float *images, int *labels)
{
    char err[256];
    cr_assert_eq(c->data.train_batch(c->data.ctx, index, 6, images, labels, err, sizeof err), 0);
}

Test(classifier, augmentation_is_deterministic_under_a_seed_and_differs_across_seeds)
{
    CifarSet set = synthetic_cifar(12, 3);
    CifarAugment aug = cifar_augment_default(); /* crop with padding 4, horizontal flip */
    const size_t n = 6 * (size_t)CIFAR_IMAGE_BYTES;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *plain = malloc(n * sizeof *plain);
    int la[6], lb[6], lp[6];
    cr_assert(a && b && plain);
    char err[256];
    ClsCifar c1, c2, c3;
    cr_assert_eq(cls_cifar_init(&c1, &set, &set, &aug, 7, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cls_cifar_init(&c2, &set, &set, &aug, 7, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cls_cifar_init(&c3, &set, &set, &aug, 8, err, sizeof err), 0, "%s", err);
    batch_of(&c1, 5, a, la);
    batch_of(&c2, 5, b, lb);
    cr_expect(memcmp(a, b, n * sizeof *a) == 0 && memcmp(la, lb, sizeof la) == 0, "same seed, different batch");
    batch_of(&c1, 5, b, lb); /* again from the same sampler, after nothing else */
    cr_expect(memcmp(a, b, n * sizeof *a) == 0, "a sampler repeated itself differently");
    batch_of(&c3, 5, b, lb);
    cr_expect(memcmp(a, b, n * sizeof *a) != 0, "seeds 7 and 8 gave the same augmented batch");
    /* The augmentation does something: some image differs from its plain (uncropped, unflipped) version. */
    int changed = 0;
    for (int i = 0; i < 6; i++) {
        int image = -1;
        for (int j = 0; j < set.n && image < 0; j++) {
            cr_assert_eq(c1.data.eval_batch(c1.data.ctx, CLS_SPLIT_TRAIN, j, 1, plain, lp), 1);
            (void)lp;
            image = memcmp(plain, a + (size_t)i * CIFAR_IMAGE_BYTES, CIFAR_IMAGE_BYTES * sizeof(float)) == 0 ? j : -1;
        }
        changed += image < 0;
    }
    cr_expect_gt(changed, 0, "no image of the batch was cropped or flipped");
    cls_cifar_free(&c1), cls_cifar_free(&c2), cls_cifar_free(&c3);
    free(a), free(b), free(plain);
    cifar_free(&set);
}

/* ---- structure ---- */

/* The ViT's encoder is bidirectional: changing patch 63 (the bottom-right 4x4 pixels) moves the final
 * representation of patch 0; with causal attention it cannot. */
Test(classifier, vit_with_bidirectional_attention_lets_patch_0_see_patch_63)
{
    const char *base = "arch=blocks,classes=10,image=32,channels=3,patch=4,d_model=16,layers=2,pos_emb=1,"
                       "mixer=attention,channel=ffn,mixer.n_heads=2,channel.d_hidden=32,mixer.causal=";
    for (int causal = 0; causal <= 1; causal++) {
        char config[512];
        snprintf(config, sizeof config, "%s%d", base, causal);
        ClsFixture f;
        fixture(&f, config, 1, 21);
        cr_assert_eq(f.m.seq_len, 64);
        objective(&f);
        float before[16], after[16];
        memcpy(before, cls_token_features(&f.m, f.act, 1), sizeof before); /* patch 0, D = 16 */
        for (int y = 28; y < 32; y++)
            for (int x = 28; x < 32; x++)
                for (int c = 0; c < 3; c++)
                    f.images[((size_t)y * 32 + x) * 3 + c] += 1.0f;
        objective(&f);
        memcpy(after, cls_token_features(&f.m, f.act, 1), sizeof after);
        double moved = max_scaled_diff(after, before, 16, 1e-6);
        if (causal)
            cr_expect_eq(memcmp(before, after, sizeof before), 0, "causal attention: patch 0 saw patch 63");
        else
            cr_expect_gt(moved, 1e-4, "causal=0: patch 0's features did not react to patch 63 (%.3g)", moved);
        fixture_free(&f);
    }
}

Test(classifier, config_string_round_trips_to_the_same_model)
{
    const char *configs[] = {FLAT ",channel=fff,channel.depth=2,channel.leaf_width=3",
                             VIT ",mixer=attention,channel=moe,mixer.n_heads=2,mixer.causal=0",
                             SEQ ",mixer=hyena,channel=none,pool=last"};
    for (int i = 0; i < 3; i++) {
        char err[256], text[4096], again[4096];
        ClsModel a, b;
        cr_assert_eq(cls_create(&a, configs[i], err, sizeof err), 0, "%s", err);
        cr_assert_eq(cls_config_string(&a, text, sizeof text), 0);
        cr_assert_eq(cls_create(&b, text, err, sizeof err), 0, "%s: %s", text, err);
        cr_assert_eq(cls_config_string(&b, again, sizeof again), 0);
        cr_expect_str_eq(text, again);
        cr_expect_eq(a.n_params, b.n_params);
        cls_destroy(&a), cls_destroy(&b);
    }
}

Test(classifier, bad_configs_are_rejected_with_a_message)
{
    const char *bad[] = {"arch=blocks,image=32,patch=5", "arch=flat,mixer.n_heads=2", "channel=none,channel.depth=2",
                         "classes=1", "arch=blocks,mixer=hyena,mixer.l_max=8,patch=1,image=4", "dropout=1",
                         "dropout=-0.1", "arch=flat,dropout=0.1"};
    for (int i = 0; i < 8; i++) {
        char err[256] = "";
        ClsModel m;
        cr_expect_eq(cls_create(&m, bad[i], err, sizeof err), -1, "accepted '%s'", bad[i]);
        cr_expect_neq(err[0], '\0', "no message for '%s'", bad[i]);
        cls_destroy(&m);
    }
}

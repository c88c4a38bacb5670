/* cifar_2d: the Hyena paper's 2D long convolutions on CIFAR-10 (Table 4.7: Hyena-ISO, an isometric network of 4
 * blocks at width 128 with implicit 2D long-convolution filters with a decay window and no gating, dropout 0.1,
 * weight decay 0.03, 100 epochs: 91.2% with 202K parameters, against the 2D state-space S4ND-ISO's 89.9% with
 * 268K). The same isometric network is trained with depthwise 3x3 convolutions (ops/conv2d.h, groups = width:
 * the same per-channel filtering with a 3x3 instead of an image-sized filter), with dense 3x3 convolutions
 * (groups = 1, the standard convolution) and with 2D long convolutions (ops/longconv2d.h):
 *
 *   patch embedding (linear over p x p x 3 patches) -> 4 x [x + mixer(norm(x)); x + ffn(norm(x))] -> norm ->
 *   mean pool -> linear head,  mixer in {conv2d 3x3 depthwise or dense, longconv2d}, ffn hidden width = width
 *
 * At width 128, patch 1 and ffn width 128 the longconv2d network has 205,834 parameters (the paper: 202K).
 * Every profile keeps the paper's dropout 0.1 on the residual branches (baselines/classifier.h). Runs conv2d
 * (depthwise), conv2d_dense and longconv2d record accuracy, parameters and time per epoch; root attributes
 * longconv_minus_conv_test_acc, longconv_minus_dense_conv_test_acc and the training-time ratios. */
#include <stdio.h>

#include "exp_cifar.h"

typedef struct IsoBudget {
    int patch, d_model, layers;
    int train_images, test_images, eval_images, steps, batch, evals;
} IsoBudget;

static IsoBudget iso_budget(ReproProfile p)
{
    if (p == PROFILE_SMOKE)
        return (IsoBudget){.patch = 4, .d_model = 16, .layers = 1, .train_images = 1000, .test_images = 200,
                           .eval_images = 200, .steps = 20, .batch = 16, .evals = 2};
    if (p == PROFILE_PAPER) /* patch 1, width 128: 100 epochs of batch 128 */
        return (IsoBudget){.patch = 1, .d_model = 128, .layers = 4, .steps = 39063, .batch = 128, .evals = 20};
    return (IsoBudget){.patch = 2, .d_model = 64, .layers = 4, .eval_images = 2000, .steps = 1500, .batch = 32,
                       .evals = 5};
}

int exp_cifar_2d(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    const IsoBudget b = iso_budget(ctx->profile);
    CifarAugment augment = cifar_augment_default();
    ExpCifarData d;
    if (exp_cifar_load(ctx, results, &d, b.train_images, b.test_images, &augment, err, errlen) != 0)
        return -1;
    char what[256];
    snprintf(what, sizeof what, "isometric network, patch %d (%dx%d grid), width %d, %d blocks, ffn %d, AdamW lr "
             "1e-3 wd 0.03, dropout 0.1, batch %d, %d steps", b.patch, 32 / b.patch, 32 / b.patch, b.d_model,
             b.layers, b.d_model, b.batch, b.steps);
    exp_cifar_note_scale(ctx, results, what);
    ClsTrainConfig tc = exp_cifar_recipe(b.steps, b.batch, 1e-3f, 0.03f, b.evals);
    tc.eval_test_images = b.eval_images, tc.eval_train_images = b.eval_images, tc.eval_batch = 100;
    /* Depthwise 3x3 (per-channel filters, like the long convolution's), dense 3x3 (the standard convolution),
     * and the 2D long convolution. */
    const char *names[3] = {"conv2d", "conv2d_dense", "longconv2d"};
    ExpCifarOutcome o[3];
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        char config[512];
        int used = snprintf(config, sizeof config, "arch=blocks,patch=%d,d_model=%d,layers=%d,pool=mean,dropout=0.1,"
                            "mixer=%s,channel=ffn,channel.d_hidden=%d", b.patch, b.d_model, b.layers,
                            i == 2 ? "longconv2d" : "conv2d", b.d_model);
        if (i < 2)
            snprintf(config + used, sizeof config - (size_t)used, ",mixer.kernel=3,mixer.groups=%d",
                     i == 0 ? b.d_model : 1);
        rc = exp_cifar_train(ctx, results, names[i], config, &d, &tc, &o[i], err, errlen);
    }
    if (rc == 0) {
        const ExpCifarOutcome *dw = &o[0], *dense = &o[1], *lc = &o[2];
        results_root_metric(results, "longconv_minus_conv_test_acc", lc->test_acc - dw->test_acc);
        results_root_metric(results, "longconv_minus_dense_conv_test_acc", lc->test_acc - dense->test_acc);
        results_root_metric(results, "longconv_over_conv_seconds", dw->seconds > 0 ? lc->seconds / dw->seconds : 0);
        results_root_metric(results, "longconv_over_dense_conv_seconds",
                            dense->seconds > 0 ? lc->seconds / dense->seconds : 0);
        results_root_metric(results, "longconv_params", lc->params);
        repro_log(ctx, "  2D long convolutions: %+.2f points over depthwise 3x3 (%.0f vs %.0f parameters, %.2fx the "
                  "time), %+.2f over dense 3x3 (%.0f parameters, %.2fx the time)\n", lc->test_acc - dw->test_acc,
                  lc->params, dw->params, dw->seconds > 0 ? lc->seconds / dw->seconds : 0,
                  lc->test_acc - dense->test_acc, dense->params, dense->seconds > 0 ? lc->seconds / dense->seconds : 0);
    }
    exp_cifar_free(&d);
    return rc;
}

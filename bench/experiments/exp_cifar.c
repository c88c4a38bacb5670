/* What the CIFAR-10 experiments share (exp_cifar.h): the data, one training run and its record. The
 * experiments: cifar_fff (exp_cifar_fff.c, the FFF paper's image-classification table), cifar_vit and scifar
 * (exp_cifar_vit.c: a small ViT, sequential CIFAR), cifar_2d (exp_cifar_2d.c, Hyena-ISO's 2D long convolutions).
 *
 * Every run /runs/<name> records its classifier config, the series step, train_loss, lr, eval_step, test_acc,
 * train_acc, test_loss, and the attributes params, test_acc, train_acc (memorisation: un-augmented training
 * images), best_test_acc, test_loss, seconds (training only), images_per_s_wall_time, epochs, seconds_per_epoch,
 * flops_train_per_image (forward + backward + AdamW), flops_infer_per_image (forward, inference mode),
 * neurons_used / neurons_total per token and layer of the channel, and for FFF and MoE channels the same
 * accuracies with hard routing (test_acc_infer, train_acc_infer: mode=infer on the same parameters) and the
 * evaluation time per image in both modes (eval_time_us_per_image_*). Accuracies are percentages. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "data.h"
#include "exp_cifar.h"
#include "exp_shard.h"
#include "timing.h"

/* ---- data ---- */

int exp_cifar_load(const ReproContext *ctx, Results *results, ExpCifarData *d, int n_train, int n_test,
                   const CifarAugment *augment, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    if (data_fetch("cifar10", DATA_CACHE_DIR, NULL, ctx->quiet ? NULL : stdout, err, errlen) != 0)
        return -1;
    if (data_load_cifar(DATA_CACHE_DIR, CIFAR_TRAIN, &d->train, err, errlen) != 0)
        return -1;
    if (data_load_cifar(DATA_CACHE_DIR, CIFAR_TEST, &d->test, err, errlen) != 0) {
        cifar_free(&d->train);
        return -1;
    }
    /* Prefixes of the sets (file order is class-mixed) for the scaled-down profiles. */
    d->train_view = d->train, d->test_view = d->test;
    d->train_view.n = n_train > 0 && n_train < d->train.n ? n_train : d->train.n;
    d->test_view.n = n_test > 0 && n_test < d->test.n ? n_test : d->test.n;
    if (cls_cifar_init(&d->cls, &d->train_view, &d->test_view, augment, ctx->seed + 17, err, errlen) != 0) {
        exp_cifar_free(d);
        return -1;
    }
    char source[2 * CIFAR_SOURCE_LEN + 8];
    snprintf(source, sizeof source, "%s (%s)", d->train.source, d->train.origin);
    results_root_str(results, "data_source", source);
    results_root_metric(results, "train_images", d->train_view.n);
    results_root_metric(results, "test_images", d->test_view.n);
    results_root_str(results, "augmentation", augment->pad > 0 || augment->flip
                                                  ? "random crop 32 with zero padding 4 and horizontal flip, seeded"
                                                  : "none");
    return 0;
}

void exp_cifar_free(ExpCifarData *d)
{
    cls_cifar_free(&d->cls);
    cifar_free(&d->train);
    cifar_free(&d->test);
    memset(d, 0, sizeof *d);
}

/* ---- one run ---- */

static void record_series(Results *results, const char *name, const ClsLog *log)
{
    results_series(results, name, "step", log->step, log->n_train);
    results_series(results, name, "train_loss", log->train_loss, log->n_train);
    results_series(results, name, "lr", log->lr, log->n_train);
    results_series(results, name, "eval_step", log->eval_step, log->n_eval);
    results_series(results, name, "test_acc", log->test_acc, log->n_eval);
    results_series(results, name, "train_acc", log->train_acc, log->n_eval);
    results_series(results, name, "test_loss", log->test_loss, log->n_eval);
}

static void record_metrics(Results *results, const char *name, const ClsModel *m, const ClsTrainConfig *tc,
                           const ClsTrainResult *r, ExpCifarOutcome *o)
{
    double used, total;
    cls_channel_neurons(m, &used, &total);
    o->params = (double)m->n_params, o->test_acc = r->test.accuracy, o->train_acc = r->train.accuracy;
    o->seconds = r->seconds, o->neurons_used = used, o->neurons_total = total;
    o->flops_train_per_image = r->flops_per_step / tc->opt.batch;
    if (!results)
        return;
    results_metric(results, name, "params", o->params);
    results_metric(results, name, "test_acc", r->test.accuracy);
    results_metric(results, name, "train_acc", r->train.accuracy);
    results_metric(results, name, "best_test_acc", r->best_test_acc);
    results_metric(results, name, "test_loss", r->test.loss);
    results_metric(results, name, "test_images_evaluated", r->test.images);
    results_metric(results, name, "train_images_evaluated", r->train.images);
    results_metric(results, name, "seconds", r->seconds);
    results_metric(results, name, "images_per_s_wall_time", r->images_per_s);
    results_metric(results, name, "epochs", r->epochs);
    results_metric(results, name, "seconds_per_epoch", r->epochs > 0 ? r->seconds / r->epochs : 0);
    results_metric(results, name, "steps", (double)r->steps_done);
    results_metric(results, name, "batch", tc->opt.batch);
    results_metric(results, name, "lr", tc->opt.lr);
    results_metric(results, name, "flops_train_per_image", o->flops_train_per_image);
    results_metric(results, name, "neurons_used", used);
    results_metric(results, name, "neurons_total", total);
    results_metric(results, name, "neuron_fraction", total > 0 ? used / total : 1.0);
}

/* config with "channel.mode=train" replaced by "channel.mode=infer" (FFF hard descent, MoE without noise). */
static int infer_config(const char *config, char *out, size_t len)
{
    const char *at = strstr(config, "channel.mode=train");
    if (!at || strlen(config) + 1 >= len)
        return -1;
    snprintf(out, len, "%.*schannel.mode=infer%s", (int)(at - config), config, at + strlen("channel.mode=train"));
    return 0;
}

/* Test and memorisation accuracy of a model on the trained parameters, with the test pass timed. */
static int evaluate_model(const ClsModel *m, const ExpCifarData *d, const ClsTrainConfig *tc, const float *params,
                          ClsEval *test, ClsEval *train, double *us_per_image, char *err, size_t errlen)
{
    double t0 = timing_now_seconds();
    if (cls_evaluate(m, &d->cls.data, CLS_SPLIT_TEST, tc->final_test_images, tc->eval_batch, params, test, err,
                     errlen) != 0)
        return -1;
    *us_per_image = test->images > 0 ? 1e6 * (timing_now_seconds() - t0) / test->images : 0;
    return cls_evaluate(m, &d->cls.data, CLS_SPLIT_TRAIN, tc->eval_train_images, tc->eval_batch, params, train, err,
                        errlen);
}

/* The inference-mode side of a run: FLOPs per image, and for FFF and MoE channels hard-routed accuracies. */
static int record_inference(Results *results, const char *name, const ClsModel *m, const char *config,
                            const ExpCifarData *d, const ClsTrainConfig *tc, const float *params, ExpCifarOutcome *o,
                            char *err, size_t errlen)
{
    char text[4096];
    ClsModel hard;
    int routed = m->has_channel && (m->cfg.channel == CLS_CHANNEL_FFF || m->cfg.channel == CLS_CHANNEL_MOE);
    if (!routed)
        snprintf(text, sizeof text, "%s", config);
    else if (infer_config(config, text, sizeof text) != 0) {
        snprintf(err, errlen, "%s: cannot switch the config to inference mode (no channel.mode=train, or too long)",
                 name);
        return -1;
    }
    if (cls_create(&hard, text, err, errlen) != 0)
        return -1;
    ClsEval test, train;
    double us_train_mode = 0, us = 0;
    int rc = 0;
    o->flops_infer_per_image = cls_flops(&hard, 1).forward;
    o->test_acc_infer = o->test_acc, o->train_acc_infer = o->train_acc;
    if (routed && (rc = evaluate_model(m, d, tc, params, &test, &train, &us_train_mode, err, errlen)) == 0 &&
        (rc = evaluate_model(&hard, d, tc, params, &test, &train, &us, err, errlen)) == 0) {
        o->test_acc_infer = test.accuracy, o->train_acc_infer = train.accuracy;
    }
    if (rc == 0 && routed && results) {
        results_metric(results, name, "test_acc_infer", test.accuracy);
        results_metric(results, name, "train_acc_infer", train.accuracy);
        results_metric(results, name, "eval_time_us_per_image_train_mode", us_train_mode);
        results_metric(results, name, "eval_time_us_per_image_infer_mode", us);
    }
    if (results)
        results_metric(results, name, "flops_infer_per_image", o->flops_infer_per_image);
    cls_destroy(&hard);
    return rc;
}

static void log_run(const ReproContext *ctx, const char *name, const ExpCifarOutcome *o, const ClsTrainResult *r,
                    int routed)
{
    repro_log(ctx, "  %-18s %8.0f params  test %5.2f%%  train %5.2f%%", name, o->params, o->test_acc, o->train_acc);
    if (routed)
        repro_log(ctx, "  (hard: test %5.2f%%  train %5.2f%%)", o->test_acc_infer, o->train_acc_infer);
    repro_log(ctx, "  %.2f epochs  %.0f s  %.3g inference FLOPs/image\n", r->epochs, r->seconds,
              o->flops_infer_per_image);
}

/* An outcome is all doubles, kept whole by a sharded reproduction. */
#define CIFAR_OUTCOME_VALUES (sizeof(ExpCifarOutcome) / sizeof(double))
_Static_assert(sizeof(ExpCifarOutcome) % sizeof(double) == 0, "ExpCifarOutcome must be doubles only");

/* One training run from initialisation seed `seed`; recorded as run `name` unless results is NULL. */
static int train_once(const ReproContext *ctx, Results *results, const char *name, const char *config,
                      const ExpCifarData *d, const ClsTrainConfig *tc, uint64_t seed, ExpCifarOutcome *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    ClsModel m;
    if (cls_create(&m, config, err, errlen) != 0)
        return -1;
    /* A unit of a sharded reproduction (exp_shard.h): <name>.seed<seed>, its cost the analytic training FLOPs. */
    char key[160];
    double v[CIFAR_OUTCOME_VALUES];
    snprintf(key, sizeof key, "%s.seed%llu", name, (unsigned long long)seed);
    const OpFlops f = cls_flops(&m, tc->opt.batch);
    int unit = exp_unit_begin(ctx, key, results ? name : NULL, (f.forward + f.backward) * tc->opt.steps,
                              v, (int)CIFAR_OUTCOME_VALUES, err, errlen);
    if (unit <= 0) {
        if (unit == 0)
            memcpy(out, v, sizeof *out);
        cls_destroy(&m);
        return unit;
    }
    TrainState st;
    ClsLog log;
    ClsTrainResult r;
    int evals = tc->opt.eval_every > 0 ? tc->opt.steps / tc->opt.eval_every + 2 : 2;
    int rc = cls_state_alloc(&st, &m, seed, err, errlen);
    if (rc == 0 && (rc = cls_log_alloc(&log, tc->opt.steps, evals)) != 0) {
        snprintf(err, errlen, "out of memory for the training log");
        train_state_free(&st);
    }
    if (rc == 0) {
        char canon[4096];
        if (cls_config_string(&m, canon, sizeof canon) != 0) {
            snprintf(err, errlen, "%s: the model's config string does not fit %zu bytes", name, sizeof canon);
            rc = -1;
        }
        if (rc == 0)
            rc = cls_train_run(&m, tc, &d->cls.data, &st, &log, &r, err, errlen);
        if (rc == 0 && results) {
            results_run(results, name, canon);
            record_series(results, name, &log);
        }
        if (rc == 0) {
            record_metrics(results, name, &m, tc, &r, out);
            rc = record_inference(results, name, &m, canon, d, tc, st.params, out, err, errlen);
        }
        if (rc == 0)
            log_run(ctx, name, out, &r, m.cfg.channel == CLS_CHANNEL_FFF || m.cfg.channel == CLS_CHANNEL_MOE);
        if (rc == 0) {
            memcpy(v, out, sizeof *out);
            rc = exp_unit_end(ctx, key, results ? name : NULL, v, (int)CIFAR_OUTCOME_VALUES, err, errlen);
        }
        cls_log_free(&log);
        train_state_free(&st);
    }
    cls_destroy(&m);
    return rc;
}

int exp_cifar_train(const ReproContext *ctx, Results *results, const char *name, const char *config,
                    const ExpCifarData *d, const ClsTrainConfig *tc, ExpCifarOutcome *out, char *err, size_t errlen)
{
    return train_once(ctx, results, name, config, d, tc, exp_seed(ctx, 5, 0), out, err, errlen);
}

/* The accuracies of runs over seeds: the mean as the run's attribute, the values as <metric>_by_seed. */
static void record_seed_means(Results *results, const char *name, const ExpCifarOutcome *per_seed, int n,
                              ExpCifarOutcome *mean)
{
    static const struct {
        const char *metric;
        size_t offset;
    } metrics[] = {
        {"test_acc", offsetof(ExpCifarOutcome, test_acc)},
        {"train_acc", offsetof(ExpCifarOutcome, train_acc)},
        {"test_acc_infer", offsetof(ExpCifarOutcome, test_acc_infer)},
        {"train_acc_infer", offsetof(ExpCifarOutcome, train_acc_infer)},
    };
    *mean = per_seed[0];
    for (size_t k = 0; k < sizeof metrics / sizeof metrics[0]; k++) {
        double values[EXP_MAX_SEEDS];
        for (int i = 0; i < n; i++)
            values[i] = *(const double *)((const char *)&per_seed[i] + metrics[k].offset);
        *(double *)((char *)mean + metrics[k].offset) = exp_record_over_seeds(results, name, metrics[k].metric,
                                                                             values, n);
    }
    results_metric(results, name, "seeds", n);
}

int exp_cifar_train_seeds(const ReproContext *ctx, Results *results, const char *name, const char *config,
                          const ExpCifarData *d, const ClsTrainConfig *tc, int n_seeds, ExpCifarOutcome *per_seed,
                          ExpCifarOutcome *mean, char *err, size_t errlen)
{
    for (int k = 0; k < n_seeds; k++) {
        if (train_once(ctx, k == 0 ? results : NULL, name, config, d, tc, exp_seed(ctx, 5, k), &per_seed[k], err,
                       errlen) != 0)
            return -1;
    }
    record_seed_means(results, name, per_seed, n_seeds, mean);
    if (n_seeds > 1)
        repro_log(ctx, "  %-18s mean over %d seeds: test %5.2f%% (hard-routed %5.2f%%)\n", name, n_seeds,
                  mean->test_acc, mean->test_acc_infer);
    return 0;
}

ClsTrainConfig exp_cifar_recipe(int steps, int batch, float lr, float weight_decay, int evals)
{
    ClsTrainConfig c = cls_train_defaults(steps, lr);
    c.opt.batch = batch, c.opt.weight_decay = weight_decay;
    c.opt.eval_every = evals > 1 ? (steps + evals - 1) / evals : 0;
    return c;
}

void exp_cifar_note_scale(const ReproContext *ctx, Results *results, const char *what)
{
    const char *scale = ctx->profile == PROFILE_PAPER   ? "paper profile: the published sizes"
                        : ctx->profile == PROFILE_SMOKE ? "smoke profile: toy sizes on a subset, numbers meaningless"
                                                        : "default profile: scaled down to a 2-core CPU budget";
    char text[1024];
    snprintf(text, sizeof text, "%s; %s", scale, what);
    results_root_str(results, "scale", text);
    repro_log(ctx, "  %s\n", text);
}

ClsTrainConfig exp_cifar_seq_recipe(const SeqBudget *b)
{
    ClsTrainConfig tc = exp_cifar_recipe(b->steps, b->batch, b->lr, b->weight_decay, b->evals);
    tc.eval_test_images = b->eval_images, tc.eval_train_images = b->eval_images, tc.eval_batch = 100;
    return tc;
}

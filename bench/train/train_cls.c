#include "train_cls.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adamw.h"
#include "timing.h"

/* ---- CIFAR-10 as a ClsData ---- */

static int cifar_train(void *ctx, uint64_t index, int B, float *images, int *labels, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    ClsCifar *c = ctx;
    cifar_train_batch(&c->sampler, index, B, images, labels);
    return 0;
}

static int cifar_eval(void *ctx, int split, int first, int B, float *images, int *labels)
{
    ClsCifar *c = ctx;
    return cifar_eval_batch(split == CLS_SPLIT_TRAIN ? c->train : c->test, &c->sampler.norm, first, B, images,
                            labels);
}

int cls_cifar_init(ClsCifar *c, const CifarSet *train, const CifarSet *test, const CifarAugment *augment,
                   uint64_t seed, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    CifarNorm norm = cifar_norm_default();
    if (cifar_sampler_init(&c->sampler, train, &norm, augment, seed, err, errlen) != 0)
        return -1;
    c->train = train, c->test = test;
    c->data = (ClsData){c, cifar_train, cifar_eval, {train->n, test->n}};
    return 0;
}

void cls_cifar_free(ClsCifar *c) { cifar_sampler_free(&c->sampler); }

/* ---- configuration, state and log ---- */

ClsTrainConfig cls_train_defaults(int steps, float lr)
{
    ClsTrainConfig c;
    memset(&c, 0, sizeof c);
    c.opt = train_defaults();
    c.opt.steps = steps, c.opt.decay_steps = steps, c.opt.warmup = steps / 20;
    c.opt.batch = 128, c.opt.lr = lr, c.opt.min_lr = lr / 10.0f;
    c.opt.beta1 = 0.9f, c.opt.beta2 = 0.999f, c.opt.weight_decay = 0.05f, c.opt.grad_clip = 1.0f;
    c.opt.eval_every = 0, c.opt.quiet = 1;
    c.eval_test_images = 2000, c.final_test_images = 0, c.eval_train_images = 2000, c.eval_batch = 250;
    return c;
}

int cls_state_alloc(TrainState *s, const ClsModel *m, uint64_t seed, char *err, size_t errlen)
{
    if (train_state_alloc_floats(s, m->n_params, err, errlen) != 0)
        return -1;
    cls_init(m, s->params, seed);
    return 0;
}

#define CLS_STEP_COLS(log) {&(log)->step, &(log)->train_loss, &(log)->lr}
#define CLS_EVAL_COLS(log) \
    {&(log)->eval_step, &(log)->test_loss, &(log)->test_acc, &(log)->train_acc, &(log)->eval_seconds}

int cls_log_alloc(ClsLog *log, int steps, int evals)
{
    memset(log, 0, sizeof *log);
    log->cap_train = steps > 0 ? steps : 1;
    log->cap_eval = evals > 0 ? evals : 1;
    double **train[] = CLS_STEP_COLS(log), **eval[] = CLS_EVAL_COLS(log);
    if (train_columns_alloc(train, 3, log->cap_train) != 0 || train_columns_alloc(eval, 5, log->cap_eval) != 0) {
        cls_log_free(log);
        return -1;
    }
    return 0;
}

void cls_log_free(ClsLog *log)
{
    double **train[] = CLS_STEP_COLS(log), **eval[] = CLS_EVAL_COLS(log);
    train_columns_free(train, 3);
    train_columns_free(eval, 5);
    memset(log, 0, sizeof *log);
}

/* ---- buffers and evaluation ---- */

typedef struct ClsBuffers {
    float *images, *act, *ws, *grads;
    int *labels;
} ClsBuffers;

static void buffers_free(ClsBuffers *b)
{
    core_free(b->images), core_free(b->act), core_free(b->ws), core_free(b->grads), free(b->labels);
    memset(b, 0, sizeof *b);
}

/* grads only when training. */
static int buffers_alloc(ClsBuffers *b, const ClsModel *m, int B, int with_grads, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    const size_t image_floats = (size_t)m->cfg.image * m->cfg.image * m->cfg.channels;
    b->images = core_alloc_floats((size_t)B * image_floats);
    b->labels = malloc(sizeof(int) * (size_t)B);
    b->act = core_alloc_floats(cls_act_floats(m, B));
    b->ws = core_alloc_floats(cls_workspace_floats(m, B));
    b->grads = with_grads ? core_alloc_floats(m->n_params) : NULL;
    if (!b->images || !b->labels || !b->act || !b->ws || (with_grads && !b->grads)) {
        buffers_free(b);
        snprintf(err, errlen, "train_cls: out of memory for a batch of %d images", B);
        return -1;
    }
    return 0;
}

int cls_evaluate(const ClsModel *m, const ClsData *data, int split, int max_images, int batch, const float *params,
                 ClsEval *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int n = data->n_images[split];
    if (max_images > 0 && max_images < n)
        n = max_images;
    ClsBuffers b;
    if (buffers_alloc(&b, m, batch, 0, err, errlen) != 0)
        return -1;
    double loss_sum = 0;
    long right = 0;
    for (int first = 0; first < n;) {
        int want = n - first < batch ? n - first : batch;
        int got = data->eval_batch(data->ctx, split, first, want, b.images, b.labels);
        if (got <= 0)
            break;
        ClsLoss parts;
        cls_forward_backward(m, params, b.images, b.labels, got, b.act, b.ws, NULL, 0, 0, &parts);
        loss_sum += parts.ce * got;
        right += cls_count_correct(m, b.act, b.labels, got);
        first += got;
        out->images += got;
    }
    buffers_free(&b);
    out->loss = out->images ? loss_sum / out->images : NAN;
    out->accuracy = out->images ? 100.0 * (double)right / out->images : NAN;
    return 0;
}

/* Batch, forward + backward, NaN guard, clipping, AdamW; the objective into *loss. */
static TrainStepStatus train_step(const ClsModel *m, const ClsTrainConfig *cfg, const ClsData *data, TrainState *s,
                                  ClsBuffers *b, double *loss, float *lr_out, char *err, size_t errlen)
{
    const int B = cfg->opt.batch;
    if (data->train_batch(data->ctx, (uint64_t)s->step, B, b->images, b->labels, err, errlen) != 0)
        return TRAIN_STEP_FAILED;
    memset(b->grads, 0, m->n_params * sizeof(float));
    *loss = cls_forward_backward(m, s->params, b->images, b->labels, B, b->act, b->ws, b->grads, 1,
                                 (uint64_t)s->step, NULL);
    return train_apply_gradients(m->tensors, m->n_tensors, &cfg->opt, s, b->grads, m->n_params, *loss, lr_out, err,
                                 errlen);
}

/* ---- the loop ---- */

static void log_step(ClsLog *log, long step, double loss, double lr)
{
    if (log)
        train_columns_append((double **[])CLS_STEP_COLS(log), 3, &log->n_train, log->cap_train,
                             (double[]){(double)step, loss, lr});
}

static void log_eval(ClsLog *log, long step, const ClsTrainResult *r, double seconds)
{
    if (log)
        train_columns_append((double **[])CLS_EVAL_COLS(log), 5, &log->n_eval, log->cap_eval,
                             (double[]){(double)step, r->test.loss, r->test.accuracy, r->train.accuracy, seconds});
}

/* Test and memorisation accuracy at the current parameters, timed apart from training; the last evaluation
 * uses final_test_images test images. */
static int evaluate_now(const ClsModel *m, const ClsTrainConfig *cfg, const ClsData *data, const TrainState *s,
                        int last, ClsTrainResult *r, char *err, size_t errlen)
{
    double t0 = timing_now_seconds();
    int rc = cls_evaluate(m, data, CLS_SPLIT_TEST, last ? cfg->final_test_images : cfg->eval_test_images,
                          cfg->eval_batch, s->params, &r->test, err, errlen);
    if (rc == 0)
        rc = cls_evaluate(m, data, CLS_SPLIT_TRAIN, cfg->eval_train_images, cfg->eval_batch, s->params, &r->train,
                          err, errlen);
    r->eval_seconds += timing_now_seconds() - t0;
    /* Only evaluations of the whole test split compete for the best (mid-training ones may score a subset). */
    const int whole_split = (last ? cfg->final_test_images : cfg->eval_test_images) == 0;
    if (rc == 0 && whole_split && r->test.accuracy > r->best_test_acc)
        r->best_test_acc = r->test.accuracy;
    return rc;
}

static void progress(const ClsTrainConfig *cfg, long step, double loss, const ClsTrainResult *r, double elapsed)
{
    if (cfg->opt.quiet)
        return;
    int tty = isatty(STDOUT_FILENO);
    printf("%sstep %5ld/%d  loss %.4f  test %.2f%%  train %.2f%%  %6.0f img/s%s", tty ? "\r" : "", step,
           cfg->opt.steps, loss, r->test.accuracy, r->train.accuracy,
           elapsed > 0 ? (double)cfg->opt.batch * step / elapsed : 0.0, tty ? "   " : "\n");
    fflush(stdout);
}

static void finish(const ClsModel *m, const ClsTrainConfig *cfg, const ClsData *data, const TrainState *s,
                   long first, ClsTrainResult *r)
{
    OpFlops f = cls_flops(m, cfg->opt.batch);
    double images = (double)cfg->opt.batch * (double)(s->step - first);
    r->flops_per_step = f.forward + f.backward + adamw_flops(m->n_params);
    r->steps_done = s->step;
    r->images_per_s = r->seconds > 0 ? images / r->seconds : 0;
    r->epochs = data->n_images[CLS_SPLIT_TRAIN] > 0
                    ? (double)cfg->opt.batch * (double)s->step / data->n_images[CLS_SPLIT_TRAIN]
                    : 0;
}

int cls_train_run(const ClsModel *m, const ClsTrainConfig *cfg, const ClsData *data, TrainState *state, ClsLog *log,
                  ClsTrainResult *result, char *err, size_t errlen)
{
    memset(result, 0, sizeof *result);
    result->test.accuracy = result->train.accuracy = NAN;
    ClsBuffers b;
    if (buffers_alloc(&b, m, cfg->opt.batch, 1, err, errlen) != 0)
        return -1;
    const long first = state->step;
    const double t0 = timing_now_seconds();
    int rc = 0;
    while (state->step < cfg->opt.steps && rc == 0) {
        float lr = 0;
        double loss = NAN;
        TrainStepStatus status = train_step(m, cfg, data, state, &b, &loss, &lr, err, errlen);
        if (status != TRAIN_STEP_OK) {
            result->stopped_nan = status == TRAIN_STEP_NONFINITE;
            rc = -1;
            break;
        }
        log_step(log, state->step, loss, lr);
        int every = cfg->opt.eval_every, last = state->step == cfg->opt.steps;
        if ((every > 0 && state->step % every == 0) || last) {
            rc = evaluate_now(m, cfg, data, state, last, result, err, errlen);
            log_eval(log, state->step, result, timing_now_seconds() - t0 - result->eval_seconds);
            progress(cfg, state->step, loss, result, timing_now_seconds() - t0 - result->eval_seconds);
        }
    }
    result->seconds = timing_now_seconds() - t0 - result->eval_seconds;
    finish(m, cfg, data, state, first, result);
    buffers_free(&b);
    return rc;
}

/* train_cls: the training loop for the image classifiers (baselines/classifier.h): AdamW with the model's
 * per-tensor groups, linear warm-up then cosine decay (train_lr_at of bench/train/train.h), global gradient-norm
 * clipping, evaluation of test and memorisation (training-set) accuracy every N steps, wall time and FLOPs, and
 * a NaN/Inf guard that stops the run with a one-line message.
 *
 * Determinism: training batch i is a pure function of (data seed, i) (datasets/cifar.h: the epoch permutation
 * from (seed, epoch), each image's crop and flip from (seed, position)), the parameters of the init seed, and
 * the channels' noise of the step (draw = step); with the same thread count a run repeats exactly. */
#ifndef SUBQ_TRAIN_CLS_H
#define SUBQ_TRAIN_CLS_H

#include <stddef.h>
#include <stdint.h>

#include "cifar.h"
#include "classifier.h"
#include "train.h"

typedef enum ClsSplit { CLS_SPLIT_TRAIN = 0, CLS_SPLIT_TEST = 1 } ClsSplit;

/* A source of images (B, P, C) and labels. */
typedef struct ClsData {
    void *ctx;
    /* Training batch `index`, augmented; 0, or -1 with a message. */
    int (*train_batch)(void *ctx, uint64_t index, int B, float *images, int *labels, char *err, size_t errlen);
    /* Images first .. first+B-1 of a split in a fixed order, not augmented; returns how many were written (fewer
     * than B at the end of the split). CLS_SPLIT_TRAIN measures memorisation, CLS_SPLIT_TEST generalisation. */
    int (*eval_batch)(void *ctx, int split, int first, int B, float *images, int *labels);
    int n_images[2]; /* images in each split */
} ClsData;

/* CIFAR-10 as a ClsData: training batches through a CifarSampler (seeded order and augmentation), evaluation in
 * file order with the same normalisation. The sets are borrowed (a CifarSet with a smaller n is a prefix). */
typedef struct ClsCifar {
    const CifarSet *train, *test;
    CifarSampler sampler;
    ClsData data;
} ClsCifar;

int cls_cifar_init(ClsCifar *c, const CifarSet *train, const CifarSet *test, const CifarAugment *augment,
                   uint64_t seed, char *err, size_t errlen);
void cls_cifar_free(ClsCifar *c);

typedef struct ClsTrainConfig {
    TrainConfig opt;       /* steps, batch, lr, min_lr, warmup, decay_steps, weight_decay, betas, grad_clip,
                            * eval_every, seed (initialisation), quiet; context, eval_batches and checkpoints
                            * are not used */
    int eval_test_images;  /* test images per evaluation during training; 0: the whole split */
    int final_test_images; /* test images at the last evaluation (the reported accuracy); 0: the whole split */
    int eval_train_images; /* training images for the memorisation accuracy; 0: the whole split */
    int eval_batch;        /* images per evaluation forward */
} ClsTrainConfig;

/* A classification recipe: AdamW (0.9, 0.999), weight decay 0.05, clipping 1, warm-up 5% of the steps,
 * cosine to lr / 10, batch 128, one evaluation at the end on the whole test set and 2000 training images. */
ClsTrainConfig cls_train_defaults(int steps, float lr);

typedef struct ClsLog {
    int n_train, n_eval, cap_train, cap_eval;
    double *step, *train_loss, *lr;                                        /* per step */
    double *eval_step, *test_loss, *test_acc, *train_acc, *eval_seconds; /* per evaluation; acc in % */
} ClsLog;

typedef struct ClsEval {
    double loss, accuracy; /* mean CE, percent correct */
    int images;
} ClsEval;

typedef struct ClsTrainResult {
    ClsEval test, train;   /* the last evaluation */
    double best_test_acc;
    double seconds;        /* training wall time, evaluations excluded */
    double eval_seconds;   /* time spent in evaluations */
    double images_per_s;   /* training throughput */
    double flops_per_step; /* analytic forward + backward + optimizer */
    double epochs;         /* training images seen / training split size */
    long steps_done;
    int stopped_nan;
} ClsTrainResult;

int cls_state_alloc(TrainState *s, const ClsModel *m, uint64_t seed, char *err, size_t errlen);
/* Freed with train_state_free. */
int cls_log_alloc(ClsLog *log, int steps, int evals);
void cls_log_free(ClsLog *log);

/* Mean loss and accuracy over the first max_images (0: all) of a split, batch images at a time. */
int cls_evaluate(const ClsModel *m, const ClsData *data, int split, int max_images, int batch, const float *params,
                 ClsEval *out, char *err, size_t errlen);

/* Trains from state->step to cfg->opt.steps (step s draws the channels' noise with draw = s). 0, or -1 with a
 * message (a NaN or Inf objective or gradient norm sets result->stopped_nan). */
int cls_train_run(const ClsModel *m, const ClsTrainConfig *cfg, const ClsData *data, TrainState *state, ClsLog *log,
                  ClsTrainResult *result, char *err, size_t errlen);

#endif

/* exp_cifar: what the CIFAR-10 experiments (exp_cifar*.c) share: the data with its profile-sized prefixes, one
 * classifier training run recorded in the results file, and the recipe. */
#ifndef SUBQ_EXP_CIFAR_H
#define SUBQ_EXP_CIFAR_H

#include "experiments.h"
#include "train_cls.h"

typedef struct ExpCifarData {
    CifarSet train, test;           /* the whole splits (owned) */
    CifarSet train_view, test_view; /* the prefixes the experiment uses (borrowed views) */
    ClsCifar cls;                   /* training batches and evaluation over the views */
} ExpCifarData;

/* What one run measured (accuracies in %, FLOPs per image). test/train_acc_infer: hard routing for FFF and MoE
 * channels, the same as test/train_acc otherwise. */
typedef struct ExpCifarOutcome {
    double params, test_acc, train_acc, test_acc_infer, train_acc_infer;
    double flops_train_per_image, flops_infer_per_image, seconds, neurons_used, neurons_total;
} ExpCifarOutcome;

/* Fetches (cache, mirror or source, checksums verified) and loads CIFAR-10, keeps the first n_train / n_test
 * images (<= 0: all), and records the data source, the sizes and the augmentation as root attributes. */
int exp_cifar_load(const ReproContext *ctx, Results *results, ExpCifarData *d, int n_train, int n_test,
                   const CifarAugment *augment, char *err, size_t errlen);
void exp_cifar_free(ExpCifarData *d);

/* Trains the classifier `config` with tc and records run `name` (see exp_cifar.c for the attributes). */
int exp_cifar_train(const ReproContext *ctx, Results *results, const char *name, const char *config,
                    const ExpCifarData *d, const ClsTrainConfig *tc, ExpCifarOutcome *out, char *err, size_t errlen);

/* Trains `config` n_seeds times (initialisation seeds exp_seed(ctx, 5, k)): run `name` holds the first seed's
 * curves and attributes, with test_acc, train_acc, test_acc_infer and train_acc_infer replaced by their means
 * over the seeds, each beside <metric>_by_seed, and `seeds`. per_seed[k] gets seed k's outcome, mean the means. */
int exp_cifar_train_seeds(const ReproContext *ctx, Results *results, const char *name, const char *config,
                          const ExpCifarData *d, const ClsTrainConfig *tc, int n_seeds, ExpCifarOutcome *per_seed,
                          ExpCifarOutcome *mean, char *err, size_t errlen);

/* cls_train_defaults with the batch, weight decay and `evals` evenly spaced evaluations (<= 1: at the end). */
ClsTrainConfig exp_cifar_recipe(int steps, int batch, float lr, float weight_decay, int evals);

/* The size and recipe of a token-sequence classifier (cifar_vit, scifar); 0 images: the whole split. */
typedef struct SeqBudget {
    int d_model, layers, hidden;
    int train_images, test_images, eval_images, steps, batch, evals;
    float lr, weight_decay;
} SeqBudget;
/* exp_cifar_recipe of the budget, evaluating on eval_images of each split in batches of 100. */
ClsTrainConfig exp_cifar_seq_recipe(const SeqBudget *b);

/* Records (root attribute `scale`) and prints which profile's sizes these are and what they are. */
void exp_cifar_note_scale(const ReproContext *ctx, Results *results, const char *what);

#endif

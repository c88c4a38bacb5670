/* experiments: the run functions of the registered experiments, one file each (exp_<name>.c), which
 * reproduce.c lists; what they share is in exp_common.h. */
#ifndef SUBQ_EXPERIMENTS_H
#define SUBQ_EXPERIMENTS_H

#include "exp_common.h"

int exp_ops_core(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_ops_scaling(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_channel_speed(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_lm_shakespeare(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_assoc_recall(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_lm_flops(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_lm_sotu(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_peers(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_generation(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_hyena_distill(const ReproContext *ctx, Results *results, char *err, size_t errlen);
/* CIFAR-10 (exp_cifar*.c, exp_scifar.c; shared: exp_cifar.h). */
int exp_cifar_fff(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_cifar_vit(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_scifar(const ReproContext *ctx, Results *results, char *err, size_t errlen);
int exp_cifar_2d(const ReproContext *ctx, Results *results, char *err, size_t errlen);

#endif

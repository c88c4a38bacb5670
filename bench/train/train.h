/* train: the training loop for the language models (baselines/lm.h): AdamW with per-tensor groups, linear
 * warm-up then cosine decay, global gradient-norm clipping, evaluation every N steps, exact resume from HDF5
 * checkpoints, and a NaN/Inf guard.
 *
 * Determinism: batch i of a split is a pure function of (data seed, i), so a run resumed from a checkpoint
 * at step s sees the same batches as the uninterrupted run and, with the same thread count, the same losses.
 *
 * Checkpoints (HDF5, written atomically): /params/<name>, /adam_m/<name>, /adam_v/<name> with the model's
 * PyTorch-style names; root attributes model_config, step, seed. A NaN or Inf loss (or gradient norm) stops
 * the run with a clear message; the last checkpoint written before it is kept untouched. */
#ifndef SUBQ_TRAIN_H
#define SUBQ_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "lm.h"

typedef struct TrainConfig {
    int steps, batch, context;
    float lr, min_lr;
    int warmup, decay_steps; /* linear warm-up over `warmup` steps, cosine to min_lr at decay_steps */
    float weight_decay, beta1, beta2, grad_clip; /* grad_clip <= 0: no clipping */
    int eval_every, eval_batches;
    uint64_t seed;          /* parameter initialisation */
    int quiet;              /* no progress line */
    const char *checkpoint; /* path or NULL */
    int checkpoint_every;   /* steps; 0: only at the end */
} TrainConfig;

/* nanoGPT's CPU configuration (lr 1e-3 to 1e-4, warm-up 100, 2000 steps, betas (0.9, 0.99), clip 1, wd 0.1). */
TrainConfig train_defaults(void);

typedef struct TrainData {
    void *ctx;
    /* Fills ids and targets (B, T) for batch `index` of split 0 (train) or 1 (validation). */
    int (*batch)(void *ctx, int split, uint64_t index, int *ids, int *targets, int B, int T, char *err,
                 size_t errlen);
} TrainData;

/* Optimiser state: the model's parameters and AdamW moments; step = steps done. */
typedef struct TrainState {
    float *params, *m, *v;
    long step;
} TrainState;

typedef struct TrainLog {
    int n_train, n_eval, cap_train, cap_eval;
    double *step, *train_loss, *lr;      /* per step */
    double *eval_step, *val_loss, *eval_time_s, *eval_tokens;
} TrainLog;

typedef struct TrainResult {
    double final_train_loss, final_val_loss, best_val_loss;
    double seconds, tokens;   /* wall time of the whole run (evaluations and checkpoints included) */
    double train_seconds;     /* the optimisation steps alone (batch, forward, backward, update) */
    double tokens_per_s;      /* tokens / train_seconds: training throughput, comparable with a peer's step time */
    double flops_per_step; /* analytic forward+backward+optimizer */
    long steps_done;
    int stopped_nan;
} TrainResult;

int train_state_alloc(TrainState *s, const LmModel *m, uint64_t seed, char *err, size_t errlen);
/* Parameters and zeroed AdamW moments for n_params floats (parameters left for the caller to initialise);
 * -1 with a message. Used by train_state_alloc and the classifier trainer. */
int train_state_alloc_floats(TrainState *s, size_t n_params, char *err, size_t errlen);
void train_state_free(TrainState *s);
int train_log_alloc(TrainLog *log, int steps, int evals);
void train_log_free(TrainLog *log);

/* A log is columns of doubles, one row per step or evaluation; both trainers keep theirs with these. Each call
 * takes the addresses of the log's column pointers, so one list of a log's columns serves all three. Allocates
 * n_cols zeroed columns of cap doubles (all, or none and -1); frees them (NULL after); appends one row while
 * *n < cap (a full log keeps its first cap rows). */
int train_columns_alloc(double **const cols[], int n_cols, int cap);
void train_columns_free(double **const cols[], int n_cols);
void train_columns_append(double **const cols[], int n_cols, int *n, int cap, const double *row);

/* How a training step ended. */
typedef enum TrainStepStatus {
    TRAIN_STEP_OK = 0,
    TRAIN_STEP_FAILED,    /* the data could not be read: a one-line message */
    TRAIN_STEP_NONFINITE, /* the loss or the gradient norm was NaN or Inf: a one-line message, parameters kept */
} TrainStepStatus;

/* The update after a forward+backward with objective `loss` and gradient `grads`: clips the gradient to
 * global L2 norm cfg->grad_clip, stops on a non-finite loss or norm (TRAIN_STEP_NONFINITE, a one-line message,
 * the parameters untouched), else counts the step, sets *lr_out from the schedule and takes one AdamW step over
 * each tensor with its optimisation group (LmTensor). Shared by the LM and classifier trainers. */
TrainStepStatus train_apply_gradients(const LmTensor *tensors, int n_tensors, const TrainConfig *cfg, TrainState *s,
                                      float *grads, size_t n_params, double loss, float *lr_out, char *err,
                                      size_t errlen);

/* Learning rate at step t (1-based). */
float train_lr_at(const TrainConfig *cfg, long t);

/* Mean validation loss over cfg->eval_batches fixed batches. */
int train_evaluate(const LmModel *m, const TrainConfig *cfg, const TrainData *data, const float *params,
                   double *loss, char *err, size_t errlen);

/* Trains from state->step to cfg->steps. 0 on success; -1 with a message (NaN stop included: then
 * result->stopped_nan = 1). */
int train_run(const LmModel *m, const TrainConfig *cfg, const TrainData *data, TrainState *state, TrainLog *log,
              TrainResult *result, char *err, size_t errlen);

/* Training steps on demand, for timing them side by side with a peer (bench/harness/pair.h): the model's state and one
 * batch's buffers, kept between calls. Each step is the step train_run takes (batch, forward+backward, clip,
 * AdamW). */
typedef struct TrainStepper TrainStepper;
TrainStepper *train_stepper_open(const LmModel *m, const TrainConfig *cfg, const TrainData *data, uint64_t seed,
                                 char *err, size_t errlen);
/* Runs n steps, each timed into ms[i]; -1 with a message on a failed or non-finite step. */
int train_stepper_time(TrainStepper *t, int n, double *ms, char *err, size_t errlen);
void train_stepper_close(TrainStepper *t);

int train_save_checkpoint(const LmModel *m, const TrainState *s, uint64_t seed, const char *path, char *err,
                          size_t errlen);
/* Loads a checkpoint written for the same model config with the same seed, at a step below `steps` (0: any),
 * every value finite; -1 with a one-line message naming what is wrong. */
int train_load_checkpoint(const LmModel *m, TrainState *s, uint64_t seed, long steps, const char *path, char *err,
                          size_t errlen);
/* The model a checkpoint holds, for inference: its config built into *m and its parameters into *params
 * (core_alloc_floats; the caller frees both), every value finite. -1 with a one-line message. */
int train_load_model(const char *path, LmModel *m, float **params, char *err, size_t errlen);

#endif

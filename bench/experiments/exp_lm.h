/* exp_lm: what the byte-level language-modelling experiments (exp_lm_shakespeare.c, exp_lm_sotu.c) share:
 * the runs, the recipe, one corpus trained and recorded.
 *
 * The GPT baseline is nanoGPT's CPU configuration for shakespeare_char (4 layers, 4 heads, width 128, context
 * 64, batch 12, 2000 iterations, lr 1e-3 decaying to 1e-4 at 2000 after 100 warm-up steps, AdamW betas
 * (0.9, 0.99), weight decay 0.1, clipping 1, no dropout), for which nanoGPT reports a validation loss of 1.88.
 * Differences, by design: bytes (vocab 256) instead of nanoGPT's 65 characters (the text is ASCII, so the
 * extra 191 rows only learn to be improbable), and attention/ffn with biases (torch.nn.MultiheadAttention
 * semantics) where nanoGPT's config has none. The Hyena and S4D models use the same recipe, without the
 * positional embedding, with the ffn width chosen so the parameter count matches the GPT's (lm_match_hidden);
 * every run records its count. Validation loss is nanoGPT's estimate: the mean over eval_batches random
 * validation batches.
 *
 * Each run /runs/<name>: series step, train_loss, lr, eval_step, val_loss, eval_tokens, eval_time_s;
 * attributes params, val_loss (final), best_val_loss, ppl_per_byte, bits_per_byte, flops_per_token (forward),
 * train_flops, tokens, seconds (wall, evaluations included), train_seconds (the steps alone), tokens_per_s
 * (tokens / train_seconds; the side-by-side comparison with PyTorch is the peers experiment's), steps, context,
 * batch, and train_flops_to_target (FLOPs until the validation loss first reached the published nanoGPT loss read from
 * baselines/published.tsv, -1 if never or, on other corpora, no target). Root: context, target_val_loss,
 * hyena_minus_gpt_val_loss, hyena_over_gpt_flops_to_target (or its _why). The gpt and hyena runs train over
 * exp_seed_count seeds (their losses and the root comparisons are means over seeds, with _by_seed); the others
 * once. lm_sotu trains 1000 steps of 3 x 1024 tokens (paper profile 2000; before seeds: 2500 steps of 12 x 256). */
#ifndef SUBQ_EXP_LM_H
#define SUBQ_EXP_LM_H

#include "experiments.h"
#include "text.h"
#include "train.h"

typedef struct LmRun {
    const char *name, *config; /* config without channel.d_hidden when match_params */
    int match_params;          /* 1: choose channel.d_hidden to match the first run's parameter count */
} LmRun;

/* The ffn, FFF and MoE channels with each mixer (gpt, hyena, s4d first: lm_sotu trains those three). */
#define EXP_LM_RUNS 9
extern const LmRun exp_lm_runs[EXP_LM_RUNS];

/* nanoGPT's CPU recipe, with the profile's evaluation cadence (smoke: 30 steps). */
TrainConfig exp_lm_train_config(ReproProfile p);

/* Fetches (cache, mirror or source, checksums verified) and loads a text corpus; -1 with a one-line message. */
int exp_lm_load_corpus(const ReproContext *ctx, const char *dataset, TextDataset *ds, char *err, size_t errlen);

/* Trains the runs on one corpus; target_loss (NAN: none) is the validation loss whose first crossing is
 * recorded as train_flops_to_target. The gpt, hyena and gpt_gpu runs train over exp_seed_count seeds, the others
 * once. */
int exp_lm_run_corpus(const ReproContext *ctx, Results *results, const char *dataset, const char *shape,
                      const LmRun *runs, int n_runs, const TrainConfig *tc, double target_loss, char *err,
                      size_t errlen);

#endif

/* generate: autoregressive generation from a trained language model (docs/DESIGN.md section 11), one token at
 * a time through lm_step: the prompt's tokens are stepped, then each new token is chosen from the logits and
 * stepped in turn. When the model's context fills, the state restarts from the last context / 2 tokens (a
 * sliding window, where nanoGPT crops its context to the last block_size tokens and runs the whole forward). */
#ifndef SUBQ_GENERATE_H
#define SUBQ_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "lm.h"

typedef struct GenConfig {
    int tokens;         /* new tokens to generate, >= 1 */
    double temperature; /* 0: the most probable token (the lowest id on a tie); else a sample of
                         * softmax(logits / temperature) */
    uint64_t seed;      /* the sampler's */
} GenConfig;

typedef struct GenResult {
    int prompt_tokens, tokens;
    double prompt_seconds; /* stepping the prompt */
    double seconds;        /* generating the new tokens (the window's restarts included) */
    int restarts;          /* times the context filled and the window slid */
} GenResult;

/* Generates cfg->tokens tokens after prompt (n_prompt >= 1 ids < vocab) into out (cfg->tokens ints), calling
 * emit(token, emit_ctx) for each as it comes when emit is not NULL. -1 with a one-line message (a mixer that
 * cannot generate, out of memory, non-finite logits). */
int gen_run(const LmModel *m, const float *params, const int *prompt, int n_prompt, const GenConfig *cfg, int *out,
            void (*emit)(int token, void *ctx), void *emit_ctx, GenResult *res, char *err, size_t errlen);

/* The mean cross-entropy (nats per token) of B sequences ids (B, T) against targets (< 0 ignored), stepping one
 * position at a time (teacher forcing): the forward's loss when every step equals the forward, and the
 * generating model's own loss when it does not (a distilled mixer). T <= context. -1 with a one-line message. */
int gen_eval_loss(const LmModel *m, const float *params, const int *ids, const int *targets, int B, int T,
                  double *loss, char *err, size_t errlen);

/* The token chosen from logits (V) at a temperature (see GenConfig), u uniform in [0, 1) for sampling; -1 if
 * the logits are not finite. */
int gen_pick(const float *logits, int V, double temperature, double u);

#endif

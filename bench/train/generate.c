/* Autoregressive generation (generate.h). */
#include "generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "softmax_ce.h"
#include "timing.h"

int gen_pick(const float *logits, int V, double temperature, double u)
{
    int best = 0;
    for (int v = 0; v < V; v++) {
        if (!isfinite(logits[v]))
            return -1;
        best = logits[v] > logits[best] ? v : best;
    }
    if (temperature <= 0.0)
        return best;
    double sum = 0.0;
    for (int v = 0; v < V; v++)
        sum += exp(((double)logits[v] - logits[best]) / temperature);
    double target = u * sum, acc = 0.0;
    for (int v = 0; v < V; v++) {
        acc += exp(((double)logits[v] - logits[best]) / temperature);
        if (acc > target)
            return v;
    }
    return best; /* u * sum rounded up to the total */
}

typedef struct GenBuffers {
    float *state, *ws, *logits;
    size_t state_floats;
} GenBuffers;

static int buffers_alloc(const LmModel *m, GenBuffers *b, char *err, size_t errlen)
{
    const int T = m->cfg.context;
    b->state_floats = lm_state_floats(m, 1, T);
    b->state = core_alloc_floats(b->state_floats ? b->state_floats : 1);
    b->ws = core_alloc_floats(lm_step_workspace_floats(m, 1, T));
    b->logits = core_alloc_floats((size_t)m->cfg.vocab);
    if (b->state && b->ws && b->logits)
        return 0;
    snprintf(err, errlen, "out of memory for the generation state (%zu floats)", b->state_floats);
    return -1;
}

static void buffers_free(GenBuffers *b) { core_free(b->state), core_free(b->ws), core_free(b->logits); }

/* Steps seq[from .. to) into a fresh window from position 0; returns the next position. */
static int restart_window(const LmModel *m, const float *params, const int *seq, int from, int to, GenBuffers *b)
{
    memset(b->state, 0, (b->state_floats ? b->state_floats : 1) * sizeof(float));
    int t = 0;
    for (int i = from; i < to; i++)
        lm_step(m, params, &seq[i], t++, 1, m->cfg.context, b->state, b->ws, b->logits);
    return t;
}

int gen_run(const LmModel *m, const float *params, const int *prompt, int n_prompt, const GenConfig *cfg, int *out,
            void (*emit)(int token, void *ctx), void *emit_ctx, GenResult *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (lm_can_generate(m, err, errlen) != 0)
        return -1;
    const int T = m->cfg.context, V = m->cfg.vocab, keep = T / 2 > 0 ? T / 2 : 1;
    if (n_prompt < 1 || cfg->tokens < 1) {
        snprintf(err, errlen, "generation needs a prompt of at least one token and at least one new token");
        return -1;
    }
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= V) {
            snprintf(err, errlen, "prompt token %d is %d, outside the vocabulary 0..%d", i, prompt[i], V - 1);
            return -1;
        }
    GenBuffers b = {0};
    int *seq = malloc(sizeof(int) * ((size_t)n_prompt + cfg->tokens));
    int rc = seq ? buffers_alloc(m, &b, err, errlen) : -1;
    if (!seq)
        snprintf(err, errlen, "out of memory");
    if (rc != 0) {
        free(seq), buffers_free(&b);
        return -1;
    }
    memcpy(seq, prompt, sizeof(int) * (size_t)n_prompt);
    Rng rng;
    rng_init(&rng, cfg->seed);
    double t0 = timing_now_seconds();
    /* A prompt longer than the context: its last context tokens. */
    int t = restart_window(m, params, seq, n_prompt > T ? n_prompt - T : 0, n_prompt, &b);
    res->prompt_tokens = n_prompt;
    res->prompt_seconds = timing_now_seconds() - t0;
    t0 = timing_now_seconds();
    for (int k = 0; k < cfg->tokens && rc == 0; k++) {
        const int next = gen_pick(b.logits, V, cfg->temperature, rng_uniform(&rng));
        if (next < 0) {
            snprintf(err, errlen, "the model's logits are not finite at new token %d", k);
            rc = -1;
            break;
        }
        const int at = n_prompt + k;
        seq[at] = out[k] = next;
        res->tokens = k + 1;
        if (emit)
            emit(next, emit_ctx);
        if (k == cfg->tokens - 1)
            break;
        if (t == T) {
            t = restart_window(m, params, seq, at + 1 - keep, at + 1, &b);
            res->restarts++;
        } else {
            lm_step(m, params, &seq[at], t++, 1, T, b.state, b.ws, b.logits);
        }
    }
    res->seconds = timing_now_seconds() - t0;
    free(seq);
    buffers_free(&b);
    return rc;
}

int gen_eval_loss(const LmModel *m, const float *params, const int *ids, const int *targets, int B, int T,
                  double *loss, char *err, size_t errlen)
{
    if (lm_can_generate(m, err, errlen) != 0)
        return -1;
    const int V = m->cfg.vocab;
    const size_t state_n = lm_state_floats(m, B, T);
    float *state = core_alloc_floats(state_n + 1), *ws = core_alloc_floats(lm_step_workspace_floats(m, B, T));
    float *logits = core_alloc_floats((size_t)B * V);
    int *now = malloc(sizeof(int) * (size_t)B);
    if (!state || !ws || !logits || !now) {
        snprintf(err, errlen, "out of memory for the stepped evaluation (%zu floats of state)", state_n);
        core_free(state), core_free(ws), core_free(logits), free(now);
        return -1;
    }
    memset(state, 0, (state_n + 1) * sizeof(float));
    double sum = 0.0;
    long count = 0;
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++)
            now[b] = ids[(size_t)b * T + t];
        lm_step(m, params, now, t, B, T, state, ws, logits);
        int counted = 0;
        for (int b = 0; b < B; b++) {
            now[b] = targets[(size_t)b * T + t]; /* this position's targets, after the step took its ids */
            counted += now[b] >= 0;
        }
        sum += softmax_ce_loss(logits, now, B, V, NULL) * counted; /* the mean over the counted rows */
        count += counted;
    }
    core_free(state), core_free(ws), core_free(logits), free(now);
    *loss = count ? sum / (double)count : 0.0;
    if (!isfinite(*loss)) {
        snprintf(err, errlen, "the stepped evaluation's loss is not finite");
        return -1;
    }
    return 0;
}

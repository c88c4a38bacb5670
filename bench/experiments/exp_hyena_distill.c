/* hyena_distill: Hyena's long filters distilled into modal recurrences (Laughing Hyena; ops/modal_fit.h,
 * docs/DESIGN.md section 11) and what that costs the language model. A byte-level Hyena LM is trained on tiny
 * Shakespeare at context 256 (smoke: 64) with nanoGPT's CPU recipe, over exp_seed_count seeds (one unit each);
 * then, for each order d, every filter channel of every layer is fitted at the context's length and the model is
 * evaluated by stepping the distilled recurrences (teacher forcing) on the same validation batches as the exact
 * forward.
 *
 * Run `distill` (seed 0's model config): series order, filter_rel_l2_mean and filter_rel_l2_max (the relative L2
 * error of the fitted taps over channels and layers), val_loss_distilled and val_loss_change (distilled minus exact,
 * nats per byte), each the mean over seeds; attributes val_loss (exact, mean over seeds, with _by_seed),
 * stepped_minus_forward_loss (the exact model stepped against its forward: 0 to rounding), seeds. Root:
 * val_loss_change_order<d> for every d, with _by_seed (the claim's number is order 16); d_model, context and params (the
 * scale the claims' conditions read). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_lm.h"
#include "exp_shard.h"
#include "generate.h"
#include "hyena_filter.h"
#include "modal_fit.h"

static const int distill_orders[] = {2, 4, 8, 16, 32};
#define N_ORDERS ((int)(sizeof distill_orders / sizeof distill_orders[0]))
#define EVAL_BATCHES 4
/* What one seed's unit gives: the exact loss, the stepped exact loss, then per order its loss, mean and max
 * filter error. */
#define DISTILL_VALUES (2 + 3 * N_ORDERS)

static const char *distill_shape(ReproProfile p)
{
    return p == PROFILE_SMOKE ? "vocab=256,d_model=32,layers=2,context=64,mixer=hyena,channel=ffn,pos_emb=0,"
                                "channel.d_hidden=64"
                              : "vocab=256,d_model=128,layers=4,context=256,mixer=hyena,channel=ffn,pos_emb=0,"
                                "channel.d_hidden=512";
}

/* The mean and the largest relative L2 error of every filter channel of every layer fitted at order d. */
static int filter_errors(const LmModel *m, const float *params, int d, double *mean, double *worst, char *err,
                         size_t errlen)
{
    const HyenaConfig *cfg = &m->mixer.cfg.hyena;
    const int T = m->cfg.context, C = hyena_filter_channels(cfg);
    float *scratch = core_alloc_floats(hyena_filter_scratch_floats(cfg, T)), *h = core_alloc_floats((size_t)C * T);
    double *modes = malloc(sizeof(double) * 4 * (size_t)d);
    int rc = scratch && h && modes ? 0 : -1;
    double sum = 0.0;
    *worst = 0.0;
    for (int l = 0; rc == 0 && l < m->cfg.n_layers; l++) {
        hyena_filter_values(cfg, params + m->off_layer[l] + m->n_norm, T, scratch, h);
        for (int c = 0; rc == 0 && c < C; c++) {
            ModalFilter f = {0, modes, modes + d, modes + 2 * d, modes + 3 * d};
            const double e = modal_fit(h + (size_t)c * T, T, d, &f);
            rc = e < 0 ? -1 : 0;
            sum += e, *worst = e > *worst ? e : *worst;
        }
    }
    if (rc != 0)
        snprintf(err, errlen, "the modal fit failed (LAPACK or memory)");
    *mean = sum / ((double)m->cfg.n_layers * C);
    core_free(scratch), core_free(h), free(modes);
    return rc;
}

/* The exact and the stepped losses of a model on the validation batches, and every order's. The stepped
 * evaluations take all batches' sequences at once, so each order's filters are fitted once. */
static int evaluate(const LmModel *m, const char *config, const float *params, TrainData *data, const TrainConfig *tc,
                    double *v, char *err, size_t errlen)
{
    const int B = tc->batch, T = tc->context, rows = EVAL_BATCHES * B;
    int *ids = malloc(sizeof(int) * (size_t)rows * T), *targets = malloc(sizeof(int) * (size_t)rows * T), rc = 0;
    float *act = core_alloc_floats(lm_act_floats(m, B, T)), *ws = core_alloc_floats(lm_workspace_floats(m, B, T));
    if (!ids || !targets || !act || !ws) {
        snprintf(err, errlen, "out of memory for the evaluation");
        rc = -1;
    }
    memset(v, 0, sizeof(double) * DISTILL_VALUES);
    for (int i = 0; rc == 0 && i < EVAL_BATCHES; i++) {
        int *batch_ids = ids + (size_t)i * B * T, *batch_targets = targets + (size_t)i * B * T;
        rc = data->batch(data->ctx, 1, (uint64_t)i, batch_ids, batch_targets, B, T, err, errlen);
        if (rc == 0)
            v[0] += lm_forward_backward(m, params, batch_ids, batch_targets, B, T, act, ws, NULL, 0, 0) / EVAL_BATCHES;
    }
    if (rc == 0)
        rc = gen_eval_loss(m, params, ids, targets, rows, T, &v[1], err, errlen);
    for (int k = 0; rc == 0 && k < N_ORDERS; k++) {
        char overrides[96];
        LmModel distilled;
        snprintf(overrides, sizeof overrides, "mixer.step=modal,mixer.modal_order=%d", distill_orders[k]);
        rc = lm_create_overriding(&distilled, config, overrides, err, errlen);
        if (rc == 0) {
            rc = gen_eval_loss(&distilled, params, ids, targets, rows, T, &v[2 + 3 * k], err, errlen);
            lm_destroy(&distilled);
        }
    }
    for (int k = 0; rc == 0 && k < N_ORDERS; k++)
        rc = filter_errors(m, params, distill_orders[k], &v[3 + 3 * k], &v[4 + 3 * k], err, errlen);
    free(ids), free(targets), core_free(act), core_free(ws);
    return rc;
}

/* One seed: train, then evaluate (a unit of a sharded reproduction). */
static int distill_seed(const ReproContext *ctx, const char *config, TextDataset *ds, const TrainConfig *tc, int k,
                        double *v, char *err, size_t errlen)
{
    LmModel m;
    if (lm_create(&m, config, err, errlen) != 0)
        return -1;
    char key[64];
    snprintf(key, sizeof key, "distill.seed%d", k);
    const OpFlops f = lm_flops(&m, tc->batch, tc->context);
    int rc = exp_unit_begin(ctx, key, NULL, (f.forward + f.backward) * tc->steps, v, DISTILL_VALUES, err, errlen);
    if (rc == 1) {
        TrainState st = {0};
        TrainResult r;
        TrainData data = {ds, text_dataset_batch};
        ds->seed = exp_seed(ctx, 7, k);
        rc = train_state_alloc(&st, &m, exp_seed(ctx, tc->seed, k), err, errlen);
        if (rc == 0 && (rc = train_run(&m, tc, &data, &st, NULL, &r, err, errlen)) == 0)
            rc = evaluate(&m, config, st.params, &data, tc, v, err, errlen);
        if (rc == 0) {
            repro_log(ctx, "  seed %d: val loss %.4f exact, %.4f stepped; distilled:", k, v[0], v[1]);
            for (int i = 0; i < N_ORDERS; i++)
                repro_log(ctx, " d=%d %+.4f (filter error %.2g)", distill_orders[i], v[2 + 3 * i] - v[0], v[3 + 3 * i]);
            repro_log(ctx, "\n");
            rc = exp_unit_end(ctx, key, NULL, v, DISTILL_VALUES, err, errlen);
        }
        if (st.params)
            train_state_free(&st);
    }
    lm_destroy(&m);
    return rc < 0 ? -1 : 0;
}

int exp_hyena_distill(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    TrainConfig tc = exp_lm_train_config(ctx->profile);
    const char *config = distill_shape(ctx->profile);
    tc.context = ctx->profile == PROFILE_SMOKE ? 64 : 256;
    tc.steps = tc.decay_steps = ctx->profile == PROFILE_SMOKE ? 30 : 500;
    TextDataset ds;
    if (exp_lm_load_corpus(ctx, "tinyshakespeare", &ds, err, errlen) != 0)
        return -1;
    const int n_seeds = exp_seed_count(ctx);
    double v[EXP_MAX_SEEDS][DISTILL_VALUES];
    int rc = 0;
    for (int k = 0; k < n_seeds && rc == 0; k++)
        rc = distill_seed(ctx, config, &ds, &tc, k, v[k], err, errlen);
    text_free(&ds);
    if (rc != 0)
        return -1;
    double order[N_ORDERS], mean_err[N_ORDERS], max_err[N_ORDERS], loss[N_ORDERS], change[N_ORDERS];
    double exact[EXP_MAX_SEEDS], gap = 0.0;
    for (int k = 0; k < n_seeds; k++) {
        exact[k] = v[k][0];
        gap = fabs(v[k][1] - v[k][0]) > gap ? fabs(v[k][1] - v[k][0]) : gap;
    }
    LmModel shape;
    if (lm_create(&shape, config, err, errlen) != 0)
        return -1;
    results_root_metric(results, "d_model", shape.cfg.d_model); /* the claims' conditions read the scale here */
    results_root_metric(results, "context", tc.context);
    results_root_metric(results, "params", (double)shape.n_params);
    lm_destroy(&shape);
    results_run(results, "distill", config);
    for (int i = 0; i < N_ORDERS; i++) {
        double by_seed[EXP_MAX_SEEDS];
        order[i] = distill_orders[i], mean_err[i] = max_err[i] = loss[i] = 0.0;
        for (int k = 0; k < n_seeds; k++) {
            mean_err[i] += v[k][3 + 3 * i] / n_seeds, loss[i] += v[k][2 + 3 * i] / n_seeds;
            max_err[i] = v[k][4 + 3 * i] > max_err[i] ? v[k][4 + 3 * i] : max_err[i];
            by_seed[k] = v[k][2 + 3 * i] - v[k][0];
        }
        char name[64];
        snprintf(name, sizeof name, "val_loss_change_order%d", distill_orders[i]);
        change[i] = exp_record_over_seeds(results, NULL, name, by_seed, n_seeds);
    }
    results_series(results, "distill", "order", order, N_ORDERS);
    results_series(results, "distill", "filter_rel_l2_mean", mean_err, N_ORDERS);
    results_series(results, "distill", "filter_rel_l2_max", max_err, N_ORDERS);
    results_series(results, "distill", "val_loss_distilled", loss, N_ORDERS);
    results_series(results, "distill", "val_loss_change", change, N_ORDERS);
    exp_record_over_seeds(results, "distill", "val_loss", exact, n_seeds);
    results_metric(results, "distill", "stepped_minus_forward_loss", gap);
    results_metric(results, "distill", "seeds", n_seeds);
    results_metric(results, "distill", "steps", tc.steps);
    results_metric(results, "distill", "context", tc.context);
    return 0;
}

/* The shared half of the language-modelling experiments (exp_lm.h). */
#include "exp_lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "exp_shard.h"

/* What one trained model gives the comparisons across runs. */
typedef struct LmOutcome {
    size_t params;
    double flops_to_target; /* -1: the target loss was never reached (or there is none) */
    double val_loss, best_val_loss;
    double train_flops_per_token; /* analytic forward + backward */
} LmOutcome;

const LmRun exp_lm_runs[EXP_LM_RUNS] = {
    {"gpt", "mixer=attention,channel=ffn,pos_emb=1,mixer.n_heads=4,mixer.impl=naive,channel.d_hidden=512", 0},
    {"hyena", "mixer=hyena,channel=ffn,pos_emb=0", 1},
    {"s4d", "mixer=s4d,channel=ffn,pos_emb=0", 1},
    /* FFF channels at the GPT's training width 512 (32 leaves of width 16), trained in training mode and
     * evaluated in both modes. */
    {"gpt_fff", "mixer=attention,channel=fff,pos_emb=1,mixer.n_heads=4,channel.depth=5,channel.leaf_width=16", 0},
    {"hyena_fff", "mixer=hyena,channel=fff,pos_emb=0,channel.depth=5,channel.leaf_width=16", 0},
    {"s4d_fff", "mixer=s4d,channel=fff,pos_emb=0,channel.depth=5,channel.leaf_width=16", 0},
    /* MoE channels at the same training width: 16 experts of width 32, top-2, noisy gating, balance losses. */
    {"gpt_moe", "mixer=attention,channel=moe,pos_emb=1,mixer.n_heads=4,channel.n_experts=16,channel.d_hidden=32,"
                "channel.top_k=2", 0},
    {"hyena_moe", "mixer=hyena,channel=moe,pos_emb=0,channel.n_experts=16,channel.d_hidden=32,channel.top_k=2", 0},
    {"s4d_moe", "mixer=s4d,channel=moe,pos_emb=0,channel.n_experts=16,channel.d_hidden=32,channel.top_k=2", 0},
};

TrainConfig exp_lm_train_config(ReproProfile p)
{
    TrainConfig c = train_defaults(); /* nanoGPT's CPU recipe */
    c.eval_every = 250;
    c.eval_batches = 20;
    c.quiet = 1;
    if (p == PROFILE_SMOKE) {
        c.steps = 30, c.decay_steps = 30, c.warmup = 5, c.eval_every = 15, c.eval_batches = 2;
    }
    return c;
}

/* Training FLOPs until the validation loss first reached target_loss (-1: never, or no target). */
static double flops_to_target(const TrainLog *log, const TrainResult *r, double target_loss)
{
    double to_target = -1;
    for (int i = 0; i < log->n_eval && to_target < 0; i++)
        if (log->val_loss[i] <= target_loss)
            to_target = r->flops_per_step * log->eval_step[i];
    return to_target;
}

/* Writes one run. */
static void lm_record(Results *results, const char *run, const char *config, const LmModel *m, const TrainLog *log,
                      const TrainResult *r, const TrainConfig *tc, double to_target)
{
    results_run(results, run, config);
    results_series(results, run, "step", log->step, log->n_train);
    results_series(results, run, "train_loss", log->train_loss, log->n_train);
    results_series(results, run, "lr", log->lr, log->n_train);
    results_series(results, run, "eval_step", log->eval_step, log->n_eval);
    results_series(results, run, "val_loss", log->val_loss, log->n_eval);
    results_series(results, run, "eval_tokens", log->eval_tokens, log->n_eval);
    results_series(results, run, "eval_time_s", log->eval_time_s, log->n_eval);
    OpFlops f = lm_flops(m, tc->batch, tc->context);
    double tokens_per_step = (double)tc->batch * tc->context;
    results_metric(results, run, "params", (double)m->n_params);
    results_metric(results, run, "val_loss", r->final_val_loss);
    results_metric(results, run, "best_val_loss", r->best_val_loss);
    results_metric(results, run, "ppl_per_byte", exp(r->final_val_loss));
    results_metric(results, run, "bits_per_byte", r->final_val_loss / M_LN2);
    results_metric(results, run, "flops_per_token", f.forward / tokens_per_step);
    results_metric(results, run, "train_flops", r->flops_per_step * (double)r->steps_done);
    results_metric(results, run, "train_flops_to_target", to_target);
    results_metric(results, run, "steps", r->steps_done);
    results_metric(results, run, "context", tc->context);
    results_metric(results, run, "batch", tc->batch);
    results_metric(results, run, "tokens", r->tokens);
    results_metric(results, run, "seconds", r->seconds);
    results_metric(results, run, "train_seconds", r->train_seconds);
    results_metric(results, run, "tokens_per_s", r->tokens_per_s);
}

/* The full model config of a run: the shared shape, the run's config, and the matched ffn width. */
static int run_config(const ReproContext *ctx, const LmRun *run, const char *shape, size_t target_params, char *out,
                      size_t len, char *err, size_t errlen)
{
    char base[1024];
    snprintf(base, sizeof base, "%s,%s", shape, run->config);
    if (!run->match_params) {
        snprintf(out, len, "%s", base);
        return 0;
    }
    size_t got;
    int hidden = lm_match_hidden(base, target_params, 16384, &got, err, errlen);
    if (hidden < 0)
        return -1;
    snprintf(out, len, "%s,channel.d_hidden=%d", base, hidden);
    repro_log(ctx, "  %s: channel.d_hidden=%d gives %zu parameters (target %zu)\n", run->name, hidden, got,
              target_params);
    return 0;
}

/* The learned long filters of a Hyena model's first layer, h (C, L), for the heat-map figure. */
static void record_hyena_filters(Results *results, const char *name, const LmModel *m, const float *params, int L)
{
    const HyenaConfig *cfg = &m->mixer.cfg.hyena;
    size_t C = (size_t)(cfg->order - 1) * cfg->d_model;
    float *scratch = core_alloc_floats(hyena_filter_scratch_floats(cfg, L)), *h = core_alloc_floats(C * L);
    if (scratch && h) {
        hyena_filter_values(cfg, params + m->off_layer[0] + m->n_norm, L, scratch, h);
        results_matrix(results, name, "filter_layer0", h, (int)C, L);
    }
    core_free(scratch), core_free(h);
}

/* An FFF (MoE) model trained in training mode, evaluated with hard routing (without gating noise), mode=infer,
 * on the same parameters. */
static int eval_fff_inference(const ReproContext *ctx, Results *results, const char *name, const char *config,
                              const TrainData *data, const TrainConfig *tc, const float *params, char *err,
                              size_t errlen)
{
    LmModel hard;
    double val;
    if (lm_create_overriding(&hard, config, "channel.mode=infer", err, errlen) != 0)
        return -1;
    int rc = train_evaluate(&hard, tc, data, params, &val, err, errlen);
    if (rc == 0) {
        results_metric(results, name, "val_loss_infer_mode", val);
        repro_log(ctx, "  %-8s hard-routed (inference mode) val loss %.4f\n", name, val);
    }
    lm_destroy(&hard);
    return rc;
}

/* Trains the model m from seed `seed_index` (initialisation; the caller sets the data order); recorded as run
 * `name` unless results is NULL. */
static int train_model(const ReproContext *ctx, Results *results, const char *name, const char *config, LmModel *m,
                       TextDataset *ds, const TrainConfig *tc, int seed_index, double target_loss, LmOutcome *out,
                       char *err, size_t errlen)
{
    TrainState st;
    TrainLog log;
    TrainResult r;
    int rc = train_state_alloc(&st, m, exp_seed(ctx, tc->seed, seed_index), err, errlen);
    if (rc == 0 && train_log_alloc(&log, tc->steps, tc->steps / (tc->eval_every > 0 ? tc->eval_every : 1) + 2)) {
        snprintf(err, errlen, "out of memory for the training log");
        train_state_free(&st);
        rc = -1;
    }
    if (rc == 0) {
        TrainData data = {ds, text_dataset_batch};
        rc = train_run(m, tc, &data, &st, &log, &r, err, errlen);
        if (rc == 0) {
            char canon[4096];
            lm_config_string(m, canon, sizeof canon);
            out->flops_to_target = flops_to_target(&log, &r, target_loss);
            out->val_loss = r.final_val_loss, out->best_val_loss = r.best_val_loss;
            out->train_flops_per_token = r.flops_per_step / ((double)tc->batch * tc->context);
            if (results) {
                lm_record(results, name, canon, m, &log, &r, tc, out->flops_to_target);
                if (m->cfg.mixer == LM_MIXER_HYENA)
                    record_hyena_filters(results, name, m, st.params, tc->context);
                if (m->cfg.channel == LM_CHANNEL_FFF || m->cfg.channel == LM_CHANNEL_MOE)
                    rc = eval_fff_inference(ctx, results, name, config, &data, tc, st.params, err, errlen);
            }
            repro_log(ctx, "  %-8s %8zu params  val loss %.4f (best %.4f)  %.0f tok/s  %.0f s\n", name, m->n_params,
                      r.final_val_loss, r.best_val_loss, r.tokens_per_s, r.seconds);
        }
        train_log_free(&log);
        train_state_free(&st);
    }
    return rc;
}

/* An LmOutcome as the doubles a sharded reproduction keeps of a unit (exp_shard.h). */
#define LM_OUTCOME_VALUES 5
static void outcome_pack(const LmOutcome *o, double *v)
{
    v[0] = (double)o->params, v[1] = o->flops_to_target, v[2] = o->val_loss, v[3] = o->best_val_loss;
    v[4] = o->train_flops_per_token;
}

static void outcome_unpack(const double *v, LmOutcome *o)
{
    o->params = (size_t)v[0], o->flops_to_target = v[1], o->val_loss = v[2], o->best_val_loss = v[3];
    o->train_flops_per_token = v[4];
}

/* One training run (train_model), a unit of a sharded reproduction: unit <name>.seed<k>, its cost the analytic
 * training FLOPs. The parameter count is known without training (the next runs match it). */
static int train_one(const ReproContext *ctx, Results *results, const char *name, const char *config,
                     TextDataset *ds, const TrainConfig *tc, int seed_index, double target_loss, LmOutcome *out,
                     char *err, size_t errlen)
{
    LmModel m;
    if (lm_create(&m, config, err, errlen) != 0)
        return -1;
    char key[160];
    double v[LM_OUTCOME_VALUES];
    snprintf(key, sizeof key, "%s.seed%d", name, seed_index);
    const OpFlops f = lm_flops(&m, tc->batch, tc->context);
    const char *run = results ? name : NULL;
    int rc = exp_unit_begin(ctx, key, run, (f.forward + f.backward) * tc->steps, v, LM_OUTCOME_VALUES,
                            err, errlen);
    if (rc == 1) {
        rc = train_model(ctx, results, name, config, &m, ds, tc, seed_index, target_loss, out, err, errlen);
        outcome_pack(out, v);
        if (rc == 0)
            rc = exp_unit_end(ctx, key, run, v, LM_OUTCOME_VALUES, err, errlen);
    } else if (rc == 0) {
        outcome_unpack(v, out);
    }
    out->params = m.n_params;
    lm_destroy(&m);
    return rc;
}

/* Trains run `name` over n_seeds seeds (seed k: initialisation exp_seed(ctx, tc->seed, k), data order
 * exp_seed(ctx, 7, k)). The run holds seed 0's curves; with more seeds its val_loss, best_val_loss, ppl_per_byte
 * and bits_per_byte become means over the seeds (with _by_seed), beside `seeds`. */
static int train_seeds(const ReproContext *ctx, Results *results, const char *name, const char *config,
                       TextDataset *ds, const TrainConfig *tc, int n_seeds, double target_loss, LmOutcome *per_seed,
                       char *err, size_t errlen)
{
    double val[EXP_MAX_SEEDS], best[EXP_MAX_SEEDS];
    for (int k = 0; k < n_seeds; k++) {
        ds->seed = exp_seed(ctx, 7, k);
        per_seed[k].flops_to_target = -1;
        if (train_one(ctx, k == 0 ? results : NULL, name, config, ds, tc, k, target_loss, &per_seed[k], err,
                      errlen) != 0)
            return -1;
        val[k] = per_seed[k].val_loss, best[k] = per_seed[k].best_val_loss;
    }
    ds->seed = exp_seed(ctx, 7, 0);
    results_metric(results, name, "seeds", n_seeds);
    if (n_seeds < 2)
        return 0;
    double mean = exp_record_over_seeds(results, name, "val_loss", val, n_seeds);
    exp_record_over_seeds(results, name, "best_val_loss", best, n_seeds);
    results_metric(results, name, "ppl_per_byte", exp(mean));
    results_metric(results, name, "bits_per_byte", mean / M_LN2);
    repro_log(ctx, "  %-8s mean over %d seeds: val loss %.4f\n", name, n_seeds, mean);
    return 0;
}

/* The comparisons of Hyena with GPT (both at matched parameters, seed k against seed k): the validation-loss gap
 * at equal tokens, and the training FLOPs each needs to first reach target_loss (sample efficiency; granularity:
 * the evaluation steps), or why that ratio is undefined. */
static void record_hyena_vs_gpt(Results *results, const LmOutcome *gpt, const LmOutcome *hyena, int n_seeds,
                                double target_loss)
{
    double gap[EXP_MAX_SEEDS], ratio[EXP_MAX_SEEDS];
    int reached = 0;
    for (int k = 0; k < n_seeds; k++) {
        gap[k] = hyena[k].val_loss - gpt[k].val_loss;
        if (gpt[k].flops_to_target > 0 && hyena[k].flops_to_target > 0)
            ratio[reached++] = hyena[k].flops_to_target / gpt[k].flops_to_target;
    }
    exp_record_over_seeds(results, NULL, "hyena_minus_gpt_val_loss", gap, n_seeds);
    results_root_metric(results, "hyena_over_gpt_train_flops",
                        hyena[0].train_flops_per_token / gpt[0].train_flops_per_token);
    if (isnan(target_loss))
        return;
    if (reached == n_seeds) {
        exp_record_over_seeds(results, NULL, "hyena_over_gpt_flops_to_target", ratio, n_seeds);
        return;
    }
    char why[200];
    snprintf(why, sizeof why, "target not reached: in %d of %d seeds GPT or Hyena never reached validation loss %.4g",
             n_seeds - reached, n_seeds, target_loss);
    results_root_str(results, "hyena_over_gpt_flops_to_target_why", why);
}

int exp_lm_load_corpus(const ReproContext *ctx, const char *dataset, TextDataset *ds, char *err, size_t errlen)
{
    char msg[512];
    if (data_fetch(dataset, DATA_CACHE_DIR, NULL, ctx->quiet ? NULL : stdout, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s: %s", dataset, msg);
        return -1;
    }
    return data_load_text(dataset, DATA_CACHE_DIR, ds, err, errlen);
}

int exp_lm_run_corpus(const ReproContext *ctx, Results *results, const char *dataset, const char *shape,
                      const LmRun *runs, int n_runs, const TrainConfig *tc, double target_loss, char *err,
                      size_t errlen)
{
    TextDataset ds;
    if (exp_lm_load_corpus(ctx, dataset, &ds, err, errlen) != 0)
        return -1;
    ds.seed = exp_seed(ctx, 7, 0);
    results_root_str(results, "data_source", ds.source);
    results_root_metric(results, "context", tc->context);
    if (!isnan(target_loss))
        results_root_metric(results, "target_val_loss", target_loss);
    size_t target_params = 0;
    int rc = 0, gpt = -1, hyena = -1, n_seeds = exp_seed_count(ctx);
    LmOutcome(*outcome)[EXP_MAX_SEEDS] = calloc((size_t)n_runs, sizeof *outcome);
    if (!outcome) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    for (int i = 0; i < n_runs && rc == 0; i++) {
        char config[2048];
        const int seeded = strcmp(runs[i].name, "gpt") == 0 || strcmp(runs[i].name, "hyena") == 0 ||
                           strcmp(runs[i].name, "gpt_gpu") == 0;
        rc = run_config(ctx, &runs[i], shape, target_params, config, sizeof config, err, errlen);
        if (rc == 0)
            rc = train_seeds(ctx, results, runs[i].name, config, &ds, tc, seeded ? n_seeds : 1, target_loss,
                             outcome[i], err, errlen);
        if (i == 0)
            target_params = outcome[i][0].params;
        gpt = strcmp(runs[i].name, "gpt") == 0 ? i : gpt;
        hyena = strcmp(runs[i].name, "hyena") == 0 ? i : hyena;
    }
    if (rc == 0 && gpt >= 0 && hyena >= 0)
        record_hyena_vs_gpt(results, outcome[gpt], outcome[hyena], n_seeds, target_loss);
    free(outcome);
    text_free(&ds);
    return rc;
}


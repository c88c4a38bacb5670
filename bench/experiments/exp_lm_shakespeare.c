/* lm_shakespeare: byte-level tiny Shakespeare, nanoGPT's CPU GPT against Hyena and S4D at matched parameters,
 * each with ffn, FFF and MoE channels (exp_lm.h); the paper profile adds nanoGPT's GPU configuration and a
 * 1.5M-parameter Hyena. */
#include <math.h>

#include "claims.h"
#include "exp_lm.h"

/* The paper profile's larger models, each with its own shape: nanoGPT's GPU configuration (published val loss
 * 1.4697; nanoGPT trains it with dropout 0.2, which subq does not implement) and a Hyena of about 1.5M
 * parameters (a public JAX Hyena reports a val loss of about 1.45 on this data). */
static const LmRun shakespeare_gpu_gpt[] = {
    {"gpt_gpu", "mixer=attention,channel=ffn,pos_emb=1,mixer.n_heads=6,mixer.impl=tiled,channel.d_hidden=1536", 0},
};
static const LmRun shakespeare_hyena_1p5m[] = {
    {"hyena_1p5m", "mixer=hyena,channel=ffn,pos_emb=0,channel.d_hidden=672", 0},
};

/* nanoGPT's train_shakespeare_char.py: batch 64, context 256, 5000 steps decaying to 5000, lr 1e-3 -> 1e-4. */
static TrainConfig lm_gpu_train_config(void)
{
    TrainConfig c = exp_lm_train_config(PROFILE_PAPER);
    c.batch = 64, c.context = 256, c.steps = 5000, c.decay_steps = 5000;
    return c;
}

int exp_lm_shakespeare(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    TrainConfig tc = exp_lm_train_config(ctx->profile);
    const char *shape = ctx->profile == PROFILE_SMOKE ? "vocab=256,d_model=32,layers=2,context=32"
                                                      : "vocab=256,d_model=128,layers=4,context=64";
    tc.context = ctx->profile == PROFILE_SMOKE ? 32 : 64;
    results_root_str(results, "recipe", "nanoGPT shakespeare_char CPU: batch 12, lr 1e-3->1e-4, warmup 100, "
                                        "betas (0.9, 0.99), wd 0.1, clip 1");
    double target_loss;
    if (claims_published_value(REPRO_PUBLISHED_TSV, "nanogpt_cpu_shakespeare", &target_loss, err, errlen) != 0)
        return -1;
    int rc = exp_lm_run_corpus(ctx, results, "tinyshakespeare", shape, exp_lm_runs, EXP_LM_RUNS, &tc, target_loss,
                               err, errlen);
    if (rc != 0 || ctx->profile != PROFILE_PAPER)
        return rc;
    TrainConfig gpu = lm_gpu_train_config();
    rc = exp_lm_run_corpus(ctx, results, "tinyshakespeare", "vocab=256,d_model=384,layers=6,context=256",
                    shakespeare_gpu_gpt, 1, &gpu, NAN, err, errlen);
    return rc != 0 ? rc
                   : exp_lm_run_corpus(ctx, results, "tinyshakespeare", "vocab=256,d_model=168,layers=4,context=256",
                                shakespeare_hyena_1p5m, 1, &gpu, NAN, err, errlen);
}


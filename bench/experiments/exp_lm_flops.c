/* lm_flops: the Hyena paper's training-FLOPs accounting (Table 4.4) checked with subq's analytic counts, at
 * the paper's model shapes and sequence length 2048. Nothing is trained: lm_flops sums the operators' analytic
 * forward and backward FLOPs (the same counts the harness divides by time), so the ratio says whether the
 * paper's "20% fewer FLOPs" follows from the architectures themselves.
 *
 * Shapes (vocab 50257, the GPT-2 tokenizer, padded to a multiple of 8 as safari does; context 2048):
 *   gpt_125m    width 768, 12 layers, 12 heads, ffn 3072 (GPT-2 small)
 *   hyena_153m  safari's configs/experiment/pile/hyena.yaml: width 864, 18 layers, d_inner 2 x 864, order 2,
 *               filter_order 64, emb_dim 33, short filter 3
 *   gpt_355m    width 1024, 24 layers, 16 heads, ffn 4096 (safari's pile/355m.yaml)
 *   hyena_355m  the same width, depth and ffn with the order-2 Hyena mixer of hyena_153m (the paper does not
 *               publish this configuration; the mixer's projections have the attention block's 4 D^2 weights)
 * Runs /runs/<model>: params, train_flops_per_token ((forward + backward) / tokens), train_flops_15b_tokens.
 * Root: hyena_over_gpt_train_flops (355M), hyena_over_gpt_train_flops_125m, and the shape attributes the
 * claims' conditions read (d_model, n_layers, context: the 355M pair's).
 *
 * Data-parallel scaling model (docs/DESIGN.md section 10), per model, for N = 8, 64 and 512 ranks, the
 * global batch fixed: a step computes FLOPs/token x DP_BATCH_TOKENS on N ranks of rate R, then a ring
 * all-reduce of the float32 gradient, 2 (N-1)/N x 4 params bytes at DP_BANDWIDTH plus 2 (N-1) steps of
 * DP_LATENCY, not overlapped with the backward (subq reduces after it). Efficiency = compute / (compute +
 * all-reduce). Two kinds of rank: `vm`, one 2-core machine like this one (R = DP_TRAIN_FRACTION of this run's
 * calibration sgemm), and `node64`, a 64-core node taken as 32 such (an assumption: linear in cores). Runs get
 * dp_efficiency_<kind>_N<N> and dp_step_s_<kind>_N<N>, dp_allreduce_s_N<N>; the root the assumptions. */
#include <stdio.h>
#include <string.h>

#include "experiments.h"
#include "lm.h"

#define FLOPS_CONTEXT 2048
#define PILE_VOCAB 50264
#define PILE_TOKENS 15e9

#define DP_BATCH_TOKENS (256.0 * 2048) /* 0.5M tokens a step: an assumption, the paper gives tokens, not batches */
#define DP_BANDWIDTH 12.5e9            /* bytes/s: a 100 Gb/s link per rank */
#define DP_LATENCY 5e-6                /* s per ring step */
/* A training step's share of the calibration sgemm rate: nanoGPT's CPU GPT trained at 27.4k tokens/s on this
 * machine's 2 threads (2026-12-05), about 145 GFLOP/s of analytic FLOPs against a 200 GFLOP/s sgemm. */
#define DP_TRAIN_FRACTION 0.7
#define DP_NODE_VMS 32.0 /* a 64-core node as 32 of this machine's 2-core VMs */

typedef struct FlopsModel {
    const char *name, *config;
} FlopsModel;

#define HYENA_MIXER "mixer=hyena,pos_emb=0,mixer.order=2,mixer.filter_order=64,mixer.emb_dim=33,mixer.w=14"

static const FlopsModel flops_models[] = {
    {"gpt_125m", "d_model=768,layers=12,mixer=attention,pos_emb=1,mixer.n_heads=12,channel=ffn,channel.d_hidden=3072"},
    {"hyena_153m", "d_model=864,layers=18," HYENA_MIXER ",channel=ffn,channel.d_hidden=1728"},
    {"gpt_355m", "d_model=1024,layers=24,mixer=attention,pos_emb=1,mixer.n_heads=16,channel=ffn,channel.d_hidden=4096"},
    {"hyena_355m", "d_model=1024,layers=24," HYENA_MIXER ",channel=ffn,channel.d_hidden=4096"},
};
#define N_FLOPS_MODELS ((int)(sizeof flops_models / sizeof flops_models[0]))

/* The modelled data-parallel step of a model (see the header). */
static void record_dp_model(const ReproContext *ctx, Results *results, const char *run, double params,
                            double per_token)
{
    const int ranks[] = {8, 64, 512};
    const struct {
        const char *kind;
        double rate; /* FLOP/s per rank */
    } kinds[] = {{"vm", DP_TRAIN_FRACTION * ctx->calibration_gflops * 1e9},
                 {"node64", DP_NODE_VMS * DP_TRAIN_FRACTION * ctx->calibration_gflops * 1e9}};
    char name[96];
    for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++) {
        const double N = ranks[i];
        const double reduce = 2.0 * (N - 1) / N * 4.0 * params / DP_BANDWIDTH + 2.0 * (N - 1) * DP_LATENCY;
        snprintf(name, sizeof name, "dp_allreduce_s_N%d", ranks[i]);
        results_metric(results, run, name, reduce);
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            const double compute = per_token * DP_BATCH_TOKENS / (N * kinds[k].rate);
            snprintf(name, sizeof name, "dp_step_s_%s_N%d", kinds[k].kind, ranks[i]);
            results_metric(results, run, name, compute + reduce);
            snprintf(name, sizeof name, "dp_efficiency_%s_N%d", kinds[k].kind, ranks[i]);
            results_metric(results, run, name, compute / (compute + reduce));
        }
    }
}

/* Training FLOPs per token of one model (forward + backward at batch 1, FLOPS_CONTEXT tokens). */
static int model_flops(const ReproContext *ctx, Results *results, const FlopsModel *fm, double *per_token, char *err,
                       size_t errlen)
{
    char config[1024];
    snprintf(config, sizeof config, "vocab=%d,context=%d,%s", PILE_VOCAB, FLOPS_CONTEXT, fm->config);
    LmModel m;
    if (lm_create(&m, config, err, errlen) != 0)
        return -1;
    OpFlops f = lm_flops(&m, 1, FLOPS_CONTEXT);
    *per_token = (f.forward + f.backward) / FLOPS_CONTEXT;
    char canon[4096];
    lm_config_string(&m, canon, sizeof canon);
    results_run(results, fm->name, canon);
    results_metric(results, fm->name, "params", (double)m.n_params);
    results_metric(results, fm->name, "train_flops_per_token", *per_token);
    results_metric(results, fm->name, "train_flops_15b_tokens", *per_token * PILE_TOKENS);
    results_metric(results, fm->name, "context", FLOPS_CONTEXT);
    record_dp_model(ctx, results, fm->name, (double)m.n_params, *per_token);
    repro_log(ctx, "  %-11s %6.1fM params  %.3g training FLOPs per token  %.3g for 15B tokens\n", fm->name,
              (double)m.n_params / 1e6, *per_token, *per_token * PILE_TOKENS);
    lm_destroy(&m);
    return 0;
}

int exp_lm_flops(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    double per_token[N_FLOPS_MODELS];
    for (int i = 0; i < N_FLOPS_MODELS; i++)
        if (model_flops(ctx, results, &flops_models[i], &per_token[i], err, errlen) != 0)
            return -1;
    results_root_metric(results, "hyena_over_gpt_train_flops_125m", per_token[1] / per_token[0]);
    results_root_metric(results, "hyena_over_gpt_train_flops", per_token[3] / per_token[2]);
    results_root_metric(results, "d_model", 1024);
    results_root_metric(results, "n_layers", 24);
    results_root_metric(results, "context", FLOPS_CONTEXT);
    results_root_metric(results, "dp_batch_tokens", DP_BATCH_TOKENS);
    results_root_metric(results, "dp_bandwidth_bytes_per_s", DP_BANDWIDTH);
    results_root_metric(results, "dp_latency_s", DP_LATENCY);
    results_root_metric(results, "dp_rank_flops_vm", DP_TRAIN_FRACTION * ctx->calibration_gflops * 1e9);
    results_root_metric(results, "dp_rank_flops_node64",
                        DP_NODE_VMS * DP_TRAIN_FRACTION * ctx->calibration_gflops * 1e9);
    repro_log(ctx, "  Hyena over GPT training FLOPs: %.3f (355M), %.3f (153M over 125M)\n", per_token[3] / per_token[2],
              per_token[1] / per_token[0]);
    return 0;
}

/* ops_core: the foundation's speed targets, measured with the harness.
 *  - ffn forward at B*L = 4096 tokens, D=768, H=3072 reaches >= 80% of the calibration sgemm's GFLOP/s;
 *  - tiled attention forward at L=4096, D=768, 12 heads is no slower than naive;
 *  - tiled attention runs forward+backward at L=65536 (D=768) within 4 GiB, where naive cannot.
 * The smoke profile runs the same steps at toy sizes. Each target's outcome is a root attribute
 * (target_* = measured value, target_*_met = 0/1) so the report reads it without recomputing. */
#include <stdio.h>

#include "experiments.h"

#define GIB ((size_t)1 << 30)

typedef struct OpsCoreSizes {
    int d_model, d_hidden, n_heads, tokens, attn_len, long_len;
    size_t long_mem_limit; /* the memory budget of the long tiled run (4 GiB; scaled down in smoke) */
} OpsCoreSizes;

static OpsCoreSizes ops_core_sizes(ReproProfile profile)
{
    if (profile == PROFILE_SMOKE)
        return (OpsCoreSizes){.d_model = 256, .d_hidden = 1024, .n_heads = 4, .tokens = 512, .attn_len = 512,
                              .long_len = 4096, .long_mem_limit = GIB / 4};
    return (OpsCoreSizes){.d_model = 768, .d_hidden = 3072, .n_heads = 12, .tokens = 4096, .attn_len = 4096,
                          .long_len = 65536, .long_mem_limit = 4 * GIB};
}

static void record_target(Results *results, const char *name, double value, int met)
{
    char key[96];
    snprintf(key, sizeof key, "target_%s", name);
    results_root_metric(results, key, value);
    snprintf(key, sizeof key, "target_%s_met", name);
    results_root_metric(results, key, met);
}

/* Benchmarks op on B x L, records it as run and logs it. */
static int bench_point(const ReproContext *ctx, Results *results, const char *run, const Op *op, int B, int L,
                       int with_backward, const TimingPolicy *policy, size_t mem_limit, BenchOpResult *r, char *err,
                       size_t errlen)
{
    BenchOpStatus st = benchop_run(op, B, L, with_backward, policy, mem_limit, ctx->seed, r, err, errlen);
    if (st != BENCHOP_OK)
        return st;
    exp_record_bench(ctx, results, run, op, B, L, r);
    exp_log_bench(ctx, run, r);
    return 0;
}

static int ffn_target(const ReproContext *ctx, Results *results, const OpsCoreSizes *s, char *err, size_t errlen)
{
    char config[128];
    snprintf(config, sizeof config, "d_model=%d,d_hidden=%d", s->d_model, s->d_hidden);
    Op ffn;
    if (exp_configure(&ffn, "ffn", config, err, errlen) != 0)
        return -1;
    TimingPolicy policy = timing_default_policy();
    BenchOpResult r;
    if (bench_point(ctx, results, "ffn", &ffn, 1, s->tokens, 1, &policy, 0, &r, err, errlen) != 0)
        return -1;
    double fraction = r.gflops_forward / ctx->calibration_gflops;
    record_target(results, "ffn_forward_fraction_of_sgemm", fraction, fraction >= 0.8);
    repro_log(ctx, "  target: ffn forward at %.0f%% of the calibration sgemm (>= 80%%): %s\n", 100 * fraction,
              fraction >= 0.8 ? "met" : "NOT met");
    return 0;
}

static int attention_op(Op *op, const OpsCoreSizes *s, const char *impl, char *err, size_t errlen)
{
    char config[128];
    snprintf(config, sizeof config, "d_model=%d,n_heads=%d,impl=%s", s->d_model, s->n_heads, impl);
    return exp_configure(op, "attention", config, err, errlen);
}

static int attention_target(const ReproContext *ctx, Results *results, const OpsCoreSizes *s, char *err,
                            size_t errlen)
{
    Op naive, tiled;
    if (attention_op(&naive, s, "naive", err, errlen) != 0 || attention_op(&tiled, s, "tiled", err, errlen) != 0)
        return -1;
    TimingPolicy policy = timing_default_policy();
    BenchOpResult rn, rt;
    if (bench_point(ctx, results, "attention_naive", &naive, 1, s->attn_len, 1, &policy, 0, &rn, err, errlen) != 0 ||
        bench_point(ctx, results, "attention_tiled", &tiled, 1, s->attn_len, 1, &policy, 0, &rt, err, errlen) != 0)
        return -1;
    double ratio = rt.forward.median_ms / rn.forward.median_ms;
    record_target(results, "attention_tiled_over_naive_forward_time", ratio, ratio <= 1.0);
    repro_log(ctx, "  target: tiled/naive forward time %.2f (<= 1): %s\n", ratio, ratio <= 1.0 ? "met" : "NOT met");
    return 0;
}

/* Tiled forward+backward at the long length within 4 GiB; naive's buffers are reported, not allocated. */
static int long_attention_target(const ReproContext *ctx, Results *results, const OpsCoreSizes *s, char *err,
                                 size_t errlen)
{
    Op naive, tiled;
    if (attention_op(&naive, s, "naive", err, errlen) != 0 || attention_op(&tiled, s, "tiled", err, errlen) != 0)
        return -1;
    size_t naive_bytes = opbuf_bytes(&naive, 1, s->long_len, 1);
    results_root_metric(results, "attention_naive_long_buffer_bytes", (double)naive_bytes);
    repro_log(ctx, "  attention naive at L=%d would need %.1f GiB: not run\n", s->long_len,
              (double)naive_bytes / GIB);
    /* One repetition when a run takes minutes (default profile); repeated, with a warm-up, when it is short
     * (smoke, which `make perf-check` compares against a reference, so a cold single run would be noise). */
    OpFlops flops = op_flops(&tiled, 1, s->long_len);
    TimingPolicy policy = exp_policy_for(ctx, flops.forward + flops.backward);
    BenchOpResult r;
    const size_t limit = s->long_mem_limit;
    int st = bench_point(ctx, results, "attention_tiled_long", &tiled, 1, s->long_len, 1, &policy, limit, &r, err,
                         errlen);
    if (st != 0)
        return -1;
    int met = r.peak_bytes <= limit && naive_bytes > limit;
    record_target(results, "attention_tiled_long_peak_rss_gib", (double)r.peak_bytes / GIB, met);
    results_root_metric(results, "attention_long_memory_limit_gib", (double)limit / GIB);
    repro_log(ctx, "  target: tiled fwd+bwd at L=%d in %.2f GiB peak RSS (<= %.2f GiB, naive > %.2f GiB): %s\n",
              s->long_len, (double)r.peak_bytes / GIB, (double)limit / GIB, (double)limit / GIB,
              met ? "met" : "NOT met");
    return 0;
}

int exp_ops_core(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    OpsCoreSizes s = ops_core_sizes(ctx->profile);
    if (ffn_target(ctx, results, &s, err, errlen) != 0 || attention_target(ctx, results, &s, err, errlen) != 0 ||
        long_attention_target(ctx, results, &s, err, errlen) != 0)
        return -1;
    return 0;
}

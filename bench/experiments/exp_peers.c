/* peers: the same operators at the same shapes timed with PyTorch (baselines/torch/peer_bench.py, the PyPI
 * release in the project's virtual environment, `make peers`) and with subq, side by side in one run
 * (bench/harness/pair.h): for each point and phase, rounds of subq repetitions and PyTorch repetitions alternate,
 * every repetition is recorded, and the ratio PyTorch time / subq time of the two minima is reported with its
 * spread over the rounds (above 1: subq is faster; a spread containing 1: level). Each side's rate is also
 * given as a fraction of the in-run calibration sgemm. Skipped, with a message saying how to enable it, when
 * the environment is absent. docs/DESIGN.md section 6 states the method.
 *
 * Runs hyena_vs_sdpa_L<L> pair subq's Hyena (order 2) with PyTorch's SDPA attention (run attributes torch_op,
 * torch_config) at 1K to 16K (paper: 64K); root crossover_seq_len_hyena_vs_sdpa (or its _why) and
 * speedup_hyena_vs_sdpa_at_longest (with _low, _high): the ops_scaling comparison against the best peer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments.h"
#include "lm.h"
#include "pair.h"
#include "peerproc.h"
#include "rng.h"
#include "train.h"

#define PEER_SCRIPT "baselines/torch/peer_bench.py"
#define PEER_REPLY_MAX 32768
#define PEER_ROUND_SECONDS 0.25 /* the slower side's share of a round; a round is about twice that */

typedef struct PeerPoint {
    const char *run, *op, *config;
    int seq_len;
} PeerPoint;

/* What the PyTorch side runs at a point when it is another operator than subq's (NULL op: the same). */
typedef struct PeerOther {
    const char *op, *config;
} PeerOther;

/* Run names are the same in every profile (plots/peers.gp lists them); the sizes live in each run's config
 * and seq_len. The default points are the targets of docs/DESIGN.md section 6: attention at 1K, 4K and 16K
 * against SDPA and at 1K and 2K against the explicit softmax, the GEMM-bound ops on 4096 tokens, the long
 * convolution at 4K, 16K and 64K, and the two sequence mixers at 4K. The paper profile adds attention at 64K. */
static const PeerPoint default_points[] = {
    {"attention_tiled_short", "attention", "d_model=768,n_heads=12,impl=tiled", 1024},
    {"attention_tiled", "attention", "d_model=768,n_heads=12,impl=tiled", 4096},
    {"attention_tiled_long", "attention", "d_model=768,n_heads=12,impl=tiled", 16384},
    {"attention_naive_short", "attention", "d_model=768,n_heads=12,impl=naive", 1024},
    {"attention_naive", "attention", "d_model=768,n_heads=12,impl=naive", 2048},
    {"ffn", "ffn", "d_model=768,d_hidden=3072", 4096},
    {"linear_qkv", "linear", "d_in=768,d_out=2304", 4096},
    {"fftconv_short", "fftconv", "d_model=768,l_max=4096", 4096},
    {"fftconv", "fftconv", "d_model=768,l_max=16384", 16384},
    {"fftconv_long", "fftconv", "d_model=768,l_max=65536", 65536},
    {"hyena_order2", "hyena", "d_model=768,order=2,l_max=4096", 4096},
    {"s4d", "s4d", "d_model=768", 4096},
};

/* Hyena (order 2, subq) against PyTorch's SDPA attention (the peer's attention impl=tiled) by length: the
 * crossover and the long-sequence speedup of ops_scaling, measured against the best peer's attention instead of
 * subq's own. Paper profile: up to 64K. */
static const int hyena_sdpa_lengths[] = {1024, 2048, 4096, 8192, 16384, 32768, 65536};
#define HYENA_SDPA_DEFAULT 5 /* lengths up to 16K: the 32K and 64K points cost about 25 min of SDPA alone */
static const int hyena_sdpa_smoke_lengths[] = {256, 512};

static const PeerPoint paper_extra_points[] = {
    {"attention_tiled_longest", "attention", "d_model=768,n_heads=12,impl=tiled", 65536},
};

static const PeerPoint smoke_points[] = {
    {"attention_tiled_short", "attention", "d_model=128,n_heads=4,impl=tiled", 256},
    {"attention_tiled", "attention", "d_model=128,n_heads=4,impl=tiled", 512},
    {"attention_tiled_long", "attention", "d_model=128,n_heads=4,impl=tiled", 1024},
    {"attention_naive_short", "attention", "d_model=128,n_heads=4,impl=naive", 256},
    {"attention_naive", "attention", "d_model=128,n_heads=4,impl=naive", 512},
    {"ffn", "ffn", "d_model=128,d_hidden=512", 512},
    {"linear_qkv", "linear", "d_in=128,d_out=384", 512},
    {"fftconv_short", "fftconv", "d_model=128,l_max=512", 512},
    {"fftconv", "fftconv", "d_model=128,l_max=1024", 1024},
    {"fftconv_long", "fftconv", "d_model=128,l_max=2048", 2048},
    {"hyena_order2", "hyena", "d_model=128,order=2,l_max=512", 512},
    {"s4d", "s4d", "d_model=128", 512},
};

/* The two sides of a point, as pair.h samplers. */
typedef struct SubqSide {
    BenchOpSession session;
    BenchOpPhase phase;
} SubqSide;

typedef struct TorchSide {
    PeerProc *peer;
    const char *phase; /* "forward" or "train" */
} TorchSide;

static int sample_subq(void *ctx, int reps, double *ms, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    SubqSide *s = ctx;
    benchop_sample(&s->session, s->phase, reps, ms);
    return 0;
}

static int sample_torch(void *ctx, int reps, double *ms, char *err, size_t errlen)
{
    TorchSide *t = ctx;
    char request[64], *reply = malloc(PEER_REPLY_MAX);
    if (!reply) {
        snprintf(err, errlen, "peers: out of memory");
        return -1;
    }
    snprintf(request, sizeof request, "time %s %d", t->phase, reps);
    int rc = peerproc_request(t->peer, request, reply, PEER_REPLY_MAX, err, errlen);
    const char *p = reply + 2;
    for (int i = 0; rc == 0 && i < reps; i++) {
        char *end;
        ms[i] = strtod(p, &end);
        if (end == p || strncmp(reply, "ms", 2) != 0) {
            snprintf(err, errlen, "peers: the PyTorch peer answered '%.80s' to '%s'", reply, request);
            rc = -1;
        }
        p = end;
    }
    free(reply);
    return rc;
}

/* Records one phase of a point: both sides' statistics and every repetition, the ratio with its spread and
 * outcome, and each side's rate (its own analytic FLOPs, flops[0] subq's and flops[1] PyTorch's, which differ
 * when the sides run different operators) as a fraction of the calibration sgemm. */
static void record_phase(const ReproContext *ctx, Results *results, const char *run, const char *phase,
                         const double flops[2], const PairStats *st, const double *subq_ms, const double *torch_ms)
{
    char name[128], word[64];
    const struct {
        const char *side;
        const TimingStats *t;
        const double *ms;
    } sides[2] = {{"subq", &st->a, subq_ms}, {"torch", &st->b, torch_ms}};
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s_%s_ms_min", sides[i].side, phase);
        results_metric(results, run, name, sides[i].t->min_ms);
        snprintf(name, sizeof name, "%s_%s_ms_median", sides[i].side, phase);
        results_metric(results, run, name, sides[i].t->median_ms);
        snprintf(name, sizeof name, "%s_%s_gflops_fraction_of_calibration", sides[i].side, phase);
        results_metric(results, run, name, flops[i] / (sides[i].t->min_ms * 1e6) / ctx->calibration_gflops);
        snprintf(name, sizeof name, "%s_%s_ms", sides[i].side, phase);
        results_series(results, run, name, sides[i].ms, st->rounds * st->reps);
    }
    snprintf(name, sizeof name, "torch_over_subq_%s", phase);
    results_metric(results, run, name, st->ratio);
    results_series(results, run, name, &st->ratio, 1); /* a one-point series for plots/peers.gp */
    snprintf(name, sizeof name, "torch_over_subq_%s_low", phase);
    results_metric(results, run, name, st->ratio_low);
    snprintf(name, sizeof name, "torch_over_subq_%s_high", phase);
    results_metric(results, run, name, st->ratio_high);
    snprintf(name, sizeof name, "%s_outcome", phase);
    results_metric_str(results, run, name, pair_outcome_text(st->outcome, "subq", "torch", word, sizeof word));
    snprintf(name, sizeof name, "%s_rounds", phase);
    results_metric(results, run, name, st->rounds);
    snprintf(name, sizeof name, "%s_reps_per_round", phase);
    results_metric(results, run, name, st->reps);
}

static int pair_phase(const ReproContext *ctx, Results *results, const PeerPoint *p, SubqSide *subq,
                      TorchSide *torch, const double flops[2], PairStats *out, char *err, size_t errlen)
{
    PairSide a = {"subq", sample_subq, subq}, b = {"torch", sample_torch, torch};
    double *a_ms, *b_ms;
    PairStats st;
    int rc = pair_measure_sized(&a, &b, PAIR_MIN_ROUNDS, PEER_ROUND_SECONDS, &a_ms, &b_ms, &st, err, errlen);
    *out = st;
    if (rc == 0) {
        const char *phase = subq->phase == BENCHOP_FORWARD ? "forward" : "forward_backward";
        char word[64];
        record_phase(ctx, results, p->run, phase, flops, &st, a_ms, b_ms);
        repro_log(ctx, "  %-22s L=%-6d %-16s subq %9.2f ms  torch %9.2f ms  torch/subq %5.2fx [%.2f, %.2f] %s\n",
                  p->run, p->seq_len, phase, st.a.min_ms, st.b.min_ms, st.ratio, st.ratio_low, st.ratio_high,
                  pair_outcome_text(st.outcome, "subq", "torch", word, sizeof word));
    }
    free(a_ms);
    free(b_ms);
    return rc;
}

/* Both phases of a point; the forward+backward statistics into *train. */
static int run_point(const ReproContext *ctx, Results *results, PeerProc *peer, const PeerPoint *p,
                     const PeerOther *other, PairStats *train, char *err, size_t errlen)
{
    Op op;
    if (exp_configure(&op, p->op, p->config, err, errlen) != 0)
        return -1;
    char request[512], reply[256];
    snprintf(request, sizeof request, "setup %s %s 1 %d", other->op ? other->op : p->op,
             other->op ? other->config : p->config, p->seq_len);
    if (peerproc_request(peer, request, reply, sizeof reply, err, errlen) != 0)
        return -1;
    SubqSide subq = {.phase = BENCHOP_FORWARD};
    if (benchop_open(&subq.session, &op, 1, p->seq_len, 1, 0, ctx->seed, err, errlen) != BENCHOP_OK)
        return -1;
    exp_record_point(results, p->run, &op, 1, p->seq_len);
    if (other->op) {
        results_metric_str(results, p->run, "torch_op", other->op);
        results_metric_str(results, p->run, "torch_config", other->config);
    }
    Op torch_op = op;
    if (other->op && exp_configure(&torch_op, other->op, other->config, err, errlen) != 0) {
        benchop_close(&subq.session);
        return -1;
    }
    OpFlops fl = op_flops(&op, 1, p->seq_len), tfl = op_flops(&torch_op, 1, p->seq_len);
    TorchSide torch = {peer, "forward"};
    PairStats forward;
    int rc = pair_phase(ctx, results, p, &subq, &torch, (double[]){fl.forward, tfl.forward}, &forward, err, errlen);
    if (rc == 0) {
        subq.phase = BENCHOP_TRAINING;
        torch.phase = "train";
        rc = pair_phase(ctx, results, p, &subq, &torch,
                        (double[]){fl.forward + fl.backward, tfl.forward + tfl.backward}, train, err, errlen);
    }
    benchop_close(&subq.session);
    return rc;
}

/* ---- training throughput: nanoGPT's CPU GPT and Hyena at matched parameters, one optimisation step ---- */

typedef struct LmPoint {
    const char *run;
    const char *model; /* appended to the shape */
    int sdpa;          /* the PyTorch side uses F.scaled_dot_product_attention (else nn.MultiheadAttention's
                        * explicit path, reference.Attention) */
    int match_params;  /* Hyena: the channel width that matches the GPT's parameter count */
} LmPoint;

static const LmPoint lm_points[] = {
    {"train_gpt_vs_sdpa", "mixer=attention,channel=ffn,pos_emb=1,mixer.n_heads=4,mixer.impl=naive,channel.d_hidden=512",
     1, 0},
    {"train_gpt_vs_mha", "mixer=attention,channel=ffn,pos_emb=1,mixer.n_heads=4,mixer.impl=naive,channel.d_hidden=512",
     0, 0},
    {"train_hyena", "mixer=hyena,channel=ffn,pos_emb=0", 0, 1},
};

/* Random byte tokens, a fresh batch per step (both sides see random tokens; the throughput does not depend on
 * them). */
static int random_batch(void *ctx, int split, uint64_t index, int *ids, int *targets, int B, int T, char *err,
                        size_t errlen)
{
    (void)ctx, (void)err, (void)errlen;
    Rng rng;
    rng_init(&rng, 0x5eed0000u + 2 * index + (uint64_t)split);
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int)rng_below(&rng, 256);
        targets[i] = (int)rng_below(&rng, 256);
    }
    return 0;
}

static int sample_steps(void *ctx, int reps, double *ms, char *err, size_t errlen)
{
    return train_stepper_time(ctx, reps, ms, err, errlen);
}

/* The model config of a point; Hyena's channel width matched to the GPT's parameters (as lm_shakespeare). */
static int lm_point_config(const LmPoint *p, const char *shape, char *out, size_t len, char *err, size_t errlen)
{
    snprintf(out, len, "%s,%s", shape, p->model);
    if (!p->match_params)
        return 0;
    char gpt[1024];
    snprintf(gpt, sizeof gpt, "%s,%s", shape, lm_points[0].model);
    LmModel m;
    if (lm_create(&m, gpt, err, errlen) != 0)
        return -1;
    size_t target = m.n_params, got;
    lm_destroy(&m);
    int hidden = lm_match_hidden(out, target, 16384, &got, err, errlen);
    if (hidden < 0)
        return -1;
    snprintf(out + strlen(out), len - strlen(out), ",channel.d_hidden=%d", hidden);
    return 0;
}

static int run_lm_point(const ReproContext *ctx, Results *results, PeerProc *peer, const LmPoint *p, char *err,
                        size_t errlen)
{
    const int smoke = ctx->profile == PROFILE_SMOKE, batch = smoke ? 4 : 12, context = smoke ? 32 : 64;
    char shape[128], config[1536], request[2048], reply[256];
    snprintf(shape, sizeof shape, "vocab=256,d_model=%d,layers=%d,context=%d", smoke ? 32 : 128, smoke ? 2 : 4,
             context);
    if (lm_point_config(p, shape, config, sizeof config, err, errlen) != 0)
        return -1;
    snprintf(request, sizeof request, "setup_lm %s %d %d", config, batch, p->sdpa);
    if (peerproc_request(peer, request, reply, sizeof reply, err, errlen) != 0)
        return -1;
    LmModel m;
    if (lm_create(&m, config, err, errlen) != 0)
        return -1;
    TrainConfig tc = train_defaults();
    tc.batch = batch, tc.context = context, tc.steps = 1 << 30, tc.quiet = 1;
    TrainData data = {NULL, random_batch};
    TrainStepper *stepper = train_stepper_open(&m, &tc, &data, ctx->seed, err, errlen);
    if (!stepper) {
        lm_destroy(&m);
        return -1;
    }
    results_run(results, p->run, config);
    results_metric_str(results, p->run, "op", "lm_training_step");
    results_metric(results, p->run, "batch", batch);
    results_metric(results, p->run, "seq_len", context);
    results_metric(results, p->run, "params", (double)m.n_params);
    results_metric_str(results, p->run, "torch_attention", p->sdpa ? "F.scaled_dot_product_attention" : "explicit");
    OpFlops fl = lm_flops(&m, batch, context);
    results_metric(results, p->run, "flops_forward", fl.forward);
    results_metric(results, p->run, "flops_backward", fl.backward);
    PairSide a = {"subq", sample_steps, stepper};
    TorchSide torch = {peer, "train"};
    PairSide b = {"torch", sample_torch, &torch};
    double *a_ms, *b_ms;
    PairStats st;
    int rc = pair_measure_sized(&a, &b, PAIR_MIN_ROUNDS, PEER_ROUND_SECONDS, &a_ms, &b_ms, &st, err, errlen);
    if (rc == 0) {
        char word[64];
        const double tokens = (double)batch * context;
        const double step_flops = fl.forward + fl.backward;
        record_phase(ctx, results, p->run, "train_step", (double[]){step_flops, step_flops}, &st, a_ms, b_ms);
        results_metric(results, p->run, "subq_tokens_per_s", tokens / (st.a.min_ms * 1e-3));
        results_metric(results, p->run, "torch_tokens_per_s", tokens / (st.b.min_ms * 1e-3));
        repro_log(ctx, "  %-22s %zu params  subq %.0f tok/s  torch %.0f tok/s  subq/torch %5.2fx [%.2f, %.2f] %s\n",
                  p->run, m.n_params, tokens / (st.a.min_ms * 1e-3), tokens / (st.b.min_ms * 1e-3), st.ratio,
                  st.ratio_low, st.ratio_high, pair_outcome_text(st.outcome, "subq", "torch", word, sizeof word));
    }
    free(a_ms);
    free(b_ms);
    train_stepper_close(stepper);
    lm_destroy(&m);
    return rc;
}

/* Hyena against SDPA at each length (runs hyena_vs_sdpa_L<L>), then at the root: the crossover, the shortest
 * length from which Hyena's forward+backward is faster at every longer length measured (outcome "subq faster":
 * the whole spread above 1), or its _why; and the speedup at the longest length. */
static int run_hyena_sdpa(const ReproContext *ctx, Results *results, PeerProc *peer, char *err, size_t errlen)
{
    const int smoke = ctx->profile == PROFILE_SMOKE, D = smoke ? 128 : 768, heads = smoke ? 4 : 12;
    const int *lengths = smoke ? hyena_sdpa_smoke_lengths : hyena_sdpa_lengths;
    const int n = smoke ? 2 : ctx->profile == PROFILE_PAPER ? 7 : HYENA_SDPA_DEFAULT;
    int cross = -1, rc = 0;
    PairStats st = {0};
    for (int i = 0; i < n && rc == 0; i++) {
        char run[64], config[128], torch_config[128];
        snprintf(run, sizeof run, "hyena_vs_sdpa_L%d", lengths[i]);
        snprintf(config, sizeof config, "d_model=%d,order=2,l_max=%d", D, lengths[i]);
        snprintf(torch_config, sizeof torch_config, "d_model=%d,n_heads=%d,impl=tiled", D, heads);
        PeerPoint p = {run, "hyena", config, lengths[i]};
        rc = run_point(ctx, results, peer, &p, &(PeerOther){"attention", torch_config}, &st, err, errlen);
        cross = st.outcome == PAIR_A_FASTER ? (cross < 0 ? i : cross) : -1;
    }
    if (rc != 0)
        return rc;
    results_root_metric(results, "hyena_vs_sdpa_longest_seq_len", lengths[n - 1]);
    results_root_metric(results, "speedup_hyena_vs_sdpa_at_longest", st.ratio);
    results_root_metric(results, "speedup_hyena_vs_sdpa_at_longest_low", st.ratio_low);
    results_root_metric(results, "speedup_hyena_vs_sdpa_at_longest_high", st.ratio_high);
    if (cross >= 0)
        results_root_metric(results, "crossover_seq_len_hyena_vs_sdpa", lengths[cross]);
    else {
        char why[128];
        snprintf(why, sizeof why, "hyena is not shown faster at the longest length measured, L=%d", lengths[n - 1]);
        results_root_str(results, "crossover_seq_len_hyena_vs_sdpa_why", why);
    }
    repro_log(ctx, "  hyena vs SDPA: %.2fx [%.2f, %.2f] at L=%d; crossover from L=%d\n", st.ratio, st.ratio_low,
              st.ratio_high, lengths[n - 1], cross >= 0 ? lengths[cross] : 0);
    return 0;
}

/* The peer's versions as root attributes: "info torch=2.x threads=2 mkl=1 mkldnn=1 blas=..." */
static int record_peer_info(const ReproContext *ctx, Results *results, PeerProc *peer, char *err, size_t errlen)
{
    char reply[1024];
    if (peerproc_request(peer, "info", reply, sizeof reply, err, errlen) != 0)
        return -1;
    char *save = NULL;
    for (char *tok = strtok_r(reply + 4, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char name[96];
        snprintf(name, sizeof name, "torch_%s", strcmp(tok, "torch") == 0 ? "version" : tok);
        results_root_str(results, name, eq + 1);
        repro_log(ctx, "  PyTorch peer: %s = %s\n", name, eq + 1);
    }
    return 0;
}

/* Every name of --points is a point of this profile (hyena_vs_sdpa: the whole length sweep). */
static int check_points(const ReproContext *ctx, const PeerPoint *pts, int n, char *err, size_t errlen)
{
    const int n_extra = ctx->profile == PROFILE_PAPER ? (int)(sizeof paper_extra_points / sizeof paper_extra_points[0]) : 0;
    for (const char *s = ctx->points; s && *s;) {
        char name[128];
        s = exp_list_next(s, name, sizeof name);
        int known = strcmp(name, "hyena_vs_sdpa") == 0;
        for (int i = 0; i < n + n_extra && !known; i++)
            known = strcmp(name, i < n ? pts[i].run : paper_extra_points[i - n].run) == 0;
        for (size_t i = 0; i < sizeof lm_points / sizeof lm_points[0] && !known; i++)
            known = strcmp(name, lm_points[i].run) == 0;
        if (!known) {
            snprintf(err, errlen, "--points: '%s' is not a peers point of the %s profile", name, ctx->profile_name);
            return -1;
        }
    }
    return 0;
}

int exp_peers(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    if (!exp_peer_python_ready()) {
        repro_log(ctx, "  PyTorch peer environment not found (%s): peers skipped; `make peers` installs it\n",
                  exp_peer_python());
        results_root_str(results, "skipped", "PyTorch peer environment absent; run `make peers`");
        return 0;
    }
    int smoke = ctx->profile == PROFILE_SMOKE;
    const PeerPoint *pts = smoke ? smoke_points : default_points;
    int n = smoke ? (int)(sizeof smoke_points / sizeof smoke_points[0])
                  : (int)(sizeof default_points / sizeof default_points[0]);
    if (check_points(ctx, pts, n, err, errlen) != 0)
        return -1;
    PeerProc *peer = peerproc_start(exp_peer_python(), PEER_SCRIPT, ctx->threads, err, errlen);
    if (!peer)
        return -1;
    results_root_metric(results, "load_average_before", results_load_average());
    results_root_metric(results, "rounds", PAIR_MIN_ROUNDS);
    results_root_str(results, "method", "alternating rounds (A B, B A, ...), ratio of minima, spread over rounds");
    int n_extra = ctx->profile == PROFILE_PAPER ? (int)(sizeof paper_extra_points / sizeof paper_extra_points[0]) : 0;
    const int n_lm = (int)(sizeof lm_points / sizeof lm_points[0]);
    char order[1024] = "";
    for (int i = 0; i < n + n_extra + n_lm; i++) /* HDF5 lists groups by name; the report keeps this order */
        snprintf(order + strlen(order), sizeof order - strlen(order), "%s%s", i ? "," : "",
                 i < n ? pts[i].run : i < n + n_extra ? paper_extra_points[i - n].run : lm_points[i - n - n_extra].run);
    results_root_str(results, "point_order", order);
    int rc = record_peer_info(ctx, results, peer, err, errlen);
    for (int i = 0; i < n + n_extra && rc == 0; i++) {
        const PeerPoint *p = i < n ? &pts[i] : &paper_extra_points[i - n];
        if (exp_point_selected(ctx, p->run))
            rc = run_point(ctx, results, peer, p, &(PeerOther){0}, &(PairStats){0}, err, errlen);
    }
    for (int i = 0; i < n_lm && rc == 0; i++)
        if (exp_point_selected(ctx, lm_points[i].run))
            rc = run_lm_point(ctx, results, peer, &lm_points[i], err, errlen);
    if (rc == 0 && exp_point_selected(ctx, "hyena_vs_sdpa")) /* one point: the crossover needs every length */
        rc = run_hyena_sdpa(ctx, results, peer, err, errlen);
    results_root_metric(results, "load_average_after", results_load_average());
    peerproc_stop(peer);
    return rc;
}

#include "benchop.h"

#include <stdio.h>
#include <string.h>

#include "opbuf.h"

typedef struct BenchCtx {
    const Op *op;
    OpBuffers *buf;
} BenchCtx;

static void forward_body(void *ctx)
{
    BenchCtx *c = ctx;
    opbuf_forward(c->op, c->buf);
}

static void training_body(void *ctx)
{
    BenchCtx *c = ctx;
    opbuf_forward(c->op, c->buf);
    opbuf_backward(c->op, c->buf);
}

static void fill_inputs(const Op *op, OpBuffers *buf, uint64_t seed)
{
    Rng rng;
    rng_init(&rng, seed);
    op_init(op, buf->params, &rng);
    rng_fill_normal(&rng, buf->x, buf->n_x, 0.0f, 1.0f);
    if (buf->dy)
        rng_fill_normal(&rng, buf->dy, buf->n_y, 0.0f, 1.0f);
}

BenchOpStatus benchop_open(BenchOpSession *s, const Op *op, int B, int L, int with_backward, size_t mem_limit,
                           uint64_t seed, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (op_check_shape(op, B, L, err, errlen) != 0)
        return BENCHOP_ERROR;
    size_t bytes = opbuf_bytes(op, B, L, with_backward);
    if (mem_limit && bytes > mem_limit) {
        snprintf(err, errlen, "%s at B=%d L=%d needs %.2f GiB, over the %.2f GiB limit", op->info->name, B, L,
                 (double)bytes / (1u << 30), (double)mem_limit / (1u << 30));
        return BENCHOP_TOO_BIG;
    }
    if (opbuf_alloc(&s->buf, op, B, L, with_backward, err, errlen) != 0)
        return BENCHOP_TOO_BIG; /* it fails only for memory */
    fill_inputs(op, &s->buf, seed);
    s->op = op;
    s->with_backward = with_backward;
    return BENCHOP_OK;
}

void benchop_sample(BenchOpSession *s, BenchOpPhase phase, int n, double *ms)
{
    BenchCtx ctx = {s->op, &s->buf};
    TimingBody body = phase == BENCHOP_TRAINING && s->with_backward ? training_body : forward_body;
    for (int i = 0; i < n; i++) {
        double t0 = timing_now_seconds();
        body(&ctx);
        ms[i] = 1e3 * (timing_now_seconds() - t0);
    }
}

void benchop_close(BenchOpSession *s)
{
    if (s->op)
        opbuf_free(&s->buf);
    memset(s, 0, sizeof *s);
}

BenchOpStatus benchop_run(const Op *op, int B, int L, int with_backward, const TimingPolicy *policy,
                          size_t mem_limit, uint64_t seed, BenchOpResult *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    timing_reset_peak_memory();
    BenchOpSession s;
    BenchOpStatus st = benchop_open(&s, op, B, L, with_backward, mem_limit, seed, err, errlen);
    if (st != BENCHOP_OK)
        return st;
    OpFlops flops = op_flops(op, B, L);
    out->flops_forward = flops.forward;
    out->flops_backward = flops.backward;
    out->buffer_bytes = opbuf_bytes(op, B, L, with_backward);
    BenchCtx ctx = {op, &s.buf};
    /* The first call at a shape plans its FFTs (FFTW_MEASURE) and faults in the buffers: the forward always
     * gets a warm-up, so a single-repetition policy times the operator, not the planner (the forward+backward
     * that follows runs warm). */
    TimingPolicy forward_policy = *policy;
    forward_policy.warmup = forward_policy.warmup < 1 ? 1 : forward_policy.warmup;
    timing_measure(forward_body, &ctx, &forward_policy, &out->forward);
    out->gflops_forward = flops.forward / (out->forward.median_ms * 1e6);
    if (with_backward) {
        timing_measure(training_body, &ctx, policy, &out->training);
        out->gflops_training = (flops.forward + flops.backward) / (out->training.median_ms * 1e6);
    }
    out->peak_bytes = timing_peak_memory_bytes();
    benchop_close(&s);
    return BENCHOP_OK;
}

#include "fff_infer.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gemm.h"

/* Vector erff/expf from libmvec, as in gelu.c, so the small activation loops vectorise. */
__attribute__((__simd__("notinbranch"))) float erff(float);
__attribute__((__simd__("notinbranch"))) float expf(float);

/* GCC's vector extension: 16 floats, one AVX-512 register (two AVX2 ones). The per-token kernels keep several
 * of them as independent accumulators, which the strict-IEEE auto-vectoriser will not do for a reduction.
 * vf16u is an unaligned, may_alias view of 16 floats for loads and stores. Vectors never cross a function
 * boundary (that would tie the code to one vector ABI). */
typedef float vf16 __attribute__((vector_size(64)));
typedef float vf16u __attribute__((vector_size(64), aligned(4), may_alias));
#define LOAD16(p) (*(const vf16u *)(p))
#define STORE16(p, v) (*(vf16u *)(p) = (v))

/* Sum of 16 lanes, pairwise: 4 dependent adds instead of 15. */
static inline float sum_lanes(float *t)
{
    for (int half = 8; half >= 1; half /= 2)
        for (int j = 0; j < half; j++)
            t[j] += t[j + half];
    return t[0];
}

/* ---- per-token kernels: plain loops, no OpenMP region, no BLAS ---- */

/* sum_i a[i] b[i] with four vector accumulators, so the FMA latency chain is n / 64 long. */
static float dot(const float *a, const float *b, int n)
{
    vf16 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    int i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 += LOAD16(a + i) * LOAD16(b + i);
        s1 += LOAD16(a + i + 16) * LOAD16(b + i + 16);
        s2 += LOAD16(a + i + 32) * LOAD16(b + i + 32);
        s3 += LOAD16(a + i + 48) * LOAD16(b + i + 48);
    }
    for (; i + 16 <= n; i += 16)
        s0 += LOAD16(a + i) * LOAD16(b + i);
    float lanes[16];
    STORE16(lanes, (s0 + s1) + (s2 + s3));
    float s = sum_lanes(lanes);
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* y (n) += alpha x (n) */
static void axpy(float *restrict y, float alpha, const float *restrict x, int n)
{
#pragma omp simd
    for (int i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

/* y (n) += alpha x[i stride]: a column of a row-major matrix */
static void axpy_strided(float *restrict y, float alpha, const float *restrict x, size_t stride, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += alpha * x[(size_t)i * stride];
}

static inline float gelu_scalar(float z) { return 0.5f * z * (1.0f + erff(z * (float)M_SQRT1_2)); }

/* d act / dz; GELU: Phi(z) + z phi(z). */
static inline float act_grad(int gelu, float z)
{
    if (!gelu)
        return z > 0.0f ? 1.0f : 0.0f;
    const float cdf = 0.5f * (1.0f + erff(z * (float)M_SQRT1_2));
    const float pdf = expf(-0.5f * z * z) * 0.3989422804014327f;
    return cdf + z * pdf;
}

static void act_small(int gelu, const float *h, float *a, int n)
{
    if (gelu) {
#pragma omp simd
        for (int i = 0; i < n; i++)
            a[i] = gelu_scalar(h[i]);
    } else {
#pragma omp simd
        for (int i = 0; i < n; i++)
            a[i] = h[i] > 0.0f ? h[i] : 0.0f;
    }
}

/* hidden (W) = b1 (W) + x (D) w1 (D, W) for W a multiple of 16: per 16 columns, eight rows of x in flight
 * (eight accumulators cover the FMA latency). */
static void leaf_hidden_tiles(const float *x, const float *w1, const float *b1, float *hidden, int D, int W)
{
    for (int w0 = 0; w0 < W; w0 += 16) {
        vf16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
        const float *col = w1 + w0;
        int k = 0;
#define FMA_ROW(acc, r) acc += x[k + r] * LOAD16(col + (size_t)(k + r) * W)
        for (; k + 8 <= D; k += 8) {
            FMA_ROW(a0, 0), FMA_ROW(a1, 1), FMA_ROW(a2, 2), FMA_ROW(a3, 3);
            FMA_ROW(a4, 4), FMA_ROW(a5, 5), FMA_ROW(a6, 6), FMA_ROW(a7, 7);
        }
        for (; k < D; k++)
            FMA_ROW(a0, 0);
#undef FMA_ROW
        STORE16(hidden + w0, LOAD16(b1 + w0) + (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))));
    }
}

/* hidden (W) = b1 (W) + x (D) w1 (D, W), any W: W dot products of stride W. */
static void leaf_hidden_any(const float *x, const float *w1, const float *b1, float *hidden, int D, int W)
{
    for (int w = 0; w < W; w++) {
        float s = 0.0f;
        for (int k = 0; k < D; k++)
            s += x[k] * w1[(size_t)k * W + w];
        hidden[w] = b1[w] + s;
    }
}

/* y (D) = b2 (D) + a (W) w2 (W, D): 64 outputs at a time held in four registers while the W rows stream by. */
static void leaf_output(const float *a, const float *w2, const float *b2, float *y, int D, int W)
{
    int o = 0;
    for (; o + 64 <= D; o += 64) {
        vf16 y0 = LOAD16(b2 + o), y1 = LOAD16(b2 + o + 16), y2 = LOAD16(b2 + o + 32), y3 = LOAD16(b2 + o + 48);
        for (int w = 0; w < W; w++) {
            const float *row = w2 + (size_t)w * D + o;
            y0 += a[w] * LOAD16(row), y1 += a[w] * LOAD16(row + 16);
            y2 += a[w] * LOAD16(row + 32), y3 += a[w] * LOAD16(row + 48);
        }
        STORE16(y + o, y0), STORE16(y + o + 16, y1), STORE16(y + o + 32, y2), STORE16(y + o + 48, y3);
    }
    for (; o < D; o++) {
        float s = b2[o];
        for (int w = 0; w < W; w++)
            s += a[w] * w2[(size_t)w * D + o];
        y[o] = s;
    }
}

#define PREFETCH_MAX_FLOATS 4096 /* 16 KB: four rows of D = 768, or the start of a stream the hardware continues */
#define PREFETCH_LEAF_FLOATS 1024 /* per candidate leaf and layer: enough to start its stream */

/* Asks for n floats from p (at most PREFETCH_MAX_FLOATS) ahead of use. */
static inline void prefetch_floats(const float *p, size_t n)
{
    n = n < PREFETCH_MAX_FLOATS ? n : PREFETCH_MAX_FLOATS;
    for (size_t i = 0; i < n; i += 16)
        __builtin_prefetch(p + i);
}

/* The descendants of node i at distance k are the contiguous rows 2^k i + 2^k - 1 .. 2^k i + 2^(k+1) - 2 (the
 * same holds per tree for ufb). Prefetches them for node `node` at level `level`: node rows, or the starts of
 * the leaves' weights when the distance reaches the leaves. */
static void prefetch_descendants(const FffConfig *cfg, const FffParams *p, size_t node, int level, int k)
{
    const int D = cfg->d_model, W = cfg->leaf_width, depth = cfg->depth;
    if (level + k > depth)
        return;
    const size_t span = (size_t)1 << k, first = span * node + span - 1;
    if (level + k < depth) {
        prefetch_floats(p->node_weights + first * D, span * D);
        return;
    }
    const size_t leaf0 = first - (((size_t)1 << depth) - 1), n = (size_t)D * W;
    for (size_t leaf = leaf0; leaf < leaf0 + span; leaf++) {
        prefetch_floats(p->w1s + leaf * n, n < PREFETCH_LEAF_FLOATS ? n : PREFETCH_LEAF_FLOATS);
        prefetch_floats(p->w2s + leaf * n, n < PREFETCH_LEAF_FLOATS ? n : PREFETCH_LEAF_FLOATS);
    }
}

/* Prefetches `rows` consecutive ufb neurons from `row`: their linear_in rows and, when packed, their output rows
 * (the strided columns are left to the hardware). */
static inline void ufb_prefetch(const FffParams *p, const float *packed, size_t row, size_t rows, int D)
{
    prefetch_floats(p->in_weight + row * D, rows * D);
    if (packed)
        prefetch_floats(packed + row * D, rows * D);
}

/* Hard descent (fastfeedforward fff.py eval_forward, lines 363-375) of `count` <= FFF_INFER_GROUP tokens x
 * (count, D) in lock step, level by level: d dot products per token; leaf (count) gets the leaf indices.
 * The tokens' dot products are independent, so their memory latencies overlap, and each token's next row is
 * prefetched as soon as its decision is known. A single token has no other work to hide behind: it prefetches
 * its grandchildren (children at the root), two levels ahead, while its own dot products run. */
static void route_group(const FffConfig *cfg, const FffParams *p, const float *x, int count, int32_t *leaf)
{
    const int D = cfg->d_model, depth = cfg->depth;
    int node[FFF_INFER_GROUP] = {0};
    for (int s = 0; s < depth; s++)
        for (int g = 0; g < count; g++) {
            if (count == 1 && s == 0)
                prefetch_descendants(cfg, p, 0, 0, 1);
            if (count == 1)
                prefetch_descendants(cfg, p, (size_t)node[g], s, 2);
            const float z = dot(x + (size_t)g * D, p->node_weights + (size_t)node[g] * D, D) + p->node_biases[node[g]];
            node[g] = 2 * node[g] + 1 + (z >= 0.0f);
            if (count > 1)
                prefetch_descendants(cfg, p, (size_t)node[g], s + 1, 0);
        }
    for (int g = 0; g < count; g++)
        leaf[g] = (int32_t)(node[g] - ((1 << depth) - 1));
}

/* One token through one leaf: hidden = x w1s[leaf] + b1s[leaf] (W), a = act(hidden),
 * y (D) = a w2s[leaf] + b2s[leaf] (the official eval_forward leaves out b2s; we do not). */
static void leaf_token(const FffConfig *cfg, const FffParams *p, int leaf, const float *x, float *y, float *hidden,
                       float *a)
{
    const int D = cfg->d_model, W = cfg->leaf_width;
    const float *w1 = p->w1s + (size_t)leaf * D * W, *b1 = p->b1s + (size_t)leaf * W;
    const float *w2 = p->w2s + (size_t)leaf * W * D, *b2 = p->b2s + (size_t)leaf * D;
    if (W == 1)
        hidden[0] = dot(x, w1, D) + b1[0];
    else if (W % 16 == 0)
        leaf_hidden_tiles(x, w1, b1, hidden, D, W);
    else
        leaf_hidden_any(x, w1, b1, hidden, D, W);
    act_small(fff_uses_gelu(cfg), hidden, a, W);
    leaf_output(a, w2, b2, y, D, W);
}

/* ---- saved tensors ---- */

typedef struct InferAct {
    float *leaf, *hidden, *a;  /* fff: (N), (N, W), (N, W) */
    float *node, *pre, *value; /* ufb: (N, P, d+1) each */
} InferAct;

static int ufb_path_len(const FffConfig *cfg) { return cfg->parallel_size * (cfg->depth + 1); }

static InferAct infer_act(const FffConfig *cfg, float *act, int N)
{
    float *base = act + FFF_ACT_HEADER;
    InferAct ia = {0};
    if (cfg->variant == FFF_VARIANT_UFB) {
        const size_t n = (size_t)N * ufb_path_len(cfg);
        ia.node = base, ia.pre = base + n, ia.value = base + 2 * n;
    } else {
        ia.leaf = base, ia.hidden = base + N, ia.a = base + N + (size_t)N * cfg->leaf_width;
    }
    return ia;
}

size_t fff_infer_act_floats(const FffConfig *cfg, int rows)
{
    if (cfg->variant == FFF_VARIANT_UFB)
        return FFF_ACT_HEADER + 3 * (size_t)rows * ufb_path_len(cfg);
    return FFF_ACT_HEADER + (size_t)rows * (1 + 2 * (size_t)cfg->leaf_width);
}

size_t fff_infer_workspace_floats(const FffConfig *cfg, int rows)
{
    if (cfg->variant == FFF_VARIANT_UFB) /* the packed copy, made per call when no plan is passed in */
        return rows >= FFF_INFER_PACK_MIN ? ws_floats_for(fff_infer_packed_floats(cfg)) : 0;
    const size_t N = (size_t)rows, D = (size_t)cfg->d_model, W = (size_t)cfg->leaf_width;
    size_t forward = 2 * ws_floats_for(N) + ws_floats_for((size_t)fff_n_leaves(cfg) + 1) + 2 * ws_floats_for(N * D) +
                     2 * ws_floats_for(N * W);
    size_t backward = 2 * ws_floats_for(W);
    return forward > backward ? forward : backward;
}

/* ---- variant fff ---- */

/* Counting sort of the tokens by leaf: order lists them leaf by leaf (stable), leaf i's tokens are
 * order[start[i] .. start[i+1]). */
static void group_by_leaf(const int32_t *leaf_of, int32_t *order, int32_t *start, int N, int Lf)
{
    memset(start, 0, ((size_t)Lf + 1) * sizeof *start);
    for (int n = 0; n < N; n++)
        start[leaf_of[n] + 1]++;
    for (int i = 0; i < Lf; i++)
        start[i + 1] += start[i];
    for (int n = 0; n < N; n++)
        order[start[leaf_of[n]]++] = n; /* start[i] advances to start[i+1] ... */
    for (int i = Lf; i > 0; i--)
        start[i] = start[i - 1]; /* ... so shift it back */
    start[0] = 0;
}

/* Staging buffers of the GEMM leaves: each leaf uses the rows of its own tokens' slots, so leaves running on
 * different threads never share one. */
typedef struct LeafStage {
    float *x, *hidden, *a, *y; /* (N, D), (N, W), (N, W), (N, D) */
} LeafStage;

/* The c tokens of one leaf as two small GEMMs: (c, D) x (D, W), then (c, W) x (W, D). */
static void leaf_gemm(const FffConfig *cfg, const FffParams *p, int leaf, const int32_t *tokens, int c,
                      const float *x, float *y, LeafStage st, const InferAct *ia)
{
    const int D = cfg->d_model, W = cfg->leaf_width;
    const float *w1 = p->w1s + (size_t)leaf * D * W, *b1 = p->b1s + (size_t)leaf * W;
    const float *w2 = p->w2s + (size_t)leaf * W * D, *b2 = p->b2s + (size_t)leaf * D;
    for (int r = 0; r < c; r++) {
        memcpy(st.x + (size_t)r * D, x + (size_t)tokens[r] * D, (size_t)D * sizeof(float));
        memcpy(st.hidden + (size_t)r * W, b1, (size_t)W * sizeof(float));
        memcpy(st.y + (size_t)r * D, b2, (size_t)D * sizeof(float));
    }
    gemm(false, false, c, W, D, 1.0f, st.x, D, w1, W, 1.0f, st.hidden, W);
    act_small(fff_uses_gelu(cfg), st.hidden, st.a, c * W);
    gemm(false, false, c, D, W, 1.0f, st.a, W, w2, D, 1.0f, st.y, D);
    for (int r = 0; r < c; r++) {
        const size_t n = (size_t)tokens[r];
        memcpy(y + n * D, st.y + (size_t)r * D, (size_t)D * sizeof(float));
        memcpy(ia->hidden + n * W, st.hidden + (size_t)r * W, (size_t)W * sizeof(float));
        memcpy(ia->a + n * W, st.a + (size_t)r * W, (size_t)W * sizeof(float));
    }
}

static void fff_infer_serial(const FffConfig *cfg, const FffParams *p, const float *x, float *y, const InferAct *ia,
                             int N)
{
    const int D = cfg->d_model, W = cfg->leaf_width;
    for (int n = 0; n < N; n++) {
        int32_t leaf;
        route_group(cfg, p, x + (size_t)n * D, 1, &leaf);
        ia->leaf[n] = (float)leaf;
        leaf_token(cfg, p, leaf, x + (size_t)n * D, y + (size_t)n * D, ia->hidden + (size_t)n * W,
                   ia->a + (size_t)n * W);
    }
}

static void fff_infer_batch(const FffConfig *cfg, const FffParams *p, const float *x, float *y, const InferAct *ia,
                            int N, Workspace *ws)
{
    const int D = cfg->d_model, W = cfg->leaf_width, Lf = fff_n_leaves(cfg);
    /* int scratch carved from the float arena (same size, and only ever accessed as int32_t) */
    int32_t *leaf_of = (int32_t *)ws_take(ws, N), *order = (int32_t *)ws_take(ws, N);
    int32_t *start = (int32_t *)ws_take(ws, (size_t)Lf + 1);
    LeafStage st = {ws_take(ws, (size_t)N * D), ws_take(ws, (size_t)N * W), ws_take(ws, (size_t)N * W),
                    ws_take(ws, (size_t)N * D)};
    const double route_work = (double)N * cfg->depth * D, leaf_work = 2.0 * N * W * D; /* multiply-adds */
#pragma omp parallel for schedule(static) if (route_work > FFF_INFER_PARALLEL_MIN)
    for (int g0 = 0; g0 < N; g0 += FFF_INFER_GROUP)
        route_group(cfg, p, x + (size_t)g0 * D, N - g0 < FFF_INFER_GROUP ? N - g0 : FFF_INFER_GROUP, leaf_of + g0);
    group_by_leaf(leaf_of, order, start, N, Lf);
#pragma omp parallel for schedule(dynamic, 16) if (leaf_work > FFF_INFER_PARALLEL_MIN)
    for (int leaf = 0; leaf < Lf; leaf++) {
        const int s = start[leaf], c = start[leaf + 1] - s;
        if (c == 0)
            continue;
        int next = leaf + 1; /* the next leaf with tokens, most likely this thread's next: start its streams */
        while (next < Lf && start[next + 1] == start[next])
            next++;
        if (next < Lf)
            prefetch_descendants(cfg, p, (size_t)next + (((size_t)1 << cfg->depth) - 1), cfg->depth, 0);
        if (c >= FFF_INFER_GEMM_MIN) {
            LeafStage mine = {st.x + (size_t)s * D, st.hidden + (size_t)s * W, st.a + (size_t)s * W,
                              st.y + (size_t)s * D};
            leaf_gemm(cfg, p, leaf, order + s, c, x, y, mine, ia);
            continue;
        }
        for (int r = s; r < s + c; r++) {
            const size_t n = (size_t)order[r];
            leaf_token(cfg, p, leaf, x + n * D, y + n * D, ia->hidden + n * W, ia->a + n * W);
        }
    }
    for (int n = 0; n < N; n++)
        ia->leaf[n] = (float)leaf_of[n];
}

/* ---- variant ufb ---- */

/* `count` <= FFF_INFER_GROUP tokens from row n0, in lock step as in route_group: per tree, d + 1 neurons down
 * the path (UltraFastBERT fff.py lines 33-55, only the path computed): z = linear_in row . x + bias,
 * y += act(z) linear_out column (a packed row when packed), next = 2 node + 1 + (z > 0). */
static void ufb_group(const FffConfig *cfg, const FffParams *p, const float *packed, const float *x, float *y,
                      const InferAct *ia, int n0, int count)
{
    const int D = cfg->d_model, Nn = fff_n_nodes(cfg), gelu = fff_uses_gelu(cfg), len = ufb_path_len(cfg);
    const size_t R = (size_t)cfg->parallel_size * Nn;
    memset(y + (size_t)n0 * D, 0, (size_t)count * D * sizeof *y);
    for (int t = 0; t < cfg->parallel_size; t++) {
        int node[FFF_INFER_GROUP] = {0};
        for (int s = 0; s <= cfg->depth; s++)
            for (int g = 0; g < count; g++) {
                const size_t n = (size_t)(n0 + g), row = (size_t)t * Nn + node[g];
                const size_t i = n * len + (size_t)t * (cfg->depth + 1) + s; /* slot in the saved path */
                if (count == 1 && s == 0) /* both children: rows t Nn + 1, + 2 */
                    ufb_prefetch(p, packed, (size_t)t * Nn + 1, 2, D);
                if (count == 1 && s + 2 <= cfg->depth) /* the four grandchildren: t Nn + 4 node + 3 .. + 6 */
                    ufb_prefetch(p, packed, (size_t)t * Nn + 4 * (size_t)node[g] + 3, 4, D);
                const float z = dot(x + n * D, p->in_weight + row * D, D) + p->in_bias[row];
                const float a = gelu ? gelu_scalar(z) : (z > 0.0f ? z : 0.0f);
                if (packed)
                    axpy(y + n * D, a, packed + row * D, D);
                else
                    axpy_strided(y + n * D, a, p->out_weight + row, R, D);
                ia->node[i] = (float)row, ia->pre[i] = z, ia->value[i] = a;
                node[g] = 2 * node[g] + 1 + (z > 0.0f);
                if (count > 1 && s < cfg->depth)
                    ufb_prefetch(p, packed, (size_t)t * Nn + node[g], 1, D);
            }
    }
}

static void ufb_infer(const FffConfig *cfg, const FffParams *p, const float *packed, const float *x, float *y,
                      const InferAct *ia, int N)
{
    if (N < FFF_INFER_BATCH_MIN) {
        for (int n = 0; n < N; n++)
            ufb_group(cfg, p, packed, x, y, ia, n, 1);
        return;
    }
    const double work = 2.0 * N * ufb_path_len(cfg) * cfg->d_model; /* multiply-adds */
#pragma omp parallel for schedule(static) if (work > FFF_INFER_PARALLEL_MIN)
    for (int g0 = 0; g0 < N; g0 += FFF_INFER_GROUP)
        ufb_group(cfg, p, packed, x, y, ia, g0, N - g0 < FFF_INFER_GROUP ? N - g0 : FFF_INFER_GROUP);
}

/* ---- entry points ---- */

size_t fff_infer_packed_floats(const FffConfig *cfg)
{
    if (cfg->variant != FFF_VARIANT_UFB)
        return 0;
    return (size_t)cfg->parallel_size * fff_n_nodes(cfg) * cfg->d_model;
}

void fff_infer_pack(const FffConfig *cfg, const float *params, float *packed)
{
    if (cfg->variant != FFF_VARIANT_UFB)
        return;
    FffParams p = fff_params(cfg, params);
    core_transpose(p.out_weight, packed, 1, cfg->d_model, cfg->parallel_size * fff_n_nodes(cfg)); /* (R, D) */
}

int fff_infer_route(const FffConfig *cfg, const float *params, const float *x)
{
    FffParams p = fff_params(cfg, params);
    int32_t leaf;
    route_group(cfg, &p, x, 1, &leaf);
    return leaf;
}

void fff_infer_forward(const FffConfig *cfg, const float *params, const float *packed, const float *x, float *y,
                       float *act, int rows, Workspace *ws)
{
    FffParams p = fff_params(cfg, params);
    InferAct ia = infer_act(cfg, act, rows);
    act[0] = 0.0f; /* no entropy at inference (the official module refuses to return one) */
    if (cfg->variant == FFF_VARIANT_UFB) {
        if (!packed && rows >= FFF_INFER_PACK_MIN) { /* enough tokens to pay for packing: see fff_infer.h */
            float *scratch = ws_take(ws, fff_infer_packed_floats(cfg));
            fff_infer_pack(cfg, params, scratch);
            packed = scratch;
        }
        ufb_infer(cfg, &p, packed, x, y, &ia, rows);
    }
    else if (rows < FFF_INFER_BATCH_MIN)
        fff_infer_serial(cfg, &p, x, y, &ia, rows);
    else
        fff_infer_batch(cfg, &p, x, y, &ia, rows, ws);
}

/* One token's leaf backward; da and dh are W floats of scratch. */
static void fff_leaf_backward(const FffConfig *cfg, const FffParams *p, const FffParams *g, int leaf,
                              const float *x, const float *hidden, const float *a, const float *dy, float *dx,
                              float *da, float *dh)
{
    const int D = cfg->d_model, W = cfg->leaf_width, gelu = fff_uses_gelu(cfg);
    const size_t w1_off = (size_t)leaf * D * W, w2_off = (size_t)leaf * W * D;
    axpy(g->b2s + (size_t)leaf * D, 1.0f, dy, D);
    for (int w = 0; w < W; w++) {
        da[w] = dot(p->w2s + w2_off + (size_t)w * D, dy, D);
        axpy(g->w2s + w2_off + (size_t)w * D, a[w], dy, D);
    }
    for (int w = 0; w < W; w++) {
        dh[w] = da[w] * act_grad(gelu, hidden[w]);
        g->b1s[(size_t)leaf * W + w] += dh[w];
    }
    for (int k = 0; k < D; k++) {
        const float *w1 = p->w1s + w1_off + (size_t)k * W;
        float *gw1 = g->w1s + w1_off + (size_t)k * W;
        float s = 0.0f;
        for (int w = 0; w < W; w++) {
            gw1[w] += x[k] * dh[w];
            s += w1[w] * dh[w];
        }
        dx[k] = s;
    }
}

/* One token's path backward (ufb): per path neuron, da = dy . linear_out column, dz = da act'(z). */
static void ufb_token_backward(const FffConfig *cfg, const FffParams *p, const FffParams *g, const float *x,
                               const float *node, const float *pre, const float *value, const float *dy, float *dx)
{
    const int D = cfg->d_model, len = ufb_path_len(cfg), gelu = fff_uses_gelu(cfg);
    const size_t R = (size_t)cfg->parallel_size * fff_n_nodes(cfg);
    memset(dx, 0, (size_t)D * sizeof *dx);
    for (int i = 0; i < len; i++) {
        const size_t row = (size_t)node[i];
        float da = 0.0f;
        for (int o = 0; o < D; o++) {
            da += p->out_weight[(size_t)o * R + row] * dy[o];
            g->out_weight[(size_t)o * R + row] += value[i] * dy[o];
        }
        const float dz = da * act_grad(gelu, pre[i]);
        axpy(g->in_weight + row * D, dz, x, D);
        g->in_bias[row] += dz;
        axpy(dx, dz, p->in_weight + row * D, D);
    }
}

/* Serial over tokens: tokens that share a leaf or a neuron accumulate into the same gradients. */
void fff_infer_backward(const FffConfig *cfg, const float *params, const float *x, const float *act,
                        const float *dy, float *dx, float *dparams, int rows, Workspace *ws)
{
    const int D = cfg->d_model, W = cfg->leaf_width;
    FffParams p = fff_params(cfg, params), g = fff_params(cfg, dparams);
    InferAct ia = infer_act(cfg, (float *)act, rows);
    if (cfg->variant == FFF_VARIANT_UFB) {
        const int len = ufb_path_len(cfg);
        for (int n = 0; n < rows; n++) {
            const size_t o = (size_t)n * len;
            ufb_token_backward(cfg, &p, &g, x + (size_t)n * D, ia.node + o, ia.pre + o, ia.value + o,
                               dy + (size_t)n * D, dx + (size_t)n * D);
        }
        return;
    }
    float *da = ws_take(ws, (size_t)W), *dh = ws_take(ws, (size_t)W);
    for (int n = 0; n < rows; n++)
        fff_leaf_backward(cfg, &p, &g, (int)ia.leaf[n], x + (size_t)n * D, ia.hidden + (size_t)n * W,
                          ia.a + (size_t)n * W, dy + (size_t)n * D, dx + (size_t)n * D, da, dh);
}

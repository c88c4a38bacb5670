#include "fff.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fff_infer.h"
#include "gelu.h"
#include "gemm.h"

/* Vector expf/logf from glibc's libmvec, as in gelu.c: lets the per-node loops vectorise. */
__attribute__((__simd__("notinbranch"))) float expf(float);
__attribute__((__simd__("notinbranch"))) float logf(float);

const ConfigField fff_config_fields[] = {
    {"d_model", CONFIG_INT, offsetof(FffConfig, d_model), "64", NULL, "model width D (input = output)"},
    {"depth", CONFIG_INT, offsetof(FffConfig, depth), "3", NULL,
     "tree depth d: 2^d leaves (fff), 2^(d+1) - 1 neurons per tree (ufb)"},
    {"leaf_width", CONFIG_INT, offsetof(FffConfig, leaf_width), "8", NULL, "hidden width W of each leaf (fff)"},
    {"activation", CONFIG_ENUM, offsetof(FffConfig, activation), "auto", "auto|relu|gelu",
     "leaf or neuron activation; auto = relu (fff), gelu (ufb)"},
    {"variant", CONFIG_ENUM, offsetof(FffConfig, variant), "fff", "fff|ufb",
     "fastfeedforward FFF or UltraFastBERT FFF"},
    {"mode", CONFIG_ENUM, offsetof(FffConfig, mode), "train", "train|infer",
     "soft mixture of all leaves (train) or hard descent to one leaf (infer)"},
    {"region_leak", CONFIG_FLOAT, offsetof(FffConfig, region_leak), "0", NULL,
     "probability of swapping a node's children (fff, train)"},
    {"seed", CONFIG_INT, offsetof(FffConfig, seed), "0", NULL, "seed of the region_leak swaps"},
    {"parallel_size", CONFIG_INT, offsetof(FffConfig, parallel_size), "1", NULL, "number of trees P (ufb)"},
};
const int fff_config_field_count = sizeof fff_config_fields / sizeof fff_config_fields[0];

/* ---- the variant ---- */

static bool is_ufb(const FffConfig *cfg) { return cfg->variant == FFF_VARIANT_UFB; }

/* ---- configuration and parameters ---- */

static double param_count(const FffConfig *cfg)
{
    const double D = cfg->d_model;
    if (is_ufb(cfg))
        return (double)fff_ufb_neurons(cfg) * (2.0 * D + 1.0);
    const double K = fff_n_nodes(cfg), Lf = fff_n_leaves(cfg), LW = Lf * cfg->leaf_width;
    return K * (D + 1.0) + LW * (2.0 * D + 1.0) + Lf * D;
}

int fff_validate(const FffConfig *cfg, char *err, size_t errlen)
{
    const int min_depth = is_ufb(cfg) ? 0 : 1;
    if (cfg->d_model < 1 || cfg->leaf_width < 1 || cfg->parallel_size < 1) {
        snprintf(err, errlen, "fff: need d_model, leaf_width and parallel_size >= 1");
        return -1;
    }
    if (cfg->depth < min_depth || cfg->depth > FFF_MAX_DEPTH) {
        snprintf(err, errlen, "fff: depth must be in [%d, %d] for variant=%s, got %d", min_depth, FFF_MAX_DEPTH,
                 is_ufb(cfg) ? "ufb" : "fff", cfg->depth);
        return -1;
    }
    if (!(cfg->region_leak >= 0.0f && cfg->region_leak <= 1.0f)) {
        snprintf(err, errlen, "fff: region_leak must be in [0, 1], got %g", (double)cfg->region_leak);
        return -1;
    }
    if (is_ufb(cfg) && cfg->region_leak != 0.0f) {
        snprintf(err, errlen, "fff: region_leak applies to variant=fff only");
        return -1;
    }
    if (!is_ufb(cfg) && cfg->parallel_size != 1) {
        snprintf(err, errlen, "fff: parallel_size applies to variant=ufb only");
        return -1;
    }
    if (param_count(cfg) > (double)INT_MAX) {
        snprintf(err, errlen, "fff: %.3g parameters is more than this operator supports (%d)", param_count(cfg),
                 INT_MAX);
        return -1;
    }
    return 0;
}

int fff_param_specs(const FffConfig *cfg, ParamSpec *out)
{
    const int D = cfg->d_model;
    if (is_ufb(cfg)) {
        const int R = (int)fff_ufb_neurons(cfg);
        size_t off = core_spec(&out[0], "linear_in.weight", 0, 2, (int[]){R, D});
        off = core_spec(&out[1], "linear_in.bias", off, 1, (int[]){R});
        core_spec(&out[2], "linear_out.weight", off, 2, (int[]){D, R});
        return 3;
    }
    const int K = fff_n_nodes(cfg), Lf = fff_n_leaves(cfg), W = cfg->leaf_width;
    size_t off = core_spec(&out[0], "node_weights", 0, 2, (int[]){K, D});
    off = core_spec(&out[1], "node_biases", off, 2, (int[]){K, 1});
    off = core_spec(&out[2], "w1s", off, 3, (int[]){Lf, D, W});
    off = core_spec(&out[3], "b1s", off, 2, (int[]){Lf, W});
    off = core_spec(&out[4], "w2s", off, 3, (int[]){Lf, W, D});
    core_spec(&out[5], "b2s", off, 2, (int[]){Lf, D});
    return 6;
}

size_t fff_num_params(const FffConfig *cfg)
{
    ParamSpec specs[6];
    return core_spec_total(specs, fff_param_specs(cfg, specs));
}

/* Official bounds (fastfeedforward fff.py lines 103-111; UltraFastBERT fff.py lines 19-23), drawn in
 * parameter order. */
void fff_init(const FffConfig *cfg, float *params, Rng *rng)
{
    const size_t D = (size_t)cfg->d_model;
    FffParams p = fff_params(cfg, params);
    if (is_ufb(cfg)) {
        const size_t R = fff_ufb_neurons(cfg);
        const float in_bound = (float)sqrt(1.0 / (double)D);
        const float out_bound = (float)sqrt(1.0 / ((cfg->depth + 1.0) * cfg->parallel_size));
        rng_fill_uniform(rng, p.in_weight, R * D + R, -in_bound, in_bound); /* weight and bias */
        rng_fill_uniform(rng, p.out_weight, D * R, -out_bound, out_bound);
        return;
    }
    const size_t K = (size_t)fff_n_nodes(cfg), LW = fff_leaf_hidden(cfg), Lf = (size_t)fff_n_leaves(cfg);
    const float l1 = (float)(1.0 / sqrt((double)D)), l2 = (float)(1.0 / sqrt((double)cfg->leaf_width));
    rng_fill_uniform(rng, p.node_weights, K * D + K + LW * D + LW, -l1, l1); /* node_*, w1s, b1s */
    rng_fill_uniform(rng, p.w2s, LW * D + Lf * D, -l2, l2);                  /* w2s, b2s */
}

/* ---- training mode: saved tensors and sizes ---- */

typedef struct TrainAct {
    float *prob, *mix, *hidden, *leaf_act; /* fff: (N, K), (N, Lf), (N, Lf W), (N, Lf W) */
    float *pre, *masked;                   /* ufb: (N, R) each */
} TrainAct;

static TrainAct train_act(const FffConfig *cfg, const float *act, int N)
{
    float *base = (float *)act + FFF_ACT_HEADER;
    TrainAct a = {0};
    if (is_ufb(cfg)) {
        a.pre = base, a.masked = base + (size_t)N * fff_ufb_neurons(cfg);
        return a;
    }
    const size_t K = (size_t)fff_n_nodes(cfg), Lf = (size_t)fff_n_leaves(cfg), LW = fff_leaf_hidden(cfg);
    a.prob = base;
    a.mix = a.prob + (size_t)N * K;
    a.hidden = a.mix + (size_t)N * Lf;
    a.leaf_act = a.hidden + (size_t)N * LW;
    return a;
}

size_t fff_act_floats(const FffConfig *cfg, int B, int L)
{
    const size_t N = (size_t)B * L;
    if (cfg->mode == FFF_MODE_INFER)
        return fff_infer_act_floats(cfg, (int)N);
    if (is_ufb(cfg))
        return FFF_ACT_HEADER + 2 * N * fff_ufb_neurons(cfg);
    return FFF_ACT_HEADER + N * (fff_n_nodes(cfg) + fff_n_leaves(cfg) + 2 * fff_leaf_hidden(cfg));
}

size_t fff_workspace_floats(const FffConfig *cfg, int B, int L)
{
    const size_t N = (size_t)B * L, D = (size_t)cfg->d_model;
    if (cfg->mode == FFF_MODE_INFER)
        return fff_infer_workspace_floats(cfg, (int)N);
    if (is_ufb(cfg))
        return ws_floats_for(N * fff_ufb_neurons(cfg)); /* backward: gradient of the masked activations */
    const size_t LW = fff_leaf_hidden(cfg), transposed = cfg->leaf_width > 1 ? ws_floats_for(LW * D) : 0;
    size_t forward = transposed + ws_floats_for(N * LW);
    size_t backward = 2 * ws_floats_for(N * LW) + ws_floats_for(N * fff_n_leaves(cfg)) +
                      ws_floats_for(N * fff_n_nodes(cfg)) + 2 * transposed;
    return forward > backward ? forward : backward;
}

float fff_mean_entropy(const FffConfig *cfg, const float *act)
{
    return (is_ufb(cfg) || cfg->mode != FFF_MODE_TRAIN) ? 0.0f : act[0];
}

/* ---- variant fff, training mode ---- */

/* Node's boundary effect for one token: p, or 1 - p when region_leak swaps its children (fff.py line 229). */
static inline float boundary(const FffConfig *cfg, const float *prob, int64_t row, int node)
{
    return fff_leak_swaps(cfg, row, node) ? 1.0f - prob[node] : prob[node];
}

/* compute_entropy_safe (fff.py lines 7-27): b and 1 - b clamped separately, in float32. */
static inline float entropy_of(float b, float not_b)
{
    const float lo = (float)FFF_ENTROPY_EPSILON, hi = (float)(1.0 - FFF_ENTROPY_EPSILON);
    b = b < lo ? lo : (b > hi ? hi : b);
    not_b = not_b < lo ? lo : (not_b > hi ? hi : not_b);
    return -b * logf(b) - not_b * logf(not_b);
}

/* d entropy_of(b, 1 - b) / db; the clamps pass the gradient on [lo, hi] only (torch.clamp). */
static inline float entropy_grad(float b)
{
    const float lo = (float)FFF_ENTROPY_EPSILON, hi = (float)(1.0 - FFF_ENTROPY_EPSILON);
    const float not_b = 1.0f - b;
    float g = 0.0f;
    if (b >= lo && b <= hi)
        g += -logf(b) - 1.0f;
    if (not_b >= lo && not_b <= hi)
        g += logf(not_b) + 1.0f;
    return g;
}

/* One token's soft routing (fff.py lines 214-249). prob (K): node logits in, sigmoid out; mix (Lf): the leaf
 * weights, multiplied level by level by (1 - b) on left halves and b on right halves. Returns the summed
 * node entropies. */
static double soft_route_token(const FffConfig *cfg, float *prob, float *mix, int64_t row)
{
    const int K = fff_n_nodes(cfg), Lf = fff_n_leaves(cfg);
#pragma omp simd
    for (int j = 0; j < K; j++)
        prob[j] = 1.0f / (1.0f + expf(-prob[j]));
    for (int i = 0; i < Lf; i++)
        mix[i] = 1.0f;
    double entropy = 0.0;
    for (int level = 0; level < cfg->depth; level++) {
        const int first = (1 << level) - 1, span = Lf >> level, half = span / 2;
        for (int j = 0; j < (1 << level); j++) {
            const float b = boundary(cfg, prob, row, first + j), not_b = 1.0f - b;
            entropy += entropy_of(b, not_b);
            float *m = mix + (size_t)j * span;
#pragma omp simd
            for (int i = 0; i < half; i++)
                m[i] *= not_b;
#pragma omp simd
            for (int i = half; i < span; i++)
                m[i] *= b;
        }
    }
    return entropy;
}

/* Backward of soft_route_token for one token. q (Lf): dL/dmix in, destroyed (it becomes, level by level, the
 * subtree sums Q(c) = sum over leaves i under c of dL/dM_i times the factors below c). dz (K): dL/dlogit out;
 * before that it holds the mass reaching each node, P(j). dL/db_j = P(j) (Q(right) - Q(left)). */
static void soft_route_backward_token(const FffConfig *cfg, const float *prob, float *q, float *dz, int64_t row,
                                      float h_scale)
{
    const int d = cfg->depth;
    dz[0] = 1.0f;
    for (int node = 0; node < (1 << (d - 1)) - 1; node++) { /* levels 0 .. d-2, parents first */
        const float b = boundary(cfg, prob, row, node);
        dz[2 * node + 1] = dz[node] * (1.0f - b);
        dz[2 * node + 2] = dz[node] * b;
    }
    for (int level = d - 1; level >= 0; level--) {
        const int first = (1 << level) - 1;
        for (int j = 0; j < (1 << level); j++) {
            const int node = first + j;
            const float b = boundary(cfg, prob, row, node), diff = q[2 * j + 1] - q[2 * j];
            float db = dz[node] * diff;
            q[j] = q[2 * j] + b * diff; /* = (1 - b) Q(left) + b Q(right); in place: j <= 2j */
            if (h_scale != 0.0f)
                db += h_scale * entropy_grad(b);
            const float dp = fff_leak_swaps(cfg, row, node) ? -db : db, p = prob[node];
            dz[node] = dp * (1.0f - p) * p;
        }
    }
}

/* g (N, Lf, W) = M (N, Lf) broadcast over W, times A. */
static void weight_by_mixture(const float *mix, const float *leaf_act, float *g, int N, int Lf, int W)
{
    const size_t cells = (size_t)N * Lf;
#pragma omp parallel for schedule(static) if (cells * W > FFF_PARALLEL_MIN)
    for (size_t c = 0; c < cells; c++)
        for (int w = 0; w < W; w++)
            g[c * W + w] = mix[c] * leaf_act[c * W + w];
}

/* The leaves' first layer as one Linear of Lf W outputs: weight (Lf W, D). For W = 1, w1s (Lf, D, 1) already
 * is that matrix; otherwise each leaf's (D, W) block is transposed into the workspace. */
static const float *leaf_in_weight(const FffConfig *cfg, const float *w1s, Workspace *ws)
{
    if (cfg->leaf_width == 1)
        return w1s;
    float *t = ws_take(ws, fff_leaf_hidden(cfg) * cfg->d_model);
    core_transpose(w1s, t, fff_n_leaves(cfg), cfg->d_model, cfg->leaf_width);
    return t;
}

static void fff_train_forward(const FffConfig *cfg, const float *params, const float *x, float *y, float *act,
                              int N, Workspace *ws)
{
    const int D = cfg->d_model, K = fff_n_nodes(cfg), Lf = fff_n_leaves(cfg), LW = (int)fff_leaf_hidden(cfg);
    FffParams p = fff_params(cfg, params);
    TrainAct a = train_act(cfg, act, N);
    gemm_linear_forward(x, p.node_weights, p.node_biases, a.prob, N, D, K); /* node logits (N, K) */
    double entropy = 0.0;
#pragma omp parallel for reduction(+ : entropy) schedule(static) if ((size_t)N * Lf > FFF_PARALLEL_MIN)
    for (int n = 0; n < N; n++)
        entropy += soft_route_token(cfg, a.prob + (size_t)n * K, a.mix + (size_t)n * Lf, n);
    act[0] = (float)(entropy / ((double)N * K));

    gemm_linear_forward(x, leaf_in_weight(cfg, p.w1s, ws), p.b1s, a.hidden, N, D, LW); /* (N, Lf W) */
    fff_activation(cfg, a.hidden, a.leaf_act, (size_t)N * LW);
    float *g = ws_take(ws, (size_t)N * LW);
    weight_by_mixture(a.mix, a.leaf_act, g, N, Lf, cfg->leaf_width);
    /* y = sum_i M_i (A_i w2s[i] + b2s[i]) = (M A) w2s_flat + M b2s */
    gemm(false, false, N, D, LW, 1.0f, g, LW, p.w2s, D, 0.0f, y, D);
    gemm(false, false, N, D, Lf, 1.0f, a.mix, Lf, p.b2s, D, 1.0f, y, D);
}

/* e (N, Lf, W) holds dL/d(M A) / M = dy w2s^T on entry: adds sum_w A e to dmix (N, Lf) and leaves dL/dA. */
static void mixture_backward(const TrainAct *a, float *e, float *dmix, int N, int Lf, int W)
{
    const size_t cells = (size_t)N * Lf;
#pragma omp parallel for schedule(static) if (cells * W > FFF_PARALLEL_MIN)
    for (size_t c = 0; c < cells; c++) {
        float s = 0.0f;
        for (int w = 0; w < W; w++) {
            s += a->leaf_act[c * W + w] * e[c * W + w];
            e[c * W + w] *= a->mix[c];
        }
        dmix[c] += s;
    }
}

/* Backward of the leaves' first layer: dx = dh w1^T (written), dw1s and db1s accumulated. */
static void leaf_in_backward(const FffConfig *cfg, const FffParams *p, const FffParams *g, const float *x,
                             const float *dh, float *dx, int N, Workspace *ws)
{
    const int D = cfg->d_model, Lf = fff_n_leaves(cfg), W = cfg->leaf_width, LW = Lf * W;
    if (W == 1) {
        gemm_linear_backward_input(dh, p->w1s, dx, N, D, LW, 0.0f);
        gemm_linear_backward_params(dh, x, g->w1s, g->b1s, N, D, LW);
        return;
    }
    const size_t n = (size_t)LW * D;
    float *t = ws_take(ws, n), *dt = ws_take(ws, n);
    core_transpose(p->w1s, t, Lf, D, W); /* (Lf, W, D) */
    gemm_linear_backward_input(dh, t, dx, N, D, LW, 0.0f);
    memset(dt, 0, n * sizeof *dt);
    gemm_linear_backward_params(dh, x, dt, g->b1s, N, D, LW); /* d of the (Lf, W, D) weight */
    core_transpose(dt, t, Lf, W, D);                          /* back to (Lf, D, W) */
#pragma omp parallel for simd schedule(static) if (parallel : n > FFF_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        g->w1s[i] += t[i];
}

static void fff_train_backward(const FffConfig *cfg, const float *params, const float *x, const float *act,
                               const float *dy, float *dx, float *dparams, int N, float h, Workspace *ws)
{
    const int D = cfg->d_model, K = fff_n_nodes(cfg), Lf = fff_n_leaves(cfg), LW = (int)fff_leaf_hidden(cfg);
    FffParams p = fff_params(cfg, params), g = fff_params(cfg, dparams);
    TrainAct a = train_act(cfg, act, N);
    float *gm = ws_take(ws, (size_t)N * LW), *e = ws_take(ws, (size_t)N * LW);
    float *dmix = ws_take(ws, (size_t)N * Lf), *dz = ws_take(ws, (size_t)N * K);
    weight_by_mixture(a.mix, a.leaf_act, gm, N, Lf, cfg->leaf_width);
    gemm(true, false, LW, D, N, 1.0f, gm, LW, dy, D, 1.0f, g.w2s, D);    /* dw2s += (M A)^T dy */
    gemm(true, false, Lf, D, N, 1.0f, a.mix, Lf, dy, D, 1.0f, g.b2s, D); /* db2s += M^T dy */
    gemm(false, true, N, LW, D, 1.0f, dy, D, p.w2s, D, 0.0f, e, LW);     /* e = dy w2s^T */
    gemm(false, true, N, Lf, D, 1.0f, dy, D, p.b2s, D, 0.0f, dmix, Lf);  /* dmix = dy b2s^T + ... */
    mixture_backward(&a, e, dmix, N, Lf, cfg->leaf_width);
    fff_activation_backward(cfg, a.hidden, e, e, (size_t)N * LW);
    leaf_in_backward(cfg, &p, &g, x, e, dx, N, ws);

    const float h_scale = (float)((double)h / ((double)N * K)); /* d (h mean entropy) / d H_nj */
#pragma omp parallel for schedule(static) if ((size_t)N * Lf > FFF_PARALLEL_MIN)
    for (int n = 0; n < N; n++)
        soft_route_backward_token(cfg, a.prob + (size_t)n * K, dmix + (size_t)n * Lf, dz + (size_t)n * K, n,
                                  h_scale);
    gemm_linear_backward_params(dz, x, g.node_weights, g.node_biases, N, D, K);
    gemm_linear_backward_input(dz, p.node_weights, dx, N, D, K, 1.0f);
}

/* ---- variant ufb, training mode (UltraFastBERT fff.py lines 27-58) ---- */

/* The d + 1 nodes one tree's path visits: from node 0, node = 2 node + 1 + (z[node] > 0). */
static int ufb_path(const float *z, int depth, int *nodes)
{
    int node = 0;
    nodes[0] = 0;
    for (int s = 1; s <= depth; s++) {
        node = 2 * node + 1 + (z[node] > 0.0f);
        nodes[s] = node;
    }
    return depth + 1;
}

/* Zeroes the entries of values (R) off the token's paths (the routes are read from its pre-activations z).
 * Equal to the official multiplication by the 0/1 decision map. */
static void ufb_mask_token(const FffConfig *cfg, const float *z, float *values)
{
    const int Nn = fff_n_nodes(cfg);
    for (int t = 0; t < cfg->parallel_size; t++) {
        int nodes[FFF_MAX_DEPTH + 1];
        float kept[FFF_MAX_DEPTH + 1];
        float *v = values + (size_t)t * Nn;
        const int count = ufb_path(z + (size_t)t * Nn, cfg->depth, nodes);
        for (int s = 0; s < count; s++)
            kept[s] = v[nodes[s]];
        memset(v, 0, (size_t)Nn * sizeof *v);
        for (int s = 0; s < count; s++)
            v[nodes[s]] = kept[s];
    }
}

static void ufb_train_forward(const FffConfig *cfg, const float *params, const float *x, float *y, float *act,
                              int N)
{
    const int D = cfg->d_model, R = (int)fff_ufb_neurons(cfg);
    FffParams p = fff_params(cfg, params);
    TrainAct a = train_act(cfg, act, N);
    gemm_linear_forward(x, p.in_weight, p.in_bias, a.pre, N, D, R); /* z (N, R) */
    fff_activation(cfg, a.pre, a.masked, (size_t)N * R);
#pragma omp parallel for schedule(static) if ((size_t)N * R > FFF_PARALLEL_MIN)
    for (int n = 0; n < N; n++)
        ufb_mask_token(cfg, a.pre + (size_t)n * R, a.masked + (size_t)n * R);
    gemm_linear_forward(a.masked, p.out_weight, NULL, y, N, R, D);
    act[0] = 0.0f;
}

static void ufb_train_backward(const FffConfig *cfg, const float *params, const float *x, const float *act,
                               const float *dy, float *dx, float *dparams, int N, Workspace *ws)
{
    const int D = cfg->d_model, R = (int)fff_ufb_neurons(cfg);
    FffParams p = fff_params(cfg, params), g = fff_params(cfg, dparams);
    TrainAct a = train_act(cfg, act, N);
    float *dm = ws_take(ws, (size_t)N * R); /* (N, R) */
    gemm_linear_backward_params(dy, a.masked, g.out_weight, NULL, N, R, D);
    gemm_linear_backward_input(dy, p.out_weight, dm, N, R, D, 0.0f);
#pragma omp parallel for schedule(static) if ((size_t)N * R > FFF_PARALLEL_MIN)
    for (int n = 0; n < N; n++)
        ufb_mask_token(cfg, a.pre + (size_t)n * R, dm + (size_t)n * R); /* the mask passes gradient on paths */
    fff_activation_backward(cfg, a.pre, dm, dm, (size_t)N * R);
    gemm_linear_backward_params(dm, x, g.in_weight, g.in_bias, N, D, R);
    gemm_linear_backward_input(dm, p.in_weight, dx, N, D, R, 0.0f);
}

/* ---- entry points ---- */

void fff_forward(const FffConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws)
{
    const int N = B * L;
    if (cfg->mode == FFF_MODE_INFER)
        fff_infer_forward(cfg, params, NULL, x, y, act, N, ws);
    else if (is_ufb(cfg))
        ufb_train_forward(cfg, params, x, y, act, N);
    else
        fff_train_forward(cfg, params, x, y, act, N, ws);
}

void fff_backward_hardening(const FffConfig *cfg, const float *params, const float *x, const float *act,
                            const float *dy, float *dx, float *dparams, int B, int L, float h, Workspace *ws)
{
    const int N = B * L;
    if (cfg->mode == FFF_MODE_INFER)
        fff_infer_backward(cfg, params, x, act, dy, dx, dparams, N, ws);
    else if (is_ufb(cfg))
        ufb_train_backward(cfg, params, x, act, dy, dx, dparams, N, ws);
    else
        fff_train_backward(cfg, params, x, act, dy, dx, dparams, N, h, ws);
}

void fff_backward(const FffConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws)
{
    fff_backward_hardening(cfg, params, x, act, dy, dx, dparams, B, L, 0.0f, ws);
}

/* Per-token counts; see the table in fff.h. */
static OpFlops fff_flops_per_token(const FffConfig *cfg)
{
    const double D = cfg->d_model, d = cfg->depth, af = fff_activation_flops(cfg);
    const double ab = fff_activation_backward_flops(cfg);
    if (is_ufb(cfg)) {
        const double R = (double)fff_ufb_neurons(cfg), path = cfg->parallel_size * (d + 1.0);
        if (cfg->mode == FFF_MODE_INFER)
            return (OpFlops){path * (4.0 * D + 1.0 + af), path * (8.0 * D + 1.0 + ab)};
        return (OpFlops){R * (2.0 * D + 1.0) + af * R + R + 2.0 * R * D, 8.0 * R * D + 2.0 * R + ab * R};
    }
    const double W = cfg->leaf_width, K = fff_n_nodes(cfg), Lf = fff_n_leaves(cfg), LW = Lf * W;
    if (cfg->mode == FFF_MODE_INFER)
        return (OpFlops){d * (2.0 * D + 1.0) + W * (2.0 * D + 1.0) + af * W + D * (2.0 * W + 1.0),
                         8.0 * W * D + D + W + ab * W};
    const double routing = K * (2.0 * D + 1.0) + FFF_SIGMOID_FLOPS * K + K + (FFF_ENTROPY_FLOPS + 1.0) * K + d * Lf;
    const double leaves = LW * (2.0 * D + 1.0) + af * LW + LW + 2.0 * LW * D + 2.0 * Lf * D;
    const double upper_nodes = ldexp(1.0, cfg->depth - 1) - 1.0; /* levels 0 .. d-2 */
    const double backward = 8.0 * LW * D + 4.0 * Lf * D + (5.0 + ab) * LW + 7.0 * K + 3.0 * upper_nodes +
                            4.0 * K * D + K;
    return (OpFlops){routing + leaves, backward};
}

OpFlops fff_flops(const FffConfig *cfg, int B, int L)
{
    const double N = (double)B * L;
    OpFlops t = fff_flops_per_token(cfg);
    const double mean_entropy = (!is_ufb(cfg) && cfg->mode == FFF_MODE_TRAIN) ? 1.0 : 0.0; /* the division */
    return (OpFlops){N * t.forward + mean_entropy, N * t.backward};
}

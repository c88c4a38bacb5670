#include "moe.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gelu.h"
#include "gemm.h"
#include "linear.h"

const ConfigField moe_config_fields[] = {
    {"d_model", CONFIG_INT, offsetof(MoeConfig, d_model), "64", NULL, "model width D"},
    {"n_experts", CONFIG_INT, offsetof(MoeConfig, n_experts), "8", NULL, "number of experts E"},
    {"top_k", CONFIG_INT, offsetof(MoeConfig, top_k), "2", NULL, "experts per token k"},
    {"d_hidden", CONFIG_INT, offsetof(MoeConfig, d_hidden), "64", NULL, "hidden width H of each expert"},
    {"activation", CONFIG_ENUM, offsetof(MoeConfig, activation), "relu", "relu|gelu", "expert activation"},
    {"mode", CONFIG_ENUM, offsetof(MoeConfig, mode), "train", "train|infer", "infer: gating without noise"},
    {"noise", CONFIG_INT, offsetof(MoeConfig, noise), "1", NULL, "1: noisy top-k gating in mode=train"},
    {"capacity_factor", CONFIG_FLOAT, offsetof(MoeConfig, capacity_factor), "0", NULL,
     "each expert takes at most ceil(c k N / E) assignments; 0: unlimited"},
    {"seed", CONFIG_INT, offsetof(MoeConfig, seed), "0", NULL, "gating noise draw (change it every step)"},
};
const int moe_config_field_count = sizeof moe_config_fields / sizeof moe_config_fields[0];

/* act header: int32 counters of the last forward. */
enum { HDR_TOKENS, HDR_ROWS, HDR_DROPPED, HDR_DROPPED_TOKENS, HDR_CAPACITY };

/* Views of a parameter (or gradient) block. Expert e's matrices are slices [e] of the stacked tensors. */
typedef struct MoeParams {
    float *gate;  /* (E, D) */
    float *noise; /* (E, D) */
    float *fc1_w; /* (E, H, D) */
    float *fc1_b; /* (E, H) */
    float *fc2_w; /* (E, D, H) */
    float *fc2_b; /* (E, D) */
} MoeParams;

/* Views of act for N tokens (A = N k assignments, R <= A kept rows grouped by expert). */
typedef struct MoeAct {
    int32_t *header;         /* MOE_ACT_HEADER slots, HDR_* */
    float *clean;            /* (N, E) x gate.weight^T */
    float *raw;              /* (N, E) x noise.weight^T; noisy only, else NULL */
    float *noise;            /* (N, E) standard normals z; noisy only */
    float *logits;           /* (N, E) routing logits h (== clean when not noisy) */
    float *gates;            /* (N, k) softmax over the kept logits, best rank first */
    int32_t *expert;         /* (N, k) the kept experts, best rank first */
    int32_t *row;            /* (N, k) grouped row of each assignment, -1 if dropped */
    int32_t *assign;         /* (R) assignment n k + s of each grouped row */
    int32_t *start;          /* (E + 1) first row of each expert */
    float *pre, *hidden;     /* (R, H) fc1 outputs before / after the activation */
    float *out;              /* (R, D) expert outputs */
} MoeAct;

/* Backward scratch (workspace). */
typedef struct MoeScratch {
    float *xg;     /* (A, D) gathered input rows */
    float *dout;   /* (A, D) d expert output, then d expert input */
    float *dhid;   /* (A, H) */
    float *dgate;  /* (N, k) */
    float *dh;     /* (N, E) d routing logits, then d clean logits */
    float *dstd;   /* (N, E) d noise std, then d raw; noisy only */
    float *dclean_load, *dstd_load; /* (N, E) the smooth load's direct terms; noisy only */
} MoeScratch;

/* Per-expert statistics of the auxiliary losses (doubles carved from the workspace). */
typedef struct AuxStats {
    double *importance, *load, *count, *prob; /* (E) each; count = assignments per expert */
    double *d_importance, *d_load;            /* (E) d cv2 / d entry */
    double *probs;                            /* (E) one token's softmax over all experts */
} AuxStats;

#define AUX_VECTORS 7

int moe_is_noisy(const MoeConfig *cfg) { return cfg->mode == MOE_MODE_TRAIN && cfg->noise; }

static int load_is_smooth(const MoeConfig *cfg) { return moe_is_noisy(cfg) && cfg->top_k < cfg->n_experts; }

static MoeParams moe_views(const MoeConfig *cfg, const float *block)
{
    size_t D = (size_t)cfg->d_model, H = (size_t)cfg->d_hidden, E = (size_t)cfg->n_experts;
    float *p = (float *)block;
    MoeParams v;
    v.gate = p;
    v.noise = v.gate + E * D;
    v.fc1_w = v.noise + E * D;
    v.fc1_b = v.fc1_w + E * H * D;
    v.fc2_w = v.fc1_b + E * H;
    v.fc2_b = v.fc2_w + E * D * H;
    return v;
}

/* Takes n floats at *off from base (base NULL: only measures), keeping every region aligned. */
static float *carve(float *base, size_t *off, size_t n)
{
    float *p = base ? base + *off : NULL;
    *off += ws_floats_for(n);
    return p;
}

/* Lays act out for N tokens from base (NULL: only measures); returns its size in floats. */
static size_t act_layout(const MoeConfig *cfg, size_t N, float *base, MoeAct *a)
{
    const size_t E = (size_t)cfg->n_experts, A = N * (size_t)cfg->top_k;
    size_t off = 0;
    a->header = (int32_t *)carve(base, &off, MOE_ACT_HEADER);
    a->clean = carve(base, &off, N * E);
    a->raw = a->noise = NULL;
    a->logits = a->clean;
    if (moe_is_noisy(cfg)) {
        a->raw = carve(base, &off, N * E);
        a->noise = carve(base, &off, N * E);
        a->logits = carve(base, &off, N * E);
    }
    a->gates = carve(base, &off, A);
    a->expert = (int32_t *)carve(base, &off, A);
    a->row = (int32_t *)carve(base, &off, A);
    a->assign = (int32_t *)carve(base, &off, A);
    a->start = (int32_t *)carve(base, &off, E + 1);
    a->pre = carve(base, &off, A * (size_t)cfg->d_hidden);
    a->hidden = carve(base, &off, A * (size_t)cfg->d_hidden);
    a->out = carve(base, &off, A * (size_t)cfg->d_model);
    return off;
}

/* Lays the backward scratch out (ws NULL: only measures, into *size). Returns -1 if ws is short. */
static int scratch_layout(const MoeConfig *cfg, size_t N, Workspace *ws, MoeScratch *s, size_t *size)
{
    const size_t E = (size_t)cfg->n_experts, A = N * (size_t)cfg->top_k, D = (size_t)cfg->d_model;
    const size_t noisy = moe_is_noisy(cfg) ? 1 : 0;
    const size_t sizes[7] = {A * D, A * D, A * (size_t)cfg->d_hidden, A, N * E, noisy * N * E, noisy * 2 * N * E};
    float *p[7] = {NULL};
    *size = 0;
    for (int i = 0; i < 7; i++) {
        *size += ws_floats_for(sizes[i]);
        if (ws && sizes[i] && !(p[i] = ws_take(ws, sizes[i])))
            return -1;
    }
    *s = (MoeScratch){p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[6] ? p[6] + N * E : NULL};
    return 0;
}

/* AUX_VECTORS (E) double vectors for the auxiliary losses, zeroed. Returns -1 if ws is short. */
static int aux_stats_take(const MoeConfig *cfg, Workspace *ws, AuxStats *st)
{
    const size_t E = (size_t)cfg->n_experts;
    double *v[AUX_VECTORS];
    for (int i = 0; i < AUX_VECTORS; i++) {
        float *f = ws_take(ws, 2 * E); /* 64-byte aligned, so fit for doubles */
        if (!f)
            return -1;
        v[i] = (double *)(void *)f;
        memset(v[i], 0, E * sizeof(double));
    }
    *st = (AuxStats){v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    return 0;
}

int moe_validate(const MoeConfig *cfg, char *err, size_t errlen)
{
    if (cfg->d_model < 1 || cfg->d_hidden < 1) {
        snprintf(err, errlen, "moe: need d_model >= 1 and d_hidden >= 1");
        return -1;
    }
    if (cfg->n_experts < 1 || cfg->n_experts > MOE_MAX_EXPERTS) {
        snprintf(err, errlen, "moe: n_experts must be in 1..%d, got %d", MOE_MAX_EXPERTS, cfg->n_experts);
        return -1;
    }
    if (cfg->top_k < 1 || cfg->top_k > cfg->n_experts) {
        snprintf(err, errlen, "moe: top_k must be in 1..n_experts (%d), got %d", cfg->n_experts, cfg->top_k);
        return -1;
    }
    if (cfg->noise != 0 && cfg->noise != 1) {
        snprintf(err, errlen, "moe: noise must be 0 or 1, got %d", cfg->noise);
        return -1;
    }
    if (!(cfg->capacity_factor >= 0.0f) || isinf(cfg->capacity_factor)) {
        snprintf(err, errlen, "moe: capacity_factor must be finite and >= 0 (0: unlimited)");
        return -1;
    }
    double D = cfg->d_model, H = cfg->d_hidden, E = cfg->n_experts;
    if (E * (2.0 * D + 2.0 * H * D + H + D) > 2147483647.0) {
        snprintf(err, errlen, "moe: more than INT_MAX parameters");
        return -1;
    }
    return 0;
}

int moe_param_specs(const MoeConfig *cfg, ParamSpec *out)
{
    const int D = cfg->d_model, H = cfg->d_hidden, E = cfg->n_experts;
    size_t off = core_spec(&out[0], "gate.weight", 0, 2, (int[]){E, D});
    off = core_spec(&out[1], "noise.weight", off, 2, (int[]){E, D});
    off = core_spec(&out[2], "experts.fc1.weight", off, 3, (int[]){E, H, D});
    off = core_spec(&out[3], "experts.fc1.bias", off, 2, (int[]){E, H});
    off = core_spec(&out[4], "experts.fc2.weight", off, 3, (int[]){E, D, H});
    core_spec(&out[5], "experts.fc2.bias", off, 2, (int[]){E, D});
    return 6;
}

size_t moe_num_params(const MoeConfig *cfg)
{
    size_t D = (size_t)cfg->d_model, H = (size_t)cfg->d_hidden, E = (size_t)cfg->n_experts;
    return E * (2 * D + 2 * H * D + H + D);
}

void moe_init(const MoeConfig *cfg, float *params, Rng *rng)
{
    size_t D = (size_t)cfg->d_model, H = (size_t)cfg->d_hidden, E = (size_t)cfg->n_experts;
    MoeParams p = moe_views(cfg, params);
    memset(p.gate, 0, 2 * E * D * sizeof(float)); /* gate.weight and noise.weight: zeros, as moe.py */
    /* torch.nn.Linear's default per expert: U(+-1/sqrt(fan_in)) for weight and bias alike. */
    linear_init_uniform(p.fc1_w, E * H * D, cfg->d_model, rng);
    linear_init_uniform(p.fc1_b, E * H, cfg->d_model, rng);
    linear_init_uniform(p.fc2_w, E * D * H, cfg->d_hidden, rng);
    linear_init_uniform(p.fc2_b, E * D, cfg->d_hidden, rng);
}

size_t moe_act_floats(const MoeConfig *cfg, int B, int L)
{
    MoeAct a;
    return act_layout(cfg, (size_t)B * L, NULL, &a);
}

size_t moe_workspace_floats(const MoeConfig *cfg, int B, int L)
{
    MoeScratch s;
    size_t size;
    scratch_layout(cfg, (size_t)B * L, NULL, &s, &size);
    return size + AUX_VECTORS * ws_floats_for(2 * (size_t)cfg->n_experts);
}

int moe_capacity(const MoeConfig *cfg, int N)
{
    if (!(cfg->capacity_factor > 0.0f))
        return N;
    double c = ceil((double)cfg->capacity_factor * cfg->top_k * N / cfg->n_experts);
    return c < N ? (int)c : N; /* an expert never gets more than N assignments */
}

MoeConfig moe_config_matching_fff(int depth, int leaf_width, int d_model)
{
    MoeConfig cfg = {.d_model = d_model,
                     .n_experts = (depth >= 0 && depth <= 20) ? 1 << depth : 0, /* 0: fails moe_validate */
                     .top_k = 1,
                     .d_hidden = leaf_width,
                     .activation = MOE_ACT_RELU,
                     .mode = MOE_MODE_TRAIN,
                     .noise = 1,
                     .capacity_factor = 0.0f,
                     .seed = 0};
    return cfg;
}

/* ---- element-wise pieces ---- */

float moe_noise(const MoeConfig *cfg, int64_t token, int expert)
{
    /* Outputs 2c + 1 and 2c + 2 of a splitmix64 stream keyed by the seed, c = token E + expert, then
     * Box-Muller; a 53-bit u1 in (0, 1] keeps the log finite. baselines/torch/ref_moe.py repeats this. */
    const uint64_t golden = 0x9E3779B97F4A7C15ULL;
    uint64_t key = rng_mix64((uint64_t)(uint32_t)cfg->seed * golden + 0xD1B54A32D192ED03ULL);
    uint64_t c = (uint64_t)token * (uint64_t)cfg->n_experts + (uint64_t)expert;
    uint64_t a = rng_mix64(key + (2 * c + 1) * golden), b = rng_mix64(key + (2 * c + 2) * golden);
    double u1 = ((double)(a >> 11) + 1.0) * 0x1p-53, u2 = (double)(b >> 11) * 0x1p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

/* torch.nn.Softplus() (beta 1, threshold 20) and its derivative. */
static inline float softplus(float v) { return v > MOE_SOFTPLUS_THRESHOLD ? v : log1pf(expf(v)); }
static inline float softplus_grad(float v) { return v > MOE_SOFTPLUS_THRESHOLD ? 1.0f : 1.0f / (1.0f + expf(-v)); }

static void activation_forward(const MoeConfig *cfg, const float *pre, float *out, size_t n)
{
    if (cfg->activation == MOE_ACT_GELU) {
        gelu_apply(pre, out, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = pre[i] > 0.0f ? pre[i] : 0.0f;
}

/* dx may alias dy. ReLU passes the gradient where pre > 0 (torch's threshold_backward). */
static void activation_backward(const MoeConfig *cfg, const float *pre, const float *dy, float *dx, size_t n)
{
    if (cfg->activation == MOE_ACT_GELU) {
        gelu_backward_apply(pre, dy, dx, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dx[i] = pre[i] > 0.0f ? dy[i] : 0.0f;
}

/* ---- gating and routing ---- */

/* 1 if expert i ranks before expert j in v: the larger logit first, the lower index on ties. */
static inline int ranks_before(const float *v, int i, int j) { return v[i] > v[j] || (v[i] == v[j] && i < j); }

/* The expert ranked right after `prev` in v (prev < 0: the best), or -1 (none, or only NaNs left). */
static int next_rank(const float *v, int E, int prev)
{
    int best = -1;
    for (int e = 0; e < E; e++)
        if ((prev < 0 || ranks_before(v, prev, e)) && (best < 0 || ranks_before(v, e, best)))
            best = e;
    return best;
}

/* clean = x gate.weight^T; noisy: h = clean + z (softplus(x noise.weight^T) + eps). */
static void gate_forward(const MoeConfig *cfg, const MoeParams *p, const MoeAct *a, const float *x, int N)
{
    const int D = cfg->d_model, E = cfg->n_experts;
    gemm_linear_forward(x, p->gate, NULL, a->clean, N, D, E);
    if (!moe_is_noisy(cfg))
        return;
    gemm_linear_forward(x, p->noise, NULL, a->raw, N, D, E);
#pragma omp parallel for schedule(static) if ((long)N * E > 4096)
    for (int n = 0; n < N; n++)
        for (int e = 0; e < E; e++) {
            size_t i = (size_t)n * E + e;
            float z = moe_noise(cfg, n, e);
            a->noise[i] = z;
            a->logits[i] = a->clean[i] + z * (softplus(a->raw[i]) + MOE_NOISE_EPSILON);
        }
}

/* Per token: the top k of h (best first) and the softmax over them. */
static void route_tokens(const MoeConfig *cfg, const MoeAct *a, int N)
{
    const int E = cfg->n_experts, k = cfg->top_k;
#pragma omp parallel for schedule(static) if ((long)N * E * k > 16384)
    for (int n = 0; n < N; n++) {
        const float *h = a->logits + (size_t)n * E;
        int32_t *chosen = a->expert + (size_t)n * k;
        float *g = a->gates + (size_t)n * k, sum = 0.0f;
        for (int s = 0, prev = -1; s < k; s++) {
            int e = next_rank(h, E, prev);
            chosen[s] = prev = e >= 0 ? e : s; /* all-NaN row: any valid expert, the output is NaN anyway */
        }
        const float top = h[chosen[0]];
        for (int s = 0; s < k; s++) {
            g[s] = expf(h[chosen[s]] - top);
            sum += g[s];
        }
        for (int s = 0; s < k; s++)
            g[s] /= sum;
    }
}

/* Counting sort of the assignments by expert, in priority order (every first choice in token order, then
 * every second choice, ...), each expert keeping at most `capacity` of them. Fills row, assign, start and
 * the header. */
static void group_by_expert(const MoeConfig *cfg, const MoeAct *a, int N)
{
    const int E = cfg->n_experts, k = cfg->top_k, capacity = moe_capacity(cfg, N);
    int32_t *count = a->start + 1; /* count[e]: expert e's kept assignments so far */
    memset(a->start, 0, ((size_t)E + 1) * sizeof *a->start);
    int dropped = 0, dropped_tokens = 0;
    for (int s = 0; s < k; s++)
        for (int n = 0; n < N; n++) {
            size_t i = (size_t)n * k + s;
            int e = a->expert[i];
            a->row[i] = count[e] < capacity ? count[e]++ : -1;
            dropped += a->row[i] < 0;
        }
    for (int e = 0; e < E; e++)
        a->start[e + 1] += a->start[e];
    for (int n = 0; n < N; n++) {
        int kept = 0;
        for (int s = 0; s < k; s++) {
            size_t i = (size_t)n * k + s;
            if (a->row[i] < 0)
                continue;
            a->row[i] += a->start[a->expert[i]];
            a->assign[a->row[i]] = (int32_t)i;
            kept++;
        }
        dropped_tokens += kept == 0;
    }
    memset(a->header, 0, MOE_ACT_HEADER * sizeof(float));
    a->header[HDR_TOKENS] = N;
    a->header[HDR_ROWS] = a->start[E];
    a->header[HDR_DROPPED] = dropped;
    a->header[HDR_DROPPED_TOKENS] = dropped_tokens;
    a->header[HDR_CAPACITY] = capacity;
}

/* ---- experts ---- */

/* xg rows [r0, r0 + rows) = the input rows of those grouped assignments. */
static void gather_rows(const MoeConfig *cfg, const MoeAct *a, const float *x, float *xg, int r0, int rows)
{
    const size_t D = (size_t)cfg->d_model;
    for (int r = r0; r < r0 + rows; r++)
        memcpy(xg + r * D, x + (size_t)(a->assign[r] / cfg->top_k) * D, D * sizeof(float));
}

/* Expert e on its grouped rows: out = fc2(act(fc1(xg))), one GEMM per layer. */
static void expert_forward(const MoeConfig *cfg, const MoeParams *p, const MoeAct *a, int e, const float *x,
                           float *xg)
{
    const size_t D = (size_t)cfg->d_model, H = (size_t)cfg->d_hidden;
    const int r0 = a->start[e], rows = a->start[e + 1] - r0;
    if (rows == 0)
        return;
    gather_rows(cfg, a, x, xg, r0, rows);
    gemm_linear_forward(xg + r0 * D, p->fc1_w + e * H * D, p->fc1_b + e * H, a->pre + r0 * H, rows, (int)D,
                        (int)H);
    activation_forward(cfg, a->pre + r0 * H, a->hidden + r0 * H, (size_t)rows * H);
    gemm_linear_forward(a->hidden + r0 * H, p->fc2_w + e * D * H, p->fc2_b + e * D, a->out + r0 * D, rows, (int)H,
                        (int)D);
}

/* Experts run in two passes, forward and backward alike: an expert holding more than one thread's share of
 * the rows runs alone with every thread inside its GEMMs (a skewed router, e.g. the tied logits of
 * zero-initialised gates, must not leave cores idle), the others one per thread with single-threaded BLAS
 * (OpenMP OpenBLAS inside a parallel region), dynamically scheduled to absorb unequal loads. */
static int expert_is_large(const MoeAct *a, int e, int threads)
{
    const long rows = a->start[e + 1] - a->start[e], total = a->header[HDR_ROWS];
    return threads > 1 && rows * threads > total;
}

/* y_n = sum over n's kept assignments of gate * expert output, in rank order (deterministic). */
static void combine(const MoeConfig *cfg, const MoeAct *a, float *y, int N)
{
    const int D = cfg->d_model, k = cfg->top_k;
#pragma omp parallel for schedule(static) if ((long)N * D * k > 65536)
    for (int n = 0; n < N; n++) {
        float *yn = y + (size_t)n * D;
        memset(yn, 0, (size_t)D * sizeof(float));
        for (int s = 0; s < k; s++) {
            int r = a->row[(size_t)n * k + s];
            if (r < 0)
                continue;
            const float g = a->gates[(size_t)n * k + s], *out = a->out + (size_t)r * D;
            for (int i = 0; i < D; i++)
                yn[i] += g * out[i];
        }
    }
}

void moe_forward(const MoeConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws)
{
    const int N = B * L, E = cfg->n_experts;
    MoeParams p = moe_views(cfg, params);
    MoeAct a;
    act_layout(cfg, (size_t)N, act, &a);
    float *xg = ws_take(ws, (size_t)N * cfg->top_k * cfg->d_model); /* (A, D) */
    if (!xg)
        return;
    gate_forward(cfg, &p, &a, x, N);
    route_tokens(cfg, &a, N);
    group_by_expert(cfg, &a, N);
    const int threads = omp_get_max_threads();
    for (int e = 0; e < E; e++)
        if (expert_is_large(&a, e, threads))
            expert_forward(cfg, &p, &a, e, x, xg);
#pragma omp parallel for schedule(dynamic, 1) if (E > 1)
    for (int e = 0; e < E; e++)
        if (!expert_is_large(&a, e, threads))
            expert_forward(cfg, &p, &a, e, x, xg);
    combine(cfg, &a, y, N);
}

/* ---- backward ---- */

/* dgate[n, s] = dy_n . out_r and dout_r = gate dy_n for each kept assignment (dgate 0 when dropped). */
static void combine_backward(const MoeConfig *cfg, const MoeAct *a, const float *dy, const MoeScratch *s, int N)
{
    const int D = cfg->d_model, k = cfg->top_k;
#pragma omp parallel for schedule(static) if ((long)N * D * k > 65536)
    for (int n = 0; n < N; n++) {
        const float *dyn = dy + (size_t)n * D;
        for (int j = 0; j < k; j++) {
            size_t i = (size_t)n * k + j;
            int r = a->row[i];
            s->dgate[i] = 0.0f;
            if (r < 0)
                continue;
            const float g = a->gates[i], *out = a->out + (size_t)r * D;
            float *dout = s->dout + (size_t)r * D, dot = 0.0f;
            for (int c = 0; c < D; c++) {
                dot += dyn[c] * out[c];
                dout[c] = g * dyn[c];
            }
            s->dgate[i] = dot;
        }
    }
}

/* Expert e's parameter gradients (+=); its input-row gradients overwrite s->dout rows. */
static void expert_backward(const MoeConfig *cfg, const MoeParams *p, const MoeParams *g, const MoeAct *a, int e,
                            const float *x, const MoeScratch *s)
{
    const size_t D = (size_t)cfg->d_model, H = (size_t)cfg->d_hidden;
    const int r0 = a->start[e], rows = a->start[e + 1] - r0;
    if (rows == 0)
        return;
    gather_rows(cfg, a, x, s->xg, r0, rows);
    float *dout = s->dout + r0 * D, *dhid = s->dhid + r0 * H;
    gemm_linear_backward_params(dout, a->hidden + r0 * H, g->fc2_w + e * D * H, g->fc2_b + e * D, rows, (int)H,
                                (int)D);
    gemm_linear_backward_input(dout, p->fc2_w + e * D * H, dhid, rows, (int)H, (int)D, 0.0f);
    activation_backward(cfg, a->pre + r0 * H, dhid, dhid, (size_t)rows * H);
    gemm_linear_backward_params(dhid, s->xg + r0 * D, g->fc1_w + e * H * D, g->fc1_b + e * H, rows, (int)D, (int)H);
    gemm_linear_backward_input(dhid, p->fc1_w + e * H * D, dout, rows, (int)D, (int)H, 0.0f);
}

/* dx_n = sum of the input-row gradients of n's kept assignments. */
static void gather_dx(const MoeConfig *cfg, const MoeAct *a, const float *dxg, float *dx, int N)
{
    const int D = cfg->d_model, k = cfg->top_k;
#pragma omp parallel for schedule(static) if ((long)N * D * k > 65536)
    for (int n = 0; n < N; n++) {
        float *dxn = dx + (size_t)n * D;
        memset(dxn, 0, (size_t)D * sizeof(float));
        for (int j = 0; j < k; j++) {
            int r = a->row[(size_t)n * k + j];
            if (r < 0)
                continue;
            for (int c = 0; c < D; c++)
                dxn[c] += dxg[(size_t)r * D + c];
        }
    }
}

/* d logits of the kept experts through the softmax over them: dh_j += g_j (dg_j - sum_i g_i dg_i). */
static void softmax_backward(const MoeConfig *cfg, const MoeAct *a, const MoeScratch *s, int N)
{
    const int E = cfg->n_experts, k = cfg->top_k;
#pragma omp parallel for schedule(static) if ((long)N * k > 16384)
    for (int n = 0; n < N; n++) {
        const float *g = a->gates + (size_t)n * k, *dg = s->dgate + (size_t)n * k;
        float dot = 0.0f;
        for (int j = 0; j < k; j++)
            dot += g[j] * dg[j];
        for (int j = 0; j < k; j++)
            s->dh[(size_t)n * E + a->expert[(size_t)n * k + j]] += g[j] * (dg[j] - dot);
    }
}

/* The clean and noise paths down to the gate weights and x: clean gets dh (+ the load's direct term),
 * std gets dh z (+ its direct term), raw gets d std softplus'(raw). */
static void gate_backward(const MoeConfig *cfg, const MoeParams *p, const MoeParams *g, const MoeAct *a,
                          const float *x, float *dx, const MoeScratch *s, int N, int with_load)
{
    const int D = cfg->d_model, E = cfg->n_experts;
    const size_t NE = (size_t)N * E;
    if (moe_is_noisy(cfg)) {
#pragma omp parallel for simd schedule(static) if (parallel : NE > 16384)
        for (size_t i = 0; i < NE; i++) {
            float dstd = s->dh[i] * a->noise[i] + (with_load ? s->dstd_load[i] : 0.0f);
            s->dstd[i] = dstd * softplus_grad(a->raw[i]);
        }
        gemm_linear_backward_params(s->dstd, x, g->noise, NULL, N, D, E);
        gemm_linear_backward_input(s->dstd, p->noise, dx, N, D, E, 1.0f);
    }
    if (with_load)
        for (size_t i = 0; i < NE; i++)
            s->dh[i] += s->dclean_load[i];
    gemm_linear_backward_params(s->dh, x, g->gate, NULL, N, D, E);
    gemm_linear_backward_input(s->dh, p->gate, dx, N, D, E, 1.0f);
}

static void aux_stats(const MoeConfig *cfg, const MoeAct *a, int N, AuxStats *st);
static void aux_gradients(const MoeConfig *cfg, const MoeAct *a, int N, const AuxStats *st, const MoeScratch *s,
                          float w_importance, float w_load, float w_switch);

void moe_backward_aux(const MoeConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                      float *dx, float *dparams, int B, int L, float w_importance, float w_load, float w_switch,
                      Workspace *ws)
{
    const int N = B * L, E = cfg->n_experts;
    MoeParams p = moe_views(cfg, params), g = moe_views(cfg, dparams);
    MoeAct a;
    MoeScratch s;
    size_t size;
    act_layout(cfg, (size_t)N, (float *)act, &a);
    if (scratch_layout(cfg, (size_t)N, ws, &s, &size) != 0)
        return;
    combine_backward(cfg, &a, dy, &s, N);
    const int threads = omp_get_max_threads();
    for (int e = 0; e < E; e++)
        if (expert_is_large(&a, e, threads))
            expert_backward(cfg, &p, &g, &a, e, x, &s);
#pragma omp parallel for schedule(dynamic, 1) if (E > 1)
    for (int e = 0; e < E; e++)
        if (!expert_is_large(&a, e, threads))
            expert_backward(cfg, &p, &g, &a, e, x, &s);
    gather_dx(cfg, &a, s.dout, dx, N);
    memset(s.dh, 0, (size_t)N * E * sizeof(float));
    const int with_aux = w_importance != 0.0f || w_load != 0.0f || w_switch != 0.0f;
    const int with_load = w_load != 0.0f && load_is_smooth(cfg);
    if (with_aux) {
        AuxStats st;
        if (aux_stats_take(cfg, ws, &st) != 0)
            return;
        if (with_load)
            memset(s.dclean_load, 0, 2 * (size_t)N * E * sizeof(float)); /* and dstd_load after it */
        aux_stats(cfg, &a, N, &st);
        aux_gradients(cfg, &a, N, &st, &s, w_importance, w_load, w_switch);
    }
    softmax_backward(cfg, &a, &s, N);
    gate_backward(cfg, &p, &g, &a, x, dx, &s, N, with_load);
}

void moe_backward(const MoeConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws)
{
    moe_backward_aux(cfg, params, x, act, dy, dx, dparams, B, L, 0.0f, 0.0f, 0.0f, ws);
}

/* ---- auxiliary losses ---- */

/* cv2(v) = var(v) / (mean(v)^2 + eps), var unbiased; grad (may be NULL) = d cv2 / d v. 0 when E = 1. */
static double cv_squared(const double *v, int E, double *grad)
{
    if (E == 1) {
        if (grad)
            grad[0] = 0.0;
        return 0.0;
    }
    double mean = 0.0, var = 0.0;
    for (int e = 0; e < E; e++)
        mean += v[e] / E;
    for (int e = 0; e < E; e++)
        var += (v[e] - mean) * (v[e] - mean) / (E - 1);
    const double denom = mean * mean + MOE_CV2_EPSILON;
    for (int e = 0; grad && e < E; e++)
        grad[e] = 2.0 * (v[e] - mean) / ((E - 1) * denom) - var * 2.0 * mean / (E * denom * denom);
    return var / denom;
}

static double normal_cdf(double u) { return 0.5 * erfc(-u * M_SQRT1_2); }
static double normal_pdf(double u) { return exp(-0.5 * u * u) * 0.3989422804014327; }

/* The experts ranked k-th (j_out, the last kept) and (k+1)-th (j_in) for token n: the smooth load's
 * thresholds. */
typedef struct LoadThresholds {
    int j_in, j_out;
} LoadThresholds;

static LoadThresholds load_thresholds(const MoeConfig *cfg, const MoeAct *a, int n)
{
    const int E = cfg->n_experts, k = cfg->top_k, j_out = a->expert[(size_t)n * k + k - 1];
    const int j_in = next_rank(a->logits + (size_t)n * E, E, j_out);
    return (LoadThresholds){j_in >= 0 ? j_in : j_out, j_out};
}

/* u = (clean - t) / std for token n, expert e, and the expert holding the threshold t: j_in if e is kept
 * (it must stay above the (k+1)-th), else j_out (it must pass the k-th). */
static double load_arg(const MoeConfig *cfg, const MoeAct *a, int n, int e, LoadThresholds t, int *holder,
                       double *std)
{
    const size_t i = (size_t)n * cfg->n_experts + e;
    const float *h = a->logits + (size_t)n * cfg->n_experts;
    *holder = ranks_before(h, e, t.j_in) ? t.j_in : t.j_out;
    *std = (double)softplus(a->raw[i]) + MOE_NOISE_EPSILON;
    return ((double)a->clean[i] - h[*holder]) / *std;
}

/* Softmax over all E logits of token n, into p (E doubles). */
static void full_softmax(const float *h, int E, double *p)
{
    double max = h[0], sum = 0.0;
    for (int e = 1; e < E; e++)
        max = h[e] > max ? h[e] : max;
    for (int e = 0; e < E; e++)
        sum += (p[e] = exp((double)h[e] - max));
    for (int e = 0; e < E; e++)
        p[e] /= sum;
}

/* importance, load, per-expert assignment counts and mean router probabilities; sequential (O(N E)). */
static void aux_stats(const MoeConfig *cfg, const MoeAct *a, int N, AuxStats *st)
{
    const int E = cfg->n_experts, k = cfg->top_k, smooth = load_is_smooth(cfg);
    for (int n = 0; n < N; n++) {
        for (int s = 0; s < k; s++) {
            int e = a->expert[(size_t)n * k + s];
            st->importance[e] += a->gates[(size_t)n * k + s];
            st->count[e] += 1.0;
        }
        full_softmax(a->logits + (size_t)n * E, E, st->probs);
        for (int e = 0; e < E; e++)
            st->prob[e] += st->probs[e] / N;
        LoadThresholds thr = smooth ? load_thresholds(cfg, a, n) : (LoadThresholds){0, 0};
        for (int e = 0; smooth && e < E; e++) {
            int holder;
            double std;
            st->load[e] += normal_cdf(load_arg(cfg, a, n, e, thr, &holder, &std));
        }
    }
    if (!smooth)
        memcpy(st->load, st->count, (size_t)E * sizeof(double)); /* tokens keeping e: each keeps e once */
    cv_squared(st->importance, E, st->d_importance);
    cv_squared(st->load, E, st->d_load);
}

static double switch_loss(const MoeConfig *cfg, const AuxStats *st, int N)
{
    double sum = 0.0;
    for (int e = 0; e < cfg->n_experts; e++)
        sum += st->count[e] / ((double)N * cfg->top_k) * st->prob[e];
    return cfg->n_experts * sum;
}

/* Switch loss, token n: dh_ne += w (E / N) p_e (f_e - sum_j p_j f_j), p = softmax(h_n), f_e = count_e / (N k)
 * (f has no gradient). */
static void switch_gradient(const MoeConfig *cfg, const MoeAct *a, int n, int N, const AuxStats *st,
                            const MoeScratch *s, float w_switch)
{
    const int E = cfg->n_experts;
    const double per_assignment = 1.0 / ((double)N * cfg->top_k), scale = w_switch * (double)E / N;
    full_softmax(a->logits + (size_t)n * E, E, st->probs);
    double dot = 0.0;
    for (int e = 0; e < E; e++)
        dot += st->probs[e] * st->count[e] * per_assignment;
    for (int e = 0; e < E; e++)
        s->dh[(size_t)n * E + e] += (float)(scale * st->probs[e] * (st->count[e] * per_assignment - dot));
}

/* Adds the auxiliary gradients: importance to dgate, switch and the load's thresholds to dh, the load's
 * direct terms to dclean_load and dstd_load. */
static void aux_gradients(const MoeConfig *cfg, const MoeAct *a, int N, const AuxStats *st, const MoeScratch *s,
                          float w_importance, float w_load, float w_switch)
{
    const int E = cfg->n_experts, k = cfg->top_k, with_load = w_load != 0.0f && load_is_smooth(cfg);
    for (int n = 0; n < N; n++) {
        for (int j = 0; w_importance != 0.0f && j < k; j++)
            s->dgate[(size_t)n * k + j] += (float)(w_importance * st->d_importance[a->expert[(size_t)n * k + j]]);
        if (w_switch != 0.0f)
            switch_gradient(cfg, a, n, N, st, s, w_switch);
        LoadThresholds thr = with_load ? load_thresholds(cfg, a, n) : (LoadThresholds){0, 0};
        for (int e = 0; with_load && e < E; e++) {
            int holder;
            double std, u = load_arg(cfg, a, n, e, thr, &holder, &std);
            double d = w_load * st->d_load[e] * normal_pdf(u) / std; /* d loss / d clean */
            size_t i = (size_t)n * E + e;
            s->dclean_load[i] += (float)d;
            s->dstd_load[i] -= (float)(d * u);
            s->dh[(size_t)n * E + holder] -= (float)d;
        }
    }
}

int moe_aux_losses(const MoeConfig *cfg, const float *act, int B, int L, MoeAux *out, Workspace *ws)
{
    const int N = B * L;
    MoeAct a;
    AuxStats st;
    act_layout(cfg, (size_t)N, (float *)act, &a);
    if (aux_stats_take(cfg, ws, &st) != 0)
        return -1;
    aux_stats(cfg, &a, N, &st);
    out->importance_cv2 = cv_squared(st.importance, cfg->n_experts, NULL);
    out->load_cv2 = cv_squared(st.load, cfg->n_experts, NULL);
    out->switch_loss = switch_loss(cfg, &st, N);
    out->capacity = a.header[HDR_CAPACITY];
    out->dropped_assignments = a.header[HDR_DROPPED];
    out->dropped_tokens = a.header[HDR_DROPPED_TOKENS];
    return 0;
}

OpFlops moe_flops(const MoeConfig *cfg, int B, int L)
{
    const double N = (double)B * L, E = cfg->n_experts, k = cfg->top_k, D = cfg->d_model, H = cfg->d_hidden;
    const double A = N * k;
    const int gelu = cfg->activation == MOE_ACT_GELU;
    const double act_fwd = gelu ? GELU_FLOPS_FORWARD : 0.0, act_bwd = gelu ? GELU_FLOPS_BACKWARD : 0.0;
    double fwd = gemm_linear_flops_forward(N, cfg->d_model, cfg->n_experts, 0) + 4.0 * N * k +
                 gemm_linear_flops_forward(A, cfg->d_model, cfg->d_hidden, 1) + act_fwd * A * H +
                 gemm_linear_flops_forward(A, cfg->d_hidden, cfg->d_model, 1) + 2.0 * A * D;
    double bwd = 3.0 * A * D + gemm_linear_flops_backward(A, cfg->d_hidden, cfg->d_model, 1) + act_bwd * A * H +
                 gemm_linear_flops_backward(A, cfg->d_model, cfg->d_hidden, 1) + A * D + 4.0 * N * k +
                 gemm_linear_flops_backward(N, cfg->d_model, cfg->n_experts, 0);
    if (moe_is_noisy(cfg)) {
        fwd += gemm_linear_flops_forward(N, cfg->d_model, cfg->n_experts, 0) + 11.0 * N * E;
        bwd += gemm_linear_flops_backward(N, cfg->d_model, cfg->n_experts, 0) + 5.0 * N * E;
    }
    return (OpFlops){fwd, bwd};
}

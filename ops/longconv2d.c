#include "longconv2d.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fft.h"
#include "fft2d.h"
#include "hyena.h"
#include "hyena_filter.h"
#include "linear.h"

/* ==== the FFT engine (channel-major) ==== */

/* Per-thread scratch: one (2H, 2W) real buffer and four spectra. */
typedef struct Conv2dScratch {
    float *real;  /* (2H, 2W) */
    float *kspec; /* (stride) complex: the channel's kernel spectrum, scaled by 1/n */
    float *uspec; /* (stride) complex */
    float *dspec; /* (stride) complex */
    float *accum; /* (stride) complex: sum over the batch of DY conj(U), for dk */
} Conv2dScratch;

static size_t scratch_floats_per_thread(int H, int W)
{
    const int stride = fft2d_spectrum_stride(2 * H, 2 * W);
    return ws_floats_for((size_t)4 * H * W) + 4 * ws_floats_for(2 * (size_t)stride);
}

size_t longconv2d_cm_workspace_floats(int H, int W)
{
    return (size_t)omp_get_max_threads() * scratch_floats_per_thread(H, W);
}

static Conv2dScratch scratch_for_thread(float *base, int H, int W)
{
    const size_t spec = ws_floats_for(2 * (size_t)fft2d_spectrum_stride(2 * H, 2 * W));
    float *p = base + (size_t)omp_get_thread_num() * scratch_floats_per_thread(H, W);
    float *after_real = p + ws_floats_for((size_t)4 * H * W);
    return (Conv2dScratch){p, after_real, after_real + spec, after_real + 2 * spec, after_real + 3 * spec};
}

/* real (2H, 2W) = src (H, W) * scale placed with its (0, 0) at (row0, col0), zero elsewhere; then its spectrum. */
static void padded_spectrum(const Fft2dPlan *plan, const float *src, int H, int W, int row0, int col0, float scale,
                            float *real, float *spec)
{
    memset(real, 0, (size_t)plan->rows * plan->cols * sizeof(float));
    for (int p = 0; p < H; p++) {
        float *dst = real + (size_t)(p + row0) * plan->cols + col0;
        const float *row = src + (size_t)p * W;
        for (int q = 0; q < W; q++)
            dst[q] = row[q] * scale;
    }
    fft2d_forward(plan, real, spec);
}

void longconv2d_cm_forward(const float *k, const float *bias, const float *u, float *y, int B, int C, int H, int W,
                           Workspace *ws)
{
    const Fft2dPlan *plan = fft2d_plan(2 * H, 2 * W);
    float *base = ws_take(ws, longconv2d_cm_workspace_floats(H, W));
    const size_t L = (size_t)H * W;
    if (!plan) { /* FFTW could not plan: make the failure visible rather than return stale values */
        for (size_t i = 0; i < (size_t)B * C * L; i++)
            y[i] = NAN;
        return;
    }
    const float inv_n = 1.0f / (float)(4 * L);
    const int ci = H / 2, cj = W / 2;
#pragma omp parallel
    {
        Conv2dScratch s = scratch_for_thread(base, H, W);
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < C; c++) {
            padded_spectrum(plan, k + (size_t)c * L, H, W, 0, 0, inv_n, s.real, s.kspec);
            for (int b = 0; b < B; b++) {
                const float *uc = u + ((size_t)b * C + c) * L;
                float *yc = y + ((size_t)b * C + c) * L;
                padded_spectrum(plan, uc, H, W, 0, 0, 1.0f, s.real, s.uspec);
                fft_spectrum_product(s.uspec, s.kspec, s.uspec, plan->bins, 0);
                fft2d_backward(plan, s.uspec, s.real);
                const float skip = bias ? bias[c] : 0.0f;
                for (int p = 0; p < H; p++) /* crop the centred window of the full convolution */
                    for (int q = 0; q < W; q++)
                        yc[p * W + q] = s.real[(size_t)(p + ci) * plan->cols + q + cj] + skip * uc[p * W + q];
            }
        }
    }
}

/* One channel of the backward. With G = dy placed at (ci, cj) of the padded grid (the adjoint of the crop),
 * du = crop_{(0,0)}(G corr k) and dk = crop_{(0,0)}(sum_b G corr u_b); (2H, 2W) transforms leave no aliasing
 * in either correlation, as the indices that wrap around land where k and u are zero-padded. */
static void backward_channel(const Fft2dPlan *plan, Conv2dScratch *s, const float *kc, float bias_c, const float *u,
                             const float *dy, float *du, float *dkc, float *dbias_c, int B, int C, int H, int W,
                             int c)
{
    const size_t L = (size_t)H * W;
    const float inv_n = 1.0f / (float)(4 * L);
    padded_spectrum(plan, kc, H, W, 0, 0, inv_n, s->real, s->kspec);
    memset(s->accum, 0, 2 * (size_t)plan->bins * sizeof(float));
    double skip_grad = 0.0;
    for (int b = 0; b < B; b++) {
        const size_t at = ((size_t)b * C + c) * L;
        padded_spectrum(plan, u + at, H, W, 0, 0, 1.0f, s->real, s->uspec);
        padded_spectrum(plan, dy + at, H, W, H / 2, W / 2, 1.0f, s->real, s->dspec);
        fft_spectrum_accumulate_conj(s->accum, s->dspec, s->uspec, plan->bins); /* accum += DY conj(U) */
        fft_spectrum_product(s->dspec, s->kspec, s->dspec, plan->bins, 1);
        fft2d_backward(plan, s->dspec, s->real);
        for (int p = 0; p < H; p++)
            for (int q = 0; q < W; q++) {
                const size_t i = at + (size_t)p * W + q;
                du[i] = s->real[(size_t)p * plan->cols + q] + bias_c * dy[i];
                skip_grad += (double)dy[i] * u[i];
            }
    }
    fft2d_backward(plan, s->accum, s->real);
    for (int p = 0; p < H; p++)
        for (int q = 0; q < W; q++)
            dkc[p * W + q] += s->real[(size_t)p * plan->cols + q] * inv_n;
    if (dbias_c)
        *dbias_c += (float)skip_grad;
}

void longconv2d_cm_backward(const float *k, const float *bias, const float *u, const float *dy, float *du, float *dk,
                            float *dbias, int B, int C, int H, int W, Workspace *ws)
{
    const Fft2dPlan *plan = fft2d_plan(2 * H, 2 * W);
    float *base = ws_take(ws, longconv2d_cm_workspace_floats(H, W));
    const size_t L = (size_t)H * W;
    if (!plan) {
        for (size_t i = 0; i < (size_t)B * C * L; i++)
            du[i] = NAN;
        return;
    }
#pragma omp parallel
    {
        Conv2dScratch s = scratch_for_thread(base, H, W);
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < C; c++)
            backward_channel(plan, &s, k + (size_t)c * L, bias ? bias[c] : 0.0f, u, dy, du, dk + (size_t)c * L,
                             bias ? dbias + c : NULL, B, C, H, W, c);
    }
}

OpFlops longconv2d_cm_flops(int B, int C, int H, int W, int has_bias)
{
    const double L = (double)H * W, n = 4.0 * L, bins = 2.0 * H * (W + 1.0), fft = 2.5 * n * log2(n);
    const double skip = has_bias ? 2.0 * L : 0.0;
    double fwd = C * (fft + L) + (double)B * C * (2.0 * fft + 6.0 * bins + skip);
    double bwd = C * (fft + L) + (double)B * C * (3.0 * fft + 14.0 * bins + 2.0 * skip) + C * (fft + 2.0 * L);
    return (OpFlops){fwd, bwd};
}

/* ==== the operator ==== */

const ConfigField longconv2d_config_fields[] = {
    {"d_model", CONFIG_INT, offsetof(Longconv2dConfig, d_model), "64", NULL, "channels D"},
    {"height", CONFIG_INT, offsetof(Longconv2dConfig, height), "32", NULL, "image height H (inputs have L = H W)"},
    {"width", CONFIG_INT, offsetof(Longconv2dConfig, width), "32", NULL, "image width W"},
    {"filter_order", CONFIG_INT, offsetof(Longconv2dConfig, filter_order), "64", NULL, "implicit filter MLP width F"},
    {"emb_dim", CONFIG_INT, offsetof(Longconv2dConfig, emb_dim), "10", NULL,
     "positional features 2 + 4 bands (coordinates, sin/cos bands per axis)"},
    {"num_inner_mlps", CONFIG_INT, offsetof(Longconv2dConfig, num_inner_mlps), "2", NULL, "inner Linear+Sin layers"},
    {"w", CONFIG_FLOAT, offsetof(Longconv2dConfig, w), "1", NULL, "Sin frequency init"},
    {"fast_decay_pct", CONFIG_FLOAT, offsetof(Longconv2dConfig, fast_decay_pct), "0.3", NULL, "window spread"},
    {"slow_decay_pct", CONFIG_FLOAT, offsetof(Longconv2dConfig, slow_decay_pct), "1.5", NULL, "window spread"},
    {"target", CONFIG_FLOAT, offsetof(Longconv2dConfig, target), "0.01", NULL, "window target (> 0)"},
    {"shift", CONFIG_FLOAT, offsetof(Longconv2dConfig, shift), "0", NULL, "added to the window"},
    {"modulate", CONFIG_INT, offsetof(Longconv2dConfig, modulate), "1", NULL, "1: exp(-alpha r) window, 0: none"},
};
const int longconv2d_config_field_count = sizeof longconv2d_config_fields / sizeof longconv2d_config_fields[0];

int longconv2d_validate(const Longconv2dConfig *cfg, char *err, size_t errlen)
{
    const char *why = NULL;
    if (cfg->d_model < 1 || cfg->height < 1 || cfg->width < 1 || cfg->filter_order < 1)
        why = "need d_model, height, width and filter_order >= 1";
    else if ((long long)cfg->height * cfg->width > INT_MAX / 4)
        why = "height * width is too large";
    else if (cfg->emb_dim < 2 || (cfg->emb_dim - 2) % 4 != 0)
        why = "emb_dim must be 2 + 4 bands (two coordinates, cos and sin per band and axis)";
    else if (cfg->num_inner_mlps < 0 || cfg->num_inner_mlps > LONGCONV2D_MAX_INNER_MLPS)
        why = "num_inner_mlps must be in [0, 16]";
    else if (!(cfg->target > 0.0f) || !(cfg->fast_decay_pct > 0.0f) || !(cfg->slow_decay_pct > 0.0f))
        why = "need target, fast_decay_pct and slow_decay_pct > 0";
    else if (cfg->modulate != 0 && cfg->modulate != 1)
        why = "modulate must be 0 or 1";
    if (why) {
        snprintf(err, errlen, "longconv2d: %s", why);
        return -1;
    }
    return 0;
}

int longconv2d_check_len(const Longconv2dConfig *cfg, int L, char *err, size_t errlen)
{
    if (L == cfg->height * cfg->width)
        return 0;
    snprintf(err, errlen, "longconv2d: sequence length %d must equal height * width = %d * %d = %d", L, cfg->height,
             cfg->width, cfg->height * cfg->width);
    return -1;
}

int longconv2d_prepare(const Longconv2dConfig *cfg) { return fft2d_plan(2 * cfg->height, 2 * cfg->width) ? 0 : -1; }

int longconv2d_param_specs(const Longconv2dConfig *cfg, ParamSpec *out)
{
    const int D = cfg->d_model, E = cfg->emb_dim, F = cfg->filter_order, n = cfg->num_inner_mlps;
    int count = 0;
    size_t off = core_spec(&out[count++], "bias", 0, 1, (int[]){D});
    off = core_spec(&out[count++], "implicit_filter.0.weight", off, 2, (int[]){F, E});
    off = core_spec(&out[count++], "implicit_filter.0.bias", off, 1, (int[]){F});
    off = core_spec(&out[count++], "implicit_filter.1.freq", off, 2, (int[]){1, F});
    char name[CORE_NAME_LEN];
    for (int i = 1; i <= n; i++) { /* Sequential index 2i: Linear(F, F); 2i+1 is the shared Sin */
        snprintf(name, sizeof name, "implicit_filter.%d.weight", 2 * i);
        off = core_spec(&out[count++], name, off, 2, (int[]){F, F});
        snprintf(name, sizeof name, "implicit_filter.%d.bias", 2 * i);
        off = core_spec(&out[count++], name, off, 1, (int[]){F});
    }
    snprintf(name, sizeof name, "implicit_filter.%d.weight", 2 * n + 2);
    core_spec(&out[count++], name, off, 2, (int[]){D, F});
    return count;
}

size_t longconv2d_num_params(const Longconv2dConfig *cfg)
{
    const size_t D = (size_t)cfg->d_model, E = (size_t)cfg->emb_dim, F = (size_t)cfg->filter_order;
    return D + F * E + 2 * F + (size_t)cfg->num_inner_mlps * (F * F + F) + D * F;
}

/* The 1D Hyena filter configuration whose MLP runs over the H W taps: order 2 so that its channel count
 * (order - 1) d_model is D, l_max = H W, and modulate = 0 (the 2D window below replaces Hyena's 1D decay;
 * its deltas still come from hyena_delta with these decay settings). */
static HyenaConfig filter_config(const Longconv2dConfig *cfg)
{
    HyenaConfig h;
    memset(&h, 0, sizeof h);
    h.d_model = cfg->d_model;
    h.l_max = cfg->height * cfg->width;
    h.order = 2;
    h.filter_order = cfg->filter_order;
    h.emb_dim = cfg->emb_dim;
    h.num_inner_mlps = cfg->num_inner_mlps;
    h.w = cfg->w;
    h.short_filter_order = 3;
    h.fast_decay_pct = cfg->fast_decay_pct;
    h.slow_decay_pct = cfg->slow_decay_pct;
    h.target = cfg->target;
    h.shift = cfg->shift;
    h.modulate = 0;
    return h;
}

/* The MLP tensors of a parameter (or gradient) block, as hyena_filter_* read them; z is the (H W, E) MLP input
 * (the fixed features; in a gradient view, a scratch that absorbs their unused gradient). */
static HyenaParams filter_view(const Longconv2dConfig *cfg, const float *block, float *z)
{
    const size_t D = (size_t)cfg->d_model, E = (size_t)cfg->emb_dim, F = (size_t)cfg->filter_order;
    float *p = (float *)block;
    HyenaParams v;
    memset(&v, 0, sizeof v);
    v.filter_bias = p, p += D; /* our skip bias (not read by hyena_filter_*) */
    v.z = z;
    hyena_filter_mlp_view(&v, p, (int)E, (int)F, cfg->num_inner_mlps);
    return v;
}

void longconv2d_init(const Longconv2dConfig *cfg, float *params, Rng *rng)
{
    const size_t D = (size_t)cfg->d_model, E = (size_t)cfg->emb_dim, F = (size_t)cfg->filter_order;
    HyenaParams p = filter_view(cfg, params, NULL);
    rng_fill_normal(rng, p.filter_bias, D, 0.0f, 1.0f);
    linear_init_uniform(p.mlp_in_w, F * E + F, (int)E, rng); /* weight then bias, contiguous */
    for (size_t f = 0; f < F; f++)
        p.freq[f] = cfg->w;
    for (int i = 0; i < cfg->num_inner_mlps; i++)
        linear_init_uniform(p.mlp_inner + (size_t)i * (F * F + F), F * F + F, (int)F, rng);
    linear_init_uniform(p.mlp_out_w, D * F, (int)F, rng);
}

/* What forward keeps for backward (and for longconv2d_filter_values). */
typedef struct Acts {
    float *features;        /* (H W, E) the MLP input z */
    float *radius;          /* (H W) r of every tap */
    HyenaFilterActs filter; /* MLP activations; decay (D, H W) holds the 2D window, h (D, H W) the filter */
} Acts;

size_t longconv2d_act_floats(const Longconv2dConfig *cfg, int B, int L)
{
    (void)B, (void)L;
    const int taps = cfg->height * cfg->width;
    HyenaConfig h = filter_config(cfg);
    return ws_floats_for((size_t)taps * cfg->emb_dim) + ws_floats_for((size_t)taps) + hyena_filter_act_floats(&h, taps);
}

static Acts acts_view(const Longconv2dConfig *cfg, float *base)
{
    const int taps = cfg->height * cfg->width;
    HyenaConfig h = filter_config(cfg);
    Acts a;
    a.features = base;
    a.radius = a.features + ws_floats_for((size_t)taps * cfg->emb_dim);
    a.filter = hyena_filter_acts(&h, a.radius + ws_floats_for((size_t)taps), taps);
    return a;
}

/* Normalised tap coordinate along an axis of n taps: (i - n/2) / (n/2), in [-1, 1]. */
static float axis_coordinate(int i, int n) { return (float)(i - n / 2) / (0.5f * (float)n); }

/* features (H W, E) = [u, v, cos(pi f_b u), -sin(pi f_b u), cos(pi f_b v), -sin(pi f_b v)], f_b = b + 1;
 * radius (H W) = sqrt((u^2 + v^2) / 2), written only with modulate = 1. */
static void write_features(const Longconv2dConfig *cfg, float *features, float *radius)
{
    const int H = cfg->height, W = cfg->width, E = cfg->emb_dim, bands = (E - 2) / 4;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            const size_t tap = (size_t)i * W + j;
            float *z = features + tap * E;
            const float u = axis_coordinate(i, H), v = axis_coordinate(j, W);
            z[0] = u, z[1] = v;
            for (int b = 0; b < bands; b++) {
                const float freq = (float)M_PI * (float)(b + 1);
                z[2 + b] = cosf(freq * u);
                z[2 + bands + b] = -sinf(freq * u);
                z[2 + 2 * bands + b] = cosf(freq * v);
                z[2 + 3 * bands + b] = -sinf(freq * v);
            }
            if (cfg->modulate) /* only the window reads it */
                radius[tap] = sqrtf(0.5f * (u * u + v * v));
        }
}

/* decay (D, H W) = exp(-alpha_c r) + shift, alpha_c = |delta_c| (Hyena's spread), and h *= decay. */
static void apply_window(const Longconv2dConfig *cfg, const Acts *a)
{
    const int D = cfg->d_model, taps = cfg->height * cfg->width;
    HyenaConfig hcfg = filter_config(cfg);
#pragma omp parallel for schedule(static) if ((long)D * taps > 16384)
    for (int c = 0; c < D; c++) {
        const float alpha = fabsf(hyena_delta(&hcfg, c));
        float *decay = a->filter.decay + (size_t)c * taps, *h = a->filter.h + (size_t)c * taps;
        for (int t = 0; t < taps; t++) {
            decay[t] = expf(-alpha * a->radius[t]) + cfg->shift;
            h[t] *= decay[t];
        }
    }
}

/* Fills the acts, ending with the filter h (D, H W) in a->filter.h. */
static void compute_filter(const Longconv2dConfig *cfg, const float *params, const Acts *a)
{
    HyenaConfig hcfg = filter_config(cfg);
    write_features(cfg, a->features, a->radius);
    HyenaParams p = filter_view(cfg, params, a->features);
    hyena_filter_forward(&hcfg, &p, &a->filter, hcfg.l_max);
    if (cfg->modulate)
        apply_window(cfg, a);
}

void longconv2d_filter_values(const Longconv2dConfig *cfg, const float *params, float *scratch, float *h)
{
    Acts a = acts_view(cfg, scratch);
    compute_filter(cfg, params, &a);
    memcpy(h, a.filter.h, (size_t)cfg->d_model * cfg->height * cfg->width * sizeof(float));
}

size_t longconv2d_workspace_floats(const Longconv2dConfig *cfg, int B, int L)
{
    HyenaConfig hcfg = filter_config(cfg);
    const size_t tensor = ws_floats_for((size_t)B * L * cfg->d_model), taps = (size_t)cfg->height * cfg->width;
    return 3 * tensor + ws_floats_for((size_t)cfg->d_model * taps) + ws_floats_for(taps * cfg->emb_dim) +
           longconv2d_cm_workspace_floats(cfg->height, cfg->width) + hyena_filter_workspace_floats(&hcfg, (int)taps);
}

void longconv2d_forward(const Longconv2dConfig *cfg, const float *params, const float *x, float *y, float *act, int B,
                        int L, Workspace *ws)
{
    const int D = cfg->d_model;
    const size_t n = (size_t)B * L * D;
    Acts a = acts_view(cfg, act);
    compute_filter(cfg, params, &a);
    float *u = ws_take(ws, n), *out = ws_take(ws, n);
    core_transpose(x, u, B, L, D); /* (B, L, D) -> (B, D, H W): each channel's image contiguous */
    longconv2d_cm_forward(a.filter.h, params, u, out, B, D, cfg->height, cfg->width, ws);
    core_transpose(out, y, B, D, L);
}

void longconv2d_backward(const Longconv2dConfig *cfg, const float *params, const float *x, const float *act,
                         const float *dy, float *dx, float *dparams, int B, int L, Workspace *ws)
{
    const int D = cfg->d_model, taps = cfg->height * cfg->width;
    const size_t n = (size_t)B * L * D, nk = (size_t)D * taps;
    HyenaConfig hcfg = filter_config(cfg);
    Acts a = acts_view(cfg, (float *)act);
    float *u = ws_take(ws, n), *g = ws_take(ws, n), *du = ws_take(ws, n);
    float *dk = ws_take(ws, nk), *dz = ws_take(ws, (size_t)taps * cfg->emb_dim);
    core_transpose(x, u, B, L, D);
    core_transpose(dy, g, B, L, D);
    memset(dk, 0, nk * sizeof(float));
    longconv2d_cm_backward(a.filter.h, params, u, g, du, dk, dparams, B, D, cfg->height, cfg->width, ws);
    core_transpose(du, dx, B, D, L);
    if (cfg->modulate) /* dk -> d hf: the window is a constant factor */
        for (size_t i = 0; i < nk; i++)
            dk[i] *= a.filter.decay[i];
    memset(dz, 0, (size_t)taps * cfg->emb_dim * sizeof(float));
    HyenaParams p = filter_view(cfg, params, a.features), grad = filter_view(cfg, dparams, dz);
    hyena_filter_backward(&hcfg, &p, &a.filter, dk, &grad, taps, ws);
}

/* Features: 4 per tap for u and v (subtract, scale), 3 per band and axis (multiply, cos, sin); the window: 5
 * per tap for r (two squares as a multiply and a multiply-add, the halving, sqrt), then 4 per tap and channel
 * (alpha r, exp, + shift, times hf); backward 1 per tap and channel (dk times the window). The MLP's own count
 * (hyena_filter_flops) includes the gradient of its input, which backward computes (into a scratch). */
OpFlops longconv2d_flops(const Longconv2dConfig *cfg, int B, int L)
{
    (void)L;
    HyenaConfig hcfg = filter_config(cfg);
    const double taps = (double)cfg->height * cfg->width, DT = cfg->d_model * taps;
    const double features = taps * (4.0 + 6.0 * ((cfg->emb_dim - 2) / 4));
    const double window_fwd = cfg->modulate ? 5.0 * taps + 4.0 * DT : 0.0, window_bwd = cfg->modulate ? DT : 0.0;
    OpFlops mlp = hyena_filter_flops(&hcfg, hcfg.l_max);
    OpFlops conv = longconv2d_cm_flops(B, cfg->d_model, cfg->height, cfg->width, 1);
    return (OpFlops){mlp.forward + features + window_fwd + conv.forward, mlp.backward + window_bwd + conv.backward};
}

#include "hyena.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fftconv.h"
#include "gemm.h"
#include "hyena_filter.h"
#include "linear.h"
#include "modal_fit.h"

#define HYENA_MAX_SHORT_FILTER 64 /* bounds the per-channel tap gradients kept on the stack */

const ConfigField hyena_config_fields[] = {
    {"d_model", CONFIG_INT, offsetof(HyenaConfig, d_model), "64", NULL, "model width D"},
    {"l_max", CONFIG_INT, offsetof(HyenaConfig, l_max), "1024", NULL, "longest sequence (filter grid)"},
    {"order", CONFIG_INT, offsetof(HyenaConfig, order), "2", NULL, "Hyena order o >= 2 (o-1 long convolutions)"},
    {"filter_order", CONFIG_INT, offsetof(HyenaConfig, filter_order), "64", NULL, "implicit filter MLP width F"},
    {"emb_dim", CONFIG_INT, offsetof(HyenaConfig, emb_dim), "3", NULL, "positional embedding width (odd, >= 3)"},
    {"num_inner_mlps", CONFIG_INT, offsetof(HyenaConfig, num_inner_mlps), "2", NULL, "inner Linear+Sin layers"},
    {"w", CONFIG_FLOAT, offsetof(HyenaConfig, w), "1", NULL, "Sin frequency init"},
    {"short_filter_order", CONFIG_INT, offsetof(HyenaConfig, short_filter_order), "3", NULL,
     "causal depthwise short conv kernel"},
    {"fast_decay_pct", CONFIG_FLOAT, offsetof(HyenaConfig, fast_decay_pct), "0.3", NULL, "modulation"},
    {"slow_decay_pct", CONFIG_FLOAT, offsetof(HyenaConfig, slow_decay_pct), "1.5", NULL, "modulation"},
    {"target", CONFIG_FLOAT, offsetof(HyenaConfig, target), "0.01", NULL, "modulation target (> 0)"},
    {"shift", CONFIG_FLOAT, offsetof(HyenaConfig, shift), "0", NULL, "added to the decay window"},
    {"modulate", CONFIG_INT, offsetof(HyenaConfig, modulate), "1", NULL, "1: exponential decay window, 0: none"},
    {"step", CONFIG_ENUM, offsetof(HyenaConfig, step), "cached", "cached|fft|modal",
     "generation only: exact cached convolution O(t), exact FFT tiles O(log^2 t), or distilled modes O(order)"},
    {"modal_order", CONFIG_INT, offsetof(HyenaConfig, modal_order), "16", NULL,
     "step=modal: real degrees of each filter's distilled recurrence"},
};
const int hyena_config_field_count = sizeof hyena_config_fields / sizeof hyena_config_fields[0];

int hyena_validate(const HyenaConfig *cfg, char *err, size_t errlen)
{
    const char *why = cfg->modal_order < 1 || cfg->modal_order > 256 ? "modal_order must be in 1..256" : NULL;
    if (cfg->d_model < 1 || cfg->l_max < 1 || cfg->filter_order < 1)
        why = "need d_model, l_max and filter_order >= 1";
    else if (cfg->order < 2)
        why = "need order >= 2 (order 1 has no long convolution)";
    else if (cfg->emb_dim < 3 || cfg->emb_dim % 2 == 0)
        why = "emb_dim must be odd and >= 3 (time, cosine and sine bands)";
    else if (cfg->num_inner_mlps < 0 || cfg->num_inner_mlps > HYENA_MAX_INNER_MLPS)
        why = "num_inner_mlps must be in [0, 16]";
    else if (cfg->short_filter_order < 1 || cfg->short_filter_order > HYENA_MAX_SHORT_FILTER)
        why = "short_filter_order must be in [1, 64]";
    else if (!(cfg->target > 0.0f) || !(cfg->fast_decay_pct > 0.0f) || !(cfg->slow_decay_pct > 0.0f))
        why = "need target, fast_decay_pct and slow_decay_pct > 0";
    else if (cfg->modulate != 0 && cfg->modulate != 1)
        why = "modulate must be 0 or 1";
    if (why) {
        snprintf(err, errlen, "hyena: %s", why);
        return -1;
    }
    return 0;
}

int hyena_max_len(const HyenaConfig *cfg) { return cfg->l_max; }

/* ---- parameters ---- */

int hyena_param_specs(const HyenaConfig *cfg, ParamSpec *out)
{
    const int D = cfg->d_model, Dn = (cfg->order + 1) * D, K = cfg->short_filter_order;
    const int C = hyena_filter_channels(cfg), E = cfg->emb_dim, F = cfg->filter_order, n = cfg->num_inner_mlps;
    int count = 0;
    size_t off = core_spec(&out[count++], "in_proj.weight", 0, 2, (int[]){Dn, D});
    off = core_spec(&out[count++], "in_proj.bias", off, 1, (int[]){Dn});
    off = core_spec(&out[count++], "out_proj.weight", off, 2, (int[]){D, D});
    off = core_spec(&out[count++], "out_proj.bias", off, 1, (int[]){D});
    off = core_spec(&out[count++], "short_filter.weight", off, 3, (int[]){Dn, 1, K});
    off = core_spec(&out[count++], "short_filter.bias", off, 1, (int[]){Dn});
    off = core_spec(&out[count++], "filter_fn.bias", off, 1, (int[]){C});
    off = core_spec(&out[count++], "filter_fn.pos_emb.z", off, 3, (int[]){1, cfg->l_max, E});
    off = core_spec(&out[count++], "filter_fn.implicit_filter.0.weight", off, 2, (int[]){F, E});
    off = core_spec(&out[count++], "filter_fn.implicit_filter.0.bias", off, 1, (int[]){F});
    off = core_spec(&out[count++], "filter_fn.implicit_filter.1.freq", off, 2, (int[]){1, F});
    char name[CORE_NAME_LEN];
    for (int i = 1; i <= n; i++) { /* Sequential index 2i: Linear(F, F); 2i+1 is the shared Sin */
        snprintf(name, sizeof name, "filter_fn.implicit_filter.%d.weight", 2 * i);
        off = core_spec(&out[count++], name, off, 2, (int[]){F, F});
        snprintf(name, sizeof name, "filter_fn.implicit_filter.%d.bias", 2 * i);
        off = core_spec(&out[count++], name, off, 1, (int[]){F});
    }
    snprintf(name, sizeof name, "filter_fn.implicit_filter.%d.weight", 2 * n + 2);
    core_spec(&out[count++], name, off, 2, (int[]){C, F});
    return count;
}

size_t hyena_num_params(const HyenaConfig *cfg)
{
    const size_t D = (size_t)cfg->d_model, Dn = (size_t)(cfg->order + 1) * D, K = (size_t)cfg->short_filter_order;
    const size_t C = (size_t)hyena_filter_channels(cfg), E = (size_t)cfg->emb_dim, F = (size_t)cfg->filter_order;
    return Dn * D + Dn + D * D + D + Dn * K + Dn + C + (size_t)cfg->l_max * E + F * E + F + F +
           (size_t)cfg->num_inner_mlps * (F * F + F) + C * F;
}

void hyena_init(const HyenaConfig *cfg, float *params, Rng *rng)
{
    const size_t D = (size_t)cfg->d_model, Dn = (size_t)(cfg->order + 1) * D, K = (size_t)cfg->short_filter_order;
    const size_t C = (size_t)hyena_filter_channels(cfg), E = (size_t)cfg->emb_dim, F = (size_t)cfg->filter_order;
    HyenaParams p = hyena_params_view(cfg, params);
    linear_init_uniform(p.in_w, Dn * D + Dn, cfg->d_model, rng); /* weight then bias, contiguous */
    linear_init_uniform(p.out_w, D * D + D, cfg->d_model, rng);
    linear_init_uniform(p.short_w, Dn * K + Dn, cfg->short_filter_order, rng); /* Conv1d fan_in = 1 * K */
    rng_fill_normal(rng, p.filter_bias, C, 0.0f, 1.0f);
    hyena_init_pos_emb(cfg, p.z);
    linear_init_uniform(p.mlp_in_w, F * E + F, cfg->emb_dim, rng);
    for (size_t f = 0; f < F; f++)
        p.freq[f] = cfg->w;
    for (int i = 0; i < cfg->num_inner_mlps; i++)
        linear_init_uniform(p.mlp_inner + (size_t)i * (F * F + F), F * F + F, cfg->filter_order, rng);
    linear_init_uniform(p.mlp_out_w, C * F, cfg->filter_order, rng);
}

/* ---- activations and scratch ---- */

/* What forward keeps for backward. Channel-major tensors are (B, channels, L); chunk i of uc (ch_i) is
 * channels [iD, (i+1)D) of each batch entry, so it is read with a batch stride of (o+1) D L. */
typedef struct HyenaActs {
    float *proj;   /* (B, (o+1)D, L) in_proj output, channel-major: the short conv input */
    float *uc;     /* (B, (o+1)D, L) short conv output */
    float *gated;  /* (o-1) x (B, D, L): a_j = v_j * ch_{o-1-j}, input of long conv j */
    float *conv;   /* (o-1) x (B, D, L): v_{j+1}, output of long conv j */
    float *y_gate; /* (B, L, D) v_{o-1} * ch_0, row-major: the out_proj input */
    HyenaFilterActs filter;
} HyenaActs;

/* Takes const so backward can use it; forward writes through the same views. */
static HyenaActs hyena_acts(const HyenaConfig *cfg, const float *act, int B, int L)
{
    const size_t D = (size_t)cfg->d_model, o = (size_t)cfg->order;
    const size_t wide = ws_floats_for((size_t)B * (o + 1) * D * L), narrow = ws_floats_for((size_t)B * D * L);
    HyenaActs a;
    a.proj = (float *)act;
    a.uc = a.proj + wide;
    a.gated = a.uc + wide;
    a.conv = a.gated + (o - 1) * narrow;
    a.y_gate = a.conv + (o - 1) * narrow;
    a.filter = hyena_filter_acts(cfg, a.y_gate + narrow, L);
    return a;
}

size_t hyena_act_floats(const HyenaConfig *cfg, int B, int L)
{
    const size_t D = (size_t)cfg->d_model, o = (size_t)cfg->order;
    const size_t wide = ws_floats_for((size_t)B * (o + 1) * D * L), narrow = ws_floats_for((size_t)B * D * L);
    return 2 * wide + (2 * (o - 1) + 1) * narrow + hyena_filter_act_floats(cfg, L);
}

/* Forward takes: proj_row, gate; backward: dgate_row, dgate, dconv_in, duc, dh, dproj, then the engine's
 * or the filter's scratch (taken one after the other, each released before the next). */
size_t hyena_workspace_floats(const HyenaConfig *cfg, int B, int L)
{
    const size_t D = (size_t)cfg->d_model, o = (size_t)cfg->order;
    const size_t wide = ws_floats_for((size_t)B * (o + 1) * D * L), narrow = ws_floats_for((size_t)B * D * L);
    const size_t dh = ws_floats_for((size_t)hyena_filter_channels(cfg) * L);
    size_t engine = fftconv_cm_workspace_floats(L), filter = hyena_filter_workspace_floats(cfg, L);
    size_t forward = wide + narrow + engine;
    size_t backward = 3 * narrow + 2 * wide + dh + (engine > filter ? engine : filter);
    return forward > backward ? forward : backward;
}

/* ---- elementwise pieces (channel-major) ---- */

/* out = a * b over B blocks of n floats; each operand has its own batch stride (chunks of uc are strided). */
static void gate_product(const float *a, size_t a_stride, const float *b, size_t b_stride, float *out,
                         size_t out_stride, int B, size_t n)
{
    const size_t block = 4096, blocks = (n + block - 1) / block;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * n > 32768)
    for (int bt = 0; bt < B; bt++)
        for (size_t k = 0; k < blocks; k++) {
            const float *pa = a + bt * a_stride, *pb = b + bt * b_stride;
            float *po = out + bt * out_stride;
            size_t end = (k + 1) * block < n ? (k + 1) * block : n;
#pragma omp simd
            for (size_t i = k * block; i < end; i++)
                po[i] = pa[i] * pb[i];
        }
}

/* Causal depthwise conv (Conv1d groups = channels, padding K-1, first L outputs), channel-major:
 * out[b, c, t] = bias[c] + sum_i w[c, i] in[b, c, t - (K-1) + i], with in[negative] = 0. */
static void short_conv_forward(const float *in, const float *w, const float *bias, float *out, int B, int channels,
                               int L, int K)
{
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < channels; c++) {
            const float *x = in + ((size_t)b * channels + c) * L;
            float *y = out + ((size_t)b * channels + c) * L;
            for (int t = 0; t < L; t++)
                y[t] = bias[c];
            for (int i = 0; i < K; i++) {
                const int lag = K - 1 - i;
                const float wi = w[(size_t)c * K + i];
#pragma omp simd
                for (int t = lag; t < L; t++)
                    y[t] += wi * x[t - lag];
            }
        }
}

/* Backward of short_conv_forward: din (written), dw and dbias (+=). Parallel over channels so each
 * channel's tap gradients are summed by one thread over the batch (no reduction across threads).
 * Also dbias_in (+=) = sums of din over (b, t): the in_proj bias gradient, fused here because each sum is
 * one contiguous channel-major row, where gemm_linear_backward_params would walk (B L, channels) columns. */
static void short_conv_backward(const float *in, const float *w, const float *dout, float *din, float *dw,
                                float *dbias, float *dbias_in, int B, int channels, int L, int K)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < channels; c++) {
        double grad_w[HYENA_MAX_SHORT_FILTER] = {0}, grad_b = 0.0, grad_in_b = 0.0;
        for (int b = 0; b < B; b++) {
            const size_t row = ((size_t)b * channels + c) * L;
            const float *x = in + row, *g = dout + row;
            float *dx = din + row;
            memset(dx, 0, (size_t)L * sizeof(float));
            /* simd reductions: without them the double sums are one serial dependency chain. */
#pragma omp simd reduction(+ : grad_b)
            for (int t = 0; t < L; t++)
                grad_b += g[t];
            for (int i = 0; i < K; i++) {
                const int lag = K - 1 - i;
                const float wi = w[(size_t)c * K + i];
                double acc = 0.0;
#pragma omp simd reduction(+ : acc)
                for (int t = lag; t < L; t++) {
                    acc += (double)g[t] * x[t - lag];
                    dx[t - lag] += wi * g[t];
                }
                grad_w[i] += acc;
            }
#pragma omp simd reduction(+ : grad_in_b)
            for (int t = 0; t < L; t++)
                grad_in_b += dx[t];
        }
        dbias[c] += (float)grad_b;
        dbias_in[c] += (float)grad_in_b;
        for (int i = 0; i < K; i++)
            dw[(size_t)c * K + i] += (float)grad_w[i];
    }
}

/* ---- forward ---- */

/* The recurrence v_0 = ch_o; a_j = v_j * ch_{o-1-j}; v_{j+1} = h_j (*) a_j + beta_j a_j, j = 0 .. o-2.
 * Each long convolution's engine scratch is released after the call (the Workspace is a bump allocator),
 * so the o-1 calls share one region. */
static void recurrence_forward(const HyenaConfig *cfg, const HyenaParams *p, const HyenaActs *a, int B, int L,
                               Workspace *ws)
{
    const int D = cfg->d_model, o = cfg->order;
    const size_t DL = (size_t)D * L, wide = (size_t)(o + 1) * DL, narrow = ws_floats_for((size_t)B * DL);
    for (int j = 0; j < o - 1; j++) {
        const float *v = j == 0 ? a->uc + (size_t)o * DL : a->conv + (size_t)(j - 1) * narrow;
        const float *gate = a->uc + (size_t)(o - 1 - j) * DL;
        float *gated = a->gated + (size_t)j * narrow, *out = a->conv + (size_t)j * narrow;
        gate_product(v, j == 0 ? wide : DL, gate, wide, gated, DL, B, DL);
        size_t mark = ws->used;
        fftconv_cm_forward(a->filter.h + (size_t)j * DL, L, p->filter_bias + (size_t)j * D, gated, out, B, D, L, NULL,
                           ws);
        ws->used = mark;
    }
}

void hyena_forward(const HyenaConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                   Workspace *ws)
{
    const int D = cfg->d_model, o = cfg->order, Dn = (o + 1) * D;
    const size_t DL = (size_t)D * L, narrow = ws_floats_for((size_t)B * DL);
    HyenaParams p = hyena_params_view(cfg, params);
    HyenaActs a = hyena_acts(cfg, act, B, L);
    float *proj_row = ws_take(ws, (size_t)B * L * Dn); /* (B, L, (o+1)D) */
    float *gate = ws_take(ws, (size_t)B * DL);           /* (B, D, L) v_{o-1} * ch_0 */
    gemm_linear_forward(x, p.in_w, p.in_b, proj_row, B * L, D, Dn);
    core_transpose(proj_row, a.proj, B, L, Dn);
    short_conv_forward(a.proj, p.short_w, p.short_b, a.uc, B, Dn, L, cfg->short_filter_order);
    hyena_filter_forward(cfg, &p, &a.filter, L);
    recurrence_forward(cfg, &p, &a, B, L, ws);
    gate_product(a.conv + (size_t)(o - 2) * narrow, DL, a.uc, (size_t)Dn * L, gate, DL, B, DL);
    core_transpose(gate, a.y_gate, B, D, L);
    gemm_linear_forward(a.y_gate, p.out_w, p.out_b, y, B * L, D, D);
}

/* ---- backward ---- */

/* Backward scratch, all channel-major except dgate_row. */
typedef struct HyenaGrads {
    float *dgate;    /* (B, D, L) gradient of v_{o-1} * ch_0 */
    float *dv;       /* (B, D, L) gradient of the current v_{j+1} (aliases the dead dgate_row) */
    float *dconv_in; /* (B, D, L) gradient of a_j, the long convolution's input */
    float *duc;      /* (B, (o+1)D, L) gradient of the short conv output */
    float *dh;       /* (C, L) gradient of the filter */
} HyenaGrads;

/* From dgate to duc (all chunks) and dh, through the recurrence in reverse; filter_fn.bias += there. */
static void recurrence_backward(const HyenaConfig *cfg, const HyenaParams *p, const HyenaParams *g,
                                const HyenaActs *a, const HyenaGrads *s, int B, int L, Workspace *ws)
{
    const int D = cfg->d_model, o = cfg->order;
    const size_t DL = (size_t)D * L, wide = (size_t)(o + 1) * DL, narrow = ws_floats_for((size_t)B * DL);
    gate_product(s->dgate, DL, a->conv + (size_t)(o - 2) * narrow, DL, s->duc, wide, B, DL); /* d ch_0 */
    gate_product(s->dgate, DL, a->uc, wide, s->dv, DL, B, DL);                               /* d v_{o-1} */
    for (int j = o - 2; j >= 0; j--) {
        const size_t i = (size_t)(o - 1 - j); /* a_j = v_j * ch_i */
        size_t mark = ws->used;
        fftconv_cm_backward(a->filter.h + (size_t)j * DL, L, p->filter_bias + (size_t)j * D,
                            a->gated + (size_t)j * narrow, s->dv, s->dconv_in, s->dh + (size_t)j * DL,
                            g->filter_bias + (size_t)j * D, B, D, L, ws);
        ws->used = mark;
        const float *v = j == 0 ? a->uc + (size_t)o * DL : a->conv + (size_t)(j - 1) * narrow;
        gate_product(s->dconv_in, DL, v, j == 0 ? wide : DL, s->duc + i * DL, wide, B, DL); /* d ch_i */
        /* d v_j: into the next iteration's dv, or for v_0 = ch_o straight into its chunk of duc. */
        float *dv_out = j == 0 ? s->duc + (size_t)o * DL : s->dv;
        gate_product(s->dconv_in, DL, a->uc + i * DL, wide, dv_out, j == 0 ? wide : DL, B, DL);
    }
}

void hyena_backward(const HyenaConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                    float *dx, float *dparams, int B, int L, Workspace *ws)
{
    const int D = cfg->d_model, Dn = (cfg->order + 1) * D;
    const size_t BDL = (size_t)B * D * L, wide = (size_t)B * Dn * L;
    const size_t CL = (size_t)hyena_filter_channels(cfg) * L;
    HyenaParams p = hyena_params_view(cfg, params), g = hyena_params_view(cfg, dparams);
    HyenaActs a = hyena_acts(cfg, act, B, L);
    float *dgate_row = ws_take(ws, BDL); /* (B, L, D) */
    HyenaGrads s = {.dgate = ws_take(ws, BDL), .dv = dgate_row, .dconv_in = ws_take(ws, BDL),
                    .duc = ws_take(ws, wide), .dh = ws_take(ws, CL)};
    float *dproj = ws_take(ws, wide); /* (B, (o+1)D, L) */

    gemm_linear_backward_params(dy, a.y_gate, g.out_w, g.out_b, B * L, D, D);
    gemm_linear_backward_input(dy, p.out_w, dgate_row, B * L, D, D, 0.0f);
    core_transpose(dgate_row, s.dgate, B, L, D);
    memset(s.dh, 0, CL * sizeof(float)); /* the engine accumulates dk */
    recurrence_backward(cfg, &p, &g, &a, &s, B, L, ws);
    size_t mark = ws->used;
    hyena_filter_backward(cfg, &p, &a.filter, s.dh, &g, L, ws);
    ws->used = mark;
    short_conv_backward(a.proj, p.short_w, s.duc, dproj, g.short_w, g.short_b, g.in_b, B, Dn, L,
                        cfg->short_filter_order);
    float *dproj_row = s.duc; /* (B, L, (o+1)D): duc is dead once the short conv backward has run */
    core_transpose(dproj, dproj_row, B, Dn, L);
    gemm_linear_backward_params(dproj_row, x, g.in_w, NULL, B * L, D, Dn); /* in_proj.bias: above */
    gemm_linear_backward_input(dproj_row, p.in_w, dx, B * L, D, Dn, 0.0f);
}

/* ---- FLOPs ---- */

/* Taps a causal kernel of K applies over L outputs (those reaching before t = 0 are padding, not work). */
static double short_conv_taps(int L, int K)
{
    double taps = 0.0;
    for (int lag = 0; lag < K; lag++)
        taps += lag < L ? (double)(L - lag) : 0.0;
    return taps;
}

/* Forward: in_proj and out_proj (gemm convention: 2 per multiply-add, 1 per bias add); the short conv,
 * per channel and batch entry 2 per tap + 1 per output for the bias; the filter (hyena_filter_flops, once
 * per call: it does not depend on the batch); o gate products of B D L each (o-1 before the long
 * convolutions, one final); o-1 long convolutions (fftconv_cm_flops, including the beta skip).
 * Backward: the same projections' backward; 2 per gate element (both factors' gradients); the long
 * convolutions' backward; the filter's backward; the short conv's backward, per channel and batch entry
 * 1 per output (bias) + 2 per tap for the weights + 2 per tap for the input. */
OpFlops hyena_flops(const HyenaConfig *cfg, int B, int L)
{
    const int D = cfg->d_model, o = cfg->order, Dn = (o + 1) * D;
    const double rows = (double)B * L, taps = short_conv_taps(L, cfg->short_filter_order);
    const double gates = (double)o * B * D * L;
    OpFlops filter = hyena_filter_flops(cfg, L), conv = fftconv_cm_flops(B, D, L, 1);
    double fwd = gemm_linear_flops_forward(rows, D, Dn, 1) + (double)B * Dn * (L + 2.0 * taps) + filter.forward +
                 gates + (o - 1) * conv.forward + gemm_linear_flops_forward(rows, D, D, 1);
    double bwd = gemm_linear_flops_backward(rows, D, D, 1) + 2.0 * gates + (o - 1) * conv.backward +
                 filter.backward + (double)B * Dn * (L + 4.0 * taps) + gemm_linear_flops_backward(rows, D, Dn, 1);
    return (OpFlops){fwd, bwd};
}

size_t hyena_filter_scratch_floats(const HyenaConfig *cfg, int L) { return hyena_filter_act_floats(cfg, L); }

void hyena_filter_values(const HyenaConfig *cfg, const float *params, int L, float *scratch, float *h)
{
    HyenaParams p = hyena_params_view(cfg, params);
    HyenaFilterActs a = hyena_filter_acts(cfg, scratch, L);
    hyena_filter_forward(cfg, &p, &a, L);
    memcpy(h, a.h, (size_t)hyena_filter_channels(cfg) * L * sizeof(float));
}

/* ---- generation ---- */

/* The state's parts (hyena.h), each at an aligned offset (FFTW reads and writes the spectra in place). */
typedef struct HyenaStepState {
    float *filter;  /* cached: the filter time-major (T, C); fft: its spectra, one block per long convolution */
    float *tap0;    /* fft: the filter's first tap (C) */
    float *recent;  /* (B, K - 1, (o+1)D): projections t - K + 1 .. t - 1, oldest first */
    float *history; /* cached: the gated inputs (o - 1, B, T, D); fft: (o - 1, B) online histories */
} HyenaStepState;

/* step=modal: per filter channel, modal_order modes of lambda and R (complex double: 8 floats a mode); per
 * sequence and channel, the modes' states (complex double) and the previous input. */
static size_t modal_filter_floats(const HyenaConfig *cfg)
{
    return 8 * (size_t)hyena_filter_channels(cfg) * cfg->modal_order;
}

static size_t filter_floats(const HyenaConfig *cfg, int T)
{
    switch (cfg->step) {
    case HYENA_STEP_FFT: return (size_t)(cfg->order - 1) * fftconv_online_spectra_floats(cfg->d_model, T);
    case HYENA_STEP_MODAL: return modal_filter_floats(cfg);
    default: return (size_t)T * hyena_filter_channels(cfg);
    }
}

static size_t history_floats_per_conv(const HyenaConfig *cfg, int T)
{
    switch (cfg->step) {
    case HYENA_STEP_FFT: return fftconv_online_history_floats(cfg->d_model, T);
    case HYENA_STEP_MODAL: return ws_floats_for(4 * (size_t)cfg->d_model * cfg->modal_order + cfg->d_model);
    default: return (size_t)T * cfg->d_model;
    }
}

/* The modes of filter channel c in the state's filter block: lambda_re, lambda_im, r_re, r_im, each (C, order). */
static ModalFilter modal_view(const HyenaConfig *cfg, float *filter, int c)
{
    double *base = (double *)(void *)filter;
    const size_t plane = (size_t)hyena_filter_channels(cfg) * cfg->modal_order, at = (size_t)c * cfg->modal_order;
    return (ModalFilter){cfg->modal_order, base + at, base + plane + at, base + 2 * plane + at, base + 3 * plane + at};
}

/* One long convolution of one sequence by the distilled modes: z_n = lambda_n z_n + x_prev, then
 * v = h0 a + beta a + 2 Re sum_n R_n z_n, x_prev = a. */
static void modal_conv_step(const HyenaConfig *cfg, const HyenaStepState *s, int j, float *hist, const float *beta,
                            const float *a, float *v)
{
    const int D = cfg->d_model, M = cfg->modal_order;
    double *z = (double *)(void *)hist; /* (D, M) re, then (D, M) im */
    float *prev = hist + 4 * (size_t)D * M;
    for (int d = 0; d < D; d++) {
        const ModalFilter f = modal_view(cfg, s->filter, j * D + d);
        double *zr = z + (size_t)d * M, *zi = z + (size_t)D * M + (size_t)d * M, acc = 0.0;
        const double x_prev = prev[d];
#pragma omp simd reduction(+ : acc)
        for (int m = 0; m < M; m++) {
            const double re = f.lambda_re[m] * zr[m] - f.lambda_im[m] * zi[m] + x_prev;
            const double im = f.lambda_re[m] * zi[m] + f.lambda_im[m] * zr[m];
            zr[m] = re, zi[m] = im;
            acc += f.r_re[m] * re - f.r_im[m] * im;
        }
        v[d] = (float)(2.0 * acc) + (s->tap0[j * D + d] + beta[d]) * a[d];
        prev[d] = a[d];
    }
}

static HyenaStepState step_state(const HyenaConfig *cfg, float *state, int B, int T)
{
    const size_t Dn = (size_t)(cfg->order + 1) * cfg->d_model, K = (size_t)cfg->short_filter_order;
    HyenaStepState s;
    s.filter = state;
    s.tap0 = s.filter + ws_floats_for(filter_floats(cfg, T));
    s.recent = s.tap0 + ws_floats_for((size_t)hyena_filter_channels(cfg));
    s.history = s.recent + ws_floats_for((size_t)B * (K - 1) * Dn);
    return s;
}

size_t hyena_state_floats(const HyenaConfig *cfg, int B, int T)
{
    const size_t Dn = (size_t)(cfg->order + 1) * cfg->d_model, K = (size_t)cfg->short_filter_order;
    return ws_floats_for(filter_floats(cfg, T)) + ws_floats_for((size_t)hyena_filter_channels(cfg)) +
           ws_floats_for((size_t)B * (K - 1) * Dn) + (size_t)(cfg->order - 1) * B * history_floats_per_conv(cfg, T);
}

size_t hyena_step_workspace_floats(const HyenaConfig *cfg, int B, int T)
{
    const size_t D = (size_t)cfg->d_model, Dn = (size_t)(cfg->order + 1) * D;
    const size_t online = cfg->step == HYENA_STEP_FFT ? fftconv_online_workspace_floats(T) : 0;
    const size_t first = ws_floats_for(hyena_filter_act_floats(cfg, T)) + online;
    const size_t each = 2 * ws_floats_for((size_t)B * Dn) + 2 * ws_floats_for((size_t)B * D) + online;
    return first > each ? first : each;
}

/* The short causal convolution at one position: uc[c] = bias[c] + sum_i w[c, i] in[t - (K-1) + i][c], where the
 * last tap is the current projection and the earlier ones are the recent rows (zero before position 0). Then the
 * current projection joins the recent rows. */
static void step_short_conv(const HyenaParams *p, float *recent, const float *proj, float *uc, int channels, int K)
{
    for (int c = 0; c < channels; c++) {
        const float *w = p->short_w + (size_t)c * K;
        float acc = p->short_b[c];
        for (int i = 0; i < K - 1; i++)
            acc += w[i] * recent[(size_t)i * channels + c];
        uc[c] = acc + w[K - 1] * proj[c];
    }
    if (K > 1) {
        memmove(recent, recent + channels, (size_t)(K - 2) * channels * sizeof(float));
        memcpy(recent + (size_t)(K - 2) * channels, proj, (size_t)channels * sizeof(float));
    }
}

/* At t = 0: the filter on the l_max grid (its first T taps, those of any forward of length <= T), kept as the
 * method needs it. */
static void step_prepare(const HyenaConfig *cfg, const HyenaParams *p, const HyenaStepState *s, int T, Workspace *ws)
{
    const int D = cfg->d_model, C = hyena_filter_channels(cfg);
    const size_t mark = ws->used;
    HyenaFilterActs f = hyena_filter_acts(cfg, ws_take(ws, hyena_filter_act_floats(cfg, T)), T);
    hyena_filter_forward(cfg, p, &f, T);
    for (int c = 0; c < C; c++)
        s->tap0[c] = f.h[(size_t)c * T];
    if (cfg->step == HYENA_STEP_MODAL) {
        for (int c = 0; c < C; c++) {
            ModalFilter m = modal_view(cfg, s->filter, c);
            modal_fit(f.h + (size_t)c * T, T, cfg->modal_order, &m); /* a failed fit leaves zero modes */
        }
    } else if (cfg->step == HYENA_STEP_FFT) {
        for (int j = 0; j < cfg->order - 1; j++) {
            const size_t before = ws->used;
            fftconv_online_prepare(f.h + (size_t)j * D * T, (size_t)T, D, T,
                                   s->filter + (size_t)j * fftconv_online_spectra_floats(D, T), ws);
            ws->used = before;
        }
    } else {
        core_transpose(f.h, s->filter, 1, C, T); /* (C, T) -> (T, C) */
    }
    ws->used = mark;
}

/* Long convolution j of sequence b at position t: a (D) in, v (D) out. */
static void step_long_conv(const HyenaConfig *cfg, const HyenaParams *p, const HyenaStepState *s, int j, int b, int B,
                           const float *a, float *v, int t, int T, Workspace *ws)
{
    const int D = cfg->d_model, C = hyena_filter_channels(cfg);
    float *hist = s->history + ((size_t)j * B + b) * history_floats_per_conv(cfg, T);
    const float *beta = p->filter_bias + (size_t)j * D;
    if (cfg->step == HYENA_STEP_MODAL) {
        modal_conv_step(cfg, s, j, hist, beta, a, v);
        return;
    }
    if (cfg->step == HYENA_STEP_FFT) {
        const size_t mark = ws->used;
        fftconv_online_step(s->filter + (size_t)j * fftconv_online_spectra_floats(D, T), s->tap0 + (size_t)j * D, 1,
                            beta, a, hist, v, D, t, T, ws);
        ws->used = mark;
        return;
    }
    memcpy(hist + (size_t)t * D, a, (size_t)D * sizeof(float));
    fftconv_cached_step(s->filter + (size_t)j * D, (size_t)C, hist, (size_t)D, beta, v, D, t);
}

void hyena_step(const HyenaConfig *cfg, const float *params, const float *x, float *y, float *state, int B, int t,
                int T, Workspace *ws)
{
    const int D = cfg->d_model, o = cfg->order, Dn = (o + 1) * D, K = cfg->short_filter_order;
    HyenaParams p = hyena_params_view(cfg, params);
    HyenaStepState s = step_state(cfg, state, B, T);
    if (t == 0) {
        step_prepare(cfg, &p, &s, T, ws);
        memset(s.recent, 0, (size_t)B * (K - 1) * Dn * sizeof(float));
    }
    float *proj = ws_take(ws, (size_t)B * Dn), *uc = ws_take(ws, (size_t)B * Dn);
    float *v = ws_take(ws, (size_t)B * D), *out = ws_take(ws, (size_t)B * D);
    gemm_linear_forward(x, p.in_w, p.in_b, proj, B, D, Dn);
    for (int b = 0; b < B; b++) {
        float *ucb = uc + (size_t)b * Dn, *vb = v + (size_t)b * D, *a = out + (size_t)b * D;
        step_short_conv(&p, s.recent + (size_t)b * (K - 1) * Dn, proj + (size_t)b * Dn, ucb, Dn, K);
        memcpy(vb, ucb + (size_t)o * D, (size_t)D * sizeof(float)); /* v_0 = ch_o */
        for (int j = 0; j < o - 1; j++) {
            const float *gate = ucb + (size_t)(o - 1 - j) * D;
            for (int d = 0; d < D; d++)
                a[d] = vb[d] * gate[d]; /* a_j, in out's row until the last gate */
            step_long_conv(cfg, &p, &s, j, b, B, a, vb, t, T, ws);
        }
        for (int d = 0; d < D; d++)
            a[d] = vb[d] * ucb[d]; /* v_{o-1} * ch_0 */
    }
    gemm_linear_forward(out, p.out_w, p.out_b, y, B, D, D);
}

double hyena_step_flops(const HyenaConfig *cfg, int B, int t, int T)
{
    const int D = cfg->d_model, o = cfg->order, Dn = (o + 1) * D, K = cfg->short_filter_order;
    const double conv = cfg->step == HYENA_STEP_FFT     ? B * fftconv_online_step_flops(D, t, T)
                        : cfg->step == HYENA_STEP_MODAL ? (double)B * D * (12.0 * cfg->modal_order + 4.0)
                                                        : fftconv_step_flops(B, D, t);
    return gemm_linear_flops_forward(B, D, Dn, 1) + (double)B * Dn * 2.0 * K + (o - 1) * (D * 1.0 * B + conv) +
           (double)B * D + gemm_linear_flops_forward(B, D, D, 1);
}

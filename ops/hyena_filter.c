#include "hyena_filter.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "gemm.h"

/* glibc's libmvec has vector sinf, cosf and expf, but math.h announces them only under -ffast-math; declaring
 * them SIMD-callable lets the activation loops vectorise (as in gelu.c). Results differ from the scalar
 * functions by a few ulp. */
__attribute__((__simd__("notinbranch"))) float sinf(float);
__attribute__((__simd__("notinbranch"))) float cosf(float);
__attribute__((__simd__("notinbranch"))) float expf(float);

#define FILTER_PARALLEL_MIN 16384 /* elements below which a loop stays on one thread */

int hyena_filter_channels(const HyenaConfig *cfg) { return (cfg->order - 1) * cfg->d_model; }

/* Same order and sizes as hyena_param_specs (test_hyena checks the two agree). */
HyenaParams hyena_params_view(const HyenaConfig *cfg, const float *block)
{
    const size_t D = (size_t)cfg->d_model, Dn = (size_t)(cfg->order + 1) * D, K = (size_t)cfg->short_filter_order;
    const size_t C = (size_t)hyena_filter_channels(cfg), E = (size_t)cfg->emb_dim, F = (size_t)cfg->filter_order;
    float *p = (float *)block;
    HyenaParams v;
    v.in_w = p, p += Dn * D;
    v.in_b = p, p += Dn;
    v.out_w = p, p += D * D;
    v.out_b = p, p += D;
    v.short_w = p, p += Dn * K;
    v.short_b = p, p += Dn;
    v.filter_bias = p, p += C;
    v.z = p, p += (size_t)cfg->l_max * E;
    hyena_filter_mlp_view(&v, p, (int)E, (int)F, cfg->num_inner_mlps);
    return v;
}

void hyena_filter_mlp_view(HyenaParams *v, float *p, int emb_dim, int filter_order, int num_inner_mlps)
{
    const size_t E = (size_t)emb_dim, F = (size_t)filter_order;
    v->mlp_in_w = p, p += F * E;
    v->mlp_in_b = p, p += F;
    v->freq = p, p += F;
    v->mlp_inner = p, p += (size_t)num_inner_mlps * (F * F + F);
    v->mlp_out_w = p;
}

/* ---- deterministic buffers ---- */

/* torch.linspace's float32 formula (torch 1.13 CPU): the first half counts up from start, the second half
 * down from end, each with one fused multiply-add (fmaf makes this independent of compiler contraction).
 * torch's vectorised main loop can differ from it by 1 ulp in a few entries. */
float hyena_linspace(float start, float end, int n, int i)
{
    if (n == 1)
        return start;
    float step = (end - start) / (float)(n - 1);
    return i < n / 2 ? fmaf(step, (float)i, start) : fmaf(-step, (float)(n - 1 - i), end);
}

/* ExponentialModulation: linspace(log(target)/slow_decay_pct, log(target)/fast_decay_pct, C), the bounds in
 * double as Python computes them, then rounded to float32 as torch.linspace does with its scalar bounds. */
float hyena_delta(const HyenaConfig *cfg, int c)
{
    double log_target = log((double)cfg->target);
    float max_decay = (float)(log_target / cfg->fast_decay_pct);
    float min_decay = (float)(log_target / cfg->slow_decay_pct);
    return hyena_linspace(min_decay, max_decay, hyena_filter_channels(cfg), c);
}

/* PositionalEmbedding: z[l] = [t_l, cos(f_j w_l) (j < bands), -sin(f_j w_l) (j < bands)], with
 * t_l = linspace(0, 1, l_max)[l], w_l = fl32(2 pi) * linspace(0, l_max-1, l_max)[l] / l_max (float32, a real
 * division as in torch) and f = linspace(1e-4, bands-1, bands). */
void hyena_init_pos_emb(const HyenaConfig *cfg, float *z)
{
    const int n = cfg->l_max, E = cfg->emb_dim, bands = (E - 1) / 2;
    const float two_pi = (float)(2.0 * M_PI);
    for (int l = 0; l < n; l++) {
        float *row = z + (size_t)l * E;
        float w = two_pi * hyena_linspace(0.0f, (float)(n - 1), n, l) / (float)n;
        row[0] = hyena_linspace(0.0f, 1.0f, n, l);
        for (int j = 0; j < bands; j++) {
            float arg = hyena_linspace(1e-4f, (float)(bands - 1), bands, j) * w;
            row[1 + j] = cosf(arg);
            row[1 + bands + j] = -sinf(arg);
        }
    }
}

/* ---- layout ---- */

size_t hyena_filter_act_floats(const HyenaConfig *cfg, int L)
{
    size_t layers = (size_t)cfg->num_inner_mlps + 1, LF = (size_t)L * cfg->filter_order;
    size_t CL = (size_t)hyena_filter_channels(cfg) * L;
    return ws_floats_for((size_t)L) + 2 * layers * ws_floats_for(LF) + 2 * ws_floats_for(CL);
}

HyenaFilterActs hyena_filter_acts(const HyenaConfig *cfg, float *base, int L)
{
    size_t layers = (size_t)cfg->num_inner_mlps + 1, LF = ws_floats_for((size_t)L * cfg->filter_order);
    size_t CL = ws_floats_for((size_t)hyena_filter_channels(cfg) * L);
    HyenaFilterActs a;
    a.t = base;
    a.pre = a.t + ws_floats_for((size_t)L);
    a.post = a.pre + layers * LF;
    a.decay = a.post + layers * LF;
    a.h = a.decay + CL;
    return a;
}

/* Layer i's activations inside pre/post (each layer padded to the alignment). */
static size_t layer_stride(const HyenaConfig *cfg, int L) { return ws_floats_for((size_t)L * cfg->filter_order); }

static size_t partial_floats(const HyenaConfig *cfg)
{
    return ws_floats_for((size_t)omp_get_max_threads() * cfg->filter_order);
}

size_t hyena_filter_workspace_floats(const HyenaConfig *cfg, int L)
{
    return 2 * layer_stride(cfg, L) + partial_floats(cfg);
}

/* Linear i of the MLP (0: the input layer; 1..n: the inner ones): weight (F, d_in), bias (F). */
static void mlp_layer(const HyenaConfig *cfg, const HyenaParams *p, int i, float **w, float **b, int *d_in)
{
    const size_t F = (size_t)cfg->filter_order;
    if (i == 0) {
        *w = p->mlp_in_w, *b = p->mlp_in_b, *d_in = cfg->emb_dim;
        return;
    }
    *w = p->mlp_inner + (size_t)(i - 1) * (F * F + F);
    *b = *w + F * F;
    *d_in = cfg->filter_order;
}

/* ---- forward ---- */

/* post (L, F) = sin(freq * pre), freq (F) broadcast over rows. */
static void sin_forward(const float *pre, const float *freq, float *post, int L, int F)
{
#pragma omp parallel for schedule(static) if ((long)L * F > FILTER_PARALLEL_MIN)
    for (int l = 0; l < L; l++) {
        const float *s = pre + (size_t)l * F;
        float *a = post + (size_t)l * F;
#pragma omp simd
        for (int f = 0; f < F; f++)
            a[f] = sinf(freq[f] * s[f]);
    }
}

/* decay[c, l] = exp(-t_l |delta_c|) + shift, and h *= decay, both (C, L). */
static void apply_decay(const HyenaConfig *cfg, const HyenaFilterActs *a, int L)
{
    const int C = hyena_filter_channels(cfg);
    const float shift = cfg->shift;
#pragma omp parallel for schedule(static) if ((long)C * L > FILTER_PARALLEL_MIN)
    for (int c = 0; c < C; c++) {
        const float rate = fabsf(hyena_delta(cfg, c));
        float *decay = a->decay + (size_t)c * L, *h = a->h + (size_t)c * L;
#pragma omp simd
        for (int l = 0; l < L; l++) {
            decay[l] = expf(-a->t[l] * rate) + shift;
            h[l] *= decay[l];
        }
    }
}

void hyena_filter_forward(const HyenaConfig *cfg, const HyenaParams *p, const HyenaFilterActs *a, int L)
{
    const int F = cfg->filter_order, C = hyena_filter_channels(cfg);
    const size_t stride = layer_stride(cfg, L);
    for (int l = 0; l < L; l++)
        a->t[l] = hyena_linspace(0.0f, 1.0f, cfg->l_max, l);
    const float *in = p->z; /* (L, E): the first L rows of z */
    for (int i = 0; i <= cfg->num_inner_mlps; i++) {
        float *w, *b, *s = a->pre + i * stride, *act = a->post + i * stride;
        int d_in;
        mlp_layer(cfg, p, i, &w, &b, &d_in);
        gemm_linear_forward(in, w, b, s, L, d_in, F);
        sin_forward(s, p->freq, act, L, F);
        in = act;
    }
    /* h (C, L) = W_out (C, F) a_n^T: the last Linear written channel-major, ready for fftconv. */
    gemm(false, true, C, L, F, 1.0f, p->mlp_out_w, F, in, F, 0.0f, a->h, L);
    if (cfg->modulate)
        apply_decay(cfg, a, L);
}

/* ---- backward ---- */

/* In place, over (L, F): ds = da cos(freq s) freq; dfreq += sum_l da cos(freq s) s. Each thread sums its
 * rows into its own row of partial (threads x F), reduced afterwards in thread order (deterministic). */
static void sin_backward(const float *pre, const float *freq, float *da, float *dfreq, float *partial, int L, int F)
{
    int threads = 1;
#pragma omp parallel if ((long)L * F > FILTER_PARALLEL_MIN)
    {
        float *acc = partial + (size_t)omp_get_thread_num() * F;
        memset(acc, 0, (size_t)F * sizeof(float));
#pragma omp single
        threads = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int l = 0; l < L; l++) {
            const float *s = pre + (size_t)l * F;
            float *g = da + (size_t)l * F;
#pragma omp simd
            for (int f = 0; f < F; f++) {
                float through = g[f] * cosf(freq[f] * s[f]);
                acc[f] += through * s[f];
                g[f] = through * freq[f];
            }
        }
    }
    for (int th = 0; th < threads; th++)
        for (int f = 0; f < F; f++)
            dfreq[f] += partial[(size_t)th * F + f];
}

static void scale_by_decay(const HyenaConfig *cfg, const HyenaFilterActs *a, float *dh, int L)
{
    const size_t n = (size_t)hyena_filter_channels(cfg) * L;
#pragma omp parallel for simd schedule(static) if (parallel : n > FILTER_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        dh[i] *= a->decay[i];
}

void hyena_filter_backward(const HyenaConfig *cfg, const HyenaParams *p, const HyenaFilterActs *a, float *dh,
                           const HyenaParams *g, int L, Workspace *ws)
{
    const int F = cfg->filter_order, C = hyena_filter_channels(cfg), n = cfg->num_inner_mlps;
    const size_t stride = layer_stride(cfg, L);
    float *da = ws_take(ws, stride), *dprev = ws_take(ws, stride), *partial = ws_take(ws, partial_floats(cfg));
    if (cfg->modulate)
        scale_by_decay(cfg, a, dh, L); /* dh -> d hf */
    const float *a_n = a->post + n * stride;
    gemm(false, false, C, F, L, 1.0f, dh, L, a_n, F, 1.0f, g->mlp_out_w, F); /* dW_out += dhf a_n */
    gemm(true, false, L, F, C, 1.0f, dh, L, p->mlp_out_w, F, 0.0f, da, F);  /* da_n = dhf^T W_out */
    for (int i = n; i >= 0; i--) {
        float *w, *b, *gw, *gb;
        int d_in;
        mlp_layer(cfg, p, i, &w, &b, &d_in);
        mlp_layer(cfg, g, i, &gw, &gb, &d_in);
        sin_backward(a->pre + i * stride, p->freq, da, g->freq, partial, L, F); /* da -> ds_i */
        const float *in = i > 0 ? a->post + (i - 1) * stride : p->z;
        gemm_linear_backward_params(da, in, gw, gb, L, d_in, F);
        if (i == 0) {
            gemm_linear_backward_input(da, w, g->z, L, d_in, F, 1.0f); /* dz[:L] += */
            break;
        }
        gemm_linear_backward_input(da, w, dprev, L, d_in, F, 0.0f);
        float *swap = da;
        da = dprev, dprev = swap;
    }
}

/* Forward: the MLP Linears (gemm convention), 2 per Sin element (freq multiply, sin), and with modulation
 * 4 per filter tap (t |delta| multiply, exp, + shift, times hf; negation and abs are sign flips, 0).
 * Backward: 1 per tap for dhf = dh decay (modulation only), the Linears' backward (the first one includes
 * dz, z being a parameter), and 6 per Sin element (freq s, cos, da cos, dfreq multiply-add 2, times freq). */
OpFlops hyena_filter_flops(const HyenaConfig *cfg, int L)
{
    const int E = cfg->emb_dim, F = cfg->filter_order, C = hyena_filter_channels(cfg), n = cfg->num_inner_mlps;
    const double layers = n + 1.0, LF = (double)L * F, CL = (double)C * L;
    double fwd = gemm_linear_flops_forward(L, E, F, 1) + n * gemm_linear_flops_forward(L, F, F, 1) +
                 gemm_linear_flops_forward(L, F, C, 0) + 2.0 * layers * LF + (cfg->modulate ? 4.0 * CL : 0.0);
    double bwd = (cfg->modulate ? CL : 0.0) + gemm_linear_flops_backward(L, F, C, 0) + 6.0 * layers * LF +
                 gemm_linear_flops_backward(L, E, F, 1) + n * gemm_linear_flops_backward(L, F, F, 1);
    return (OpFlops){fwd, bwd};
}

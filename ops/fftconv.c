#include "fftconv.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fft.h"

/* Per-thread scratch of the engine: one real buffer of n = 2L floats and four spectra. */
typedef struct ConvScratch {
    float *real;   /* (n) */
    float *kspec;  /* (stride) complex: the channel's kernel spectrum, scaled by 1/n */
    float *uspec;  /* (stride) complex */
    float *dspec;  /* (stride) complex */
    float *accum;  /* (stride) complex: sum over the batch of DY conj(U), for dk */
} ConvScratch;

static size_t scratch_floats_per_thread(int L)
{
    int n = 2 * L, stride = fft_spectrum_stride(n);
    return ws_floats_for((size_t)n) + 4 * ws_floats_for(2 * (size_t)stride);
}

size_t fftconv_cm_workspace_floats(int L) { return (size_t)omp_get_max_threads() * scratch_floats_per_thread(L); }

int fftconv_prepare(int L) { return fft_plan(2 * L) ? 0 : -1; }

static ConvScratch scratch_for_thread(float *base, int L)
{
    int n = 2 * L, stride = fft_spectrum_stride(n);
    size_t spec = ws_floats_for(2 * (size_t)stride);
    float *p = base + (size_t)omp_get_thread_num() * scratch_floats_per_thread(L);
    float *after_real = p + ws_floats_for((size_t)n);
    return (ConvScratch){p, after_real, after_real + spec, after_real + 2 * spec, after_real + 3 * spec};
}

/* spec = FFT(first L values of src, zero-padded to n) * scale. */
static void padded_spectrum(const FftPlan *plan, const float *src, int L, float scale, float *real, float *spec)
{
    for (int t = 0; t < L; t++)
        real[t] = src[t] * scale;
    memset(real + L, 0, (size_t)(plan->n - L) * sizeof(float));
    fft_forward(plan, real, spec);
}

size_t fftconv_cm_spectra_floats(int B, int C, int L)
{
    return ((size_t)B + 1) * C * 2 * (size_t)fft_spectrum_stride(2 * L);
}

/* Where channel c's kernel spectrum and (b, c)'s input spectrum live in a spectra block. */
static float *kernel_spectrum(float *spectra, int c, int stride) { return spectra + (size_t)c * 2 * stride; }
static float *input_spectrum(float *spectra, int b, int c, int C, int stride)
{
    return spectra + ((size_t)C + (size_t)b * C + c) * 2 * stride;
}

/* Batch entry (b, c) of the forward: uspec = FFT(u), y (L) = the causal convolution with the kernel spectrum
 * + bias_c u. */
static void forward_entry(const FftPlan *plan, ConvScratch *s, const float *kspec, float *uspec, float bias_c,
                          const float *u, float *y, int L)
{
    padded_spectrum(plan, u, L, 1.0f, s->real, uspec);
    fft_spectrum_product(uspec, kspec, s->dspec, plan->bins, 0);
    fft_backward(plan, s->dspec, s->real);
    for (int t = 0; t < L; t++)
        y[t] = s->real[t] + bias_c * u[t];
}

void fftconv_cm_forward(const float *k, int k_stride, const float *bias, const float *u, float *y, int B, int C,
                        int L, float *spectra, Workspace *ws)
{
    const FftPlan *plan = fft_plan(2 * L);
    float *base = ws_take(ws, fftconv_cm_workspace_floats(L));
    const float inv_n = 1.0f / (float)(2 * L);
#pragma omp parallel
    {
        ConvScratch s = scratch_for_thread(base, L);
#pragma omp for schedule(dynamic, 4)
        for (int c = 0; c < C; c++) {
            float *kspec = spectra ? kernel_spectrum(spectra, c, plan->stride) : s.kspec;
            padded_spectrum(plan, k + (size_t)c * k_stride, L, inv_n, s.real, kspec);
            for (int b = 0; b < B; b++) {
                const float *uc = u + ((size_t)b * C + c) * L;
                float *yc = y + ((size_t)b * C + c) * L;
                float *uspec = spectra ? input_spectrum(spectra, b, c, C, plan->stride) : s.uspec;
                forward_entry(plan, &s, kspec, uspec, bias ? bias[c] : 0.0f, uc, yc, L);
            }
        }
    }
}

/* sum_t a[t] b[t] of two real n-point signals from their half spectra's product P_f = A_f conj(B_f)
 * (Parseval): (P_0 + P_{n/2} + 2 sum_{0<f<n/2} Re P_f) / n, for even n. */
static double parseval_dot(const float *product, int bins, int n)
{
    double sum = (double)product[0] + (double)product[2 * (bins - 1)];
    for (int f = 1; f < bins - 1; f++)
        sum += 2.0 * product[2 * f];
    return sum / n;
}

/* Batch entry (b, c) of the backward from its spectra: du (L) = the correlation DY conj(K) + bias dy, and the
 * kernel gradient's spectrum accumulates DY conj(U) in s->accum. */
static void backward_entry(const FftPlan *plan, ConvScratch *s, float *accum, const float *kspec, const float *uspec,
                           float bias_c, const float *dy, float *du, int L)
{
    padded_spectrum(plan, dy, L, 1.0f, s->real, s->dspec);
    fft_spectrum_accumulate_conj(accum, s->dspec, uspec, plan->bins);
    fft_spectrum_product(s->dspec, kspec, s->dspec, plan->bins, 1);
    fft_backward(plan, s->dspec, s->real);
    for (int t = 0; t < L; t++)
        du[t] = s->real[t] + bias_c * dy[t];
}

/* A channel's dk (+= the inverse of the accumulated spectrum, scaled by 1/n) and dbias (+= sum_b sum_t dy u,
 * from the same spectrum by Parseval: u itself is not needed). */
static void backward_finish(const FftPlan *plan, ConvScratch *s, float *accum, float *dkc, float *dbias_c, int L)
{
    if (dbias_c)
        *dbias_c += (float)parseval_dot(accum, plan->bins, plan->n);
    fft_backward(plan, accum, s->real);
    const float inv_n = 1.0f / (float)plan->n;
    for (int t = 0; t < L; t++)
        dkc[t] += s->real[t] * inv_n;
}

/* One channel of the backward: du for every batch entry, and this channel's dk and dbias. */
static void backward_channel(const FftPlan *plan, ConvScratch *s, const float *kc, float bias_c, const float *u,
                             const float *dy, float *du, float *dkc, float *dbias_c, int B, int C, int L, int c)
{
    padded_spectrum(plan, kc, L, 1.0f / (float)plan->n, s->real, s->kspec);
    memset(s->accum, 0, 2 * (size_t)plan->bins * sizeof(float));
    for (int b = 0; b < B; b++) {
        size_t row = ((size_t)b * C + c) * L;
        padded_spectrum(plan, u + row, L, 1.0f, s->real, s->uspec);
        backward_entry(plan, s, s->accum, s->kspec, s->uspec, bias_c, dy + row, du + row, L);
    }
    backward_finish(plan, s, s->accum, dkc, dbias_c, L);
}

void fftconv_cm_backward(const float *k, int k_stride, const float *bias, const float *u, const float *dy, float *du,
                         float *dk, float *dbias, int B, int C, int L, Workspace *ws)
{
    const FftPlan *plan = fft_plan(2 * L);
    float *base = ws_take(ws, fftconv_cm_workspace_floats(L));
#pragma omp parallel
    {
        ConvScratch s = scratch_for_thread(base, L);
#pragma omp for schedule(dynamic, 4)
        for (int c = 0; c < C; c++)
            backward_channel(plan, &s, k + (size_t)c * k_stride, bias ? bias[c] : 0.0f, u, dy, du,
                             dk + (size_t)c * k_stride, bias ? dbias + c : NULL, B, C, L, c);
    }
}

/* One channel of the backward from the forward's spectra: no transform of u or k. */
static void backward_channel_from_spectra(const FftPlan *plan, ConvScratch *s, float *spectra, float bias_c,
                                          const float *dy, float *du, float *dkc, float *dbias_c, int B, int C,
                                          int L, int c)
{
    const float *kspec = kernel_spectrum(spectra, c, plan->stride);
    memset(s->accum, 0, 2 * (size_t)plan->bins * sizeof(float));
    for (int b = 0; b < B; b++) {
        size_t row = ((size_t)b * C + c) * L;
        backward_entry(plan, s, s->accum, kspec, input_spectrum(spectra, b, c, C, plan->stride), bias_c, dy + row,
                       du + row, L);
    }
    backward_finish(plan, s, s->accum, dkc, dbias_c, L);
}

void fftconv_cm_backward_from_spectra(float *spectra, const float *bias, const float *dy, float *du, float *dk,
                                      int k_stride, float *dbias, int B, int C, int L, Workspace *ws)
{
    const FftPlan *plan = fft_plan(2 * L);
    float *base = ws_take(ws, fftconv_cm_workspace_floats(L));
#pragma omp parallel
    {
        ConvScratch s = scratch_for_thread(base, L);
#pragma omp for schedule(dynamic, 4)
        for (int c = 0; c < C; c++)
            backward_channel_from_spectra(plan, &s, spectra, bias ? bias[c] : 0.0f, dy, du,
                                          dk + (size_t)c * k_stride, bias ? dbias + c : NULL, B, C, L, c);
    }
}

/* Real FFT of n points: 2.5 n log2 n. Spectrum product: 6 per bin (complex multiply), + 2 per bin for an
 * accumulating one. Forward per channel: kernel FFT (scaling L) + per batch entry: FFT, product, inverse,
 * skip 2L (multiply-add; without bias 0). Backward per channel: kernel FFT + scaling, per batch entry two
 * FFTs (u, dy), the accumulating product, the du product, an inverse, du skip 2L; then the dbias Parseval
 * sum (2 per bin) and the dk inverse with its scaled accumulation 2L. */
OpFlops fftconv_cm_flops(int B, int C, int L, int has_bias)
{
    double n = 2.0 * L, bins = L + 1.0, fft = 2.5 * n * log2(n);
    double skip = has_bias ? 2.0 * L : 0.0, parseval = has_bias ? 2.0 * bins : 0.0;
    double fwd = C * (fft + L) + (double)B * C * (2.0 * fft + 6.0 * bins + skip);
    double bwd = C * (fft + L) + (double)B * C * (3.0 * fft + 14.0 * bins + skip) + C * (fft + 2.0 * L + parseval);
    return (OpFlops){fwd, bwd};
}

/* ---- the registered (B, L, D) operator ---- */

const ConfigField fftconv_config_fields[] = {
    {"d_model", CONFIG_INT, offsetof(FftconvConfig, d_model), "64", NULL, "channels D"},
    {"l_max", CONFIG_INT, offsetof(FftconvConfig, l_max), "1024", NULL, "kernel length; inputs have L <= l_max"},
};
const int fftconv_config_field_count = 2;

int fftconv_validate(const FftconvConfig *cfg, char *err, size_t errlen)
{
    if (cfg->d_model < 1 || cfg->l_max < 1) {
        snprintf(err, errlen, "fftconv: need d_model >= 1 and l_max >= 1");
        return -1;
    }
    return 0;
}

int fftconv_param_specs(const FftconvConfig *cfg, ParamSpec *out)
{
    size_t off = core_spec(&out[0], "k", 0, 2, (int[]){cfg->d_model, cfg->l_max});
    core_spec(&out[1], "bias", off, 1, (int[]){cfg->d_model});
    return 2;
}

void fftconv_init(const FftconvConfig *cfg, float *params, Rng *rng)
{
    size_t nk = (size_t)cfg->d_model * cfg->l_max;
    rng_fill_normal(rng, params, nk, 0.0f, 1.0f / sqrtf((float)cfg->l_max));
    rng_fill_normal(rng, params + nk, (size_t)cfg->d_model, 0.0f, 1.0f);
}

size_t fftconv_act_floats(const FftconvConfig *cfg, int B, int L)
{
    return fftconv_cm_spectra_floats(B, cfg->d_model, L);
}

/* The registered operator works on (B, L, D) tensors. Channels are gathered CL_BLOCK at a time (one 64-byte
 * line of a row) into contiguous rows in per-thread scratch, transformed there as the engine does, and the
 * results scattered back: one pass over the input and one over the output, where a whole transpose before and
 * after costs two each. Reading each channel with stride D instead measured 12-25% slower than transposing. */
#define CL_BLOCK 16

static size_t cl_block_floats(int L) { return ws_floats_for((size_t)CL_BLOCK * L); }

/* Per thread: the gathered rows, the results, and (backward) CL_BLOCK spectrum accumulators. */
static size_t cl_thread_floats(int L)
{
    return 2 * cl_block_floats(L) + CL_BLOCK * ws_floats_for(2 * (size_t)fft_spectrum_stride(2 * L));
}

size_t fftconv_workspace_floats(const FftconvConfig *cfg, int B, int L)
{
    (void)cfg, (void)B;
    return fftconv_cm_workspace_floats(L) + (size_t)omp_get_max_threads() * cl_thread_floats(L);
}

/* rows (nc, L) = x[t, c0 + j] of one batch entry's (L, D) slice. Whole blocks go through a CL_BLOCK x CL_BLOCK
 * tile in L1: CL_BLOCK contiguous 64-byte reads, then CL_BLOCK contiguous writes of CL_BLOCK floats, where the
 * element-by-element transpose wrote one float to each of CL_BLOCK rows per step (measured: the transposes were
 * 30% of the forward at D = 768, L = 4K). */
static void gather_channels(const float *x, int D, int c0, int nc, int L, float *rows)
{
    int t = 0;
    if (nc == CL_BLOCK)
        for (float tile[CL_BLOCK][CL_BLOCK]; t + CL_BLOCK <= L; t += CL_BLOCK) {
            for (int i = 0; i < CL_BLOCK; i++)
                memcpy(tile[i], x + (size_t)(t + i) * D + c0, sizeof tile[i]);
            for (int j = 0; j < CL_BLOCK; j++)
                for (int i = 0; i < CL_BLOCK; i++)
                    rows[(size_t)j * L + t + i] = tile[i][j];
        }
    for (; t < L; t++)
        for (int j = 0; j < nc; j++)
            rows[(size_t)j * L + t] = x[(size_t)t * D + c0 + j];
}

static void scatter_channels(const float *rows, int D, int c0, int nc, int L, float *y)
{
    int t = 0;
    if (nc == CL_BLOCK)
        for (float tile[CL_BLOCK][CL_BLOCK]; t + CL_BLOCK <= L; t += CL_BLOCK) {
            for (int j = 0; j < CL_BLOCK; j++)
                for (int i = 0; i < CL_BLOCK; i++)
                    tile[i][j] = rows[(size_t)j * L + t + i];
            for (int i = 0; i < CL_BLOCK; i++)
                memcpy(y + (size_t)(t + i) * D + c0, tile[i], sizeof tile[i]);
        }
    for (; t < L; t++)
        for (int j = 0; j < nc; j++)
            y[(size_t)t * D + c0 + j] = rows[(size_t)j * L + t];
}

/* The forward keeps the kernel and input spectra in act, so the backward transforms only dy and its two
 * results (as autograd does with torch.fft: it saves both spectra). */
void fftconv_forward(const FftconvConfig *cfg, const float *params, const float *x, float *y, float *act, int B,
                     int L, Workspace *ws)
{
    const int D = cfg->d_model, threads = omp_get_max_threads(), blocks = (D + CL_BLOCK - 1) / CL_BLOCK;
    const FftPlan *plan = fft_plan(2 * L);
    float *base = ws_take(ws, fftconv_cm_workspace_floats(L));
    float *rows = ws_take(ws, (size_t)threads * cl_thread_floats(L));
    const float *bias = params + (size_t)D * cfg->l_max, inv_n = 1.0f / (float)(2 * L);
#pragma omp parallel num_threads(threads)
    {
        ConvScratch s = scratch_for_thread(base, L);
        float *in = rows + (size_t)omp_get_thread_num() * cl_thread_floats(L), *out = in + cl_block_floats(L);
#pragma omp for schedule(dynamic, 1)
        for (int blk = 0; blk < blocks; blk++) {
            const int c0 = blk * CL_BLOCK, nc = D - c0 < CL_BLOCK ? D - c0 : CL_BLOCK;
            for (int b = 0; b < B; b++) {
                gather_channels(x + (size_t)b * L * D, D, c0, nc, L, in);
                for (int j = 0; j < nc; j++) {
                    const int c = c0 + j;
                    float *kspec = kernel_spectrum(act, c, plan->stride);
                    if (b == 0)
                        padded_spectrum(plan, params + (size_t)c * cfg->l_max, L, inv_n, s.real, kspec);
                    float *uspec = input_spectrum(act, b, c, D, plan->stride);
                    const float *uc = in + (size_t)j * L;
                    float *yc = out + (size_t)j * L;
                    forward_entry(plan, &s, kspec, uspec, bias[c], uc, yc, L);
                }
                scatter_channels(out, D, c0, nc, L, y + (size_t)b * L * D);
            }
        }
    }
}

/* The backward from the saved spectra, blocked like the forward: dy gathered 16 channels at a time, dx
 * scattered back, and one accumulator per channel of the block for dk (summed over the batch). */
void fftconv_backward(const FftconvConfig *cfg, const float *params, const float *x, const float *act,
                      const float *dy, float *dx, float *dparams, int B, int L, Workspace *ws)
{
    (void)x;
    const int D = cfg->d_model, threads = omp_get_max_threads(), blocks = (D + CL_BLOCK - 1) / CL_BLOCK;
    const FftPlan *plan = fft_plan(2 * L);
    const size_t nk = (size_t)D * cfg->l_max, spec = ws_floats_for(2 * (size_t)plan->stride);
    float *base = ws_take(ws, fftconv_cm_workspace_floats(L));
    float *rows = ws_take(ws, (size_t)threads * cl_thread_floats(L));
    const float *bias = params + nk;
#pragma omp parallel num_threads(threads)
    {
        ConvScratch s = scratch_for_thread(base, L);
        float *in = rows + (size_t)omp_get_thread_num() * cl_thread_floats(L), *out = in + cl_block_floats(L);
        float *accum = out + cl_block_floats(L);
#pragma omp for schedule(dynamic, 1)
        for (int blk = 0; blk < blocks; blk++) {
            const int c0 = blk * CL_BLOCK, nc = D - c0 < CL_BLOCK ? D - c0 : CL_BLOCK;
            memset(accum, 0, (size_t)nc * spec * sizeof(float));
            for (int b = 0; b < B; b++) {
                gather_channels(dy + (size_t)b * L * D, D, c0, nc, L, in);
                for (int j = 0; j < nc; j++) {
                    const int c = c0 + j;
                    /* The spectra are only read; act is const here because the forward wrote them. */
                    backward_entry(plan, &s, accum + (size_t)j * spec, kernel_spectrum((float *)act, c, plan->stride),
                                   input_spectrum((float *)act, b, c, D, plan->stride), bias[c], in + (size_t)j * L,
                                   out + (size_t)j * L, L);
                }
                scatter_channels(out, D, c0, nc, L, dx + (size_t)b * L * D);
            }
            for (int j = 0; j < nc; j++)
                backward_finish(plan, &s, accum + (size_t)j * spec, dparams + (size_t)(c0 + j) * cfg->l_max,
                                dparams + nk + c0 + j, L);
        }
    }
}

/* The operator's backward starts from the saved spectra: the engine's backward without the kernel transform
 * and scaling (per channel) and the u transform (per batch entry). */
OpFlops fftconv_flops(const FftconvConfig *cfg, int B, int L)
{
    const double C = cfg->d_model, n = 2.0 * L, fft = 2.5 * n * log2(n);
    OpFlops f = fftconv_cm_flops(B, cfg->d_model, L, 1);
    f.backward -= C * (fft + L) + (double)B * C * fft;
    return f;
}

/* ---- generation ---- */

#define STEP_BLOCK 64 /* channels per accumulator block: one thread's share, in registers and L1 */

void fftconv_cached_step(const float *kT, size_t k_stride, const float *hist, size_t h_stride, const float *bias,
                         float *y, int C, int t)
{
    const int blocks = (C + STEP_BLOCK - 1) / STEP_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)(t + 1) * C > 65536)
    for (int blk = 0; blk < blocks; blk++) {
        const int c0 = blk * STEP_BLOCK, n = C - c0 < STEP_BLOCK ? C - c0 : STEP_BLOCK;
        float acc[STEP_BLOCK] = {0};
        for (int s = 0; s <= t; s++) {
            const float *k = kT + (size_t)(t - s) * k_stride + c0, *u = hist + (size_t)s * h_stride + c0;
#pragma omp simd
            for (int i = 0; i < n; i++)
                acc[i] += k[i] * u[i];
        }
        const float *u = hist + (size_t)t * h_stride + c0;
        for (int i = 0; i < n; i++)
            y[c0 + i] = acc[i] + (bias ? bias[c0 + i] * u[i] : 0.0f);
    }
}

size_t fftconv_state_floats(const FftconvConfig *cfg, int B, int T)
{
    return (size_t)(B + 1) * T * cfg->d_model;
}

void fftconv_step(const FftconvConfig *cfg, const float *params, const float *x, float *y, float *state, int B,
                  int t, int T)
{
    const int D = cfg->d_model;
    float *kT = state, *hist = state + (size_t)T * D;
    if (t == 0)
        for (int c = 0; c < D; c++)
            for (int s = 0; s < T; s++)
                kT[(size_t)s * D + c] = params[(size_t)c * cfg->l_max + s];
    const float *bias = params + (size_t)D * cfg->l_max;
    for (int b = 0; b < B; b++) {
        float *mine = hist + (size_t)b * T * D;
        memcpy(mine + (size_t)t * D, x + (size_t)b * D, (size_t)D * sizeof(float));
        fftconv_cached_step(kT, (size_t)D, mine, (size_t)D, bias, y + (size_t)b * D, D, t);
    }
}

double fftconv_step_flops(int B, int C, int t) { return (double)B * C * (2.0 * (t + 1) + 2.0); }

/* ---- the online convolution by FFT tiles ---- */

/* Tile sizes b = 2^level < T. */
static int online_levels(int T)
{
    int levels = 0;
    while ((1 << levels) < T)
        levels++;
    return levels;
}

/* Floats of one channel's spectrum at a tile of b inputs (a transform of 2b points). */
static size_t online_spectrum_floats(int b) { return 2 * (size_t)fft_spectrum_stride(2 * b); }

size_t fftconv_online_spectra_floats(int C, int T)
{
    size_t n = 0;
    for (int level = 0; level < online_levels(T); level++)
        n += (size_t)C * online_spectrum_floats(1 << level);
    return n;
}

size_t fftconv_online_history_floats(int C, int T) { return 2 * (size_t)C * T; }

/* The largest tile's inputs. */
static int online_largest_tile(int T) { return T > 1 ? 1 << (online_levels(T) - 1) : 1; }

/* Per thread: the 2b-point block, then its spectrum, at the largest tile. */
static size_t online_block_floats(int T) { return ws_floats_for(2 * (size_t)online_largest_tile(T)); }

static size_t online_thread_floats(int T)
{
    return online_block_floats(T) + ws_floats_for(online_spectrum_floats(online_largest_tile(T)));
}

size_t fftconv_online_workspace_floats(int T) { return (size_t)omp_get_max_threads() * online_thread_floats(T); }

static const float *online_spectra_at(const float *spectra, int C, int level)
{
    size_t offset = 0;
    for (int l = 0; l < level; l++)
        offset += (size_t)C * online_spectrum_floats(1 << l);
    return spectra + offset;
}

void fftconv_online_prepare(const float *k, size_t k_stride, int C, int T, float *spectra, Workspace *ws)
{
    float *base = ws_take(ws, fftconv_online_workspace_floats(T));
    for (int level = 0; level < online_levels(T); level++) {
        const int b = 1 << level, n = 2 * b, taps = n < T ? n : T;
        const FftPlan *plan = fft_plan(n);
        float *out = (float *)online_spectra_at(spectra, C, level);
#pragma omp parallel
        {
            float *buf = base + (size_t)omp_get_thread_num() * online_thread_floats(T);
#pragma omp for schedule(static)
            for (int c = 0; c < C; c++) {
                memcpy(buf, k + (size_t)c * k_stride, (size_t)taps * sizeof(float));
                memset(buf + taps, 0, (size_t)(n - taps) * sizeof(float));
                fft_forward(plan, buf, out + (size_t)c * online_spectrum_floats(b));
            }
        }
    }
}

void fftconv_online_step(const float *spectra, const float *k, size_t k_stride, const float *bias, const float *u,
                         float *history, float *y, int C, int t, int T, Workspace *ws)
{
    float *in = history, *pending = history + (size_t)C * T;
    for (int c = 0; c < C; c++) {
        in[(size_t)c * T + t] = u[c];
        y[c] = pending[(size_t)c * T + t] + k[(size_t)c * k_stride] * u[c] + (bias ? bias[c] * u[c] : 0.0f);
    }
    if (t + 1 >= T)
        return;
    const int b = (t + 1) & -(t + 1), n = 2 * b, level = __builtin_ctz((unsigned)b), first = t + 1 - b;
    const int outputs = t + 1 + b <= T ? b : T - t - 1;
    const FftPlan *plan = fft_plan(n);
    const float *H = online_spectra_at(spectra, C, level), inv_n = 1.0f / (float)n;
    float *base = ws_take(ws, fftconv_online_workspace_floats(T));
#pragma omp parallel if ((size_t)C * n > 16384)
    {
        float *buf = base + (size_t)omp_get_thread_num() * online_thread_floats(T);
        float *spec = buf + online_block_floats(T);
#pragma omp for schedule(static)
        for (int c = 0; c < C; c++) {
            memcpy(buf, in + (size_t)c * T + first, (size_t)b * sizeof(float));
            memset(buf + b, 0, (size_t)b * sizeof(float));
            fft_forward(plan, buf, spec);
            fft_spectrum_product(spec, H + (size_t)c * online_spectrum_floats(b), spec, plan->bins, 0);
            fft_backward(plan, spec, buf);
            float *p = pending + (size_t)c * T + t + 1;
            for (int m = 0; m < outputs; m++)
                p[m] += buf[b + m] * inv_n;
        }
    }
}

double fftconv_online_step_flops(int C, int t, int T)
{
    double f = 4.0 * C; /* pending + k[0] u + bias u */
    if (t + 1 < T) {
        const double n = 2.0 * ((t + 1) & -(t + 1));
        f += C * (2 * 2.5 * n * log2(n) + 6.0 * (n / 2 + 1) + 2.0 * n / 2);
    }
    return f;
}

#include "conv2d.h"

#include <limits.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gemm.h"
#include "linear.h"

/* Bound on the dense path's im2col column buffer, in floats: each GEMM takes as many whole images as fit (at
 * least one). 4M floats (16 MB) hold three 32 x 32 images at C_in = 128, k = 3 (K = 1152 columns). */
#define CONV2D_COLS_FLOATS ((size_t)1 << 22)

const ConfigField conv2d_config_fields[] = {
    {"d_in", CONFIG_INT, offsetof(Conv2dConfig, d_in), "64", NULL, "input channels C_in"},
    {"d_out", CONFIG_INT, offsetof(Conv2dConfig, d_out), "64", NULL, "output channels C_out"},
    {"height", CONFIG_INT, offsetof(Conv2dConfig, height), "32", NULL, "image height H (inputs have L = H W)"},
    {"width", CONFIG_INT, offsetof(Conv2dConfig, width), "32", NULL, "image width W"},
    {"kernel", CONFIG_INT, offsetof(Conv2dConfig, kernel), "3", NULL, "odd kernel size k (same padding)"},
    {"groups", CONFIG_INT, offsetof(Conv2dConfig, groups), "1", NULL, "groups G (G = d_in: depthwise)"},
    {"bias", CONFIG_INT, offsetof(Conv2dConfig, bias), "1", NULL, "1: learnable bias, 0: none"},
};
const int conv2d_config_field_count = sizeof conv2d_config_fields / sizeof conv2d_config_fields[0];

/* The sizes every kernel below needs, derived once from the config. */
typedef struct Geometry {
    int H, W, k, r;      /* image, kernel, padding */
    int Cin, Cout, G;    /* channels, groups */
    int cin_g, cout_g;   /* channels per group */
    size_t taps;         /* k k C_in / G: weights per output channel */
} Geometry;

static Geometry geometry(const Conv2dConfig *cfg)
{
    Geometry g = {cfg->height, cfg->width, cfg->kernel, (cfg->kernel - 1) / 2, cfg->d_in, cfg->d_out, cfg->groups,
                  cfg->d_in / cfg->groups, cfg->d_out / cfg->groups, 0};
    g.taps = (size_t)g.k * g.k * g.cin_g;
    return g;
}

int conv2d_validate(const Conv2dConfig *cfg, char *err, size_t errlen)
{
    const char *why = NULL;
    if (cfg->d_in < 1 || cfg->d_out < 1 || cfg->height < 1 || cfg->width < 1)
        why = "need d_in, d_out, height and width >= 1";
    else if ((long long)cfg->height * cfg->width > INT_MAX)
        why = "height * width is too large";
    else if (cfg->kernel < 1 || cfg->kernel % 2 == 0)
        why = "kernel must be odd and >= 1 (same padding)";
    else if (cfg->groups < 1 || cfg->d_in % cfg->groups != 0 || cfg->d_out % cfg->groups != 0)
        why = "groups must be >= 1 and divide d_in and d_out";
    else if (cfg->bias != 0 && cfg->bias != 1)
        why = "bias must be 0 or 1";
    if (why) {
        snprintf(err, errlen, "conv2d: %s", why);
        return -1;
    }
    return 0;
}

int conv2d_check_len(const Conv2dConfig *cfg, int L, char *err, size_t errlen)
{
    if (L == cfg->height * cfg->width)
        return 0;
    snprintf(err, errlen, "conv2d: sequence length %d must equal height * width = %d * %d = %d", L, cfg->height,
             cfg->width, cfg->height * cfg->width);
    return -1;
}

int conv2d_param_specs(const Conv2dConfig *cfg, ParamSpec *out)
{
    const int k = cfg->kernel;
    size_t off = core_spec(&out[0], "weight", 0, 4, (int[]){cfg->d_out, cfg->d_in / cfg->groups, k, k});
    if (!cfg->bias)
        return 1;
    core_spec(&out[1], "bias", off, 1, (int[]){cfg->d_out});
    return 2;
}

size_t conv2d_num_params(const Conv2dConfig *cfg)
{
    return (size_t)cfg->d_out * geometry(cfg).taps + (cfg->bias ? (size_t)cfg->d_out : 0);
}

void conv2d_init(const Conv2dConfig *cfg, float *params, Rng *rng)
{
    Geometry g = geometry(cfg);
    size_t n_weight = (size_t)g.Cout * g.taps;
    linear_init_uniform(params, n_weight, (int)g.taps, rng);
    if (cfg->bias)
        linear_init_uniform(params + n_weight, (size_t)g.Cout, (int)g.taps, rng);
}

size_t conv2d_act_floats(const Conv2dConfig *cfg, int B, int L)
{
    (void)cfg, (void)B, (void)L;
    return 0;
}

/* ---- dense path: im2col + GEMM ---- */

static int chunk_images(const Geometry *g, int B)
{
    size_t per_image = (size_t)g->H * g->W * g->k * g->k * g->Cin;
    size_t n = CONV2D_COLS_FLOATS / per_image;
    return n < 1 ? 1 : (n > (size_t)B ? B : (int)n);
}

/* wp (C_out, k, k, C_in) = weight (C_out, C_in, k, k) permuted, matching the im2col column order. */
static void permute_dense(const Geometry *g, const float *weight, float *wp)
{
    const int kk = g->k * g->k;
    for (int o = 0; o < g->Cout; o++)
        for (int ci = 0; ci < g->Cin; ci++)
            for (int t = 0; t < kk; t++)
                wp[((size_t)o * kk + t) * g->Cin + ci] = weight[((size_t)o * g->Cin + ci) * kk + t];
}

/* dweight (C_out, C_in, k, k) += dwp (C_out, k, k, C_in) permuted back. */
static void unpermute_add_dense(const Geometry *g, const float *dwp, float *dweight)
{
    const int kk = g->k * g->k;
    for (int o = 0; o < g->Cout; o++)
        for (int ci = 0; ci < g->Cin; ci++)
            for (int t = 0; t < kk; t++)
                dweight[((size_t)o * g->Cin + ci) * kk + t] += dwp[((size_t)o * kk + t) * g->Cin + ci];
}

/* cols (n H W, k k C_in): row (img, p, q) holds the k x k neighbourhood of pixel (p, q), tap (a, c) in columns
 * (a k + c) C_in .. + C_in, zero where the tap falls outside the image. x is (n, H, W, C_in). */
static void im2col(const Geometry *g, const float *x, float *cols, int images)
{
    const size_t K = (size_t)g->k * g->k * g->Cin, pixel = (size_t)g->Cin * sizeof(float);
#pragma omp parallel for schedule(static)
    for (int row = 0; row < images * g->H; row++) {
        const int img = row / g->H, p = row % g->H;
        for (int q = 0; q < g->W; q++) {
            float *dst = cols + ((size_t)row * g->W + q) * K;
            for (int a = 0; a < g->k; a++) {
                const int pi = p + a - g->r;
                for (int c = 0; c < g->k; c++, dst += g->Cin) {
                    const int qi = q + c - g->r;
                    if (pi < 0 || pi >= g->H || qi < 0 || qi >= g->W)
                        memset(dst, 0, pixel);
                    else
                        memcpy(dst, x + (((size_t)img * g->H + pi) * g->W + qi) * g->Cin, pixel);
                }
            }
        }
    }
}

/* dx (n, H, W, C_in) = im2col^T dcols: each input pixel gathers the dcols entries of the taps that read it
 * (a gather, so rows of dx are written by one thread each). */
static void col2im(const Geometry *g, const float *dcols, float *dx, int images)
{
    const size_t K = (size_t)g->k * g->k * g->Cin;
#pragma omp parallel for schedule(static)
    for (int row = 0; row < images * g->H; row++) {
        const int img = row / g->H, pi = row % g->H;
        for (int qi = 0; qi < g->W; qi++) {
            float *out = dx + ((size_t)row * g->W + qi) * g->Cin;
            memset(out, 0, (size_t)g->Cin * sizeof(float));
            for (int a = 0; a < g->k; a++) {
                const int p = pi - a + g->r;
                for (int c = 0; c < g->k && p >= 0 && p < g->H; c++) {
                    const int q = qi - c + g->r;
                    if (q < 0 || q >= g->W)
                        continue;
                    const size_t from = (((size_t)img * g->H + p) * g->W + q) * K + (size_t)(a * g->k + c) * g->Cin;
                    const float *src = dcols + from;
#pragma omp simd
                    for (int ci = 0; ci < g->Cin; ci++)
                        out[ci] += src[ci];
                }
            }
        }
    }
}

static size_t dense_workspace(const Geometry *g, int B, int backward)
{
    size_t weights = ws_floats_for((size_t)g->Cout * g->taps);
    size_t cols = ws_floats_for((size_t)chunk_images(g, B) * g->H * g->W * g->taps);
    return backward ? 2 * weights + 2 * cols : weights + cols;
}

static void dense_forward(const Geometry *g, const float *weight, const float *bias, const float *x, float *y, int B,
                          Workspace *ws)
{
    const int chunk = chunk_images(g, B), HW = g->H * g->W, K = (int)g->taps;
    float *wp = ws_take(ws, (size_t)g->Cout * K), *cols = ws_take(ws, (size_t)chunk * HW * K);
    permute_dense(g, weight, wp);
    for (int b0 = 0; b0 < B; b0 += chunk) {
        const int n = B - b0 < chunk ? B - b0 : chunk;
        im2col(g, x + (size_t)b0 * HW * g->Cin, cols, n);
        gemm_linear_forward(cols, wp, bias, y + (size_t)b0 * HW * g->Cout, n * HW, K, g->Cout);
    }
}

static void dense_backward(const Geometry *g, const float *weight, const float *x, const float *dy, float *dx,
                           float *dweight, float *dbias, int B, Workspace *ws)
{
    const int chunk = chunk_images(g, B), HW = g->H * g->W, K = (int)g->taps;
    const size_t nw = (size_t)g->Cout * K;
    float *wp = ws_take(ws, nw), *dwp = ws_take(ws, nw);
    float *cols = ws_take(ws, (size_t)chunk * HW * K), *dcols = ws_take(ws, (size_t)chunk * HW * K);
    permute_dense(g, weight, wp);
    memset(dwp, 0, nw * sizeof(float));
    for (int b0 = 0; b0 < B; b0 += chunk) {
        const int n = B - b0 < chunk ? B - b0 : chunk, rows = n * HW;
        const float *dy_chunk = dy + (size_t)b0 * HW * g->Cout;
        im2col(g, x + (size_t)b0 * HW * g->Cin, cols, n);
        gemm_linear_backward_params(dy_chunk, cols, dwp, dbias, rows, K, g->Cout);
        gemm_linear_backward_input(dy_chunk, wp, dcols, rows, K, g->Cout, 0.0f);
        col2im(g, dcols, dx + (size_t)b0 * HW * g->Cin, n);
    }
    unpermute_add_dense(g, dwp, dweight);
}

/* ---- grouped / depthwise path: a direct loop ---- */

/* wt (k k, C_in/G, C_out): per tap (a, c) and in-group input channel j, the weights of every output channel
 * contiguous, so the inner loops run over output channels. */
static void permute_grouped(const Geometry *g, const float *weight, float *wt)
{
    const int kk = g->k * g->k;
    for (int o = 0; o < g->Cout; o++)
        for (int j = 0; j < g->cin_g; j++)
            for (int t = 0; t < kk; t++)
                wt[((size_t)t * g->cin_g + j) * g->Cout + o] = weight[((size_t)o * g->cin_g + j) * kk + t];
}

static void unpermute_add_grouped(const Geometry *g, const float *dwt, float *dweight)
{
    const int kk = g->k * g->k;
    for (int o = 0; o < g->Cout; o++)
        for (int j = 0; j < g->cin_g; j++)
            for (int t = 0; t < kk; t++)
                dweight[((size_t)o * g->cin_g + j) * kk + t] += dwt[((size_t)t * g->cin_g + j) * g->Cout + o];
}

/* out (C_out) += one tap: in (C_in) the input pixel the tap reads, w (C_in/G, C_out) the tap's weights. */
static void tap_forward(const Geometry *g, const float *w, const float *in, float *out)
{
    if (g->cin_g == 1 && g->cout_g == 1) { /* depthwise, multiplier 1 */
#pragma omp simd
        for (int o = 0; o < g->Cout; o++)
            out[o] += w[o] * in[o];
        return;
    }
    for (int grp = 0; grp < g->G; grp++)
        for (int j = 0; j < g->cin_g; j++) {
            const float v = in[grp * g->cin_g + j];
            const float *wj = w + (size_t)j * g->Cout + grp * g->cout_g;
            float *og = out + grp * g->cout_g;
            for (int oo = 0; oo < g->cout_g; oo++)
                og[oo] += wj[oo] * v;
        }
}

/* din (C_in) += the tap transposed: din[grp C_in/G + j] += sum over the group's outputs o of w[j, o] dout[o]. */
static void tap_backward_input(const Geometry *g, const float *w, const float *dout, float *din)
{
    if (g->cin_g == 1 && g->cout_g == 1) {
#pragma omp simd
        for (int o = 0; o < g->Cout; o++)
            din[o] += w[o] * dout[o];
        return;
    }
    for (int grp = 0; grp < g->G; grp++)
        for (int j = 0; j < g->cin_g; j++) {
            const float *wj = w + (size_t)j * g->Cout + grp * g->cout_g, *dg = dout + grp * g->cout_g;
            float acc = 0.0f;
            for (int oo = 0; oo < g->cout_g; oo++)
                acc += wj[oo] * dg[oo];
            din[grp * g->cin_g + j] += acc;
        }
}

/* dw (C_in/G, C_out) += dout[o] in[g(o) C_in/G + j] for every output channel o and in-group input j. */
static void tap_backward_weight(const Geometry *g, float *dw, const float *in, const float *dout)
{
    if (g->cin_g == 1 && g->cout_g == 1) {
#pragma omp simd
        for (int o = 0; o < g->Cout; o++)
            dw[o] += dout[o] * in[o];
        return;
    }
    for (int grp = 0; grp < g->G; grp++)
        for (int j = 0; j < g->cin_g; j++) {
            const float v = in[grp * g->cin_g + j];
            float *dwj = dw + (size_t)j * g->Cout + grp * g->cout_g;
            const float *dg = dout + grp * g->cout_g;
            for (int oo = 0; oo < g->cout_g; oo++)
                dwj[oo] += dg[oo] * v;
        }
}

/* Pointer to pixel (p, q) of image img in a (B, H, W, C) tensor. */
static inline size_t pixel_at(const Geometry *g, int img, int p, int q, int C)
{
    return (((size_t)img * g->H + p) * g->W + q) * C;
}

static void grouped_forward(const Geometry *g, const float *wt, const float *bias, const float *x, float *y, int B)
{
    const size_t tap_stride = (size_t)g->cin_g * g->Cout;
#pragma omp parallel for schedule(static)
    for (int row = 0; row < B * g->H; row++) {
        const int img = row / g->H, p = row % g->H;
        for (int q = 0; q < g->W; q++) {
            float *out = y + pixel_at(g, img, p, q, g->Cout);
            for (int o = 0; o < g->Cout; o++)
                out[o] = bias ? bias[o] : 0.0f;
            for (int a = 0; a < g->k; a++) {
                const int pi = p + a - g->r;
                for (int c = 0; c < g->k && pi >= 0 && pi < g->H; c++) {
                    const int qi = q + c - g->r;
                    if (qi >= 0 && qi < g->W)
                        tap_forward(g, wt + (size_t)(a * g->k + c) * tap_stride, x + pixel_at(g, img, pi, qi, g->Cin),
                                    out);
                }
            }
        }
    }
}

/* One image row p: dx of its pixels (gathered from the outputs that read them), and into the thread's
 * accumulators dwt (k k, C_in/G, C_out) and dbias (C_out, or NULL) the contributions of its outputs. */
static void grouped_backward_row(const Geometry *g, const float *wt, const float *x, const float *dy, float *dx,
                                 float *dwt, float *dbias, int img, int p)
{
    const size_t tap_stride = (size_t)g->cin_g * g->Cout;
    for (int q = 0; q < g->W; q++) {
        float *din = dx + pixel_at(g, img, p, q, g->Cin);
        const float *dout = dy + pixel_at(g, img, p, q, g->Cout);
        memset(din, 0, (size_t)g->Cin * sizeof(float));
        for (int a = 0; a < g->k; a++)
            for (int c = 0; c < g->k; c++) {
                const size_t tap = (size_t)(a * g->k + c) * tap_stride;
                const int po = p - a + g->r, qo = q - c + g->r; /* the output whose tap (a, c) reads (p, q) */
                if (po >= 0 && po < g->H && qo >= 0 && qo < g->W)
                    tap_backward_input(g, wt + tap, dy + pixel_at(g, img, po, qo, g->Cout), din);
                const int pi = p + a - g->r, qi = q + c - g->r; /* the input tap (a, c) of output (p, q) reads */
                if (pi >= 0 && pi < g->H && qi >= 0 && qi < g->W)
                    tap_backward_weight(g, dwt + tap, x + pixel_at(g, img, pi, qi, g->Cin), dout);
            }
        for (int o = 0; dbias && o < g->Cout; o++)
            dbias[o] += dout[o];
    }
}

static size_t grouped_partial_floats(const Geometry *g) { return ws_floats_for((size_t)g->Cout * (g->taps + 1)); }

static size_t grouped_workspace(const Geometry *g, int backward)
{
    size_t weights = ws_floats_for((size_t)g->Cout * g->taps);
    return backward ? weights + (size_t)omp_get_max_threads() * grouped_partial_floats(g) : weights;
}

/* Each thread accumulates dweight and dbias over its rows into its own partial (dwt then dbias); the partials
 * are reduced in thread order afterwards, so the result is deterministic for a given thread count. */
static void grouped_backward(const Geometry *g, const float *wt, const float *x, const float *dy, float *dx,
                             float *dweight, float *dbias, int B, Workspace *ws)
{
    const size_t per_thread = grouped_partial_floats(g), nw = (size_t)g->Cout * g->taps;
    float *partial = ws_take(ws, (size_t)omp_get_max_threads() * per_thread);
    int threads = 1;
#pragma omp parallel
    {
        float *acc = partial + (size_t)omp_get_thread_num() * per_thread;
        memset(acc, 0, (nw + g->Cout) * sizeof(float));
#pragma omp single
        threads = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int row = 0; row < B * g->H; row++)
            grouped_backward_row(g, wt, x, dy, dx, acc, dbias ? acc + nw : NULL, row / g->H, row % g->H);
    }
    for (int th = 1; th < threads; th++)
        for (size_t i = 0; i < nw + (size_t)g->Cout; i++)
            partial[i] += partial[(size_t)th * per_thread + i];
    unpermute_add_grouped(g, partial, dweight);
    for (int o = 0; dbias && o < g->Cout; o++)
        dbias[o] += partial[nw + o];
}

/* ---- the operator ---- */

size_t conv2d_workspace_floats(const Conv2dConfig *cfg, int B, int L)
{
    (void)L;
    Geometry g = geometry(cfg);
    return cfg->groups == 1 ? dense_workspace(&g, B, 1) : grouped_workspace(&g, 1);
}

void conv2d_forward(const Conv2dConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                    Workspace *ws)
{
    (void)act, (void)L;
    Geometry g = geometry(cfg);
    const float *bias = cfg->bias ? params + (size_t)g.Cout * g.taps : NULL;
    if (cfg->groups == 1) {
        dense_forward(&g, params, bias, x, y, B, ws);
        return;
    }
    float *wt = ws_take(ws, (size_t)g.Cout * g.taps);
    permute_grouped(&g, params, wt);
    grouped_forward(&g, wt, bias, x, y, B);
}

void conv2d_backward(const Conv2dConfig *cfg, const float *params, const float *x, const float *act,
                     const float *dy, float *dx, float *dparams, int B, int L, Workspace *ws)
{
    (void)act, (void)L;
    Geometry g = geometry(cfg);
    float *dbias = cfg->bias ? dparams + (size_t)g.Cout * g.taps : NULL;
    if (cfg->groups == 1) {
        dense_backward(&g, params, x, dy, dx, dparams, dbias, B, ws);
        return;
    }
    float *wt = ws_take(ws, (size_t)g.Cout * g.taps);
    permute_grouped(&g, params, wt);
    grouped_backward(&g, wt, x, dy, dx, dparams, dbias, B, ws);
}

OpFlops conv2d_flops(const Conv2dConfig *cfg, int B, int L)
{
    Geometry g = geometry(cfg);
    const double outputs = (double)B * L * g.Cout, macs = outputs * (double)g.taps;
    const double bias = cfg->bias ? outputs : 0.0;
    return (OpFlops){2.0 * macs + bias, 4.0 * macs + bias};
}

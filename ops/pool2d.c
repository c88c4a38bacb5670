#include "pool2d.h"

#include <string.h>

int pool2d_out_height(const Pool2dShape *s) { return s->height / s->kernel; }
int pool2d_out_width(const Pool2dShape *s) { return s->width / s->kernel; }

/* Offset of pixel (p, q) of image b in a (B, h, w, C) tensor. */
static inline size_t at(int b, int p, int q, int h, int w, int C) { return (((size_t)b * h + p) * w + q) * C; }

/* One output row (b, i): every window of that row, all channels. */
static void max_row(const Pool2dShape *s, const float *x, float *y, int32_t *argmax, int b, int i)
{
    const int k = s->kernel, C = s->channels, H = s->height, W = s->width, Ho = s->height / k, Wo = s->width / k;
    for (int j = 0; j < Wo; j++) {
        float *out = y + at(b, i, j, Ho, Wo, C);
        int32_t *arg = argmax + at(b, i, j, Ho, Wo, C);
        for (int a = 0; a < k; a++)
            for (int c = 0; c < k; c++) {
                const int p = i * k + a, q = j * k + c;
                const float *in = x + at(b, p, q, H, W, C);
                const int32_t pos = p * W + q;
                for (int ch = 0; ch < C; ch++) {
                    /* the first tap initialises; later ones win when larger, or when NaN (NaN propagates) */
                    if ((a == 0 && c == 0) || in[ch] > out[ch] || (in[ch] != in[ch] && out[ch] == out[ch])) {
                        out[ch] = in[ch];
                        arg[ch] = pos;
                    }
                }
            }
    }
}

void pool2d_max_forward(const Pool2dShape *s, const float *x, float *y, int32_t *argmax)
{
    const int Ho = pool2d_out_height(s);
#pragma omp parallel for schedule(static)
    for (int row = 0; row < s->batch * Ho; row++)
        max_row(s, x, y, argmax, row / Ho, row % Ho);
}

void pool2d_max_backward(const Pool2dShape *s, const float *dy, const int32_t *argmax, float *dx)
{
    const size_t L = (size_t)s->height * s->width, C = (size_t)s->channels;
    const size_t outputs = (size_t)pool2d_out_height(s) * pool2d_out_width(s);
    /* Windows do not overlap (stride = kernel), so each dx entry receives at most one dy: parallel over images
     * is race-free. */
#pragma omp parallel for schedule(static)
    for (int b = 0; b < s->batch; b++) {
        float *dxb = dx + (size_t)b * L * C;
        memset(dxb, 0, L * C * sizeof(float));
        for (size_t o = 0; o < outputs; o++)
            for (size_t ch = 0; ch < C; ch++) {
                size_t i = ((size_t)b * outputs + o) * C + ch;
                dxb[(size_t)argmax[i] * C + ch] = dy[i];
            }
    }
}

void pool2d_avg_forward(const Pool2dShape *s, const float *x, float *y)
{
    const int k = s->kernel, C = s->channels, H = s->height, W = s->width, Ho = H / k, Wo = W / k;
    const float scale = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static)
    for (int row = 0; row < s->batch * Ho; row++) {
        const int b = row / Ho, i = row % Ho;
        for (int j = 0; j < Wo; j++) {
            float *out = y + at(b, i, j, Ho, Wo, C);
            memset(out, 0, (size_t)C * sizeof(float));
            for (int a = 0; a < k; a++)
                for (int c = 0; c < k; c++) {
                    const float *in = x + at(b, i * k + a, j * k + c, H, W, C);
#pragma omp simd
                    for (int ch = 0; ch < C; ch++)
                        out[ch] += in[ch];
                }
#pragma omp simd
            for (int ch = 0; ch < C; ch++)
                out[ch] *= scale;
        }
    }
}

void pool2d_avg_backward(const Pool2dShape *s, const float *dy, float *dx)
{
    const int k = s->kernel, C = s->channels, H = s->height, W = s->width, Ho = H / k, Wo = W / k;
    const float scale = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static)
    for (int row = 0; row < s->batch * H; row++) {
        const int b = row / H, p = row % H, i = p / k;
        for (int q = 0; q < W; q++) {
            float *out = dx + at(b, p, q, H, W, C);
            const int j = q / k;
            if (i >= Ho || j >= Wo) { /* a dropped row or column */
                memset(out, 0, (size_t)C * sizeof(float));
                continue;
            }
            const float *g = dy + at(b, i, j, Ho, Wo, C);
#pragma omp simd
            for (int ch = 0; ch < C; ch++)
                out[ch] = g[ch] * scale;
        }
    }
}

void pool2d_global_avg_forward(const float *x, float *y, int B, int L, int C)
{
    const float scale = 1.0f / (float)L;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *out = y + (size_t)b * C;
        memset(out, 0, (size_t)C * sizeof(float));
        for (int l = 0; l < L; l++) {
            const float *in = x + ((size_t)b * L + l) * C;
#pragma omp simd
            for (int ch = 0; ch < C; ch++)
                out[ch] += in[ch];
        }
#pragma omp simd
        for (int ch = 0; ch < C; ch++)
            out[ch] *= scale;
    }
}

void pool2d_global_avg_backward(const float *dy, float *dx, int B, int L, int C)
{
    const float scale = 1.0f / (float)L;
#pragma omp parallel for schedule(static)
    for (int row = 0; row < B * L; row++) {
        const float *g = dy + (size_t)(row / L) * C;
        float *out = dx + (size_t)row * C;
#pragma omp simd
        for (int ch = 0; ch < C; ch++)
            out[ch] = g[ch] * scale;
    }
}

OpFlops pool2d_max_flops(const Pool2dShape *s)
{
    (void)s;
    return (OpFlops){0.0, 0.0};
}

OpFlops pool2d_avg_flops(const Pool2dShape *s)
{
    const double outputs = (double)s->batch * pool2d_out_height(s) * pool2d_out_width(s) * s->channels;
    return (OpFlops){outputs * s->kernel * s->kernel, outputs * s->kernel * s->kernel};
}

OpFlops pool2d_global_avg_flops(int B, int L, int C) { return (OpFlops){(double)B * C * L, (double)B * C * L}; }

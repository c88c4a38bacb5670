#include "s4d.h"

#include <complex.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fftconv.h"
#include "gelu.h"
#include "gemm.h"
#include "linear.h"

/* glibc's libmvec has vector exp, sin and cos (double, <= 4 ulp) and expf, but math.h announces them only under
 * -ffast-math. Declaring them SIMD-callable lets the power tables and the GLU vectorise (as in gelu.c). */
__attribute__((__simd__("notinbranch"))) double exp(double);
__attribute__((__simd__("notinbranch"))) double cos(double);
__attribute__((__simd__("notinbranch"))) double sin(double);
__attribute__((__simd__("notinbranch"))) float expf(float);

#define S4D_PARALLEL_MIN 32768 /* elementwise loops below this many outputs run on one thread */

/* FLOPs of the kernel's pieces (core.h convention), see s4d_kernel_flops. */
#define S4D_FLOPS_MODE 26   /* channel_modes: A 1, 1/A 5, dtA 2, exp(dtA) 5, C (e - 1) 7, times 1/A 6 */
#define S4D_FLOPS_ENTRY 10  /* one table entry: position 2, zr l and zi l 3, exp, cos, sin 3, two products 2 */
#define S4D_FLOPS_CMUL 6    /* complex multiply */
#define S4D_FLOPS_SUMS 20   /* per (block, mode, lane) in backward: l0 q + r 4, two complex multiply-adds 16 */
#define S4D_FLOPS_CHAIN 68  /* per mode, mode_gradients after the lane sums: G(C') 2, G(dtA) 28, G(C) 13,
                             * G(A) 16, the four gradients 5, the log_dt term 4 */

const ConfigField s4d_config_fields[] = {
    {"d_model", CONFIG_INT, offsetof(S4dConfig, d_model), "64", NULL, "channels H"},
    {"d_state", CONFIG_INT, offsetof(S4dConfig, d_state), "64", NULL, "state size N, even (N/2 complex modes)"},
    {"dt_min", CONFIG_FLOAT, offsetof(S4dConfig, dt_min), "0.001", NULL, "smallest initial step"},
    {"dt_max", CONFIG_FLOAT, offsetof(S4dConfig, dt_max), "0.1", NULL, "largest initial step"},
};
const int s4d_config_field_count = sizeof s4d_config_fields / sizeof s4d_config_fields[0];

int s4d_validate(const S4dConfig *cfg, char *err, size_t errlen)
{
    const char *why = NULL;
    if (cfg->d_model < 1)
        why = "need d_model >= 1";
    else if (cfg->d_state < 2 || cfg->d_state % 2 != 0)
        why = "d_state must be even and >= 2 (d_state / 2 complex modes)";
    else if (!(cfg->dt_min > 0.0f) || !(cfg->dt_max >= cfg->dt_min))
        why = "need 0 < dt_min <= dt_max";
    if (why) {
        snprintf(err, errlen, "s4d: %s", why);
        return -1;
    }
    return 0;
}

/* ---- parameters ---- */

int s4d_param_specs(const S4dConfig *cfg, ParamSpec *out)
{
    const int H = cfg->d_model, M = cfg->d_state / 2;
    size_t off = core_spec(&out[0], "D", 0, 1, (int[]){H});
    off = core_spec(&out[1], "kernel.C", off, 3, (int[]){H, M, 2});
    off = core_spec(&out[2], "kernel.log_dt", off, 1, (int[]){H});
    off = core_spec(&out[3], "kernel.log_A_real", off, 2, (int[]){H, M});
    off = core_spec(&out[4], "kernel.A_imag", off, 2, (int[]){H, M});
    off = core_spec(&out[5], "output_linear.0.weight", off, 3, (int[]){2 * H, H, 1});
    core_spec(&out[6], "output_linear.0.bias", off, 1, (int[]){2 * H});
    return S4D_PARAM_TENSORS;
}

size_t s4d_num_params(const S4dConfig *cfg)
{
    ParamSpec specs[S4D_PARAM_TENSORS];
    return core_spec_total(specs, s4d_param_specs(cfg, specs));
}

/* Views of a parameter (or gradient) block, in the spec order. */
typedef struct S4dParams {
    float *D;          /* (H) */
    float *C;          /* (H, M, 2) */
    float *log_dt;     /* (H) */
    float *log_A_real; /* (H, M) */
    float *A_imag;     /* (H, M) */
    float *W;          /* (2H, H): the Conv1d weight (2H, H, 1) */
    float *b;          /* (2H) */
} S4dParams;

static S4dParams s4d_views(const S4dConfig *cfg, const float *block)
{
    ParamSpec s[S4D_PARAM_TENSORS];
    s4d_param_specs(cfg, s);
    float *p = (float *)block;
    return (S4dParams){p + s[0].offset, p + s[1].offset, p + s[2].offset, p + s[3].offset,
                       p + s[4].offset, p + s[5].offset, p + s[6].offset};
}

void s4d_init(const S4dConfig *cfg, float *params, Rng *rng)
{
    const int H = cfg->d_model, M = cfg->d_state / 2;
    S4dParams p = s4d_views(cfg, params);
    const float lo = (float)log((double)cfg->dt_min);
    const float span = (float)(log((double)cfg->dt_max) - log((double)cfg->dt_min));
    rng_fill_normal(rng, p.D, (size_t)H, 0.0f, 1.0f);
    for (int h = 0; h < H; h++)
        p.log_dt[h] = rng_uniform(rng) * span + lo;
    rng_fill_normal(rng, p.C, (size_t)H * M * 2, 0.0f, (float)M_SQRT1_2); /* complex N(0, 1): var 1/2 each */
    for (int h = 0; h < H; h++)
        for (int n = 0; n < M; n++) {
            p.log_A_real[(size_t)h * M + n] = (float)log(0.5);
            p.A_imag[(size_t)h * M + n] = (float)M_PI * (float)n; /* fl32(pi) n, as torch builds it */
        }
    linear_init_uniform(p.W, (size_t)2 * H * H + 2 * H, H, rng); /* weight then bias, contiguous; fan_in H */
}

/* ---- kernel generation: tables of exact powers ---- */

#define S4D_VEC_DOUBLES (CORE_ALIGN_BYTES / sizeof(double))

static size_t padded_doubles(size_t n) { return (n + S4D_VEC_DOUBLES - 1) / S4D_VEC_DOUBLES * S4D_VEC_DOUBLES; }

/* Positions l = (s inner + r) S4D_BLOCK + j: nb blocks, r < inner, s < outer. inner ~ sqrt(nb) keeps both
 * anchor tables small. */
typedef struct KernelGrid {
    int blocks, inner, outer;
} KernelGrid;

static KernelGrid kernel_grid(int L)
{
    KernelGrid g;
    g.blocks = (L + S4D_BLOCK - 1) / S4D_BLOCK;
    g.inner = (int)ceil(sqrt((double)g.blocks));
    g.outer = (g.blocks + g.inner - 1) / g.inner;
    return g;
}

/* One thread's tables for one channel, all double. The per-mode arrays hold Mp = M rounded up to whole vectors,
 * the padding modes set to zero, so that loops over modes never fall into a scalar remainder: scalar sin and
 * cos of the large phases of the anchor tables cost far more than the vector calls. */
typedef struct KernelTables {
    int M, Mp;
    KernelGrid grid;
    double *A_re, *A_im;   /* (M) A = -exp(log_A_real) + i A_imag */
    double *inv_re, *inv_im; /* (M) 1 / A */
    double *zr, *zi;       /* (M) dtA */
    double *er, *ei;       /* (M) exp(dtA) */
    double *wr, *wi;       /* (M) C' = C (exp(dtA) - 1) / A */
    double *anchor_r, *anchor_i; /* (M) the current block's exp(dtA l0) (forward: times C') */
    double *fine_r, *fine_i;     /* (M, S4D_POW_SPLIT) exp(dtA b) */
    double *coarse_r, *coarse_i; /* (M, S4D_BLOCK / S4D_POW_SPLIT) exp(dtA S4D_POW_SPLIT a) */
    double *pow_r, *pow_i; /* (M, S4D_BLOCK) exp(dtA j), j = S4D_POW_SPLIT a + b */
    double *in_r, *in_i;   /* (inner, Mp) exp(dtA S4D_BLOCK r): mode fastest, so a block's anchors are rows */
    double *out_r, *out_i; /* (outer, Mp) exp(dtA S4D_BLOCK inner s); forward: times C' */
    double *acc, *accl;    /* (S4D_BLOCK) forward sums; backward dK and l dK of the block */
    double *lane_sums;     /* (M, 4, S4D_LANES) backward: s1 = sum_l dK_l E(l), s2 = sum_l dK_l l E(l), re and
                            * im, each split over S4D_LANES partial sums (l mod S4D_LANES), added up at the end */
} KernelTables;

#define S4D_LANES 8 /* doubles per partial-sum vector (one AVX-512 register) */
#define S4D_POW_SPLIT 8 /* the power table from S4D_POW_SPLIT + S4D_BLOCK / S4D_POW_SPLIT exact exponentials */
_Static_assert(S4D_BLOCK % S4D_LANES == 0 && S4D_BLOCK % S4D_POW_SPLIT == 0, "a block must split evenly");

/* Takes n doubles at *offset from base (padded so every array starts on a vector boundary); with base NULL it
 * only counts. */
static double *carve(double *base, size_t *offset, size_t n)
{
    double *p = base ? base + *offset : NULL;
    *offset += padded_doubles(n);
    return p;
}

/* Points t's arrays into base (t->M and t->grid set) and returns the doubles they span: the one description of
 * the layout, used both to size the workspace (base NULL) and to lay it out. */
static size_t layout_tables(KernelTables *t, double *base)
{
    const size_t m = (size_t)t->Mp, coarse = m * (S4D_BLOCK / S4D_POW_SPLIT);
    size_t at = 0;
    t->A_re = carve(base, &at, m), t->A_im = carve(base, &at, m);
    t->inv_re = carve(base, &at, m), t->inv_im = carve(base, &at, m);
    t->zr = carve(base, &at, m), t->zi = carve(base, &at, m);
    t->er = carve(base, &at, m), t->ei = carve(base, &at, m);
    t->wr = carve(base, &at, m), t->wi = carve(base, &at, m);
    t->anchor_r = carve(base, &at, m), t->anchor_i = carve(base, &at, m);
    t->fine_r = carve(base, &at, m * S4D_POW_SPLIT), t->fine_i = carve(base, &at, m * S4D_POW_SPLIT);
    t->coarse_r = carve(base, &at, coarse), t->coarse_i = carve(base, &at, coarse);
    t->pow_r = carve(base, &at, m * S4D_BLOCK), t->pow_i = carve(base, &at, m * S4D_BLOCK);
    t->in_r = carve(base, &at, m * t->grid.inner), t->in_i = carve(base, &at, m * t->grid.inner);
    t->out_r = carve(base, &at, m * t->grid.outer), t->out_i = carve(base, &at, m * t->grid.outer);
    t->acc = carve(base, &at, S4D_BLOCK), t->accl = carve(base, &at, S4D_BLOCK);
    t->lane_sums = carve(base, &at, m * 4 * S4D_LANES);
    return at;
}

static size_t tables_doubles(int M, int L)
{
    KernelTables t = {.M = M, .Mp = (int)padded_doubles((size_t)M), .grid = kernel_grid(L)};
    return layout_tables(&t, NULL);
}

size_t s4d_kernel_workspace_floats(const S4dConfig *cfg, int L)
{
    const size_t per_thread = 2 * tables_doubles(cfg->d_state / 2, L); /* a double is two floats */
    return ws_floats_for((size_t)omp_get_max_threads() * per_thread);
}

/* The calling thread's tables inside the region base (s4d_kernel_workspace_floats floats). The Workspace holds
 * floats; its memory has no declared type, so it may hold doubles (its regions are 64-byte aligned). */
static KernelTables tables_for_thread(float *base, int M, int L)
{
    KernelTables t = {.M = M, .Mp = (int)padded_doubles((size_t)M), .grid = kernel_grid(L)};
    double *mine = (double *)(void *)base + (size_t)omp_get_thread_num() * tables_doubles(M, L);
    layout_tables(&t, mine);
    return t;
}

/* Channel h's modes in double: A, 1/A, dtA, exp(dtA) and C' = C (exp(dtA) - 1) / A, in real arithmetic over
 * split arrays so the loops vectorise (a sin and a cos of one argument in one loop would become an unvectorised
 * sincos call, see power_table). */
static void channel_modes(const S4dParams *p, KernelTables *t, int h, double dt)
{
    const size_t base = (size_t)h * t->M;
    const float *lar = p->log_A_real + base, *aim = p->A_imag + base, *C = p->C + 2 * base;
#pragma omp simd
    for (int n = 0; n < t->M; n++) {
        const double re = -exp((double)lar[n]), im = aim[n], den = re * re + im * im;
        t->A_re[n] = re, t->A_im[n] = im;
        t->inv_re[n] = re / den, t->inv_im[n] = -im / den;
        t->zr[n] = dt * re, t->zi[n] = dt * im;
        t->er[n] = exp(t->zr[n]);
        t->ei[n] = t->er[n] * sin(t->zi[n]);
    }
#pragma omp simd
    for (int n = 0; n < t->M; n++) {
        t->er[n] *= cos(t->zi[n]);
        const double cr = C[2 * n], ci = C[2 * n + 1], dr = t->er[n] - 1.0, di = t->ei[n]; /* C (e - 1) */
        const double nr = cr * dr - ci * di, ni = cr * di + ci * dr;
        t->wr[n] = nr * t->inv_re[n] - ni * t->inv_im[n];
        t->wi[n] = nr * t->inv_im[n] + ni * t->inv_re[n];
    }
    for (int n = t->M; n < t->Mp; n++) /* padding modes: exp(0) = 1 in the tables, no weight */
        t->zr[n] = t->zi[n] = t->wr[n] = t->wi[n] = 0.0;
}

/* re + i im [n, k] = exp(dtA_n step k) for k < count: each entry one exact complex exponential, the position
 * step k an exact integer in double. Two loops, because GCC fuses a sin and a cos of one argument into a
 * sincos call, which it cannot vectorise. */
static void power_table(const KernelTables *t, double step, int count, double *re, double *im)
{
    for (int n = 0; n < t->M; n++) {
        const double zr = t->zr[n], zi = t->zi[n];
        double *row_r = re + (size_t)n * count, *row_i = im + (size_t)n * count;
#pragma omp simd
        for (int k = 0; k < count; k++) {
            const double l = step * k, mag = exp(zr * l);
            row_i[k] = mag;
            row_r[k] = mag * cos(zi * l);
        }
#pragma omp simd
        for (int k = 0; k < count; k++)
            row_i[k] *= sin(zi * (step * k));
    }
}

/* re + i im [k, n] = exp(dtA_n step k) for k < count and all Mp modes: the anchor tables, mode fastest. */
static void anchor_table(const KernelTables *t, double step, int count, double *re, double *im)
{
    for (int k = 0; k < count; k++) {
        const double l = step * k;
        double *row_r = re + (size_t)k * t->Mp, *row_i = im + (size_t)k * t->Mp;
#pragma omp simd
        for (int n = 0; n < t->Mp; n++) {
            const double mag = exp(t->zr[n] * l);
            row_i[n] = mag;
            row_r[n] = mag * cos(t->zi[n] * l);
        }
#pragma omp simd
        for (int n = 0; n < t->Mp; n++) /* separate loop: see power_table */
            row_i[n] *= sin(t->zi[n] * l);
    }
}

/* pow[n, a S4D_POW_SPLIT + b] = coarse[n, a] fine[n, b]: every entry the product of two exact exponentials,
 * at a fraction of the cost of S4D_BLOCK exponentials per mode (which dominated at short L). */
static void fill_pow_table(KernelTables *t)
{
    const int split = S4D_POW_SPLIT, coarse = S4D_BLOCK / S4D_POW_SPLIT;
    power_table(t, 1.0, split, t->fine_r, t->fine_i);
    power_table(t, (double)split, coarse, t->coarse_r, t->coarse_i);
    for (int n = 0; n < t->M; n++)
        for (int a = 0; a < coarse; a++) {
            const double c_r = t->coarse_r[(size_t)n * coarse + a], c_i = t->coarse_i[(size_t)n * coarse + a];
            const double *f_r = t->fine_r + (size_t)n * split, *f_i = t->fine_i + (size_t)n * split;
            double *p_r = t->pow_r + (size_t)n * S4D_BLOCK + a * split;
            double *p_i = t->pow_i + (size_t)n * S4D_BLOCK + a * split;
#pragma omp simd
            for (int b = 0; b < split; b++) {
                p_r[b] = c_r * f_r[b] - c_i * f_i[b];
                p_i[b] = c_r * f_i[b] + c_i * f_r[b];
            }
        }
}

static void fill_tables(KernelTables *t)
{
    fill_pow_table(t);
    anchor_table(t, (double)S4D_BLOCK, t->grid.inner, t->in_r, t->in_i);
    anchor_table(t, (double)S4D_BLOCK * t->grid.inner, t->grid.outer, t->out_r, t->out_i);
}

/* anchor_n = exp(dtA_n l0) for block b (times C'_n when the outer table holds it). */
static void block_anchors(KernelTables *t, int b)
{
    const KernelGrid g = t->grid;
    const double *o_r = t->out_r + (size_t)(b / g.inner) * t->Mp, *o_i = t->out_i + (size_t)(b / g.inner) * t->Mp;
    const double *i_r = t->in_r + (size_t)(b % g.inner) * t->Mp, *i_i = t->in_i + (size_t)(b % g.inner) * t->Mp;
    double *a_r = t->anchor_r, *a_i = t->anchor_i;
#pragma omp simd aligned(o_r, o_i, i_r, i_i, a_r, a_i : CORE_ALIGN_BYTES)
    for (int n = 0; n < t->Mp; n++) {
        a_r[n] = o_r[n] * i_r[n] - o_i[n] * i_i[n];
        a_i[n] = o_r[n] * i_i[n] + o_i[n] * i_r[n];
    }
}

/* ---- kernel forward ---- */

/* acc[j] += Re(a pow(j)) = a_r pow_r[j] - a_i pow_i[j] for four consecutive modes (rows of the tables). The
 * project builds in ISO C mode, where GCC does not contract a * b + c, so the multiply-adds are explicit fma()
 * calls (single instructions with -march=native); four modes per pass keep the loads and stores of acc well
 * below the multiply-adds. */
static void block_accumulate4(double *acc, const double *ar, const double *ai, const double *pr, const double *pi)
{
    const int T = S4D_BLOCK;
    const double r0 = ar[0], r1 = ar[1], r2 = ar[2], r3 = ar[3];
    const double i0 = -ai[0], i1 = -ai[1], i2 = -ai[2], i3 = -ai[3];
#pragma omp simd aligned(acc, pr, pi : CORE_ALIGN_BYTES)
    for (int j = 0; j < T; j++) {
        double v = fma(r0, pr[j], fma(i0, pi[j], acc[j]));
        v = fma(r1, pr[T + j], fma(i1, pi[T + j], v));
        v = fma(r2, pr[2 * T + j], fma(i2, pi[2 * T + j], v));
        acc[j] = fma(r3, pr[3 * T + j], fma(i3, pi[3 * T + j], v));
    }
}

/* The same for one mode (the M mod 4 left over). */
static void block_accumulate1(double *acc, double ar, double ai, const double *pr, const double *pi)
{
#pragma omp simd aligned(acc, pr, pi : CORE_ALIGN_BYTES)
    for (int j = 0; j < S4D_BLOCK; j++)
        acc[j] = fma(ar, pr[j], fma(-ai, pi[j], acc[j]));
}

/* K[l0 + j] = 2 Re sum_n anchor_n pow_n(j) for j < len; the full block is computed (len <= S4D_BLOCK). */
static void kernel_block(const KernelTables *t, float *K, int l0, int len)
{
    double *acc = t->acc;
    for (int j = 0; j < S4D_BLOCK; j++)
        acc[j] = 0.0;
    int n = 0;
    for (; n + 4 <= t->M; n += 4)
        block_accumulate4(acc, t->anchor_r + n, t->anchor_i + n, t->pow_r + (size_t)n * S4D_BLOCK,
                          t->pow_i + (size_t)n * S4D_BLOCK);
    for (; n < t->M; n++)
        block_accumulate1(acc, t->anchor_r[n], t->anchor_i[n], t->pow_r + (size_t)n * S4D_BLOCK,
                          t->pow_i + (size_t)n * S4D_BLOCK);
    for (int j = 0; j < len; j++)
        K[l0 + j] = (float)(2.0 * acc[j]);
}

static void kernel_channel(const S4dParams *p, KernelTables *t, int h, float *K, int L)
{
    channel_modes(p, t, h, exp((double)p->log_dt[h]));
    fill_tables(t);
    for (int s = 0; s < t->grid.outer; s++) { /* fold C' into the outer table: anchors come out as C' exp(dtA l0) */
        double *o_r = t->out_r + (size_t)s * t->Mp, *o_i = t->out_i + (size_t)s * t->Mp;
#pragma omp simd
        for (int n = 0; n < t->Mp; n++) {
            const double re = o_r[n];
            o_r[n] = re * t->wr[n] - o_i[n] * t->wi[n];
            o_i[n] = re * t->wi[n] + o_i[n] * t->wr[n];
        }
    }
    for (int b = 0; b < t->grid.blocks; b++) {
        const int l0 = b * S4D_BLOCK;
        block_anchors(t, b);
        kernel_block(t, K, l0, L - l0 < S4D_BLOCK ? L - l0 : S4D_BLOCK);
    }
}

void s4d_kernel(const S4dConfig *cfg, const float *params, float *K, int L, Workspace *ws)
{
    const S4dParams p = s4d_views(cfg, params);
    const int M = cfg->d_state / 2;
    float *base = ws_take(ws, s4d_kernel_workspace_floats(cfg, L));
#pragma omp parallel
    {
        KernelTables t = tables_for_thread(base, M, L);
#pragma omp for schedule(dynamic, 1)
        for (int h = 0; h < cfg->d_model; h++)
            kernel_channel(&p, &t, h, K + (size_t)h * L, L);
    }
}

/* ---- kernel backward ---- */

/* One mode's share of a block in backward, with E(l0 + j) = anchor pow(j):
 *   s1 += anchor q,  s2 += anchor (l0 q + r),  q = sum_j g[j] pow(j),  r = sum_j gl[j] pow(j),  gl[j] = j g[j],
 * kept as S4D_LANES partial sums (lane k holds the j = k mod S4D_LANES terms) so that no block needs a
 * horizontal sum; sums (4, S4D_LANES) are s1 re, s1 im, s2 re, s2 im. Written for the vectoriser: the lane
 * arrays stay in registers, the multiply-adds are explicit fma() (see block_accumulate4). */
static void block_mode_sums(const double *restrict g, const double *restrict gl, const double *restrict pr,
                            const double *restrict pi, double ar, double ai, double l0, double *restrict sums)
{
    const int W = S4D_LANES;
    double qr[S4D_LANES] = {0}, qi[S4D_LANES] = {0}, rr[S4D_LANES] = {0}, ri[S4D_LANES] = {0};
    for (int c = 0; c < S4D_BLOCK; c += W) {
#pragma omp simd
        for (int k = 0; k < W; k++) {
            qr[k] = fma(g[c + k], pr[c + k], qr[k]), qi[k] = fma(g[c + k], pi[c + k], qi[k]);
            rr[k] = fma(gl[c + k], pr[c + k], rr[k]), ri[k] = fma(gl[c + k], pi[c + k], ri[k]);
        }
    }
#pragma omp simd
    for (int k = 0; k < W; k++) {
        const double vr = fma(l0, qr[k], rr[k]), vi = fma(l0, qi[k], ri[k]);
        sums[k] = fma(ar, qr[k], fma(-ai, qi[k], sums[k]));
        sums[W + k] = fma(ar, qi[k], fma(ai, qr[k], sums[W + k]));
        sums[2 * W + k] = fma(ar, vr, fma(-ai, vi, sums[2 * W + k]));
        sums[3 * W + k] = fma(ar, vi, fma(ai, vr, sums[3 * W + k]));
    }
}

/* All modes' shares of the block at l0 (len <= S4D_BLOCK positions of dK, the rest zero). */
static void kernel_block_sums(KernelTables *t, const float *dK, int l0, int len)
{
    double *g = t->acc, *gl = t->accl;
    for (int j = 0; j < S4D_BLOCK; j++) {
        g[j] = j < len ? (double)dK[l0 + j] : 0.0;
        gl[j] = j * g[j];
    }
    for (int n = 0; n < t->M; n++) {
        const size_t row = (size_t)n * S4D_BLOCK;
        block_mode_sums(g, gl, t->pow_r + row, t->pow_i + row, t->anchor_r[n], t->anchor_i[n], (double)l0,
                        t->lane_sums + (size_t)n * 4 * S4D_LANES);
    }
}

/* The chain rule from s1, s2 to mode n's parameters (spec section 4), for the holomorphic
 * S_l = sum_n C'_n E_n(l) with K_l = 2 Re S_l: G(w) = sum_l 2 dK_l dS_l/dw, and a real parameter's gradient
 * is Re G for a real part, -Im G for an imaginary part. Divisions by A are products with 1/A (GCC's complex
 * division is a library call). Returns mode n's term of d log_dt. */
static double mode_gradients(const S4dParams *p, const S4dParams *g, const KernelTables *t, int h, int n,
                             double dt)
{
    const size_t i = (size_t)h * t->M + n;
    const double complex A = CMPLX(t->A_re[n], t->A_im[n]), inv_A = CMPLX(t->inv_re[n], t->inv_im[n]);
    const double complex C = CMPLX((double)p->C[2 * i], (double)p->C[2 * i + 1]);
    const double complex e = CMPLX(t->er[n], t->ei[n]), w = CMPLX(t->wr[n], t->wi[n]);
    const double *lanes = t->lane_sums + (size_t)n * 4 * S4D_LANES;
    double sum[4] = {0.0, 0.0, 0.0, 0.0}; /* s1 re, s1 im, s2 re, s2 im: the lanes added up */
    for (int q = 0; q < 4; q++)
        for (int k = 0; k < S4D_LANES; k++)
            sum[q] += lanes[q * S4D_LANES + k];
    const double complex s1 = CMPLX(sum[0], sum[1]), s2 = CMPLX(sum[2], sum[3]);
    const double complex g_w = 2.0 * s1;                                /* G(C') */
    const double complex g_dtA = 2.0 * w * s2 + g_w * (C * e * inv_A);  /* via E(l) and via C' */
    const double complex g_C = g_w * ((e - 1.0) * inv_A);
    const double complex g_A = g_dtA * dt - g_w * (w * inv_A);          /* dC'/dA = -C'/A */
    g->C[2 * i] += (float)creal(g_C);
    g->C[2 * i + 1] += (float)-cimag(g_C);
    g->log_A_real[i] += (float)(creal(A) * creal(g_A)); /* d Re A / d log_A_real = -exp(.) = Re A */
    g->A_imag[i] += (float)-cimag(g_A);
    return dt * creal(g_dtA * A); /* d dtA / d log_dt = dt A */
}

static void kernel_channel_backward(const S4dParams *p, const S4dParams *g, KernelTables *t, int h,
                                    const float *dK, int L)
{
    const double dt = exp((double)p->log_dt[h]);
    channel_modes(p, t, h, dt);
    fill_tables(t);
    memset(t->lane_sums, 0, (size_t)t->M * 4 * S4D_LANES * sizeof(double));
    for (int b = 0; b < t->grid.blocks; b++) {
        const int l0 = b * S4D_BLOCK;
        block_anchors(t, b);
        kernel_block_sums(t, dK, l0, L - l0 < S4D_BLOCK ? L - l0 : S4D_BLOCK);
    }
    double dlog_dt = 0.0;
    for (int n = 0; n < t->M; n++)
        dlog_dt += mode_gradients(p, g, t, h, n, dt);
    g->log_dt[h] += (float)dlog_dt;
}

void s4d_kernel_backward(const S4dConfig *cfg, const float *params, const float *dK, float *dparams, int L,
                         Workspace *ws)
{
    const S4dParams p = s4d_views(cfg, params), g = s4d_views(cfg, dparams);
    const int M = cfg->d_state / 2;
    float *base = ws_take(ws, s4d_kernel_workspace_floats(cfg, L));
#pragma omp parallel
    {
        KernelTables t = tables_for_thread(base, M, L);
#pragma omp for schedule(dynamic, 1)
        for (int h = 0; h < cfg->d_model; h++) /* each channel owns its gradient entries: no races */
            kernel_channel_backward(&p, &g, &t, h, dK + (size_t)h * L, L);
    }
}

/* Per channel, with T = S4D_BLOCK, nb blocks, Mp = M padded to whole vectors (the anchor tables and anchors run
 * over Mp modes), pow = S4D_FLOPS_ENTRY (S4D_POW_SPLIT + T / S4D_POW_SPLIT) + CMUL T (the power table's exact
 * entries and products) and anchors = S4D_FLOPS_ENTRY (inner + outer) (the anchor tables) + CMUL nb:
 * forward  1 (dt) + M (S4D_FLOPS_MODE + pow + 4 nb T (a multiply-add pair per mode and position))
 *          + Mp (anchors + CMUL outer (fold C')) + nb T (the factor 2);
 * backward 1 (dt) + nb T (j dK) + M (S4D_FLOPS_MODE + pow + 8 nb T (four multiply-adds) + nb S4D_LANES
 *          S4D_FLOPS_SUMS + 4 S4D_LANES (adding up the lanes) + S4D_FLOPS_CHAIN) + Mp anchors
 *          + M (the d log_dt sum) + 1.
 * Whole blocks are counted: that is the work done, including the padding of the last block. */
OpFlops s4d_kernel_flops(const S4dConfig *cfg, int L)
{
    const KernelGrid g = kernel_grid(L);
    const double H = cfg->d_model, M = cfg->d_state / 2, Mp = (double)padded_doubles((size_t)(cfg->d_state / 2));
    const double nb = g.blocks, T = S4D_BLOCK;
    const double pow = S4D_FLOPS_ENTRY * (S4D_POW_SPLIT + T / S4D_POW_SPLIT) + S4D_FLOPS_CMUL * T;
    const double anchors = S4D_FLOPS_ENTRY * (g.inner + g.outer) + S4D_FLOPS_CMUL * nb;
    const double fwd = 1.0 + M * (S4D_FLOPS_MODE + pow + 4.0 * nb * T) + Mp * (anchors + S4D_FLOPS_CMUL * g.outer) +
                       nb * T;
    const double bwd = 1.0 + nb * T +
                       M * (S4D_FLOPS_MODE + pow + 8.0 * nb * T + nb * S4D_LANES * S4D_FLOPS_SUMS +
                            4.0 * S4D_LANES + S4D_FLOPS_CHAIN) +
                       Mp * anchors + M + 1.0;
    return (OpFlops){H * fwd, H * bwd};
}

/* ---- the layer ---- */

/* What forward keeps for backward. */
typedef struct S4dActs {
    float *u;  /* (B, H, L) x channel-major: the convolution input */
    float *y1; /* (B, H, L) convolution + D skip: the GELU input */
    float *g;  /* (B, L, H) GELU output, row-major: the output Conv1d input */
    float *z;  /* (B, L, 2H) Conv1d output: the GLU input */
    float *K;  /* (H, L) the kernel */
} S4dActs;

static S4dActs s4d_acts(const S4dConfig *cfg, const float *act, int B, int L)
{
    const size_t n = ws_floats_for((size_t)B * L * cfg->d_model);
    float *a = (float *)act;
    return (S4dActs){a, a + n, a + 2 * n, a + 3 * n, a + 3 * n + ws_floats_for((size_t)B * L * 2 * cfg->d_model)};
}

size_t s4d_act_floats(const S4dConfig *cfg, int B, int L)
{
    const size_t n = (size_t)B * L * cfg->d_model;
    return 3 * ws_floats_for(n) + ws_floats_for(2 * n) + ws_floats_for((size_t)cfg->d_model * L);
}

/* Forward: the kernel's tables, then the engine's scratch (one after the other). Backward: dz (B, L, 2H),
 * dg (B, L, H; reused as du (B, H, L)), dy1 (B, H, L), dK (H, L), then the engine's or the kernel's scratch. */
size_t s4d_workspace_floats(const S4dConfig *cfg, int B, int L)
{
    const size_t n = (size_t)B * L * cfg->d_model;
    const size_t engine = fftconv_cm_workspace_floats(L), kernel = s4d_kernel_workspace_floats(cfg, L);
    const size_t scratch = engine > kernel ? engine : kernel;
    return ws_floats_for(2 * n) + 2 * ws_floats_for(n) + ws_floats_for((size_t)cfg->d_model * L) + scratch;
}

/* y (rows, H) = z[:, :H] * sigmoid(z[:, H:]), z (rows, 2H). */
static void glu_forward(const float *z, float *y, size_t rows, int H)
{
#pragma omp parallel for schedule(static) if (rows * H > S4D_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *value = z + r * 2 * H, *gate = value + H;
        float *out = y + r * H;
#pragma omp simd
        for (int h = 0; h < H; h++)
            out[h] = value[h] * (1.0f / (1.0f + expf(-gate[h])));
    }
}

/* dz[:, :H] = dy sigmoid(gate); dz[:, H:] = dy value sigmoid'(gate), sigmoid' = s (1 - s). */
static void glu_backward(const float *z, const float *dy, float *dz, size_t rows, int H)
{
#pragma omp parallel for schedule(static) if (rows * H > S4D_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *value = z + r * 2 * H, *gate = value + H, *d = dy + r * H;
        float *dvalue = dz + r * 2 * H, *dgate = dvalue + H;
#pragma omp simd
        for (int h = 0; h < H; h++) {
            const float s = 1.0f / (1.0f + expf(-gate[h]));
            dvalue[h] = d[h] * s;
            dgate[h] = d[h] * value[h] * s * (1.0f - s);
        }
    }
}

void s4d_forward(const S4dConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws)
{
    const int H = cfg->d_model;
    const size_t n = (size_t)B * L * H, rows = (size_t)B * L;
    const S4dParams p = s4d_views(cfg, params);
    const S4dActs a = s4d_acts(cfg, act, B, L);
    const size_t mark = ws->used;
    s4d_kernel(cfg, params, a.K, L, ws);
    ws->used = mark;
    core_transpose(x, a.u, B, L, H);
    fftconv_cm_forward(a.K, L, p.D, a.u, a.y1, B, H, L, NULL, ws); /* y1 = K (*) u + D u */
    ws->used = mark;
    core_transpose(a.y1, a.g, B, H, L);
    gelu_apply(a.g, a.g, n); /* elementwise, so it can follow the transpose in place */
    gemm_linear_forward(a.g, p.W, p.b, a.z, (int)rows, H, 2 * H);
    glu_forward(a.z, y, rows, H);
}

void s4d_backward(const S4dConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws)
{
    (void)x; /* act holds x channel-major */
    const int H = cfg->d_model;
    const size_t n = (size_t)B * L * H, rows = (size_t)B * L;
    const S4dParams p = s4d_views(cfg, params), g = s4d_views(cfg, dparams);
    const S4dActs a = s4d_acts(cfg, act, B, L);
    float *dz = ws_take(ws, 2 * n);              /* (B, L, 2H) */
    float *dg = ws_take(ws, n);                  /* (B, L, H) */
    float *dy1 = ws_take(ws, n);                 /* (B, H, L) */
    float *dK = ws_take(ws, (size_t)H * L);      /* (H, L) */
    float *du = dg;                              /* (B, H, L): dg is dead once transposed into dy1 */
    glu_backward(a.z, dy, dz, rows, H);
    gemm_linear_backward_params(dz, a.g, g.W, g.b, (int)rows, H, 2 * H);
    gemm_linear_backward_input(dz, p.W, dg, (int)rows, H, 2 * H, 0.0f);
    core_transpose(dg, dy1, B, L, H);
    gelu_backward_apply(a.y1, dy1, dy1, n);
    memset(dK, 0, (size_t)H * L * sizeof(float)); /* the engine accumulates dk */
    const size_t mark = ws->used;
    fftconv_cm_backward(a.K, L, p.D, a.u, dy1, du, dK, g.D, B, H, L, ws);
    ws->used = mark;
    core_transpose(du, dx, B, H, L);
    s4d_kernel_backward(cfg, params, dK, dparams, L, ws);
}

/* Forward: the kernel (s4d_kernel_flops); the long convolution with its D skip (fftconv_cm_flops); GELU
 * (GELU_FLOPS_FORWARD per element); the Conv1d (gemm convention: 2 per multiply-add, 1 per bias add); GLU 4
 * per output (sigmoid 3: exp, add, reciprocal; the product 1; negation is a sign flip, counted 0).
 * Backward: GLU 8 per output (sigmoid 3, dvalue 1, 1 - s 1, three products); the Conv1d's backward (dx and
 * dW contractions, db sums); GELU_FLOPS_BACKWARD per element; the convolution's backward (du, dK, dD); the
 * kernel's backward. Transposes and copies are 0. */
OpFlops s4d_flops(const S4dConfig *cfg, int B, int L)
{
    const int H = cfg->d_model;
    const double n = (double)B * L * H, rows = (double)B * L;
    const OpFlops kernel = s4d_kernel_flops(cfg, L), conv = fftconv_cm_flops(B, H, L, 1);
    const double fwd = kernel.forward + conv.forward + GELU_FLOPS_FORWARD * n +
                       gemm_linear_flops_forward(rows, H, 2 * H, 1) + 4.0 * n;
    const double bwd = 8.0 * n + gemm_linear_flops_backward(rows, H, 2 * H, 1) + GELU_FLOPS_BACKWARD * n +
                       conv.backward + kernel.backward;
    return (OpFlops){fwd, bwd};
}

/* ---- generation ---- */

size_t s4d_state_floats(const S4dConfig *cfg, int B, int T)
{
    (void)T;
    const size_t HM = (size_t)cfg->d_model * (cfg->d_state / 2);
    return 2 * (4 * HM + 2 * (size_t)B * HM); /* doubles */
}

size_t s4d_step_workspace_floats(const S4dConfig *cfg, int B, int T)
{
    (void)T;
    return ws_floats_for((size_t)B * cfg->d_model) + ws_floats_for(2 * (size_t)B * cfg->d_model) +
           ws_floats_for(2 * 10 * (size_t)(cfg->d_state / 2)); /* step_coefficients' ten mode arrays, at t = 0 */
}

/* The per-mode coefficients of the recurrence, exp(dtA) and C', from channel_modes: the kernel's own values. */
static void step_coefficients(const S4dConfig *cfg, const S4dParams *p, double *scratch, double *er, double *ei,
                              double *cr, double *ci)
{
    const int H = cfg->d_model, M = cfg->d_state / 2;
    double *const arrays[10] = {scratch,         scratch + M,     scratch + 2 * M, scratch + 3 * M, scratch + 4 * M,
                                scratch + 5 * M, scratch + 6 * M, scratch + 7 * M, scratch + 8 * M, scratch + 9 * M};
    KernelTables t = {.M = M, .Mp = M, .A_re = arrays[0], .A_im = arrays[1], .inv_re = arrays[2], .inv_im = arrays[3],
                      .zr = arrays[4], .zi = arrays[5], .er = arrays[6], .ei = arrays[7], .wr = arrays[8],
                      .wi = arrays[9]};
    for (int h = 0; h < H; h++) {
        const size_t k = (size_t)h * M;
        channel_modes(p, &t, h, exp((double)p->log_dt[h]));
        memcpy(er + k, t.er, sizeof(double) * (size_t)M), memcpy(ei + k, t.ei, sizeof(double) * (size_t)M);
        memcpy(cr + k, t.wr, sizeof(double) * (size_t)M), memcpy(ci + k, t.wi, sizeof(double) * (size_t)M);
    }
}

void s4d_step(const S4dConfig *cfg, const float *params, const float *x, float *y, float *state, int B, int t,
              int T, Workspace *ws)
{
    (void)T;
    const int H = cfg->d_model, M = cfg->d_state / 2;
    const size_t HM = (size_t)H * M;
    const S4dParams p = s4d_views(cfg, params);
    double *er = (double *)(void *)state, *ei = er + HM, *cr = ei + HM, *ci = cr + HM;
    double *sr = ci + HM, *si = sr + (size_t)B * HM;
    if (t == 0) {
        const size_t mark = ws->used;
        step_coefficients(cfg, &p, (double *)(void *)ws_take(ws, 2 * 10 * (size_t)M), er, ei, cr, ci);
        ws->used = mark;
        memset(sr, 0, 2 * (size_t)B * HM * sizeof(double));
    }
    float *g = ws_take(ws, (size_t)B * H), *z = ws_take(ws, 2 * (size_t)B * H);
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * HM > S4D_PARALLEL_MIN)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const size_t k0 = (size_t)h * M, s0 = (size_t)b * HM + k0;
            const double u = x[(size_t)b * H + h];
            double acc = 0.0;
#pragma omp simd reduction(+ : acc)
            for (int n = 0; n < M; n++) {
                const double re = er[k0 + n] * sr[s0 + n] - ei[k0 + n] * si[s0 + n] + u;
                const double im = er[k0 + n] * si[s0 + n] + ei[k0 + n] * sr[s0 + n];
                sr[s0 + n] = re, si[s0 + n] = im;
                acc += cr[k0 + n] * re - ci[k0 + n] * im;
            }
            g[(size_t)b * H + h] = (float)(2.0 * acc + p.D[h] * u);
        }
    gelu_apply(g, g, (size_t)B * H);
    gemm_linear_forward(g, p.W, p.b, z, B, H, 2 * H);
    glu_forward(z, y, (size_t)B, H);
}

double s4d_step_flops(const S4dConfig *cfg, int B)
{
    const double H = cfg->d_model, M = cfg->d_state / 2;
    /* Per mode: exp(dtA) s 6, + x 1, Re(C' s) 3, the sum 1; per channel: 2 acc + D x 3. */
    return (double)B * (H * M * 11.0 + 3.0 * H) + GELU_FLOPS_FORWARD * B * H +
           gemm_linear_flops_forward(B, cfg->d_model, 2 * cfg->d_model, 1) + 4.0 * B * H;
}

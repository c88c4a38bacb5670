#include "s4d.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fftconv.h"
#include "gelu.h"
#include "gemm.h"

#define S4D_MAX_MODES 512

const ConfigField s4d_config_fields[] = {
    {"d_model", CONFIG_INT, offsetof(S4dConfig, d_model), "64", NULL, "channels H"},
    {"d_state", CONFIG_INT, offsetof(S4dConfig, d_state), "64", NULL, "state size N (N/2 complex modes)"},
    {"dt_min", CONFIG_FLOAT, offsetof(S4dConfig, dt_min), "0.001", NULL, "smallest initial step"},
    {"dt_max", CONFIG_FLOAT, offsetof(S4dConfig, dt_max), "0.1", NULL, "largest initial step"},
};
const int s4d_config_field_count = 4;

int s4d_validate(const S4dConfig *cfg, char *err, size_t errlen)
{
    if (cfg->d_model < 1 || cfg->d_state < 2 || cfg->d_state / 2 > S4D_MAX_MODES) {
        snprintf(err, errlen, "s4d: need d_model >= 1 and 2 <= d_state <= %d", 2 * S4D_MAX_MODES);
        return -1;
    }
    if (!(cfg->dt_min > 0) || !(cfg->dt_max >= cfg->dt_min)) {
        snprintf(err, errlen, "s4d: need 0 < dt_min <= dt_max");
        return -1;
    }
    return 0;
}

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
    return 7;
}

size_t s4d_num_params(const S4dConfig *cfg)
{
    ParamSpec specs[7];
    return core_spec_total(specs, s4d_param_specs(cfg, specs));
}

/* Views of the parameter (or gradient) block, in the spec order. */
typedef struct S4dParams {
    float *D, *C, *log_dt, *log_A_real, *A_imag, *W, *b;
} S4dParams;

static S4dParams s4d_views(const S4dConfig *cfg, const float *block)
{
    ParamSpec s[7];
    s4d_param_specs(cfg, s);
    float *p = (float *)block;
    return (S4dParams){p + s[0].offset, p + s[1].offset, p + s[2].offset, p + s[3].offset,
                       p + s[4].offset, p + s[5].offset, p + s[6].offset};
}

void s4d_init(const S4dConfig *cfg, float *params, Rng *rng)
{
    const int H = cfg->d_model, M = cfg->d_state / 2;
    S4dParams p = s4d_views(cfg, params);
    const float lo = logf(cfg->dt_min), span = logf(cfg->dt_max) - logf(cfg->dt_min);
    const float bound = 1.0f / sqrtf((float)H);
    rng_fill_normal(rng, p.D, (size_t)H, 0.0f, 1.0f);
    for (int h = 0; h < H; h++)
        p.log_dt[h] = rng_uniform(rng) * span + lo;
    rng_fill_normal(rng, p.C, (size_t)H * M * 2, 0.0f, (float)M_SQRT1_2); /* complex normal: var 1/2 each */
    for (int h = 0; h < H; h++)
        for (int n = 0; n < M; n++) {
            p.log_A_real[(size_t)h * M + n] = logf(0.5f);
            p.A_imag[(size_t)h * M + n] = (float)M_PI * (float)n;
        }
    rng_fill_uniform(rng, p.W, (size_t)2 * H * H, -bound, bound);
    rng_fill_uniform(rng, p.b, (size_t)2 * H, -bound, bound);
}

/* The modes of one channel in double: dtA_n, e_n = exp(dtA_n), w_n = C_n (e_n - 1) / A_n and A_n. */
typedef struct S4dModes {
    int M;
    double dt;
    double ar[S4D_MAX_MODES], ai[S4D_MAX_MODES];   /* A */
    double zr[S4D_MAX_MODES], zi[S4D_MAX_MODES];   /* dtA */
    double er[S4D_MAX_MODES], ei[S4D_MAX_MODES];   /* exp(dtA) */
    double cr[S4D_MAX_MODES], ci[S4D_MAX_MODES];   /* C */
    double wr[S4D_MAX_MODES], wi[S4D_MAX_MODES];   /* C' = C (exp(dtA) - 1) / A */
} S4dModes;

static void modes_of_channel(const S4dConfig *cfg, const S4dParams *p, int h, S4dModes *m)
{
    const int M = cfg->d_state / 2;
    m->M = M;
    m->dt = exp((double)p->log_dt[h]);
    for (int n = 0; n < M; n++) {
        size_t i = (size_t)h * M + n;
        m->ar[n] = -exp((double)p->log_A_real[i]), m->ai[n] = p->A_imag[i];
        m->zr[n] = m->dt * m->ar[n], m->zi[n] = m->dt * m->ai[n];
        double mag = exp(m->zr[n]);
        m->er[n] = mag * cos(m->zi[n]), m->ei[n] = mag * sin(m->zi[n]);
        m->cr[n] = p->C[2 * i], m->ci[n] = p->C[2 * i + 1];
        /* (C (e - 1)) / A, left to right like the reference */
        double nr = m->cr[n] * (m->er[n] - 1) - m->ci[n] * m->ei[n];
        double ni = m->cr[n] * m->ei[n] + m->ci[n] * (m->er[n] - 1);
        double den = m->ar[n] * m->ar[n] + m->ai[n] * m->ai[n];
        m->wr[n] = (nr * m->ar[n] + ni * m->ai[n]) / den;
        m->wi[n] = (ni * m->ar[n] - nr * m->ai[n]) / den;
    }
}

/* E_n = exp(dtA_n l0): the exact anchor of a block of powers. */
static void anchor_powers(const S4dModes *m, int l0, double *pr, double *pi)
{
    for (int n = 0; n < m->M; n++) {
        double mag = exp(m->zr[n] * l0), ph = m->zi[n] * l0;
        pr[n] = mag * cos(ph), pi[n] = mag * sin(ph);
    }
}

/* K[l] = 2 Re sum_n w_n E_n(l), the powers advanced by one multiplication by e_n per step and re-anchored
 * every S4D_ANCHOR steps so the error does not grow with l. */
static void kernel_channel(const S4dModes *m, float *K, int L)
{
    double pr[S4D_MAX_MODES], pi[S4D_MAX_MODES];
    for (int l0 = 0; l0 < L; l0 += S4D_ANCHOR) {
        anchor_powers(m, l0, pr, pi);
        int l1 = l0 + S4D_ANCHOR < L ? l0 + S4D_ANCHOR : L;
        for (int l = l0; l < l1; l++) {
            double acc = 0.0;
#pragma omp simd reduction(+ : acc)
            for (int n = 0; n < m->M; n++) {
                acc += m->wr[n] * pr[n] - m->wi[n] * pi[n];
                double r = pr[n] * m->er[n] - pi[n] * m->ei[n];
                pi[n] = pr[n] * m->ei[n] + pi[n] * m->er[n];
                pr[n] = r;
            }
            K[l] = (float)(2.0 * acc);
        }
    }
}

void s4d_kernel(const S4dConfig *cfg, const float *params, float *K, int L)
{
    S4dParams p = s4d_views(cfg, params);
#pragma omp parallel for schedule(dynamic, 4)
    for (int h = 0; h < cfg->d_model; h++) {
        S4dModes m;
        modes_of_channel(cfg, &p, h, &m);
        kernel_channel(&m, K + (size_t)h * L, L);
    }
}

/* Complex arithmetic on (re, im) pairs, in double. */
static void cmul(double ar, double ai, double br, double bi, double *r, double *i)
{
    *r = ar * br - ai * bi;
    *i = ar * bi + ai * br;
}

static void cdiv(double ar, double ai, double br, double bi, double *r, double *i)
{
    double den = br * br + bi * bi;
    *r = (ar * br + ai * bi) / den;
    *i = (ai * br - ar * bi) / den;
}

/* s1_n = sum_l dK_l E_n(l) and s2_n = sum_l dK_l l E_n(l), with the same anchored powers as forward. */
static void kernel_sums(const S4dModes *m, const float *dK, int L, double *s1r, double *s1i, double *s2r,
                        double *s2i)
{
    double pr[S4D_MAX_MODES], pi[S4D_MAX_MODES];
    for (int n = 0; n < m->M; n++)
        s1r[n] = s1i[n] = s2r[n] = s2i[n] = 0.0;
    for (int l0 = 0; l0 < L; l0 += S4D_ANCHOR) {
        anchor_powers(m, l0, pr, pi);
        int l1 = l0 + S4D_ANCHOR < L ? l0 + S4D_ANCHOR : L;
        for (int l = l0; l < l1; l++) {
            double g = dK[l], gl = g * l;
#pragma omp simd
            for (int n = 0; n < m->M; n++) {
                s1r[n] += g * pr[n], s1i[n] += g * pi[n];
                s2r[n] += gl * pr[n], s2i[n] += gl * pi[n];
                double r = pr[n] * m->er[n] - pi[n] * m->ei[n];
                pi[n] = pr[n] * m->ei[n] + pi[n] * m->er[n];
                pr[n] = r;
            }
        }
    }
}

/* The chain rule from dK (one channel) to the SSM parameters, for the holomorphic S_l = sum_n C'_n E_n(l) with
 * K_l = 2 Re S_l: G(w) = sum_l 2 dK_l dS_l/dw, and a real parameter's gradient is Re G (real part) or -Im G
 * (imaginary part). See SEMANTICS-hyena-s4d.md section 4. */
static void kernel_channel_backward(const S4dModes *m, const float *dK, int L, const S4dParams *g, int h)
{
    double s1r[S4D_MAX_MODES], s1i[S4D_MAX_MODES], s2r[S4D_MAX_MODES], s2i[S4D_MAX_MODES];
    kernel_sums(m, dK, L, s1r, s1i, s2r, s2i);
    double dlog_dt = 0.0;
    for (int n = 0; n < m->M; n++) {
        size_t i = (size_t)h * m->M + n;
        double gpr = 2 * s1r[n], gpi = 2 * s1i[n]; /* G(C') */
        double t1r, t1i, t2r, t2i, cer, cei, gdr, gdi;
        cmul(m->wr[n], m->wi[n], 2 * s2r[n], 2 * s2i[n], &t1r, &t1i);      /* C' S2 */
        cmul(m->cr[n], m->ci[n], m->er[n], m->ei[n], &cer, &cei);          /* C e */
        cdiv(cer, cei, m->ar[n], m->ai[n], &cer, &cei);                    /* C e / A */
        cmul(gpr, gpi, cer, cei, &t2r, &t2i);
        gdr = t1r + t2r, gdi = t1i + t2i;                                  /* G(dtA) */
        double gcr, gci, q1r, q1i, gar, gai;
        cdiv(m->er[n] - 1, m->ei[n], m->ar[n], m->ai[n], &q1r, &q1i);      /* (e - 1) / A */
        cmul(gpr, gpi, q1r, q1i, &gcr, &gci);                              /* G(C) */
        cdiv(m->wr[n], m->wi[n], m->ar[n], m->ai[n], &q1r, &q1i);          /* C' / A */
        cmul(gpr, gpi, q1r, q1i, &t1r, &t1i);
        gar = gdr * m->dt - t1r, gai = gdi * m->dt - t1i;                  /* G(A) */
        g->C[2 * i] += (float)gcr;
        g->C[2 * i + 1] += (float)-gci;
        g->log_A_real[i] += (float)(m->ar[n] * gar); /* d Re A / d log_A_real = -exp(.) = Re A */
        g->A_imag[i] += (float)-gai;
        dlog_dt += gdr * m->ar[n] - gdi * m->ai[n]; /* Re(G(dtA) A) */
    }
    g->log_dt[h] += (float)(m->dt * dlog_dt);
}

/* act: x channel-major (B, H, L) | y1 (B, H, L) | GELU output row-major (B, L, H) | z (B, L, 2H) | K (H, L). */
typedef struct S4dAct {
    float *uT, *y1, *g, *z, *K;
} S4dAct;

static S4dAct act_views(const S4dConfig *cfg, const float *act, int B, int L)
{
    size_t N = ws_floats_for((size_t)B * L * cfg->d_model);
    float *a = (float *)act;
    return (S4dAct){a, a + N, a + 2 * N, a + 3 * N, a + 3 * N + ws_floats_for((size_t)B * L * 2 * cfg->d_model)};
}

size_t s4d_act_floats(const S4dConfig *cfg, int B, int L)
{
    size_t N = (size_t)B * L * cfg->d_model;
    return 3 * ws_floats_for(N) + ws_floats_for(2 * N) + ws_floats_for((size_t)cfg->d_model * L);
}

size_t s4d_workspace_floats(const S4dConfig *cfg, int B, int L)
{
    /* backward: dz (B, L, 2H), dg (B, L, H), dy1 (B, H, L), du (B, H, L), dK (H, L); forward needs less. */
    size_t N = (size_t)B * L * cfg->d_model;
    return ws_floats_for(2 * N) + 3 * ws_floats_for(N) + ws_floats_for((size_t)cfg->d_model * L) +
           fftconv_cm_workspace_floats(L);
}

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* y (rows, H) = z[:, :H] * sigmoid(z[:, H:]) */
static void glu_forward(const float *z, float *y, size_t rows, int H)
{
#pragma omp parallel for schedule(static) if (rows * H > 65536)
    for (size_t r = 0; r < rows; r++)
        for (int h = 0; h < H; h++)
            y[r * H + h] = z[r * 2 * H + h] * sigmoidf(z[r * 2 * H + H + h]);
}

static void glu_backward(const float *z, const float *dy, float *dz, size_t rows, int H)
{
#pragma omp parallel for schedule(static) if (rows * H > 65536)
    for (size_t r = 0; r < rows; r++)
        for (int h = 0; h < H; h++) {
            float a = z[r * 2 * H + h], s = sigmoidf(z[r * 2 * H + H + h]), d = dy[r * H + h];
            dz[r * 2 * H + h] = d * s;
            dz[r * 2 * H + H + h] = d * a * s * (1.0f - s);
        }
}

void s4d_forward(const S4dConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws)
{
    const int H = cfg->d_model;
    const size_t N = (size_t)B * L * H, rows = (size_t)B * L;
    S4dParams p = s4d_views(cfg, params);
    S4dAct a = act_views(cfg, act, B, L);
    s4d_kernel(cfg, params, a.K, L);
    core_transpose(x, a.uT, B, L, H);
    fftconv_cm_forward(a.K, L, p.D, a.uT, a.y1, B, H, L, ws);
    float *gT = ws_take(ws, N);
    gelu_apply(a.y1, gT, N);
    core_transpose(gT, a.g, B, H, L);
    gemm_linear_forward(a.g, p.W, p.b, a.z, (int)rows, H, 2 * H);
    glu_forward(a.z, y, rows, H);
}

void s4d_backward(const S4dConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws)
{
    const int H = cfg->d_model;
    const size_t N = (size_t)B * L * H, rows = (size_t)B * L;
    S4dParams p = s4d_views(cfg, params), g = s4d_views(cfg, dparams);
    S4dAct a = act_views(cfg, act, B, L);
    float *dz = ws_take(ws, 2 * N), *dg = ws_take(ws, N), *dy1 = ws_take(ws, N), *du = ws_take(ws, N);
    float *dK = ws_take(ws, (size_t)H * L);
    glu_backward(a.z, dy, dz, rows, H);
    gemm_linear_backward_params(dz, a.g, g.W, g.b, (int)rows, H, 2 * H);
    gemm_linear_backward_input(dz, p.W, dg, (int)rows, H, 2 * H, 0.0f);
    core_transpose(dg, dy1, B, L, H);
    gelu_backward_apply(a.y1, dy1, dy1, N);
    memset(dK, 0, (size_t)H * L * sizeof(float));
    fftconv_cm_backward(a.K, L, p.D, a.uT, dy1, du, dK, g.D, B, H, L, ws);
    core_transpose(du, dx, B, H, L);
#pragma omp parallel for schedule(dynamic, 4)
    for (int h = 0; h < H; h++) {
        S4dModes m;
        modes_of_channel(cfg, &p, h, &m);
        kernel_channel_backward(&m, dK + (size_t)h * L, L, &g, h);
    }
}

/* Kernel generation per (h, n): 25 for the mode constants (exp, cos, sin, complex products and division),
 * 10 per anchor (exp, cos, sin and products) every S4D_ANCHOR steps, 8 per step (complex multiply 6,
 * accumulate the real part 2), and 1 per (h, l) for the factor 2. Its backward: 6 per step to advance the
 * power, 8 to accumulate the two complex sums, 1 per (h, l) for l dK_l, and 60 per mode for the chain rule.
 * GLU: 5 per output forward (sigmoid 3, negate 1, product 1), 9 backward. GELU: ops/gelu.h. */
OpFlops s4d_flops(const S4dConfig *cfg, int B, int L)
{
    const double H = cfg->d_model, M = cfg->d_state / 2, anchors = (L + S4D_ANCHOR - 1) / S4D_ANCHOR;
    const double N = (double)B * L * H, rows = (double)B * L;
    OpFlops conv = fftconv_cm_flops(B, cfg->d_model, L, 1);
    double kfwd = H * M * (25.0 + 10.0 * anchors + 8.0 * L) + H * L;
    double kbwd = H * M * (60.0 + 10.0 * anchors + 14.0 * L) + H * L;
    OpFlops f;
    f.forward = kfwd + conv.forward + GELU_FLOPS_FORWARD * N + gemm_linear_flops_forward(rows, cfg->d_model,
                                                                                          2 * cfg->d_model, 1) +
                5.0 * N;
    f.backward = 9.0 * N + gemm_linear_flops_backward(rows, cfg->d_model, 2 * cfg->d_model, 1) +
                 GELU_FLOPS_BACKWARD * N + conv.backward + kbwd;
    return f;
}

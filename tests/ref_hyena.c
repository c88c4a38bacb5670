#include "ref_hyena.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

/* Index of each tensor in named_parameters() order. The MLP's Linear i (0 .. n) has its weight at index
 * W0 for i = 0 and FREQ + 2i - 1 after the shared freq, its bias right after; the last Linear follows. */
enum { IN_W, IN_B, OUT_W, OUT_B, SHORT_W, SHORT_B, BETA, Z, W0, B0, FREQ };

typedef struct Ref {
    const HyenaConfig *cfg;
    int B, L, D, o, Dn, C, E, F, n, K;
    const float *params;
    double *grads;
    size_t off[OP_MAX_PARAM_TENSORS];
    double flops;
    /* forward values, row-major */
    double *X, *U;   /* (B, L, Dn) in_proj output, short conv output */
    double **S, **A; /* n+1 x (L, F) MLP pre-activations and their sin */
    double *DEC, *H; /* (L, C) modulation window, filter */
    double **G;      /* o-1 x (B, L, D) long convolution inputs a_j */
    double **V;      /* o x (B, L, D) v_0 .. v_{o-1} */
    double *YG;      /* (B, L, D) out_proj input */
} Ref;

static const float *P(const Ref *r, int i) { return r->params + r->off[i]; }
static double *Gr(const Ref *r, int i) { return r->grads + r->off[i]; }
static int mlp_w(int i) { return i == 0 ? W0 : FREQ + 2 * i - 1; }
static int w_out_index(const Ref *r) { return FREQ + 2 * r->n + 1; }
/* Element (b, t, channel c) of a (B, L, width) tensor. */
static size_t at(const Ref *r, int b, int t, int width, int c) { return ((size_t)b * r->L + t) * width + c; }

/* ---- linear layers with counting ---- */

/* out (rows, dout) = in (rows, din) w^T (+ b) */
static void lin_fwd(Ref *r, const double *in, const float *w, const float *b, double *out, int rows, int din,
                    int dout)
{
    for (int i = 0; i < rows; i++)
        for (int k = 0; k < dout; k++) {
            double acc = 0.0;
            for (int j = 0; j < din; j++, r->flops += 2)
                acc += in[(size_t)i * din + j] * w[(size_t)k * din + j];
            if (b)
                acc += b[k], r->flops += 1;
            out[(size_t)i * dout + k] = acc;
        }
}

/* dw += dout^T in; db += column sums of dout (if db); din += dout w */
static void lin_bwd(Ref *r, const double *in, const float *w, const double *dout, double *din, double *dw,
                    double *db, int rows, int nin, int nout)
{
    for (int i = 0; i < rows; i++)
        for (int k = 0; k < nout; k++) {
            double g = dout[(size_t)i * nout + k];
            for (int j = 0; j < nin; j++, r->flops += 4) {
                dw[(size_t)k * nin + j] += g * in[(size_t)i * nin + j];
                din[(size_t)i * nin + j] += g * w[(size_t)k * nin + j];
            }
            if (db)
                db[k] += g, r->flops += 1;
        }
}

/* ---- the implicit filter ---- */

/* The buffers in double: t_l = l / (l_max - 1); deltas evenly spaced over the C filter channels. */
static double ref_t(const Ref *r, int l) { return r->cfg->l_max > 1 ? (double)l / (r->cfg->l_max - 1) : 0.0; }

static double ref_delta(const Ref *r, int c)
{
    double lt = log((double)r->cfg->target);
    double lo = lt / r->cfg->slow_decay_pct, hi = lt / r->cfg->fast_decay_pct;
    return r->C > 1 ? lo + (hi - lo) * c / (r->C - 1) : lo;
}

static void filter_forward(Ref *r)
{
    const int L = r->L, F = r->F, C = r->C, E = r->E;
    double *z = malloc((size_t)L * E * sizeof *z);
    for (int i = 0; i < L * E; i++)
        z[i] = P(r, Z)[i];
    const double *in = z;
    for (int i = 0; i <= r->n; i++) {
        lin_fwd(r, in, P(r, mlp_w(i)), P(r, mlp_w(i) + 1), r->S[i], L, i ? F : E, F);
        for (int k = 0; k < L * F; k++, r->flops += 2)
            r->A[i][k] = sin(P(r, FREQ)[k % F] * r->S[i][k]);
        in = r->A[i];
    }
    lin_fwd(r, in, P(r, w_out_index(r)), NULL, r->H, L, F, C);
    for (int l = 0; l < L; l++)
        for (int c = 0; c < C; c++) {
            size_t k = (size_t)l * C + c;
            r->DEC[k] = 1.0;
            if (r->cfg->modulate) {
                r->DEC[k] = exp(-(ref_t(r, l) * fabs(ref_delta(r, c)))) + r->cfg->shift; /* mul, exp, add */
                r->H[k] *= r->DEC[k];                                                      /* mul */
                r->flops += 4;
            }
        }
    free(z);
}

/* dh (L, C) -> gradients of the MLP, freq and z (first L rows). */
static void filter_backward(Ref *r, double *dh)
{
    const int L = r->L, F = r->F, C = r->C, E = r->E;
    if (r->cfg->modulate)
        for (int k = 0; k < L * C; k++, r->flops += 1)
            dh[k] *= r->DEC[k];
    double *da = calloc((size_t)L * F, sizeof *da), *dprev = calloc((size_t)L * F, sizeof *dprev);
    lin_bwd(r, r->A[r->n], P(r, w_out_index(r)), dh, da, Gr(r, w_out_index(r)), NULL, L, F, C);
    for (int i = r->n; i >= 0; i--) {
        for (int k = 0; k < L * F; k++) {
            double fr = P(r, FREQ)[k % F], s = r->S[i][k];
            double through = da[k] * cos(fr * s); /* mul, cos, mul */
            Gr(r, FREQ)[k % F] += through * s;    /* multiply-add */
            da[k] = through * fr;                 /* mul */
            r->flops += 6;
        }
        if (i == 0) {
            double *z = malloc((size_t)L * E * sizeof *z);
            for (int k = 0; k < L * E; k++)
                z[k] = P(r, Z)[k];
            lin_bwd(r, z, P(r, W0), da, Gr(r, Z), Gr(r, W0), Gr(r, B0), L, E, F);
            free(z);
            break;
        }
        memset(dprev, 0, (size_t)L * F * sizeof *dprev);
        lin_bwd(r, r->A[i - 1], P(r, mlp_w(i)), da, dprev, Gr(r, mlp_w(i)), Gr(r, mlp_w(i) + 1), L, F, F);
        double *swap = da;
        da = dprev, dprev = swap;
    }
    free(da), free(dprev);
}

/* ---- short conv and the long convolutions ---- */

static void short_conv_forward(Ref *r)
{
    const float *w = P(r, SHORT_W), *bias = P(r, SHORT_B);
    for (int b = 0; b < r->B; b++)
        for (int t = 0; t < r->L; t++)
            for (int c = 0; c < r->Dn; c++) {
                double acc = 0.0;
                for (int i = 0; i < r->K; i++) {
                    int s = t - (r->K - 1) + i;
                    if (s >= 0)
                        acc += w[c * r->K + i] * r->X[at(r, b, s, r->Dn, c)], r->flops += 2;
                }
                r->U[at(r, b, t, r->Dn, c)] = acc + bias[c];
                r->flops += 1;
            }
}

/* dU (B, L, Dn) -> dX (written) and the short conv's gradients. */
static void short_conv_backward(Ref *r, const double *dU, double *dX)
{
    const float *w = P(r, SHORT_W);
    for (int b = 0; b < r->B; b++)
        for (int t = 0; t < r->L; t++)
            for (int c = 0; c < r->Dn; c++) {
                double g = dU[at(r, b, t, r->Dn, c)];
                Gr(r, SHORT_B)[c] += g, r->flops += 1;
                for (int i = 0; i < r->K; i++) {
                    int s = t - (r->K - 1) + i;
                    if (s < 0)
                        continue;
                    Gr(r, SHORT_W)[c * r->K + i] += g * r->X[at(r, b, s, r->Dn, c)];
                    dX[at(r, b, s, r->Dn, c)] += g * w[c * r->K + i];
                    r->flops += 4;
                }
            }
}

/* out = h_j (*) in + beta_j in, direct causal sum; not counted (fftconv_cm_flops covers it). */
static void long_conv(const Ref *r, int j, const double *in, double *out)
{
    for (int b = 0; b < r->B; b++)
        for (int d = 0; d < r->D; d++) {
            const int c = j * r->D + d;
            for (int t = 0; t < r->L; t++) {
                double acc = P(r, BETA)[c] * in[at(r, b, t, r->D, d)];
                for (int s = 0; s <= t; s++)
                    acc += r->H[(size_t)s * r->C + c] * in[at(r, b, t - s, r->D, d)];
                out[at(r, b, t, r->D, d)] = acc;
            }
        }
}

/* dout -> din (written), dh (L, C) and d beta (+=); not counted. */
static void long_conv_backward(Ref *r, int j, const double *in, const double *dout, double *din, double *dh)
{
    for (int b = 0; b < r->B; b++)
        for (int d = 0; d < r->D; d++) {
            const int c = j * r->D + d;
            for (int t = 0; t < r->L; t++) {
                double g = dout[at(r, b, t, r->D, d)];
                double acc = P(r, BETA)[c] * g;
                for (int s = t; s < r->L; s++)
                    acc += r->H[(size_t)(s - t) * r->C + c] * dout[at(r, b, s, r->D, d)];
                din[at(r, b, t, r->D, d)] = acc;
                Gr(r, BETA)[c] += g * in[at(r, b, t, r->D, d)];
                for (int s = 0; s <= t; s++)
                    dh[(size_t)s * r->C + c] += g * in[at(r, b, t - s, r->D, d)];
            }
        }
}

/* ---- the operator ---- */

/* Chunk i of U (channels [iD, (i+1)D)) at (b, t, d). */
static double chunk(const Ref *r, int i, int b, int t, int d) { return r->U[at(r, b, t, r->Dn, i * r->D + d)]; }

static void forward(Ref *r, const float *x, double *y)
{
    const size_t n_in = (size_t)r->B * r->L * r->D;
    double *xd = malloc(n_in * sizeof *xd);
    for (size_t i = 0; i < n_in; i++)
        xd[i] = x[i];
    lin_fwd(r, xd, P(r, IN_W), P(r, IN_B), r->X, r->B * r->L, r->D, r->Dn);
    short_conv_forward(r);
    filter_forward(r);
    for (int b = 0; b < r->B; b++)
        for (int t = 0; t < r->L; t++)
            for (int d = 0; d < r->D; d++)
                r->V[0][at(r, b, t, r->D, d)] = chunk(r, r->o, b, t, d);
    for (int j = 0; j < r->o - 1; j++) {
        for (int b = 0; b < r->B; b++)
            for (int t = 0; t < r->L; t++)
                for (int d = 0; d < r->D; d++, r->flops += 1)
                    r->G[j][at(r, b, t, r->D, d)] = r->V[j][at(r, b, t, r->D, d)] * chunk(r, r->o - 1 - j, b, t, d);
        long_conv(r, j, r->G[j], r->V[j + 1]);
    }
    for (int b = 0; b < r->B; b++)
        for (int t = 0; t < r->L; t++)
            for (int d = 0; d < r->D; d++, r->flops += 1)
                r->YG[at(r, b, t, r->D, d)] = r->V[r->o - 1][at(r, b, t, r->D, d)] * chunk(r, 0, b, t, d);
    lin_fwd(r, r->YG, P(r, OUT_W), P(r, OUT_B), y, r->B * r->L, r->D, r->D);
    free(xd);
}

/* dv (B, L, D) holds d v_{o-1}; walks the recurrence back, filling dU and dh. */
static void recurrence_backward(Ref *r, double *dv, double *dU, double *dh)
{
    const size_t n = (size_t)r->B * r->L * r->D;
    double *da = malloc(n * sizeof *da);
    for (int j = r->o - 2; j >= 0; j--) {
        const int i = r->o - 1 - j; /* a_j = v_j * ch_i */
        long_conv_backward(r, j, r->G[j], dv, da, dh);
        for (int b = 0; b < r->B; b++)
            for (int t = 0; t < r->L; t++)
                for (int d = 0; d < r->D; d++, r->flops += 2) {
                    size_t k = at(r, b, t, r->D, d);
                    dU[at(r, b, t, r->Dn, i * r->D + d)] = da[k] * r->V[j][k];
                    dv[k] = da[k] * chunk(r, i, b, t, d);
                }
    }
    for (int b = 0; b < r->B; b++)
        for (int t = 0; t < r->L; t++)
            for (int d = 0; d < r->D; d++)
                dU[at(r, b, t, r->Dn, r->o * r->D + d)] = dv[at(r, b, t, r->D, d)];
    free(da);
}

static void backward(Ref *r, const float *x, const float *dy, double *dx)
{
    const size_t n = (size_t)r->B * r->L * r->D, wide = (size_t)r->B * r->L * r->Dn;
    double *dyd = malloc(n * sizeof *dyd), *xd = malloc(n * sizeof *xd), *dyg = calloc(n, sizeof *dyg);
    double *dv = malloc(n * sizeof *dv), *dU = calloc(wide, sizeof *dU), *dX = calloc(wide, sizeof *dX);
    double *dh = calloc((size_t)r->L * r->C, sizeof *dh);
    for (size_t i = 0; i < n; i++)
        dyd[i] = dy[i], xd[i] = x[i];
    lin_bwd(r, r->YG, P(r, OUT_W), dyd, dyg, Gr(r, OUT_W), Gr(r, OUT_B), r->B * r->L, r->D, r->D);
    for (int b = 0; b < r->B; b++)
        for (int t = 0; t < r->L; t++)
            for (int d = 0; d < r->D; d++, r->flops += 2) {
                size_t k = at(r, b, t, r->D, d);
                dU[at(r, b, t, r->Dn, d)] = dyg[k] * r->V[r->o - 1][k];
                dv[k] = dyg[k] * chunk(r, 0, b, t, d);
            }
    recurrence_backward(r, dv, dU, dh);
    filter_backward(r, dh);
    short_conv_backward(r, dU, dX);
    memset(dx, 0, n * sizeof *dx);
    lin_bwd(r, xd, P(r, IN_W), dX, dx, Gr(r, IN_W), Gr(r, IN_B), r->B * r->L, r->D, r->Dn);
    free(dyd), free(xd), free(dyg), free(dv), free(dU), free(dX), free(dh);
}

/* ---- set-up ---- */

static double **alloc_list(int count, size_t n)
{
    double **list = calloc((size_t)count, sizeof *list);
    for (int i = 0; list && i < count; i++)
        list[i] = calloc(n, sizeof **list);
    return list;
}

static void free_list(double **list, int count)
{
    for (int i = 0; list && i < count; i++)
        free(list[i]);
    free(list);
}

static int ref_setup(Ref *r, const HyenaConfig *cfg, const float *params, double *grads, int B, int L)
{
    memset(r, 0, sizeof *r);
    *r = (Ref){.cfg = cfg, .B = B, .L = L, .D = cfg->d_model, .o = cfg->order, .Dn = (cfg->order + 1) * cfg->d_model,
               .C = (cfg->order - 1) * cfg->d_model, .E = cfg->emb_dim, .F = cfg->filter_order,
               .n = cfg->num_inner_mlps, .K = cfg->short_filter_order, .params = params, .grads = grads};
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = hyena_param_specs(cfg, specs);
    for (int i = 0; i < count; i++)
        r->off[i] = specs[i].offset;
    memset(grads, 0, core_spec_total(specs, count) * sizeof *grads);
    const size_t n = (size_t)B * L * r->D, wide = (size_t)B * L * r->Dn;
    r->X = calloc(wide, sizeof *r->X), r->U = calloc(wide, sizeof *r->U);
    r->S = alloc_list(r->n + 1, (size_t)L * r->F), r->A = alloc_list(r->n + 1, (size_t)L * r->F);
    r->DEC = calloc((size_t)L * r->C, sizeof *r->DEC), r->H = calloc((size_t)L * r->C, sizeof *r->H);
    r->G = alloc_list(r->o - 1, n), r->V = alloc_list(r->o, n), r->YG = calloc(n, sizeof *r->YG);
    return (r->X && r->U && r->S && r->A && r->DEC && r->H && r->G && r->V && r->YG) ? 0 : -1;
}

static void ref_teardown(Ref *r)
{
    free(r->X), free(r->U), free(r->DEC), free(r->H), free(r->YG);
    free_list(r->S, r->n + 1), free_list(r->A, r->n + 1), free_list(r->G, r->o - 1), free_list(r->V, r->o);
}

int ref_hyena(const HyenaConfig *cfg, const float *params, const float *x, const float *dy, int B, int L, double *y,
              double *dx, double *dparams, double *flops_forward, double *flops_backward)
{
    Ref r;
    if (ref_setup(&r, cfg, params, dparams, B, L) != 0) {
        ref_teardown(&r);
        return -1;
    }
    forward(&r, x, y);
    *flops_forward = r.flops;
    r.flops = 0.0;
    backward(&r, x, dy, dx);
    *flops_backward = r.flops;
    ref_teardown(&r);
    return 0;
}

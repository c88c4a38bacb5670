#include "ref_fff.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parameter tensors located by name; pointers into the float block and into the double gradient block. */
typedef struct RefTensor {
    const float *v;
    double *g;
} RefTensor;

static RefTensor tensor(const FffConfig *cfg, const float *params, double *grads, const char *name)
{
    ParamSpec specs[8];
    int count = fff_param_specs(cfg, specs);
    for (int t = 0; t < count; t++)
        if (strcmp(specs[t].name, name) == 0)
            return (RefTensor){params + specs[t].offset, grads + specs[t].offset};
    return (RefTensor){NULL, NULL};
}

static int use_gelu(const FffConfig *cfg)
{
    return cfg->activation == FFF_ACT_GELU || (cfg->activation == FFF_ACT_AUTO && cfg->variant == FFF_VARIANT_UFB);
}

/* act(z): GELU 5 flops (as tests/ref_ops.c), ReLU 0 (a select). */
static double act(int gelu, double z, double *flops)
{
    if (!gelu)
        return z > 0.0 ? z : 0.0;
    *flops += 5;
    return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
}

/* upstream * act'(z): GELU 11 flops (cdf 4, pdf 4, combine 3), ReLU 0. */
static double act_backward(int gelu, double z, double upstream, double *flops)
{
    if (!gelu)
        return z > 0.0 ? upstream : 0.0;
    *flops += 11;
    double cdf = 0.5 * (1.0 + erf(z / sqrt(2.0)));
    double pdf = exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
    return upstream * (cdf + z * pdf);
}

static double clamp_entropy(double b)
{
    const double lo = FFF_ENTROPY_EPSILON, hi = 1.0 - FFF_ENTROPY_EPSILON;
    return b < lo ? lo : (b > hi ? hi : b);
}

/* ---- variant fff, training mode ---- */

typedef struct FffRef {
    const FffConfig *cfg;
    RefTensor nw, nb, w1, b1, w2, b2;
    int D, K, Lf, W, gelu;
    double h_scale; /* h / (N K) */
    /* one token's intermediates */
    double *p, *b, *mix, *hid, *a, *e, *dmix, *mass, *dz;
} FffRef;

/* Forward of one token (row n): y (D), returns its summed node entropies. */
static double fff_train_token_forward(FffRef *r, long n, const float *x, double *y, double *flops)
{
    const int D = r->D, K = r->K, Lf = r->Lf, W = r->W;
    double entropy = 0.0;
    for (int j = 0; j < K; j++) {
        double z = r->nb.v[j];
        for (int k = 0; k < D; k++)
            z += (double)x[k] * r->nw.v[(size_t)j * D + k];
        r->p[j] = 1.0 / (1.0 + exp(-z));
        r->b[j] = fff_leak_swaps(r->cfg, n, j) ? 1.0 - r->p[j] : r->p[j]; /* the swap: a select */
        double bb = clamp_entropy(r->b[j]), mm = clamp_entropy(1.0 - r->b[j]);
        entropy += -bb * log(bb) - mm * log(mm);
        *flops += 2.0 * D + 1 + 3 + 1 + 5 + 1; /* logit, sigmoid, 1 - b, entropy, its sum */
    }
    for (int i = 0; i < Lf; i++) {
        r->mix[i] = 1.0;
        for (int level = 0; level < r->cfg->depth; level++, *flops += 1) {
            int node = (1 << level) - 1 + (i >> (r->cfg->depth - level));
            int right = (i >> (r->cfg->depth - level - 1)) & 1;
            r->mix[i] *= right ? r->b[node] : 1.0 - r->b[node]; /* 1 - b counted above */
        }
    }
    for (int i = 0; i < Lf; i++)
        for (int w = 0; w < W; w++) {
            const int iw = i * W + w;
            double s = r->b1.v[iw];
            for (int k = 0; k < D; k++)
                s += (double)x[k] * r->w1.v[((size_t)i * D + k) * W + w];
            r->hid[iw] = s;
            r->a[iw] = act(r->gelu, s, flops);
            *flops += 2.0 * D + 1 + 1; /* the layer, then the mixture weight M_i a */
        }
    for (int o = 0; o < D; o++) {
        double s = 0.0;
        for (int i = 0; i < Lf; i++) {
            for (int w = 0; w < W; w++, *flops += 2)
                s += r->mix[i] * r->a[i * W + w] * r->w2.v[((size_t)i * W + w) * D + o];
            s += r->mix[i] * r->b2.v[(size_t)i * D + o];
            *flops += 2;
        }
        y[o] = s;
    }
    return entropy;
}

/* dL/db through the mixture: P(j) (mass reaching j) top-down, subtree sums Q bottom-up. */
static void fff_tree_backward(FffRef *r, long n, double *flops)
{
    const int d = r->cfg->depth;
    double *q = r->dmix, *mass = r->mass;
    mass[0] = 1.0;
    for (int node = 0; node < (1 << (d - 1)) - 1; node++, *flops += 3) {
        mass[2 * node + 1] = mass[node] * (1.0 - r->b[node]);
        mass[2 * node + 2] = mass[node] * r->b[node];
    }
    for (int level = d - 1; level >= 0; level--)
        for (int j = 0; j < (1 << level); j++) {
            const int node = (1 << level) - 1 + j;
            double diff = q[2 * j + 1] - q[2 * j], db = mass[node] * diff;
            q[j] = q[2 * j] + r->b[node] * diff;
            if (r->h_scale != 0.0) {
                double bb = r->b[node], g = 0.0;
                if (bb >= FFF_ENTROPY_EPSILON && bb <= 1.0 - FFF_ENTROPY_EPSILON)
                    g += -log(bb) - 1.0;
                if (1.0 - bb >= FFF_ENTROPY_EPSILON && 1.0 - bb <= 1.0 - FFF_ENTROPY_EPSILON)
                    g += log(1.0 - bb) + 1.0;
                db += r->h_scale * g; /* not counted (fff.h) */
            }
            double dp = fff_leak_swaps(r->cfg, n, node) ? -db : db;
            r->dz[node] = dp * (1.0 - r->p[node]) * r->p[node];
            *flops += 4 + 3;
        }
}

static void fff_train_token_backward(FffRef *r, long n, const float *x, const float *dy, double *dx, double *flops)
{
    const int D = r->D, K = r->K, Lf = r->Lf, W = r->W;
    for (int i = 0; i < Lf; i++) {
        r->dmix[i] = 0.0;
        for (int o = 0; o < D; o++, *flops += 4) {
            r->b2.g[(size_t)i * D + o] += r->mix[i] * dy[o];
            r->dmix[i] += dy[o] * r->b2.v[(size_t)i * D + o];
        }
        for (int w = 0; w < W; w++) {
            const int iw = i * W + w;
            const double g = r->mix[i] * r->a[iw]; /* the leaf's mixture-weighted activation */
            double e = 0.0;
            for (int o = 0; o < D; o++, *flops += 4) {
                r->w2.g[(size_t)iw * D + o] += g * dy[o];
                e += dy[o] * r->w2.v[(size_t)iw * D + o];
            }
            r->dmix[i] += r->a[iw] * e;
            r->e[iw] = act_backward(r->gelu, r->hid[iw], r->mix[i] * e, flops); /* dL/dhidden */
            *flops += 1 + 2 + 1;
        }
    }
    for (int k = 0; k < D; k++)
        dx[k] = 0.0;
    for (int iw = 0; iw < Lf * W; iw++) {
        const int i = iw / W, w = iw % W;
        r->b1.g[iw] += r->e[iw];
        *flops += 1;
        for (int k = 0; k < D; k++, *flops += 4) {
            r->w1.g[((size_t)i * D + k) * W + w] += (double)x[k] * r->e[iw];
            dx[k] += r->w1.v[((size_t)i * D + k) * W + w] * r->e[iw];
        }
    }
    fff_tree_backward(r, n, flops);
    for (int j = 0; j < K; j++) {
        r->nb.g[j] += r->dz[j];
        *flops += 1;
        for (int k = 0; k < D; k++, *flops += 4) {
            r->nw.g[(size_t)j * D + k] += r->dz[j] * x[k];
            dx[k] += r->dz[j] * r->nw.v[(size_t)j * D + k];
        }
    }
}

static int ref_fff_train(const FffConfig *cfg, const float *params, const float *x, const float *dy, int N, double h,
                         RefFffOut *out)
{
    FffRef r = {.cfg = cfg, .D = cfg->d_model, .K = (1 << cfg->depth) - 1, .Lf = 1 << cfg->depth,
                .W = cfg->leaf_width, .gelu = use_gelu(cfg)};
    r.nw = tensor(cfg, params, out->dparams, "node_weights"), r.nb = tensor(cfg, params, out->dparams, "node_biases");
    r.w1 = tensor(cfg, params, out->dparams, "w1s"), r.b1 = tensor(cfg, params, out->dparams, "b1s");
    r.w2 = tensor(cfg, params, out->dparams, "w2s"), r.b2 = tensor(cfg, params, out->dparams, "b2s");
    r.h_scale = h / ((double)N * r.K);
    const size_t K = (size_t)r.K, Lf = (size_t)r.Lf, LW = Lf * r.W;
    double *buf = calloc(4 * K + 2 * Lf + 3 * LW, sizeof *buf);
    if (!buf)
        return -1;
    r.p = buf, r.b = r.p + K, r.mass = r.b + K, r.dz = r.mass + K, r.mix = r.dz + K, r.dmix = r.mix + Lf;
    r.hid = r.dmix + Lf, r.a = r.hid + LW, r.e = r.a + LW;
    double entropy = 0.0;
    for (int n = 0; n < N; n++) {
        const size_t row = (size_t)n * r.D;
        entropy += fff_train_token_forward(&r, n, x + row, out->y + row, &out->flops_forward);
        fff_train_token_backward(&r, n, x + row, dy + row, out->dx + row, &out->flops_backward);
    }
    out->mean_entropy = entropy / ((double)N * r.K);
    out->flops_forward += 1; /* the mean's division */
    free(buf);
    return 0;
}

/* ---- variant fff, inference mode: hard descent, then one leaf with both biases ---- */

static int ref_fff_infer(const FffConfig *cfg, const float *params, const float *x, const float *dy, int N,
                         RefFffOut *out)
{
    const int D = cfg->d_model, W = cfg->leaf_width, gelu = use_gelu(cfg);
    RefTensor nw = tensor(cfg, params, out->dparams, "node_weights");
    RefTensor nb = tensor(cfg, params, out->dparams, "node_biases");
    RefTensor w1 = tensor(cfg, params, out->dparams, "w1s"), b1 = tensor(cfg, params, out->dparams, "b1s");
    RefTensor w2 = tensor(cfg, params, out->dparams, "w2s"), b2 = tensor(cfg, params, out->dparams, "b2s");
    double *hid = calloc(2 * (size_t)W, sizeof *hid), *a = hid + W;
    if (!hid)
        return -1;
    double *ff = &out->flops_forward, *fb = &out->flops_backward;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * D, *dyn = dy + (size_t)n * D;
        int node = 0;
        for (int s = 0; s < cfg->depth; s++, *ff += 2.0 * D + 1) {
            double z = nb.v[node];
            for (int k = 0; k < D; k++)
                z += (double)xn[k] * nw.v[(size_t)node * D + k];
            node = 2 * node + 1 + (z >= 0.0);
        }
        const size_t leaf = (size_t)(node - ((1 << cfg->depth) - 1));
        for (int w = 0; w < W; w++, *ff += 2.0 * D + 1) {
            double s = b1.v[leaf * W + w];
            for (int k = 0; k < D; k++)
                s += (double)xn[k] * w1.v[(leaf * D + k) * W + w];
            hid[w] = s, a[w] = act(gelu, s, ff);
        }
        for (int o = 0; o < D; o++, *ff += 2.0 * W + 1) {
            double s = 0.0;
            for (int w = 0; w < W; w++)
                s += a[w] * w2.v[(leaf * W + w) * D + o];
            out->y[(size_t)n * D + o] = s + b2.v[leaf * D + o];
            b2.g[leaf * D + o] += dyn[o];
        }
        *fb += D;
        for (int w = 0; w < W; w++) {
            double da = 0.0;
            for (int o = 0; o < D; o++, *fb += 4) {
                da += w2.v[(leaf * W + w) * D + o] * dyn[o];
                w2.g[(leaf * W + w) * D + o] += a[w] * dyn[o];
            }
            double dh = act_backward(gelu, hid[w], da, fb);
            b1.g[leaf * W + w] += dh;
            *fb += 1;
            for (int k = 0; k < D; k++, *fb += 4) {
                w1.g[(leaf * D + k) * W + w] += (double)xn[k] * dh;
                out->dx[(size_t)n * D + k] += w1.v[(leaf * D + k) * W + w] * dh;
            }
        }
    }
    free(hid);
    return 0;
}

/* ---- variant ufb: train = all neurons then the path mask; infer = the path neurons only ---- */

typedef struct UfbRef {
    RefTensor in_w, in_b, out_w;
    int D, Nn, R, gelu;
} UfbRef;

/* Marks the token's path neurons in on_path (R) from their pre-activations z (R). */
static void ufb_mark_paths(const FffConfig *cfg, const UfbRef *u, const double *z, char *on_path)
{
    memset(on_path, 0, (size_t)(unsigned)u->R);
    for (int t = 0; t < cfg->parallel_size; t++) {
        int node = 0;
        for (int s = 0; s <= cfg->depth; s++) {
            on_path[t * u->Nn + node] = 1;
            node = 2 * node + 1 + (z[t * u->Nn + node] > 0.0);
        }
    }
}

/* Forward and backward of one neuron r of one token, counting as the dense (train) or the path (infer) run. */
static void ufb_neuron(const UfbRef *u, int r, int on_path, const float *x, const float *dy, double *y, double *dx,
                       double *flops_fwd, double *flops_bwd, int dense)
{
    const int D = u->D;
    double z = u->in_b.v[r];
    for (int k = 0; k < D; k++)
        z += (double)x[k] * u->in_w.v[(size_t)r * D + k];
    double a = act(u->gelu, z, flops_fwd) * (on_path ? 1.0 : 0.0);
    *flops_fwd += 2.0 * D + 1 + (dense ? 1 : 0); /* dense: the mask multiplication */
    double da = 0.0;
    for (int o = 0; o < D; o++, *flops_fwd += 2, *flops_bwd += 4) {
        y[o] += a * u->out_w.v[(size_t)o * u->R + r];
        u->out_w.g[(size_t)o * u->R + r] += a * dy[o];
        da += dy[o] * u->out_w.v[(size_t)o * u->R + r];
    }
    if (dense)
        *flops_bwd += 1; /* the mask on the gradient */
    double dz = act_backward(u->gelu, z, da * (on_path ? 1.0 : 0.0), flops_bwd);
    u->in_b.g[r] += dz;
    *flops_bwd += 1;
    for (int k = 0; k < D; k++, *flops_bwd += 4) {
        u->in_w.g[(size_t)r * D + k] += dz * x[k];
        dx[k] += dz * u->in_w.v[(size_t)r * D + k];
    }
}

static int ref_ufb(const FffConfig *cfg, const float *params, const float *x, const float *dy, int N, RefFffOut *out)
{
    UfbRef u = {.D = cfg->d_model, .Nn = (1 << (cfg->depth + 1)) - 1, .gelu = use_gelu(cfg)};
    u.R = cfg->parallel_size * u.Nn;
    u.in_w = tensor(cfg, params, out->dparams, "linear_in.weight");
    u.in_b = tensor(cfg, params, out->dparams, "linear_in.bias");
    u.out_w = tensor(cfg, params, out->dparams, "linear_out.weight");
    const int dense = cfg->mode == FFF_MODE_TRAIN;
    double *z = calloc((size_t)u.R, sizeof *z);
    char *on_path = malloc((size_t)u.R);
    if (!z || !on_path) {
        free(z), free(on_path);
        return -1;
    }
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * u.D;
        for (int r = 0; r < u.R; r++) { /* routing pre-activations: not counted, ufb_neuron recomputes them */
            z[r] = u.in_b.v[r];
            for (int k = 0; k < u.D; k++)
                z[r] += (double)xn[k] * u.in_w.v[(size_t)r * u.D + k];
        }
        ufb_mark_paths(cfg, &u, z, on_path);
        for (int r = 0; r < u.R; r++)
            if (dense || on_path[r])
                ufb_neuron(&u, r, on_path[r], xn, dy + (size_t)n * u.D, out->y + (size_t)n * u.D,
                           out->dx + (size_t)n * u.D, &out->flops_forward, &out->flops_backward, dense);
    }
    free(z), free(on_path);
    return 0;
}

int ref_fff(const FffConfig *cfg, const float *params, const float *x, const float *dy, int N, double h,
            RefFffOut *out)
{
    const size_t nx = (size_t)N * cfg->d_model;
    memset(out->y, 0, nx * sizeof *out->y);
    memset(out->dx, 0, nx * sizeof *out->dx);
    memset(out->dparams, 0, fff_num_params(cfg) * sizeof *out->dparams);
    out->mean_entropy = out->flops_forward = out->flops_backward = 0.0;
    if (cfg->variant == FFF_VARIANT_UFB)
        return ref_ufb(cfg, params, x, dy, N, out);
    if (cfg->mode == FFF_MODE_INFER)
        return ref_fff_infer(cfg, params, x, dy, N, out);
    return ref_fff_train(cfg, params, x, dy, N, h, out);
}

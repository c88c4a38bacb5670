#include "ref_moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_ops.h"

/* Parameter tensors, located through moe_param_specs. */
typedef struct RefParams {
    const float *gate, *noise, *w1, *b1, *w2, *b2;
} RefParams;

static RefParams ref_params(const MoeConfig *cfg, const float *params)
{
    ParamSpec s[6];
    moe_param_specs(cfg, s);
    return (RefParams){params + s[0].offset, params + s[1].offset, params + s[2].offset,
                       params + s[3].offset, params + s[4].offset, params + s[5].offset};
}

int ref_moe_alloc(RefMoe *r, const MoeConfig *cfg, int N)
{
    size_t NE = (size_t)N * cfg->n_experts, A = (size_t)N * cfg->top_k;
    size_t H = (size_t)cfg->d_hidden, D = (size_t)cfg->d_model;
    memset(r, 0, sizeof *r);
    r->N = N;
    r->clean = calloc(NE, sizeof(double));
    r->raw = calloc(NE, sizeof(double));
    r->z = calloc(NE, sizeof(double));
    r->h = calloc(NE, sizeof(double));
    r->expert = calloc(A, sizeof(int));
    r->kept = calloc(A, sizeof(int));
    r->gates = calloc(A, sizeof(double));
    r->pre = calloc(A * H, sizeof(double));
    r->hid = calloc(A * H, sizeof(double));
    r->out = calloc(A * D, sizeof(double));
    r->y = calloc((size_t)N * D, sizeof(double));
    if (!r->clean || !r->raw || !r->z || !r->h || !r->expert || !r->kept || !r->gates || !r->pre || !r->hid ||
        !r->out || !r->y) {
        ref_moe_free(r);
        return -1;
    }
    return 0;
}

void ref_moe_free(RefMoe *r)
{
    void *bufs[] = {r->clean, r->raw, r->z, r->h, r->expert, r->kept, r->gates, r->pre, r->hid, r->out, r->y};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    memset(r, 0, sizeof *r);
}

static double ref_softplus(double v) { return v > MOE_SOFTPLUS_THRESHOLD ? v : log1p(exp(v)); }

/* All E experts of row h sorted best first (larger value, then lower index): insertion sort. */
static void rank_all(const double *h, int E, int *order)
{
    for (int e = 0; e < E; e++) {
        int pos = e;
        while (pos > 0 && (h[order[pos - 1]] < h[e] || (h[order[pos - 1]] == h[e] && order[pos - 1] > e))) {
            order[pos] = order[pos - 1];
            pos--;
        }
        order[pos] = e;
    }
}

/* Logits of every token: clean, and with noise raw, z, h. */
static void ref_gating(const MoeConfig *cfg, const RefParams *p, const float *x, RefMoe *r, double *flops)
{
    const int D = cfg->d_model, E = cfg->n_experts, noisy = moe_is_noisy(cfg);
    for (int n = 0; n < r->N; n++)
        for (int e = 0; e < E; e++) {
            size_t i = (size_t)n * E + e;
            double c = 0.0, w = 0.0;
            for (int d = 0; d < D; d++, *flops += 2)
                c += (double)x[(size_t)n * D + d] * p->gate[(size_t)e * D + d];
            r->clean[i] = r->h[i] = c;
            if (!noisy)
                continue;
            for (int d = 0; d < D; d++, *flops += 2)
                w += (double)x[(size_t)n * D + d] * p->noise[(size_t)e * D + d];
            r->raw[i] = w;
            r->z[i] = moe_noise(cfg, n, e); /* Box-Muller: log, *, sqrt, *, cos, * */
            double std = ref_softplus(w) + MOE_NOISE_EPSILON; /* exp, log1p, + */
            r->h[i] = c + r->z[i] * std;                      /* *, + */
            *flops += 6 + 3 + 2;
        }
}

/* Top k and the softmax over them, per token. */
static void ref_route(const MoeConfig *cfg, RefMoe *r, int *order, double *flops)
{
    const int E = cfg->n_experts, k = cfg->top_k;
    for (int n = 0; n < r->N; n++) {
        rank_all(r->h + (size_t)n * E, E, order);
        double top = r->h[(size_t)n * E + order[0]], sum = 0.0;
        for (int s = 0; s < k; s++, *flops += 3) {
            r->expert[n * k + s] = order[s];
            r->gates[n * k + s] = exp(r->h[(size_t)n * E + order[s]] - top);
            sum += r->gates[n * k + s];
        }
        for (int s = 0; s < k; s++, *flops += 1)
            r->gates[n * k + s] /= sum;
    }
}

/* Capacity: walk the assignments in priority order (rank, then token), counting per expert. */
static void ref_capacity(const MoeConfig *cfg, RefMoe *r, int *used)
{
    const int k = cfg->top_k, capacity = moe_capacity(cfg, r->N);
    memset(used, 0, (size_t)cfg->n_experts * sizeof(int));
    r->dropped_assignments = r->dropped_tokens = 0;
    for (int s = 0; s < k; s++)
        for (int n = 0; n < r->N; n++) {
            int e = r->expert[n * k + s];
            r->kept[n * k + s] = used[e] < capacity;
            used[e] += r->kept[n * k + s];
            r->dropped_assignments += !r->kept[n * k + s];
        }
    for (int n = 0; n < r->N; n++) {
        int any = 0;
        for (int s = 0; s < k; s++)
            any |= r->kept[n * k + s];
        r->dropped_tokens += !any;
    }
}

/* Expert e on one input row: pre, hid (H) and out (D). */
static void ref_expert(const MoeConfig *cfg, const RefParams *p, int e, const float *xn, double *pre, double *hid,
                       double *out, double *flops)
{
    const int D = cfg->d_model, H = cfg->d_hidden;
    const float *w1 = p->w1 + (size_t)e * H * D, *b1 = p->b1 + (size_t)e * H;
    const float *w2 = p->w2 + (size_t)e * D * H, *b2 = p->b2 + (size_t)e * D;
    for (int j = 0; j < H; j++) {
        double acc = b1[j];
        for (int d = 0; d < D; d++, *flops += 2)
            acc += (double)xn[d] * w1[(size_t)j * D + d];
        pre[j] = acc;
        *flops += 1;
    }
    if (cfg->activation == MOE_ACT_GELU)
        ref_gelu_forward(pre, hid, H, flops);
    else
        for (int j = 0; j < H; j++)
            hid[j] = pre[j] > 0.0 ? pre[j] : 0.0;
    for (int d = 0; d < D; d++) {
        double acc = b2[d];
        for (int j = 0; j < H; j++, *flops += 2)
            acc += hid[j] * w2[(size_t)d * H + j];
        out[d] = acc;
        *flops += 1;
    }
}

void ref_moe_forward(const MoeConfig *cfg, const float *params, const float *x, RefMoe *r, double *flops)
{
    const int D = cfg->d_model, H = cfg->d_hidden, k = cfg->top_k;
    RefParams p = ref_params(cfg, params);
    int *scratch = malloc((size_t)cfg->n_experts * sizeof(int));
    if (!scratch)
        abort(); /* test code: an allocation failure is fatal */
    ref_gating(cfg, &p, x, r, flops);
    ref_route(cfg, r, scratch, flops);
    ref_capacity(cfg, r, scratch);
    free(scratch);
    memset(r->y, 0, (size_t)r->N * D * sizeof(double));
    for (int n = 0; n < r->N; n++)
        for (int s = 0; s < k; s++) {
            size_t a = (size_t)n * k + s;
            if (!r->kept[a])
                continue;
            double *out = r->out + a * D;
            ref_expert(cfg, &p, r->expert[a], x + (size_t)n * D, r->pre + a * H, r->hid + a * H, out, flops);
            for (int d = 0; d < D; d++, *flops += 2)
                r->y[(size_t)n * D + d] += r->gates[a] * out[d];
        }
}

/* One kept assignment backward: from dy_n to dgate, the expert's gradients and dx_n (+=). */
static double ref_assignment_backward(const MoeConfig *cfg, const RefParams *p, const RefMoe *r, size_t a,
                                      const float *xn, const float *dyn, double *dxn, double *dparams,
                                      double *dhid, double *flops)
{
    const int D = cfg->d_model, H = cfg->d_hidden, e = r->expert[a];
    ParamSpec s[6];
    moe_param_specs(cfg, s);
    double *dw1 = dparams + s[2].offset + (size_t)e * H * D, *db1 = dparams + s[3].offset + (size_t)e * H;
    double *dw2 = dparams + s[4].offset + (size_t)e * D * H, *db2 = dparams + s[5].offset + (size_t)e * D;
    const float *w1 = p->w1 + (size_t)e * H * D, *w2 = p->w2 + (size_t)e * D * H;
    const double *out = r->out + a * D, *hid = r->hid + a * H, *pre = r->pre + a * H;
    double dgate = 0.0;
    memset(dhid, 0, (size_t)H * sizeof(double));
    for (int d = 0; d < D; d++) {
        double dout = r->gates[a] * dyn[d]; /* 1 */
        dgate += (double)dyn[d] * out[d];   /* 2 */
        db2[d] += dout;                     /* 1 */
        for (int j = 0; j < H; j++, *flops += 4) {
            dw2[(size_t)d * H + j] += dout * hid[j];
            dhid[j] += dout * w2[(size_t)d * H + j];
        }
        *flops += 4;
    }
    if (cfg->activation == MOE_ACT_GELU)
        ref_gelu_backward(pre, dhid, dhid, H, flops);
    else
        for (int j = 0; j < H; j++)
            dhid[j] = pre[j] > 0.0 ? dhid[j] : 0.0;
    for (int j = 0; j < H; j++) {
        db1[j] += dhid[j];
        *flops += 1;
        for (int d = 0; d < D; d++, *flops += 4) {
            dw1[(size_t)j * D + d] += dhid[j] * xn[d];
            dxn[d] += dhid[j] * w1[(size_t)j * D + d];
        }
    }
    *flops += D; /* the expert's dx added into dx_n (counted once per element, as a separate sum) */
    return dgate;
}

/* dlogits (N, E) through the softmax over the kept, from dgate (N, k). */
static void ref_softmax_backward(const MoeConfig *cfg, const RefMoe *r, const double *dgate, double *dh,
                                 double *flops)
{
    const int E = cfg->n_experts, k = cfg->top_k;
    for (int n = 0; n < r->N; n++) {
        double dot = 0.0;
        for (int s = 0; s < k; s++, *flops += 2)
            dot += r->gates[n * k + s] * dgate[n * k + s];
        for (int s = 0; s < k; s++, *flops += 2)
            dh[(size_t)n * E + r->expert[n * k + s]] += r->gates[n * k + s] * (dgate[n * k + s] - dot);
    }
}

/* dW += dlog^T x and dx += dlog W for one (E, D) gate matrix, dense over (N, E). */
static void ref_gate_matrix_backward(const MoeConfig *cfg, const float *w, const float *x, const double *dlog,
                                     int N, double *dw, double *dx, double *flops)
{
    const int D = cfg->d_model, E = cfg->n_experts;
    for (int n = 0; n < N; n++)
        for (int e = 0; e < E; e++)
            for (int d = 0; d < D; d++, *flops += 4) {
                dw[(size_t)e * D + d] += dlog[(size_t)n * E + e] * x[(size_t)n * D + d];
                dx[(size_t)n * D + d] += dlog[(size_t)n * E + e] * w[(size_t)e * D + d];
            }
}

void ref_moe_backward(const MoeConfig *cfg, const float *params, const float *x, const RefMoe *r, const float *dy,
                      double *dx, double *dparams, double *flops)
{
    const int N = r->N, D = cfg->d_model, E = cfg->n_experts, k = cfg->top_k;
    RefParams p = ref_params(cfg, params);
    ParamSpec s[6];
    moe_param_specs(cfg, s);
    double *dgate = calloc((size_t)N * k, sizeof(double)), *dh = calloc((size_t)N * E, sizeof(double));
    double *dhid = calloc((size_t)cfg->d_hidden, sizeof(double)), *draw = calloc((size_t)N * E, sizeof(double));
    if (!dgate || !dh || !dhid || !draw)
        abort();
    memset(dx, 0, (size_t)N * D * sizeof(double));
    for (size_t a = 0; a < (size_t)N * k; a++)
        if (r->kept[a]) {
            size_t n = a / k;
            dgate[a] = ref_assignment_backward(cfg, &p, r, a, x + n * D, dy + n * D, dx + n * D, dparams, dhid,
                                               flops);
        }
    ref_softmax_backward(cfg, r, dgate, dh, flops);
    if (moe_is_noisy(cfg)) {
        for (size_t i = 0; i < (size_t)N * E; i++, *flops += 5) {
            double sig = r->raw[i] > MOE_SOFTPLUS_THRESHOLD ? 1.0 : 1.0 / (1.0 + exp(-r->raw[i]));
            draw[i] = dh[i] * r->z[i] * sig;
        }
        ref_gate_matrix_backward(cfg, p.noise, x, draw, N, dparams + s[1].offset, dx, flops);
    }
    ref_gate_matrix_backward(cfg, p.gate, x, dh, N, dparams + s[0].offset, dx, flops);
    free(dgate), free(dh), free(dhid), free(draw);
}

static double ref_cv_squared(const double *v, int E)
{
    if (E == 1)
        return 0.0;
    double mean = 0.0, var = 0.0;
    for (int e = 0; e < E; e++)
        mean += v[e];
    mean /= E;
    for (int e = 0; e < E; e++)
        var += (v[e] - mean) * (v[e] - mean);
    var /= E - 1;
    return var / (mean * mean + MOE_CV2_EPSILON);
}

/* Smooth load of moe.py _prob_in_top_k, summed into load (E). */
static void ref_smooth_load(const MoeConfig *cfg, const RefMoe *r, int *order, double *load)
{
    const int E = cfg->n_experts, k = cfg->top_k;
    for (int n = 0; n < r->N; n++) {
        const double *h = r->h + (size_t)n * E;
        rank_all(h, E, order);
        double if_in = h[order[k]], if_out = h[order[k - 1]];
        for (int rank = 0; rank < E; rank++) {
            int e = order[rank];
            size_t i = (size_t)n * E + e;
            double std = ref_softplus(r->raw[i]) + MOE_NOISE_EPSILON;
            double u = (r->clean[i] - (rank < k ? if_in : if_out)) / std;
            load[e] += 0.5 * erfc(-u / sqrt(2.0));
        }
    }
}

void ref_moe_aux(const MoeConfig *cfg, const RefMoe *r, double *importance_cv2, double *load_cv2,
                 double *switch_loss)
{
    const int E = cfg->n_experts, k = cfg->top_k, N = r->N;
    double *imp = calloc(E, sizeof(double)), *load = calloc(E, sizeof(double)), *count = calloc(E, sizeof(double));
    double *prob = calloc(E, sizeof(double));
    int *order = calloc(E, sizeof(int));
    if (!imp || !load || !count || !prob || !order)
        abort();
    for (int n = 0; n < N; n++) {
        for (int s = 0; s < k; s++) {
            imp[r->expert[n * k + s]] += r->gates[n * k + s];
            count[r->expert[n * k + s]] += 1.0;
        }
        double sum = 0.0;
        for (int e = 0; e < E; e++)
            sum += exp(r->h[(size_t)n * E + e]);
        for (int e = 0; e < E; e++)
            prob[e] += exp(r->h[(size_t)n * E + e]) / sum / N;
    }
    if (moe_is_noisy(cfg) && k < E)
        ref_smooth_load(cfg, r, order, load);
    else
        memcpy(load, count, E * sizeof(double));
    *importance_cv2 = ref_cv_squared(imp, E);
    *load_cv2 = ref_cv_squared(load, E);
    double sw = 0.0;
    for (int e = 0; e < E; e++)
        sw += count[e] / ((double)N * k) * prob[e];
    *switch_loss = E * sw;
    free(imp), free(load), free(count), free(prob), free(order);
}

/* classifier_run: the forward and backward passes of baselines/classifier.h. */
#include <math.h>
#include <string.h>

#include "classifier.h"
#include "gemm.h"
#include "softmax_ce.h"

/* Where each saved activation lives in the act block (floats, every region 64-byte aligned).
 * blocks: tokens (B, L, d_token) | per layer: x_in, h1 (B, L, D), norm1 act, mixer act, x_mid, h2 (B, L, D),
 *         norm2 act, channel act | x_final, h_final (B, L, D), norm_f act | pooled (B, D) | logits (B, classes)
 * flat:   channel act | y = channel output (B, F) | logits. */
typedef struct ClsActLayout {
    size_t tokens, layers, per_layer;
    size_t x_in, h1, n1, mix, x_mid, h2, n2, ch; /* within a layer's region */
    size_t x_final, h_final, n_final, pooled, logits, total;
} ClsActLayout;

static size_t take(size_t *off, size_t n)
{
    size_t at = *off;
    *off += ws_floats_for(n);
    return at;
}

static ClsActLayout act_layout(const ClsModel *m, int B)
{
    ClsActLayout a = {0};
    const int L = m->seq_len;
    const size_t N = (size_t)B * L * m->width;
    size_t off = 0, ch_act = m->has_channel ? op_act_floats(&m->channel, B, L) : 0;
    if (m->cfg.arch == CLS_ARCH_FLAT) {
        a.ch = take(&off, ch_act);
        a.h_final = take(&off, N);
    } else {
        size_t norm_act = op_act_floats(&m->norm, B, L), layer = 0;
        a.tokens = take(&off, (size_t)B * L * m->d_token);
        a.x_in = take(&layer, N), a.h1 = take(&layer, N), a.n1 = take(&layer, norm_act);
        a.mix = take(&layer, op_act_floats(&m->mixer, B, L));
        a.x_mid = take(&layer, N), a.h2 = take(&layer, N), a.n2 = take(&layer, norm_act), a.ch = take(&layer, ch_act);
        a.layers = off, a.per_layer = layer;
        off += layer * m->cfg.n_layers;
        a.x_final = take(&off, N), a.h_final = take(&off, N), a.n_final = take(&off, norm_act);
        a.pooled = take(&off, (size_t)B * m->width);
    }
    a.logits = take(&off, (size_t)B * m->cfg.classes);
    a.total = off;
    return a;
}

size_t cls_act_floats(const ClsModel *m, int B) { return act_layout(m, B).total; }

static size_t op_ws_max(const ClsModel *m, int B)
{
    const int L = m->seq_len;
    size_t most = m->has_channel ? op_workspace_floats(&m->channel, B, L) : 0;
    if (m->cfg.arch == CLS_ARCH_BLOCKS) {
        size_t a = op_workspace_floats(&m->mixer, B, L), b = op_workspace_floats(&m->norm, B, L);
        most = a > most ? a : most;
        most = b > most ? b : most;
    }
    return ws_floats_for(most);
}

/* The largest operator workspace, then three (B, L, width) scratch tensors. */
size_t cls_workspace_floats(const ClsModel *m, int B)
{
    return op_ws_max(m, B) + 3 * ws_floats_for((size_t)B * m->seq_len * m->width);
}

typedef struct ClsRun {
    const ClsModel *m;
    const float *params;
    float *act, *grads;
    int B, L;
    size_t N; /* B L width */
    ClsActLayout a;
    Workspace ws;               /* operator scratch */
    float *tmp, *dbuf1, *dbuf2; /* (B, L, width) scratch */
    double regularizer;
    uint64_t draw; /* selects the channels' random draws and the dropout masks */
    int train;     /* a training pass (backward): dropout is applied */
} ClsRun;

/* x (B, L, D) through the dropout mask of (draw, layer, branch): each element is kept with probability 1 - p
 * (and scaled by 1 / (1 - p)) or zeroed, written to out (which may be x). A 64-bit hash of (key, i / 4) gives
 * four 16-bit uniforms, one per element, so the same call in backward applies the forward's mask to the
 * gradient without storing it. Returns out, or x itself (nothing written) outside training or at p = 0. */
static const float *residual_dropout(const ClsRun *r, int layer, int branch, const float *x, float *out)
{
    const float p = r->m->cfg.dropout;
    if (!r->train || p <= 0.0f)
        return x;
    const uint32_t drop_below = (uint32_t)(p * 65536.0f + 0.5f);
    const float keep_scale = 1.0f / (1.0f - p);
    const uint64_t key = rng_mix64(r->draw * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)layer << 1 | (uint64_t)branch));
    const size_t n = r->N;
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < (n + 3) / 4; q++) {
        uint64_t h = rng_mix64(key + q);
        for (size_t i = 4 * q; i < 4 * q + 4 && i < n; i++, h >>= 16)
            out[i] = (uint32_t)(h & 0xffff) < drop_below ? 0.0f : x[i] * keep_scale;
    }
    return out;
}

static void run_forward(ClsRun *r, const Op *op, const float *p, const float *x, float *y, float *act)
{
    ws_reset(&r->ws);
    op_forward(op, p, x, y, act, r->B, r->L, &r->ws);
}

static void run_backward(ClsRun *r, const Op *op, const float *p, const float *x, const float *act, const float *dy,
                         float *dx, float *dp)
{
    ws_reset(&r->ws);
    op_backward(op, p, x, act, dy, dx, dp, r->B, r->L, &r->ws);
}

/* Layer l's channel with its seed derived from (configured seed, draw, l), by the LM's rule. */
static Op layer_channel(const ClsRun *r, int l) { return lm_channel_for_draw(&r->m->channel, r->draw, l); }

/* Layer l's channel forward and its share of the regularizer (FFF hardening, MoE balance). */
static void channel_forward(ClsRun *r, int l, const float *p, const float *x, float *y, float *act)
{
    const ClsModel *m = r->m;
    const Op ch = layer_channel(r, l);
    run_forward(r, &ch, p, x, y, act);
    if (m->cfg.channel == CLS_CHANNEL_FFF && m->cfg.hardening != 0.0f)
        r->regularizer += m->cfg.hardening * fff_mean_entropy(&ch.cfg.fff, act);
    if (m->cfg.channel == CLS_CHANNEL_MOE && m->cfg.balance != 0.0f) {
        MoeAux aux;
        ws_reset(&r->ws);
        if (moe_aux_losses(&ch.cfg.moe, act, r->B, r->L, &aux, &r->ws) == 0)
            r->regularizer += m->cfg.balance * (aux.importance_cv2 + aux.load_cv2);
    }
}

/* Layer l's channel backward, with the gradient of its regularizer. */
static void channel_backward(ClsRun *r, int l, const float *p, const float *x, const float *act, const float *dy,
                             float *dx, float *dp)
{
    const ClsModel *m = r->m;
    const Op ch = layer_channel(r, l);
    ws_reset(&r->ws);
    if (m->cfg.channel == CLS_CHANNEL_FFF && m->cfg.hardening != 0.0f)
        fff_backward_hardening(&ch.cfg.fff, p, x, act, dy, dx, dp, r->B, r->L, m->cfg.hardening, &r->ws);
    else if (m->cfg.channel == CLS_CHANNEL_MOE && m->cfg.balance != 0.0f)
        moe_backward_aux(&ch.cfg.moe, p, x, act, dy, dx, dp, r->B, r->L, m->cfg.balance, m->cfg.balance, 0.0f,
                         &r->ws);
    else
        op_backward(&ch, p, x, act, dy, dx, dp, r->B, r->L, &r->ws);
}

static float *layer_base(ClsRun *r, int l) { return r->act + r->a.layers + (size_t)l * r->a.per_layer; }

static float *layer_input(ClsRun *r, int l)
{
    return l < r->m->cfg.n_layers ? layer_base(r, l) + r->a.x_in : r->act + r->a.x_final;
}

static void layer_forward(ClsRun *r, int l, float *x_out)
{
    const ClsModel *m = r->m;
    const float *p = r->params + m->off_layer[l];
    float *base = layer_base(r, l);
    float *mid = m->has_channel ? base + r->a.x_mid : x_out;
    run_forward(r, &m->norm, p, base + r->a.x_in, base + r->a.h1, base + r->a.n1);
    run_forward(r, &m->mixer, p + m->n_norm, base + r->a.h1, r->tmp, base + r->a.mix);
    core_add(mid, base + r->a.x_in, residual_dropout(r, l, 0, r->tmp, r->tmp), r->N);
    if (!m->has_channel)
        return;
    run_forward(r, &m->norm, p + m->n_norm + m->n_mixer, mid, base + r->a.h2, base + r->a.n2);
    channel_forward(r, l, p + 2 * m->n_norm + m->n_mixer, base + r->a.h2, r->tmp, base + r->a.ch);
    core_add(x_out, mid, residual_dropout(r, l, 1, r->tmp, r->tmp), r->N);
}

/* dx = d(objective)/d(layer output) on entry, d(objective)/d(layer input) on return. */
static void layer_backward(ClsRun *r, int l, float *dx)
{
    const ClsModel *m = r->m;
    const float *p = r->params + m->off_layer[l];
    float *g = r->grads + m->off_layer[l];
    const float *base = layer_base(r, l);
    const size_t o_mix = m->n_norm, o_n2 = m->n_norm + m->n_mixer, o_ch = 2 * m->n_norm + m->n_mixer;
    /* A branch's gradient is dx through its dropout mask, in dbuf2 (consumed before dbuf2 is written again). */
    if (m->has_channel) {
        channel_backward(r, l, p + o_ch, base + r->a.h2, base + r->a.ch, residual_dropout(r, l, 1, dx, r->dbuf2),
                         r->dbuf1, g + o_ch);
        run_backward(r, &m->norm, p + o_n2, base + r->a.x_mid, base + r->a.n2, r->dbuf1, r->dbuf2, g + o_n2);
        core_accumulate(dx, r->dbuf2, r->N);
    }
    run_backward(r, &m->mixer, p + o_mix, base + r->a.h1, base + r->a.mix, residual_dropout(r, l, 0, dx, r->dbuf2),
                 r->dbuf1, g + o_mix);
    run_backward(r, &m->norm, p, base + r->a.x_in, base + r->a.n1, r->dbuf1, r->dbuf2, g);
    core_accumulate(dx, r->dbuf2, r->N);
}

static void embed_forward(ClsRun *r, const float *images)
{
    const ClsModel *m = r->m;
    const ClsConfig *c = &m->cfg;
    float *tokens = r->act + r->a.tokens, *x0 = layer_input(r, 0);
    const float *w = r->params + m->off_embed;
    cls_patchify(images, tokens, r->B, c->image, c->channels, c->patch);
    gemm_linear_forward(tokens, w, w + (size_t)c->d_model * m->d_token, x0, r->B * r->L, m->d_token, c->d_model);
    if (c->pos_emb)
        for (int b = 0; b < r->B; b++)
            core_accumulate(x0 + (size_t)b * r->L * c->d_model, r->params + m->off_pos, (size_t)r->L * c->d_model);
}

static void embed_backward(ClsRun *r, const float *dx)
{
    const ClsModel *m = r->m;
    const ClsConfig *c = &m->cfg;
    float *g = r->grads + m->off_embed;
    gemm_linear_backward_params(dx, r->act + r->a.tokens, g, g + (size_t)c->d_model * m->d_token, r->B * r->L,
                                m->d_token, c->d_model);
    if (c->pos_emb)
        for (int b = 0; b < r->B; b++)
            core_accumulate(r->grads + m->off_pos, dx + (size_t)b * r->L * c->d_model, (size_t)r->L * c->d_model);
}

/* pooled (B, D) from h (B, L, D): the mean over tokens or the last token. */
static void pool_forward(const ClsRun *r, const float *h, float *pooled)
{
    const int D = r->m->width, L = r->L;
    for (int b = 0; b < r->B; b++) {
        const float *hb = h + (size_t)b * L * D;
        float *out = pooled + (size_t)b * D;
        if (r->m->cfg.pool == CLS_POOL_LAST) {
            memcpy(out, hb + (size_t)(L - 1) * D, (size_t)D * sizeof(float));
            continue;
        }
        memset(out, 0, (size_t)D * sizeof(float));
        for (int t = 0; t < L; t++)
            core_accumulate(out, hb + (size_t)t * D, (size_t)D);
        for (int d = 0; d < D; d++)
            out[d] *= 1.0f / (float)L;
    }
}

/* dh (B, L, D) from dpooled (B, D). */
static void pool_backward(const ClsRun *r, const float *dpooled, float *dh)
{
    const int D = r->m->width, L = r->L;
    const int last = r->m->cfg.pool == CLS_POOL_LAST;
    for (int b = 0; b < r->B; b++)
        for (int t = 0; t < L; t++) {
            float *row = dh + ((size_t)b * L + t) * D;
            const float *src = dpooled + (size_t)b * D;
            for (int d = 0; d < D; d++)
                row[d] = last ? (t == L - 1 ? src[d] : 0.0f) : src[d] * (1.0f / (float)L);
        }
}

/* logits = features head^T + bias; returns the mean CE and, with backward, leaves dlogits in the logits. */
static double head_forward(ClsRun *r, const float *features, const int *labels, int backward)
{
    const ClsModel *m = r->m;
    const int C = m->cfg.classes, W = m->width;
    const float *w = r->params + m->off_head;
    float *logits = r->act + r->a.logits;
    gemm_linear_forward(features, w, w + (size_t)C * W, logits, r->B, W, C);
    return softmax_ce_loss(logits, labels, r->B, C, backward ? logits : NULL);
}

/* From dlogits to dfeatures (B, width) and the head's gradients. */
static void head_backward(ClsRun *r, const float *features, float *dfeatures)
{
    const ClsModel *m = r->m;
    const int C = m->cfg.classes, W = m->width;
    const float *dlogits = r->act + r->a.logits;
    float *g = r->grads + m->off_head;
    gemm_linear_backward_input(dlogits, r->params + m->off_head, dfeatures, r->B, W, C, 0.0f);
    gemm_linear_backward_params(dlogits, features, g, g + (size_t)C * W, r->B, W, C);
}

static double blocks_pass(ClsRun *r, const float *images, const int *labels, int backward)
{
    const ClsModel *m = r->m;
    embed_forward(r, images);
    for (int l = 0; l < m->cfg.n_layers; l++)
        layer_forward(r, l, layer_input(r, l + 1));
    float *pooled = r->act + r->a.pooled;
    run_forward(r, &m->norm, r->params + m->off_norm_f, r->act + r->a.x_final, r->act + r->a.h_final,
                r->act + r->a.n_final);
    pool_forward(r, r->act + r->a.h_final, pooled);
    double ce = head_forward(r, pooled, labels, backward);
    if (!backward)
        return ce;
    float *dx = r->tmp; /* the residual stream's gradient, layer by layer */
    head_backward(r, pooled, r->dbuf2);
    pool_backward(r, r->dbuf2, r->dbuf1);
    run_backward(r, &m->norm, r->params + m->off_norm_f, r->act + r->a.x_final, r->act + r->a.n_final, r->dbuf1,
                 dx, r->grads + m->off_norm_f);
    for (int l = m->cfg.n_layers - 1; l >= 0; l--)
        layer_backward(r, l, dx);
    embed_backward(r, dx);
    return ce;
}

/* flat: the image (B, 1, F) through the channel, then the head. */
static double flat_pass(ClsRun *r, const float *images, const int *labels, int backward)
{
    const ClsModel *m = r->m;
    float *y = r->act + r->a.h_final;
    const float *p = r->params + m->off_channel;
    if (m->has_channel)
        channel_forward(r, 0, p, images, y, r->act + r->a.ch);
    else
        memcpy(y, images, r->N * sizeof(float));
    double ce = head_forward(r, y, labels, backward);
    if (!backward)
        return ce;
    head_backward(r, y, r->dbuf1);
    if (m->has_channel) /* the image's own gradient (dbuf2) is not needed */
        channel_backward(r, 0, p, images, r->act + r->a.ch, r->dbuf1, r->dbuf2, r->grads + m->off_channel);
    return ce;
}

double cls_forward_backward(const ClsModel *m, const float *params, const float *images, const int *labels, int B,
                            float *act, float *ws, float *grads, int backward, uint64_t draw, ClsLoss *parts)
{
    ClsRun r = {.m = m, .params = params, .act = act, .grads = grads, .B = B, .L = m->seq_len, .draw = draw,
                .train = backward != 0};
    r.N = (size_t)B * m->seq_len * m->width;
    r.a = act_layout(m, B);
    size_t op_ws = op_ws_max(m, B), Nf = ws_floats_for(r.N);
    ws_init(&r.ws, ws, op_ws);
    r.tmp = ws + op_ws, r.dbuf1 = r.tmp + Nf, r.dbuf2 = r.dbuf1 + Nf;
    double ce = m->cfg.arch == CLS_ARCH_FLAT ? flat_pass(&r, images, labels, backward)
                                             : blocks_pass(&r, images, labels, backward);
    if (parts)
        parts->ce = ce, parts->regularizer = r.regularizer;
    return ce + r.regularizer;
}

const float *cls_logits(const ClsModel *m, const float *act, int B) { return act + act_layout(m, B).logits; }

const float *cls_token_features(const ClsModel *m, const float *act, int B)
{
    return m->cfg.arch == CLS_ARCH_BLOCKS ? act + act_layout(m, B).h_final : NULL;
}

const float *cls_residual_stream(const ClsModel *m, const float *act, int B, int l)
{
    if (m->cfg.arch != CLS_ARCH_BLOCKS || l < 0 || l > m->cfg.n_layers)
        return NULL;
    const ClsActLayout a = act_layout(m, B);
    return l < m->cfg.n_layers ? act + a.layers + (size_t)l * a.per_layer + a.x_in : act + a.x_final;
}

int cls_count_correct(const ClsModel *m, const float *act, const int *labels, int B)
{
    const float *logits = cls_logits(m, act, B);
    const int C = m->cfg.classes;
    int right = 0;
    for (int b = 0; b < B; b++) {
        const float *row = logits + (size_t)b * C;
        int best = 0;
        for (int c = 1; c < C; c++)
            best = row[c] > row[best] ? c : best;
        right += best == labels[b];
    }
    return right;
}

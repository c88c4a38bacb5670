#include "lm.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedding.h"
#include "gemm.h"
#include "softmax_ce.h"

static const char *const mixer_ops[] = {"attention", "hyena", "s4d"};
static const char *const channel_ops[] = {"ffn", "moe", "fff"};

static const ConfigField lm_fields[] = {
    {"vocab", CONFIG_INT, offsetof(LmConfig, vocab), "256", NULL, "vocabulary size V"},
    {"d_model", CONFIG_INT, offsetof(LmConfig, d_model), "128", NULL, "width D"},
    {"layers", CONFIG_INT, offsetof(LmConfig, n_layers), "4", NULL, "residual blocks"},
    {"context", CONFIG_INT, offsetof(LmConfig, context), "64", NULL, "longest sequence T"},
    {"mixer", CONFIG_ENUM, offsetof(LmConfig, mixer), "attention", "attention|hyena|s4d", "sequence mixer"},
    {"channel", CONFIG_ENUM, offsetof(LmConfig, channel), "ffn", "ffn|moe|fff", "channel mixer"},
    {"pos_emb", CONFIG_INT, offsetof(LmConfig, pos_emb), "1", NULL, "1: learned positional embedding wpe"},
    {"tied", CONFIG_INT, offsetof(LmConfig, tied), "1", NULL, "1: the head is wte.weight"},
    {"hardening", CONFIG_FLOAT, offsetof(LmConfig, hardening), "0", NULL,
     "FFF hardening weight h (loss + h * mean node entropy)"},
    {"balance", CONFIG_FLOAT, offsetof(LmConfig, balance), "0.01", NULL,
     "MoE balance weight (loss + w * (importance CV^2 + load CV^2)), the reference's loss_coef"},
    {"init", CONFIG_ENUM, offsetof(LmConfig, init), "safari", "safari|torch",
     "safari: linear weights and embeddings N(0, 0.02); torch: the PyTorch modules' default initialisation"},
};
#define LM_FIELD_COUNT ((int)(sizeof lm_fields / sizeof lm_fields[0]))

/* Splits "k=v,..." into the model's own keys and the "mixer."/"channel." keys (prefix removed). */
static int split_config(const char *text, char *own, char *mixer, char *channel, char *err, size_t errlen)
{
    own[0] = mixer[0] = channel[0] = '\0';
    char buf[3 * LM_CONFIG_LEN];
    if (strlen(text) >= sizeof buf) {
        snprintf(err, errlen, "lm: config string too long");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *dst = own;
        if (strncmp(item, "mixer.", 6) == 0)
            dst = mixer, item += 6;
        else if (strncmp(item, "channel.", 8) == 0)
            dst = channel, item += 8;
        size_t used = strlen(dst);
        if (used + strlen(item) + 2 >= LM_CONFIG_LEN) {
            snprintf(err, errlen, "lm: config string too long");
            return -1;
        }
        snprintf(dst + used, LM_CONFIG_LEN - used, "%s%s", used ? "," : "", item);
    }
    return 0;
}

static int configure_ops(LmModel *m, char *err, size_t errlen)
{
    const LmConfig *c = &m->cfg;
    char text[2 * LM_CONFIG_LEN + 64];
    /* Hyena's filter grid must cover the context: l_max = context unless the caller chose one. */
    int add_len = c->mixer == LM_MIXER_HYENA && !strstr(c->mixer_extra, "l_max=");
    int used = snprintf(text, sizeof text, "d_model=%d", c->d_model);
    if (add_len)
        used += snprintf(text + used, sizeof text - (size_t)used, ",l_max=%d", c->context);
    if (c->mixer_extra[0])
        snprintf(text + used, sizeof text - (size_t)used, ",%s", c->mixer_extra);
    if (op_configure(&m->mixer, mixer_ops[c->mixer], text, err, errlen) != 0)
        return -1;
    snprintf(text, sizeof text, "d_model=%d%s%s", c->d_model, c->channel_extra[0] ? "," : "", c->channel_extra);
    if (op_configure(&m->channel, channel_ops[c->channel], text, err, errlen) != 0)
        return -1;
    snprintf(text, sizeof text, "d_model=%d", c->d_model);
    if (op_configure(&m->norm, "layernorm", text, err, errlen) != 0)
        return -1;
    char shape_err[256];
    if (op_check_shape(&m->mixer, 1, c->context, shape_err, sizeof shape_err) != 0) {
        snprintf(err, errlen, "lm: context %d: %s", c->context, shape_err);
        return -1;
    }
    return 0;
}

static int validate(const LmConfig *c, char *err, size_t errlen)
{
    if (c->vocab < 2 || c->d_model < 1 || c->context < 1 || c->n_layers < 1 || c->n_layers > LM_MAX_LAYERS) {
        snprintf(err, errlen, "lm: need vocab >= 2, d_model >= 1, context >= 1 and 1 <= layers <= %d", LM_MAX_LAYERS);
        return -1;
    }
    return 0;
}

/* The rule is documented in lm.h. */
void lm_tensor_group(LmTensor *t)
{
    const char *n = t->spec.name;
    t->weight_decay = t->spec.ndim >= 2;
    t->lr_override = 0.0f;
    t->lr_is_cap = 0;
    if (strstr(n, "filter_fn.pos_emb.z"))
        t->lr_override = 1e-5f, t->weight_decay = 0;
    else if (strstr(n, "implicit_filter.")) /* Hyena's filter_fn.implicit_filter, longconv2d's implicit_filter */
        t->lr_override = 1e-3f, t->weight_decay = 0;
    else if (strstr(n, "kernel.log_dt") || strstr(n, "kernel.log_A_real") || strstr(n, "kernel.A_imag"))
        t->lr_override = 1e-3f, t->lr_is_cap = 1, t->weight_decay = 0;
}

/* Appends the tensors of one component (an operator or a single tensor) under a name prefix. */
static int add_op_tensors(LmModel *m, const Op *op, const char *prefix, size_t base)
{
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(op, specs);
    for (int i = 0; i < count; i++) {
        LmTensor *t = &m->tensors[m->n_tensors++];
        t->spec = specs[i];
        snprintf(t->spec.name, sizeof t->spec.name, "%s%.*s", prefix, (int)(CORE_NAME_LEN - strlen(prefix) - 1),
                 specs[i].name);
        t->spec.offset = base + specs[i].offset;
        lm_tensor_group(t);
    }
    return count;
}

static size_t add_tensor(LmModel *m, const char *name, size_t offset, int rows, int cols)
{
    LmTensor *t = &m->tensors[m->n_tensors++];
    int shape[2] = {rows, cols};
    size_t end = core_spec(&t->spec, name, offset, 2, shape);
    lm_tensor_group(t);
    return end;
}

static void layout_tensors(LmModel *m)
{
    const LmConfig *c = &m->cfg;
    size_t off = 0;
    char prefix[64];
    m->off_wte = off;
    off = add_tensor(m, "wte.weight", off, c->vocab, c->d_model);
    m->off_wpe = off;
    if (c->pos_emb)
        off = add_tensor(m, "wpe.weight", off, c->context, c->d_model);
    for (int l = 0; l < c->n_layers; l++) {
        m->off_layer[l] = off;
        snprintf(prefix, sizeof prefix, "layers.%d.norm1.", l);
        add_op_tensors(m, &m->norm, prefix, off);
        snprintf(prefix, sizeof prefix, "layers.%d.mixer.", l);
        add_op_tensors(m, &m->mixer, prefix, off + m->n_norm);
        snprintf(prefix, sizeof prefix, "layers.%d.norm2.", l);
        add_op_tensors(m, &m->norm, prefix, off + m->n_norm + m->n_mixer);
        snprintf(prefix, sizeof prefix, "layers.%d.channel.", l);
        add_op_tensors(m, &m->channel, prefix, off + 2 * m->n_norm + m->n_mixer);
        off += 2 * m->n_norm + m->n_mixer + m->n_channel;
    }
    m->off_norm_f = off;
    add_op_tensors(m, &m->norm, "norm_f.", off);
    off += m->n_norm;
    m->off_head = c->tied ? m->off_wte : off;
    if (!c->tied)
        off = add_tensor(m, "head.weight", off, c->vocab, c->d_model);
    m->n_params = off;
}

int lm_create(LmModel *m, const char *config, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    char own[LM_CONFIG_LEN];
    if (split_config(config, own, m->cfg.mixer_extra, m->cfg.channel_extra, err, errlen) != 0)
        return -1;
    char mixer_extra[LM_CONFIG_LEN], channel_extra[LM_CONFIG_LEN];
    memcpy(mixer_extra, m->cfg.mixer_extra, sizeof mixer_extra);
    memcpy(channel_extra, m->cfg.channel_extra, sizeof channel_extra);
    if (config_parse(lm_fields, LM_FIELD_COUNT, own, &m->cfg, err, errlen) != 0)
        return -1;
    memcpy(m->cfg.mixer_extra, mixer_extra, sizeof mixer_extra); /* config_parse reset the struct */
    memcpy(m->cfg.channel_extra, channel_extra, sizeof channel_extra);
    if (validate(&m->cfg, err, errlen) != 0 || configure_ops(m, err, errlen) != 0)
        return -1;
    m->n_norm = op_num_params(&m->norm);
    m->n_mixer = op_num_params(&m->mixer);
    m->n_channel = op_num_params(&m->channel);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int per_layer = 2 * op_param_specs(&m->norm, specs) + op_param_specs(&m->mixer, specs) +
                    op_param_specs(&m->channel, specs);
    m->tensors = calloc((size_t)per_layer * m->cfg.n_layers + 8, sizeof *m->tensors);
    if (!m->tensors) {
        snprintf(err, errlen, "lm: out of memory");
        return -1;
    }
    layout_tensors(m);
    return 0;
}

void lm_destroy(LmModel *m)
{
    free(m->tensors);
    m->tensors = NULL;
}

int lm_config_string(const LmModel *m, char *out, size_t outlen)
{
    char own[LM_CONFIG_LEN], mixer[LM_CONFIG_LEN], channel[LM_CONFIG_LEN];
    if (config_format(lm_fields, LM_FIELD_COUNT, &m->cfg, own, sizeof own) != 0 ||
        op_config_string(&m->mixer, mixer, sizeof mixer) != 0 ||
        op_config_string(&m->channel, channel, sizeof channel) != 0)
        return -1;
    /* The operators' canonical configs, each key prefixed, so the string rebuilds the same model. */
    size_t used = (size_t)snprintf(out, outlen, "%s", own);
    const char *parts[2] = {mixer, channel}, *prefixes[2] = {"mixer.", "channel."};
    for (int p = 0; p < 2 && used < outlen; p++) {
        char buf[LM_CONFIG_LEN];
        snprintf(buf, sizeof buf, "%s", parts[p]);
        char *save = NULL;
        for (char *item = strtok_r(buf, ",", &save); item && used < outlen; item = strtok_r(NULL, ",", &save))
            if (strncmp(item, "d_model=", 8) != 0)
                used += (size_t)snprintf(out + used, outlen - used, ",%s%s", prefixes[p], item);
    }
    return used < outlen ? 0 : -1;
}

/* A Linear layer's weight in the sense of safari's _init_weights (it re-initialises every nn.Linear and
 * nn.Embedding): a 2-D "*.weight" (or MultiheadAttention's in_proj_weight). Parameters that are raw tensors
 * in the reference modules (FFF's node/leaf tensors, MoE's gate and noise weights, which start at zero) and
 * convolutions (3-D) keep their operator's initialisation. */
static int is_linear_weight(const ParamSpec *s)
{
    static const char *const raw[] = {"node_weights", "w1s", "w2s", "gate.weight", "noise.weight", "linear_in",
                                      "linear_out"};
    if (s->ndim != 2)
        return 0;
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        if (strstr(s->name, raw[i]))
            return 0;
    size_t n = strlen(s->name);
    return (n >= 7 && strcmp(s->name + n - 7, ".weight") == 0) || strstr(s->name, "in_proj_weight") != NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The bias that belongs to a Linear weight ("x.weight" -> "x.bias", in_proj_weight -> in_proj_bias). */
static const LmTensor *bias_of(const LmModel *m, const char *weight_name)
{
    char name[CORE_NAME_LEN];
    snprintf(name, sizeof name, "%s", weight_name);
    char *w = strstr(name, "weight");
    if (!w)
        return NULL;
    memcpy(w, "bias", 5);
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].spec.name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

static void init_ops(const LmModel *m, float *params, Rng *rng)
{
    for (int l = 0; l < m->cfg.n_layers; l++) {
        float *p = params + m->off_layer[l];
        op_init(&m->norm, p, rng);
        op_init(&m->mixer, p + m->n_norm, rng);
        op_init(&m->norm, p + m->n_norm + m->n_mixer, rng);
        op_init(&m->channel, p + 2 * m->n_norm + m->n_mixer, rng);
    }
    op_init(&m->norm, params + m->off_norm_f, rng);
}

/* init=torch: the operators keep their own (PyTorch default) initialisation; wte is nn.Embedding's N(0, 1), an
 * untied head nn.Linear's U(-1/sqrt(D), 1/sqrt(D)) and wpe N(0, 0.02) (a raw parameter, as timm's ViT draws it). */
static void init_embeddings_torch(const LmModel *m, float *params, Rng *rng)
{
    const LmConfig *c = &m->cfg;
    const float bound = 1.0f / sqrtf((float)c->d_model);
    rng_fill_normal(rng, params + m->off_wte, (size_t)c->vocab * c->d_model, 0.0f, 1.0f);
    if (c->pos_emb)
        rng_fill_normal(rng, params + m->off_wpe, (size_t)c->context * c->d_model, 0.0f, 0.02f);
    if (!c->tied)
        rng_fill_uniform(rng, params + m->off_head, (size_t)c->vocab * c->d_model, -bound, bound);
}

void lm_init(const LmModel *m, float *params, uint64_t seed)
{
    Rng rng;
    rng_init(&rng, seed);
    init_ops(m, params, &rng);
    if (m->cfg.init == LM_INIT_TORCH) {
        init_embeddings_torch(m, params, &rng);
        return;
    }
    const float std = 0.02f, residual_std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layers);
    for (int i = 0; i < m->n_tensors; i++) {
        const ParamSpec *s = &m->tensors[i].spec;
        int embedding = strcmp(s->name, "wte.weight") == 0 || strcmp(s->name, "wpe.weight") == 0 ||
                        strcmp(s->name, "head.weight") == 0;
        if (!embedding && !is_linear_weight(s))
            continue;
        int residual = ends_with(s->name, "out_proj.weight") || ends_with(s->name, "fc2.weight");
        rng_fill_normal(&rng, params + s->offset, s->numel, 0.0f, residual ? residual_std : std);
        const LmTensor *b = embedding ? NULL : bias_of(m, s->name);
        if (b)
            memset(params + b->spec.offset, 0, b->spec.numel * sizeof(float));
    }
}

/* Where each saved activation lives in the act block (floats, every region 64-byte aligned). */
typedef struct LmActLayout {
    size_t x_in, h1, n1, mix, x_mid, h2, n2, ch, per_layer; /* offsets within a layer's region */
    size_t layers;                                          /* start of the first layer */
    size_t x_final, h_final, n_final, logits, total;
} LmActLayout;

static LmActLayout act_layout(const LmModel *m, int B, int T)
{
    LmActLayout a;
    size_t N = ws_floats_for((size_t)B * T * m->cfg.d_model), off = 0;
    a.x_in = off, off += N;
    a.h1 = off, off += N;
    a.n1 = off, off += ws_floats_for(op_act_floats(&m->norm, B, T));
    a.mix = off, off += ws_floats_for(op_act_floats(&m->mixer, B, T));
    a.x_mid = off, off += N;
    a.h2 = off, off += N;
    a.n2 = off, off += ws_floats_for(op_act_floats(&m->norm, B, T));
    a.ch = off, off += ws_floats_for(op_act_floats(&m->channel, B, T));
    a.per_layer = off;
    a.layers = 0;
    off = a.per_layer * m->cfg.n_layers;
    a.x_final = off, off += N;
    a.h_final = off, off += N;
    a.n_final = off, off += ws_floats_for(op_act_floats(&m->norm, B, T));
    a.logits = off, off += ws_floats_for((size_t)B * T * m->cfg.vocab);
    a.total = off;
    return a;
}

size_t lm_act_floats(const LmModel *m, int B, int T) { return act_layout(m, B, T).total; }

static size_t op_ws_max(const LmModel *m, int B, int T)
{
    size_t a = op_workspace_floats(&m->mixer, B, T), b = op_workspace_floats(&m->channel, B, T);
    size_t c = op_workspace_floats(&m->norm, B, T);
    size_t most = a > b ? a : b;
    return ws_floats_for(most > c ? most : c);
}

/* The workspace: the largest operator workspace, then three (B, T, D) scratch tensors. */
size_t lm_workspace_floats(const LmModel *m, int B, int T)
{
    return op_ws_max(m, B, T) + 3 * ws_floats_for((size_t)B * T * m->cfg.d_model);
}

typedef struct LmRun {
    const LmModel *m;
    const float *params;
    float *act, *grads;
    int B, T;
    size_t N; /* B T D */
    LmActLayout a;
    Workspace ws;               /* operator scratch */
    float *tmp, *dbuf1, *dbuf2; /* (B, T, D) scratch */
    uint64_t draw;              /* selects the channel's random draws (see lm_forward_backward) */
} LmRun;

/* Runs op forward with a fresh workspace. */
static void run_forward(LmRun *r, const Op *op, const float *p, const float *x, float *y, float *act)
{
    ws_reset(&r->ws);
    op_forward(op, p, x, y, act, r->B, r->T, &r->ws);
}

static void run_backward(LmRun *r, const Op *op, const float *p, const float *x, const float *act, const float *dy,
                         float *dx, float *dp)
{
    ws_reset(&r->ws);
    op_backward(op, p, x, act, dy, dx, dp, r->B, r->T, &r->ws);
}

static void embed_forward(LmRun *r, const int *ids, float *x0)
{
    const LmConfig *c = &r->m->cfg;
    EmbeddingConfig e = {c->vocab, c->d_model};
    embedding_forward(&e, r->params + r->m->off_wte, ids, x0, (size_t)r->B * r->T);
    if (!c->pos_emb)
        return;
    const float *wpe = r->params + r->m->off_wpe;
    for (int b = 0; b < r->B; b++)
        core_accumulate(x0 + (size_t)b * r->T * c->d_model, wpe, (size_t)r->T * c->d_model);
}

Op lm_channel_for_draw(const Op *channel, uint64_t draw, int layer)
{
    Op ch = *channel;
    int *seed = ch.info == op_info(OP_MOE) ? &ch.cfg.moe.seed : ch.info == op_info(OP_FFF) ? &ch.cfg.fff.seed : NULL;
    if (seed) {
        Rng rng;
        rng_init(&rng, ((uint64_t)(uint32_t)*seed << 32) ^ (draw * LM_MAX_LAYERS + (uint64_t)layer));
        *seed = (int)(rng_next(&rng) & 0x7fffffff);
    }
    return ch;
}

static Op layer_channel(const LmRun *r, int l) { return lm_channel_for_draw(&r->m->channel, r->draw, l); }

static void layer_forward(LmRun *r, int l, float *x_out)
{
    const LmModel *m = r->m;
    const float *p = r->params + m->off_layer[l];
    float *base = r->act + r->a.layers + (size_t)l * r->a.per_layer;
    run_forward(r, &m->norm, p, base + r->a.x_in, base + r->a.h1, base + r->a.n1);
    run_forward(r, &m->mixer, p + m->n_norm, base + r->a.h1, r->tmp, base + r->a.mix);
    core_add(base + r->a.x_mid, base + r->a.x_in, r->tmp, r->N);
    run_forward(r, &m->norm, p + m->n_norm + m->n_mixer, base + r->a.x_mid, base + r->a.h2, base + r->a.n2);
    Op channel = layer_channel(r, l);
    run_forward(r, &channel, p + 2 * m->n_norm + m->n_mixer, base + r->a.h2, r->tmp, base + r->a.ch);
    core_add(x_out, base + r->a.x_mid, r->tmp, r->N);
}

/* The channel's backward; an FFF channel in training mode adds the gradient of the hardening term, an MoE
 * channel that of its balance losses. */
static void channel_backward(LmRun *r, int l, const float *p, const float *x, const float *act, const float *dy,
                             float *dx, float *dp)
{
    const LmModel *m = r->m;
    const Op channel = layer_channel(r, l);
    if (m->cfg.channel == LM_CHANNEL_FFF && m->cfg.hardening != 0.0f) {
        ws_reset(&r->ws);
        fff_backward_hardening(&channel.cfg.fff, p, x, act, dy, dx, dp, r->B, r->T, m->cfg.hardening, &r->ws);
        return;
    }
    if (m->cfg.channel == LM_CHANNEL_MOE && m->cfg.balance != 0.0f) {
        ws_reset(&r->ws);
        moe_backward_aux(&channel.cfg.moe, p, x, act, dy, dx, dp, r->B, r->T, m->cfg.balance, m->cfg.balance,
                         0.0f, &r->ws);
        return;
    }
    run_backward(r, &channel, p, x, act, dy, dx, dp);
}

/* d(loss)/d(x_in) of layer l, given dx = d(loss)/d(x_out) (overwritten with the result). */
static void layer_backward(LmRun *r, int l, float *dx)
{
    const LmModel *m = r->m;
    const float *p = r->params + m->off_layer[l];
    float *g = r->grads + m->off_layer[l];
    const float *base = r->act + r->a.layers + (size_t)l * r->a.per_layer;
    size_t o_mix = m->n_norm, o_n2 = m->n_norm + m->n_mixer, o_ch = 2 * m->n_norm + m->n_mixer;
    channel_backward(r, l, p + o_ch, base + r->a.h2, base + r->a.ch, dx, r->dbuf1, g + o_ch);
    run_backward(r, &m->norm, p + o_n2, base + r->a.x_mid, base + r->a.n2, r->dbuf1, r->dbuf2, g + o_n2);
    core_accumulate(dx, r->dbuf2, r->N);
    run_backward(r, &m->mixer, p + o_mix, base + r->a.h1, base + r->a.mix, dx, r->dbuf1, g + o_mix);
    run_backward(r, &m->norm, p, base + r->a.x_in, base + r->a.n1, r->dbuf1, r->dbuf2, g);
    core_accumulate(dx, r->dbuf2, r->N);
}

static float *layer_input(LmRun *r, int l)
{
    return l < r->m->cfg.n_layers ? r->act + r->a.layers + (size_t)l * r->a.per_layer + r->a.x_in
                                  : r->act + r->a.x_final;
}

static double head_forward(LmRun *r, const int *targets, int backward)
{
    const LmModel *m = r->m;
    const int rows = r->B * r->T, D = m->cfg.d_model, V = m->cfg.vocab;
    run_forward(r, &m->norm, r->params + m->off_norm_f, r->act + r->a.x_final, r->act + r->a.h_final,
                r->act + r->a.n_final);
    float *logits = r->act + r->a.logits;
    gemm_linear_forward(r->act + r->a.h_final, r->params + m->off_head, NULL, logits, rows, D, V);
    return softmax_ce_loss(logits, targets, rows, V, backward ? logits : NULL);
}

/* From dlogits (in the logits buffer) to d(loss)/d(x_final) in dx. */
static void head_backward(LmRun *r, float *dx)
{
    const LmModel *m = r->m;
    const int rows = r->B * r->T, D = m->cfg.d_model, V = m->cfg.vocab;
    const float *dlogits = r->act + r->a.logits;
    gemm_linear_backward_input(dlogits, r->params + m->off_head, r->dbuf1, rows, D, V, 0.0f);
    gemm_linear_backward_params(dlogits, r->act + r->a.h_final, r->grads + m->off_head, NULL, rows, D, V);
    run_backward(r, &m->norm, r->params + m->off_norm_f, r->act + r->a.x_final, r->act + r->a.n_final, r->dbuf1,
                 dx, r->grads + m->off_norm_f);
}

static void embed_backward(LmRun *r, const int *ids, const float *dx)
{
    const LmConfig *c = &r->m->cfg;
    EmbeddingConfig e = {c->vocab, c->d_model};
    embedding_backward(&e, ids, dx, r->grads + r->m->off_wte, (size_t)r->B * r->T);
    if (!c->pos_emb)
        return;
    float *dwpe = r->grads + r->m->off_wpe;
    for (int b = 0; b < r->B; b++)
        core_accumulate(dwpe, dx + (size_t)b * r->T * c->d_model, (size_t)r->T * c->d_model);
}

double lm_forward_backward(const LmModel *m, const float *params, const int *ids, const int *targets, int B, int T,
                           float *act, float *ws_buf, float *grads, int backward, uint64_t draw)
{
    LmRun r = {.m = m, .params = params, .act = act, .grads = grads, .B = B, .T = T, .draw = draw};
    r.N = (size_t)B * T * m->cfg.d_model;
    r.a = act_layout(m, B, T);
    size_t op_ws = op_ws_max(m, B, T), Nf = ws_floats_for(r.N);
    ws_init(&r.ws, ws_buf, op_ws);
    r.tmp = ws_buf + op_ws, r.dbuf1 = r.tmp + Nf, r.dbuf2 = r.dbuf1 + Nf;

    embed_forward(&r, ids, layer_input(&r, 0));
    for (int l = 0; l < m->cfg.n_layers; l++)
        layer_forward(&r, l, layer_input(&r, l + 1));
    double loss = head_forward(&r, targets, backward);
    if (!backward)
        return loss;
    float *dx = r.tmp; /* the residual stream's gradient, layer by layer */
    head_backward(&r, dx);
    for (int l = m->cfg.n_layers - 1; l >= 0; l--)
        layer_backward(&r, l, dx);
    embed_backward(&r, ids, dx);
    return loss;
}

OpFlops lm_flops(const LmModel *m, int B, int T)
{
    const double N = (double)B * T * m->cfg.d_model, rows = (double)B * T;
    OpFlops f = {0, 0}, n = op_flops(&m->norm, B, T), mx = op_flops(&m->mixer, B, T);
    OpFlops ch = op_flops(&m->channel, B, T), ce = softmax_ce_flops(B * T, m->cfg.vocab);
    double layers = m->cfg.n_layers;
    f.forward = (m->cfg.pos_emb ? N : 0) + layers * (2 * n.forward + mx.forward + ch.forward + 2 * N) +
                n.forward + gemm_linear_flops_forward(rows, m->cfg.d_model, m->cfg.vocab, 0) + ce.forward;
    /* Backward: the residual gradient adds (2 per layer), the operators', the head's and the embedding's. */
    f.backward = layers * (2 * n.backward + mx.backward + ch.backward + 2 * N) + n.backward +
                 gemm_linear_flops_backward(rows, m->cfg.d_model, m->cfg.vocab, 0) + ce.backward + N +
                 (m->cfg.pos_emb ? N : 0);
    return f;
}

const float *lm_logits(const LmModel *m, const float *act, int B, int T) { return act + act_layout(m, B, T).logits; }

/* config ("k=v,...") with every item whose key extra sets removed, then extra appended: extra's values win. */
static void config_override(char *config, size_t len, const char *extra)
{
    char kept[4 * LM_CONFIG_LEN + 256] = "", item[512];
    for (const char *p = config; *p;) {
        const char *end = strchr(p, ',');
        const size_t n = end ? (size_t)(end - p) : strlen(p);
        snprintf(item, sizeof item, "%.*s", (int)n, p);
        const char *eq = strchr(item, '=');
        const size_t key = eq ? (size_t)(eq - item) : strlen(item);
        int overridden = 0;
        for (const char *q = extra; *q && !overridden;) {
            const char *qe = strchr(q, ','), *qeq = strchr(q, '=');
            const size_t qn = qe ? (size_t)(qe - q) : strlen(q);
            const size_t qkey = qeq && (size_t)(qeq - q) < qn ? (size_t)(qeq - q) : qn;
            overridden = qkey == key && strncmp(q, item, key) == 0;
            q += qn + (qe != NULL);
        }
        if (!overridden && n > 0)
            snprintf(kept + strlen(kept), sizeof kept - strlen(kept), "%s%s", kept[0] ? "," : "", item);
        p += n + (end != NULL);
    }
    snprintf(config, len, "%s%s%s", kept, kept[0] ? "," : "", extra);
}

int lm_create_overriding(LmModel *m, const char *config, const char *overrides, char *err, size_t errlen)
{
    char text[4 * LM_CONFIG_LEN + 256];
    snprintf(text, sizeof text, "%s", config);
    if (overrides && *overrides)
        config_override(text, sizeof text, overrides);
    return lm_create(m, text, err, errlen);
}

static long params_with_hidden(const char *config, int hidden, char *err, size_t errlen)
{
    char text[4 * LM_CONFIG_LEN];
    snprintf(text, sizeof text, "%s,channel.d_hidden=%d", config, hidden);
    LmModel m;
    if (lm_create(&m, text, err, errlen) != 0)
        return -1;
    long n = (long)m.n_params;
    lm_destroy(&m);
    return n;
}

int lm_match_hidden(const char *config, size_t target_params, int max_hidden, size_t *params, char *err,
                    size_t errlen)
{
    /* Parameters grow monotonically with the hidden width: bisect. */
    int lo = 1, hi = max_hidden;
    long at_hi = params_with_hidden(config, hi, err, errlen);
    if (at_hi < 0)
        return -1;
    if ((size_t)at_hi < target_params) {
        snprintf(err, errlen, "lm: no d_hidden <= %d reaches %zu parameters", max_hidden, target_params);
        return -1;
    }
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        long n = params_with_hidden(config, mid, err, errlen);
        if (n < 0)
            return -1;
        if ((size_t)n >= target_params)
            hi = mid;
        else
            lo = mid + 1;
    }
    *params = (size_t)params_with_hidden(config, lo, err, errlen);
    return lo;
}

/* ---- generation ---- */

int lm_can_generate(const LmModel *m, char *err, size_t errlen)
{
    return op_step_kind(&m->mixer, err, errlen) == OP_STEP_NONE ? -1 : 0;
}

static size_t layer_state_floats(const LmModel *m, int B, int T)
{
    return ws_floats_for(op_state_floats(&m->mixer, B, T));
}

size_t lm_state_floats(const LmModel *m, int B, int T) { return (size_t)m->cfg.n_layers * layer_state_floats(m, B, T); }

static size_t step_ops_floats(const LmModel *m, int B, int T)
{
    size_t a = op_step_workspace_floats(&m->mixer, B, T), b = op_step_workspace_floats(&m->channel, B, T);
    size_t c = op_step_workspace_floats(&m->norm, B, T), most = a > b ? a : b;
    return most > c ? most : c;
}

size_t lm_step_workspace_floats(const LmModel *m, int B, int T)
{
    return 3 * ws_floats_for((size_t)B * m->cfg.d_model) + step_ops_floats(m, B, T);
}

void lm_step(const LmModel *m, const float *params, const int *ids, int t, int B, int T, float *state,
             float *ws_buf, float *logits)
{
    const LmConfig *c = &m->cfg;
    const size_t N = (size_t)B * c->d_model, Nf = ws_floats_for(N);
    float *x = ws_buf, *h = x + Nf, *tmp = h + Nf;
    Workspace ws;
    ws_init(&ws, tmp + Nf, step_ops_floats(m, B, T));
    EmbeddingConfig e = {c->vocab, c->d_model};
    embedding_forward(&e, params + m->off_wte, ids, x, (size_t)B);
    for (int b = 0; c->pos_emb && b < B; b++)
        core_accumulate(x + (size_t)b * c->d_model, params + m->off_wpe + (size_t)t * c->d_model, (size_t)c->d_model);
    for (int l = 0; l < c->n_layers; l++) {
        const float *p = params + m->off_layer[l];
        float *st = state + (size_t)l * layer_state_floats(m, B, T);
        const Op channel = lm_channel_for_draw(&m->channel, 0, l);
        op_step(&m->norm, p, x, h, NULL, B, t, T, &ws);
        op_step(&m->mixer, p + m->n_norm, h, tmp, st, B, t, T, &ws);
        core_accumulate(x, tmp, N);
        op_step(&m->norm, p + m->n_norm + m->n_mixer, x, h, NULL, B, t, T, &ws);
        op_step(&channel, p + 2 * m->n_norm + m->n_mixer, h, tmp, NULL, B, t, T, &ws);
        core_accumulate(x, tmp, N);
    }
    op_step(&m->norm, params + m->off_norm_f, x, h, NULL, B, t, T, &ws);
    gemm_linear_forward(h, params + m->off_head, NULL, logits, B, c->d_model, c->vocab);
}

double lm_step_flops(const LmModel *m, int B, int t)
{
    const double N = (double)B * m->cfg.d_model, layers = m->cfg.n_layers;
    const double norm = op_step_flops(&m->norm, B, t);
    return (m->cfg.pos_emb ? N : 0) +
           layers * (2 * norm + op_step_flops(&m->mixer, B, t) + op_step_flops(&m->channel, B, t) + 2 * N) + norm +
           gemm_linear_flops_forward(B, m->cfg.d_model, m->cfg.vocab, 0);
}

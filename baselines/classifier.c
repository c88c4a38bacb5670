/* classifier: configuration, parameter layout, initialisation, FLOPs and neuron counts (the forward and
 * backward passes are in classifier_run.c). */
#include "classifier.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "softmax_ce.h"

static const char *const mixer_ops[] = {"attention", "hyena", "s4d", "conv2d", "longconv2d"};
static const char *const channel_ops[] = {"ffn", "fff", "moe", "none"};
enum { MIXER_HYENA = 1 };

static const ConfigField cls_fields[] = {
    {"arch", CONFIG_ENUM, offsetof(ClsConfig, arch), "blocks", "flat|blocks",
     "flat: channel(image) -> head; blocks: patch embedding, residual blocks, pool, head"},
    {"classes", CONFIG_INT, offsetof(ClsConfig, classes), "10", NULL, "number of classes"},
    {"image", CONFIG_INT, offsetof(ClsConfig, image), "32", NULL, "image side in pixels"},
    {"channels", CONFIG_INT, offsetof(ClsConfig, channels), "3", NULL, "channels per pixel C"},
    {"patch", CONFIG_INT, offsetof(ClsConfig, patch), "1", NULL, "patch side p (blocks): L = (image/p)^2 tokens"},
    {"d_model", CONFIG_INT, offsetof(ClsConfig, d_model), "64", NULL, "width D (blocks)"},
    {"layers", CONFIG_INT, offsetof(ClsConfig, n_layers), "2", NULL, "residual blocks"},
    {"mixer", CONFIG_ENUM, offsetof(ClsConfig, mixer), "attention", "attention|hyena|s4d|conv2d|longconv2d",
     "sequence mixer (blocks)"},
    {"channel", CONFIG_ENUM, offsetof(ClsConfig, channel), "ffn", "ffn|fff|moe|none", "channel mixer"},
    {"pos_emb", CONFIG_INT, offsetof(ClsConfig, pos_emb), "0", NULL, "1: learned positional embedding (blocks)"},
    {"pool", CONFIG_ENUM, offsetof(ClsConfig, pool), "mean", "mean|last", "token pooling before the head"},
    {"hardening", CONFIG_FLOAT, offsetof(ClsConfig, hardening), "0", NULL,
     "FFF hardening weight h (objective + h * mean node entropy, per FFF channel)"},
    {"balance", CONFIG_FLOAT, offsetof(ClsConfig, balance), "0.01", NULL,
     "MoE balance weight (objective + w * (importance CV^2 + load CV^2), per MoE channel)"},
    {"dropout", CONFIG_FLOAT, offsetof(ClsConfig, dropout), "0", NULL,
     "dropout probability on each residual branch's output in training (blocks), kept values scaled by 1/(1-p)"},
};
#define CLS_FIELD_COUNT ((int)(sizeof cls_fields / sizeof cls_fields[0]))

/* Appends "k=v" to a comma-separated list of at most CLS_CONFIG_LEN bytes. */
static int append_item(char *list, const char *item, char *err, size_t errlen)
{
    size_t used = strlen(list);
    if (used + strlen(item) + 2 >= CLS_CONFIG_LEN) {
        snprintf(err, errlen, "classifier: config string too long");
        return -1;
    }
    snprintf(list + used, CLS_CONFIG_LEN - used, "%s%s", used ? "," : "", item);
    return 0;
}

/* Sorts "k=v,..." into the model's own keys and the operators' ("mixer." / "channel.", prefix removed). */
static int sort_config(const char *text, char *own, char *mixer, char *channel, char *err, size_t errlen)
{
    char buf[4 * CLS_CONFIG_LEN];
    own[0] = mixer[0] = channel[0] = '\0';
    if (strlen(text) >= sizeof buf) {
        snprintf(err, errlen, "classifier: config string too long");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int rc = strncmp(item, "mixer.", 6) == 0     ? append_item(mixer, item + 6, err, errlen)
                 : strncmp(item, "channel.", 8) == 0 ? append_item(channel, item + 8, err, errlen)
                                                     : append_item(own, item, err, errlen);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int validate(const ClsConfig *c, char *err, size_t errlen)
{
    if (c->classes < 2 || c->image < 1 || c->channels < 1 || c->patch < 1 || c->image % c->patch != 0) {
        snprintf(err, errlen, "classifier: need classes >= 2, image >= 1, channels >= 1 and a patch side that "
                              "divides the image side (got %d, %d, %d, %d)", c->classes, c->image, c->channels,
                 c->patch);
        return -1;
    }
    if (c->arch == CLS_ARCH_BLOCKS && (c->d_model < 1 || c->n_layers < 1 || c->n_layers > CLS_MAX_LAYERS)) {
        snprintf(err, errlen, "classifier: need d_model >= 1 and 1 <= layers <= %d", CLS_MAX_LAYERS);
        return -1;
    }
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f) || (c->arch == CLS_ARCH_FLAT && c->dropout != 0.0f)) {
        snprintf(err, errlen, "classifier: dropout %g must be in [0, 1), and 0 for arch=flat (it drops residual "
                 "branches)", (double)c->dropout);
        return -1;
    }
    return 0;
}

/* 1 if the named operator has a config field of that name. */
static int op_has_field(const char *op, const char *field)
{
    const OpInfo *info = op_find(op);
    for (int i = 0; info && i < *info->field_count; i++)
        if (strcmp(info->fields[i].name, field) == 0)
            return 1;
    return 0;
}

static int configure_mixer(ClsModel *m, char *err, size_t errlen)
{
    const ClsConfig *c = &m->cfg;
    const char *name = mixer_ops[c->mixer];
    char text[2 * CLS_CONFIG_LEN + 64];
    /* Width-preserving: d_model, or d_in = d_out (conv2d). */
    int used = op_has_field(name, "d_model") ? snprintf(text, sizeof text, "d_model=%d", c->d_model)
                                             : snprintf(text, sizeof text, "d_in=%d,d_out=%d", c->d_model, c->d_model);
    /* Hyena's filter grid must cover the sequence: l_max = L unless the caller chose one. */
    if (c->mixer == MIXER_HYENA && !strstr(c->mixer_extra, "l_max="))
        used += snprintf(text + used, sizeof text - (size_t)used, ",l_max=%d", m->seq_len);
    /* 2D operators see the token grid: height = width = image / patch unless given. */
    if (op_has_field(name, "height") && !strstr(c->mixer_extra, "height="))
        used += snprintf(text + used, sizeof text - (size_t)used, ",height=%d,width=%d", c->image / c->patch,
                         c->image / c->patch);
    if (c->mixer_extra[0])
        snprintf(text + used, sizeof text - (size_t)used, ",%s", c->mixer_extra);
    if (op_configure(&m->mixer, mixer_ops[c->mixer], text, err, errlen) != 0)
        return -1;
    snprintf(text, sizeof text, "d_model=%d", c->d_model);
    if (op_configure(&m->norm, "layernorm", text, err, errlen) != 0)
        return -1;
    char shape_err[256];
    if (op_check_shape(&m->mixer, 1, m->seq_len, shape_err, sizeof shape_err) != 0) {
        snprintf(err, errlen, "classifier: %d tokens: %s", m->seq_len, shape_err);
        return -1;
    }
    return 0;
}

static int configure_ops(ClsModel *m, char *err, size_t errlen)
{
    const ClsConfig *c = &m->cfg;
    const int pixels = c->image * c->image;
    if (c->arch == CLS_ARCH_FLAT) {
        m->seq_len = 1, m->d_token = pixels * c->channels, m->width = m->d_token;
    } else {
        m->seq_len = pixels / (c->patch * c->patch), m->d_token = c->patch * c->patch * c->channels;
        m->width = c->d_model;
    }
    m->has_channel = c->channel != CLS_CHANNEL_NONE;
    if (m->has_channel) {
        char text[CLS_CONFIG_LEN + 64];
        snprintf(text, sizeof text, "d_model=%d%s%s", m->width, c->channel_extra[0] ? "," : "", c->channel_extra);
        if (op_configure(&m->channel, channel_ops[c->channel], text, err, errlen) != 0)
            return -1;
    } else if (c->channel_extra[0]) {
        snprintf(err, errlen, "classifier: channel=none takes no channel.* keys");
        return -1;
    }
    return c->arch == CLS_ARCH_BLOCKS ? configure_mixer(m, err, errlen) : 0;
}

/* Optimisation groups: lm.c's rule (lm_tensor_group) plus timm's ViT rule: no decay for the positional
 * embedding. */
static void optim_group(LmTensor *t)
{
    lm_tensor_group(t);
    if (strcmp(t->spec.name, "pos_emb") == 0)
        t->weight_decay = 0;
}

/* Appends the tensors of one operator under a name prefix, at offset base of the parameter block. */
static void add_op_tensors(ClsModel *m, const Op *op, const char *prefix, size_t base)
{
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(op, specs);
    for (int i = 0; i < count; i++) {
        LmTensor *t = &m->tensors[m->n_tensors++];
        t->spec = specs[i];
        snprintf(t->spec.name, sizeof t->spec.name, "%s%.*s", prefix, (int)(CORE_NAME_LEN - strlen(prefix) - 1),
                 specs[i].name);
        t->spec.offset = base + specs[i].offset;
        optim_group(t);
    }
}

static size_t add_tensor(ClsModel *m, const char *name, size_t offset, int ndim, const int *shape)
{
    LmTensor *t = &m->tensors[m->n_tensors++];
    size_t end = core_spec(&t->spec, name, offset, ndim, shape);
    optim_group(t);
    return end;
}

static size_t layout_layers(ClsModel *m, size_t off)
{
    char prefix[64];
    for (int l = 0; l < m->cfg.n_layers; l++) {
        m->off_layer[l] = off;
        snprintf(prefix, sizeof prefix, "layers.%d.norm1.", l);
        add_op_tensors(m, &m->norm, prefix, off);
        snprintf(prefix, sizeof prefix, "layers.%d.mixer.", l);
        add_op_tensors(m, &m->mixer, prefix, off + m->n_norm);
        off += m->n_norm + m->n_mixer;
        if (!m->has_channel)
            continue;
        snprintf(prefix, sizeof prefix, "layers.%d.norm2.", l);
        add_op_tensors(m, &m->norm, prefix, off);
        snprintf(prefix, sizeof prefix, "layers.%d.channel.", l);
        add_op_tensors(m, &m->channel, prefix, off + m->n_norm);
        off += m->n_norm + m->n_channel;
    }
    return off;
}

static void layout_tensors(ClsModel *m)
{
    const ClsConfig *c = &m->cfg;
    size_t off = 0;
    if (c->arch == CLS_ARCH_BLOCKS) {
        m->off_embed = off;
        off = add_tensor(m, "embed.weight", off, 2, (int[]){c->d_model, m->d_token});
        off = add_tensor(m, "embed.bias", off, 1, (int[]){c->d_model});
        m->off_pos = off;
        if (c->pos_emb)
            off = add_tensor(m, "pos_emb", off, 3, (int[]){1, m->seq_len, c->d_model});
        off = layout_layers(m, off);
        m->off_norm_f = off;
        add_op_tensors(m, &m->norm, "norm_f.", off);
        off += m->n_norm;
    } else if (m->has_channel) {
        m->off_channel = off;
        add_op_tensors(m, &m->channel, "channel.", off);
        off += m->n_channel;
    }
    m->off_head = off;
    off = add_tensor(m, "head.weight", off, 2, (int[]){c->classes, m->width});
    off = add_tensor(m, "head.bias", off, 1, (int[]){c->classes});
    m->n_params = off;
}

static int tensor_count(const ClsModel *m)
{
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int channel = m->has_channel ? op_param_specs(&m->channel, specs) : 0;
    if (m->cfg.arch == CLS_ARCH_FLAT)
        return channel + 2;
    int norm = op_param_specs(&m->norm, specs), mixer = op_param_specs(&m->mixer, specs);
    int per_layer = norm + mixer + (m->has_channel ? norm + channel : 0);
    return per_layer * m->cfg.n_layers + norm + 5;
}

int cls_create(ClsModel *m, const char *config, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    char own[CLS_CONFIG_LEN], mixer[CLS_CONFIG_LEN], channel[CLS_CONFIG_LEN];
    if (sort_config(config, own, mixer, channel, err, errlen) != 0 ||
        config_parse(cls_fields, CLS_FIELD_COUNT, own, &m->cfg, err, errlen) != 0)
        return -1;
    memcpy(m->cfg.mixer_extra, mixer, sizeof mixer); /* after config_parse, which resets the struct */
    memcpy(m->cfg.channel_extra, channel, sizeof channel);
    if (m->cfg.arch == CLS_ARCH_FLAT && mixer[0]) {
        snprintf(err, errlen, "classifier: arch=flat has no mixer (got mixer.%s)", mixer);
        return -1;
    }
    if (validate(&m->cfg, err, errlen) != 0 || configure_ops(m, err, errlen) != 0)
        return -1;
    m->n_norm = m->cfg.arch == CLS_ARCH_BLOCKS ? op_num_params(&m->norm) : 0;
    m->n_mixer = m->cfg.arch == CLS_ARCH_BLOCKS ? op_num_params(&m->mixer) : 0;
    m->n_channel = m->has_channel ? op_num_params(&m->channel) : 0;
    m->tensors = calloc((size_t)tensor_count(m), sizeof *m->tensors);
    if (!m->tensors) {
        snprintf(err, errlen, "classifier: out of memory");
        return -1;
    }
    layout_tensors(m);
    return 0;
}

void cls_destroy(ClsModel *m)
{
    free(m->tensors);
    m->tensors = NULL;
}

/* Appends an operator's canonical config, each key prefixed, without the widths the model sets (d_model, or
 * d_in and d_out). */
static size_t append_op_config(const Op *op, const char *prefix, char *out, size_t used, size_t outlen)
{
    char buf[CLS_CONFIG_LEN], *save = NULL;
    if (op_config_string(op, buf, sizeof buf) != 0)
        return outlen;
    for (char *item = strtok_r(buf, ",", &save); item && used < outlen; item = strtok_r(NULL, ",", &save))
        if (strncmp(item, "d_model=", 8) != 0 && strncmp(item, "d_in=", 5) != 0 && strncmp(item, "d_out=", 6) != 0)
            used += (size_t)snprintf(out + used, outlen - used, ",%s%s", prefix, item);
    return used;
}

int cls_config_string(const ClsModel *m, char *out, size_t outlen)
{
    if (config_format(cls_fields, CLS_FIELD_COUNT, &m->cfg, out, outlen) != 0)
        return -1;
    size_t used = strlen(out);
    if (m->cfg.arch == CLS_ARCH_BLOCKS)
        used = append_op_config(&m->mixer, "mixer.", out, used, outlen);
    if (m->has_channel && used < outlen)
        used = append_op_config(&m->channel, "channel.", out, used, outlen);
    return used < outlen ? 0 : -1;
}

static void init_blocks(const ClsModel *m, float *params, Rng *rng)
{
    const ClsConfig *c = &m->cfg;
    float *embed = params + m->off_embed;
    linear_init_uniform(embed, (size_t)c->d_model * m->d_token, m->d_token, rng);
    linear_init_uniform(embed + (size_t)c->d_model * m->d_token, (size_t)c->d_model, m->d_token, rng);
    if (c->pos_emb)
        rng_fill_normal(rng, params + m->off_pos, (size_t)m->seq_len * c->d_model, 0.0f, 0.02f);
    for (int l = 0; l < c->n_layers; l++) {
        float *p = params + m->off_layer[l];
        op_init(&m->norm, p, rng);
        op_init(&m->mixer, p + m->n_norm, rng);
        if (m->has_channel) {
            op_init(&m->norm, p + m->n_norm + m->n_mixer, rng);
            op_init(&m->channel, p + 2 * m->n_norm + m->n_mixer, rng);
        }
    }
    op_init(&m->norm, params + m->off_norm_f, rng);
}

void cls_init(const ClsModel *m, float *params, uint64_t seed)
{
    Rng rng;
    rng_init(&rng, seed);
    if (m->cfg.arch == CLS_ARCH_BLOCKS)
        init_blocks(m, params, &rng);
    else if (m->has_channel)
        op_init(&m->channel, params + m->off_channel, &rng);
    float *head = params + m->off_head;
    linear_init_uniform(head, (size_t)m->cfg.classes * m->width, m->width, &rng);
    linear_init_uniform(head + (size_t)m->cfg.classes * m->width, (size_t)m->cfg.classes, m->width, &rng);
}

/* Blocks: embedding, layers, final norm, pooling and head, as classifier_run.c computes them. */
static OpFlops blocks_flops(const ClsModel *m, int B)
{
    const ClsConfig *c = &m->cfg;
    const int L = m->seq_len, D = c->d_model;
    const double rows = (double)B * L, N = rows * D, layers = c->n_layers;
    OpFlops n = op_flops(&m->norm, B, L), mx = op_flops(&m->mixer, B, L), ch = {0, 0};
    if (m->has_channel)
        ch = op_flops(&m->channel, B, L);
    const double blocks = m->has_channel ? 2.0 : 1.0, pool_f = c->pool == CLS_POOL_MEAN ? N + (double)B * D : 0;
    OpFlops f;
    f.forward = gemm_linear_flops_forward(rows, m->d_token, D, 1) + (c->pos_emb ? N : 0) +
                layers * (blocks * n.forward + mx.forward + ch.forward + blocks * N) + n.forward + pool_f;
    /* Backward: no gradient for the image, so the embedding needs only dW (2 rows d_token D) and db (rows D). */
    f.backward = rows * D * (2.0 * m->d_token + 1.0) + (c->pos_emb ? N : 0) +
                 layers * (blocks * n.backward + mx.backward + ch.backward + blocks * N) + n.backward +
                 (c->pool == CLS_POOL_MEAN ? N : 0);
    return f;
}

OpFlops cls_flops(const ClsModel *m, int B)
{
    const int classes = m->cfg.classes;
    OpFlops f = {0, 0}, ce = softmax_ce_flops(B, classes);
    if (m->cfg.arch == CLS_ARCH_BLOCKS)
        f = blocks_flops(m, B);
    else if (m->has_channel)
        f = op_flops(&m->channel, B, 1);
    f.forward += gemm_linear_flops_forward(B, m->width, classes, 1) + ce.forward;
    f.backward += gemm_linear_flops_backward(B, m->width, classes, 1) + ce.backward;
    return f;
}

void cls_channel_neurons(const ClsModel *m, double *used, double *total)
{
    *used = *total = 0;
    if (!m->has_channel)
        return;
    if (m->cfg.channel == CLS_CHANNEL_FFN) {
        *used = *total = m->channel.cfg.ffn.d_hidden;
    } else if (m->cfg.channel == CLS_CHANNEL_FFF) {
        const FffConfig *f = &m->channel.cfg.fff;
        double leaves = (double)(1L << f->depth);
        if (f->variant == FFF_VARIANT_UFB) {
            *used = (double)f->parallel_size * (f->depth + 1);
            *total = (double)f->parallel_size * (2.0 * leaves - 1.0);
        } else {
            *used = f->depth + f->leaf_width;
            *total = leaves - 1.0 + leaves * f->leaf_width;
        }
    } else {
        const MoeConfig *e = &m->channel.cfg.moe;
        *used = e->n_experts + (double)e->top_k * e->d_hidden;
        *total = e->n_experts + (double)e->n_experts * e->d_hidden;
    }
}

void cls_patchify(const float *images, float *tokens, int B, int image, int channels, int patch)
{
    const int grid = image / patch, L = grid * grid, d_token = patch * patch * channels;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++) {
            const int ty = t / grid, tx = t % grid;
            float *out = tokens + ((size_t)b * L + t) * d_token;
            for (int py = 0; py < patch; py++) {
                const float *row = images + ((size_t)b * image * image + (size_t)(ty * patch + py) * image +
                                             (size_t)tx * patch) * channels;
                memcpy(out + (size_t)py * patch * channels, row, (size_t)patch * channels * sizeof(float));
            }
        }
}

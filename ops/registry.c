#include "registry.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Typed operator functions take `const XConfig *`; the table stores `const void *` versions. Calling a
 * function through a pointer of another type is undefined in C, so each operator gets small adapters. */
#define OP_ADAPTERS(prefix, Type)                                                                                  \
    static int prefix##_validate_any(const void *c, char *e, size_t n) { return prefix##_validate(c, e, n); }     \
    static int prefix##_specs_any(const void *c, ParamSpec *o) { return prefix##_param_specs(c, o); }             \
    static void prefix##_init_any(const void *c, float *p, Rng *r) { prefix##_init(c, p, r); }                    \
    static size_t prefix##_act_any(const void *c, int B, int L) { return prefix##_act_floats(c, B, L); }          \
    static size_t prefix##_ws_any(const void *c, int B, int L) { return prefix##_workspace_floats(c, B, L); }     \
    static void prefix##_forward_any(const void *c, const float *p, const float *x, float *y, float *a, int B,    \
                                     int L, Workspace *w)                                                         \
    {                                                                                                             \
        prefix##_forward(c, p, x, y, a, B, L, w);                                                                 \
    }                                                                                                             \
    static void prefix##_backward_any(const void *c, const float *p, const float *x, const float *a,              \
                                      const float *dy, float *dx, float *dp, int B, int L, Workspace *w)          \
    {                                                                                                             \
        prefix##_backward(c, p, x, a, dy, dx, dp, B, L, w);                                                       \
    }                                                                                                             \
    static OpFlops prefix##_flops_any(const void *c, int B, int L) { return prefix##_flops(c, B, L); }

#define OP_ENTRY_WITH_LEN_CHECK(prefix, summary, din, dout, max_len, check_len)                                    \
    {#prefix, summary, prefix##_config_fields, &prefix##_config_field_count, prefix##_validate_any, din, dout,    \
     prefix##_specs_any, prefix##_init_any, prefix##_act_any, prefix##_ws_any, prefix##_forward_any,              \
     prefix##_backward_any, prefix##_flops_any, max_len, check_len}
#define OP_ENTRY(prefix, summary, din, dout, max_len) OP_ENTRY_WITH_LEN_CHECK(prefix, summary, din, dout, max_len, NULL)

OP_ADAPTERS(linear, LinearConfig)
OP_ADAPTERS(layernorm, LayerNormConfig)
OP_ADAPTERS(gelu, GeluConfig)
OP_ADAPTERS(ffn, FfnConfig)
OP_ADAPTERS(attention, AttentionConfig)
OP_ADAPTERS(fftconv, FftconvConfig)
OP_ADAPTERS(hyena, HyenaConfig)
OP_ADAPTERS(s4d, S4dConfig)
OP_ADAPTERS(fff, FffConfig)
OP_ADAPTERS(moe, MoeConfig)
OP_ADAPTERS(conv2d, Conv2dConfig)
OP_ADAPTERS(longconv2d, Longconv2dConfig)

static int linear_d_in(const void *c) { return ((const LinearConfig *)c)->d_in; }
static int linear_d_out(const void *c) { return ((const LinearConfig *)c)->d_out; }
static int layernorm_d(const void *c) { return ((const LayerNormConfig *)c)->d_model; }
static int gelu_d(const void *c) { return ((const GeluConfig *)c)->d_model; }
static int ffn_d(const void *c) { return ((const FfnConfig *)c)->d_model; }
static int attention_d(const void *c) { return ((const AttentionConfig *)c)->d_model; }
static int fftconv_d(const void *c) { return ((const FftconvConfig *)c)->d_model; }
static int fftconv_max_len(const void *c) { return ((const FftconvConfig *)c)->l_max; }
static int hyena_d(const void *c) { return ((const HyenaConfig *)c)->d_model; }
static int hyena_max_len_any(const void *c) { return hyena_max_len(c); }
static int s4d_d(const void *c) { return ((const S4dConfig *)c)->d_model; }
static int fff_d(const void *c) { return ((const FffConfig *)c)->d_model; }
static int moe_d(const void *c) { return ((const MoeConfig *)c)->d_model; }
static int conv2d_d_in(const void *c) { return ((const Conv2dConfig *)c)->d_in; }
static int conv2d_d_out(const void *c) { return ((const Conv2dConfig *)c)->d_out; }
static int conv2d_len_any(const void *c, int L, char *e, size_t n) { return conv2d_check_len(c, L, e, n); }
static int longconv2d_d(const void *c) { return ((const Longconv2dConfig *)c)->d_model; }
static int longconv2d_len_any(const void *c, int L, char *e, size_t n) { return longconv2d_check_len(c, L, e, n); }

/* Indexed by OpKind. */
static const OpInfo op_table[] = {
    [OP_LINEAR] = OP_ENTRY(linear, "y = x W^T + b (torch.nn.Linear)", linear_d_in, linear_d_out, NULL),
    [OP_LAYERNORM] = OP_ENTRY(layernorm, "layer normalisation (torch.nn.LayerNorm)", layernorm_d, layernorm_d, NULL),
    [OP_GELU] = OP_ENTRY(gelu, "exact GELU (torch.nn.GELU)", gelu_d, gelu_d, NULL),
    [OP_FFN] = OP_ENTRY(ffn, "dense feed-forward fc2(gelu(fc1(x)))", ffn_d, ffn_d, NULL),
    [OP_ATTENTION] =
        OP_ENTRY(attention, "causal multi-head attention (naive | tiled)", attention_d, attention_d, NULL),
    [OP_FFTCONV] = OP_ENTRY(fftconv, "causal per-channel long convolution via FFT, plus skip", fftconv_d, fftconv_d,
                            fftconv_max_len),
    [OP_HYENA] = OP_ENTRY(hyena, "Hyena operator (safari standalone HyenaOperator)", hyena_d, hyena_d,
                          hyena_max_len_any),
    [OP_S4D] = OP_ENTRY(s4d, "S4D diagonal state-space layer (state-spaces s4d.py)", s4d_d, s4d_d, NULL),
    [OP_FFF] = OP_ENTRY(fff, "fast feedforward tree (fastfeedforward FFF | UltraFastBERT FFF)", fff_d, fff_d, NULL),
    [OP_MOE] = OP_ENTRY(moe, "noisy top-k mixture of ffn experts (Shazeer et al. 2017)", moe_d, moe_d, NULL),
    [OP_CONV2D] = OP_ENTRY_WITH_LEN_CHECK(conv2d, "2D convolution, same padding, on (B, H*W, C) (torch.nn.Conv2d)",
                                          conv2d_d_in, conv2d_d_out, NULL, conv2d_len_any),
    [OP_LONGCONV2D] = OP_ENTRY_WITH_LEN_CHECK(longconv2d, "per-channel 2D long convolution via FFT, implicit filter",
                                              longconv2d_d, longconv2d_d, NULL, longconv2d_len_any),
};
static_assert(sizeof op_table / sizeof op_table[0] == OP_COUNT, "op_table must have one entry per OpKind");

const OpInfo *op_info(OpKind kind) { return (kind >= 0 && kind < OP_COUNT) ? &op_table[kind] : NULL; }

const OpInfo *op_find(const char *name)
{
    for (int k = 0; k < OP_COUNT; k++)
        if (name && strcmp(op_table[k].name, name) == 0)
            return &op_table[k];
    return NULL;
}

int op_configure(Op *op, const char *name, const char *config, char *err, size_t errlen)
{
    memset(op, 0, sizeof *op);
    const OpInfo *info = op_find(name);
    if (!info) {
        snprintf(err, errlen, "unknown operator '%s' (see `subq op list`)", name ? name : "");
        return -1;
    }
    op->info = info;
    if (config_parse(info->fields, *info->field_count, config, &op->cfg, err, errlen) != 0)
        return -1;
    return info->validate(&op->cfg, err, errlen);
}

int op_config_string(const Op *op, char *out, size_t outlen)
{
    return config_format(op->info->fields, *op->info->field_count, &op->cfg, out, outlen);
}

int op_d_in(const Op *op) { return op->info->d_in(&op->cfg); }
int op_d_out(const Op *op) { return op->info->d_out(&op->cfg); }
int op_param_specs(const Op *op, ParamSpec *out) { return op->info->param_specs(&op->cfg, out); }

size_t op_num_params(const Op *op)
{
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(op, specs);
    return core_spec_total(specs, count);
}

void op_init(const Op *op, float *params, Rng *rng) { op->info->init(&op->cfg, params, rng); }
size_t op_act_floats(const Op *op, int B, int L) { return op->info->act_floats(&op->cfg, B, L); }
size_t op_workspace_floats(const Op *op, int B, int L) { return op->info->workspace_floats(&op->cfg, B, L); }

void op_forward(const Op *op, const float *params, const float *x, float *y, float *act, int B, int L,
                Workspace *ws)
{
    op->info->forward(&op->cfg, params, x, y, act, B, L, ws);
}

void op_backward(const Op *op, const float *params, const float *x, const float *act, const float *dy, float *dx,
                 float *dparams, int B, int L, Workspace *ws)
{
    op->info->backward(&op->cfg, params, x, act, dy, dx, dparams, B, L, ws);
}

OpFlops op_flops(const Op *op, int B, int L) { return op->info->flops(&op->cfg, B, L); }

int op_check_shape(const Op *op, int B, int L, char *err, size_t errlen)
{
    if (B < 1 || L < 1) {
        snprintf(err, errlen, "%s: need batch >= 1 and sequence length >= 1, got %d x %d", op->info->name, B, L);
        return -1;
    }
    int max_len = op->info->max_len ? op->info->max_len(&op->cfg) : 0;
    if (max_len > 0 && L > max_len) {
        snprintf(err, errlen, "%s: sequence length %d exceeds l_max %d", op->info->name, L, max_len);
        return -1;
    }
    if (op->info->check_len)
        return op->info->check_len(&op->cfg, L, err, errlen);
    return 0;
}

/* ---- generation ---- */

static OpKind kind_of(const Op *op) { return (OpKind)(op->info - op_table); }

OpStepKind op_step_kind(const Op *op, char *err, size_t errlen)
{
    switch (kind_of(op)) {
    case OP_ATTENTION:
        if (!op->cfg.attention.causal) {
            snprintf(err, errlen, "attention: only causal attention generates (causal=0 sees later positions)");
            return OP_STEP_NONE;
        }
        return OP_STEP_STATEFUL;
    case OP_FFTCONV:
    case OP_HYENA:
    case OP_S4D:
        return OP_STEP_STATEFUL;
    case OP_CONV2D:
    case OP_LONGCONV2D:
        snprintf(err, errlen, "%s: an image operator (every position sees the whole image) does not generate",
                 op->info->name);
        return OP_STEP_NONE;
    default:
        return OP_STEP_POSITION_WISE;
    }
}

size_t op_state_floats(const Op *op, int B, int T)
{
    switch (kind_of(op)) {
    case OP_ATTENTION: return attention_state_floats(&op->cfg.attention, B, T);
    case OP_FFTCONV: return fftconv_state_floats(&op->cfg.fftconv, B, T);
    case OP_HYENA: return hyena_state_floats(&op->cfg.hyena, B, T);
    case OP_S4D: return s4d_state_floats(&op->cfg.s4d, B, T);
    default: return 0;
    }
}

size_t op_step_workspace_floats(const Op *op, int B, int T)
{
    switch (kind_of(op)) {
    case OP_ATTENTION: return attention_step_workspace_floats(&op->cfg.attention, B, T);
    case OP_FFTCONV: return 0;
    case OP_HYENA: return hyena_step_workspace_floats(&op->cfg.hyena, B, T);
    case OP_S4D: return s4d_step_workspace_floats(&op->cfg.s4d, B, T);
    default: return ws_floats_for(op_act_floats(op, B, 1)) + op_workspace_floats(op, B, 1);
    }
}

void op_step(const Op *op, const float *params, const float *x, float *y, float *state, int B, int t, int T,
             Workspace *ws)
{
    const size_t mark = ws->used;
    switch (kind_of(op)) {
    case OP_ATTENTION: attention_step(&op->cfg.attention, params, x, y, state, B, t, T, ws); break;
    case OP_FFTCONV: fftconv_step(&op->cfg.fftconv, params, x, y, state, B, t, T); break;
    case OP_HYENA: hyena_step(&op->cfg.hyena, params, x, y, state, B, t, T, ws); break;
    case OP_S4D: s4d_step(&op->cfg.s4d, params, x, y, state, B, t, T, ws); break;
    default: op_forward(op, params, x, y, ws_take(ws, op_act_floats(op, B, 1)), B, 1, ws); break;
    }
    ws->used = mark;
}

double op_step_flops(const Op *op, int B, int t)
{
    switch (kind_of(op)) {
    case OP_ATTENTION: return attention_step_flops(&op->cfg.attention, B, t);
    case OP_FFTCONV: return fftconv_step_flops(B, op->cfg.fftconv.d_model, t);
    case OP_HYENA: return hyena_step_flops(&op->cfg.hyena, B, t, op->cfg.hyena.l_max);
    case OP_S4D: return s4d_step_flops(&op->cfg.s4d, B);
    default: return op_flops(op, B, 1).forward;
    }
}

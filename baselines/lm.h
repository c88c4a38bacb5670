/* lm: the decoder language model of DESIGN.md section 4, composed of registry operators:
 *
 *   x_0     = wte[ids] (+ wpe[t] when pos_emb)                         (B, T, D)
 *   x_l+1/2 = x_l + mixer(norm1(x_l))            mixer   in {attention, hyena, s4d}
 *   x_l+1   = x_l+1/2 + channel(norm2(x_l+1/2))  channel in {ffn, moe, fff}
 *   logits  = norm_f(x_N) W^T                    W = wte.weight (tied) or head.weight   (B, T, V)
 *
 * Config string (recorded in every result): "vocab=256,d_model=128,layers=4,context=64,mixer=attention,
 * channel=ffn,pos_emb=1,tied=1,mixer.n_heads=4,channel.d_hidden=512": keys prefixed "mixer." and "channel."
 * go to the operators' own configs (d_model is added; hyena also gets l_max=context unless given).
 *
 * Parameter names (checkpoints, PyTorch interop): wte.weight, wpe.weight, layers.<i>.norm1.{weight,bias},
 * layers.<i>.mixer.<op name>, layers.<i>.norm2.*, layers.<i>.channel.<op name>, norm_f.*, head.weight.
 * All parameters, gradients and activations live in three blocks sized once (lm_act_floats for B x T). */
#ifndef SUBQ_LM_H
#define SUBQ_LM_H

#include <stddef.h>

#include "registry.h"

#define LM_MAX_LAYERS 48
#define LM_CONFIG_LEN 1024

typedef enum LmMixer { LM_MIXER_ATTENTION, LM_MIXER_HYENA, LM_MIXER_S4D } LmMixer;
typedef enum LmChannel { LM_CHANNEL_FFN, LM_CHANNEL_MOE, LM_CHANNEL_FFF } LmChannel;

typedef enum LmInit { LM_INIT_SAFARI, LM_INIT_TORCH } LmInit;

typedef struct LmConfig {
    int vocab, d_model, n_layers, context;
    int mixer, channel; /* LmMixer, LmChannel */
    int pos_emb, tied;
    float hardening; /* FFF channels in training mode: the loss gets + hardening * mean decision entropy */
    float balance;   /* MoE channels: + balance * (importance CV^2 + load CV^2), Shazeer et al.'s losses */
    int init;        /* LmInit */
    char mixer_extra[LM_CONFIG_LEN], channel_extra[LM_CONFIG_LEN]; /* "k=v,..." for the operators */
} LmConfig;

/* A parameter tensor of the model with its optimisation group. */
typedef struct LmTensor {
    ParamSpec spec;     /* full name, e.g. "layers.0.mixer.in_proj.weight"; offset into the model block */
    int weight_decay;   /* 1: decayed (matrices), 0: not (biases, norms, the official no-decay params) */
    float lr_override;  /* > 0: this tensor's own learning rate (Hyena's filter, S4D's SSM parameters) */
    int lr_is_cap;      /* 1: the rate is min(base, lr_override) (S4D's lr=min(0.001, lr)) */
} LmTensor;

typedef struct LmModel {
    LmConfig cfg;
    Op mixer, channel, norm;
    size_t n_params;
    int n_tensors;
    LmTensor *tensors; /* owned */
    /* Offsets (floats) into the parameter block. */
    size_t off_wte, off_wpe, off_norm_f, off_head;
    size_t off_layer[LM_MAX_LAYERS]; /* norm1, mixer, norm2, channel follow each other */
    size_t n_norm, n_mixer, n_channel;
} LmModel;

/* Parses the config string and builds the model description (no parameter memory). -1 with a message. */
int lm_create(LmModel *m, const char *config, char *err, size_t errlen);
/* lm_create with the keys of overrides ("k=v,..." or NULL) set to its values: config's items of those keys are
 * dropped first (lm_create refuses a key given twice). */
int lm_create_overriding(LmModel *m, const char *config, const char *overrides, char *err, size_t errlen);
void lm_destroy(LmModel *m);
int lm_config_string(const LmModel *m, char *out, size_t outlen);

/* init=safari (the default), safari's initialisation: every Linear weight and the embeddings N(0, 0.02), biases
 * zero, norms (1, 0), the residual output projections (mixer out_proj, ffn fc2 / the channel's output weights)
 * N(0, 0.02 / sqrt(2 layers)); operator-specific parameters (Hyena's filter, S4D's SSM) keep the operator's own
 * init. init=torch: every operator its own (PyTorch default) init, wte N(0, 1), wpe N(0, 0.02), an untied head
 * U(-1/sqrt(D), 1/sqrt(D)). */
void lm_init(const LmModel *m, float *params, uint64_t seed);

/* Sets a tensor's optimisation group from its name and rank, following the official modules' _optim settings:
 * Hyena's pos_emb.z (lr 1e-5) and implicit filter MLP (lr 1e-3; also longconv2d's implicit_filter), S4D's log_dt/log_A_real/A_imag (lr
 * min(1e-3, base)), all without weight decay; otherwise nanoGPT's rule: tensors of 2 or more dimensions decay,
 * vectors do not. Shared with the classifiers (baselines/classifier.c). */
void lm_tensor_group(LmTensor *t);

/* The channel operator of layer `layer` at training draw `draw` (the step): its seed (MoE gate noise, FFF
 * region_leak swaps) replaced by one derived from (configured seed, draw, layer), so forward and backward of
 * one step draw the same and every step and layer draw independently. Other operators are returned as is.
 * layer < LM_MAX_LAYERS. */
Op lm_channel_for_draw(const Op *channel, uint64_t draw, int layer);

/* Floats of activations saved by forward for backward (and reused by eval) at batch B, length T <= context;
 * and of the workspace for forward and backward. */
size_t lm_act_floats(const LmModel *m, int B, int T);
size_t lm_workspace_floats(const LmModel *m, int B, int T);

/* Forward over ids (B, T); returns the mean cross-entropy against targets (B, T; < 0 ignored). With
 * backward != 0 it also runs backward and accumulates (+=) into grads. act and ws as sized above.
 * `draw` selects the channel's random draws in training mode (MoE gate noise, FFF region_leak): each layer
 * uses a seed derived from (the channel's configured seed, draw, layer), so a trainer passing its step
 * number gets fresh noise every step and in every layer, and the same draw reproduces a step exactly. */
double lm_forward_backward(const LmModel *m, const float *params, const int *ids, const int *targets, int B, int T,
                           float *act, float *ws_buf, float *grads, int backward, uint64_t draw);
/* The logits (B, T, V) of the last forward that used act (before backward overwrote them with dlogits). */
const float *lm_logits(const LmModel *m, const float *act, int B, int T);
/* The training-width-matched hidden size: the smallest channel.d_hidden for which the model built from
 * config (with "channel.d_hidden=<h>" appended) has at least target_params parameters; -1 if none <= max. */
int lm_match_hidden(const char *config, size_t target_params, int max_hidden, size_t *params, char *err,
                    size_t errlen);

/* Analytic FLOPs of one forward (and one backward) at B x T (the loss included). */
OpFlops lm_flops(const LmModel *m, int B, int T);

/* ---- generation: one position at a time (docs/DESIGN.md section 11) ----
 * lm_step: position t of B sequences, ids (B) -> logits (B, V), equal to row t of lm_logits after a forward over
 * the same prefix, to rounding. Every layer steps its operators (op_step): the mixer carries its state (a KV cache,
 * the cached convolution, the S4D recurrence), the norms and the channel are position-wise (the channel at
 * draw 0; FFF and MoE channels generate as configured, so in training mode their noise is not the forward's:
 * generate in mode=infer). The caller zeroes state (lm_state_floats) before t = 0; ws_buf holds
 * lm_step_workspace_floats floats. t < T <= context. */
int lm_can_generate(const LmModel *m, char *err, size_t errlen); /* 0, or -1 with why not */
size_t lm_state_floats(const LmModel *m, int B, int T);
size_t lm_step_workspace_floats(const LmModel *m, int B, int T);
void lm_step(const LmModel *m, const float *params, const int *ids, int t, int B, int T, float *state,
             float *ws_buf, float *logits);
/* Analytic FLOPs of that step. */
double lm_step_flops(const LmModel *m, int B, int t);

#endif

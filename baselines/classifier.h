/* classifier: image classifiers composed of registry operators (DESIGN.md section 4: classifiers reuse the
 * LM's blocks over pixel or patch sequences). Input: images (B, P, C), P = image^2 pixels row-major, channels
 * fastest (datasets/cifar.h's layout); output: logits (B, classes) and the mean softmax cross-entropy.
 *
 * arch=flat, the FFF paper's image classifiers: the image is one token of F = P C features,
 *     logits = head(channel(x))        channel in {ffn, fff, moe, none} at width F; head = Linear(F, classes)
 *   The official FFF maps its input straight to the classes (output_width = 10); ops/fff.h and ops/moe.h keep
 *   d_out = d_in, so the channel is followed by the head. The channel's output layer composed with the head is a
 *   linear map of the same rank as the official output layer (same function class) with (F - classes) x width
 *   more parameters; cls_flops counts what this model computes.
 *
 * arch=blocks (ViT, sequential CIFAR, isometric networks):
 *   tokens  = patchify(x, p)                         (B, L, p^2 C), L = (image/p)^2; p = 1: the pixel sequence
 *   x_0     = tokens embed.weight^T + embed.bias (+ pos_emb[l] when pos_emb)                   (B, L, D)
 *   x_l+1/2 = x_l + mixer(norm1(x_l))                 mixer   in {attention, hyena, s4d, conv2d, longconv2d}
 *   x_l+1   = x_l+1/2 + channel(norm2(x_l+1/2))       channel in {ffn, fff, moe}; none: no second half
 *   feature = pool(norm_f(x_N))                       mean over the L tokens, or the last token   (B, D)
 *   logits  = feature head.weight^T + head.bias                                                    (B, classes)
 * A patch token's features are ordered (py, px, c) (einops "b (h p1) (w p2) c -> b (h w) (p1 p2 c)"), so a
 * linear patch embedding is a convolution with kernel and stride p.
 *
 * With dropout = p > 0, a training pass (backward != 0) multiplies each residual branch's output, mixer(.) and
 * channel(.), by an independent keep mask / (1 - p) before it is added (torch.nn.Dropout after the block's
 * mixer and MLP, as the isometric S4ND/Hyena networks and timm's ViT place it); evaluation passes do not.
 * The masks are a hash of (draw, layer, branch, element), so backward regenerates them instead of storing them
 * and the same draw repeats a step exactly.
 *
 * Objective = mean CE + hardening * sum over FFF channels of their mean decision entropy (fff.h) + balance *
 * sum over MoE channels of (importance CV^2 + load CV^2) (moe.h); backward is its exact gradient.
 *
 * Config string (recorded in every result): "arch=blocks,classes=10,image=32,channels=3,patch=4,d_model=64,
 * layers=4,mixer=attention,channel=ffn,pos_emb=1,pool=mean,dropout=0.1,mixer.n_heads=4,mixer.causal=0,
 * channel.d_hidden=128".
 * Keys prefixed "mixer." and "channel." go to the operators: the model adds the width (d_model, or d_in = d_out
 * for conv2d), l_max = L for a hyena mixer and height = width = image / patch for conv2d and longconv2d, unless
 * given. Parameter names: embed.weight (D, p^2 C), embed.bias, pos_emb (1, L, D), layers.<i>.norm1.*,
 * layers.<i>.mixer.*, layers.<i>.norm2.*, layers.<i>.channel.*, norm_f.*, head.weight, head.bias; flat: channel.*,
 * head.*. Init: the operators' own (PyTorch defaults), embed and head torch.nn.Linear's default, pos_emb
 * N(0, 0.02) (timm's ViT). */
#ifndef SUBQ_CLASSIFIER_H
#define SUBQ_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "lm.h" /* LmTensor: a parameter tensor with its optimisation group */
#include "registry.h"

#define CLS_MAX_LAYERS 32 /* <= LM_MAX_LAYERS: layers draw their channel seeds by lm_channel_for_draw */
#define CLS_CONFIG_LEN 1024

typedef enum ClsArch { CLS_ARCH_FLAT, CLS_ARCH_BLOCKS } ClsArch;
typedef enum ClsChannel { CLS_CHANNEL_FFN, CLS_CHANNEL_FFF, CLS_CHANNEL_MOE, CLS_CHANNEL_NONE } ClsChannel;
typedef enum ClsPool { CLS_POOL_MEAN, CLS_POOL_LAST } ClsPool;

typedef struct ClsConfig {
    int arch, classes, image, channels, patch, d_model, n_layers;
    int mixer;   /* index into "attention|hyena|s4d|conv2d|longconv2d" */
    int channel; /* ClsChannel */
    int pos_emb, pool;
    float hardening, balance;
    float dropout; /* residual-branch dropout in training (blocks) */
    char mixer_extra[CLS_CONFIG_LEN], channel_extra[CLS_CONFIG_LEN]; /* "k=v,..." for the operators */
} ClsConfig;

typedef struct ClsModel {
    ClsConfig cfg;
    Op mixer, channel, norm; /* flat: only channel (unless none) */
    int has_channel;
    int seq_len, d_token; /* L tokens of d_token features (flat: 1 token of P C) */
    int width;            /* features entering the head: d_model (blocks) or P C (flat) */
    size_t n_params;
    int n_tensors;
    LmTensor *tensors; /* owned */
    size_t off_embed, off_pos, off_norm_f, off_head, off_channel;
    size_t off_layer[CLS_MAX_LAYERS]; /* norm1, mixer, norm2, channel follow each other */
    size_t n_norm, n_mixer, n_channel;
} ClsModel;

/* The parts of the objective of the last forward. */
typedef struct ClsLoss {
    double ce;          /* mean cross-entropy */
    double regularizer; /* hardening and balance terms */
} ClsLoss;

/* Parses the config and builds the model description (no parameter memory). -1 with a one-line message. */
int cls_create(ClsModel *m, const char *config, char *err, size_t errlen);
void cls_destroy(ClsModel *m);
int cls_config_string(const ClsModel *m, char *out, size_t outlen);
void cls_init(const ClsModel *m, float *params, uint64_t seed);

/* Floats of activations saved by forward (B images) and of the workspace of forward and backward. */
size_t cls_act_floats(const ClsModel *m, int B);
size_t cls_workspace_floats(const ClsModel *m, int B);

/* Forward over images (B, P, C) with labels (B, in [0, classes)); returns the objective and, when parts is not
 * NULL, its parts. With backward != 0 also accumulates (+=) its gradient into grads. `draw` selects the
 * channels' random draws in training mode (MoE gate noise, FFF region_leak) as lm_forward_backward does: each
 * layer uses a seed derived from (the channel's configured seed, draw, layer), so a trainer passing its step
 * gets fresh noise every step and the same draw repeats a step exactly. */
double cls_forward_backward(const ClsModel *m, const float *params, const float *images, const int *labels, int B,
                            float *act, float *ws, float *grads, int backward, uint64_t draw, ClsLoss *parts);
/* Logits (B, classes) of the last forward with backward == 0 (backward overwrites them with dlogits). */
const float *cls_logits(const ClsModel *m, const float *act, int B);
/* The final token representations norm_f(x_N) (B, L, D) of the last forward: blocks only (NULL for flat). */
const float *cls_token_features(const ClsModel *m, const float *act, int B);
/* The residual stream (B, L, D) entering layer l of the last forward, l = layers: after the last layer (blocks
 * only; NULL for flat or l out of range). */
const float *cls_residual_stream(const ClsModel *m, const float *act, int B, int l);
/* Images whose arg-max logit is the label, from the last forward with backward == 0. */
int cls_count_correct(const ClsModel *m, const float *act, const int *labels, int B);
/* Analytic FLOPs of one forward and one backward over B images (loss included; the regularizers are not). */
OpFlops cls_flops(const ClsModel *m, int B);

/* Channel neurons per token in one layer at inference: `used` evaluated (ffn: H; fff: depth node neurons +
 * leaf_width; moe: E gate logits + k H) out of `total` (ffn H; fff 2^d - 1 + 2^d W; moe E + E H). 0 and 0 for
 * channel=none. */
void cls_channel_neurons(const ClsModel *m, double *used, double *total);

/* tokens (B, L, p^2 C) from images (B, image^2, C), p = patch (the layout above). */
void cls_patchify(const float *images, float *tokens, int B, int image, int channels, int patch);

#endif

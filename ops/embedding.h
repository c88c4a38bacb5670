/* embedding: token ids -> rows of a table, torch.nn.Embedding(vocab, d_model) semantics; the parameter is
 * `weight` (vocab, d_model), initialised N(0, 1) like PyTorch's default. */
#ifndef SUBQ_EMBEDDING_H
#define SUBQ_EMBEDDING_H

#include <stddef.h>

#include "core.h"

typedef struct EmbeddingConfig {
    int vocab;
    int d_model;
} EmbeddingConfig;

int embedding_param_specs(const EmbeddingConfig *cfg, ParamSpec *out); /* 1 */
size_t embedding_num_params(const EmbeddingConfig *cfg);
/* 0 if every id is in [0, vocab); else -1 and the index of the first bad id in *bad. Callers check ids
 * (data loaders do) before forward, which trusts them. */
int embedding_check_ids(const EmbeddingConfig *cfg, const int *ids, size_t n, size_t *bad);
/* y (n, d_model) = weight[ids]. */
void embedding_forward(const EmbeddingConfig *cfg, const float *params, const int *ids, float *y, size_t n);
/* dweight[ids[i]] += dy[i] (accumulates; repeated ids add up). */
void embedding_backward(const EmbeddingConfig *cfg, const int *ids, const float *dy, float *dparams, size_t n);

#endif

#include "embedding.h"

#include <string.h>

int embedding_param_specs(const EmbeddingConfig *cfg, ParamSpec *out)
{
    core_spec(&out[0], "weight", 0, 2, (int[]){cfg->vocab, cfg->d_model});
    return 1;
}

size_t embedding_num_params(const EmbeddingConfig *cfg) { return (size_t)cfg->vocab * cfg->d_model; }

int embedding_check_ids(const EmbeddingConfig *cfg, const int *ids, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= cfg->vocab) {
            if (bad)
                *bad = i;
            return -1;
        }
    return 0;
}

void embedding_forward(const EmbeddingConfig *cfg, const float *params, const int *ids, float *y, size_t n)
{
    const size_t D = (size_t)cfg->d_model;
#pragma omp parallel for schedule(static) if (n * D > 65536)
    for (size_t i = 0; i < n; i++)
        memcpy(y + i * D, params + (size_t)ids[i] * D, D * sizeof(float));
}

/* Repeated ids make this a scatter-add; threads split the channels, so no two write the same entry. */
void embedding_backward(const EmbeddingConfig *cfg, const int *ids, const float *dy, float *dparams, size_t n)
{
    const int D = cfg->d_model;
#pragma omp parallel for schedule(static) if (n * (size_t)D > 65536)
    for (int c = 0; c < D; c++)
        for (size_t i = 0; i < n; i++)
            dparams[(size_t)ids[i] * D + c] += dy[i * D + c];
}

#include "recall.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "dataio.h"
#include "rng.h"

/* Bounds the per-example key map, kept on the stack so generation never allocates. */
#define RECALL_MAX_VOCAB 4096
#define STREAM_RECALL 0x72656361ULL

int recall_check_config(const RecallConfig *cfg, char *err, size_t errlen)
{
    if (cfg->vocab < RECALL_MIN_VOCAB || cfg->vocab > RECALL_MAX_VOCAB) {
        snprintf(err, errlen, "associative recall: vocab %d is outside %d..%d (two special tokens, at least one key "
                 "and one value)", cfg->vocab, RECALL_MIN_VOCAB, RECALL_MAX_VOCAB);
        return -1;
    }
    if (cfg->seq_len < 2 || cfg->n_queries < 1 || cfg->seq_len > INT_MAX / 2 ||
        cfg->n_queries > (INT_MAX - cfg->seq_len) / 2 - 1) {
        snprintf(err, errlen, "associative recall: seq_len %d (>= 2 for one key-value pair) or queries %d (>= 1) out "
                 "of range", cfg->seq_len, cfg->n_queries);
        return -1;
    }
    if (cfg->targets != RECALL_TARGETS_ALL && cfg->targets != RECALL_TARGETS_ANSWERS) {
        snprintf(err, errlen, "associative recall: targets mode %d is neither all (0) nor answers (1)", cfg->targets);
        return -1;
    }
    return 0;
}

int recall_example_len(const RecallConfig *cfg) { return 2 * (cfg->seq_len / 2) + 2 * cfg->n_queries; }

/* Places token number pos of the example: it is input pos and the target of input pos - 1. */
static void emit(int pos, int token, int T, int *ids, int *targets)
{
    if (pos < T)
        ids[pos] = token;
    if (pos > 0)
        targets[pos - 1] = token;
}

/* The safari query rule: uniform over all keys, redrawn among the keys present when absent. */
static int draw_query(Rng *rng, int n_keys, const unsigned char *present, const int *present_list, int n_present)
{
    int q = 1 + (int)rng_below(rng, (uint32_t)n_keys);
    return present[q] ? q : present_list[rng_below(rng, (uint32_t)n_present)];
}

void recall_example(const RecallConfig *cfg, uint64_t seed, int split, uint64_t index, int *ids, int *targets)
{
    int value_of[RECALL_MAX_VOCAB], present_list[RECALL_MAX_VOCAB], n_present = 0;
    unsigned char present[RECALL_MAX_VOCAB] = {0};
    const int n_keys = recall_num_keys(cfg), first_value = recall_first_value(cfg);
    const int n_values = recall_last_value(cfg) - first_value + 1, pairs = cfg->seq_len / 2;
    const int T = recall_example_len(cfg);
    Rng rng;
    rng_init(&rng, dataio_mix_seed(seed ^ STREAM_RECALL, (uint64_t)split, index));
    for (int k = 1; k <= n_keys; k++)
        value_of[k] = first_value + (int)rng_below(&rng, (uint32_t)n_values);
    int pos = 0;
    for (int i = 0; i < pairs; i++) {
        int k = 1 + (int)rng_below(&rng, (uint32_t)n_keys);
        if (!present[k])
            present[k] = 1, present_list[n_present++] = k;
        emit(pos++, k, T, ids, targets);
        emit(pos++, value_of[k], T, ids, targets);
    }
    emit(pos++, recall_copy_token(cfg), T, ids, targets);
    for (int j = 0; j < cfg->n_queries; j++) {
        int q = draw_query(&rng, n_keys, present, present_list, n_present);
        emit(pos++, q, T, ids, targets);
        emit(pos++, value_of[q], T, ids, targets);
    }
    if (cfg->targets == RECALL_TARGETS_ANSWERS)
        for (int t = 0; t < T; t++) /* answers sit at example positions 2P + 2 + 2j: targets of 2P + 1 + 2j */
            if (t < 2 * pairs + 1 || (t - 2 * pairs - 1) % 2 != 0)
                targets[t] = RECALL_IGNORE;
}

int recall_batch(const RecallConfig *cfg, uint64_t seed, int split, uint64_t index, int *ids, int *targets, int B,
                 int T, char *err, size_t errlen)
{
    if (recall_check_config(cfg, err, errlen) != 0)
        return -1;
    if (B <= 0 || T != recall_example_len(cfg)) {
        snprintf(err, errlen, "associative recall: batch %d x %d requested; examples have T = %d tokens (seq_len %d, "
                 "%d queries)", B, T, recall_example_len(cfg), cfg->seq_len, cfg->n_queries);
        return -1;
    }
    for (int b = 0; b < B; b++)
        recall_example(cfg, seed, split, index * (uint64_t)B + (uint64_t)b, ids + (size_t)b * T,
                       targets + (size_t)b * T);
    return 0;
}

int recall_dataset_batch(void *ctx, int split, uint64_t index, int *ids, int *targets, int B, int T, char *err,
                         size_t errlen)
{
    const RecallDataset *ds = ctx;
    return recall_batch(&ds->cfg, ds->seed, split, index, ids, targets, B, T, err, errlen);
}

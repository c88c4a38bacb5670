/* recall: the associative recall task of the Hyena paper (Poli et al. 2023, section 4.1), built like safari's
 * generate_assoc_recall (src/dataloaders/synthetics.py) with its defaults (num_keys=1, allow_dot=False).
 *
 * Token ids (vocab V, as safari's Vocab sorts its strings): 0 is the no-op "." (never emitted with
 * allow_dot=False), V-1 the copy prefix "=>"; the V-2 ordinary tokens 1..V-2 split into keys 1..K and values
 * K+1..V-2 with K = (V-2)/2 (the first half of the vocabulary are keys, the second half values).
 *
 * One example (pairs P = seq_len / 2, queries Q):
 *   k_1 v_1 k_2 v_2 ... k_P v_P  =>  q_1 a_1 ... q_Q a_Q
 * A fresh key -> value map per example (each key gets a value drawn uniformly, values may repeat); each k_i is
 * drawn uniformly from all keys (repeats allowed) and v_i = map(k_i); a query is drawn uniformly from all keys
 * and, when it did not occur in the pairs, redrawn uniformly from the keys that did (safari's allow_dot=False
 * rule); its answer a_j = map(q_j). The model reads the example without its last token: ids = example[0, n-1),
 * targets = example[1, n), n = 2P + 1 + 2Q, so T = 2P + 2Q (safari's l_max = seq_len + 2 for Q = 1).
 * Targets: every next token (safari's training loss) or only the answers (safari's test metric), others -1
 * (ignored by softmax_ce).
 *
 * Differences from safari, by design: Q > 1 is this suite's multi-query variant (safari has one query; its
 * num_keys > 1 means multi-token keys, not supported here); examples are a pure function of
 * (seed, split, index) instead of one numpy stream, and are not de-duplicated (safari drops duplicate
 * examples, which at the paper's lengths are vanishingly rare). */
#ifndef SUBQ_RECALL_H
#define SUBQ_RECALL_H

#include <stddef.h>
#include <stdint.h>

#define RECALL_MIN_VOCAB 4
#define RECALL_IGNORE (-1)

typedef enum RecallTargets {
    RECALL_TARGETS_ALL = 0,    /* next-token targets everywhere (safari's training set) */
    RECALL_TARGETS_ANSWERS = 1 /* only the answer positions, the rest RECALL_IGNORE (safari's test set) */
} RecallTargets;

typedef struct RecallConfig {
    int vocab;     /* V, special tokens included (the Hyena paper: 10..40; 30 for the long-sequence runs) */
    int seq_len;   /* safari's input_seq_len: tokens of key-value pairs before the query (pairs = seq_len / 2) */
    int n_queries; /* Q: 1 for the paper's task */
    int targets;   /* RecallTargets */
} RecallConfig;

/* Token ids of the layout above. */
static inline int recall_copy_token(const RecallConfig *cfg) { return cfg->vocab - 1; }
static inline int recall_num_keys(const RecallConfig *cfg) { return (cfg->vocab - 2) / 2; }
static inline int recall_first_value(const RecallConfig *cfg) { return 1 + recall_num_keys(cfg); }
static inline int recall_last_value(const RecallConfig *cfg) { return cfg->vocab - 2; }

/* -1 with a message unless V >= 4, seq_len >= 2, 1 <= Q and the lengths fit an int. */
int recall_check_config(const RecallConfig *cfg, char *err, size_t errlen);
/* T: tokens the model reads per example (2P + 2Q). */
int recall_example_len(const RecallConfig *cfg);

/* One example into ids, targets (T each), drawn from (seed, split, index); cfg must pass recall_check_config. */
void recall_example(const RecallConfig *cfg, uint64_t seed, int split, uint64_t index, int *ids, int *targets);
/* Examples index*B .. index*B + B - 1 into ids, targets (B, T). -1 if the config is bad or T differs. */
int recall_batch(const RecallConfig *cfg, uint64_t seed, int split, uint64_t index, int *ids, int *targets, int B,
                 int T, char *err, size_t errlen);

/* For the training loop's data callback (bench/train/train.h TrainData.batch). */
typedef struct RecallDataset {
    RecallConfig cfg;
    uint64_t seed;
} RecallDataset;
/* ctx is a RecallDataset; split 0 train, 1 test (disjoint random streams); T must be recall_example_len. */
int recall_dataset_batch(void *ctx, int split, uint64_t index, int *ids, int *targets, int B, int T, char *err,
                         size_t errlen);

#endif

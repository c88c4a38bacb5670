/* softmax_ce: softmax cross-entropy over a vocabulary, torch.nn.functional.cross_entropy with
 * reduction='mean': the loss is the mean over the counted rows of -log softmax(logits)[target].
 * A negative target marks a row to ignore (torch's ignore_index); it gets a zero gradient. */
#ifndef SUBQ_SOFTMAX_CE_H
#define SUBQ_SOFTMAX_CE_H

#include <stddef.h>

#include "core.h"

/* logits (rows, vocab); targets (rows) in [0, vocab) or < 0 to ignore. Returns the mean loss (computed
 * in double; 0 when every row is ignored). When dlogits (rows, vocab) is non-NULL, writes the gradient of
 * the mean loss: (softmax - onehot) / counted rows. dlogits may alias logits. Targets >= vocab are the
 * caller's bug: check with softmax_ce_check_targets. */
double softmax_ce_loss(const float *logits, const int *targets, int rows, int vocab, float *dlogits);
/* 0 if every target is < vocab; else -1 and the first bad row in *bad. */
int softmax_ce_check_targets(const int *targets, int rows, int vocab, int *bad);
/* Per row (ignored rows cost the same here): max 0, exp-sum 3V (sub, exp, add), log-sum-exp 2 (log, add
 * back the max), loss 2 (sub, accumulate);
 * gradient 3V (sub, exp, scale) + 1 for the one-hot subtraction. */
OpFlops softmax_ce_flops(int rows, int vocab);

#endif

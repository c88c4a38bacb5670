#include "softmax_ce.h"

#include <math.h>

/* glibc's libmvec has a vector exp; declaring it simd lets the row loops below vectorise. */
__attribute__((__simd__("notinbranch"))) double exp(double);

int softmax_ce_check_targets(const int *targets, int rows, int vocab, int *bad)
{
    for (int r = 0; r < rows; r++)
        if (targets[r] >= vocab) {
            if (bad)
                *bad = r;
            return -1;
        }
    return 0;
}

/* log-sum-exp of one row with the max subtracted, so large logits do not overflow. In double: the loss is the
 * objective that finite-difference checks difference, and float sums make it too noisy for them. */
static double row_logsumexp(const float *row, int vocab)
{
    float max = row[0];
#pragma omp simd reduction(max : max)
    for (int v = 1; v < vocab; v++)
        max = row[v] > max ? row[v] : max;
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int v = 0; v < vocab; v++)
        sum += exp((double)(row[v] - max));
    return log(sum) + max;
}

double softmax_ce_loss(const float *logits, const int *targets, int rows, int vocab, float *dlogits)
{
    int counted = 0;
    for (int r = 0; r < rows; r++)
        counted += targets[r] >= 0;
    double total = 0.0;
    const float scale = counted ? 1.0f / counted : 0.0f;
#pragma omp parallel for schedule(static) reduction(+ : total) if ((long)rows * vocab > 65536)
    for (int r = 0; r < rows; r++) {
        const float *row = logits + (long)r * vocab;
        float *drow = dlogits ? dlogits + (long)r * vocab : NULL;
        if (targets[r] < 0) {
            for (int v = 0; drow && v < vocab; v++)
                drow[v] = 0.0f;
            continue;
        }
        const double lse = row_logsumexp(row, vocab);
        total += lse - row[targets[r]];
        if (!drow)
            continue;
        /* In place is safe: each entry is read once, just before it is overwritten. */
#pragma omp simd
        for (int v = 0; v < vocab; v++)
            drow[v] = (float)exp((double)row[v] - lse) * scale;
        drow[targets[r]] -= scale;
    }
    return counted ? total / counted : 0.0;
}

OpFlops softmax_ce_flops(int rows, int vocab)
{
    double r = rows, V = vocab;
    return (OpFlops){r * (3.0 * V + 4.0), r * (3.0 * V + 1.0)};
}

#include "pair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double min_of(const double *x, int n)
{
    double m = x[0];
    for (int i = 1; i < n; i++)
        m = x[i] < m ? x[i] : m;
    return m;
}

/* Order statistics of a copy (timing_summarise sorts in place; the caller's order is the record). */
static void summarise_copy(const double *ms, int n, TimingStats *out)
{
    double stack[256];
    double *copy = n <= 256 ? stack : malloc((size_t)n * sizeof *copy);
    if (!copy) {
        memset(out, 0, sizeof *out);
        out->min_ms = min_of(ms, n);
        out->median_ms = out->min_ms; /* out of memory: the minimum is still exact */
        out->reps = n;
        return;
    }
    memcpy(copy, ms, (size_t)n * sizeof *copy);
    timing_summarise(copy, n, out);
    if (copy != stack)
        free(copy);
}

void pair_summarise(const double *a_ms, const double *b_ms, int rounds, int reps, PairStats *out)
{
    memset(out, 0, sizeof *out);
    out->rounds = rounds;
    out->reps = reps;
    summarise_copy(a_ms, rounds * reps, &out->a);
    summarise_copy(b_ms, rounds * reps, &out->b);
    out->ratio = out->b.min_ms / out->a.min_ms;
    for (int r = 0; r < rounds; r++) {
        double q = min_of(b_ms + (size_t)r * reps, reps) / min_of(a_ms + (size_t)r * reps, reps);
        out->ratio_low = r == 0 || q < out->ratio_low ? q : out->ratio_low;
        out->ratio_high = r == 0 || q > out->ratio_high ? q : out->ratio_high;
    }
    out->outcome = out->ratio_low > 1.0 ? PAIR_A_FASTER : out->ratio_high < 1.0 ? PAIR_B_FASTER : PAIR_LEVEL;
}

static int sample_side(const PairSide *s, int reps, double *ms, char *err, size_t errlen)
{
    if (s->sample(s->ctx, reps, ms, err, errlen) != 0)
        return -1;
    for (int i = 0; i < reps; i++)
        if (!(ms[i] > 0.0)) {
            snprintf(err, errlen, "%s: repetition %d took %g ms, not a time", s->name, i, ms[i]);
            return -1;
        }
    return 0;
}

int pair_measure(const PairSide *a, const PairSide *b, int rounds, int reps, double *a_ms, double *b_ms,
                 PairStats *out, char *err, size_t errlen)
{
    if (rounds < 1 || reps < 1) {
        snprintf(err, errlen, "pair: %d rounds of %d repetitions", rounds, reps);
        return -1;
    }
    double warm;
    if (sample_side(a, 1, &warm, err, errlen) != 0 || sample_side(b, 1, &warm, err, errlen) != 0)
        return -1;
    for (int r = 0; r < rounds; r++) {
        const PairSide *first = r % 2 ? b : a, *second = r % 2 ? a : b;
        double *first_ms = (r % 2 ? b_ms : a_ms) + (size_t)r * reps;
        double *second_ms = (r % 2 ? a_ms : b_ms) + (size_t)r * reps;
        if (sample_side(first, reps, first_ms, err, errlen) != 0 ||
            sample_side(second, reps, second_ms, err, errlen) != 0)
            return -1;
    }
    pair_summarise(a_ms, b_ms, rounds, reps, out);
    return 0;
}

int pair_measure_sized(const PairSide *a, const PairSide *b, int rounds, double target_s, double **a_ms,
                       double **b_ms, PairStats *out, char *err, size_t errlen)
{
    *a_ms = *b_ms = NULL;
    double one_a, one_b;
    if (sample_side(a, 1, &one_a, err, errlen) != 0 || sample_side(b, 1, &one_b, err, errlen) != 0)
        return -1;
    int reps = pair_reps_for(one_a, one_b, target_s);
    size_t n = (size_t)(rounds > 0 ? rounds : 1) * (size_t)reps;
    if (!(*a_ms = malloc(n * sizeof **a_ms)) || !(*b_ms = malloc(n * sizeof **b_ms))) {
        snprintf(err, errlen, "pair: out of memory for %zu repetitions", n);
        return -1;
    }
    return pair_measure(a, b, rounds, reps, *a_ms, *b_ms, out, err, errlen);
}

int pair_reps_for(double a_ms, double b_ms, double target_s)
{
    double slower = a_ms > b_ms ? a_ms : b_ms;
    if (!(slower > 0.0))
        return 1;
    double reps = 1e3 * target_s / slower;
    return reps < 1.0 ? 1 : reps > 1000.0 ? 1000 : (int)reps;
}

const char *pair_outcome_text(PairOutcome o, const char *a_name, const char *b_name, char *buf, size_t len)
{
    if (o == PAIR_LEVEL)
        snprintf(buf, len, "level");
    else
        snprintf(buf, len, "%s faster", o == PAIR_A_FASTER ? a_name : b_name);
    return buf;
}

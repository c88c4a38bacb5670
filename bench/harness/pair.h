/* pair: the side-by-side timing of two implementations of the same work (docs/DESIGN.md section 6), for the
 * PyTorch peers and any other A/B. On a shared 2-core VM whose speed drifts by up to 2x within minutes, two
 * measurements taken one after the other compare the machine's moods, not the code; so the sides alternate
 * in rounds, each round timing `reps` back-to-back repetitions of each side. The order inside a round
 * alternates too (A B, B A, A B, ...), so a drift that is steady over a few rounds cancels instead of
 * favouring whichever side runs second.
 *
 * The result is the ratio of the two sides' fastest repetitions (other work only ever adds time) with its
 * spread: the lowest and highest per-round ratio (best of B in the round over best of A in the round). A
 * spread that contains 1.0 is "level": neither side is shown faster. */
#ifndef SUBQ_PAIR_H
#define SUBQ_PAIR_H

#include <stddef.h>

#include "timing.h"

/* Times `reps` back-to-back repetitions into ms[0..reps-1]; 0, or -1 with a message. */
typedef int (*PairSampler)(void *ctx, int reps, double *ms, char *err, size_t errlen);

typedef struct PairSide {
    const char *name;
    PairSampler sample;
    void *ctx;
} PairSide;

typedef enum PairOutcome { PAIR_LEVEL = 0, PAIR_A_FASTER = 1, PAIR_B_FASTER = 2 } PairOutcome;

typedef struct PairStats {
    TimingStats a, b;     /* over every timed repetition of each side */
    double ratio;         /* b.min_ms / a.min_ms: above 1, A is faster */
    double ratio_low;     /* lowest per-round ratio */
    double ratio_high;    /* highest per-round ratio */
    int rounds, reps;
    PairOutcome outcome;
} PairStats;

#define PAIR_MIN_ROUNDS 5

/* Warms each side up with one untimed repetition, then runs `rounds` (>= 1) rounds of `reps` (>= 1)
 * repetitions per side. Every repetition is kept in a_ms and b_ms (caller-owned, rounds * reps each, in
 * the order they ran). Returns 0, or -1 with a message when a side fails. */
int pair_measure(const PairSide *a, const PairSide *b, int rounds, int reps, double *a_ms, double *b_ms,
                 PairStats *out, char *err, size_t errlen);

/* pair_measure with the rounds sized from one repetition of each side (pair_reps_for with target_s; that
 * repetition also warms them up). *a_ms and *b_ms receive every repetition, rounds * out->reps each, in
 * malloc'd arrays the caller frees (also on failure; NULL when never allocated). */
int pair_measure_sized(const PairSide *a, const PairSide *b, int rounds, double target_s, double **a_ms,
                       double **b_ms, PairStats *out, char *err, size_t errlen);

/* The statistics of already-measured rounds (a_ms and b_ms as pair_measure leaves them). */
void pair_summarise(const double *a_ms, const double *b_ms, int rounds, int reps, PairStats *out);

/* Repetitions per round so that the slower side's round lasts about target_s (at least 1, at most 1000),
 * from one repetition of each side. */
int pair_reps_for(double a_ms, double b_ms, double target_s);

/* "A faster", "level" or "B faster" with the side names filled in, e.g. "subq faster". */
const char *pair_outcome_text(PairOutcome o, const char *a_name, const char *b_name, char *buf, size_t len);

#endif

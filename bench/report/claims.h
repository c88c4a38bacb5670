/* claims: the typed published claims of baselines/published.tsv, the measurement of each from the results
 * files, and the verdict (docs/DESIGN.md section 8).
 *
 * A claim row says what the paper reports (value, kind, tolerance), under which conditions subq's number is
 * comparable (key=value tests on the recorded attributes), and which results attribute measures it
 * (experiment:path:attribute). The verdict is a pure function of the claim and the measurement, so every
 * rule is testable without running an experiment. */
#ifndef SUBQ_CLAIMS_H
#define SUBQ_CLAIMS_H

#include <stddef.h>

typedef enum ClaimKind {
    CLAIM_AT_LEAST,  /* measured >= value - tolerance */
    CLAIM_AT_MOST,   /* measured <= value + tolerance */
    CLAIM_WITHIN,    /* |measured - value| <= tolerance (two-sided) */
    CLAIM_RANGE,     /* value <= measured <= high */
    CLAIM_PARITY,    /* |measured| <= tolerance, the seeds' 95% interval inside the band */
    CLAIM_DIRECTION, /* measured on the same side of no_effect as value (sign only) */
    CLAIM_KIND_COUNT
} ClaimKind;

typedef enum Verdict {
    VERDICT_REPRODUCED,
    VERDICT_DIRECTION_ONLY,
    VERDICT_NOT_REPRODUCED,
    VERDICT_NOT_COMPARABLE,
    VERDICT_NOT_RUN_AT_SCALE,
    VERDICT_TARGET_NOT_REACHED,
    VERDICT_NOT_MEASURED,
    VERDICT_COUNT
} Verdict;

#define CLAIM_MAX_CONDITIONS 8

typedef struct ClaimCondition {
    char key[48];
    char op; /* '=' (value may list alternatives a|b), '>' for >=, '<' for <= */
    char value[96];
} ClaimCondition;

typedef struct Claim {
    char id[64], paper[32], source[64], setting[400], metric[48];
    ClaimKind kind;
    double value, high;     /* high: the upper end of a range */
    double tolerance;       /* 0: none */
    int tolerance_relative; /* the tolerance is a fraction of |value| */
    double no_effect;       /* the value meaning "no difference" (1 for ratios, 0 for gaps) */
    int has_no_effect;
    ClaimCondition cond[CLAIM_MAX_CONDITIONS];
    int n_cond;
    char experiment[48], path[128], attr[96]; /* experiment empty: subq does not measure this claim */
    char measures[400];                       /* what subq's number is, in words */
    char quote[1024];                         /* the paper's words or table cells */
} Claim;

#define MEASURE_MAX_SEEDS 16

typedef struct Measurement {
    int file_found; /* the experiment's results file exists */
    int found;      /* the attribute exists and is a number */
    double value;   /* the attribute: the mean over seeds when seeds were run */
    double sd;      /* over seeds (0 with one) */
    int n_seeds;    /* values in <attr>_by_seed, else 1 */
    double median;  /* timing claims: the same ratio from median times, when recorded (<attr>_median) */
    int has_median;
    char why[256]; /* <attr>_why: why the value is undefined ("target not reached: ...", "never crossed ...") */
    char profile[32], cpu[128], date[40];
    double threads;
    char cond_value[CLAIM_MAX_CONDITIONS][96]; /* the recorded value of each condition key, "" if absent */
} Measurement;

const char *claim_kind_name(ClaimKind kind);
const char *verdict_name(Verdict v);
/* The one-line definition of a verdict, for the report's header. */
const char *verdict_definition(Verdict v);

/* Parses one data line of published.tsv (13 tab-separated columns); -1 with a message naming the column. */
int claim_parse(const char *line, Claim *out, char *err, size_t errlen);
/* Reads every claim of a published.tsv (comment lines start with '#', the header with claim_id). The array is
 * malloc'ed; -1 with "<file>:<line>: message" on the first bad row or a repeated claim id or measurement. */
int claims_load(const char *path, Claim **out, int *count, char *err, size_t errlen);
/* The published value of one claim (e.g. an experiment's target loss); -1 with a message if absent. */
int claims_published_value(const char *path, const char *claim_id, double *value, char *err, size_t errlen);

/* Reads the claim's measurement from results_dir/<experiment>.h5. Never fails: what is absent is marked. */
void claim_measure(const Claim *c, const char *results_dir, Measurement *m);
/* The verdict; reason receives the one-line why (the differing condition, the interval, the tolerance). */
Verdict claim_judge(const Claim *c, const Measurement *m, char *reason, size_t len);

/* Two-sided 95% Student-t quantile for n values (n >= 2). */
double claims_t95(int n);
/* The published value as text: "0.82 (within 5%)", "4096-8192", ">= 100". */
void claim_published_text(const Claim *c, char *out, size_t len);
/* subq's value as text: "45.3 ± 1.2 (3 seeds)", "25.2 (min; median 24.0)", "-" when not measured. */
void claim_measured_text(const Claim *c, const Measurement *m, char *out, size_t len);

#endif

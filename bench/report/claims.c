#include "claims.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5io.h"

enum { COL_ID, COL_PAPER, COL_SOURCE, COL_SETTING, COL_METRIC, COL_KIND, COL_VALUE, COL_TOLERANCE, COL_NO_EFFECT,
       COL_CONDITIONS, COL_MEASURED_BY, COL_MEASURES, COL_QUOTE, N_COLS };

static const char *const column_names[N_COLS] = {
    "claim_id", "paper", "source", "setting", "metric", "kind", "value", "tolerance", "no_effect",
    "conditions", "measured_by", "subq_measures", "quote",
};

static const char *const kind_names[CLAIM_KIND_COUNT] = {"at_least", "at_most", "within",
                                                         "range",    "parity",  "direction"};

static const char *const verdict_names[VERDICT_COUNT] = {
    "reproduced",    "direction only",    "not reproduced", "not comparable",
    "not run at this scale", "target not reached", "not measured",
};

static const char *const verdict_definitions[VERDICT_COUNT] = {
    "the value is within the claim's stated tolerance and every condition of the claim holds for the measurement",
    "the sign or ordering holds (measured and published on the same side of no effect), the magnitude is outside "
    "the tolerance",
    "the conditions hold and the value is outside the tolerance with the sign not holding either (or, for a sign "
    "or parity claim, the seeds' 95% interval does not support it)",
    "a condition of the claim (size, configuration, seeds) differs from what was measured; the differing condition "
    "is named",
    "subq does not run this setting in the profile measured (the paper's scale needs a bigger machine)",
    "a model never reached the loss or accuracy that the ratio needs, so the ratio is undefined",
    "the results file or the attribute that measures the claim is absent (run the experiment named)",
};

const char *claim_kind_name(ClaimKind kind) { return kind < CLAIM_KIND_COUNT ? kind_names[kind] : "?"; }
const char *verdict_name(Verdict v) { return v < VERDICT_COUNT ? verdict_names[v] : "?"; }
const char *verdict_definition(Verdict v) { return v < VERDICT_COUNT ? verdict_definitions[v] : "?"; }

/* ---- parsing ---- */

static void copy_field(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", strcmp(src, "-") ? src : "");
}

/* A whole finite number; 0 on success. */
static int parse_number(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_kind(const char *text, ClaimKind *out)
{
    for (int k = 0; k < CLAIM_KIND_COUNT; k++)
        if (strcmp(text, kind_names[k]) == 0) {
            *out = (ClaimKind)k;
            return 0;
        }
    return -1;
}

/* "lo-hi" for a range (lo may not be negative), else one number. */
static int parse_value(Claim *c, const char *text)
{
    if (c->kind != CLAIM_RANGE)
        return parse_number(text, &c->value);
    char lo[48];
    const char *dash = strchr(text, '-');
    if (!dash || dash == text || (size_t)(dash - text) >= sizeof lo)
        return -1;
    memcpy(lo, text, (size_t)(dash - text));
    lo[dash - text] = '\0';
    return parse_number(lo, &c->value) || parse_number(dash + 1, &c->high) || c->high < c->value ? -1 : 0;
}

/* "-", "0.5" (absolute) or "5%" (relative to the published value). */
static int parse_tolerance(Claim *c, const char *text)
{
    c->tolerance = 0, c->tolerance_relative = 0;
    if (strcmp(text, "-") == 0)
        return 0;
    char num[48];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof num)
        return -1;
    memcpy(num, text, n + 1);
    if (num[n - 1] == '%') {
        num[n - 1] = '\0';
        c->tolerance_relative = 1;
    }
    if (parse_number(num, &c->tolerance) != 0 || c->tolerance < 0)
        return -1;
    if (c->tolerance_relative)
        c->tolerance /= 100.0;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* "key=a|b, key>=N, key<=N" or "-". */
static int parse_conditions(Claim *c, const char *text)
{
    c->n_cond = 0;
    if (strcmp(text, "-") == 0)
        return 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        if (c->n_cond == CLAIM_MAX_CONDITIONS)
            return -1;
        ClaimCondition *cd = &c->cond[c->n_cond++];
        size_t k = strcspn(tok, "<>=");
        if (k == 0 || k >= sizeof cd->key || tok[k] == '\0')
            return -1;
        memcpy(cd->key, tok, k);
        cd->key[k] = '\0';
        const char *rest = tok + k;
        if (rest[0] == '=')
            cd->op = '=', rest += 1;
        else if ((rest[0] == '>' || rest[0] == '<') && rest[1] == '=')
            cd->op = rest[0], rest += 2;
        else
            return -1;
        if (*rest == '\0' || strlen(rest) >= sizeof cd->value)
            return -1;
        snprintf(cd->value, sizeof cd->value, "%s", rest);
        double ignored;
        if (cd->op != '=' && parse_number(cd->value, &ignored) != 0)
            return -1;
    }
    return 0;
}

/* "experiment:path:attribute" or "-". */
static int parse_measured_by(Claim *c, const char *text)
{
    c->experiment[0] = c->path[0] = c->attr[0] = '\0';
    if (strcmp(text, "-") == 0)
        return 0;
    const char *a = strchr(text, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!a || !b || a == text || b == a + 1 || b[1] == '\0' || strchr(b + 1, ':'))
        return -1;
    snprintf(c->experiment, sizeof c->experiment, "%.*s", (int)(a - text), text);
    snprintf(c->path, sizeof c->path, "%.*s", (int)(b - a - 1), a + 1);
    snprintf(c->attr, sizeof c->attr, "%s", b + 1);
    return 0;
}

/* Splits line into N_COLS tab-separated fields (in buf); the count found. */
static int split_columns(char *buf, char **cols)
{
    int n = 0;
    buf[strcspn(buf, "\r\n")] = '\0';
    for (char *p = buf; n < N_COLS; p++) {
        cols[n++] = p;
        p = strchr(p, '\t');
        if (!p)
            break;
        *p = '\0';
    }
    return n;
}

static int bad(char *err, size_t errlen, int col, const char *what)
{
    snprintf(err, errlen, "column %s: %s", column_names[col], what);
    return -1;
}

int claim_parse(const char *line, Claim *out, char *err, size_t errlen)
{
    char buf[4096], *cols[N_COLS];
    if (strlen(line) >= sizeof buf)
        return bad(err, errlen, COL_ID, "line too long");
    snprintf(buf, sizeof buf, "%s", line);
    int n = split_columns(buf, cols);
    if (n != N_COLS) {
        snprintf(err, errlen, "%d tab-separated columns, expected %d (%s ... %s)", n, N_COLS, column_names[0],
                 column_names[N_COLS - 1]);
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (cols[COL_ID][0] == '\0' || strlen(cols[COL_ID]) >= sizeof out->id)
        return bad(err, errlen, COL_ID, "empty or too long");
    snprintf(out->id, sizeof out->id, "%s", cols[COL_ID]);
    copy_field(out->paper, sizeof out->paper, cols[COL_PAPER]);
    copy_field(out->source, sizeof out->source, cols[COL_SOURCE]);
    copy_field(out->setting, sizeof out->setting, cols[COL_SETTING]);
    copy_field(out->metric, sizeof out->metric, cols[COL_METRIC]);
    copy_field(out->measures, sizeof out->measures, cols[COL_MEASURES]);
    copy_field(out->quote, sizeof out->quote, cols[COL_QUOTE]);
    if (parse_kind(cols[COL_KIND], &out->kind) != 0)
        return bad(err, errlen, COL_KIND, "expected at_least, at_most, within, range, parity or direction");
    if (parse_value(out, cols[COL_VALUE]) != 0)
        return bad(err, errlen, COL_VALUE, out->kind == CLAIM_RANGE ? "expected LOW-HIGH" : "expected a number");
    if (parse_tolerance(out, cols[COL_TOLERANCE]) != 0)
        return bad(err, errlen, COL_TOLERANCE, "expected -, a number or a percentage");
    if ((out->kind == CLAIM_WITHIN || out->kind == CLAIM_PARITY) && out->tolerance == 0)
        return bad(err, errlen, COL_TOLERANCE, "within and parity claims need a tolerance");
    out->has_no_effect = strcmp(cols[COL_NO_EFFECT], "-") != 0;
    if (out->has_no_effect && parse_number(cols[COL_NO_EFFECT], &out->no_effect) != 0)
        return bad(err, errlen, COL_NO_EFFECT, "expected - or a number");
    if (out->kind == CLAIM_DIRECTION && !out->has_no_effect)
        return bad(err, errlen, COL_NO_EFFECT, "a direction claim needs the no-effect value");
    if (parse_conditions(out, cols[COL_CONDITIONS]) != 0)
        return bad(err, errlen, COL_CONDITIONS, "expected -, or key=a|b, key>=N, key<=N separated by commas");
    if (parse_measured_by(out, cols[COL_MEASURED_BY]) != 0)
        return bad(err, errlen, COL_MEASURED_BY, "expected - or experiment:path:attribute");
    return 0;
}

static int is_data_line(const char *line)
{
    return line[0] != '#' && line[strspn(line, " \t\r\n")] != '\0' && strncmp(line, "claim_id\t", 9) != 0;
}

/* A second row with the same id, or measured by the same attribute, would give one measurement two verdicts. */
static int check_unique(const Claim *all, int n, char *err, size_t errlen)
{
    const Claim *c = &all[n];
    for (int i = 0; i < n; i++) {
        if (strcmp(all[i].id, c->id) == 0) {
            snprintf(err, errlen, "claim %s appears twice", c->id);
            return -1;
        }
        if (c->experiment[0] && strcmp(all[i].experiment, c->experiment) == 0 && strcmp(all[i].path, c->path) == 0 &&
            strcmp(all[i].attr, c->attr) == 0) {
            snprintf(err, errlen, "claims %s and %s are measured by the same attribute %s:%s:%s", all[i].id, c->id,
                     c->experiment, c->path, c->attr);
            return -1;
        }
    }
    return 0;
}

int claims_load(const char *path, Claim **out, int *count, char *err, size_t errlen)
{
    *out = NULL, *count = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read the published claims", path);
        return -1;
    }
    Claim *all = NULL;
    int n = 0, cap = 0, line_no = 0, rc = 0;
    char line[4096], msg[512];
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line_no++;
        if (!is_data_line(line))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            Claim *grown = realloc(all, (size_t)cap * sizeof *all);
            if (!grown) {
                snprintf(err, errlen, "%s: out of memory", path);
                rc = -1;
                break;
            }
            all = grown;
        }
        if (claim_parse(line, &all[n], msg, sizeof msg) != 0 || check_unique(all, n, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, line_no, msg);
            rc = -1;
        }
        n++;
    }
    fclose(f);
    if (rc != 0) {
        free(all);
        return -1;
    }
    *out = all, *count = n;
    return 0;
}

int claims_published_value(const char *path, const char *claim_id, double *value, char *err, size_t errlen)
{
    Claim *all;
    int n;
    if (claims_load(path, &all, &n, err, errlen) != 0)
        return -1;
    int rc = -1;
    for (int i = 0; i < n && rc != 0; i++)
        if (strcmp(all[i].id, claim_id) == 0)
            *value = all[i].value, rc = 0;
    if (rc != 0)
        snprintf(err, errlen, "%s: no claim %s", path, claim_id);
    free(all);
    return rc;
}

/* ---- measuring ---- */

/* An attribute as text: a string attribute as it is, a number in %g. "" if absent. */
static void attr_text(H5File *f, const char *path, const char *name, char *out, size_t len)
{
    double v;
    out[0] = '\0';
    if (!h5io_exists(f, path))
        return;
    if (h5io_read_attr_double(f, path, name, &v) == 0)
        snprintf(out, len, "%.10g", v);
    else if (h5io_read_attr_str(f, path, name, out, len) != 0)
        out[0] = '\0';
}

static void read_seeds(H5File *f, const char *path, const char *attr, Measurement *m)
{
    char ds[320], err[256];
    snprintf(ds, sizeof ds, "%s/%s_by_seed", strcmp(path, "/") ? path : "", attr);
    H5Tensor t;
    if (!h5io_exists(f, ds) || h5io_read_tensor(f, ds, &t, err, sizeof err) != 0)
        return;
    if (t.numel >= 2 && t.numel <= MEASURE_MAX_SEEDS) {
        double sum = 0, sq = 0;
        for (size_t i = 0; i < t.numel; i++)
            sum += t.data[i];
        double mean = sum / (double)t.numel;
        for (size_t i = 0; i < t.numel; i++)
            sq += (t.data[i] - mean) * (t.data[i] - mean);
        m->n_seeds = (int)t.numel;
        m->sd = sqrt(sq / (double)(t.numel - 1));
    }
    h5io_tensor_free(&t);
}

/* A condition key's recorded value: `seeds` is the seed count, `profile` the root attribute, any other key the
 * attribute at the claim's path, else at the root. */
static void condition_value(H5File *f, const Claim *c, const Measurement *m, const char *key, char *out, size_t len)
{
    if (strcmp(key, "seeds") == 0) {
        snprintf(out, len, "%d", m->n_seeds);
        return;
    }
    attr_text(f, c->path, key, out, len);
    if (out[0] == '\0')
        attr_text(f, "/", key, out, len);
}

void claim_measure(const Claim *c, const char *results_dir, Measurement *m)
{
    memset(m, 0, sizeof *m);
    m->n_seeds = 1;
    if (c->experiment[0] == '\0')
        return;
    char file[1024], err[256], name[160];
    snprintf(file, sizeof file, "%s/%s.h5", results_dir, c->experiment);
    H5File *f = h5io_open_read(file, err, sizeof err);
    if (!f)
        return;
    m->file_found = 1;
    h5io_read_attr_str(f, "/", "profile", m->profile, sizeof m->profile);
    h5io_read_attr_str(f, "/", "cpu_model", m->cpu, sizeof m->cpu);
    h5io_read_attr_str(f, "/", "date_utc", m->date, sizeof m->date);
    h5io_read_attr_double(f, "/", "threads", &m->threads);
    if (h5io_exists(f, c->path)) {
        m->found = h5io_read_attr_double(f, c->path, c->attr, &m->value) == 0 && isfinite(m->value);
        snprintf(name, sizeof name, "%s_median", c->attr);
        m->has_median = h5io_read_attr_double(f, c->path, name, &m->median) == 0 && isfinite(m->median);
        snprintf(name, sizeof name, "%s_why", c->attr);
        h5io_read_attr_str(f, c->path, name, m->why, sizeof m->why);
        if (m->found)
            read_seeds(f, c->path, c->attr, m);
    }
    for (int i = 0; i < c->n_cond; i++)
        condition_value(f, c, m, c->cond[i].key, m->cond_value[i], sizeof m->cond_value[i]);
    h5io_close(f);
}

/* ---- judging ---- */

double claims_t95(int n)
{
    static const double t[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
                               2.228,  2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093};
    int df = n - 1;
    if (df < 1)
        return INFINITY;
    return df <= (int)(sizeof t / sizeof t[0]) ? t[df - 1] : 1.96;
}

/* 1 if the recorded value satisfies the condition. */
static int condition_holds(const ClaimCondition *cd, const char *recorded)
{
    double want, got;
    int numeric = parse_number(recorded, &got) == 0;
    if (cd->op != '=')
        return numeric && parse_number(cd->value, &want) == 0 && (cd->op == '>' ? got >= want : got <= want);
    char alts[96];
    snprintf(alts, sizeof alts, "%s", cd->value);
    for (char *save = NULL, *a = strtok_r(alts, "|", &save); a; a = strtok_r(NULL, "|", &save)) {
        if (strcmp(a, recorded) == 0 || (numeric && parse_number(a, &want) == 0 && want == got))
            return 1;
    }
    return 0;
}

/* The first failing condition, or -1. */
static int failing_condition(const Claim *c, const Measurement *m)
{
    for (int i = 0; i < c->n_cond; i++)
        if (!condition_holds(&c->cond[i], m->cond_value[i]))
            return i;
    return -1;
}

static double tolerance_abs(const Claim *c)
{
    return c->tolerance_relative ? c->tolerance * fabs(c->value) : c->tolerance;
}

static int sign_of(double x) { return (x > 0) - (x < 0); }

/* The values the claim accepts, in words: ">= 98", "1.83 to 1.93", "4096 to 8192". */
static void accepted_text(const Claim *c, char *out, size_t len)
{
    double tol = tolerance_abs(c);
    if (c->kind == CLAIM_AT_LEAST)
        snprintf(out, len, ">= %.4g", c->value - tol);
    else if (c->kind == CLAIM_AT_MOST)
        snprintf(out, len, "<= %.4g", c->value + tol);
    else
        snprintf(out, len, "%.4g to %.4g", c->value - tol, (c->kind == CLAIM_RANGE ? c->high : c->value) + tol);
}

/* reproduced when ok, else direction only when measured and published sit on the same side of no effect. */
static Verdict magnitude_verdict(const Claim *c, double measured, int ok, char *reason, size_t len)
{
    if (ok)
        return VERDICT_REPRODUCED;
    char accepted[96];
    accepted_text(c, accepted, sizeof accepted);
    if (c->has_no_effect && sign_of(measured - c->no_effect) != 0 &&
        sign_of(measured - c->no_effect) == sign_of(c->value - c->no_effect)) {
        snprintf(reason, len, "%.4g is on the published side of %g, the claim needs %s", measured, c->no_effect,
                 accepted);
        return VERDICT_DIRECTION_ONLY;
    }
    snprintf(reason, len, "%.4g, the claim needs %s", measured, accepted);
    return VERDICT_NOT_REPRODUCED;
}

static Verdict judge_parity(const Claim *c, const Measurement *m, char *reason, size_t len)
{
    double eps = tolerance_abs(c);
    if (m->n_seeds < 2) {
        snprintf(reason, len, "one seed: a parity claim needs the seeds' 95%% interval");
        return VERDICT_NOT_COMPARABLE;
    }
    double half = claims_t95(m->n_seeds) * m->sd / sqrt(m->n_seeds);
    double lo = m->value - half, hi = m->value + half;
    if (lo >= -eps && hi <= eps) {
        snprintf(reason, len, "95%% interval [%.3g, %.3g] inside ±%g", lo, hi, eps);
        return VERDICT_REPRODUCED;
    }
    snprintf(reason, len, "95%% interval [%.3g, %.3g] not inside ±%g", lo, hi, eps);
    return VERDICT_NOT_REPRODUCED;
}

static Verdict judge_direction(const Claim *c, const Measurement *m, char *reason, size_t len)
{
    int want = sign_of(c->value - c->no_effect);
    if (sign_of(m->value - c->no_effect) != want) {
        snprintf(reason, len, "opposite side of %g", c->no_effect);
        return VERDICT_NOT_REPRODUCED;
    }
    if (m->n_seeds >= 2) {
        double half = claims_t95(m->n_seeds) * m->sd / sqrt(m->n_seeds);
        if (sign_of(m->value - half - c->no_effect) != sign_of(m->value + half - c->no_effect)) {
            snprintf(reason, len, "the seeds' 95%% interval [%.3g, %.3g] crosses %g", m->value - half,
                     m->value + half, c->no_effect);
            return VERDICT_NOT_REPRODUCED;
        }
    }
    return VERDICT_REPRODUCED;
}

static Verdict judge_value(const Claim *c, const Measurement *m, char *reason, size_t len)
{
    double v = m->value, tol = tolerance_abs(c);
    switch (c->kind) {
    case CLAIM_AT_LEAST:
        return magnitude_verdict(c, v, v >= c->value - tol, reason, len);
    case CLAIM_AT_MOST:
        return magnitude_verdict(c, v, v <= c->value + tol, reason, len);
    case CLAIM_WITHIN:
        return magnitude_verdict(c, v, fabs(v - c->value) <= tol, reason, len);
    case CLAIM_RANGE:
        return magnitude_verdict(c, v, v >= c->value - tol && v <= c->high + tol, reason, len);
    case CLAIM_PARITY:
        return judge_parity(c, m, reason, len);
    case CLAIM_DIRECTION:
        return judge_direction(c, m, reason, len);
    default:
        snprintf(reason, len, "unknown kind");
        return VERDICT_NOT_MEASURED;
    }
}

Verdict claim_judge(const Claim *c, const Measurement *m, char *reason, size_t len)
{
    reason[0] = '\0';
    if (c->experiment[0] == '\0') {
        snprintf(reason, len, "subq has no run of this setting (the paper's scale, or a model subq does not "
                              "implement)");
        return VERDICT_NOT_RUN_AT_SCALE;
    }
    if (!m->file_found) {
        snprintf(reason, len, "no results of `%s`: make reproduce ONLY=%s", c->experiment, c->experiment);
        return VERDICT_NOT_MEASURED;
    }
    int bad_cond = failing_condition(c, m);
    if (bad_cond >= 0 && strcmp(c->cond[bad_cond].key, "profile") == 0) {
        snprintf(reason, len, "measured in the %s profile; the claim's scale needs %s", m->profile,
                 c->cond[bad_cond].value);
        return VERDICT_NOT_RUN_AT_SCALE;
    }
    if (!m->found) {
        if (strncmp(m->why, "target not reached", 18) == 0) {
            snprintf(reason, len, "%s", m->why + 18 + strspn(m->why + 18, ": "));
            return VERDICT_TARGET_NOT_REACHED;
        }
        if (m->why[0] != '\0' && bad_cond < 0) {
            snprintf(reason, len, "%s", m->why);
            return VERDICT_NOT_REPRODUCED;
        }
        if (m->why[0] == '\0') { /* the other conditions describe a measurement that is not there */
            snprintf(reason, len, "`%s` has no attribute %s at %s", c->experiment, c->attr, c->path);
            return VERDICT_NOT_MEASURED;
        }
    }
    if (bad_cond >= 0) {
        const ClaimCondition *cd = &c->cond[bad_cond];
        snprintf(reason, len, "%s is %s, the claim needs %s%s%s", cd->key,
                 m->cond_value[bad_cond][0] ? m->cond_value[bad_cond] : "not recorded", cd->key,
                 cd->op == '=' ? "=" : cd->op == '>' ? ">=" : "<=", cd->value);
        return VERDICT_NOT_COMPARABLE;
    }
    return judge_value(c, m, reason, len);
}

/* ---- text ---- */

void claim_published_text(const Claim *c, char *out, size_t len)
{
    char tol[48] = "";
    if (c->tolerance > 0) {
        if (c->tolerance_relative)
            snprintf(tol, sizeof tol, "%g%%", 100 * c->tolerance);
        else
            snprintf(tol, sizeof tol, "%g", c->tolerance);
    }
    switch (c->kind) {
    case CLAIM_RANGE:
        snprintf(out, len, "%g-%g", c->value, c->high);
        break;
    case CLAIM_WITHIN:
        snprintf(out, len, "%g (within %s)", c->value, tol);
        break;
    case CLAIM_PARITY:
        snprintf(out, len, "%g (parity: gap within ±%s)", c->value, tol);
        break;
    case CLAIM_DIRECTION:
        snprintf(out, len, "%g (sign vs %g)", c->value, c->no_effect);
        break;
    default:
        snprintf(out, len, "%s %g%s%s%s", c->kind == CLAIM_AT_LEAST ? ">=" : "<=", c->value,
                 tol[0] ? " (tolerance " : "", tol, tol[0] ? ")" : "");
    }
}

static int has_seeds_condition(const Claim *c)
{
    for (int i = 0; i < c->n_cond; i++)
        if (strcmp(c->cond[i].key, "seeds") == 0)
            return 1;
    return 0;
}

void claim_measured_text(const Claim *c, const Measurement *m, char *out, size_t len)
{
    if (!m->found)
        snprintf(out, len, "-");
    else if (m->n_seeds >= 2)
        snprintf(out, len, "%.4g ± %.2g (%d seeds)", m->value, m->sd, m->n_seeds);
    else if (m->has_median)
        snprintf(out, len, "%.4g (min; median %.4g)", m->value, m->median);
    else
        snprintf(out, len, "%.4g%s", m->value, has_seeds_condition(c) ? " (one seed)" : "");
}

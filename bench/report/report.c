#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "dataio.h"
#include "report_cifar.h"
#include "report_peers.h"
#include "report_scaling.h"

#define README_MAX_BYTES ((size_t)1 << 22)

/* One claim judged against the results in a directory. */
typedef struct JudgedClaim {
    const Claim *claim;
    Measurement m;
    Verdict verdict;
    char reason[320];
} JudgedClaim;

static void judge(const Claim *c, const char *results_dir, JudgedClaim *out)
{
    out->claim = c;
    claim_measure(c, results_dir, &out->m);
    out->verdict = claim_judge(c, &out->m, out->reason, sizeof out->reason);
}

/* Prints text with the characters that would break a Markdown table cell replaced. */
static void cell_text(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++)
        fputs(*p == '|' ? "\\|" : *p == '\n' ? " " : (char[]){*p, 0}, out);
}

/* The claim's conditions as written, "-" if none. */
static void conditions_text(const Claim *c, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < c->n_cond && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s%s%s", i ? ", " : "", c->cond[i].key,
                                 c->cond[i].op == '=' ? "=" : c->cond[i].op == '>' ? ">=" : "<=", c->cond[i].value);
    if (c->n_cond == 0)
        snprintf(out, len, "-");
}

/* What subq recorded for each condition key, then the profile, machine, threads and date. */
static void recorded_text(const Claim *c, const Measurement *m, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    if (!m->file_found) {
        snprintf(out, len, "-");
        return;
    }
    for (int i = 0; i < c->n_cond && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s=%s; ", c->cond[i].key,
                                 m->cond_value[i][0] ? m->cond_value[i] : "(not recorded)");
    if (used < len)
        snprintf(out + used, len - used, "profile %s, %s, %.0f thread%s, %s", m->profile, m->cpu, m->threads,
                 m->threads == 1 ? "" : "s", m->date);
}

static const char *verdict_markup(Verdict v) { return v == VERDICT_REPRODUCED ? "**" : ""; }

static void claims_row(FILE *out, const JudgedClaim *j)
{
    const Claim *c = j->claim;
    char published[160], measured[160], conditions[600], recorded[1200];
    claim_published_text(c, published, sizeof published);
    claim_measured_text(c, &j->m, measured, sizeof measured);
    conditions_text(c, conditions, sizeof conditions);
    recorded_text(c, &j->m, recorded, sizeof recorded);
    fprintf(out, "| `%s` | ", c->id);
    cell_text(out, c->setting);
    fprintf(out, " (%s %s) | %s %s | %s, %s | ", c->paper, c->source, published, c->metric, claim_kind_name(c->kind),
            conditions);
    cell_text(out, measured);
    fprintf(out, " | ");
    cell_text(out, c->measures[0] ? c->measures : "-");
    fprintf(out, "; ");
    cell_text(out, recorded);
    fprintf(out, " | %s%s%s", verdict_markup(j->verdict), verdict_name(j->verdict), verdict_markup(j->verdict));
    if (j->reason[0]) {
        fprintf(out, ": ");
        cell_text(out, j->reason);
    }
    fprintf(out, " |\n");
}

static void sources_section(FILE *out, const Claim *claims, int n)
{
    fprintf(out, "\n## Sources\n\nThe paper's words or table cells behind each claim.\n\n");
    for (int i = 0; i < n; i++) {
        fprintf(out, "- `%s` (%s, %s): ", claims[i].id, claims[i].paper, claims[i].source);
        cell_text(out, claims[i].quote[0] ? claims[i].quote : "-");
        fprintf(out, "\n");
    }
}

static void verdict_header(FILE *out)
{
    fprintf(out, "Verdicts, one word each:\n\n");
    for (int v = 0; v < VERDICT_COUNT; v++)
        fprintf(out, "- **%s**: %s.\n", verdict_name((Verdict)v), verdict_definition((Verdict)v));
    fprintf(out, "\nKinds: `at_least` / `at_most` (one-sided, less the stated tolerance), `within` (two-sided), "
                 "`range` (low-high), `parity` (|gap| within the band and the seeds' 95%% Student-t interval inside "
                 "it), `direction` (the sign against the no-effect value; with seeds the interval must not cross "
                 "it). Accuracy and loss values are the mean over seeds with the standard deviation; timing ratios "
                 "use the fastest repetition of each side, with the ratio of medians beside it.\n\n");
}

/* The figures `make figures` rendered, each with a caption; figures of experiments not run are left out. */
static void write_figures(FILE *out, const char *results_dir)
{
    static const char *const figures[][2] = {
        {"ops_scaling", "runtime vs sequence length"},
        {"generation", "generation: tokens/s and state vs context"},
        {"hyena_distill", "Hyena's filters distilled: filter error and loss vs order"},
        {"channel_speed", "channel mixers: speedup over the dense ffn"},
        {"peers", "subq vs PyTorch"},
        {"lm_shakespeare", "tiny Shakespeare validation loss"},
        {"lm_sotu", "State of the Union validation loss"},
        {"hyena_filters", "Hyena's learned long filters (tiny Shakespeare, layer 0)"},
        {"assoc_recall", "associative recall accuracy vs length"},
        {"cifar_fff", "flattened CIFAR-10: FF vs FFF vs MoE"},
        {"cifar_vit", "ViT on CIFAR-10: test accuracy during training"},
        {"scifar", "sequential CIFAR-10: test accuracy during training"},
        {"cifar_2d", "CIFAR-10 isometric networks: 3x3 vs 2D long convolutions"},
    };
    fprintf(out, "\n## Figures\n");
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/figures/%s.png", results_dir, figures[i][0]);
        if (access(path, R_OK) == 0)
            fprintf(out, "\n![%s](figures/%s.png)\n", figures[i][1], figures[i][0]);
    }
}

static JudgedClaim *judge_all(const Claim *claims, int n, const char *results_dir, char *err, size_t errlen)
{
    JudgedClaim *j = calloc((size_t)(n > 0 ? n : 1), sizeof *j);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        judge(&claims[i], results_dir, &j[i]);
    return j;
}

static int write_body(FILE *out, const char *published_tsv, const char *results_dir, char *err, size_t errlen)
{
    Claim *claims;
    int n;
    if (claims_load(published_tsv, &claims, &n, err, errlen) != 0)
        return -1;
    JudgedClaim *j = judge_all(claims, n, results_dir, err, errlen);
    if (!j) {
        free(claims);
        return -1;
    }
    fprintf(out, "# subq report\n\nGenerated by `subq report` from the results files in `%s/` and the claims in `%s`. "
                 "Every number comes from a results file; rerun `make figures` after `make reproduce` to refresh "
                 "it.\n\n",
            results_dir, published_tsv);
    verdict_header(out);
    fprintf(out, "| claim | setting (source) | published, metric | kind, conditions | subq | what subq measures; its "
                 "recorded conditions | verdict |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < n; i++)
        claims_row(out, &j[i]);
    sources_section(out, claims, n);
    report_peers_section(out, results_dir);
    report_scaling_section(out, results_dir);
    report_generation_section(out, results_dir);
    report_cifar_sections(out, results_dir);
    write_figures(out, results_dir);
    free(j);
    free(claims);
    return 0;
}

int report_write(const char *published_tsv, const char *results_dir, const char *out_path, char *err,
                 size_t errlen)
{
    DataioOutput o;
    if (dataio_output_begin(&o, out_path, err, errlen) != 0)
        return -1;
    FILE *out = fopen(o.tmp, "w");
    if (!out) {
        snprintf(err, errlen, "%s: cannot write", out_path);
        dataio_output_abort(&o);
        return -1;
    }
    int rc = write_body(out, published_tsv, results_dir, err, errlen);
    if (fclose(out) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: cannot write", out_path);
        rc = -1;
    }
    if (rc != 0) {
        dataio_output_abort(&o);
        return -1;
    }
    return dataio_output_commit(&o, err, errlen);
}

/* ---- the README's table ---- */

static void readme_row(FILE *out, const JudgedClaim *j)
{
    const Claim *c = j->claim;
    char published[160], measured[160];
    claim_published_text(c, published, sizeof published);
    claim_measured_text(c, &j->m, measured, sizeof measured);
    fprintf(out, "| ");
    cell_text(out, c->setting);
    fprintf(out, " | %s %s | %s %s | ", c->paper, c->source, published, c->metric);
    cell_text(out, measured);
    fprintf(out, " | %s%s%s", verdict_markup(j->verdict), verdict_name(j->verdict), verdict_markup(j->verdict));
    if (j->reason[0] && j->verdict != VERDICT_REPRODUCED) {
        fprintf(out, " (");
        cell_text(out, j->reason);
        fprintf(out, ")");
    }
    fprintf(out, " |\n");
}

/* One line per experiment behind the table: its profile, commit, date and machine. */
static void readme_provenance(FILE *out, const JudgedClaim *j, int n)
{
    fprintf(out, "\nMeasured by:");
    int printed = 0;
    for (int i = 0; i < n; i++) {
        const Claim *c = j[i].claim;
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= strcmp(j[k].claim->experiment, c->experiment) == 0;
        if (seen || !j[i].m.file_found)
            continue;
        fprintf(out, "%s `%s` (%s profile, %s, %.0f thread%s, %s)", printed++ ? ";" : "", c->experiment,
                j[i].m.profile, j[i].m.cpu, j[i].m.threads, j[i].m.threads == 1 ? "" : "s", j[i].m.date);
    }
    fprintf(out, "%s.\n", printed ? "" : " no results yet");
}

int report_readme_table(const char *published_tsv, const char *results_dir, FILE *out, char *err, size_t errlen)
{
    Claim *claims;
    int n, unmeasured = 0;
    if (claims_load(published_tsv, &claims, &n, err, errlen) != 0)
        return -1;
    JudgedClaim *j = judge_all(claims, n, results_dir, err, errlen);
    if (!j) {
        free(claims);
        return -1;
    }
    fprintf(out, "%s\n\n| claim | source | published | subq | verdict |\n| --- | --- | --- | --- | --- |\n",
            README_TABLE_BEGIN);
    for (int i = 0; i < n; i++) {
        if (claims[i].experiment[0])
            readme_row(out, &j[i]);
        else
            unmeasured++;
    }
    readme_provenance(out, j, n);
    fprintf(out, "%d further published numbers (the papers' scale, or models subq does not implement) are listed in "
                 "`results/REPORT.md` as not run at this scale.\n%s\n",
            unmeasured, README_TABLE_END);
    free(j);
    free(claims);
    return 0;
}

static void first_difference(const char *a, const char *b, char *out, size_t len)
{
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n')
            la = a + 1, lb = b + 1;
        a++, b++;
    }
    snprintf(out, len, "README: \"%.*s\" / generated: \"%.*s\"", (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"),
             lb);
}

int report_readme_check(const char *readme, const char *published_tsv, const char *results_dir, char *diff_line,
                        size_t difflen, char *err, size_t errlen)
{
    uint8_t *bytes = NULL;
    char *generated = NULL;
    size_t gen_len = 0, text_len = 0;
    int rc = -1;
    if (dataio_read_file(readme, README_MAX_BYTES, &bytes, &text_len, err, errlen) != 0)
        return -1;
    const char *text = (const char *)bytes; /* NUL-terminated by dataio_read_file */
    FILE *mem = open_memstream(&generated, &gen_len);
    if (!mem) {
        snprintf(err, errlen, "out of memory");
    } else if (report_readme_table(published_tsv, results_dir, mem, err, errlen) == 0) {
        fclose(mem);
        mem = NULL;
        const char *begin = strstr(text, README_TABLE_BEGIN), *end = begin ? strstr(begin, README_TABLE_END) : NULL;
        if (!begin || !end) {
            snprintf(err, errlen, "%s: no generated claims table (markers absent)", readme);
        } else {
            size_t n = (size_t)(end - begin) + strlen(README_TABLE_END) + 1;
            rc = strncmp(begin, generated, n) != 0 || strlen(generated) != n;
            if (rc)
                first_difference(begin, generated, diff_line, difflen);
        }
    }
    if (mem)
        fclose(mem);
    free(generated);
    free(bytes);
    return rc;
}

/* The claims engine and the report (bench/report/claims.h, bench/report/report.h): parsing published.tsv rows, every kind and
 * every verdict on synthetic measurements, measurements read from synthetic HDF5 results files (seeds, medians,
 * conditions at the run and the root, a never-crossing crossover), the committed published.tsv, and the README's
 * generated claims table against the committed reference results. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "h5io.h"
#include "report.h"
#include "report_peers.h"
#include "report_scaling.h"
#include "testutil.h"

#define PUBLISHED "baselines/published.tsv"

/* One published.tsv line from its 13 columns. */
static Claim parse_ok(const char *kind, const char *value, const char *tol, const char *no_effect, const char *cond,
                      const char *measured_by)
{
    char line[2048], err[256];
    snprintf(line, sizeof line, "c1\tP\tTable 1\tsetting\tmetric\t%s\t%s\t%s\t%s\t%s\t%s\twhat subq measures\tquote",
             kind, value, tol, no_effect, cond, measured_by);
    Claim c;
    cr_assert_eq(claim_parse(line, &c, err, sizeof err), 0, "parse failed: %s (%s)", err, line);
    return c;
}

static Measurement measured(double value)
{
    Measurement m;
    memset(&m, 0, sizeof m);
    m.file_found = m.found = 1;
    m.value = value;
    m.n_seeds = 1;
    snprintf(m.profile, sizeof m.profile, "default");
    return m;
}

static Verdict verdict_of(const Claim *c, const Measurement *m)
{
    char reason[320];
    return claim_judge(c, m, reason, sizeof reason);
}

#define EXPECT_VERDICT(c, m, want)                                                                                 \
    do {                                                                                                           \
        char reason_[320];                                                                                         \
        Verdict got_ = claim_judge(&(c), &(m), reason_, sizeof reason_);                                          \
        cr_expect_eq(got_, (want), "line %d: verdict '%s' (%s), expected '%s'", __LINE__, verdict_name(got_),      \
                     reason_, verdict_name(want));                                                                 \
    } while (0)

Test(claims, parse_reads_every_column_and_kind)
{
    Claim c = parse_ok("within", "0.82", "5%", "1", "d_model=768|1024, seq_len>=4096, seeds<=9", "exp:/:attr");
    cr_expect_eq(c.kind, CLAIM_WITHIN);
    cr_expect_float_eq(c.value, 0.82, 1e-12);
    cr_expect_float_eq(c.tolerance, 0.05, 1e-12);
    cr_expect(c.tolerance_relative);
    cr_expect(c.has_no_effect && c.no_effect == 1.0);
    cr_expect_eq(c.n_cond, 3);
    cr_expect_str_eq(c.cond[0].key, "d_model");
    cr_expect_eq(c.cond[0].op, '=');
    cr_expect_str_eq(c.cond[0].value, "768|1024");
    cr_expect_eq(c.cond[1].op, '>');
    cr_expect_eq(c.cond[2].op, '<');
    cr_expect_str_eq(c.experiment, "exp");
    cr_expect_str_eq(c.path, "/");
    cr_expect_str_eq(c.attr, "attr");
    Claim r = parse_ok("range", "4096-8192", "-", "-", "-", "-");
    cr_expect_eq(r.kind, CLAIM_RANGE);
    cr_expect(r.value == 4096 && r.high == 8192);
    cr_expect_eq(r.experiment[0], '\0');
    cr_expect_eq(parse_ok("at_least", "2", "0.5", "-", "-", "-").tolerance_relative, 0);
    cr_expect_eq(parse_ok("direction", "-6", "-", "0", "-", "-").kind, CLAIM_DIRECTION);
    cr_expect_eq(parse_ok("parity", "0.2", "1", "0", "-", "-").kind, CLAIM_PARITY);
    cr_expect_eq(parse_ok("at_most", "18.6", "-", "-", "-", "-").kind, CLAIM_AT_MOST);
}

Test(claims, parse_rejects_bad_rows_naming_the_column)
{
    static const struct {
        const char *line, *column;
    } bad[] = {
        {"c\tP\tT\ts\tm\tabove\t1\t-\t-\t-\t-\tw\tq", "kind"},
        {"c\tP\tT\ts\tm\tat_least\tone\t-\t-\t-\t-\tw\tq", "value"},
        {"c\tP\tT\ts\tm\tat_least\tinf\t-\t-\t-\t-\tw\tq", "value"},
        {"c\tP\tT\ts\tm\trange\t8192-4096\t-\t-\t-\t-\tw\tq", "value"},
        {"c\tP\tT\ts\tm\trange\t4096\t-\t-\t-\t-\tw\tq", "value"},
        {"c\tP\tT\ts\tm\twithin\t1\t-\t-\t-\t-\tw\tq", "tolerance"},
        {"c\tP\tT\ts\tm\tparity\t0\t-\t0\t-\t-\tw\tq", "tolerance"},
        {"c\tP\tT\ts\tm\tat_least\t1\t-5%\t-\t-\t-\tw\tq", "tolerance"},
        {"c\tP\tT\ts\tm\tdirection\t1\t-\t-\t-\t-\tw\tq", "no_effect"},
        {"c\tP\tT\ts\tm\tat_least\t1\t-\t-\td_model\t-\tw\tq", "conditions"},
        {"c\tP\tT\ts\tm\tat_least\t1\t-\t-\tseq_len>=big\t-\tw\tq", "conditions"},
        {"c\tP\tT\ts\tm\tat_least\t1\t-\t-\t-\texp:attr\tw\tq", "measured_by"},
        {"c\tP\tT\ts\tm\tat_least\t1\t-\t-\t-\texp:/:a:b\tw\tq", "measured_by"},
        {"c\tP\tT\ts\tm\tat_least\t1\t-\t-\t-\t-\tw", "13"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Claim c;
        char err[256] = "";
        cr_expect_eq(claim_parse(bad[i].line, &c, err, sizeof err), -1, "accepted: %s", bad[i].line);
        cr_expect(strstr(err, bad[i].column) != NULL, "message '%s' does not name %s", err, bad[i].column);
    }
}

Test(claims, one_sided_kinds_reproduce_within_tolerance_else_direction_or_not)
{
    Claim at_least = parse_ok("at_least", "100", "-", "1", "-", "e:/:a");
    Measurement m = measured(120);
    EXPECT_VERDICT(at_least, m, VERDICT_REPRODUCED);
    m.value = 100;
    EXPECT_VERDICT(at_least, m, VERDICT_REPRODUCED);
    m.value = 25; /* faster, not 100x */
    EXPECT_VERDICT(at_least, m, VERDICT_DIRECTION_ONLY);
    m.value = 0.8; /* slower: the sign fails too */
    EXPECT_VERDICT(at_least, m, VERDICT_NOT_REPRODUCED);
    Claim tol = parse_ok("at_least", "100", "2", "-", "-", "e:/:a");
    m.value = 98.5;
    EXPECT_VERDICT(tol, m, VERDICT_REPRODUCED);
    m.value = 97.9; /* no no-effect value: no direction to fall back on */
    EXPECT_VERDICT(tol, m, VERDICT_NOT_REPRODUCED);
    Claim at_most = parse_ok("at_most", "1.88", "-", "-", "-", "e:/:a");
    m.value = 1.85;
    EXPECT_VERDICT(at_most, m, VERDICT_REPRODUCED);
    m.value = 1.9;
    EXPECT_VERDICT(at_most, m, VERDICT_NOT_REPRODUCED);
}

Test(claims, within_is_two_sided_so_a_far_better_value_is_not_reproduced)
{
    Claim c = parse_ok("within", "1.88", "0.05", "-", "-", "e:/:a");
    Measurement m = measured(1.856);
    EXPECT_VERDICT(c, m, VERDICT_REPRODUCED);
    m.value = 1.2; /* the old one-sided rule called this reproduced */
    EXPECT_VERDICT(c, m, VERDICT_NOT_REPRODUCED);
    m.value = 1.94;
    EXPECT_VERDICT(c, m, VERDICT_NOT_REPRODUCED);
    Claim rel = parse_ok("within", "0.82", "3%", "1", "-", "e:/:a");
    m.value = 0.84;
    EXPECT_VERDICT(rel, m, VERDICT_REPRODUCED);
    m.value = 0.884;
    EXPECT_VERDICT(rel, m, VERDICT_DIRECTION_ONLY);
    m.value = 1.07;
    EXPECT_VERDICT(rel, m, VERDICT_NOT_REPRODUCED);
}

Test(claims, range_holds_between_its_ends)
{
    Claim c = parse_ok("range", "4096-8192", "-", "-", "-", "e:/:a");
    Measurement m = measured(4096);
    EXPECT_VERDICT(c, m, VERDICT_REPRODUCED);
    m.value = 8192;
    EXPECT_VERDICT(c, m, VERDICT_REPRODUCED);
    m.value = 512; /* was "reproduced" when the range was read as its first number with <= */
    EXPECT_VERDICT(c, m, VERDICT_NOT_REPRODUCED);
    m.value = 16384;
    EXPECT_VERDICT(c, m, VERDICT_NOT_REPRODUCED);
}

Test(claims, parity_needs_the_seeds_interval_inside_the_band)
{
    Claim c = parse_ok("parity", "0.2", "1", "0", "-", "e:/:a");
    Measurement m = measured(-1.53); /* one seed, a gap outside the band: never parity */
    EXPECT_VERDICT(c, m, VERDICT_NOT_COMPARABLE);
    m.value = 0.3;
    m.n_seeds = 3, m.sd = 0.2; /* half width 4.303 * 0.2 / sqrt 3 = 0.50: [-0.20, 0.80] */
    EXPECT_VERDICT(c, m, VERDICT_REPRODUCED);
    m.sd = 0.5; /* half width 1.24: the interval leaves the band though the mean is inside */
    EXPECT_VERDICT(c, m, VERDICT_NOT_REPRODUCED);
    m.value = -1.53, m.sd = 0.1;
    EXPECT_VERDICT(c, m, VERDICT_NOT_REPRODUCED);
}

Test(claims, direction_checks_the_sign_and_with_seeds_the_interval)
{
    Claim c = parse_ok("direction", "-6", "-", "0", "-", "e:/:a");
    Measurement m = measured(-14.6);
    EXPECT_VERDICT(c, m, VERDICT_REPRODUCED);
    m.value = 2;
    EXPECT_VERDICT(c, m, VERDICT_NOT_REPRODUCED);
    m.value = -1, m.n_seeds = 3, m.sd = 2; /* interval crosses 0 */
    EXPECT_VERDICT(c, m, VERDICT_NOT_REPRODUCED);
    m.sd = 0.2;
    EXPECT_VERDICT(c, m, VERDICT_REPRODUCED);
}

Test(claims, conditions_decide_comparability_before_the_value)
{
    Claim c = parse_ok("at_least", "11", "-", "1", "d_model=768, longest_seq_len>=65536", "e:/:a");
    Measurement m = measured(25);
    snprintf(m.cond_value[0], sizeof m.cond_value[0], "768");
    snprintf(m.cond_value[1], sizeof m.cond_value[1], "65536");
    EXPECT_VERDICT(c, m, VERDICT_REPRODUCED);
    snprintf(m.cond_value[1], sizeof m.cond_value[1], "2048"); /* a smoke run */
    char reason[320];
    cr_expect_eq(claim_judge(&c, &m, reason, sizeof reason), VERDICT_NOT_COMPARABLE);
    cr_expect(strstr(reason, "longest_seq_len is 2048") != NULL, "reason: %s", reason);
    m.cond_value[0][0] = '\0'; /* not recorded */
    cr_expect_eq(claim_judge(&c, &m, reason, sizeof reason), VERDICT_NOT_COMPARABLE);
    cr_expect(strstr(reason, "d_model is not recorded") != NULL, "reason: %s", reason);
    Claim seeded = parse_ok("at_least", "100", "2", "-", "seeds>=3", "e:/:a");
    Measurement one = measured(100);
    snprintf(one.cond_value[0], sizeof one.cond_value[0], "1");
    EXPECT_VERDICT(seeded, one, VERDICT_NOT_COMPARABLE);
}

Test(claims, scale_target_and_missing_measurements_have_their_own_verdicts)
{
    Claim unmeasured = parse_ok("at_most", "18.6", "-", "-", "-", "-");
    Measurement m = measured(1);
    EXPECT_VERDICT(unmeasured, m, VERDICT_NOT_RUN_AT_SCALE);
    Claim paper = parse_ok("at_least", "100", "2", "-", "profile=paper", "e:runs/r:a");
    snprintf(m.cond_value[0], sizeof m.cond_value[0], "default");
    m.found = 0;
    EXPECT_VERDICT(paper, m, VERDICT_NOT_RUN_AT_SCALE);
    Claim ratio = parse_ok("direction", "0.82", "-", "1", "-", "e:/:a");
    m = measured(0);
    m.found = 0;
    snprintf(m.why, sizeof m.why, "target not reached: GPT never reached validation loss 1.88");
    EXPECT_VERDICT(ratio, m, VERDICT_TARGET_NOT_REACHED);
    Claim crossover = parse_ok("range", "4096-8192", "-", "-", "-", "e:/:a");
    snprintf(m.why, sizeof m.why, "hyena is not faster at the longest length measured, L=2048");
    EXPECT_VERDICT(crossover, m, VERDICT_NOT_REPRODUCED); /* was "reproduced from L=0" */
    m.why[0] = '\0';
    EXPECT_VERDICT(crossover, m, VERDICT_NOT_MEASURED);
    m.file_found = 0;
    EXPECT_VERDICT(crossover, m, VERDICT_NOT_MEASURED);
}

/* ---- measurements from results files ---- */

static char tmp_dir[64];

static void make_results(const char *experiment, const char *profile, int with_seeds, int with_crossover)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s.h5", tmp_dir, experiment);
    H5File *f = h5io_create_atomic(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    cr_assert_eq(h5io_attr_str(f, "/", "profile", profile, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_attr_str(f, "/", "cpu_model", "Test CPU", err, sizeof err), 0);
    cr_assert_eq(h5io_attr_double(f, "/", "threads", 2, err, sizeof err), 0);
    cr_assert_eq(h5io_attr_double(f, "/", "d_model", 768, err, sizeof err), 0);
    cr_assert_eq(h5io_attr_double(f, "/", "speedup_at_longest", 25.0, err, sizeof err), 0);
    cr_assert_eq(h5io_attr_double(f, "/", "speedup_at_longest_median", 23.5, err, sizeof err), 0);
    if (with_crossover)
        cr_assert_eq(h5io_attr_double(f, "/", "crossover", 4096, err, sizeof err), 0);
    else
        cr_assert_eq(h5io_attr_str(f, "/", "crossover_why", "hyena is not faster at L=2048", err, sizeof err), 0);
    cr_assert_eq(h5io_group(f, "runs/hyena", err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_attr_double(f, "runs/hyena", "accuracy", 90.0, err, sizeof err), 0);
    cr_assert_eq(h5io_attr_double(f, "runs/hyena", "steps", 1500, err, sizeof err), 0);
    if (with_seeds) {
        const double seeds[3] = {88, 90, 92};
        int shape[1] = {3};
        cr_assert_eq(h5io_write_doubles(f, "runs/hyena/accuracy_by_seed", seeds, 1, shape, err, sizeof err), 0);
    }
    cr_assert_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
}

static void tmp_setup(void) { tmp_dir_make(tmp_dir, sizeof tmp_dir, "report"); }
static void tmp_teardown(void) { tmp_dir_remove(tmp_dir); }

Test(claims, measure_reads_value_seeds_median_and_conditions_from_the_file, .init = tmp_setup, .fini = tmp_teardown)
{
    make_results("exp", "default", 1, 0);
    Claim acc = parse_ok("at_least", "98", "2", "-", "seeds>=3, steps>=1000, d_model=768", "exp:runs/hyena:accuracy");
    Measurement m;
    claim_measure(&acc, tmp_dir, &m);
    cr_expect(m.file_found && m.found);
    cr_expect_float_eq(m.value, 90.0, 1e-9);
    cr_expect_eq(m.n_seeds, 3);
    cr_expect_float_eq(m.sd, 2.0, 1e-6);
    cr_expect_str_eq(m.cond_value[0], "3");
    cr_expect_str_eq(m.cond_value[1], "1500"); /* at the run */
    cr_expect_str_eq(m.cond_value[2], "768");  /* at the root */
    cr_expect_str_eq(m.profile, "default");
    cr_expect_eq(verdict_of(&acc, &m), VERDICT_NOT_REPRODUCED);
    char text[160];
    claim_measured_text(&acc, &m, text, sizeof text);
    cr_expect(strstr(text, "90 ± 2 (3 seeds)") != NULL, "text: %s", text);

    Claim speed = parse_ok("at_least", "11", "-", "1", "d_model=768", "exp:/:speedup_at_longest");
    claim_measure(&speed, tmp_dir, &m);
    cr_expect(m.has_median && m.median == 23.5);
    claim_measured_text(&speed, &m, text, sizeof text);
    cr_expect(strstr(text, "min; median 23.5") != NULL, "text: %s", text);
    cr_expect_eq(verdict_of(&speed, &m), VERDICT_REPRODUCED);

    Claim cross = parse_ok("range", "4096-8192", "-", "-", "-", "exp:/:crossover");
    claim_measure(&cross, tmp_dir, &m);
    cr_expect(!m.found);
    cr_expect_str_eq(m.why, "hyena is not faster at L=2048");
    cr_expect_eq(verdict_of(&cross, &m), VERDICT_NOT_REPRODUCED);

    Claim absent = parse_ok("at_least", "1", "-", "-", "-", "exp:/:no_such_attribute");
    claim_measure(&absent, tmp_dir, &m);
    cr_expect_eq(verdict_of(&absent, &m), VERDICT_NOT_MEASURED);
    Claim no_file = parse_ok("at_least", "1", "-", "-", "-", "other:/:a");
    claim_measure(&no_file, tmp_dir, &m);
    cr_expect(!m.file_found);
    cr_expect_eq(verdict_of(&no_file, &m), VERDICT_NOT_MEASURED);
}

Test(claims, a_smoke_result_is_never_reproduced_under_the_committed_claims, .init = tmp_setup, .fini = tmp_teardown)
{
    /* Every experiment's file at toy size, with the attribute each claim reads set to its published value: the
     * conditions alone must keep the verdicts off "reproduced". */
    Claim *claims;
    int n;
    char err[512];
    cr_assert_eq(claims_load(PUBLISHED, &claims, &n, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < n; i++) {
        if (!claims[i].experiment[0])
            continue;
        char path[256];
        snprintf(path, sizeof path, "%s/%s.h5", tmp_dir, claims[i].experiment);
        H5File *f = access(path, F_OK) == 0 ? NULL : h5io_create_atomic(path, err, sizeof err);
        if (f) {
            cr_assert_eq(h5io_attr_str(f, "/", "profile", "smoke", err, sizeof err), 0);
            cr_assert_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
        }
    }
    for (int i = 0; i < n; i++) {
        if (!claims[i].experiment[0])
            continue;
        Measurement m;
        claim_measure(&claims[i], tmp_dir, &m);
        m.found = 1, m.value = claims[i].value; /* as if smoke had hit the published number */
        char reason[320];
        Verdict v = claim_judge(&claims[i], &m, reason, sizeof reason);
        cr_expect_neq(v, VERDICT_REPRODUCED, "%s is reproduced by a smoke result", claims[i].id);
    }
    free(claims);
}

Test(claims, committed_published_tsv_loads_with_unique_ids_and_measurements)
{
    Claim *claims;
    int n;
    char err[512];
    cr_assert_eq(claims_load(PUBLISHED, &claims, &n, err, sizeof err), 0, "%s", err);
    cr_expect_gt(n, 40);
    int measured_rows = 0;
    for (int i = 0; i < n; i++) {
        cr_expect_neq(claims[i].quote[0], '\0', "%s has no quote of its source", claims[i].id);
        measured_rows += claims[i].experiment[0] != '\0';
    }
    cr_expect_gt(measured_rows, 20);
    double loss;
    cr_expect_eq(claims_published_value(PUBLISHED, "nanogpt_cpu_shakespeare", &loss, err, sizeof err), 0);
    cr_expect_float_eq(loss, 1.88, 1e-12);
    cr_expect_eq(claims_published_value(PUBLISHED, "no_such_claim", &loss, err, sizeof err), -1);
    free(claims);
}

Test(claims, load_rejects_a_repeated_id_or_measurement, .init = tmp_setup, .fini = tmp_teardown)
{
    static const char *const files[] = {
        "a\tP\tT\ts\tm\tat_least\t1\t-\t-\t-\te:/:x\tw\tq\na\tP\tT\ts\tm\tat_least\t2\t-\t-\t-\te:/:y\tw\tq\n",
        "a\tP\tT\ts\tm\tat_least\t1\t-\t-\t-\te:/:x\tw\tq\nb\tP\tT\ts\tm\tat_least\t2\t-\t-\t-\te:/:x\tw\tq\n",
    };
    for (int i = 0; i < 2; i++) {
        char path[128], err[512];
        snprintf(path, sizeof path, "%s/claims%d.tsv", tmp_dir, i);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs("# comment\nclaim_id\tpaper\n", f);
        fputs(files[i], f);
        fclose(f);
        Claim *claims;
        int n;
        cr_expect_eq(claims_load(path, &claims, &n, err, sizeof err), -1, "accepted file %d", i);
        cr_expect(strstr(err, ":4:") != NULL, "message '%s' does not give the line", err);
    }
}

Test(report, readme_check_finds_a_changed_table, .init = tmp_setup, .fini = tmp_teardown)
{
    make_results("ops_scaling", "default", 0, 1);
    char readme[128], err[512], diff[1024], *table = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&table, &len);
    cr_assert_eq(report_readme_table(PUBLISHED, tmp_dir, mem, err, sizeof err), 0, "%s", err);
    fclose(mem);
    snprintf(readme, sizeof readme, "%s/README.md", tmp_dir);
    FILE *f = fopen(readme, "w");
    fprintf(f, "# title\n\n%stext after\n", table);
    fclose(f);
    cr_expect_eq(report_readme_check(readme, PUBLISHED, tmp_dir, diff, sizeof diff, err, sizeof err), 0,
                 "%s %s", err, diff);
    char *at = strstr(table, "| order-2 Hyena");
    cr_assert_not_null(at);
    at[2] = 'O';
    f = fopen(readme, "w");
    fprintf(f, "%s", table);
    fclose(f);
    cr_expect_eq(report_readme_check(readme, PUBLISHED, tmp_dir, diff, sizeof diff, err, sizeof err), 1);
    cr_expect(strstr(diff, "Order-2") != NULL, "diff: %s", diff);
    f = fopen(readme, "w");
    fprintf(f, "no table\n");
    fclose(f);
    cr_expect_eq(report_readme_check(readme, PUBLISHED, tmp_dir, diff, sizeof diff, err, sizeof err), -1);
    free(table);
}

Test(report, committed_readme_table_is_the_generated_one)
{
    char err[512], diff[2048] = "";
    int rc = report_readme_check("README.md", PUBLISHED, "results/reference", diff, sizeof diff, err,
                                 sizeof err);
    cr_expect_eq(rc, 0, "README.md's claims table is not what `subq report --readme-table --results-dir "
                        "results/reference` prints: %s%s (regenerate it)", rc < 0 ? err : "", diff);
}

Test(report, report_writes_every_claim_with_its_verdict, .init = tmp_setup, .fini = tmp_teardown)
{
    make_results("ops_scaling", "smoke", 0, 0);
    char out[128], err[512];
    snprintf(out, sizeof out, "%s/REPORT.md", tmp_dir);
    cr_assert_eq(report_write(PUBLISHED, tmp_dir, out, err, sizeof err), 0, "%s", err);
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f);
    char line[8192];
    int rows = 0, reproduced = 0, verdict_lines = 0;
    while (fgets(line, sizeof line, f)) {
        rows += strncmp(line, "| `", 3) == 0;
        reproduced += strstr(line, "| **reproduced**") != NULL;
        verdict_lines += strncmp(line, "- **", 4) == 0;
    }
    fclose(f);
    Claim *claims;
    int n;
    cr_assert_eq(claims_load(PUBLISHED, &claims, &n, err, sizeof err), 0);
    cr_expect_eq(rows, n, "%d claim rows for %d claims", rows, n);
    cr_expect_eq(reproduced, 0, "a smoke-profile result reproduced a claim");
    cr_expect_eq(verdict_lines, VERDICT_COUNT, "the header defines %d verdicts", verdict_lines);
    free(claims);
    cr_expect_eq(report_write("no/such/published.tsv", tmp_dir, out, err, sizeof err), -1);
}

/* A peers file with the Hyena-vs-SDPA runs written out of length order (as HDF5 lists them by name): the
 * section lists them by length and states the crossover and the speedup at the longest length; without a
 * crossover it gives the reason. */
static void make_peers(int with_crossover)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/peers.h5", tmp_dir);
    H5File *f = h5io_create_atomic(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    const double lengths[3] = {16384, 1024, 4096}, ratio[3] = {3.5, 0.8, 1.6};
    for (int i = 0; i < 3; i++) {
        char run[64];
        snprintf(run, sizeof run, "runs/hyena_vs_sdpa_L%.0f", lengths[i]);
        cr_assert_eq(h5io_group(f, run, err, sizeof err), 0, "%s", err);
        cr_assert_eq(h5io_attr_double(f, run, "seq_len", lengths[i], err, sizeof err), 0);
        cr_assert_eq(h5io_attr_str(f, run, "torch_config", "d_model=768,n_heads=12,impl=tiled", err, sizeof err), 0);
        cr_assert_eq(h5io_attr_double(f, run, "torch_over_subq_forward_backward", ratio[i], err, sizeof err), 0);
        cr_assert_eq(h5io_attr_double(f, run, "torch_over_subq_forward_backward_low", ratio[i] - 0.1, err,
                                      sizeof err),
                     0);
        cr_assert_eq(h5io_attr_double(f, run, "torch_over_subq_forward_backward_high", ratio[i] + 0.1, err,
                                      sizeof err),
                     0);
    }
    cr_assert_eq(h5io_attr_double(f, "/", "hyena_vs_sdpa_longest_seq_len", 16384, err, sizeof err), 0);
    cr_assert_eq(h5io_attr_double(f, "/", "speedup_hyena_vs_sdpa_at_longest", 3.5, err, sizeof err), 0);
    if (with_crossover)
        cr_assert_eq(h5io_attr_double(f, "/", "crossover_seq_len_hyena_vs_sdpa", 4096, err, sizeof err), 0);
    else
        cr_assert_eq(h5io_attr_str(f, "/", "crossover_seq_len_hyena_vs_sdpa_why", "never faster", err, sizeof err),
                     0);
    cr_assert_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
}

static char *peers_section(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert_not_null(out);
    report_peers_section(out, tmp_dir);
    fclose(out);
    return text;
}

Test(report, peers_section_lists_hyena_against_sdpa_by_length_with_the_crossover, .init = tmp_setup,
     .fini = tmp_teardown)
{
    make_peers(1);
    char *text = peers_section();
    const char *l1 = strstr(text, "| 1024 |"), *l4 = strstr(text, "| 4096 |"), *l16 = strstr(text, "| 16384 |");
    cr_assert(l1 && l4 && l16, "a row per length:\n%s", text);
    cr_expect(l1 < l4 && l4 < l16, "rows in order of length:\n%s", text);
    cr_expect(strstr(l16, "3.50x [3.40, 3.60]") != NULL, "the 16K cell:\n%s", text);
    cr_expect(strstr(text, "L = 4096.") != NULL, "the crossover:\n%s", text);
    cr_expect(strstr(text, "L = 16384: 3.50x") != NULL, "the longest length:\n%s", text);
    free(text);
    make_peers(0);
    text = peers_section();
    cr_expect(strstr(text, "No crossover: never faster.") != NULL, "%s", text);
    free(text);
}

/* The scaling section reads the modelled efficiencies of lm_flops.h5 and says how to get them when absent. */
Test(report, scaling_section_tabulates_the_modelled_efficiency_or_says_how_to_get_it, .init = tmp_setup,
     .fini = tmp_teardown)
{
    char *text = NULL, path[256], err[256];
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    report_scaling_section(out, tmp_dir);
    fclose(out);
    cr_expect(strstr(text, "make reproduce ONLY=lm_flops") != NULL, "%s", text);
    free(text);
    snprintf(path, sizeof path, "%s/lm_flops.h5", tmp_dir);
    H5File *f = h5io_create_atomic(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    const char *root_attrs[] = {"dp_batch_tokens", "dp_bandwidth_bytes_per_s", "dp_latency_s", "dp_rank_flops_vm",
                                "dp_rank_flops_node64"};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(h5io_attr_double(f, "/", root_attrs[i], 1e9, err, sizeof err), 0);
    cr_assert_eq(h5io_group(f, "runs/gpt_125m", err, sizeof err), 0);
    cr_assert_eq(h5io_attr_double(f, "runs/gpt_125m", "params", 125e6, err, sizeof err), 0);
    cr_assert_eq(h5io_attr_double(f, "runs/gpt_125m", "dp_efficiency_node64_N512", 0.688, err, sizeof err), 0);
    cr_assert_eq(h5io_attr_double(f, "runs/gpt_125m", "dp_step_s_node64_N512", 0.273, err, sizeof err), 0);
    cr_assert_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
    out = open_memstream(&text, &len);
    report_scaling_section(out, tmp_dir);
    fclose(out);
    const char *row = strstr(text, "| gpt_125m | 125.0M | node64 |");
    cr_assert_not_null(row, "%s", text);
    cr_expect(strstr(row, "| 68.8% (step 0.273 s) |") != NULL, "%s", text);
    free(text);
}

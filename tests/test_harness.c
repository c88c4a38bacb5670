/* The harness pieces: order statistics of the timing routine, its repetition policy, the CLI option parser,
 * results files (provenance, atomicity) and the benchmark runner's memory limit. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchop.h"
#include "cli.h"
#include "compare.h"
#include "h5io.h"
#include "pair.h"
#include "peerproc.h"
#include "results.h"
#include "show.h"
#include "timing.h"

Test(timing, summary_gives_median_min_and_interpolated_iqr)
{
    double samples[] = {9.0, 1.0, 5.0, 3.0, 7.0};
    TimingStats s;
    timing_summarise(samples, 5, &s);
    cr_expect_eq(s.reps, 5);
    cr_expect_eq(s.min_ms, 1.0);
    cr_expect_eq(s.median_ms, 5.0);
    cr_expect_float_eq(s.iqr_ms, 7.0 - 3.0, 1e-12);
    double even[] = {4.0, 1.0, 2.0, 3.0};
    timing_summarise(even, 4, &s);
    cr_expect_float_eq(s.median_ms, 2.5, 1e-12);
    cr_expect_float_eq(s.iqr_ms, 3.25 - 1.75, 1e-12);
}

static void count_calls(void *ctx) { ++*(int *)ctx; }

Test(timing, measure_runs_warmup_plus_at_least_min_reps_and_at_most_max_reps)
{
    int calls = 0;
    TimingStats s;
    TimingPolicy few = {.warmup = 2, .min_reps = 3, .max_reps = 10, .min_seconds = 0.0};
    timing_measure(count_calls, &calls, &few, &s);
    cr_expect_eq(calls, 5);
    cr_expect_eq(s.reps, 3);
    calls = 0;
    TimingPolicy capped = {.warmup = 0, .min_reps = 1, .max_reps = 7, .min_seconds = 100.0};
    timing_measure(count_calls, &calls, &capped, &s);
    cr_expect_eq(calls, 7, "min_seconds cannot push past max_reps");
}

Test(cli, parses_values_and_flags_and_rejects_unknown_repeated_or_incomplete_options)
{
    CliOption opts[] = {{"op", 1, "", NULL}, {"force", 0, "", NULL}};
    char err[256];
    char *ok[] = {"--op", "ffn", "--force"};
    cr_assert_eq(cli_parse(opts, 2, 3, ok, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(cli_value(opts, 2, "op"), "ffn");
    cr_expect_not_null(cli_value(opts, 2, "force"));
    char *unknown[] = {"--nope"}, *twice[] = {"--op", "a", "--op", "b"}, *dangling[] = {"--op"}, *stray[] = {"x"};
    cr_expect_eq(cli_parse(opts, 2, 1, unknown, err, sizeof err), -1);
    cr_expect(strstr(err, "--nope") != NULL, "%s", err);
    cr_expect_eq(cli_parse(opts, 2, 4, twice, err, sizeof err), -1);
    cr_expect_eq(cli_parse(opts, 2, 1, dangling, err, sizeof err), -1);
    cr_expect_eq(cli_parse(opts, 2, 1, stray, err, sizeof err), -1);
    long v;
    cr_expect_eq(cli_long("batch", "12", 1, 100, &v, err, sizeof err), 0);
    cr_expect_eq(v, 12);
    cr_expect_eq(cli_long("batch", "12x", 1, 100, &v, err, sizeof err), -1);
    cr_expect_eq(cli_long("batch", "0", 1, 100, &v, err, sizeof err), -1);
    cr_expect(strstr(err, "--batch") != NULL, "%s", err);
}

Test(results, file_carries_provenance_runs_and_series)
{
    char path[] = "/tmp/subq_results_XXXXXX.h5", err[256], text[256];
    int fd = mkstemps(path, 3);
    cr_assert_geq(fd, 0);
    close(fd);
    Results r;
    ResultsMeta meta = {"unit", "smoke", 7, 2};
    cr_assert_eq(results_create(&r, path, &meta, err, sizeof err), 0, "%s", err);
    double series[3] = {1, 2, 3};
    results_run(&r, "point", "op=ffn,d_model=4");
    results_metric(&r, "point", "time_ms_median", 1.5);
    results_series(&r, "point", "seq_len", series, 3);
    cr_assert_eq(results_commit(&r, err, sizeof err), 0, "%s", err);
    H5File *f = h5io_open_read(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    const char *attrs[] = {"experiment", "profile", "git_commit", "date_utc", "cpu_model", "compiler",
                           "compiler_flags", "fftw_version", "openblas_config", "hdf5_version"};
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        cr_expect_eq(h5io_read_attr_str(f, "/", attrs[i], text, sizeof text), 0, "missing root attribute %s",
                     attrs[i]);
    double v;
    cr_expect_eq(h5io_read_attr_double(f, "/", "threads", &v), 0);
    cr_expect_eq(v, 2.0);
    cr_expect_eq(h5io_read_attr_double(f, "runs/point", "time_ms_median", &v), 0);
    cr_expect_eq(v, 1.5);
    cr_expect_eq(h5io_exists(f, "runs/point/seq_len"), 1);
    h5io_close(f);

    /* The text export gnuplot reads: a header of series names, then one row per point. */
    char outdir[] = "/tmp/subq_export_XXXXXX", dat[128], line[256];
    cr_assert_not_null(mkdtemp(outdir));
    cr_expect_eq(show_export(path, outdir, err, sizeof err), 1, "%s", err);
    snprintf(dat, sizeof dat, "%s/point.dat", outdir);
    FILE *fp = fopen(dat, "r");
    cr_assert_not_null(fp, "no %s", dat);
    cr_assert_not_null(fgets(line, sizeof line, fp));
    cr_expect_str_eq(line, "seq_len\n");
    cr_assert_not_null(fgets(line, sizeof line, fp));
    cr_expect_str_eq(line, "1\n");
    fclose(fp);
    unlink(dat);
    rmdir(outdir);
    unlink(path);
}

Test(results, a_failed_write_keeps_no_file)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "/tmp/subq_results_fail_%ld.h5", (long)getpid());
    Results r;
    ResultsMeta meta = {"unit", "smoke", 0, 1};
    cr_assert_eq(results_create(&r, path, &meta, err, sizeof err), 0, "%s", err);
    results_metric(&r, "no_such_run", "x", 1.0); /* the run group was never created: an error */
    cr_expect_eq(results_commit(&r, err, sizeof err), -1);
    cr_expect(strstr(err, "no_such_run") != NULL, "%s", err);
    cr_expect_neq(access(path, F_OK), 0, "a failed results file must not appear under its final name");
}

Test(benchop, refuses_to_allocate_beyond_the_memory_limit)
{
    Op op;
    char err[256];
    cr_assert_eq(op_configure(&op, "ffn", "d_model=64,d_hidden=256", err, sizeof err), 0, "%s", err);
    TimingPolicy once = timing_single_policy();
    BenchOpResult r;
    BenchOpStatus st = benchop_run(&op, 1, 4096, 1, &once, 1024, 0, &r, err, sizeof err);
    cr_expect_eq(st, BENCHOP_TOO_BIG);
    cr_expect(strstr(err, "limit") != NULL, "%s", err);
    st = benchop_run(&op, 1, 8, 1, &once, 0, 0, &r, err, sizeof err);
    cr_assert_eq(st, BENCHOP_OK, "%s", err);
    cr_expect_eq(r.flops_forward, op_flops(&op, 1, 8).forward);
    cr_expect_eq(r.forward.reps, 1);
    cr_expect_eq(r.training.reps, 1);
}

static void write_timed(const char *path, double scalar_ratio, double series_second)
{
    char err[256];
    Results r;
    ResultsMeta meta = {"unit", "smoke", 0, 1};
    cr_assert_eq(results_create(&r, path, &meta, err, sizeof err), 0, "%s", err);
    double series[2] = {1.0, series_second};
    results_run(&r, "op", "op=ffn");
    results_metric(&r, "op", "forward_calibration_ratio", scalar_ratio);
    results_series(&r, "op", "forward_backward_calibration_ratio", series, 2);
    cr_assert_eq(results_commit(&r, err, sizeof err), 0, "%s", err);
}

static void write_trained(const char *path, double val_loss, double curve_last, double seconds, double root_gap,
                          int threads)
{
    char err[256];
    Results r;
    ResultsMeta meta = {"unit", "smoke", 0, threads};
    cr_assert_eq(results_create(&r, path, &meta, err, sizeof err), 0, "%s", err);
    double curve[3] = {3.0, 2.5, curve_last};
    results_run(&r, "gpt", "mixer=attention");
    results_metric(&r, "gpt", "val_loss", val_loss);
    results_metric(&r, "gpt", "seconds", seconds);
    results_metric(&r, "gpt", "forward_ms_median", seconds * 10);
    results_series(&r, "gpt", "train_loss", curve, 3);
    results_root_metric(&r, "hyena_minus_gpt", root_gap);
    results_root_series(&r, "hyena_minus_gpt_by_seed", (double[]){root_gap, root_gap}, 2);
    cr_assert_eq(results_commit(&r, err, sizeof err), 0, "%s", err);
}

Test(compare, identical_ignores_timings_and_catches_any_changed_metric_or_series_value)
{
    char a[64], b[64], c[64], d[64], e[64], err[256];
    snprintf(a, sizeof a, "/tmp/subq_det_a_%ld.h5", (long)getpid());
    snprintf(b, sizeof b, "/tmp/subq_det_b_%ld.h5", (long)getpid());
    snprintf(c, sizeof c, "/tmp/subq_det_c_%ld.h5", (long)getpid());
    snprintf(d, sizeof d, "/tmp/subq_det_d_%ld.h5", (long)getpid());
    snprintf(e, sizeof e, "/tmp/subq_det_e_%ld.h5", (long)getpid());
    write_trained(a, 1.85, 2.0, 10.0, -1.1, 1);
    write_trained(b, 1.85, 2.0, 12.5, -1.1, 2);      /* only the clock and the threads differ */
    write_trained(c, 1.85, 2.0 + 1e-12, 10.0, -1.1, 1); /* one series value off below float precision */
    write_trained(d, 1.8500001, 2.0, 10.0, -1.1, 1); /* a metric off */
    write_trained(e, 1.85, 2.0, 10.0, -1.2, 1);      /* a root summary (and its series) off */
    FILE *sink = fopen("/dev/null", "w");
    cr_assert_not_null(sink);
    cr_expect_eq(compare_identical(a, b, sink, err, sizeof err), 0, "timings differ, metrics do not");
    cr_expect_eq(compare_identical(a, c, sink, err, sizeof err), 1);
    cr_expect_eq(compare_identical(a, d, sink, err, sizeof err), 1);
    cr_expect_eq(compare_identical(a, e, sink, err, sizeof err), 2);
    cr_expect_eq(compare_identical(a, "/nonexistent.h5", sink, err, sizeof err), -1);
    fclose(sink);
    unlink(a), unlink(b), unlink(c), unlink(d), unlink(e);
}

Test(compare, flags_only_slowdowns_beyond_the_threshold)
{
    char a[64], b[64], err[256];
    snprintf(a, sizeof a, "/tmp/subq_cmp_a_%ld.h5", (long)getpid());
    snprintf(b, sizeof b, "/tmp/subq_cmp_b_%ld.h5", (long)getpid());
    write_timed(a, 2.0, 3.0);
    write_timed(b, 2.4, 4.0); /* +20% (within 25%) and +33% (beyond) */
    FILE *sink = fopen("/dev/null", "w");
    cr_assert_not_null(sink);
    cr_expect_eq(compare_results((const char *[]){a}, 1, (const char *[]){b}, 1, 0.25, NULL, sink, err, sizeof err), 1);
    cr_expect_eq(compare_results((const char *[]){a}, 1, (const char *[]){b}, 1, 0.10, NULL, sink, err, sizeof err), 2);
    cr_expect_eq(compare_results((const char *[]){b}, 1, (const char *[]){a}, 1, 0.10, NULL, sink, err, sizeof err), 0, "speed-ups are not regressions");
    cr_expect_eq(compare_results((const char *[]){a}, 1, (const char *[]){"/nonexistent.h5"}, 1, 0.1, NULL, sink, err, sizeof err), -1);
    fclose(sink);
    unlink(a), unlink(b);
}

/* Repeated measurements: each metric takes its fastest repetition, so a slowdown counts only when every
 * repetition shows it (one noisy repetition does not), and a series point can come from another file than the
 * scalar. */
Test(compare, best_of_repetitions_ignores_one_slow_repetition)
{
    char a[64], b[64], c[64], d[64], err[256];
    snprintf(a, sizeof a, "/tmp/subq_best_a_%ld.h5", (long)getpid());
    snprintf(b, sizeof b, "/tmp/subq_best_b_%ld.h5", (long)getpid());
    snprintf(c, sizeof c, "/tmp/subq_best_c_%ld.h5", (long)getpid());
    snprintf(d, sizeof d, "/tmp/subq_best_d_%ld.h5", (long)getpid());
    write_timed(a, 2.0, 3.0);
    write_timed(b, 2.4, 4.0); /* series point +33% */
    write_timed(c, 3.0, 3.1); /* scalar +50%, series point +3% */
    write_timed(d, 2.6, 4.2); /* both slow */
    FILE *sink = fopen("/dev/null", "w");
    cr_assert_not_null(sink);
    cr_expect_eq(compare_results((const char *[]){a}, 1, (const char *[]){b, c}, 2, 0.25, NULL, sink, err, sizeof err), 0,
                 "best: scalar 2.4 (+20%%), point 3.1 (+3%%)");
    cr_expect_eq(compare_results((const char *[]){a}, 1, (const char *[]){b, d}, 2, 0.25, NULL, sink, err, sizeof err), 1,
                 "the point is slow in both repetitions");
    cr_expect_eq(compare_results((const char *[]){a}, 1, (const char *[]){c, d}, 2, 0.10, NULL, sink, err, sizeof err), 1, "scalar 2.6: +30%%");
    cr_expect_eq(compare_results((const char *[]){a}, 1, (const char *[]){b, "/nonexistent.h5"}, 2, 0.25, NULL, sink, err, sizeof err), -1);
    cr_expect_eq(compare_results((const char *[]){a}, 1, (const char *[]){b}, 0, 0.25, NULL, sink, err, sizeof err), -1);
    fclose(sink);
    unlink(a), unlink(b), unlink(c), unlink(d);
}

/* The A/B form (`subq compare BASE... --vs NEW...`, make perf-check): each side takes its own fastest
 * repetition, so a slow base repetition cannot hide a slowdown and a slow new one cannot invent one. */
Test(compare, both_sides_take_their_fastest_repetition)
{
    char a[64], b[64], c[64], err[256];
    snprintf(a, sizeof a, "/tmp/subq_ab_a_%ld.h5", (long)getpid());
    snprintf(b, sizeof b, "/tmp/subq_ab_b_%ld.h5", (long)getpid());
    snprintf(c, sizeof c, "/tmp/subq_ab_c_%ld.h5", (long)getpid());
    write_timed(a, 2.0, 3.0);
    write_timed(b, 2.4, 4.0);
    write_timed(c, 3.0, 3.1);
    FILE *sink = fopen("/dev/null", "w");
    cr_assert_not_null(sink);
    cr_expect_eq(compare_results((const char *[]){b, a}, 2, (const char *[]){c}, 1, 0.25, NULL, sink, err, sizeof err), 1,
                 "base best 2.0 / 3.0: the scalar 3.0 is +50%%, the point 3.1 +3%%");
    cr_expect_eq(compare_results((const char *[]){b, c}, 2, (const char *[]){a}, 1, 0.10, NULL, sink, err, sizeof err), 0,
                 "a faster new side is no regression");
    cr_expect_eq(compare_results((const char *[]){a}, 0, (const char *[]){b}, 1, 0.25, NULL, sink, err, sizeof err), -1);
    cr_expect_eq(compare_results((const char *[]){a}, 1, (const char *[]){c}, 1, 0.25, "_no_such_metric", sink, err, sizeof err), -1,
                 "nothing to compare is an error, not a pass");
    fclose(sink);
    unlink(a), unlink(b), unlink(c);
}

/* pair.h: the side-by-side statistics. Synthetic samplers return scripted times. */
typedef struct Script {
    const double *ms;
    int next;
} Script;

static int scripted(void *ctx, int reps, double *ms, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    Script *s = ctx;
    for (int i = 0; i < reps; i++)
        ms[i] = s->ms[s->next++];
    return 0;
}

static int failing(void *ctx, int reps, double *ms, char *err, size_t errlen)
{
    (void)ctx, (void)reps, (void)ms;
    snprintf(err, errlen, "peer died");
    return -1;
}

Test(pair, ratio_of_minima_spread_and_outcome)
{
    /* Warm-up first (discarded), then 3 rounds of 2 repetitions; rounds alternate A B, B A, A B. */
    const double a_ms[] = {99, 10, 11, 10, 12, 10, 10}, b_ms[] = {99, 20, 21, 15, 16, 30, 31};
    Script sa = {a_ms, 0}, sb = {b_ms, 0};
    PairSide a = {"subq", scripted, &sa}, b = {"torch", scripted, &sb};
    double ra[6], rb[6];
    PairStats st;
    char err[128], word[32];
    cr_assert_eq(pair_measure(&a, &b, 3, 2, ra, rb, &st, err, sizeof err), 0);
    cr_expect_float_eq(st.a.min_ms, 10.0, 1e-12);
    cr_expect_float_eq(st.b.min_ms, 15.0, 1e-12);
    cr_expect_float_eq(st.ratio, 1.5, 1e-12);
    cr_expect_float_eq(st.ratio_low, 1.5, 1e-12, "round 2: 15 / 10");
    cr_expect_float_eq(st.ratio_high, 3.0, 1e-12, "round 3: 30 / 10");
    cr_expect_eq(st.outcome, PAIR_A_FASTER);
    cr_expect_str_eq(pair_outcome_text(st.outcome, "subq", "torch", word, sizeof word), "subq faster");
    cr_expect_float_eq(ra[5], 10.0, 1e-12, "every repetition kept, in order");

    /* A spread that contains 1 is level, whichever way the ratio of minima points. */
    const double c_ms[] = {10, 12, 8, 11}, d_ms[] = {10, 13, 7, 10};
    pair_summarise(c_ms, d_ms, 4, 1, &st);
    cr_expect_float_eq(st.ratio, 7.0 / 8.0, 1e-12);
    cr_expect_eq(st.outcome, PAIR_LEVEL, "per-round ratios 1.0, 1.08, 0.875, 0.91 cross 1");
    pair_summarise(d_ms, c_ms, 1, 4, &st);
    cr_expect_eq(st.outcome, PAIR_A_FASTER, "one round: B's best 8 over A's best 7");
    pair_summarise(c_ms, d_ms, 1, 4, &st);
    cr_expect_eq(st.outcome, PAIR_B_FASTER, "one round: B's best 7 over A's best 8");
    cr_expect_str_eq(pair_outcome_text(PAIR_LEVEL, "subq", "torch", word, sizeof word), "level");

    PairSide broken = {"torch", failing, NULL};
    sa.next = 0;
    cr_expect_eq(pair_measure(&a, &broken, 3, 2, ra, rb, &st, err, sizeof err), -1);
    cr_expect_str_eq(err, "peer died");
    cr_expect_eq(pair_measure(&a, &b, 0, 2, ra, rb, &st, err, sizeof err), -1);
    cr_expect_eq(pair_reps_for(2.0, 50.0, 0.25), 5);
    cr_expect_eq(pair_reps_for(2000.0, 50.0, 0.25), 1);
    cr_expect_eq(pair_reps_for(0.0001, 0.0001, 0.25), 1000);
}

/* peerproc.h: the line protocol with a long-lived peer, here a shell script in place of PyTorch. A peer that
 * answers "error ..." or dies mid-run is an error with a message, never a crash (no SIGPIPE). */
Test(peerproc, requests_replies_errors_and_a_dead_peer)
{
    char script[64], reply[128], err[256];
    snprintf(script, sizeof script, "/tmp/subq_peer_%ld.sh", (long)getpid());
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f);
    fprintf(f, "while read cmd rest; do\n"
               "  case \"$cmd\" in\n"
               "    info) echo \"info torch=0.0 threads=$3 args=$1\";;\n"
               "    time) echo \"ms 1.5 2.5\";;\n"
               "    die) exit 3;;\n"
               "    *) echo \"error unknown request $cmd\";;\n"
               "  esac\n"
               "done\n");
    fclose(f);
    PeerProc *p = peerproc_start("/bin/sh", script, 2, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_expect_eq(peerproc_request(p, "info", reply, sizeof reply, err, sizeof err), 0);
    cr_expect_str_eq(reply, "info torch=0.0 threads=2 args=--serve");
    cr_expect_eq(peerproc_request(p, "time forward 2", reply, sizeof reply, err, sizeof err), 0);
    cr_expect_str_eq(reply, "ms 1.5 2.5");
    cr_expect_eq(peerproc_request(p, "bogus", reply, sizeof reply, err, sizeof err), -1);
    cr_expect_str_eq(err, "peer: unknown request bogus");
    cr_expect_eq(peerproc_request(p, "die", reply, sizeof reply, err, sizeof err), -1);
    cr_expect(strstr(err, "no reply") != NULL, "%s", err);
    cr_expect_eq(peerproc_request(p, "info", reply, sizeof reply, err, sizeof err), -1, "the peer is gone");
    peerproc_stop(p);
    /* A missing interpreter is a peer that dies at once: the first request says so. */
    p = peerproc_start("/nonexistent/python", script, 1, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_expect_eq(peerproc_request(p, "info", reply, sizeof reply, err, sizeof err), -1);
    peerproc_stop(p);
    unlink(script);
}

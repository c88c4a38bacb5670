/* subq: the command-line interface. The only code that prints to the user and chooses exit codes:
 * 0 success, 1 a run failed (out of memory, cannot write), 2 bad usage or bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchop.h"
#include "cli.h"
#include "comm.h"
#include "compare.h"
#include "data.h"
#include "fft.h"
#include "h5io.h"
#include "gemm.h"
#include "oprun.h"
#include "heatmap.h"
#include "report.h"
#include "reproduce.h"
#include "results.h"
#include "show.h"
#include "timing.h"
#include "generate_cli.h"
#include "train_cli.h"

#define EXIT_BAD_INPUT 2
#define EXIT_OUT_OF_MEMORY 1 /* every out-of-memory, as every other failure of the machine */
#define ERR_LEN 1024
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int usage(FILE *out)
{
    fprintf(out, "usage: subq COMMAND ...\n"
                 "  subq op list                                 operators and their config fields\n"
                 "  subq op spec --op NAME [--config K=V,...]     parameter names and shapes\n"
                 "  subq op run --op NAME [--config ...] --in IN.h5 --out OUT.h5 [--seed S]\n"
                 "  subq bench op --op NAME [--config ...] [--batch B] [--seq-len L] [--forward-only]\n"
                 "  subq train --model CFG --data NAME [--steps N] [--batch B] [--lr X] [--seed S] [--quiet]\n"
                 "             [--checkpoint F [--checkpoint-every N] [--resume]]  one LM training run\n"
                 "  subq generate --checkpoint F --prompt TEXT --tokens N [--temperature T] [--seed S]  text from a "
                 "trained LM\n"
                 "  subq reproduce [--profile smoke|default|paper] [--only EXPERIMENT [--points A,B]] [--force] [--list]\n"
                 "  subq results show FILE.h5                    a readable table of a results file\n"
                 "  subq results export FILE.h5 DIR              each run's series as DIR/<run>.dat (for gnuplot)\n"
                 "  subq results heatmap FILE.h5 DATASET OUT.png  a 2-D dataset as a PNG heat-map\n"
                 "  subq compare BASE.h5 NEW.h5... [--threshold F] timing regressions, best of the NEWs (exit 3 if any)\n"
                 "  subq compare BASE.h5... --vs NEW.h5... [--threshold F] [--metric SUFFIX]  the same, best of each side (A/B)\n"
                 "  subq compare --identical A.h5 B.h5             determinism: non-timing metrics equal (exit 3 if not)\n"
                 "  subq report [--results-dir results]          write results/REPORT.md from the results files\n"
                 "  subq report --readme-table | --check-readme README.md   the README's claims table\n"
                 "  subq data fetch|info NAME [--cache DIR]         datasets: " DATA_NAMES "\n"
                 "  subq version                                 build and library provenance\n"
                 "Every command takes --help.\n");
    return out == stderr ? EXIT_BAD_INPUT : 0;
}

static int fail(int code, const char *command, const char *msg)
{
    fprintf(stderr, "subq %s: %s\n", command, msg);
    return code;
}

/* Parses options or prints the one-line error; returns 0 when the command may go on. */
static int parse_or_complain(const char *command, CliOption *opts, int count, int argc, char **argv)
{
    char err[ERR_LEN];
    if (cli_parse(opts, count, argc, argv, err, sizeof err) != 0) {
        fail(EXIT_BAD_INPUT, command, err);
        return -1;
    }
    return 0;
}

static int cmd_op(int argc, char **argv)
{
    CliOption opts[] = {
        {"op", 1, "operator name (subq op list)", NULL},      {"config", 1, "k=v,... (defaults otherwise)", NULL},
        {"in", 1, "input HDF5 file", NULL},                   {"out", 1, "output HDF5 file", NULL},
        {"seed", 1, "seed for parameters absent from IN", NULL},
    };
    if (cli_wants_help(argc, argv))
        return cli_help("subq op list | subq op spec --op NAME [--config K=V,...] | subq op run --op NAME "
                        "[--config K=V,...] --in IN.h5 --out OUT.h5 [--seed S]",
                        opts, COUNT(opts));
    if (argc < 1)
        return fail(EXIT_BAD_INPUT, "op", "expected list, spec or run");
    const char *sub = argv[0];
    if (strcmp(sub, "list") != 0 && strcmp(sub, "spec") != 0 && strcmp(sub, "run") != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown subcommand '%.64s' (expected list, spec or run)", sub);
        return fail(EXIT_BAD_INPUT, "op", msg);
    }
    if (parse_or_complain("op", opts, COUNT(opts), argc - 1, argv + 1) != 0)
        return EXIT_BAD_INPUT;
    const char *name = cli_value(opts, COUNT(opts), "op"), *config = cli_value(opts, COUNT(opts), "config");
    char err[ERR_LEN];
    if (strcmp(sub, "list") == 0) {
        oprun_list(stdout);
        return 0;
    }
    if (!name)
        return fail(EXIT_BAD_INPUT, "op", "--op NAME is required (see `subq op list`)");
    config = config ? config : "";
    if (strcmp(sub, "spec") == 0) {
        int rc = oprun_spec(name, config, stdout, err, sizeof err);
        return rc ? fail(rc, "op spec", err) : 0;
    }
    const char *in = cli_value(opts, COUNT(opts), "in"), *out = cli_value(opts, COUNT(opts), "out");
    const char *seed_text = cli_value(opts, COUNT(opts), "seed");
    uint64_t seed = 0;
    if (!in || !out)
        return fail(EXIT_BAD_INPUT, "op run", "--in IN.h5 and --out OUT.h5 are required");
    if (seed_text && cli_u64("seed", seed_text, &seed, err, sizeof err) != 0)
        return fail(EXIT_BAD_INPUT, "op run", err);
    int rc = oprun_run(name, config, in, out, seed, err, sizeof err);
    return rc ? fail(rc, "op run", err) : 0;
}

static void print_bench(const char *label, const TimingStats *t, double gflops, double calib_gflops)
{
    printf("%-16s median %10.3f ms  min %10.3f ms  IQR %8.3f ms  reps %4d  %8.1f GFLOP/s (%.0f%% of sgemm)\n",
           label, t->median_ms, t->min_ms, t->iqr_ms, t->reps, gflops, 100.0 * gflops / calib_gflops);
}

static int bench_sizes(const CliOption *opts, int count, long *B, long *L, uint64_t *seed, char *err, size_t errlen)
{
    const char *b = cli_value(opts, count, "batch"), *l = cli_value(opts, count, "seq-len");
    const char *s = cli_value(opts, count, "seed");
    *B = 1, *L = 1024, *seed = 0;
    if ((b && cli_long("batch", b, 1, 1 << 20, B, err, errlen) != 0) ||
        (l && cli_long("seq-len", l, 1, 1 << 24, L, err, errlen) != 0) ||
        (s && cli_u64("seed", s, seed, err, errlen) != 0))
        return -1;
    return 0;
}

static int cmd_bench(int argc, char **argv)
{
    CliOption opts[] = {
        {"op", 1, "operator name", NULL},       {"config", 1, "k=v,...", NULL},
        {"batch", 1, "batch size (1)", NULL},   {"seq-len", 1, "sequence length (1024)", NULL},
        {"seed", 1, "seed (0)", NULL},          {"forward-only", 0, "skip forward+backward", NULL},
    };
    if (cli_wants_help(argc, argv))
        return cli_help("subq bench op --op NAME [--config K=V,...] [--batch B] [--seq-len L] [--forward-only]", opts,
                        COUNT(opts));
    if (argc < 1 || strcmp(argv[0], "op") != 0)
        return fail(EXIT_BAD_INPUT, "bench", "expected `subq bench op ...`");
    if (parse_or_complain("bench op", opts, COUNT(opts), argc - 1, argv + 1) != 0)
        return EXIT_BAD_INPUT;
    char err[ERR_LEN];
    long B, L;
    uint64_t seed;
    const char *name = cli_value(opts, COUNT(opts), "op"), *config = cli_value(opts, COUNT(opts), "config");
    if (!name)
        return fail(EXIT_BAD_INPUT, "bench op", "--op NAME is required");
    if (bench_sizes(opts, COUNT(opts), &B, &L, &seed, err, sizeof err) != 0)
        return fail(EXIT_BAD_INPUT, "bench op", err);
    Op op;
    if (op_configure(&op, name, config ? config : "", err, sizeof err) != 0 ||
        op_check_shape(&op, (int)B, (int)L, err, sizeof err) != 0) /* before the calibration's seconds */
        return fail(EXIT_BAD_INPUT, "bench op", err);
    int with_backward = !cli_value(opts, COUNT(opts), "forward-only");
    char what[96];
    snprintf(what, sizeof what, "%s at B=%ld L=%ld", name, B, L);
    if (timing_check_memory(opbuf_bytes(&op, (int)B, (int)L, with_backward), what, err, sizeof err) != 0)
        return fail(EXIT_OUT_OF_MEMORY, "bench op", err);
    TimingPolicy policy = timing_default_policy();
    TimingStats calib;
    double calib_gflops = timing_calibration_gflops(&policy, &calib);
    if (calib_gflops <= 0)
        return fail(EXIT_OUT_OF_MEMORY, "bench op", "out of memory for the calibration sgemm");
    char canon[1024];
    op_config_string(&op, canon, sizeof canon);
    printf("%s %s  B=%ld L=%ld\n", name, canon, B, L);
    print_bench("calibration", &calib, calib_gflops, calib_gflops);
    BenchOpResult r;
    BenchOpStatus st = benchop_run(&op, (int)B, (int)L, with_backward, &policy, 0, seed, &r, err, sizeof err);
    if (st != BENCHOP_OK)
        return fail(st == BENCHOP_TOO_BIG ? EXIT_OUT_OF_MEMORY : EXIT_BAD_INPUT, "bench op", err);
    print_bench("forward", &r.forward, r.gflops_forward, calib_gflops);
    if (with_backward)
        print_bench("forward+backward", &r.training, r.gflops_training, calib_gflops);
    printf("buffers %.3f GiB, peak RSS %.3f GiB\n", (double)r.buffer_bytes / (1u << 30),
           (double)r.peak_bytes / (1u << 30));
    return 0;
}

static void list_experiments(void)
{
    int count;
    const Experiment *all = repro_experiments(&count);
    for (int i = 0; i < count; i++)
        printf("%-16s %s\n", all[i].name, all[i].summary);
}

static int cmd_reproduce(int argc, char **argv, int threads)
{
    CliOption opts[] = {
        {"profile", 1, "smoke | default | paper", NULL}, {"only", 1, "run one experiment", NULL},
        {"force", 0, "rerun finished experiments", NULL}, {"list", 0, "list the experiments", NULL},
        {"quiet", 0, "no progress lines", NULL},           {"results-dir", 1, "where results go (results)", NULL},
        {"seed", 1, "seed (0)", NULL},
        {"points", 1, "with --only peers: only these points (comma-separated run names)", NULL},
        {"spread-timing", 0, "under MPI: the timing experiments one per rank at once (ranks on machines of their own)",
         NULL},
    };
    if (cli_wants_help(argc, argv))
        return cli_help("subq reproduce [--profile smoke|default|paper] [--only EXPERIMENT] [--force] [--list]", opts,
                        COUNT(opts));
    if (parse_or_complain("reproduce", opts, COUNT(opts), argc, argv) != 0)
        return EXIT_BAD_INPUT;
    char err[ERR_LEN];
    ReproContext ctx = {.profile = PROFILE_DEFAULT, .results_dir = "results", .threads = threads};
    const char *profile = cli_value(opts, COUNT(opts), "profile"), *dir = cli_value(opts, COUNT(opts), "results-dir");
    const char *seed = cli_value(opts, COUNT(opts), "seed");
    /* Every option is checked before anything runs, --list included. */
    if (profile && repro_profile_from_name(profile, &ctx.profile) != 0)
        return fail(EXIT_BAD_INPUT, "reproduce", "--profile must be smoke, default or paper");
    if (cli_value(opts, COUNT(opts), "list")) {
        if (seed && cli_u64("seed", seed, &ctx.seed, err, sizeof err) != 0)
            return fail(EXIT_BAD_INPUT, "reproduce", err);
        list_experiments();
        return 0;
    }
    if (seed && cli_u64("seed", seed, &ctx.seed, err, sizeof err) != 0)
        return fail(EXIT_BAD_INPUT, "reproduce", err);
    ctx.results_dir = dir ? dir : ctx.results_dir;
    ctx.quiet = cli_value(opts, COUNT(opts), "quiet") != NULL;
    const char *only = cli_value(opts, COUNT(opts), "only");
    if (only && !repro_find(only))
        return fail(EXIT_BAD_INPUT, "reproduce", "unknown experiment for --only (see `subq reproduce --list`)");
    ctx.spread_timing = cli_value(opts, COUNT(opts), "spread-timing") != NULL;
    ctx.points = cli_value(opts, COUNT(opts), "points");
    if (ctx.points && (!only || strcmp(only, "peers") != 0 || !*ctx.points))
        return fail(EXIT_BAD_INPUT, "reproduce", "--points needs --only peers and at least one point name");
    if (repro_run_all(&ctx, only, cli_value(opts, COUNT(opts), "force") != NULL, err, sizeof err) != 0)
        return fail(1, "reproduce", err);
    return 0;
}

/* A 2-D dataset of a results file as a PNG heat-map (rows top to bottom), scaled to a readable size. */
static int results_heatmap(const char *file, const char *dataset, const char *out)
{
    char err[ERR_LEN];
    H5File *f = h5io_open_read(file, err, sizeof err);
    if (!f)
        return fail(EXIT_BAD_INPUT, "results heatmap", err);
    H5Tensor t;
    int rc = h5io_read_tensor(f, dataset, &t, err, sizeof err);
    h5io_close(f);
    if (rc != 0)
        return fail(EXIT_BAD_INPUT, "results heatmap", err);
    if (t.ndim != 2) {
        h5io_tensor_free(&t);
        return fail(EXIT_BAD_INPUT, "results heatmap", "the dataset must be 2-D (rows, columns)");
    }
    int cell_w = t.shape[1] >= 800 ? 1 : 800 / t.shape[1], cell_h = t.shape[0] >= 400 ? 1 : 400 / t.shape[0];
    rc = heatmap_write_png(out, t.data, t.shape[0], t.shape[1], cell_h, cell_w, err, sizeof err);
    h5io_tensor_free(&t);
    return rc ? fail(1, "results heatmap", err) : 0;
}

static int cmd_results(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("subq results show FILE.h5 | subq results export FILE.h5 DIR | subq results heatmap FILE.h5 "
                        "DATASET OUT.png",
                        NULL, 0);
    char err[ERR_LEN];
    if (argc == 3 && strcmp(argv[0], "export") == 0) {
        int files = show_export(argv[1], argv[2], err, sizeof err);
        return files < 0 ? fail(EXIT_BAD_INPUT, "results export", err) : 0;
    }
    if (argc == 4 && strcmp(argv[0], "heatmap") == 0)
        return results_heatmap(argv[1], argv[2], argv[3]);
    if (argc != 2 || strcmp(argv[0], "show") != 0)
        return fail(EXIT_BAD_INPUT, "results", "expected `subq results show FILE.h5` or `subq results export FILE.h5 DIR`");
    if (show_results(argv[1], stdout, err, sizeof err) != 0)
        return fail(EXIT_BAD_INPUT, "results show", err);
    return 0;
}

#define EXIT_REGRESSION 3

static int cmd_compare(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("subq compare BASE.h5 NEW.h5... | subq compare BASE.h5... --vs NEW.h5... [--threshold F] "
                        "[--metric SUFFIX] | subq compare --identical A.h5 B.h5 (exit 3: a regression or a difference)",
                        NULL, 0);
    char err[ERR_LEN];
    if (argc >= 1 && strcmp(argv[0], "--identical") == 0) {
        if (argc != 3)
            return fail(EXIT_BAD_INPUT, "compare", "expected `subq compare --identical A.h5 B.h5`");
        int differences = compare_identical(argv[1], argv[2], stdout, err, sizeof err);
        if (differences < 0)
            return fail(EXIT_BAD_INPUT, "compare", err);
        return differences > 0 ? EXIT_REGRESSION : 0;
    }
    /* The positional arguments before the first option: BASE NEW..., or BASE... --vs NEW... */
    int files = 0, vs = -1;
    while (files < argc && (strncmp(argv[files], "--", 2) != 0 || (strcmp(argv[files], "--vs") == 0 && vs < 0)))
        vs = strcmp(argv[files], "--vs") == 0 ? files : vs, files++;
    int n_base = vs < 0 ? 1 : vs, n_new = vs < 0 ? files - 1 : files - vs - 1;
    if (n_base < 1 || n_new < 1)
        return fail(EXIT_BAD_INPUT, "compare",
                    "expected `subq compare BASE.h5 NEW.h5 [NEW2.h5 ...]` or `subq compare BASE.h5... --vs NEW.h5...`");
    CliOption opts[] = {{"threshold", 1, "relative slowdown that counts as a regression (0.25)", NULL},
                        {"metric", 1, "compare the metrics whose names end so (_calibration_ratio)", NULL}};
    if (parse_or_complain("compare", opts, COUNT(opts), argc - files, argv + files) != 0)
        return EXIT_BAD_INPUT;
    double threshold = 0.25;
    const char *t = cli_value(opts, COUNT(opts), "threshold");
    if (t && cli_double("threshold", t, 0.0, 100.0, &threshold, err, sizeof err) != 0)
        return fail(EXIT_BAD_INPUT, "compare", err);
    int regressions =
        compare_results((const char *const *)argv, n_base, (const char *const *)argv + (vs < 0 ? 1 : vs + 1), n_new,
                        threshold, cli_value(opts, COUNT(opts), "metric"), stdout, err, sizeof err);
    if (regressions < 0)
        return fail(EXIT_BAD_INPUT, "compare", err);
    return regressions > 0 ? EXIT_REGRESSION : 0;
}

static int cmd_report(int argc, char **argv)
{
    CliOption opts[] = {{"results-dir", 1, "results directory (results)", NULL},
                        {"published", 1, "published claims (baselines/published.tsv)", NULL},
                        {"readme-table", 0, "print the README's claims table instead of writing REPORT.md", NULL},
                        {"check-readme", 1, "compare README's claims table with the generated one (exit 3 if not)",
                         NULL}};
    if (cli_wants_help(argc, argv))
        return cli_help("subq report [--results-dir DIR] [--published TSV] [--readme-table | --check-readme README.md]",
                        opts, COUNT(opts));
    if (parse_or_complain("report", opts, COUNT(opts), argc, argv) != 0)
        return EXIT_BAD_INPUT;
    const char *dir = cli_value(opts, COUNT(opts), "results-dir"), *pub = cli_value(opts, COUNT(opts), "published");
    const char *readme = cli_value(opts, COUNT(opts), "check-readme");
    dir = dir ? dir : "results";
    pub = pub ? pub : "baselines/published.tsv";
    char out[1024], err[ERR_LEN], diff[2048];
    if (cli_value(opts, COUNT(opts), "readme-table"))
        return report_readme_table(pub, dir, stdout, err, sizeof err) == 0 ? 0 : fail(EXIT_BAD_INPUT, "report", err);
    if (readme) {
        int rc = report_readme_check(readme, pub, dir, diff, sizeof diff, err, sizeof err);
        if (rc < 0)
            return fail(EXIT_BAD_INPUT, "report", err);
        if (rc > 0)
            fprintf(stderr, "subq report: %s's claims table differs from `subq report --readme-table --results-dir "
                            "%s` (first difference: %s)\n", readme, dir, diff);
        return rc > 0 ? EXIT_REGRESSION : 0;
    }
    snprintf(out, sizeof out, "%s/REPORT.md", dir);
    if (report_write(pub, dir, out, err, sizeof err) != 0)
        return fail(1, "report", err);
    printf("report: %s\n", out);
    return 0;
}

static int cmd_data(int argc, char **argv)
{
    CliOption opts[] = {{"cache", 1, "cache directory (" DATA_CACHE_DIR ")", NULL}};
    if (cli_wants_help(argc, argv))
        return cli_help("subq data info|fetch NAME [--cache DIR]  (NAME: " DATA_NAMES ")", opts, COUNT(opts));
    if (argc < 2 || (strcmp(argv[0], "info") != 0 && strcmp(argv[0], "fetch") != 0))
        return fail(EXIT_BAD_INPUT, "data", "expected `subq data info NAME` or `subq data fetch NAME` (" DATA_NAMES ")");
    if (parse_or_complain("data", opts, COUNT(opts), argc - 2, argv + 2) != 0)
        return EXIT_BAD_INPUT;
    const char *cache = cli_value(opts, COUNT(opts), "cache");
    cache = cache ? cache : DATA_CACHE_DIR;
    char err[ERR_LEN];
    int rc = strcmp(argv[0], "info") == 0 ? data_info(argv[1], cache, stdout, err, sizeof err)
                                          : data_fetch(argv[1], cache, NULL, stdout, err, sizeof err);
    return rc ? fail(rc, argv[0][0] == 'i' ? "data info" : "data fetch", err) : 0;
}

static int cmd_version(int threads)
{
    char commit[128], cpu[256];
    int dirty;
    results_git_commit(commit, sizeof commit, &dirty);
    results_cpu_model(cpu, sizeof cpu);
    char mpi[256];
    printf("subq        %s%s\ncompiler    gcc %s\ncpu         %s\nthreads     %d\nfftw        %s (%s)\nopenblas    %s "
           "(%s)\nmpi         %s, %d rank%s\n",
           commit, dirty ? " (dirty)" : "", __VERSION__, cpu, threads, fft_version(), fft_planner(), gemm_blas_config(),
           gemm_blas_is_openmp() ? "OpenMP build" : "NOT the OpenMP build", comm_library_version(mpi, sizeof mpi),
           comm_size(), comm_size() == 1 ? "" : "s");
    return 0;
}

static int run_command(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    char err[ERR_LEN];
    int threads = timing_setup_threads(err, sizeof err);
    if (threads < 0)
        return fail(EXIT_BAD_INPUT, argv[1], err);
    const char *command = argv[1];
    if (comm_size() > 1 && strcmp(command, "train") != 0 && strcmp(command, "reproduce") != 0 &&
        strcmp(command, "version") != 0)
        return fail(EXIT_BAD_INPUT, command,
                    "runs on one process: under an MPI launcher only `train` and `reproduce` use the ranks (more "
                    "ranks would each write the same outputs)");
    if (strcmp(command, "op") == 0)
        return cmd_op(argc - 2, argv + 2);
    if (strcmp(command, "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    if (strcmp(command, "reproduce") == 0)
        return cmd_reproduce(argc - 2, argv + 2, threads);
    if (strcmp(command, "train") == 0)
        return train_cli(argc - 2, argv + 2);
    if (strcmp(command, "generate") == 0)
        return generate_cli(argc - 2, argv + 2);
    if (strcmp(command, "data") == 0)
        return cmd_data(argc - 2, argv + 2);
    if (strcmp(command, "report") == 0)
        return cmd_report(argc - 2, argv + 2);
    if (strcmp(command, "compare") == 0)
        return cmd_compare(argc - 2, argv + 2);
    if (strcmp(command, "results") == 0)
        return cmd_results(argc - 2, argv + 2);
    if (strcmp(command, "version") == 0)
        return cli_wants_help(argc - 2, argv + 2) ? cli_help("subq version", NULL, 0) : cmd_version(threads);
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0)
        return usage(stdout);
    fprintf(stderr, "subq: unknown command '%s'\n", command);
    return usage(stderr);
}

/* Under an MPI launcher every rank runs the command; a rank that fails ends the whole job (comm_abort) after
 * its one-line error, so the others never wait for it in a collective (docs/DESIGN.md section 10). */
int main(int argc, char **argv)
{
    char err[ERR_LEN];
    if (comm_init(&argc, &argv, err, sizeof err) != 0)
        return fail(EXIT_OUT_OF_MEMORY, "mpi", err);
    int rc = run_command(argc, argv);
    if (rc != 0 && comm_world_size() > 1) {
        comm_solo(0);
        fprintf(stderr, "subq: rank %d of %d failed (exit %d); ending the job\n", comm_world_rank(), comm_world_size(),
                rc);
        comm_abort(rc);
    }
    comm_finalize();
    return rc;
}

/* driver: a deterministic mutation fuzzer for machines without libFuzzer. It runs every input of the corpus
 * folders, then for SECONDS applies random mutations (bit flips, byte sets, interesting values, inserts, deletes,
 * duplications, splices, truncations) to corpus inputs, seeded, with no coverage feedback. Before the process
 * dies of a sanitizer report, an abort or a signal, the input being run is written to ARTIFACT_DIR/crash-<n>.
 * usage: driver SECONDS SEED ARTIFACT_DIR CORPUS_DIR... */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sanitizer/common_interface_defs.h>

#include "dataio.h"
#include "rng.h"

#define MAX_INPUT 16384
#define MAX_CORPUS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the crash handlers need: the input being run (test-harness state, not library state). */
static const uint8_t *g_current;
static size_t g_current_len;
static char g_artifact_dir[1024];

static void save_current(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/crash-%zu-%08lx", g_artifact_dir, g_current_len, (unsigned long)time(NULL));
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(g_current, 1, g_current_len, f);
        fclose(f);
        fprintf(stderr, "driver: crashing input written to %s\n", path);
    }
}

static void on_signal(int sig)
{
    save_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const uint8_t *data, size_t len)
{
    g_current = data, g_current_len = len;
    LLVMFuzzerTestOneInput(data, len);
}

typedef struct Corpus {
    int n;
    uint8_t *data[MAX_CORPUS];
    size_t len[MAX_CORPUS];
} Corpus;

static void load_dir(Corpus *c, const char *dir)
{
    char **names, err[512], path[DATAIO_PATH_LEN];
    int count;
    if (dataio_list_dir(dir, DATAIO_LIST_FILES, NULL, &names, &count, err, sizeof err) != 0)
        return;
    for (int i = 0; i < count && c->n < MAX_CORPUS; i++) {
        uint8_t *data;
        size_t len;
        if (dataio_join(path, sizeof path, dir, names[i], err, sizeof err) == 0 &&
            dataio_read_file(path, MAX_INPUT, &data, &len, err, sizeof err) == 0)
            c->data[c->n] = data, c->len[c->n++] = len;
    }
    dataio_free_list(names, count);
}

/* Replaces buf[pos, ...) by the tail of another corpus input: crosses over two valid structures. */
static size_t splice(Rng *rng, uint8_t *buf, size_t pos, const Corpus *c)
{
    int other = (int)rng_below(rng, (uint32_t)c->n);
    size_t from = c->len[other] ? rng_below(rng, (uint32_t)c->len[other]) : 0, take = c->len[other] - from;
    take = pos + take > MAX_INPUT ? MAX_INPUT - pos : take;
    memcpy(buf + pos, c->data[other] + from, take);
    return pos + take;
}

/* One random edit of buf[0, *len) (capacity MAX_INPUT). */
static void mutate(Rng *rng, uint8_t *buf, size_t *len, const Corpus *c)
{
    static const uint8_t interesting[] = {0, 1, 9, 10, 0x7f, 0x80, 0xc0, 0xe0, 0xf0, 0xff, 0xd8, 0xd9, 0xc4, 0xda};
    size_t n = *len, pos = n ? rng_below(rng, (uint32_t)n) : 0;
    size_t span = n ? 1 + rng_below(rng, (uint32_t)(n - pos)) : 0; /* 1 .. n - pos */
    switch (rng_below(rng, 8)) {
    case 0: /* flip a bit */
        buf[pos] ^= n ? (uint8_t)(1u << rng_below(rng, 8)) : 0;
        break;
    case 1: /* a random byte */
        buf[pos] = n ? (uint8_t)rng_next(rng) : buf[pos];
        break;
    case 2: /* a value parsers care about: labels 9/10, UTF-8 lead bytes, JPEG markers */
        buf[pos] = n ? interesting[rng_below(rng, sizeof interesting)] : buf[pos];
        break;
    case 3: /* insert a byte */
        if (n < MAX_INPUT) {
            memmove(buf + pos + 1, buf + pos, n - pos);
            buf[pos] = (uint8_t)rng_next(rng), *len = n + 1;
        }
        break;
    case 4: /* delete a range */
        memmove(buf + pos, buf + pos + span, n - pos - span), *len = n - span;
        break;
    case 5: /* duplicate a range */
        if (n + span <= MAX_INPUT)
            memmove(buf + pos + span, buf + pos, n - pos), *len = n + span;
        break;
    case 6:
        *len = splice(rng, buf, pos, c);
        break;
    default: /* truncate */
        *len = n ? rng_below(rng, (uint32_t)n + 1) : 0;
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s SECONDS SEED ARTIFACT_DIR CORPUS_DIR...\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[1]);
    Rng rng;
    rng_init(&rng, strtoull(argv[2], NULL, 10));
    snprintf(g_artifact_dir, sizeof g_artifact_dir, "%s", argv[3]);
    __sanitizer_set_death_callback(save_current);
    signal(SIGSEGV, on_signal), signal(SIGABRT, on_signal), signal(SIGBUS, on_signal), signal(SIGFPE, on_signal);
    static Corpus corpus;
    for (int i = 4; i < argc; i++)
        load_dir(&corpus, argv[i]);
    if (corpus.n == 0)
        corpus.data[0] = calloc(1, 1), corpus.len[0] = 1, corpus.n = 1;
    for (int i = 0; i < corpus.n; i++)
        run_one(corpus.data[i], corpus.len[i]);
    static uint8_t buf[MAX_INPUT];
    long runs = corpus.n;
    time_t start = time(NULL);
    while (difftime(time(NULL), start) < seconds) {
        for (int batch = 0; batch < 256; batch++, runs++) {
            int base = (int)rng_below(&rng, (uint32_t)corpus.n);
            size_t len = corpus.len[base];
            memcpy(buf, corpus.data[base], len);
            for (int edits = 1 + (int)rng_below(&rng, 8); edits > 0; edits--)
                mutate(&rng, buf, &len, &corpus);
            run_one(buf, len);
        }
    }
    fprintf(stderr, "driver: %ld runs in %.0f s over %d corpus inputs, no crash\n", runs, difftime(time(NULL), start),
            corpus.n);
    return 0;
}

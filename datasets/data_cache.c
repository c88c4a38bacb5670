/* data_cache: choosing the sources, checking cache entries, and loading data sets from the cache by name. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "data_known.h"
#include "data_private.h"
#include "manifest.h"

/* An absolute path in SOURCE files and messages says unambiguously which mirror was used. */
static void set_mirror(DataSources *src, const char *dir)
{
    char resolved[PATH_MAX];
    snprintf(src->mirror, sizeof src->mirror, "%s", realpath(dir, resolved) ? resolved : dir);
}

void data_sources_from_env(DataSources *src)
{
    memset(src, 0, sizeof *src);
    const char *mirror = getenv("SUBQ_DATA_MIRROR"), *offline = getenv("SUBQ_DATA_OFFLINE");
    src->offline = offline && strcmp(offline, "1") == 0;
    if (mirror && *mirror && strcmp(mirror, "none") != 0) {
        set_mirror(src, mirror);
        snprintf(src->mirror_why, sizeof src->mirror_why, "SUBQ_DATA_MIRROR");
    } else if (mirror && strcmp(mirror, "none") == 0) {
        snprintf(src->mirror_why, sizeof src->mirror_why, "SUBQ_DATA_MIRROR=none");
    } else if (dataio_is_dir(DATA_DEFAULT_MIRROR)) {
        set_mirror(src, DATA_DEFAULT_MIRROR);
        snprintf(src->mirror_why, sizeof src->mirror_why, "the default, %s", DATA_DEFAULT_MIRROR);
    } else {
        snprintf(src->mirror_why, sizeof src->mirror_why, "SUBQ_DATA_MIRROR unset and no %s", DATA_DEFAULT_MIRROR);
    }
}

/* Reads and re-hashes the manifest of dir and requires SOURCE: the common part of every cache check. */
static int check_common(const char *dir, Manifest *m, char *source, size_t source_len, char *err, size_t errlen)
{
    char origin[CIFAR_SOURCE_LEN];
    if (!dataio_is_dir(dir)) {
        snprintf(err, errlen, "%s: not in the cache", dir);
        return -1;
    }
    int rc = manifest_read(dir, m, err, errlen);
    if (rc > 0)
        snprintf(err, errlen, "%s: no %s (an incomplete cache entry)", dir, MANIFEST_FILE);
    if (rc != 0)
        return -1;
    manifest_read_source(dir, source, source_len, origin, sizeof origin);
    if (strcmp(source, "unknown") == 0) {
        snprintf(err, errlen, "%s: no %s file (an incomplete cache entry)", dir, MANIFEST_SOURCE_FILE);
        manifest_free(m);
        return -1;
    }
    if (manifest_verify(dir, m, err, errlen) != 0) {
        manifest_free(m);
        return -1;
    }
    return 0;
}

static int check_cifar(const char *dir, const Manifest *m, const char *source, char *err, size_t errlen)
{
    static const char *const official[CIFAR_TRAIN_FILES + 1] = KNOWN_CIFAR_OFFICIAL_SHA256;
    for (int i = 0; i <= CIFAR_TRAIN_FILES; i++) {
        const char *name = i < CIFAR_TRAIN_FILES ? cifar_file_name(CIFAR_TRAIN, i) : cifar_file_name(CIFAR_TEST, 0);
        const char *sha = manifest_lookup(m, name);
        if (!sha) {
            snprintf(err, errlen, "%s: %s is not in %s", dir, name, MANIFEST_FILE);
            return -1;
        }
        if (strcmp(source, KNOWN_SOURCE_OFFICIAL) == 0 && strcmp(sha, official[i]) != 0) {
            snprintf(err, errlen, "%s/%s: sha256 %s is not that of the official file (%s)", dir, name, sha,
                     official[i]);
            return -1;
        }
    }
    return 0;
}

static int check_known(const char *dir, const Manifest *m, const char *name, char *err, size_t errlen)
{
    char digest[SHA256_HEX_LEN];
    if (strcmp(name, KNOWN_SHAKESPEARE_DIR) == 0) {
        const char *sha = manifest_lookup(m, KNOWN_SHAKESPEARE_FILE);
        if (!sha || strcmp(sha, KNOWN_SHAKESPEARE_SHA256) != 0) {
            snprintf(err, errlen, "%s/%s: sha256 %s is not tiny Shakespeare's %s", dir, KNOWN_SHAKESPEARE_FILE,
                     sha ? sha : "(not in the manifest)", KNOWN_SHAKESPEARE_SHA256);
            return -1;
        }
        return 0;
    }
    manifest_digest(m, digest);
    if (strcmp(digest, KNOWN_SOTU_DIGEST) != 0) {
        snprintf(err, errlen, "%s: the %d speeches have digest %s, not the State of the Union corpus's %s", dir,
                 m->count, digest, KNOWN_SOTU_DIGEST);
        return -1;
    }
    return 0;
}

int data_check_dir(const char *name, const char *dir, char *err, size_t errlen)
{
    char source[CIFAR_SOURCE_LEN];
    Manifest m;
    int is_cifar = strcmp(name, KNOWN_CIFAR_DIR) == 0;
    if (!is_cifar && strcmp(name, KNOWN_SHAKESPEARE_DIR) != 0 && strcmp(name, KNOWN_SOTU_DIR) != 0) {
        snprintf(err, errlen, "%s: not a cached data set (cached: cifar10, tinyshakespeare, sotu)", name);
        return -1;
    }
    if (check_common(dir, &m, source, sizeof source, err, errlen) != 0)
        return -1;
    int rc = is_cifar ? check_cifar(dir, &m, source, err, errlen) : check_known(dir, &m, name, err, errlen);
    manifest_free(&m);
    return rc;
}

int data_cache_check(const char *name, const char *cache_dir, char *err, size_t errlen)
{
    char dir[DATAIO_PATH_LEN];
    if (dataio_join(dir, sizeof dir, cache_dir, name, err, errlen) != 0)
        return -1;
    return data_check_dir(name, dir, err, errlen);
}

int data_load_cifar(const char *cache_dir, CifarSplit split, CifarSet *out, char *err, size_t errlen)
{
    char dir[DATAIO_PATH_LEN], path[DATAIO_PATH_LEN];
    memset(out, 0, sizeof *out);
    if (dataio_join(dir, sizeof dir, cache_dir, KNOWN_CIFAR_DIR, err, errlen) != 0 ||
        dataio_join(path, sizeof path, dir, MANIFEST_FILE, err, errlen) != 0)
        return -1;
    /* cifar_load re-hashes each batch against the manifest as it reads it; here only require that there is one. */
    if (!dataio_is_file(path)) {
        snprintf(err, errlen, "%s: CIFAR-10 is not in the cache (or the entry is incomplete); run `make datasets` "
                 "(or `subq data fetch cifar10`)", dir);
        return -1;
    }
    return cifar_load(dir, split, out, err, errlen);
}

int data_wikitext_dir(const char *name, char *dir, size_t dirlen, char *err, size_t errlen)
{
    const char *env = getenv("SUBQ_WIKITEXT_DIR");
    if (strncmp(name, "wikitext103:", 12) == 0 && name[12]) {
        snprintf(dir, dirlen, "%s", name + 12);
        return 0;
    }
    if (strcmp(name, "wikitext103") == 0 && env && *env) {
        snprintf(dir, dirlen, "%s", env);
        return 0;
    }
    snprintf(err, errlen, "wikitext103: name the folder holding wiki.train.raw, wiki.valid.raw and wiki.test.raw, as "
             "wikitext103:DIR or with SUBQ_WIKITEXT_DIR=DIR (WikiText-103 is not mirrored)");
    return -1;
}

int data_load_text(const char *name, const char *cache_dir, TextDataset *out, char *err, size_t errlen)
{
    char dir[DATAIO_PATH_LEN], path[DATAIO_PATH_LEN], origin[TEXT_SOURCE_LEN];
    memset(out, 0, sizeof *out);
    if (strncmp(name, "wikitext103", 11) == 0)
        return data_wikitext_dir(name, dir, sizeof dir, err, errlen) != 0 ? -1
                                                                           : text_load_wikitext(dir, out, err, errlen);
    int shakespeare = strcmp(name, KNOWN_SHAKESPEARE_DIR) == 0;
    if (!shakespeare && strcmp(name, KNOWN_SOTU_DIR) != 0) {
        snprintf(err, errlen, "%s: not a text data set (tinyshakespeare, sotu, wikitext103[:DIR])", name);
        return -1;
    }
    if (data_cache_check(name, cache_dir, err, errlen) != 0) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - used, "; run `make datasets` (or `subq data fetch %s`)", name);
        return -1;
    }
    if (dataio_join(dir, sizeof dir, cache_dir, name, err, errlen) != 0 ||
        dataio_join(path, sizeof path, dir, KNOWN_SHAKESPEARE_FILE, err, errlen) != 0)
        return -1;
    int rc = shakespeare ? text_load_shakespeare(path, out, err, errlen) : text_load_sotu(dir, out, err, errlen);
    if (rc == 0) {
        char kind[64];
        manifest_read_source(dir, kind, sizeof kind, origin, sizeof origin);
        snprintf(out->source, sizeof out->source, "%.63s: %.440s", kind, origin);
    }
    return rc;
}

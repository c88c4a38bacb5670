#include "manifest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataio.h"

#define MANIFEST_MAX_BYTES ((size_t)MANIFEST_MAX_ENTRIES * (MANIFEST_NAME_LEN + 70))
#define ENTRY_LINE_MAX (MANIFEST_NAME_LEN + 70)

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const ManifestEntry *)a)->name, ((const ManifestEntry *)b)->name);
}

char *manifest_format(const Manifest *m, size_t *len)
{
    char *text = malloc((size_t)m->count * ENTRY_LINE_MAX + 1);
    if (!text)
        return NULL;
    size_t used = 0;
    for (int i = 0; i < m->count; i++)
        used += (size_t)sprintf(text + used, "%s  %s\n", m->entries[i].sha256, m->entries[i].name);
    text[used] = '\0';
    *len = used;
    return text;
}

int manifest_create(const char *dir, char *const names[], int count, Manifest *out, char *err, size_t errlen)
{
    out->count = 0;
    if (count < 0 || count > MANIFEST_MAX_ENTRIES || !(out->entries = calloc((size_t)(count ? count : 1),
                                                                              sizeof *out->entries))) {
        snprintf(err, errlen, "%s: cannot build a manifest of %d files", dir, count);
        return -1;
    }
    char path[DATAIO_PATH_LEN];
    for (int i = 0; i < count; i++) {
        ManifestEntry *e = &out->entries[i];
        if (strlen(names[i]) >= sizeof e->name || dataio_join(path, sizeof path, dir, names[i], err, errlen) != 0 ||
            sha256_file(path, e->sha256, NULL, err, errlen) != 0) {
            if (strlen(names[i]) >= sizeof e->name)
                snprintf(err, errlen, "%s/%s: file name too long for the manifest", dir, names[i]);
            manifest_free(out);
            return -1;
        }
        snprintf(e->name, sizeof e->name, "%s", names[i]);
        out->count = i + 1;
    }
    qsort(out->entries, (size_t)count, sizeof *out->entries, compare_entries);
    size_t len = 0;
    char *text = manifest_format(out, &len);
    int rc = text && dataio_join(path, sizeof path, dir, MANIFEST_FILE, err, errlen) == 0 &&
                     dataio_write_file(path, text, len, err, errlen) == 0
                 ? 0
                 : -1;
    if (!text)
        snprintf(err, errlen, "%s: out of memory writing the manifest", dir);
    free(text);
    if (rc != 0)
        manifest_free(out);
    return rc;
}

static int is_hex_digest(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* One "hex  name" line (without its newline) into e; 0 or -1. */
static int parse_line(const char *line, size_t len, ManifestEntry *e)
{
    if (len < 67 || len - 66 >= sizeof e->name || !is_hex_digest(line) || line[64] != ' ' || line[65] != ' ')
        return -1;
    memcpy(e->sha256, line, 64);
    e->sha256[64] = '\0';
    memcpy(e->name, line + 66, len - 66);
    e->name[len - 66] = '\0';
    return strchr(e->name, '/') || strlen(e->name) != len - 66 ? -1 : 0;
}

int manifest_parse(const char *text, size_t len, const char *path, Manifest *out, char *err, size_t errlen)
{
    int lines = 0;
    out->count = 0, out->entries = NULL;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (len > 0 && text[len - 1] != '\n') {
        snprintf(err, errlen, "%s: truncated (no newline at the end)", path);
        return -1;
    }
    if (!(out->entries = calloc((size_t)(lines ? lines : 1), sizeof *out->entries))) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    const char *p = text;
    for (int i = 0; i < lines; i++) {
        const char *nl = memchr(p, '\n', len - (size_t)(p - text));
        if (parse_line(p, (size_t)(nl - p), &out->entries[i]) != 0 ||
            (i > 0 && strcmp(out->entries[i - 1].name, out->entries[i].name) >= 0)) {
            snprintf(err, errlen, "%s: line %d is not \"<sha256>  <name>\" in sorted order", path, i + 1);
            manifest_free(out);
            return -1;
        }
        p = nl + 1;
    }
    out->count = lines;
    return 0;
}

int manifest_read(const char *dir, Manifest *out, char *err, size_t errlen)
{
    char path[DATAIO_PATH_LEN];
    out->count = 0, out->entries = NULL;
    if (dataio_join(path, sizeof path, dir, MANIFEST_FILE, err, errlen) != 0)
        return -1;
    if (!dataio_is_file(path))
        return 1;
    uint8_t *text = NULL;
    size_t len = 0;
    if (dataio_read_file(path, MANIFEST_MAX_BYTES, &text, &len, err, errlen) != 0)
        return -1;
    int rc = manifest_parse((const char *)text, len, path, out, err, errlen);
    free(text);
    return rc;
}

void manifest_free(Manifest *m)
{
    free(m->entries);
    m->entries = NULL, m->count = 0;
}

const char *manifest_lookup(const Manifest *m, const char *name)
{
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->entries[i].name, name) == 0)
            return m->entries[i].sha256;
    return NULL;
}

/* Every entry of dir must be listed (besides the manifest and SOURCE): a file added to a verified corpus
 * would be loaded with it. */
static int verify_no_extra(const char *dir, const Manifest *m, char *err, size_t errlen)
{
    char **names;
    int n;
    if (dataio_list_dir(dir, DATAIO_LIST_FILES | DATAIO_LIST_DIRS, NULL, &names, &n, err, errlen) != 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        if (strcmp(names[i], MANIFEST_FILE) != 0 && strcmp(names[i], MANIFEST_SOURCE_FILE) != 0 &&
            !manifest_lookup(m, names[i])) {
            snprintf(err, errlen, "%s/%s: not listed in %s (the directory is not what was verified; remove the "
                                  "entry or rebuild the cache with `subq data fetch`)", dir, names[i], MANIFEST_FILE);
            rc = -1;
        }
    dataio_free_list(names, n);
    return rc;
}

int manifest_verify(const char *dir, const Manifest *m, char *err, size_t errlen)
{
    char path[DATAIO_PATH_LEN], hex[SHA256_HEX_LEN];
    if (verify_no_extra(dir, m, err, errlen) != 0)
        return -1;
    for (int i = 0; i < m->count; i++) {
        if (dataio_join(path, sizeof path, dir, m->entries[i].name, err, errlen) != 0 ||
            sha256_file(path, hex, NULL, err, errlen) != 0)
            return -1;
        if (strcmp(hex, m->entries[i].sha256) != 0) {
            snprintf(err, errlen, "%s: sha256 %s does not match %s in %s/%s", path, hex, m->entries[i].sha256, dir,
                     MANIFEST_FILE);
            return -1;
        }
    }
    return 0;
}

void manifest_digest(const Manifest *m, char hex[SHA256_HEX_LEN])
{
    size_t len = 0;
    char *text = manifest_format(m, &len);
    if (!text) { /* a digest nobody can match: callers compare it with a known one */
        snprintf(hex, SHA256_HEX_LEN, "%s", "out-of-memory");
        return;
    }
    sha256_hex(text, len, hex);
    free(text);
}

int manifest_write_source(const char *dir, const char *source, const char *origin, char *err, size_t errlen)
{
    char path[DATAIO_PATH_LEN], text[2 * DATAIO_PATH_LEN];
    if (dataio_join(path, sizeof path, dir, MANIFEST_SOURCE_FILE, err, errlen) != 0)
        return -1;
    int len = snprintf(text, sizeof text, "source: %s\norigin: %s\n", source, origin);
    return dataio_write_file(path, text, (size_t)len < sizeof text ? (size_t)len : sizeof text - 1, err, errlen);
}

/* Copies the value of "key: value" from text into out (up to the end of the line). */
static void source_value(const char *text, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) != 0 || p[klen] != ':')
            continue;
        const char *v = p + klen + 1;
        v += *v == ' ';
        size_t n = strcspn(v, "\n");
        snprintf(out, outlen, "%.*s", (int)n, v);
        return;
    }
}

void manifest_parse_source(const char *text, char *source, size_t source_len, char *origin, size_t origin_len)
{
    source_value(text, "source", source, source_len);
    source_value(text, "origin", origin, origin_len);
}

void manifest_read_source(const char *dir, char *source, size_t source_len, char *origin, size_t origin_len)
{
    char path[DATAIO_PATH_LEN], err[256];
    uint8_t *text = NULL;
    size_t len = 0;
    snprintf(source, source_len, "unknown");
    snprintf(origin, origin_len, "%s", "");
    if (dataio_join(path, sizeof path, dir, MANIFEST_SOURCE_FILE, err, sizeof err) != 0 || !dataio_is_file(path) ||
        dataio_read_file(path, 1 << 16, &text, &len, err, sizeof err) != 0)
        return;
    manifest_parse_source((const char *)text, source, source_len, origin, origin_len);
    free(text);
}

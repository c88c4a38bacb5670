#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finds choice `value` (length n) in "a|b|c"; returns its index or -1. */
static int choice_index(const char *choices, const char *value, size_t n)
{
    int index = 0;
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return index;
        index++;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

const char *config_choice(const ConfigField *field, int index)
{
    static _Thread_local char buf[64]; /* documented cache: the last name looked up, per thread */
    const char *p = field->choices;
    for (int i = 0; p && *p; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (i == index) {
            snprintf(buf, sizeof buf, "%.*s", (int)len, p);
            return buf;
        }
        if (!bar)
            break;
        p = bar + 1;
    }
    return "?";
}

static int set_field(const ConfigField *f, const char *value, size_t n, void *cfg, char *err, size_t errlen)
{
    char text[128];
    if (n == 0 || n >= sizeof text) {
        snprintf(err, errlen, "config: bad value for '%s'", f->name);
        return -1;
    }
    memcpy(text, value, n);
    text[n] = '\0';
    char *end = NULL;
    errno = 0;
    if (f->type == CONFIG_INT) {
        long v = strtol(text, &end, 10);
        if (*end != '\0' || errno != 0 || v < -2147483647L || v > 2147483647L) {
            snprintf(err, errlen, "config: '%s' wants an integer, got '%s'", f->name, text);
            return -1;
        }
        *(int *)((char *)cfg + f->offset) = (int)v;
    } else if (f->type == CONFIG_FLOAT) {
        float v = strtof(text, &end);
        if (end == text || *end != '\0' || errno != 0 || !isfinite(v)) { /* inf, nan and overflow included */
            snprintf(err, errlen, "config: '%s' wants a finite number, got '%s'", f->name, text);
            return -1;
        }
        *(float *)((char *)cfg + f->offset) = v;
    } else {
        int index = choice_index(f->choices, text, n);
        if (index < 0) {
            snprintf(err, errlen, "config: '%s' must be one of %s, got '%s'", f->name, f->choices, text);
            return -1;
        }
        *(int *)((char *)cfg + f->offset) = index;
    }
    return 0;
}

static const ConfigField *find_field(const ConfigField *fields, int count, const char *key, size_t n)
{
    for (int i = 0; i < count; i++)
        if (strlen(fields[i].name) == n && strncmp(fields[i].name, key, n) == 0)
            return &fields[i];
    return NULL;
}

int config_parse(const ConfigField *fields, int count, const char *text, void *cfg, char *err, size_t errlen)
{
    for (int i = 0; i < count; i++)
        if (set_field(&fields[i], fields[i].fallback, strlen(fields[i].fallback), cfg, err, errlen) != 0)
            return -1;
    unsigned long long seen = 0; /* count <= 64 fields per config */
    const char *p = text ? text : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq) {
            snprintf(err, errlen, "config: expected key=value, got '%.*s'", (int)len, p);
            return -1;
        }
        size_t keylen = (size_t)(eq - p);
        const ConfigField *f = find_field(fields, count, p, keylen);
        if (!f) {
            snprintf(err, errlen, "config: unknown key '%.*s'", (int)keylen, p);
            return -1;
        }
        unsigned long long bit = 1ULL << (f - fields);
        if (seen & bit) {
            snprintf(err, errlen, "config: key '%s' given twice", f->name);
            return -1;
        }
        seen |= bit;
        if (set_field(f, eq + 1, len - keylen - 1, cfg, err, errlen) != 0)
            return -1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* The shortest %g form that reads back as the same float ("0.3", not "0.300000012"). */
static const char *shortest_float(float v, char buf[32])
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, 32, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    return buf;
}

int config_format(const ConfigField *fields, int count, const void *cfg, char *out, size_t outlen)
{
    char num[32];
    size_t used = 0;
    if (outlen == 0)
        return -1;
    out[0] = '\0';
    for (int i = 0; i < count; i++) {
        const ConfigField *f = &fields[i];
        const char *at = (const char *)cfg + f->offset;
        int n;
        const char *sep = i ? "," : "";
        if (f->type == CONFIG_INT)
            n = snprintf(out + used, outlen - used, "%s%s=%d", sep, f->name, *(const int *)at);
        else if (f->type == CONFIG_FLOAT)
            n = snprintf(out + used, outlen - used, "%s%s=%s", sep, f->name, shortest_float(*(const float *)at, num));
        else
            n = snprintf(out + used, outlen - used, "%s%s=%s", sep, f->name, config_choice(f, *(const int *)at));
        if (n < 0 || (size_t)n >= outlen - used)
            return -1;
        used += (size_t)n;
    }
    return 0;
}

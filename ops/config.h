/* config: "key=value,key=value" strings <-> config structs, driven by a per-operator field table.
 * The same string form is recorded in every result, so a run can be repeated from its results file. */
#ifndef SUBQ_CONFIG_H
#define SUBQ_CONFIG_H

#include <stddef.h>

typedef enum ConfigType { CONFIG_INT, CONFIG_FLOAT, CONFIG_ENUM } ConfigType;

typedef struct ConfigField {
    const char *name;
    ConfigType type;
    size_t offset;       /* offsetof() into the config struct; INT and ENUM are int, FLOAT is float */
    const char *fallback; /* default value as text */
    const char *choices;  /* ENUM only: "naive|tiled"; the stored int is the index */
    const char *help;
} ConfigField;

#define CONFIG_ERR_LEN 256

/* Sets every field to its default, then applies the string. Unknown keys, malformed values and
 * duplicates are errors: returns -1 with a one-line message in err. */
int config_parse(const ConfigField *fields, int count, const char *text, void *cfg, char *err, size_t errlen);
/* Canonical string of all fields (stable order), for results and logs. Returns -1 if it does not fit. */
int config_format(const ConfigField *fields, int count, const void *cfg, char *out, size_t outlen);
/* Name of an ENUM field's value. */
const char *config_choice(const ConfigField *field, int index);

#endif

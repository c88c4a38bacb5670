/* data_private: helpers shared by the data_*.c files (not part of the data.h contract). */
#ifndef SUBQ_DATA_PRIVATE_H
#define SUBQ_DATA_PRIVATE_H

#include <stddef.h>

/* The WikiText folder named by "wikitext103:DIR" or, for "wikitext103", by $SUBQ_WIKITEXT_DIR. */
int data_wikitext_dir(const char *name, char *dir, size_t dirlen, char *err, size_t errlen);
/* data_cache_check on an explicit folder (the fetch step checks its temporary folder before using it). */
int data_check_dir(const char *name, const char *dir, char *err, size_t errlen);

#endif

/* data_fuzz: the per-input checks behind the fuzz harnesses (tests/fuzz/) and the Criterion test that replays
 * the inputs they found (tests/fuzz_regressions/), kept here once so both run exactly the same code.
 * Each feeds arbitrary bytes to a loader and returns 0 when the loader behaved: accepted the input and produced
 * data within its documented ranges, or refused it with a message naming the input. -1 means a contract was
 * broken (the harness aborts on it); memory errors are left to the sanitizers. */
#ifndef SUBQ_DATA_FUZZ_H
#define SUBQ_DATA_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The official binary batch parser, then normalisation and augmentation of what it accepted. */
int data_fuzz_cifar_records(const uint8_t *data, size_t len);
/* The JPEG decoder of the mirror. */
int data_fuzz_cifar_jpeg(const uint8_t *data, size_t len);
/* The text checks, the 90/10 split, the by-document split (documents separated by 0xFF bytes, which valid
 * UTF-8 never contains) and batches of both. */
int data_fuzz_text(const uint8_t *data, size_t len);

/* The cache's MANIFEST.sha256 parser (a parsed manifest must format back to the same bytes) and SOURCE parser. */
int data_fuzz_manifest(const uint8_t *data, size_t len);

#endif

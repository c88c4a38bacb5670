/* sha256: SHA-256 (FIPS 180-4) for verifying downloaded, mirrored and cached data files without a new
 * dependency. Streaming (init/update/final) so multi-hundred-megabyte files are hashed in small pieces. */
#ifndef SUBQ_SHA256_H
#define SUBQ_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES 32
#define SHA256_HEX_LEN 65 /* 64 hex digits and the terminating NUL */

typedef struct Sha256 {
    uint32_t state[8];
    uint64_t total_bytes;
    uint8_t block[64];
    size_t block_used;
} Sha256;

void sha256_init(Sha256 *h);
void sha256_update(Sha256 *h, const void *data, size_t len);
void sha256_final(Sha256 *h, uint8_t digest[SHA256_DIGEST_BYTES]);

/* Lower-case hex of the digest of data[0, len). */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN]);
void sha256_digest_to_hex(const uint8_t digest[SHA256_DIGEST_BYTES], char hex[SHA256_HEX_LEN]);
/* Hashes a whole file; -1 with "PATH: reason" when it cannot be read. *bytes (may be NULL) gets its size. */
int sha256_file(const char *path, char hex[SHA256_HEX_LEN], uint64_t *bytes, char *err, size_t errlen);

#endif

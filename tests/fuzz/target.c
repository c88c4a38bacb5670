/* One fuzz target over a datasets/ loader: FUZZ_TARGET names the data_fuzz_* check (datasets/data_fuzz.h), chosen
 * at compile time by tests/fuzz/run.sh. The same entry point serves libFuzzer (clang -fsanitize=fuzzer) and the
 * plain driver in driver.c (gcc, no coverage feedback). */
#include <stdint.h>
#include <stdlib.h>

#include "data_fuzz.h"

#ifndef FUZZ_TARGET
#error "compile with -DFUZZ_TARGET=data_fuzz_cifar_records (or data_fuzz_cifar_jpeg, data_fuzz_text, data_fuzz_manifest)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (FUZZ_TARGET(data, size) != 0)
        abort(); /* a broken contract is a crash to the fuzzer, and the input is kept */
    return 0;
}

#!/usr/bin/env bash
# Fuzzes the CIFAR-10 (binary batches, JPEG mirror), text and cache-manifest loaders for a bounded time: `make fuzz`, or
#   tests/fuzz/run.sh [SECONDS_PER_TARGET=60] [TARGET...]      targets: cifar_records cifar_jpeg text manifest
# With clang's libFuzzer (coverage-guided) when it links, otherwise gcc and tests/fuzz/driver.c (random
# mutations, no coverage feedback); AddressSanitizer + UBSan either way. Seeds: tests/fuzz_regressions/<target>/
# (the inputs the Criterion test replays); new corpus entries and crash inputs go under build/fuzz/.
# FUZZ_ENGINE=driver uses the gcc driver even where libFuzzer is available.
# Exit status 1 if any target crashed: fix the loader, then copy the crash input into
# tests/fuzz_regressions/<target>/ so that `make test` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(cifar_records cifar_jpeg text manifest)
out=build/fuzz
src=(tests/fuzz/target.c datasets/data_fuzz.c datasets/cifar.c datasets/cifar_augment.c datasets/cifar_jpeg.c
     datasets/text.c datasets/dataio.c datasets/manifest.c datasets/sha256.c ops/rng.c)
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unknown-pragmas
       -Wno-unused-parameter -Iops -Idatasets $(pkg-config --cflags libjpeg 2>/dev/null))
libs=($(pkg-config --libs libjpeg 2>/dev/null || echo -ljpeg) -lm)
mkdir -p "$out"

mode=driver # FUZZ_ENGINE=driver forces the gcc driver even where libFuzzer exists
if [ "${FUZZ_ENGINE:-auto}" != driver ] && command -v clang >/dev/null 2>&1 &&
   printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' > "$out/probe.c" &&
   clang -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" >/dev/null 2>&1; then
    mode=libfuzzer
fi
echo "fuzz: $mode, ${seconds}s per target: ${targets[*]}"

crashed=0
for t in "${targets[@]}"; do
    bin="$out/fuzz_$t"
    mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
    if [ "$mode" = libfuzzer ]; then
        clang "${flags[@]}" -DFUZZ_TARGET="data_fuzz_$t" -fsanitize=fuzzer,address,undefined \
            -fno-sanitize-recover=all "${src[@]}" -o "$bin" "${libs[@]}"
        if ! "$bin" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$out/artifacts/$t/" "$out/corpus/$t" "tests/fuzz_regressions/$t" \
                >"$out/$t.log" 2>&1; then
            crashed=1
        fi
        grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' "$out/$t.log" | tr '\n' ' ' || true
    else
        gcc "${flags[@]}" -DFUZZ_TARGET="data_fuzz_$t" -fsanitize=address,undefined -fno-sanitize-recover=all \
            "${src[@]}" tests/fuzz/driver.c -o "$bin" "${libs[@]}"
        if ! "$bin" "$seconds" 1 "$out/artifacts/$t" "tests/fuzz_regressions/$t" >"$out/$t.log" 2>&1; then
            crashed=1
        fi
        tail -n 1 "$out/$t.log"
    fi
    echo
    if ls "$out/artifacts/$t"/crash-* >/dev/null 2>&1; then
        crashed=1
        echo "fuzz: $t CRASHED; inputs: $(ls "$out/artifacts/$t"/crash-* | tr '\n' ' ') (log: $out/$t.log)"
    else
        echo "fuzz: $t: no crash (log: $out/$t.log)"
    fi
done
exit $crashed

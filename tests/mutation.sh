#!/bin/sh
# Mutation smoke check (`make mutation`): applies each known mutation below, one at a time, to a copy of the
# tree and shows that the test suite fails on it. A mutation the suite survives is a hole in the tests, and
# this script then exits 1. The copy lives in build/mutation; the working tree is never touched.
#
# Each mutation is "file|original text|mutated text|what it breaks": the original must occur in the file (its
# first occurrence is replaced), so a refactoring that moves the code makes the script fail loudly rather
# than test nothing.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK="$ROOT/build/mutation"
JOBS=${JOBS:-2}

MUTATIONS='ops/layernorm.c|dweight[i0 + j] += dw[j]|dweight[i0 + j] = dw[j]|layernorm weight gradient overwritten instead of accumulated
ops/ffn.c|gemm_linear_forward(x, p.fc1_w, p.fc1_b, pre, rows, D, H);|gemm_linear_forward(x, p.fc1_w, NULL, pre, rows, D, H);|ffn forward drops the fc1 bias
ops/attention.c|const int last = causal ? t : L - 1;|const int last = causal ? t - (t > 0) : L - 1;|naive causal mask off by one (a query no longer sees itself)
ops/attention.c|1.0f / sqrtf((float)hd)|1.0f / (float)hd|attention scores scaled by 1/hd instead of 1/sqrt(hd)
ops/fftconv.c|y[t] = s->real[t] + bias_c * u[t];|y[t] = s->real[t];|fftconv forward drops the skip term
ops/gemm.c|rows * d_out * (2.0 * d_in + (has_bias ? 1.0 : 0.0))|rows * d_out * (2.0 * d_in)|linear FLOP formula forgets the bias adds'

# A pristine copy of the sources and of the optimised objects already built, so that each mutation
# recompiles one file and relinks.
prepare() {
    rm -rf "$WORK"
    mkdir -p "$WORK/build"
    (cd "$ROOT" && tar cf - Makefile ops baselines datasets bench tests) | (cd "$WORK" && tar xf -)
    if [ -d "$ROOT/build/opt" ]; then cp -a "$ROOT/build/opt" "$WORK/build/opt"; fi
    (cd "$WORK" && make -s build/opt/test_subq subq >/dev/null)
}

# Replaces the first occurrence of $2 in file $1 by $3 (literal text, one line); fails if $2 is absent.
mutate() {
    awk -v old="$2" -v new="$3" '
        !done && (i = index($0, old)) { $0 = substr($0, 1, i - 1) new substr($0, i + length(old)); done = 1 }
        { print }
        END { exit done ? 0 : 3 }' "$1" >"$1.mutated" ||
        { echo "mutation.sh: '"'"'$2'"'"' is not in $1: update the mutation list" >&2; exit 1; }
    mv "$1.mutated" "$1"
}

prepare
survived=0
total=0
IFS='
'
for line in $MUTATIONS; do
    file=$(printf '%s' "$line" | cut -d'|' -f1)
    old=$(printf '%s' "$line" | cut -d'|' -f2)
    new=$(printf '%s' "$line" | cut -d'|' -f3)
    what=$(printf '%s' "$line" | cut -d'|' -f4)
    total=$((total + 1))
    cp "$WORK/$file" "$WORK/$file.orig"
    mutate "$WORK/$file" "$old" "$new"
    if ! (cd "$WORK" && make -s build/opt/test_subq subq >/dev/null 2>&1); then
        echo "mutation.sh: the mutated tree does not build ($what)" >&2
        exit 1
    fi
    # --fail-fast: the first failing test is enough to show the mutation is caught.
    if (cd "$WORK" && ./build/opt/test_subq --fail-fast --jobs "$JOBS" >"$WORK/last.log" 2>&1); then
        echo "SURVIVED  $what ($file)"
        survived=$((survived + 1))
    else
        caught=$(grep -m1 '\[FAIL\]' "$WORK/last.log" | sed 's/.*\[FAIL\] \([^:]*::[^:]*\).*/\1/' || true)
        echo "caught    $what ($file) by ${caught:-a crash}"
    fi
    mv "$WORK/$file.orig" "$WORK/$file"
    touch "$WORK/$file"
done
(cd "$WORK" && make -s build/opt/test_subq subq >/dev/null)
echo "mutation.sh: $((total - survived)) of $total mutations caught"
[ "$survived" -eq 0 ]

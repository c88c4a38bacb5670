#!/usr/bin/env bash
# `make perf-check`: the timing regression check of docs/DESIGN.md section 6, as an A/B on this machine.
#
# The base commit (PERF_BASE; by default HEAD when the work tree has changes, else HEAD~1, the main before the
# last commit) is built next to the tree under build/perf/base-src, and the short benchmark set (smoke ops_core,
# about 6 s) is measured PERF_REPEAT times per side, alternately (base new, new base, ...), so a machine that
# drifts by 2x within minutes slows both sides alike. Each metric takes each side's fastest repetition
# (`subq compare BASE... --vs NEW... --metric _ms_min`: the times themselves, since both sides ran on the same
# machine in the same minutes, without the calibration sgemm's own noise); a slowdown beyond PERF_THRESHOLD
# must survive PERF_REPEAT more rounds before the check fails.
#
# Only when no base can be built (no git history, or a base without the benchmark) does it fall back to a
# committed reference, results/reference/perf/<CPU model>.h5, and only one from this CPU model: a reference
# taken on another CPU measures the hardware, not the change. It says which it used.
set -euo pipefail
repeat="${PERF_REPEAT:-3}"
threshold="${PERF_THRESHOLD:-0.25}"
out=build/perf
rm -rf "$out"
mkdir -p "$out"

measure() { # measure BINARY SIDE ROUND
    mkdir -p "$out/$2/r$3"
    "$1" reproduce --profile smoke --only ops_core --results-dir "$out/$2/r$3" --force --quiet
}

cpu_key() {
    sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr -c 'A-Za-z0-9\n' '_'
}

base="${PERF_BASE:-}"
if [ -z "$base" ]; then
    if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then base=HEAD; else base=HEAD~1; fi
fi

why=""
if ! git rev-parse --verify -q "$base^{commit}" >/dev/null 2>&1; then
    why="no commit '$base' to build"
else
    echo "perf-check: building the base $base ($(git rev-parse --short "$base^{commit}")) in $out/base-src"
    mkdir -p "$out/base-src"
    if ! git archive --format=tar "$base" | tar -x -C "$out/base-src" ||
       ! make -C "$out/base-src" -s -j2 subq >"$out/base-build.log" 2>&1; then
        why="the base $base does not build (see $out/base-build.log)"
    elif ! measure "$out/base-src/subq" base 0 >/dev/null 2>&1; then
        why="the base $base cannot run the benchmark (smoke ops_core)"
    fi
fi

if [ -z "$why" ]; then
    round() { # round FIRST LAST: rounds FIRST..LAST, alternating which side goes first
        for i in $(seq "$1" "$2"); do
            if [ $((i % 2)) = 1 ]; then
                measure "$out/base-src/subq" base "$i"; measure ./subq new "$i"
            else
                measure ./subq new "$i"; measure "$out/base-src/subq" base "$i"
            fi
        done
    }
    echo "perf-check: A/B against the base $base on this machine, $repeat alternating rounds per side"
    round 1 "$repeat"
    compare() {
        ./subq compare "$out"/base/r[1-9]*/ops_core.h5 --vs "$out"/new/r*/ops_core.h5 --threshold "$threshold" --metric _ms_min
    }
    compare || {
        echo "perf-check: slower than the base; measuring $repeat more rounds"
        round $((repeat + 1)) $((2 * repeat))
        compare
    }
    exit
fi

ref="results/reference/perf/$(cpu_key).h5"
if [ ! -f "$ref" ]; then
    echo "perf-check: cannot check: $why, and there is no committed reference for this CPU ($ref)" >&2
    exit 2
fi
echo "perf-check: $why; falling back to the committed reference of this CPU model, $ref"
for i in $(seq 1 "$repeat"); do measure ./subq new "$i"; done
./subq compare "$ref" "$out"/new/r*/ops_core.h5 --threshold "$threshold" || {
    echo "perf-check: slower than the reference; measuring again"
    for i in $(seq $((repeat + 1)) $((2 * repeat))); do measure ./subq new "$i"; done
    ./subq compare "$ref" "$out"/new/r*/ops_core.h5 --threshold "$threshold"
}

#!/usr/bin/env bash
# Builds the benchmarks (Release) and runs them; results go to bench/results/
# as JSON, one file per run. Needs /dev/fuse and the right to mount.
#   bench/run.sh [--iterations N] [--latency-ms N]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="${CREDFS_BENCH_BUILD_DIR:-$repo/build-bench}"
results="$here/results"

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
      -DCREDFS_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target bench_on_demand_wait -j"$(nproc)"

mkdir -p "$results"
out="$results/on_demand_wait-$(date -u +%Y%m%dT%H%M%SZ).json"
"$build/bench/bench_on_demand_wait" --json "$out" "$@"
echo "results: $out"

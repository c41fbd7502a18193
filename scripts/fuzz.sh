#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) in ./build-fuzz and runs
# each for a bounded time from the seed corpus in tests/fuzz/corpus/<target>.
# New inputs go to build-fuzz/corpus/ (not committed); a crash leaves its
# input in build-fuzz/artifacts/ and fails this script.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${CREDFS_FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=(config token_response store_rewrite credential_attributes)

"$root/scripts/install-deps.sh"
command -v clang++ >/dev/null || { echo "fuzz: clang++ is missing (apt-get install clang)" >&2; exit 1; }
CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCREDFS_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t"
  log="$build/fuzz_$t.log"
  echo "fuzz: $t for ${seconds}s"
  if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/artifacts/$t-" "$build/corpus/$t" "$root/tests/fuzz/corpus/$t" \
      >"$log" 2>&1; then
    echo "fuzz: $t FAILED; input in $build/artifacts/, log $log" >&2
    status=1
  fi
  # libFuzzer's closing lines: "#N DONE cov: C ft: F corp: ..." and "Done N runs in S second(s)"
  grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 | sed "s/^/fuzz: $t: /" || true
  grep -E '^Done [0-9]+ runs' "$log" | tail -n 1 | sed "s/^/fuzz: $t: /" || true
done
exit $status

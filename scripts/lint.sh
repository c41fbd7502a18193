#!/usr/bin/env bash
# The lint gate of CI (.ci/run): clang-format (the repo's .clang-format) must
# leave every C++ file as it is, and clang-tidy (the repo's .clang-tidy, all
# warnings errors) must find nothing in src/. clang-tidy reads the compile
# commands of a clang configure in a build directory of its own (nothing is
# built there), so it sees the flags clang would get.
#   scripts/lint.sh [format|tidy]   (default both)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
build=${CREDFS_LINT_BUILD_DIR:-$root/build-lint}
"$root/scripts/install-deps.sh"
cd "$root"
status=0

if [ "$what" = all ] || [ "$what" = format ]; then
  mapfile -t files < <(git ls-files -- 'src/*.cpp' 'src/*.hpp' 'include/*.hpp' 'tests/*.cpp' \
    'tests/*.hpp' 'bench/*.cpp' 'bench/*.hpp')
  if clang-format --dry-run -Werror "${files[@]}"; then
    echo "lint: clang-format: ${#files[@]} files formatted"
  else
    echo "lint: clang-format: files above differ from .clang-format (fix: clang-format -i FILE)" >&2
    status=1
  fi
fi

if [ "$what" = all ] || [ "$what" = tidy ]; then
  CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCREDFS_BUILD_BENCH=OFF >/dev/null
  # run-clang-tidy takes regexes over the compile database's file names.
  if run-clang-tidy -quiet -p "$build" -j "$(nproc)" "$root/src/" >"$build/clang-tidy.log" 2>&1; then
    echo "lint: clang-tidy: src/ clean"
  else
    sed -E 's/\x1b\[[0-9;]*m//g' "$build/clang-tidy.log" | grep -E '(warning|error):' | sort -u >&2 || true
    echo "lint: clang-tidy found the above (full output: $build/clang-tidy.log)" >&2
    status=1
  fi
fi
exit "$status"

#!/usr/bin/env bash
# Builds with sanitizers in a build directory of its own and runs the unit and
# integration tests there (the integration tests start the sanitized daemon).
#   scripts/test-sanitizers.sh [address,undefined|thread]   (default address,undefined)
# CI runs both after scripts/test.sh. A finding fails the run: UBSan aborts,
# ASan aborts, LeakSanitizer fails the daemon's exit status, TSan halts on the
# first report; and a report on the daemon's stderr fails the test at
# teardown (tests/integration/log_check.hpp) whatever the exit status.
# The TSan build uses clang: GCC's TSan with libstdc++ reports races inside
# the standard library that clang's does not, and clang also checks the lock
# annotations (-Wthread-safety) there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=${1:-address,undefined}
case "$sanitize" in
  address,undefined) name=asan; cxx=${CXX:-c++} ;;
  thread) name=tsan; cxx=clang++ ;;
  *) echo "test-sanitizers: unknown sanitizer set '$sanitize' (address,undefined or thread)" >&2; exit 2 ;;
esac
build=${CREDFS_SANITIZER_BUILD_DIR:-$root/build-$name}
"$root/scripts/install-deps.sh"
CXX=$cxx cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCREDFS_SANITIZE="$sanitize" -DCREDFS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target credfs_unit_tests credfs_integration_tests
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:suppressions=$root/tests/tsan.supp}
cd "$build"
# Under TSan a signal that comes just as the main thread goes to sleep in
# libfuse's (uninstrumented) loop is at times never handled: the daemon
# ignored a SIGTERM for 10 s in about 1 run of 8 of the first two tests (20
# rounds each), and a SIGHUP for 20 s in the third, while the plain build
# passed 600 rounds of the first two and 200 of the third. They test when a
# signal arrives, which TSan's deferred signal delivery changes; they run in
# the test and asan stages. docs/reliability.md, "Sanitizers".
exclude=
if [ "$name" = tsan ]; then
  exclude='LifecycleTest\.(SigtermAsSoonAsTheMountAppears|SigtermRightAfterSighup|ASighupAsSoonAsTheMountAppears)'
fi
ctest -L 'unit|integration' ${exclude:+-E "$exclude"} --output-on-failure --timeout 600

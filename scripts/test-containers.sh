#!/usr/bin/env bash
# The two-container sidecar test (tests/containers/sidecar_test.cpp): builds
# the image from the package (scripts/build-image.sh; kept when the package
# did not change), builds the test program, and runs it. Needs root, podman,
# mmdebstrap and /dev/fuse; fails, never skips, without them.
#
# Usage: scripts/test-containers.sh [DEB] [gtest flags...]
#   DEB  the package scripts/package.sh built (default: the one
#        build/gastown-credfs_<version>_<arch>.deb)
#
# Whatever happens to the test program (even SIGKILL), the containers it
# started (label io.gastown.credfs.test=<this run>), the mounts under its
# directory and the directory itself are removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prog=test-containers.sh
if [ "$#" -ge 1 ] && [[ "$1" != -* ]]; then
  deb=$(realpath -- "$1")
  shift
else
  shopt -s nullglob
  debs=("$root"/build/gastown-credfs_*.deb)
  shopt -u nullglob
  [ "${#debs[@]}" -eq 1 ] ||
    { echo "$prog: give the package (found ${#debs[@]} build/gastown-credfs_*.deb; scripts/package.sh builds it)" >&2; exit 1; }
  deb=${debs[0]}
fi
[ -f "$deb" ] || { echo "$prog: package $deb: no such file" >&2; exit 1; }
for tool in podman mmdebstrap dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "$prog: $tool is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
[ -c /dev/fuse ] || { echo "$prog: /dev/fuse is missing: the producer container mounts FUSE" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "$prog: needs root (rootful podman, bind mounts)" >&2; exit 1; }

"$root/scripts/build-image.sh" "$deb"
version=$(dpkg-deb -f "$deb" Version)
export CREDFS_IMAGE="localhost/gastown-credfs:$version"

build=${CREDFS_BUILD_DIR:-$root/build}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j2 --target credfs_container_tests

run_dir=$(mktemp -d /tmp/credfs-containers.XXXXXX)
run_id=$(basename "$run_dir")
cleanup() {
  local ids
  ids=$(podman ps -aq --filter "label=io.gastown.credfs.test=$run_id" 2>/dev/null) || ids=""
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086 # one id per word
    podman rm --force --time 0 $ids >/dev/null 2>&1 || true
  fi
  # Deepest first: a dead FUSE mount over the bind mount of the shared dir.
  local mnt
  for _ in 1 2 3 4 5; do
    mnt=$(awk -v r="$run_dir" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r | head -n 1)
    [ -n "$mnt" ] || break
    umount -l -- "$mnt" 2>/dev/null || break
  done
  if awk -v r="$run_dir" 'index($5, r) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "$prog: mounts under $run_dir remain; left in place" >&2
  else
    rm -rf -- "$run_dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$SECONDS
CREDFS_CONTAINER_TEST_ROOT=$run_dir CREDFS_CONTAINER_TEST_LABEL=$run_id \
  "$build/tests/containers/credfs_container_tests" "$@"
echo "$prog: passed in $((SECONDS - start)) s"

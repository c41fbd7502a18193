#!/usr/bin/env bash
# Sets up a fresh machine (Debian packages), builds, and runs every test:
# unit tests, integration tests on real FUSE mounts, the fakes' own tests,
# end-to-end tests with real git, and the mount-scripts. Needs root (or a
# user allowed to mount FUSE) and /dev/fuse.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
if [ ! -c /dev/fuse ]; then
  echo "test: /dev/fuse is missing: the integration tests mount for real and cannot run" >&2
  exit 1
fi
"$root/scripts/build.sh"
cd "${CREDFS_BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 600 "$@"

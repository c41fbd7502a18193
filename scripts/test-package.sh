#!/usr/bin/env bash
# Tests the package scripts/package.sh built: lintian (no error), then the
# install test in a clean mmdebstrap root (tests/package/install_test.sh).
# Run scripts/package.sh first. Needs root (mmdebstrap --mode=root, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^project(gastown-credfs VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
deb=$PWD/build/gastown-credfs_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { echo "test-package: $deb missing: run scripts/package.sh first" >&2; exit 1; }
command -v lintian >/dev/null || { echo "test-package: lintian missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
# Every warning lintian reports is listed with its reason in docs/deployment.md.
echo "test-package: lintian $deb"
lintian --fail-on error "$deb"
exec tests/package/install_test.sh "$deb"

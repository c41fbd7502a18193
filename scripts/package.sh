#!/usr/bin/env bash
# Builds the Debian package build/gastown-credfs_<version>_<arch>.deb with
# CPack's DEB generator from a Release build in ./build-package (tests off),
# so ./build is never touched. Prints the .deb's path as its last line.
# docs/deployment.md, "Debian package".
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

version=$(sed -n 's/^project(gastown-credfs VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || { echo "package: no project(... VERSION x.y.z) in CMakeLists.txt" >&2; exit 1; }
arch=$(dpkg --print-architecture)
deb=gastown-credfs_${version}_${arch}.deb

# CREDFS_REQUIRE_MAN: a package without its man page is a configure error.
cmake -S . -B build-package -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DCREDFS_REQUIRE_MAN=ON >/dev/null
cmake --build build-package -j"${JOBS:-2}"
rm -f "build-package/$deb"
(cd build-package && cpack -G DEB >/dev/null)
[ -f "build-package/$deb" ] || { echo "package: cpack did not write build-package/$deb" >&2; exit 1; }
mkdir -p build
cp "build-package/$deb" "build/$deb"
echo "$PWD/build/$deb"

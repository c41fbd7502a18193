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

# Debian's hardening flags (dpkg-buildflags with hardening=+all): fortified
# libc calls, stack protector, full RELRO with immediate binding, and paths
# relative to the source tree. -g and -O2 are dropped: the package is
# stripped and CMake's Release flags set the optimisation level.
buildflags() { DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"; }
cxxflags=$(echo "$(buildflags CPPFLAGS) $(buildflags CXXFLAGS)" | sed 's/ -g / /; s/ -O2 / /; s/^-g //')
ldflags=$(buildflags LDFLAGS)

# CREDFS_REQUIRE_MAN: a package without its man page is a configure error.
cmake -S . -B build-package -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DCREDFS_REQUIRE_MAN=ON "-DCMAKE_CXX_FLAGS=$cxxflags" "-DCMAKE_EXE_LINKER_FLAGS=$ldflags" >/dev/null
cmake --build build-package -j"${JOBS:-2}"
rm -f "build-package/$deb"
(cd build-package && cpack -G DEB >/dev/null)
[ -f "build-package/$deb" ] || { echo "package: cpack did not write build-package/$deb" >&2; exit 1; }
mkdir -p build
cp "build-package/$deb" "build/$deb"
echo "$PWD/build/$deb"

#!/usr/bin/env bash
# Installs what building and testing gastown-credfs needs, from Debian's packages.
# Idempotent: does nothing (and needs no network) when everything is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libfuse3-dev fuse3
  libcurl4-openssl-dev libjsoncpp-dev libspdlog-dev
  libsystemd-dev systemd
  libgtest-dev libcpp-httplib-dev libssl-dev
  shellcheck procps
  clang clang-tidy clang-format libclang-rt-14-dev
  # The package and its man page (scripts/package.sh, tests/package).
  scdoc man-db lintian mmdebstrap dpkg-dev
  # The container image and the two-container test (scripts/build-image.sh,
  # scripts/test-containers.sh), and the manifests' check (tests/deploy).
  podman runc uidmap slirp4netns fuse-overlayfs python3 python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

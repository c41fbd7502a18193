#!/usr/bin/env bash
# Builds the gastown-credfs container image without any registry: a Debian
# root made by mmdebstrap (minbase, the host's suite and apt sources) with
# fuse3, git, ca-certificates, procps, bash and util-linux, plus the package
# built by scripts/package.sh, imported with `podman import` and tagged
# localhost/gastown-credfs:<package version>.
#
# Usage: scripts/build-image.sh [DEB]
#   DEB  the package (default: the one build/gastown-credfs_*.deb)
#
# Prints the image's tag, size and build time. Idempotent: the image carries
# the sha256 of the package and of this recipe in a label, and an image
# already tagged with the same label is kept (nothing is rebuilt). Set
# GASTOWN_IMAGE_REBUILD=1 to rebuild anyway.
#
# The image runs the supervisor by default (CMD gastown-creds-supervise), with
# GASTOWN_CREDFS_CONFIG=/etc/gastown-credfs.json and
# GASTOWN_CREDS_MOUNTPOINT=/tmp/gastown-creds; mount the config there.
set -euo pipefail
cd "$(dirname "$0")/.."
prog=build-image.sh
die() { echo "$prog: $*" >&2; exit 1; }

deb=${1:-}
if [ -z "$deb" ]; then
  shopt -s nullglob
  debs=(build/gastown-credfs_*.deb)
  shopt -u nullglob
  [ "${#debs[@]}" -eq 1 ] ||
    die "give the package as an argument (found ${#debs[@]} build/gastown-credfs_*.deb; scripts/package.sh builds it)"
  deb=${debs[0]}
fi
[ -f "$deb" ] || die "package $deb: no such file"
for tool in mmdebstrap podman dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (scripts/install-deps.sh installs it)"
done
[ "$(dpkg-deb -f "$deb" Package)" = gastown-credfs ] || die "$deb is not a gastown-credfs package"
version=$(dpkg-deb -f "$deb" Version)
tag=localhost/gastown-credfs:${version}
label=io.gastown.credfs.recipe
recipe=$(cat "$deb" "$0" | sha256sum | cut -c1-64)

if [ "${GASTOWN_IMAGE_REBUILD:-0}" != 1 ] &&
  have=$(podman image inspect --format "{{ index .Labels \"$label\" }}" "$tag" 2>/dev/null) &&
  [ "$have" = "$recipe" ]; then
  size=$(podman image inspect --format '{{.Size}}' "$tag")
  echo "$prog: $tag is up to date (same package and recipe); size $((size / 1000000)) MB; nothing rebuilt"
  exit 0
fi

# The host's suite and its apt sources, given explicitly: without a mirror
# argument mmdebstrap reads mirrors from stdin, which CI does not have.
# shellcheck disable=SC1091
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$suite" ] || die "VERSION_CODENAME is missing from /etc/os-release"
shopt -s nullglob
sources=(/etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list)
shopt -u nullglob
[ -s /etc/apt/sources.list ] && sources+=(/etc/apt/sources.list)
[ "${#sources[@]}" -gt 0 ] || die "no apt sources in /etc/apt: mmdebstrap needs a mirror"

tmp=$(mktemp -d /tmp/gastown-image.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp -- "$deb" "$tmp/gastown-credfs.deb"
chmod 0755 "$tmp"
chmod 0644 "$tmp/gastown-credfs.deb"

start=$SECONDS
echo "$prog: mmdebstrap $suite (minbase) with the package $deb"
# The package goes in through a customize hook so apt resolves its Depends
# from the same sources; mmdebstrap then cleans apt's lists and caches.
# ("$1" in the hooks is the root mmdebstrap passes them, not ours.)
# shellcheck disable=SC2016
mmdebstrap --quiet --variant=minbase --mode=root \
  --include=fuse3,git,ca-certificates,procps,bash,util-linux \
  --customize-hook="copy-in $tmp/gastown-credfs.deb /tmp" \
  --customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/gastown-credfs.deb >/dev/null' \
  --customize-hook='rm -f "$1/tmp/gastown-credfs.deb"' \
  --customize-hook='chroot "$1" gastown-credfs --version' \
  "$suite" "$tmp/root.tar" "${sources[@]}"
strap_s=$((SECONDS - start))

podman image rm --force "$tag" >/dev/null 2>&1 || true
podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV GASTOWN_CREDFS_CONFIG=/etc/gastown-credfs.json' \
  --change 'ENV GASTOWN_CREDS_MOUNTPOINT=/tmp/gastown-creds' \
  --change 'CMD ["gastown-creds-supervise"]' \
  --change 'STOPSIGNAL SIGTERM' \
  --change "LABEL $label=$recipe" \
  --change "LABEL org.opencontainers.image.version=$version" \
  "$tmp/root.tar" "$tag" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "$prog: built $tag: size $((size / 1000000)) MB; mmdebstrap ${strap_s} s, import $((SECONDS - start - strap_s)) s, total $((SECONDS - start)) s"

#!/usr/bin/env bash
# podman with the flags this project's container scripts and tests need, kept
# in this one place: `scripts/podman.sh run ...` is `podman run ...` plus them.
#
#   --runtime runc     crun fails on hosts with a hybrid cgroup setup (v1
#                      controllers with a v2 unified hierarchy): runc copes.
#   --ulimit nofile=1024:1024 --ulimit nproc=1024:1024  (run and create only)
#                      podman's default rlimits are above what such hosts
#                      allow, and the OCI runtime refuses to start the
#                      container; explicit values inside the limits pass.
#   --pull=never       (run and create only) images are made locally with
#                      `podman import` (scripts/build-image.sh); nothing is
#                      ever pulled from a registry.
set -euo pipefail
command -v podman >/dev/null 2>&1 ||
  { echo "podman.sh: podman is not installed (scripts/install-deps.sh installs it)" >&2; exit 127; }
if [ "$#" -gt 0 ] && { [ "$1" = run ] || [ "$1" = create ]; }; then
  sub=$1
  shift
  exec podman --runtime runc "$sub" --pull=never \
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$@"
fi
exec podman --runtime runc "$@"

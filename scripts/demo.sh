#!/usr/bin/env bash
# The main job, end to end on a fresh machine: installs Debian packages, builds,
# starts the fake Gastown control plane on 127.0.0.1 (tokens living 5 minutes),
# mounts gastown-credfs at /tmp/gastown-creds and shows `git credential fill`
# returning the rig's token through the mount.
#
# With GASTOWN_API_URL, GASTOWN_TOWN_ID and GASTOWN_CONTAINER_TOKEN set it talks
# to that control plane instead, for the rig named by GASTOWN_RIG_ID.
#
# Usage: scripts/demo.sh [--keep]
#   --keep  leave the mount (and the fake) running; the script prints how to stop them.
set -euo pipefail

keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "demo: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${CREDFS_BUILD_DIR:-$root/build}
mnt=${CREDFS_MOUNTPOINT:-/tmp/gastown-creds}
work=/tmp/gastown-credfs-demo
rig=${GASTOWN_RIG_ID:-demo-rig}

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" >/dev/null
echo "demo: built $build/gastown-credfs"

mkdir -p "$work" && chmod 700 "$work"
fake_pid=""
cleanup() {
  if [ "$keep" -eq 0 ]; then
    # Unmounts and stops the daemon, which would otherwise outlive the
    # unmount in files mode.
    "$root/mount-scripts/gastown-creds-umount" --mountpoint "$mnt" >/dev/null 2>&1 || true
    if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; fi
  fi
}
trap cleanup EXIT

# A dead mount left by a crash answers "Transport endpoint is not connected".
if ! stat "$mnt" >/dev/null 2>&1 && grep -qs " $mnt " /proc/self/mountinfo; then
  echo "demo: $mnt is a dead mount; unmounting it lazily"
  fusermount3 -u -z "$mnt"
fi
if grep -qs " $mnt " /proc/self/mountinfo; then
  echo "demo: $mnt is already mounted; stop it first: $root/mount-scripts/gastown-creds-umount --mountpoint $mnt" >&2
  exit 1
fi
mkdir -p "$mnt"

if [ -n "${GASTOWN_API_URL:-}" ] && [ -n "${GASTOWN_TOWN_ID:-}" ] && [ -n "${GASTOWN_CONTAINER_TOKEN:-}" ]; then
  echo "demo: using the control plane at $GASTOWN_API_URL (town $GASTOWN_TOWN_ID, rig $rig)"
  source_json='{"type": "gastown"}'
  refresh_json='{}'
else
  rm -f "$work/port"
  head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$work/container-jwt"
  "$build/tests/fakes/fake-gastown" --port 0 --ttl 300 --jwt-file "$work/container-jwt" \
      --port-file "$work/port" > "$work/fake-gastown.log" 2>&1 &
  fake_pid=$!
  for _ in $(seq 1 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || { echo "demo: the fake control plane did not start (see $work/fake-gastown.log)" >&2; exit 1; }
  echo "demo: fake Gastown control plane on http://127.0.0.1:$(cat "$work/port") (tokens live 300 s)"
  source_json="{\"type\": \"gastown\", \"api_url\": \"http://127.0.0.1:$(cat "$work/port")\", \"town_id\": \"demo-town\", \"container_token_file\": \"$work/container-jwt\"}"
  # 300 s tokens: renew 2 minutes before expiry; a read needs 1 minute left.
  refresh_json='{"margin_s": 120, "min_ttl_s": 60, "jitter_s": 10}'
fi

cat > "$work/config.json" <<JSON
{
  "source": $source_json,
  "refresh": $refresh_json,
  "rigs": [{"id": "$rig"}],
  "log": {"level": "info", "file": "$work/daemon.log"}
}
JSON

"$build/gastown-credfs" --config "$work/config.json" "$mnt"
echo "demo: mounted $mnt (daemon log: $work/daemon.log)"
echo
ls -l "$mnt"
echo
# shellcheck disable=SC2028 # the backslashes are meant to be shown, not expanded
echo "\$ printf 'protocol=https\\nhost=github.com\\n\\n' | git -c credential.helper= -c credential.helper='store --file=$mnt/$rig' credential fill"
printf 'protocol=https\nhost=github.com\n\n' |
  git -c credential.helper= -c credential.helper="store --file=$mnt/$rig" credential fill |
  # The token is a secret: show its first characters only.
  sed -E 's/^(password=.{8}).*$/\1… (token shortened by the demo)/'
echo
echo "demo: use it from git with:"
echo "  git config --global credential.https://github.com.helper 'store --file=$mnt/$rig'"
if [ "$keep" -eq 1 ]; then
  echo "demo: left running; stop with: $root/mount-scripts/gastown-creds-umount --mountpoint $mnt${fake_pid:+ && kill $fake_pid}"
else
  echo "demo: unmounting (run with --keep to leave it up)"
fi

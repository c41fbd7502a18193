#!/usr/bin/env bash
# entrypoint.example.sh: an example container entrypoint for gastown-credfs.
#
# Usage: entrypoint.example.sh AGENT-COMMAND [ARGS...]
#
# Starts gastown-creds-supervise in the background, waits until the mount
# (or, without FUSE, files mode) serves, configures git for the rigs, then
# runs the agent command. SIGTERM, SIGINT and SIGHUP go to the agent; when
# the agent exits, the supervisor is stopped cleanly (the daemon writes its tokens through to the static files and
# unmounts) and the entrypoint exits with the agent's status.
#
# The agent runs as a child rather than through exec, so that something is
# left to stop the daemon cleanly when the agent ends; a daemon killed with
# the container instead leaves the static files as fresh as its last refresh.
#
# Environment:
#   GASTOWN_CREDFS_CONFIG     daemon config (default /etc/gastown-credfs.json)
#   GASTOWN_CREDS_MOUNTPOINT  mountpoint (default /tmp/gastown-creds)
#   GASTOWN_CREDFS_BINARY     the daemon (default gastown-credfs on PATH)
#   GASTOWN_GIT_RIGS          space-separated list of RIG (set up in the global
#                             git config) or RIG=REPO (in that repository's
#                             config), e.g. "rig-a rig-b=/work/b"
#   GASTOWN_CREDS_WAIT_S      how long to wait for the mount (default 30)
#   GASTOWN_CREDS_SCRIPTS     where the gastown-creds-* scripts are (default:
#                             this script's directory, else PATH)
#
# Exit status: the agent's; 1 when the mount did not come up in time.
set -euo pipefail

prog=entrypoint
mnt=${GASTOWN_CREDS_MOUNTPOINT:-/tmp/gastown-creds}
wait_s=${GASTOWN_CREDS_WAIT_S:-30}
scripts=${GASTOWN_CREDS_SCRIPTS:-$(cd "$(dirname "$0")" && pwd)}
export GASTOWN_CREDS_MOUNTPOINT=$mnt

usage() { sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
log() { echo "$prog: $*" >&2; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") echo "$prog: missing the agent command (try --help)" >&2; exit 2 ;;
esac
[[ "$wait_s" =~ ^[0-9]+$ ]] || { echo "$prog: GASTOWN_CREDS_WAIT_S: '$wait_s' is not a whole number of seconds" >&2; exit 2; }

tool() {
  if [ -x "$scripts/$1" ]; then echo "$scripts/$1"
  else command -v "$1" || { log "$1 not found in $scripts or on PATH"; exit 1; }
  fi
}
supervise=$(tool gastown-creds-supervise)
git_setup=$(tool gastown-creds-git-setup)

supervisor=0
agent=0
stop_supervisor() {
  [ "$supervisor" -gt 0 ] || return 0
  kill -TERM "$supervisor" 2>/dev/null || true
  wait "$supervisor" 2>/dev/null || true
  supervisor=0
}
# shellcheck disable=SC2317 # called from traps
on_signal() {
  if [ "$agent" -gt 0 ]; then
    kill "-$1" "$agent" 2>/dev/null || true
  else
    log "received SIG$1 before the agent started; stopping"
    stop_supervisor
    exit $((128 + $(kill -l "$1")))
  fi
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
trap 'on_signal HUP' HUP

# The absolute path, as mountinfo shows it.
mkdir -p -- "$(dirname -- "$mnt")"
mnt=$(cd -- "$(dirname -- "$mnt")" && pwd -P)/$(basename -- "$mnt")
mnt=${mnt#/}; mnt=/$mnt  # "//x" when the parent is /
export GASTOWN_CREDS_MOUNTPOINT=$mnt

"$supervise" --mountpoint "$mnt" &
supervisor=$!

# The mount serves when the topmost mount mountinfo lists there is FUSE and
# the directory answers (a volume under it is listed from the start); without
# FUSE the daemon serves files mode, and says so through its socket (status).
serving() {
  local esc=$mnt top
  esc=${esc//\\/\\134} esc=${esc// /\\040} esc=${esc//$'\t'/\\011} esc=${esc//$'\n'/\\012}
  # Stacked mounts are parent and child: the top one is no other's parent.
  top=$(M=$esc awk '
    $5 == ENVIRON["M"] { for (i = 7; i <= NF; i++) if ($i == "-") { t[$1] = $(i + 1); p[$2] = 1; break } }
    END { for (id in t) if (!(id in p)) { print t[id]; exit } }' /proc/self/mountinfo)
  if [[ "$top" == fuse || "$top" == fuse.* ]]; then
    ls -- "$mnt" >/dev/null 2>&1
  else
    local header
    header=$("${GASTOWN_CREDFS_BINARY:-gastown-credfs}" status "$mnt" 2>/dev/null | head -n 1) || true
    [[ "$header" == *"files mode"* ]]
  fi
}
deadline=$((SECONDS + wait_s))
until serving; do
  if ! kill -0 "$supervisor" 2>/dev/null; then
    rc=0; wait "$supervisor" || rc=$?
    supervisor=0
    log "the supervisor exited (status $rc) before $mnt served"
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "$mnt did not serve within $wait_s s; stopping"
    stop_supervisor
    exit 1
  fi
  sleep 0.1
done
log "$mnt is serving"

for spec in ${GASTOWN_GIT_RIGS:-}; do
  case "$spec" in
    *=*) "$git_setup" "${spec%%=*}" "${spec#*=}" ;;
    *) "$git_setup" "$spec" ;;
  esac
done

"$@" &
agent=$!
rc=0
while :; do
  if wait "$agent"; then rc=0; else rc=$?; fi
  # A status above 128 with the agent alive: a trapped signal interrupted wait.
  if [ "$rc" -le 128 ] || ! kill -0 "$agent" 2>/dev/null; then break; fi
done
again=0
if wait "$agent" 2>/dev/null; then again=0; else again=$?; fi
[ "$again" -eq 127 ] || rc=$again
agent=0
log "the agent exited with status $rc; stopping the credential mount"
stop_supervisor
exit "$rc"

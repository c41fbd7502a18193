#!/usr/bin/env bash
# Checks packaging/gastown-credfs@.service with systemd's own parser, no
# running systemd needed: `systemd-analyze verify` on a copy whose ExecStart
# names the build's binary (verify checks that every Exec* program exists),
# as instance "ci". Any line it prints about the unit fails the test. Then
# checks what the daemon relies on (Type=notify, the watchdog, reload by
# SIGHUP) and that no option gives the service a mount namespace of its
# own, which would keep the FUSE mount from the agents (docs/deployment.md,
# "systemd"). Finally shows that the check can fail: a copy with an unknown
# key must be reported.
#
# Usage: tests/scripts/verify_unit.sh UNIT_FILE GASTOWN_CREDFS
set -euo pipefail

if [ "$#" -ne 2 ]; then
  sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
unit=$(realpath -- "$1")
bin=$(realpath -- "$2")
command -v systemd-analyze >/dev/null || { echo "verify_unit.sh: systemd-analyze missing (apt-get install systemd)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/credfs-unit-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# Prints what systemd-analyze says about the template in directory $1.
verify() {
  # --man=no: the man page comes with the package, not with the build tree.
  (cd "$1" && systemd-analyze verify --man=no "$1/gastown-credfs@ci.service" 2>&1) |
    grep -F 'gastown-credfs@' || true
}

mkdir "$tmp/good"
sed "s#/usr/bin/gastown-credfs#$bin#g" "$unit" >"$tmp/good/gastown-credfs@.service"
out=$(verify "$tmp/good")
[ -z "$out" ] || fail "systemd-analyze verify: $out"

value() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
[ "$(value Type)" = notify ] || fail "Type is not notify"
[ -n "$(value WatchdogSec)" ] || fail "no WatchdogSec"
# shellcheck disable=SC2016 # $MAINPID is systemd's, not ours
[ "$(value ExecReload)" = '/bin/kill -HUP $MAINPID' ] || fail "ExecReload is not kill -HUP \$MAINPID"
grep -q '^ExecStart=.* -f ' "$unit" || fail "ExecStart does not run the daemon in the foreground (-f)"
# The options systemd turns into a mount namespace (exec_needs_mount_namespace
# in systemd's src/core/execute.c); mounts made there never reach the host.
for key in ProtectSystem ProtectHome PrivateTmp PrivateDevices PrivateMounts PrivateNetwork \
           PrivateIPC ReadWritePaths ReadOnlyPaths InaccessiblePaths ExecPaths NoExecPaths \
           BindPaths BindReadOnlyPaths TemporaryFileSystem ProtectKernelTunables \
           ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectProc ProcSubset \
           MountFlags RootDirectory RootImage LogNamespace; do
  v=$(value "$key")
  case "$v" in
    "" | no | false | shared | default | all) ;;
    *) fail "$key=$v gives the service its own mount namespace: the mount would be invisible" ;;
  esac
done

mkdir "$tmp/bad"
{ cat "$tmp/good/gastown-credfs@.service"; echo "NoSuchOption=1"; } >"$tmp/bad/gastown-credfs@.service"
[ -n "$(verify "$tmp/bad")" ] || fail "systemd-analyze verify did not report an unknown key: this test cannot fail"

[ "$failed" -eq 0 ] && echo "PASS: gastown-credfs@.service"
exit "$failed"

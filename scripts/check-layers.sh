#!/usr/bin/env bash
# Fails when a file includes a header from a layer above its own
# (docs/design.md, "Layers"): core < sources < engine < front ends < daemon < cli,
# where the front ends (fs: the mount, files: files mode, helper: the
# credential helper's socket) share one rank and never include each other.
# The static-library link order catches most of these too; this names the
# offending line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
layers=(core sources engine fs files helper daemon cli)
rank() {
  case "$1" in
    core) echo 0 ;; sources) echo 1 ;; engine) echo 2 ;;
    fs | files | helper) echo 3 ;; daemon) echo 4 ;; cli) echo 5 ;; *) echo -1 ;;
  esac
}
bad=0
for layer in "${layers[@]}"; do
  mine=$(rank "$layer")
  for dir in "$root/src/$layer" "$root/include/credfs/$layer"; do
    [ -d "$dir" ] || continue
    while IFS=: read -r file line text; do
      used=$(sed -E 's#.*"credfs/([a-z]+)/.*#\1#' <<<"$text")
      # Same rank, other name: one front end reaching into another.
      if [ "$(rank "$used")" -lt 0 ] || [ "$(rank "$used")" -gt "$mine" ] ||
        { [ "$(rank "$used")" -eq "$mine" ] && [ "$used" != "$layer" ]; }; then
        echo "check-layers: ${file#"$root"/}:$line: $layer includes $used: ${text}" >&2
        bad=1
      fi
    done < <(grep -rn '#include "credfs/' "$dir" || true)
  done
done
stray=$(find "$root/src" "$root/include/credfs" -maxdepth 1 -type f \( -name '*.cpp' -o -name '*.hpp' \) | grep -v '/src/CMakeLists' || true)
if [ -n "$stray" ]; then
  echo "check-layers: files outside any layer: $stray" >&2
  bad=1
fi
exit "$bad"

#!/usr/bin/env bash
# Fails when a file includes a header from a layer above its own
# (docs/design.md, "Layers"): core < sources < engine < {fs, files, helper}
# < daemon < cli. The front ends in braces share a rank and never include
# each other.
# The static-library link order catches most of these too; this names the
# offending line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ranks=(core sources engine "fs files helper" daemon cli)
rank() { local i; for i in "${!ranks[@]}"; do [[ " ${ranks[$i]} " == *" $1 "* ]] && { echo "$i"; return; }; done; echo -1; }
bad=0
for layer in ${ranks[*]}; do
  mine=$(rank "$layer")
  for dir in "$root/src/$layer" "$root/include/credfs/$layer"; do
    [ -d "$dir" ] || continue
    while IFS=: read -r file line text; do
      used=$(sed -E 's#.*"credfs/([a-z]+)/.*#\1#' <<<"$text")
      theirs=$(rank "$used")
      if [ "$theirs" -lt 0 ] || [ "$theirs" -gt "$mine" ] ||
         { [ "$theirs" -eq "$mine" ] && [ "$used" != "$layer" ]; }; then
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

#!/usr/bin/env bash
# Renders gastown-credfs(8) from docs/gastown-credfs.8.scd and checks that
# man reports no warning and that every command `gastown-credfs --help`
# names is in the page, so the two cannot drift apart.
# Usage: man_page_test.sh SOURCE.scd PATH/gastown-credfs
set -euo pipefail

fail() { echo "man_page_test: FAIL: $*" >&2; exit 1; }
[ $# -eq 2 ] || fail "usage: $0 SOURCE.scd BINARY"
src=$1 binary=$2
command -v scdoc >/dev/null || fail "scdoc missing (Debian package scdoc; scripts/install-deps.sh installs it)"
command -v man >/dev/null || fail "man missing (Debian package man-db)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

scdoc <"$src" >"$tmp/gastown-credfs.8" || fail "scdoc refused $src"
MANWIDTH=80 man --warnings -l "$tmp/gastown-credfs.8" >"$tmp/page" 2>"$tmp/warnings" ||
  fail "man -l failed: $(head -3 "$tmp/warnings")"
if [ -s "$tmp/warnings" ]; then
  cat "$tmp/warnings" >&2
  fail "man --warnings reported the above"
fi
grep -q '^NAME' "$tmp/page" || fail "the rendered page has no NAME section"

# The commands are the words after "gastown-credfs" in --help's usage lines
# that are not options.
"$binary" --help >"$tmp/help"
mapfile -t commands < <(sed -n 's/^\(Usage:\)\? *gastown-credfs \([a-z][a-z-]*\).*/\2/p' "$tmp/help" | sort -u)
[ ${#commands[@]} -ge 4 ] || fail "found only ${#commands[@]} commands in --help: ${commands[*]}"
# The options are the --long names of --help's "Options:" lines.
mapfile -t options < <(sed -n 's/^ \{2,\}\(-[a-zA-Z], \)\?\(--[a-z-]*\).*/\2/p' "$tmp/help" | sort -u)
[ ${#options[@]} -ge 5 ] || fail "found only ${#options[@]} options in --help: ${options[*]}"
missing=()
for c in "${commands[@]}"; do
  grep -q "gastown-credfs $c\b" "$tmp/page" || missing+=("$c")
done
for o in "${options[@]}"; do
  grep -q -- "$o\b" "$tmp/page" || missing+=("$o")
done
[ ${#missing[@]} -eq 0 ] || fail "named in --help but not in the man page: ${missing[*]}"
echo "man_page_test: PASS: no warnings; commands ${commands[*]} and options ${options[*]} are in the page"

#!/usr/bin/env bash
# Installs the Debian package into a clean root made by mmdebstrap from
# Debian's packages (minbase, the host's suite and apt sources), runs
# `gastown-credfs --version` and `--help` there, checks the installed files,
# removes it with `dpkg -r` and checks that nothing of it is left.
#
# Usage: tests/package/install_test.sh PATH/gastown-credfs_<version>_<arch>.deb
# Needs root (mmdebstrap --mode=root, chroot) and mmdebstrap; fails, never
# skips, without them.
set -euo pipefail

fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
[ $# -eq 1 ] || fail "usage: $0 PACKAGE.deb"
deb=$(realpath "$1")
[ -f "$deb" ] || fail "$1: no such file"
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v mmdebstrap >/dev/null || fail "mmdebstrap missing (scripts/install-deps.sh installs it)"
[ "$(id -u)" -eq 0 ] || fail "needs root (mmdebstrap --mode=root and chroot)"

# The host's own suite and apt sources, given as files: without a mirror
# argument mmdebstrap would read one from stdin, which CI does not have.
suite=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d '"')
[ -n "$suite" ] || fail "no VERSION_CODENAME in /etc/os-release"
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || fail "no apt sources in /etc/apt/sources.list{,.d}"

# The package's own Depends, first alternative, versions dropped: they go into
# the root beforehand so the test can use dpkg -i, and dpkg refuses the
# package if Depends names something missing; a library dpkg-shlibdeps missed
# makes --version fail below.
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' |
  grep -v '^$' | paste -sd, -)
[ -n "$depends" ] || fail "the package has no Depends"

tmp=$(mktemp -d /tmp/credfs-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
start=$SECONDS
echo "install_test: mmdebstrap --variant=minbase $suite with $depends"
mmdebstrap --mode=root --variant=minbase --quiet --include="$depends" "$suite" "$root" "${sources[@]}" ||
  fail "mmdebstrap could not build the root"
echo "install_test: root built in $((SECONDS - start)) s"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

# In both snapshots, so only what dpkg did differs.
cp "$deb" "$root/tmp/package.deb"
# Everything in the root but the kernel's file systems, with type and mode.
snapshot() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev \) -prune -o -printf '%y %m %p\n' |
    sort)
}
snapshot >"$tmp/before"

in_root dpkg -i /tmp/package.deb || fail "dpkg -i refused the package"
version=$(in_root gastown-credfs --version) || fail "gastown-credfs --version failed in the root"
expected="gastown-credfs $(dpkg-deb -f "$deb" Version)"
[ "$version" = "$expected" ] || fail "--version printed '$version', expected '$expected'"
in_root gastown-credfs --help >"$tmp/help" || fail "gastown-credfs --help failed in the root"
grep -q '^Usage: gastown-credfs' "$tmp/help" || fail "--help printed no usage"
for s in gastown-creds-mount gastown-creds-umount gastown-creds-supervise gastown-creds-git-setup; do
  in_root "$s" --help >/dev/null || fail "$s --help failed in the root"
done

in_root dpkg -L gastown-credfs >"$tmp/listed"
expect_files=(
  /usr/bin/gastown-credfs
  /usr/bin/gastown-creds-mount /usr/bin/gastown-creds-umount
  /usr/bin/gastown-creds-supervise /usr/bin/gastown-creds-git-setup
  /usr/share/man/man8/gastown-credfs.8.gz
  /usr/share/doc/gastown-credfs/copyright /usr/share/doc/gastown-credfs/changelog.gz
  /usr/share/doc/gastown-credfs/examples/gastown-credfs.example.json
  /usr/share/doc/gastown-credfs/examples/entrypoint.example.sh
)
if [ -f "$repo/packaging/gastown-credfs@.service" ]; then
  expect_files+=(/usr/lib/systemd/system/gastown-credfs@.service)
fi
for f in "${expect_files[@]}"; do
  grep -qx "$f" "$tmp/listed" || fail "dpkg -L does not list $f"
  [ -f "$root$f" ] || fail "$f is listed but not installed"
done
for f in /usr/bin/gastown-credfs /usr/bin/gastown-creds-mount; do
  [ -x "$root$f" ] || fail "$f is not executable"
done
in_root gzip -t /usr/share/man/man8/gastown-credfs.8.gz || fail "the man page is no valid gzip"

in_root dpkg -r gastown-credfs || fail "dpkg -r failed"
snapshot >"$tmp/after"

# Only dpkg's own records may differ: its database and its log. The package
# has no conffiles, so dpkg -r leaves nothing of it (a conffile would show
# here as a file left behind).
diff "$tmp/before" "$tmp/after" | grep '^[<>]' |
  grep -v -E '^[<>] [a-z] [0-7]+ \./var/(lib/dpkg/|log/dpkg\.log$)' >"$tmp/left" || true
if [ -s "$tmp/left" ]; then
  echo "install_test: the root differs after dpkg -r beyond dpkg's database (< before, > after):" >&2
  cat "$tmp/left" >&2
  fail "dpkg -r left files behind or removed others"
fi
echo "install_test: PASS: installed, ran --version ($version) and --help, removed leaving nothing, in $((SECONDS - start)) s"

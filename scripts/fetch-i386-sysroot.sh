#!/usr/bin/env bash
# An i386 sysroot from Debian's own packages, for `x86jit exec --root` and its tests (tests/exec-dynamic):
# libc6:i386 (ld-linux.so.2, libc.so.6) and coreutils:i386 with the libraries `ls` needs, unpacked with
# dpkg-deb into .cache/i386/root (gitignored, never committed). Idempotent: a finished sysroot is kept
# (its stamp file names the packages); the .debs are cached in .cache/i386/debs. About 6 MB to download.
# Needs apt-get and dpkg-deb (Debian/Ubuntu). The i386 architecture is added to dpkg, and the package
# lists updated, only when apt does not know libc6:i386 yet (that part needs root); the download and the
# unpacking work as any user.
# Usage: scripts/fetch-i386-sysroot.sh [DIR]   (default .cache/i386; relative to the repository); prints
# the sysroot's path (DIR/root).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${1:-.cache/i386}
ROOT=$CACHE/root
PACKAGES=(libc6:i386 coreutils:i386 libselinux1:i386 libpcre2-8-0:i386 libacl1:i386 libattr1:i386)
STAMP="$ROOT/.x86jit-sysroot"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "${PACKAGES[*]}" ]; then echo "$ROOT"; exit 0; fi
command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 \
  || { echo "fetch-i386-sysroot: needs apt-get and dpkg-deb (a Debian or Ubuntu host)" >&2; exit 1; }

# apt must know the i386 packages: add the architecture and update the lists only if it does not.
if ! apt-cache show libc6:i386 >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "fetch-i386-sysroot: apt has no i386 packages; as root run: dpkg --add-architecture i386 && apt-get update" >&2
    exit 1
  fi
  dpkg --print-foreign-architectures | grep -qx i386 || dpkg --add-architecture i386
  # A mirror mid-sync fails one index (seen: bookworm-security) while the others load: go on, and let the
  # download below say clearly if the packages are still unknown.
  apt-get update -qq || echo "fetch-i386-sysroot: apt-get update reported errors; going on with the lists it has" >&2
fi

mkdir -p "$CACHE/debs"
# apt-get download writes into the current directory; as root it warns that _apt cannot write there.
(cd "$CACHE/debs" && apt-get download -qq "${PACKAGES[@]}" 2>&1 | grep -v 'unsandboxed' >&2 || true)
for p in "${PACKAGES[@]}"; do
  ls "$CACHE/debs/${p%%:*}"_*_i386.deb >/dev/null 2>&1 || { echo "fetch-i386-sysroot: could not download $p" >&2; exit 1; }
done

rm -rf "$ROOT.tmp"
mkdir -p "$ROOT.tmp"
for p in "${PACKAGES[@]}"; do
  # The newest .deb of each package, should the cache hold older ones.
  deb=$(ls -t "$CACHE/debs/${p%%:*}"_*_i386.deb | head -1)
  dpkg-deb -x "$deb" "$ROOT.tmp"
done
echo "${PACKAGES[*]}" > "$ROOT.tmp/.x86jit-sysroot"
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
echo "$ROOT"

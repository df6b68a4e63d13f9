#!/usr/bin/env bash
# Debian's busybox-static:i386 (a static i386 busybox, ~1 MB .deb) for `x86jit exec` and its tests
# (tests/exec-busybox.test.ts): downloaded with apt-get, unpacked with dpkg-deb, and its one binary kept
# as .cache/i386/busybox/busybox (gitignored, never committed). Idempotent. Needs apt-get and dpkg-deb,
# and apt's i386 package lists (scripts/fetch-i386-sysroot.sh says how to add them).
# Usage: scripts/fetch-i386-busybox.sh [DIR]   (default .cache/i386); prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${1:-.cache/i386}
OUT=$CACHE/busybox/busybox
if [ -x "$OUT" ]; then echo "$OUT"; exit 0; fi
command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 \
  || { echo "fetch-i386-busybox: needs apt-get and dpkg-deb (a Debian or Ubuntu host)" >&2; exit 1; }
apt-cache show busybox-static:i386 >/dev/null 2>&1 \
  || { echo "fetch-i386-busybox: apt has no i386 packages; as root run: dpkg --add-architecture i386 && apt-get update" >&2; exit 1; }
mkdir -p "$CACHE/debs"
(cd "$CACHE/debs" && apt-get download -qq busybox-static:i386 2>&1 | grep -v 'unsandboxed' >&2 || true)
deb=$(ls -t "$CACHE/debs"/busybox-static_*_i386.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "fetch-i386-busybox: could not download busybox-static:i386" >&2; exit 1; }
rm -rf "$CACHE/busybox.tmp"
dpkg-deb -x "$deb" "$CACHE/busybox.tmp"
mkdir -p "$CACHE/busybox"
mv "$CACHE/busybox.tmp/bin/busybox" "$OUT.tmp"
rm -rf "$CACHE/busybox.tmp"
mv "$OUT.tmp" "$OUT"
echo "$OUT"

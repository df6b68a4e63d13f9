#!/usr/bin/env bash
# Debian 12's own i386 kernel (linux-image-6.1.0-NN-686, NN resolved from linux-image-686:i386), for
# `x86jit run --kernel` and tests/linux-boot.test.ts (whose initramfs takes Debian's busybox from
# scripts/fetch-i386-busybox.sh): only the kernel's boot/ (vmlinuz, config) is kept, unpacked with dpkg-deb
# into .cache/linux (gitignored, never committed). Idempotent: a finished cache is kept (its stamp names
# the package); the .deb is cached in .cache/linux/debs. About 52 MB to download (the package carries the
# modules, which are dropped). Needs apt-get and dpkg-deb (Debian/Ubuntu); the i386 architecture is
# added to dpkg, and the lists updated, only when apt does not know the packages yet (that needs root).
# Usage: scripts/fetch-debian-kernel.sh [DIR]   (default .cache/linux); prints DIR, which then holds
# vmlinuz and config.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${1:-.cache/linux}
STAMP="$CACHE/.x86jit-linux"

command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 \
  || { echo "fetch-debian-kernel: needs apt-get and dpkg-deb (a Debian or Ubuntu host)" >&2; exit 1; }
if ! apt-cache show linux-image-686:i386 >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "fetch-debian-kernel: apt has no i386 packages; as root run: dpkg --add-architecture i386 && apt-get update" >&2
    exit 1
  fi
  dpkg --print-foreign-architectures | grep -qx i386 || dpkg --add-architecture i386
  # A mirror mid-sync fails one index (seen: bookworm-security) while the others load: go on, and let the
  # download below say clearly if the packages are still unknown.
  apt-get update -qq || echo "fetch-debian-kernel: apt-get update reported errors; going on with the lists it has" >&2
fi
# linux-image-686 depends on the current ABI's image, e.g. linux-image-6.1.0-57-686.
KERNEL=$(apt-cache depends linux-image-686:i386 | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-686\)\(:i386\)\{0,1\}$/\1/p' | head -1)
[ -n "$KERNEL" ] || { echo "fetch-debian-kernel: cannot resolve linux-image-686:i386's kernel package" >&2; exit 1; }
PACKAGES=("$KERNEL:i386")
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "${PACKAGES[*]}" ]; then echo "$CACHE"; exit 0; fi

mkdir -p "$CACHE/debs"
(cd "$CACHE/debs" && apt-get download -qq "${PACKAGES[@]}" 2>&1 | grep -v 'unsandboxed' >&2 || true)
for p in "${PACKAGES[@]}"; do
  ls "$CACHE/debs/${p%%:*}"_*_i386.deb >/dev/null 2>&1 || { echo "fetch-debian-kernel: could not download $p" >&2; exit 1; }
done
TMP="$CACHE/unpack.tmp"
rm -rf "$TMP"; mkdir -p "$TMP"
for p in "${PACKAGES[@]}"; do dpkg-deb -x "$(ls -t "$CACHE/debs/${p%%:*}"_*_i386.deb | head -1)" "$TMP"; done
VERSION=${KERNEL#linux-image-}
cp "$TMP/boot/vmlinuz-$VERSION" "$CACHE/vmlinuz"
cp "$TMP/boot/config-$VERSION" "$CACHE/config"
rm -rf "$TMP"
echo "${PACKAGES[*]}" > "$STAMP"
echo "$CACHE"

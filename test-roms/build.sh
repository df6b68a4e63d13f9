#!/bin/sh
# Builds every test ROM into test-roms/*.elf and the BIOS image test-roms/bios-realmode.bin.
#   ./build.sh            build
#   ./build.sh --native   also build the HOST variants of the pure-computation ROMs, run them on this
#                         CPU (Linux i386) and compare their output byte-for-byte with expected/<name>.txt
set -eu
cd "$(dirname "$0")"
CC=${CC:-gcc}
LD=${LD:-ld}
CFLAGS="-m32 -march=i486 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -O2 \
 -mno-sse -mno-mmx -mno-80387 -fno-asynchronous-unwind-tables -fno-builtin -Wall -Wextra -Wno-unused-parameter \
 -ffile-prefix-map=$PWD=. -Isrc/rt"
ROMS="hello alu shifts muldiv string stack bcd bits exceptions segments selfmod loops"
HOST_ROMS="alu shifts muldiv string bcd bits loops"
OUT=build
rm -rf "$OUT"
mkdir -p "$OUT/rt" "$OUT/host"

for f in boot isr; do $CC $CFLAGS -c src/rt/$f.S -o $OUT/rt/$f.o; done
for f in rt common; do $CC $CFLAGS -c src/rt/$f.c -o $OUT/rt/$f.o; done

for rom in $ROMS; do
	objs=""
	for src in src/$rom.c src/$rom-*.S; do
		[ -e "$src" ] || continue
		o=$OUT/$(basename "$src").o
		$CC $CFLAGS -c "$src" -o "$o"
		objs="$objs $o"
	done
	$LD -m elf_i386 --build-id=none -z noexecstack --no-warn-rwx-segments -nostdlib -T src/rt/link.ld -o $rom.elf \
		$OUT/rt/boot.o $OUT/rt/isr.o $OUT/rt/rt.o $OUT/rt/common.o $objs
done

# BIOS image: flat 64 KiB, linked at offset 0 of segment F000.
$CC -m32 -c src/bios-realmode.S -o $OUT/bios.o
$LD -m elf_i386 --build-id=none -z noexecstack --no-warn-rwx-segments -nostdlib -Ttext=0 -e 0 -z noexecstack --oformat=binary -o bios-realmode.bin $OUT/bios.o
size=$(wc -c < bios-realmode.bin)
[ "$size" -eq 65536 ] || { echo "bios-realmode.bin is $size bytes, want 65536" >&2; exit 1; }

if [ "${1:-}" = "--native" ]; then
	status=0
	$CC $CFLAGS -DHOST -c src/rt/common.c -o $OUT/host/common.o
	$CC $CFLAGS -DHOST -c src/rt/host.c -o $OUT/host/host.o
	for rom in $HOST_ROMS; do
		$CC $CFLAGS -DHOST -c src/$rom.c -o $OUT/host/$rom.o
		$LD -m elf_i386 --build-id=none -z noexecstack -static -e _start -o $OUT/host/$rom \
			$OUT/host/host.o $OUT/host/common.o $OUT/host/$rom.o
		rc=0
		./$OUT/host/$rom > $OUT/host/$rom.txt || rc=$?
		if cmp -s $OUT/host/$rom.txt expected/$rom.txt; then
			echo "native $rom: exit $rc, output identical to expected/$rom.txt"
		else
			echo "native $rom: exit $rc, output DIFFERS from expected/$rom.txt ($OUT/host/$rom.txt)"
			status=1
		fi
		[ $rc -eq 0 ] || status=1
	done
	exit $status
fi

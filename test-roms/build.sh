#!/bin/sh
# Builds every test ROM into test-roms/*.elf and the BIOS image test-roms/bios-realmode.bin.
#   ./build.sh            build (and the workloads' HOST variants, exec/wl-*.elf)
#   ./build.sh --x87-table  regenerate src/x87-expected.h on this CPU and rebuild x87.elf with it
#   ./build.sh --native   also build the HOST variants of the pure-computation ROMs, run them on this
#                         CPU (Linux i386) and compare their output byte-for-byte with expected/<name>.txt
set -eu
cd "$(dirname "$0")"
CC=${CC:-gcc}
LD=${LD:-ld}
CFLAGS="-m32 -march=i486 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -O2 \
 -mno-sse -mno-mmx -mno-80387 -fno-asynchronous-unwind-tables -fno-builtin -Wall -Wextra -Wno-unused-parameter \
 -ffile-prefix-map=$PWD=. -Isrc/rt"
# Workload ROMs for `npm run bench` (self-checking like the others; standard runtime and link.ld).
WORKLOAD_ROMS="wl-recursion wl-sieve wl-crc32 wl-sort wl-matmul wl-memcpy wl-bytecode"
ROMS="hello alu shifts muldiv string stack bcd bits exceptions segments selfmod loops codedata smc-adjacent $WORKLOAD_ROMS"
HOST_ROMS="alu shifts muldiv string bcd bits loops $WORKLOAD_ROMS"
OUT=build
rm -rf "$OUT"
mkdir -p "$OUT/rt" "$OUT/host"

for f in boot isr; do $CC $CFLAGS -c src/rt/$f.S -o $OUT/rt/$f.o; done
for f in rt common tables; do $CC $CFLAGS -c src/rt/$f.c -o $OUT/rt/$f.o; done

# build_rom ROM LDSCRIPT OBJECT...: compile src/ROM.c and src/ROM-*.S, link them after the given runtime objects.
build_rom() {
	rom=$1; ldscript=$2; shift 2
	objs=""
	for src in src/$rom.c src/$rom-*.S; do
		[ -e "$src" ] || continue
		o=$OUT/$(basename "$src").o
		$CC $CFLAGS -c "$src" -o "$o"
		objs="$objs $o"
	done
	$LD -m elf_i386 --build-id=none -z noexecstack --no-warn-rwx-segments -nostdlib -T src/rt/$ldscript.ld \
		-o $rom.elf "$@" $objs
}

for rom in $ROMS; do build_rom $rom link $OUT/rt/boot.o $OUT/rt/isr.o $OUT/rt/rt.o $OUT/rt/common.o $OUT/rt/tables.o; done

# HOST variants: the same test code as a static Linux i386 program (rt/host.c: raw int 0x80, output at exit).
# build_host ROM OUTPUT: compile src/ROM.c with -DHOST and link it with the HOST runtime.
$CC $CFLAGS -DHOST -c src/rt/common.c -o $OUT/host/common.o
$CC $CFLAGS -DHOST -c src/rt/host.c -o $OUT/host/host.o
build_host() {
	$CC $CFLAGS -DHOST -c src/$1.c -o $OUT/host/$1.o
	$LD -m elf_i386 --build-id=none -z noexecstack -static -e _start -o "$2" $OUT/host/host.o $OUT/host/common.o $OUT/host/$1.o
}
# The workloads' HOST variants are committed as exec/wl-*.elf: `npm run bench` (bench/user-mode.ts) runs them
# under x86jit exec and qemu-i386, tests/exec-workloads.test.ts compares the two.
for rom in $WORKLOAD_ROMS; do build_host $rom exec/$rom.elf; done

# Hypervisor-layer ROMs. link-user.ld adds a page-aligned .user section for ring-3 code and data;
# the paravirtual ROMs link rt-pv.o (output and exit through VMCALL) instead of rt.o.
NEW_ROMS="minikernel:link-user:rt paging:link-user:rt,ring3 exceptions-pm:link-user:rt,ring3 pic-pit:link:rt \
 console-uart:link:rt hypercall:link-user:rt-pv,ring3 console-pv:link:rt-pv i8042-pci:link:rt taskswitch:link:rt fpu-irq13:link:rt v86:link:rt x87:link:rt"
for f in rt-pv ring3; do $CC $CFLAGS -c src/rt/$f.c -o $OUT/rt/$f.o; done
for spec in $NEW_ROMS; do
	rom=${spec%%:*}; rest=${spec#*:}; ldscript=${rest%%:*}
	runtime=""
	for o in $(echo "${rest#*:}" | tr , ' '); do runtime="$runtime $OUT/rt/$o.o"; done
	# shellcheck disable=SC2086 # the runtime object list splits on purpose
	build_rom $rom $ldscript $OUT/rt/boot.o $OUT/rt/isr.o $OUT/rt/common.o $OUT/rt/tables.o $runtime
done

# ROMs that wait for input live in interactive/, away from the suites that run every ROM by itself.
mkdir -p interactive
build_rom kbd-echo link $OUT/rt/boot.o $OUT/rt/isr.o $OUT/rt/common.o $OUT/rt/tables.o $OUT/rt/rt.o
mv kbd-echo.elf interactive/

# BIOS image: flat 64 KiB, linked at offset 0 of segment F000.
$CC -m32 -c src/bios-realmode.S -o $OUT/bios.o
$LD -m elf_i386 --build-id=none -z noexecstack --no-warn-rwx-segments -nostdlib -Ttext=0 -e 0 -z noexecstack --oformat=binary -o bios-realmode.bin $OUT/bios.o
size=$(wc -c < bios-realmode.bin)
[ "$size" -eq 65536 ] || { echo "bios-realmode.bin is $size bytes, want 65536" >&2; exit 1; }

# Limit ROMs (issue 15): raw flat binaries linked at 0x100000, run with --load 0x100000 --entry 0x100000.
# Each makes one limit or cache of the host work hard (src/limits/*.S say which); tests/limits.test.ts runs them.
build_limit() {
	name=$1; shift
	$CC -m32 "$@" -c src/limits/${name%%[0-9]*}.S -o $OUT/limit-$name.o
	$LD -m elf_i386 --build-id=none -z noexecstack --no-warn-rwx-segments -nostdlib -Ttext=0x100000 -e _start \
		--oformat=binary -o limits/$name.bin $OUT/limit-$name.o
}
mkdir -p limits
for name in fresh-code fresh-distinct nop-sled eip-ffffffff vmcall-loop rep-outsb rep-stosd ud-loop; do build_limit $name; done
build_limit pit-fast2 -DPIT_COUNT=2
build_limit pit-fast100 -DPIT_COUNT=100

# State ROMs (issue 9): raw like the limit ROMs; tests/snapshot.test.ts snapshots them in every state it must capture.
$CC -m32 -c src/state/snapshot-states.S -o $OUT/snapshot-states.o
$LD -m elf_i386 --build-id=none -z noexecstack --no-warn-rwx-segments -nostdlib -Ttext=0x100000 -e _start \
	--oformat=binary -o snapshot-states.bin $OUT/snapshot-states.o

if [ "${1:-}" = "--pv-check" ]; then
	# hypercall.elf and console-pv.elf cannot run under QEMU. Rebuild them with -DPV_EMULATE (a #UD
	# handler plays the hypervisor by the ABI, rt/rt-pv.c) and compare QEMU's output with the
	# hand-written expected/hypercall.txt and with console-uart's SHA-256.
	mkdir -p $OUT/pv-check
	$CC $CFLAGS -DPV_EMULATE -c src/rt/rt-pv.c -o $OUT/pv-check/rt-pv.o
	status=0
	for rom in hypercall console-pv; do
		$CC $CFLAGS -DPV_EMULATE -c src/$rom.c -o $OUT/pv-check/$rom.o
		$LD -m elf_i386 --build-id=none -z noexecstack --no-warn-rwx-segments -nostdlib -T src/rt/link-user.ld \
			-o $OUT/pv-check/$rom.elf $OUT/rt/boot.o $OUT/rt/isr.o $OUT/rt/common.o $OUT/rt/tables.o $OUT/pv-check/rt-pv.o \
			$OUT/rt/ring3.o $OUT/pv-check/$rom.o
		rc=0
		./run-qemu.sh $OUT/pv-check/$rom.elf > $OUT/pv-check/$rom.txt || rc=$?
		if [ $rom = hypercall ]; then
			cmp -s $OUT/pv-check/$rom.txt expected/hypercall.txt && same=identical || same=DIFFERENT
		else
			want=$(cut -d' ' -f1 expected/console-uart.sha256)
			got=$(sha256sum < $OUT/pv-check/$rom.txt | cut -d' ' -f1)
			[ "$got" = "$want" ] && same=identical || same=DIFFERENT
		fi
		echo "pv-check $rom: QEMU exit $rc, output $same"
		[ $rc -eq 1 ] && [ $same = identical ] || status=1
	done
	exit $status
fi

if [ "${1:-}" = "--x87-table" ]; then
	# x87.elf's expected values come from this CPU: src/x87.c built with -DX87_GEN prints them as
	# src/x87-expected.h; x87.elf is rebuilt with them and the same checks run natively (HOST) must pass.
	$CC $CFLAGS -DHOST -DX87_GEN -c src/x87.c -o $OUT/host/x87-gen.o
	$LD -m elf_i386 --build-id=none -z noexecstack -static -e _start -o $OUT/host/x87-gen $OUT/host/host.o $OUT/host/common.o $OUT/host/x87-gen.o
	./$OUT/host/x87-gen > src/x87-expected.h
	build_rom x87 link $OUT/rt/boot.o $OUT/rt/isr.o $OUT/rt/common.o $OUT/rt/tables.o $OUT/rt/rt.o
	build_host x87 $OUT/host/x87
	./$OUT/host/x87 | tail -n 1
	exit
fi

if [ "${1:-}" = "--native" ]; then
	status=0
	for rom in $HOST_ROMS; do
		build_host $rom $OUT/host/$rom
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

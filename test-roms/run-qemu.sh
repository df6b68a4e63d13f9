#!/bin/sh
# Runs one test ROM under QEMU, serial output on stdout; exits with QEMU's status
# (isa-debug-exit: (guest status << 1) | 1, so 1 means the ROM passed).
set -u
[ $# -eq 1 ] || { echo "usage: $0 ROM.elf|bios-realmode.bin" >&2; exit 2; }
case "$1" in
*.bin) load="-bios $1" ;;
*) load="-kernel $1" ;;
esac
exec timeout 20 qemu-system-i386 $load -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-display none -nodefaults

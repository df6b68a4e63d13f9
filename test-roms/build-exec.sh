#!/bin/sh
# Builds the `x86jit exec` test programs (test-roms/src/exec/*.c) into test-roms/exec/*.elf as static i386
# Linux executables, and records qemu-i386's output for each test case in test-roms/exec/expected/
# (tests/exec.test.ts compares x86jit exec with these and, when qemu-i386 is installed, with it live).
# Needs gcc with i386 glibc (Debian: apt-get install libc6-dev-i386) and qemu-i386 (qemu-user).
set -eu
cd "$(dirname "$0")"
CC=${CC:-gcc}
FLAGS="-m32 -O2 -s -Wall -D_FILE_OFFSET_BITS=64 -ffile-prefix-map=$PWD=."
$CC $FLAGS -static -o exec/suite.elf src/exec/suite.c
$CC $FLAGS -static-pie -o exec/pie.elf src/exec/pie.c
$CC $FLAGS -static -o exec/procs.elf src/exec/procs.c
cd .. && node tests/exec-cases.mjs --record

// One whole v86 process for the bench's v86 column: `node bench/v86-run.mjs ROM [CMDLINE] [--serial] [--stats]
// [--timeout SECONDS]` boots a Multiboot ROM in v86 (the `v86` npm package, a devDependency) headless, with
// no BIOS, and exits as QEMU's isa-debug-exit does: status byte S written to port 0xF4 → exit (S << 1) | 1.
//
// How v86 runs our ROMs: `new V86({ multiboot: { buffer }, cmdline })` without `bios` loads the ELF (or
// a.out-kludge) image itself, puts the Multiboot command line and a memory map in the info block, and starts
// the kernel in flat 32-bit protected mode (EAX = 0x2BADB002, EBX = info). It gives no mem_lower/mem_upper
// (info flags bit 0 clear): hello.elf's check of them fails under v86; the workload ROMs do not look.
// For Multiboot kernels v86 itself puts a kvm-unit-tests style exit on port 0xF4 (console.log, then
// `throw "HALT"` out of the run loop: an uncaught exception); we replace that handler after the CPU is
// initialised ('emulator-ready', before the first instruction). The wasm file is read from the package
// directory: nothing is fetched, no network.
// Guest serial output (COM1) is discarded unless --serial (then written to stdout when the ROM ends);
// --stats prints v86's instruction counter and its start-up on stderr.
//
// `node bench/v86-run.mjs --kernel BZIMAGE [--initrd FILE] [--append CMDLINE] [--bios FILE]` boots a Linux
// kernel instead (bench/linux-boot.ts), as `qemu-system-i386 -kernel/-initrd/-append` does: v86 needs a BIOS
// for that (default SeaBIOS's /usr/share/seabios/bios.bin, Debian's `seabios` package, which qemu-system-x86
// brings), 128 MiB of RAM, and the serial output is written to stdout as it comes.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const T0 = performance.now();
const args = process.argv.slice(2);
const flag = (name) => { const i = args.indexOf(name); if (i < 0) return false; args.splice(i, 1); return true; };
const option = (name, dflt) => { const i = args.indexOf(name); if (i < 0) return dflt; const v = args[i + 1]; args.splice(i, 2); return v; };
const stats = flag('--stats');
const kernel = option('--kernel'), initrd = option('--initrd'), append = option('--append', '');
const bios = option('--bios', '/usr/share/seabios/bios.bin');
const serial = flag('--serial');
const timeout = Number(option('--timeout', '300'));
const [rom, cmdline = ''] = args;
if ((kernel === undefined) === (rom === undefined) || !Number.isFinite(timeout) || timeout <= 0) {
  process.stderr.write('usage: node bench/v86-run.mjs ROM [CMDLINE] [--serial] [--stats] [--timeout SECONDS]\n'
    + '       node bench/v86-run.mjs --kernel BZIMAGE [--initrd FILE] [--append CMDLINE] [--bios FILE] [--stats] [--timeout SECONDS]\n');
  process.exit(2);
}

let V86, libPath;
try {
  libPath = fileURLToPath(import.meta.resolve('v86'));
  ({ V86 } = await import('v86'));
} catch (e) {
  process.stderr.write(`v86-run: the v86 package is not installed (npm install; it is a devDependency): ${e.message}\n`);
  process.exit(3);
}
const wasm = readFileSync(join(dirname(libPath), 'v86.wasm'));
const arrayBuffer = (file) => { const b = readFileSync(file); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); };

const out = [];
let emulator = null, tReady = null;
function finish(code, message) {
  if (out.length) process.stdout.write(Buffer.from(out));
  if (stats) {
    const n = emulator?.get_instruction_counter?.() ?? 0;
    const runS = (performance.now() - (tReady ?? T0)) / 1000;
    process.stderr.write(`v86: ${n} instructions in ${runS.toFixed(3)} s (${(n / runS / 1e6).toFixed(1)} MIPS), `
      + `ready ${tReady === null ? 'never' : `${tReady.toFixed(1)} ms`} after process start${message ? `; ${message}` : ''}\n`);
  } else if (message) process.stderr.write(`v86-run: ${message}\n`);
  process.exit(code);
}

emulator = new V86({
  wasm_fn: async (env) => (await WebAssembly.instantiate(wasm, env)).instance.exports,
  ...(kernel === undefined
    ? { multiboot: { buffer: arrayBuffer(rom) }, cmdline, memory_size: 64 << 20 }
    : { bios: { buffer: arrayBuffer(bios) }, bzimage: { buffer: arrayBuffer(kernel) }, cmdline: append, memory_size: 128 << 20,
        ...(initrd === undefined ? {} : { initrd: { buffer: arrayBuffer(initrd) } }) }),
  autostart: true,
  disable_speaker: true,
  log_level: 0,
});
// A ROM's output is held until it ends (writes would perturb the timing); a kernel's is written line by line
// (the bench times its lines).
emulator.add_listener('serial0-output-byte', (b) => {
  if (kernel !== undefined) { out.push(b); if (b === 10) process.stdout.write(Buffer.from(out.splice(0))); } else if (serial) out.push(b);
});
emulator.add_listener('emulator-ready', () => {
  tReady = performance.now();
  // isa-debug-exit, as QEMU's -device isa-debug-exit,iobase=0xf4,iosize=0x04 (byte, word and dword writes).
  const exit = (v) => finish(((v & 0xff) << 1) | 1);
  emulator.v86.cpu.io.register_write(0xf4, emulator.v86.cpu, exit, exit, exit);
});
// Also keeps the process alive should v86 stop scheduling its run loop (a guest halted for good).
setTimeout(() => finish(124, `timeout after ${timeout} s`), timeout * 1000);

// Writes a raw flat-32-bit image whose code is N distinct chunks run K times each: the shape of a Linux
// boot's cold code (48.5 k blocks, run ~44 times each on average before or instead of their translation),
// with the instruction count fixed by N × K, so that the cost of running code the caches do not hold can
// be measured apart from everything else a boot does. Each chunk is ten instructions — a load, an add, a
// store, an inc, a cmp, a jne taken to the next instruction (the run loop's second block of the chunk), a
// lea, a shl, a xor and a jmp to the next chunk — and after the last chunk `dec ebp; jnz` runs them all again
// until the K-th pass ends in HLT. With --unique every chunk's instructions have bytes of their own (32-bit
// displacements and immediates), as most of a kernel's do; without it chunks share their encodings (and
// so the interpreter's closures) but for the branches.
//   node bench/cold-code-rom.mjs [--unique] N K OUT
//   node dist/x86jit.js run --engine interp --stats --load 0x100000 --entry 0x100000 OUT
import { writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const unique = args[0] === '--unique';
if (unique) args.shift();
const [n, k] = args.slice(0, 2).map(Number), out = args[2];
if (!Number.isInteger(n) || n < 1 || n > 1e6 || !Number.isInteger(k) || k < 1 || k >= 2 ** 31 || out === undefined) {
  console.error('usage: node bench/cold-code-rom.mjs [--unique] N K OUT   (N chunks of 10 instructions, 1..1000000; K passes)');
  process.exit(2);
}
const u32 = (v) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
// mov esi, 0x10000; mov edi, 0x20000; mov ebp, K; xor ecx, ecx; mov edx, 0x7fffffff; xor ebx, ebx
const b = [0xbe, ...u32(0x10000), 0xbf, ...u32(0x20000), 0xbd, ...u32(k), 0x31, 0xc9, 0xba, ...u32(0x7fffffff), 0x31, 0xdb];
const start = b.length;
for (let i = 0; i < n; i++) {
  if (unique) {
    const d = (i * 4) & 0xfffc;
    // mov eax, [esi+d32]; add eax, ebx; mov [edi+d32], eax; inc ecx; cmp ecx, edx; jne +0; lea ebx, [ebx+i+1]; shl eax, 3; xor eax, i
    b.push(0x8b, 0x86, ...u32(d), 0x01, 0xd8, 0x89, 0x87, ...u32(d), 0x41, 0x39, 0xd1, 0x75, 0x00, 0x8d, 0x9b, ...u32(i + 1), 0xc1, 0xe0, 0x03, 0x35, ...u32(i));
  } else {
    const d = (i % 32) * 4;
    // mov eax, [esi+d8]; add eax, ebx; mov [edi+d8], eax; inc ecx; cmp ecx, edx; jne +0; lea ebx, [ebx+1]; shl eax, 3; xor ebx, eax
    b.push(0x8b, 0x46, d, 0x01, 0xd8, 0x89, 0x47, d, 0x41, 0x39, 0xd1, 0x75, 0x00, 0x8d, 0x5b, 0x01, 0xc1, 0xe0, 0x03, 0x31, 0xc3);
  }
  b.push(0xe9, ...u32(0)); // jmp to the next chunk
}
b.push(0x4d); // dec ebp
const after = b.length + 6;
b.push(0x0f, 0x85, ...u32((start - after) >>> 0), 0xf4); // jnz to the first chunk; hlt
writeFileSync(out, Uint8Array.from(b));

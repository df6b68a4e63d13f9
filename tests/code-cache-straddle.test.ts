// An instruction that straddles two pages under paging, in a hot loop (a Linux boot has one: a binary
// search whose CMP spans a page end, run 585 k times). Its block is cached like any other — decoded once,
// not on every execution — and compiled by the JIT, yet still follows the second page: a new mapping of
// that page (PTE write + INVLPG, the TLB then refilled by a data read) and a write to its bytes there must
// both be seen. Both engines; the sums are x86's own.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const rel32 = (from: number, to: number): number[] => le((to - from) | 0);

/** Page directory, the identity-mapped low 4 MiB's table, and the table of linear 4-8 MiB. */
const PD = 0x10000, PT_LOW = 0x11000, PT_HIGH = 0x12000;
/** Linear 0x400000 → frame A, 0x401000 → frame B (later C, a copy of B with other immediate bytes). */
const CODE = 0x400000, A = 0x200000, B = 0x201000, C = 0x202000;
const ADD = CODE + 0xffd; // add eax, imm32: 05 and two bytes of the immediate in A, its last two in B or C
/**
 * The loop's head, inc esi, just before ADD in page A: compiled code reaches ADD from it without a lookup
 * (which would check the second page), so only its own guard can see the second page change.
 */
const HEAD = ADD - 1;
const N = 3000;

/** Page A: set up, then jump to the loop head (just before the straddling ADD). */
function pageA(): Uint8Array {
  const a = new Uint8Array(0x1000);
  a.set([0xb9, ...le(N), 0x31, 0xc0, 0x31, 0xdb, 0xe9, ...rel32(CODE + 14, HEAD)]); // mov ecx, N; xor eax, eax; xor ebx, ebx; jmp HEAD
  a.set([0x46, 0x05, 0x11, 0x22], 0xffc); // inc esi; add eax, imm32 (its first three bytes)
  return a;
}

/**
 * Page B's code (page C has the same, but for the immediate's bytes): the loop's tail, then per pass
 * (EBX): 1, remap linear 0x401000 to frame C and loop again; 2, rewrite C's byte 1 (a code write to the
 * straddler's second page) and loop again; 3, isa-debug-exit.
 */
function pageB(imm2: number, imm3: number): Uint8Array {
  const at = CODE + 0x1000, b = new Uint8Array(0x1000);
  b.set([
    imm2, imm3, //                                   +0x00: the immediate's last two bytes
    0x49, //                                         +0x02: dec ecx
    0x0f, 0x85, ...rel32(at + 0x09, HEAD), //        +0x03: jnz HEAD
    0x43, //                                         +0x09: inc ebx
    0x83, 0xfb, 0x01, //                             +0x0a: cmp ebx, 1
    0x75, 0x21, //                                   +0x0d: jne +0x30
    0xc7, 0x05, ...le(PT_HIGH + 4), ...le(C | 7), // +0x0f: mov dword [PTE of 0x401000], C | 7
    0x0f, 0x01, 0x3d, ...le(CODE + 0x1000), //       +0x19: invlpg [0x401000]
    0x8b, 0x15, ...le(CODE + 0x1000), //             +0x20: mov edx, [0x401000] (the TLB now maps the page to C)
    0xb9, ...le(N), //                               +0x26: mov ecx, N
    0xe9, ...rel32(at + 0x30, HEAD), //              +0x2b: jmp HEAD
    0x83, 0xfb, 0x02, //                             +0x30: cmp ebx, 2
    0x75, 0x11, //                                   +0x33: jne +0x46
    0xc6, 0x05, ...le(C + 1), 0x55, //               +0x35: mov byte [C + 1], 0x55 (through the identity map)
    0xb9, ...le(N), //                               +0x3c: mov ecx, N
    0xe9, ...rel32(at + 0x46, HEAD), //              +0x41: jmp HEAD
    0x89, 0xc0, 0xe6, 0xf4, 0xf4, //                 +0x46: mov eax, eax (EAX is the answer); out 0xf4, al; hlt
  ]);
  return b;
}

async function run(engine: 'interp' | 'jit') {
  const vm = createVM({});
  if (engine === 'jit') await vm.enableJit({ tier2: 'off' });
  loadRaw(vm, pageA(), { load: A, entry: CODE });
  vm.memory.writeBytes(B, pageB(0x33, 0x44));
  vm.memory.writeBytes(C, pageB(0x77, 0x66));
  const pd = new Uint8Array(0x1000), low = new Uint8Array(0x1000), high = new Uint8Array(0x1000);
  pd.set([...le(PT_LOW | 7), ...le(PT_HIGH | 7)]);
  for (let p = 0; p < 1024; p++) low.set(le((p << 12) | 7), 4 * p);
  high.set([...le(A | 7), ...le(B | 7)]);
  vm.memory.writeBytes(PD, pd); vm.memory.writeBytes(PT_LOW, low); vm.memory.writeBytes(PT_HIGH, high);
  vm.setRegisters({ esp: 0x90000 });
  vm.writeRegister('cr3', PD);
  vm.writeRegister('cr0', vm.getRegisters().cr0 | 0x80000000);
  const exit = vm.run({ timeout: 60 });
  const r = vm.getRegisters();
  const exits = vm.jitStats()?.exits;
  return { reason: exit.reason, eax: r.eax >>> 0, ebx: r.ebx, decoded: vm.interpreter.cache.decoded, exits: exits === undefined ? 0 : exits.branch + exits.memory };
}

describe('an instruction straddling two pages, in a hot loop', () => {
  // N passes with each immediate: B's bytes, then C's (the new mapping), then C's with byte 1 rewritten.
  const expected = Number((BigInt(N) * (0x44332211n + 0x66772211n + 0x55772211n)) & 0xffffffffn);
  for (const engine of ['interp', 'jit'] as const) {
    it(`${engine}: decoded once per mapping and content, and the new mapping and the code write are seen`, async () => {
      const r = await run(engine);
      expect(r.reason).toBe('debug-exit');
      expect(r.ebx).toBe(3);
      expect(r.eax.toString(16)).toBe(expected.toString(16));
      // Each pass decodes the straddler once and a few blocks around it (decoded on every execution, it was 3 N).
      expect(r.decoded).toBeLessThan(40);
      // The JIT runs the straddler in compiled code, behind a check of its second page's TLB entry: it
      // leaves compiled code ~400 times in all (before its blocks turn hot, each pass), not on every trip.
      expect(r.exits).toBeLessThan(N / 3);
    });
  }
});

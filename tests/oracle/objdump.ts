// GNU objdump as an independent check of the generator's hand-made encodings, and for printing
// mismatching snippets. Snippets are laid out on a fixed stride padded with one-byte NOPs, so a wrong
// length in one snippet cannot desynchronize the next.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STRIDE = 64;

export interface Disassembly {
  /** Instructions objdump found starting inside the snippet: offset within it, length, Intel-syntax text. */
  instructions: { offset: number; length: number; text: string }[];
  /** True when the last instruction ends exactly at the snippet's end. */
  boundaryOk: boolean;
}

export function objdumpAvailable(): boolean {
  const r = spawnSync('objdump', ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** Disassemble snippets; `code16[i]` selects 16-bit decoding (objdump -m i8086) for snippet i. */
export function disassemble(snippets: readonly Uint8Array[], code16?: readonly boolean[]): Disassembly[] {
  const out: Disassembly[] = new Array(snippets.length);
  for (const mode of [false, true]) {
    const idx = snippets.map((_, i) => i).filter((i) => (code16?.[i] ?? false) === mode);
    if (idx.length === 0) continue;
    const part = disassembleMode(idx.map((i) => snippets[i]), mode ? 'i8086' : 'i386');
    idx.forEach((i, k) => { out[i] = part[k]; });
  }
  return out;
}

/** Disassemble snippets as x86-64 code (objdump -m i386:x86-64), for the long-mode harness's re-encodings. */
export function disassemble64(snippets: readonly Uint8Array[]): Disassembly[] { return disassembleMode(snippets, 'i386:x86-64'); }

function disassembleMode(snippets: readonly Uint8Array[], machine: string): Disassembly[] {
  const image = Buffer.alloc(snippets.length * STRIDE, 0x90);
  snippets.forEach((s, i) => image.set(s, i * STRIDE));
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-objdump-'));
  try {
    const file = join(dir, 'snippets.bin');
    writeFileSync(file, image);
    const r = spawnSync('objdump', ['-D', '-b', 'binary', '-m', machine, '-M', 'intel', '-w', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.error || r.status !== 0) throw new Error(`objdump failed: ${r.error?.message ?? r.stderr}`);
    const out: Disassembly[] = snippets.map(() => ({ instructions: [], boundaryOk: false }));
    // Lines look like "    1a:\t66 0f af c3          \timul   ax,bx".
    for (const line of r.stdout.split('\n')) {
      const m = /^\s*([0-9a-f]+):\t([0-9a-f ]+)\t?(.*)$/.exec(line);
      if (!m) continue;
      const at = parseInt(m[1], 16), length = m[2].trim().split(/\s+/).length;
      const k = Math.floor(at / STRIDE), off = at - k * STRIDE;
      if (k >= snippets.length || off >= snippets[k].length) continue;
      out[k].instructions.push({ offset: off, length, text: m[3].trim().replace(/\s+/g, ' ') });
    }
    out.forEach((d, k) => {
      const last = d.instructions[d.instructions.length - 1];
      d.boundaryOk = last !== undefined && last.offset + last.length === snippets[k].length;
    });
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

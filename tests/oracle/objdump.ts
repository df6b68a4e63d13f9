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

export function disassemble(snippets: readonly Uint8Array[]): Disassembly[] {
  const image = Buffer.alloc(snippets.length * STRIDE, 0x90);
  snippets.forEach((s, i) => image.set(s, i * STRIDE));
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-objdump-'));
  try {
    const file = join(dir, 'snippets.bin');
    writeFileSync(file, image);
    const r = spawnSync('objdump', ['-D', '-b', 'binary', '-m', 'i386', '-M', 'intel', '-w', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.error || r.status !== 0) throw new Error(`objdump failed: ${r.error?.message ?? r.stderr}`);
    const out: Disassembly[] = snippets.map(() => ({ instructions: [], boundaryOk: false }));
    // Lines look like "    1a:\t66 0f af c3          \timul   ax,bx".
    const starts: { at: number; length: number; text: string }[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = /^\s*([0-9a-f]+):\t([0-9a-f ]+)\t?(.*)$/.exec(line);
      if (!m) continue;
      const bytes = m[2].trim().split(/\s+/).length;
      starts.push({ at: parseInt(m[1], 16), length: bytes, text: m[3].trim().replace(/\s+/g, ' ') });
    }
    for (const s of starts) {
      const k = Math.floor(s.at / STRIDE), off = s.at - k * STRIDE;
      if (k >= snippets.length || off >= snippets[k].length) continue;
      const d = out[k];
      d.instructions.push({ offset: off, length: s.length, text: s.text });
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

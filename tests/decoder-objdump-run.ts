// Runs GNU objdump over many instruction byte sequences at once: each sequence gets a fixed 48-byte slot
// [bytes][0x90 x >= 15][0x00 x >= 16], so objdump is back in step at every slot start whatever it made
// of the bytes (an instruction is at most 15 bytes, so it cannot run past the 0x90s), and its default
// skipping of zero runs (printed as `...`, in steps of 4 bytes) keeps the output to ~20 lines per slot.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SLOT = 48;
const MIN_NOPS = 15;

export interface ObjdumpLine { text: string; length: number }

/** Lay the sequences out in slots (each at most 15 bytes; none may start with four zero bytes). */
export function packSlots(seqs: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(seqs.length * SLOT);
  seqs.forEach((s, i) => {
    if (s.length < 1 || s.length > 15) throw new Error(`slot ${i}: ${s.length} bytes`);
    const at = i * SLOT;
    out.set(s, at);
    // Zeros fill the slot's tail in a multiple of 4 bytes so objdump's zero skipping ends exactly at the next slot.
    const zeros = (SLOT - s.length - MIN_NOPS) & ~3;
    out.fill(0x90, at + s.length, at + SLOT - zeros);
  });
  return out;
}

/** objdump's decoding of the first instruction of every slot: its text and the bytes it consumed. */
export async function objdumpSlots(seqs: readonly Uint8Array[], bits: 16 | 32): Promise<(ObjdumpLine | undefined)[]> {
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-objdump-'));
  try {
    const file = join(dir, `cases${bits}.bin`);
    writeFileSync(file, packSlots(seqs));
    const args = ['-D', '-b', 'binary', '-m', bits === 16 ? 'i8086' : 'i386', '-M', 'intel', '--no-show-raw-insn', file];
    const text = await run('objdump', args);
    return parseSlots(text, seqs.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${cmd} exited with ${code}: ${Buffer.concat(err).toString()}`));
      else resolve(Buffer.concat(out).toString('latin1'));
    });
  });
}

/** Lines look like `   1b0:\tmov    eax,DWORD PTR [esp+0x10]`; `\t...` marks skipped zeros. */
function parseSlots(text: string, count: number): (ObjdumpLine | undefined)[] {
  const result: (ObjdumpLine | undefined)[] = new Array(count);
  let pendingSlot = -1, pendingText = '', pendingAddr = 0;
  let start = text.indexOf('>:\n');
  start = start < 0 ? 0 : start + 3;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':\t', start);
    if (colon > start && colon < end) {
      const addr = parseInt(text.slice(start, colon), 16);
      if (pendingSlot >= 0) { result[pendingSlot] = { text: pendingText, length: addr - pendingAddr }; pendingSlot = -1; }
      if (addr % SLOT === 0) { pendingSlot = addr / SLOT; pendingAddr = addr; pendingText = text.slice(colon + 2, end).trim(); }
    }
    start = end + 1;
  }
  return result;
}

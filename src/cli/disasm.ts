// `x86jit disasm FILE`: disassemble a flat binary in Intel syntax, one instruction per line, the way
// `objdump -D -b binary -m i386 -M intel` lays it out (address, bytes, text).
import { decodeBytes, DEFAULT_MEMORY, formatIntel, readImageFile } from '../node.ts';
import { emit } from './output.ts';
import { parseCommand, parseNumber, UsageError } from './parse.ts';

export const DISASM_HELP = `usage: x86jit disasm FILE [options]

options:
  --bits 16|32     code size (default 32)
  --org ADDR       address of the first byte (default 0)
  --offset N       start at byte N of the file (default 0)
  --length N       disassemble at most N bytes
  -h, --help       show this help
`;

export async function disasmCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('disasm', argv, {
    bits: { type: 'string', default: '32' },
    org: { type: 'string', default: '0' },
    offset: { type: 'string', default: '0' },
    length: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { emit(1, DISASM_HELP); return 0; }
  if (positionals.length !== 1) throw new UsageError('disasm: expected one FILE (try: x86jit disasm --help)');
  if (values.bits !== '16' && values.bits !== '32') throw new UsageError(`--bits: '${values.bits}' is not 16 or 32`);
  const bits = values.bits === '16' ? 16 : 32;
  const org = parseNumber(values.org, '--org', 0xffff_ffff);
  const start = parseNumber(values.offset, '--offset');
  const length = values.length !== undefined ? parseNumber(values.length, '--length') : Infinity;
  // No guest RAM to bound the file by: the default RAM size is the bound (a pipe may be endless).
  const bytes = readImageFile(positionals[0], DEFAULT_MEMORY, `the ${DEFAULT_MEMORY >> 20} MiB x86jit disasm reads`);
  if (start > bytes.length) throw new UsageError(`--offset: ${start} is beyond the end of the file (${bytes.length} bytes)`);
  const end = Math.min(bytes.length, start + length);
  const lines: string[] = [];
  for (let off = start; off < end;) {
    const view = bytes.subarray(off, end);
    let ins;
    try { ins = decodeBytes(view, 0, bits); } catch { ins = undefined; }
    const length = ins && ins.length > 0 && ins.length <= view.length ? ins.length : 1;
    const text = ins && ins.length <= view.length ? formatIntel(ins, (org + off) >>> 0) : '(bad)';
    const hex = Array.from(view.subarray(0, length), (b) => b.toString(16).padStart(2, '0')).join(' ');
    lines.push(`${((org + off) >>> 0).toString(16).padStart(8, ' ')}:\t${hex.padEnd(21)}\t${text}`);
    off += length;
    // A reader that went away (| head) ends the listing (status 0); main.ts reports other write failures.
    if (lines.length >= 4096) { if (!emit(1, `${lines.join('\n')}\n`)) return 0; lines.length = 0; }
  }
  if (lines.length) emit(1, `${lines.join('\n')}\n`);
  return 0;
}

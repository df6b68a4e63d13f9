// `x86jit run --log ITEMS [--log-file FILE]`, in the manner of QEMU's `-d ITEMS -D FILE`: what the guest
// and the engines do, as lines of text. Items that come from rare events (decoding, interrupts, system
// registers, the JIT's regions) leave both engines running as they are; `exec` and `cpu` log every
// instruction, so the interpreter runs one instruction at a time while they are on (`--trace` is `--log cpu`).
import { closeSync, openSync, writeSync } from 'node:fs';
import type { LogItem } from '../cpu/cpu.ts';
import type { VM } from '../node.ts';
import { emit } from './output.ts';
import { UsageError } from './parse.ts';

export const LOG_ITEMS = {
  in_asm: 'guest code of each block as it is decoded',
  int: 'interrupts and exceptions delivered (vector, error code, CS:EIP, mode)',
  sys: 'control-register writes, LGDT/LIDT/LLDT/LTR, protected-mode segment loads',
  jit: 'regions the JIT translates, and its flushes',
  exec: 'every instruction executed (the interpreter runs)',
  cpu: 'every instruction executed with the registers before it (the interpreter runs)',
} as const;
type Item = keyof typeof LOG_ITEMS;

export const LOG_HELP = `  --log ITEMS               log what happens, QEMU -d style; ITEMS separated by commas:
${Object.entries(LOG_ITEMS).map(([k, v]) => `                              ${k.padEnd(7)} ${v}`).join('\n')}
  --log-file FILE           write the log to FILE instead of stderr
`;

export function parseLogItems(text: string): Set<Item> {
  const items = new Set<Item>();
  for (const name of text.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    if (!(name in LOG_ITEMS)) throw new UsageError(`--log: '${name}' is not one of ${Object.keys(LOG_ITEMS).join(', ')}`);
    items.add(name as Item);
  }
  if (items.size === 0) throw new UsageError('--log: name at least one item');
  return items;
}

export interface Log {
  /** For vm.run: one line per instruction, when exec or cpu is on. */
  trace?: (line: string) => void;
  traceRegisters: boolean;
  /** Write out what is buffered and close the file. */
  close(): void;
}

/**
 * Start logging `items` from `vm` into `file` (or stderr). `stop` is called when the log cannot be written
 * (a closed stderr), to end the run as a closed output does.
 */
export function openLog(vm: VM, items: Set<Item>, file: string | undefined, stop: () => void): Log {
  let fd: number | undefined;
  if (file !== undefined) {
    try { fd = openSync(file, 'w'); } catch (e) { throw new UsageError(`--log-file: cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  }
  // Lines are gathered and written in blocks of 64 KiB: a per-instruction log writes millions of them.
  let buffer: string[] = [], size = 0;
  const flush = (): void => {
    if (buffer.length === 0) return;
    const text = buffer.join('');
    buffer = []; size = 0;
    if (fd !== undefined) writeSync(fd, text);
    else if (!emit(2, text)) stop();
  };
  const line = (text: string): void => {
    buffer.push(text, '\n');
    size += text.length + 1;
    if (size >= 1 << 16) flush();
  };
  const events = new Set<LogItem>([...items].filter((i): i is LogItem & Item => i !== 'exec' && i !== 'cpu'));
  if (events.size > 0) vm.cpu.log = (item, text) => { if (events.has(item)) line(item === 'in_asm' ? text : `${item}: ${text}`); };
  const perInstruction = items.has('exec') || items.has('cpu');
  return {
    trace: perInstruction ? line : undefined,
    traceRegisters: items.has('cpu'),
    close: () => {
      vm.cpu.log = null;
      flush();
      if (fd !== undefined) closeSync(fd);
    },
  };
}

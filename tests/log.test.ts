// `x86jit run --log ITEMS` (QEMU's -d): the interrupts and exceptions it logs are QEMU's own, event for
// event (qemu-system-i386 -d int is the oracle, on the ROMs whose events do not depend on timer timing),
// under both engines; the other items in their formats, to stderr or --log-file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const X86JIT = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const ROMS = join(import.meta.dirname, '..', 'test-roms');
const hasQemu = spawnSync('qemu-system-i386', ['--version']).status === 0;
if (!hasQemu) console.warn('log.test: SKIPPED the QEMU comparison — qemu-system-i386 is not installed (.ci/run installs it)');

const x86jit = (...args: string[]) => spawnSync(process.execPath, [X86JIT, ...args], { encoding: 'utf8', timeout: 120_000 });

/** One delivered event as both logs can say it: vector, software INT or not, CS:EIP, CPL, error code, CR2 (#PF). */
type Event = string;

/** QEMU's `-d int` lines (`v=0e e=0004 i=0 cpl=3 IP=001b:0010405d pc=... CR2=00400010`), hardware interrupts left out. */
function qemuEvents(rom: string): Event[] {
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-qint-')), log = join(dir, 'int.log');
  spawnSync('qemu-system-i386', ['-kernel', join(ROMS, rom), '-serial', 'null', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-display', 'none', '-nodefaults', '-d', 'int', '-D', log], { timeout: 120_000 });
  const events: Event[] = [];
  for (const line of readFileSync(log, 'latin1').split('\n')) {
    const m = /^ +\d+: v=([0-9a-f]{2}) e=([0-9a-f]{4}) i=(\d) cpl=(\d) IP=([0-9a-f]{4}:[0-9a-f]{8}) .*?(?:CR2=([0-9a-f]{8}))?$/.exec(line);
    if (!m) continue;
    const [, v, e, i, cpl, at, cr2] = m;
    if (i === '0' && parseInt(v, 16) >= 0x20) continue; // a hardware interrupt: when it comes is timing
    events.push(`${v} ${i === '1' ? 'INT' : 'exception'} ${at} cpl=${cpl} e=${e}${v === '0e' ? ` cr2=${cr2}` : ''}`);
  }
  return events;
}

/** Ours (`int: exception 0x0e error=0004 CR2=00400010 at 001b:0010405d CPL=3 ...`), in the same shape. */
function ourEvents(stderr: string): Event[] {
  const events: Event[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^int: (exception|INT|hardware interrupt) 0x([0-9a-f]{2})(?: error=([0-9a-f]{4}))?(?: CR2=([0-9a-f]{8}))? at ([0-9a-f]{4}:[0-9a-f]{8}) CPL=(\d)/.exec(line);
    if (!m || m[1] === 'hardware interrupt') continue;
    const [, kind, v, e, cr2, at, cpl] = m;
    events.push(`${v} ${kind} ${at} cpl=${cpl} e=${e ?? '0000'}${v === '0e' ? ` cr2=${cr2}` : ''}`);
  }
  return events;
}

describe('--log int: the same interrupts and exceptions as QEMU -d int', () => {
  for (const rom of ['exceptions-pm.elf', 'exceptions.elf', 'paging.elf', 'segments.elf']) {
    it.skipIf(!hasQemu)(`${rom}: every exception and INT, in order, with its CS:EIP, CPL, error code and CR2 (both engines)`, () => {
      const want = qemuEvents(rom);
      expect(want.length).toBeGreaterThan(0);
      for (const engine of ['interp', 'jit']) {
        const r = x86jit('run', join(ROMS, rom), '--log', 'int', '--engine', engine);
        expect(r.status, r.stderr.slice(-500)).toBe(1);
        expect(ourEvents(r.stderr), engine).toEqual(want);
      }
    }, 120_000);
  }
});

describe('--log items', () => {
  it('sys: control registers, descriptor tables and segment loads, the same under both engines', () => {
    const logs = ['interp', 'jit'].map((engine) => x86jit('run', join(ROMS, 'paging.elf'), '--log', 'sys', '--engine', engine).stderr);
    expect(logs[0]).toMatch(/^sys: lgdt base=[0-9a-f]{8} limit=[0-9a-f]{4}$/m);
    expect(logs[0]).toMatch(/^sys: mov CR3, [0-9a-f]{8} \(was [0-9a-f]{8}\)$/m);
    expect(logs[0]).toMatch(/^sys: mov CR0, [0-9a-f]{8} \(was 000000[0-9a-f]{2}\)$/m);
    expect(logs[0]).toMatch(/^sys: load CS=0008 base=00000000 limit=ffffffff attr=[0-9a-f]{4} DPL=0$/m);
    expect(logs[1]).toBe(logs[0]);
  });

  it('in_asm to --log-file: each block as it is decoded; nothing on stderr', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'x86jit-log-')), 'in_asm.log');
    const r = x86jit('run', join(ROMS, 'hello.elf'), '--log', 'in_asm', '--log-file', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('IN: 0008:0010000c (linear 0010000c, 32-bit)\n  0008:0010000c  cli\n')).toBe(true);
    expect(text.split('\n').filter((l) => l.startsWith('IN: ')).length).toBeGreaterThan(10);
  });

  it('exec: one line per instruction; cpu adds the registers, as --trace does', () => {
    const exec = x86jit('run', join(ROMS, 'hello.elf'), '--log', 'exec', '--max-instructions', '3');
    expect(exec.stderr.split('\n').slice(0, 3)).toEqual(['0008:0010000c  cli', '0008:0010000d  cld', '0008:0010000e  mov edx,eax']);
    const cpu = x86jit('run', join(ROMS, 'hello.elf'), '--log', 'cpu', '--max-instructions', '3');
    expect(cpu.stderr.split('\n')[0]).toMatch(/^0008:0010000c {2}cli {30,}eax=2badb002 .* efl=[0-9a-f]{8}$/);
    expect(x86jit('run', join(ROMS, 'hello.elf'), '--trace', '--max-instructions', '3').stderr).toBe(cpu.stderr);
  });

  it('jit: the regions the JIT translates (none under the interpreter)', () => {
    const jit = x86jit('run', join(ROMS, 'loops.elf'), '--log', 'jit', '--engine', 'jit');
    expect(jit.stderr).toMatch(/^jit: region 0 tier 1 mode 1: [0-9a-f]{8}-[0-9a-f]{8}, \d+ blocks, \d+ instructions, \d+ bytes of WASM, [\d.]+ ms$/m);
    expect(x86jit('run', join(ROMS, 'loops.elf'), '--log', 'jit').stderr).toBe('');
  }, 60_000);

  it('bad use is one line and status 2', () => {
    for (const [args, message] of [
      [['--log', 'bogus'], /--log: 'bogus' is not one of in_asm, int, sys, jit, exec, cpu/],
      [['--log-file', '/tmp/x.log'], /--log-file goes with --log/],
      [['--log', 'int', '--log-file', '/nonexistent/dir/x.log'], /--log-file: cannot write \/nonexistent\/dir\/x.log: ENOENT/],
    ] as const) {
      const r = x86jit('run', join(ROMS, 'hello.elf'), ...args);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});

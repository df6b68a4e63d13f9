// Snapshots, by the property that matters: for every test ROM under both engines, saving the VM at
// instruction N and continuing from the file in a fresh VM gives exactly the output, exit status and
// instruction count of an uninterrupted run — at points spread over each run, and at the points where the
// state is hardest to capture (test-roms/snapshot-states.bin walked one instruction at a time: halted on
// the PIT, the STI shadow, inside a REP of several chunks, an IRQ pending with IF = 0, paging with a warm
// TLB, bytes in the UART's FIFO; real mode in bios-realmode.bin; virtual-8086 mode in v86.elf). A few continue in a fresh process
// through the CLI. Each ROM's run is saved and continued in a fresh VM at its first and last instruction and at
// X86JIT_SNAPSHOT_POINTS (default 4) seeded points between, one after the other: one run made of that many VMs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNum } from './env-number.ts';

const envNumber = (name: string, fallback: number): number => parseNum(name) ?? fallback;

// Through the bundle `npm test` builds: the interpreter runs ~8× faster there than under vitest's transform.
const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const X86JIT = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const api = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
const { VM, loadBios, loadImage, loadRaw, SnapshotError } = api;
type Vm = InstanceType<typeof VM>;

const DIR = join(import.meta.dirname, '..', 'test-roms');
const STATES = 'snapshot-states.bin';
/** What the host types into snapshot-states.bin's UART before it starts (two bytes fall to its FIFO reset). */
const STATES_INPUT = new TextEncoder().encode('0123456789abcdefghijklmnopqrstuv');
const ROMS = [...readdirSync(DIR).filter((f) => f.endsWith('.elf') || f === 'bios-realmode.bin').sort(), STATES];
const POINTS = envNumber('X86JIT_SNAPSHOT_POINTS', 3);
const ENGINES = ['interp', 'jit'] as const;
type Engine = (typeof ENGINES)[number];

interface Outcome { output: string; status: number | undefined; reason: string; instructions: number }

function load(vm: Vm, rom: string): void {
  const bytes = new Uint8Array(readFileSync(join(DIR, rom)));
  if (rom === STATES) { loadRaw(vm, bytes, { load: 0x100000, entry: 0x100000 }); vm.uart.queueInput(STATES_INPUT); }
  else if (rom.endsWith('.bin')) loadBios(vm, bytes);
  else loadImage(vm, bytes, rom, {});
}

const options = (engine: Engine, out: Uint8Array[]) => ({ engine, stdout: (b: Uint8Array) => out.push(b.slice()) });
const text = (out: Uint8Array[]): string => Buffer.concat(out).toString('latin1');

async function fresh(rom: string, engine: Engine, out: Uint8Array[], memory?: number): Promise<Vm> {
  const vm = await VM.create({ ...options(engine, out), ...(memory === undefined ? {} : { memory }) });
  load(vm, rom);
  return vm;
}

const references = new Map<string, Outcome>();
async function reference(rom: string, engine: Engine): Promise<Outcome> {
  const key = `${rom}/${engine}`;
  let r = references.get(key);
  if (!r) {
    const out: Uint8Array[] = [];
    const vm = await fresh(rom, engine, out);
    const exit = vm.run({ timeout: 120 });
    references.set(key, (r = { output: text(out), status: exit.status, reason: exit.reason, instructions: vm.instructions }));
  }
  return r;
}

/** POINTS instruction counts spread over a run of `total`, the same every run (a fixed LCG per ROM). */
function pointsFor(rom: string, total: number): number[] {
  let x = [...rom].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const points = new Set([1, total - 1]);
  while (points.size < POINTS + 2) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; points.add(1 + Math.floor((x / 2 ** 32) * (total - 2))); }
  return [...points].filter((n) => n > 0 && n < total).sort((a, b) => a - b);
}

/**
 * Run to each point in turn, saving there and continuing from the file in a fresh VM each time: one run
 * made of points.length + 1 VMs, whose outputs together and whose final count must be the uninterrupted run's.
 * Restores alternate between lazy RAM (pages copied in on first touch) and all at once, lazy first; the next
 * save reads a lazily restored VM's pages not yet touched.
 */
async function chainAt(rom: string, engine: Engine, points: number[], check?: (restored: Vm) => void): Promise<Outcome> {
  const out: Uint8Array[] = [];
  let vm = await fresh(rom, engine, out);
  for (const [i, n] of points.entries()) {
    const stop = vm.run({ maxInstructions: n - vm.instructions, timeout: 120 });
    expect(stop.reason, `run to ${n}`).toBe('max-instructions');
    vm = await VM.fromState(vm.saveState(), { ...options(engine, out), lazyRam: i % 2 === 0 });
    check?.(vm);
  }
  const exit = vm.run({ timeout: 120 });
  return { output: text(out), status: exit.status, reason: exit.reason, instructions: vm.instructions };
}

describe('snapshot at N and continue = an uninterrupted run', () => {
  for (const rom of ROMS) {
    for (const engine of ENGINES) {
      it(`${rom}, ${engine}`, async () => {
        // The interpreter's run is the reference for both engines (the JIT's equality with it is jit.test.ts's).
        const ref = await reference(rom, 'interp');
        expect(ref.reason).toBe('debug-exit');
        const points = pointsFor(rom, ref.instructions);
        const got = await chainAt(rom, engine, points);
        expect(got, `saved and restored at ${points.join(', ')}`).toEqual(ref);
      }, 300_000);
    }
  }
});

/** The first instruction counts at which each hard-to-capture state holds, found by single-stepping the interpreter. */
async function hardPoints(rom: string, predicates: Record<string, (vm: Vm) => boolean>): Promise<Map<string, number>> {
  const vm = await fresh(rom, 'interp', []);
  const found = new Map<string, number>();
  const names = Object.keys(predicates);
  for (let steps = 0; found.size < names.length && steps < 2_000_000; steps++) {
    if (vm.run({ maxInstructions: 1 }).reason !== 'max-instructions') break;
    for (const name of names) if (!found.has(name) && predicates[name](vm)) found.set(name, vm.instructions);
  }
  return found;
}

const IF = 0x200;
const eflags = (vm: Vm): number => vm.getRegisters().eflags;
/** The bytes at EIP (paging is identity in snapshot-states.bin). */
const codeAt = (vm: Vm, n: number): number[] => [...vm.memory.readBytes(vm.getRegisters().eip, n)];
/** State predicates; one that names a cache (the TLB) holds only before the snapshot: a restore starts caches cold. */
const STATE_PREDICATES: Record<string, (vm: Vm) => boolean> = {
  'halted waiting for the PIT': (vm) => vm.cpu.halted && (eflags(vm) & IF) !== 0,
  'in the STI shadow': (vm) => vm.cpu.shadow !== 0,
  'inside REP STOSD (between chunks)': (vm) => { const c = codeAt(vm, 2); return c[0] === 0xf3 && c[1] === 0xab && vm.cpu.s[1] !== 0 && vm.cpu.s[1] !== 150000; },
  'inside REP MOVSD (between chunks)': (vm) => { const c = codeAt(vm, 2); return c[0] === 0xf3 && c[1] === 0xa5 && vm.cpu.s[1] !== 0 && vm.cpu.s[1] !== 150000; },
  'an IRQ pending with IF = 0': (vm) => vm.pic.hasInterrupt() && (eflags(vm) & IF) === 0 && !vm.cpu.halted,
  'paging on, TLB warm': (vm) => vm.cpu.paging && vm.cpu.tlbTag.some((t) => t !== 0) && (eflags(vm) & IF) !== 0,
  'bytes in the UART receive FIFO': (vm) => (vm.uart.save().rxCount as number) > 0 && vm.instructions > 1000,
};

const VM_FLAG = 0x20000, IOPL = 0x3000;
/** v86.elf's virtual-8086 states: segment caches with real-mode bases at CPL 3 under protected mode. */
const V86_PREDICATES: Record<string, (vm: Vm) => boolean> = {
  'virtual-8086 mode at IOPL 3, FS = 0x2101 loaded there': (vm) => (eflags(vm) & (VM_FLAG | IOPL)) === (VM_FLAG | IOPL) && vm.readRegister('fs') === 0x2101,
  'virtual-8086 mode at IOPL 0': (vm) => (eflags(vm) & (VM_FLAG | IOPL)) === VM_FLAG,
  'in the virtual-8086 task (TR = its TSS)': (vm) => (eflags(vm) & VM_FLAG) !== 0 && vm.readRegister('tr') === 0x30,
};

describe('snapshot in the states hardest to capture', () => {
  const cases: [string, Record<string, (vm: Vm) => boolean>][] = [
    [STATES, STATE_PREDICATES],
    ['bios-realmode.bin', { 'in real mode': (vm) => (vm.getRegisters().cr0 & 1) === 0 && vm.instructions > 20 }],
    ['v86.elf', V86_PREDICATES],
  ];
  for (const [rom, predicates] of cases) {
    it(`${rom}: every state is reached and survives a snapshot, both engines`, async () => {
      const points = await hardPoints(rom, predicates);
      expect([...points.keys()].sort()).toEqual(Object.keys(predicates).sort());
      const wrong: string[] = [];
      for (const engine of ENGINES) {
        const ref = await reference(rom, engine);
        for (const [name, n] of points) {
          const got = await chainAt(rom, engine, [n], (restored) => {
            // The restored VM is in the state itself (so the snapshot was taken where the test meant).
            if (engine === 'interp' && !name.includes('TLB') && !predicates[name](restored)) wrong.push(`${engine} ${name} (N=${n}): the restored VM is not in that state`);
          });
          if (got.output !== ref.output || got.status !== ref.status || got.instructions !== ref.instructions) {
            wrong.push(`${engine} ${name} (N=${n}): status ${got.status}/${ref.status}, instructions ${got.instructions}/${ref.instructions}, output ${got.output === ref.output ? 'same' : 'differs'}`);
          }
        }
      }
      expect(wrong).toEqual([]);
    }, 300_000);
  }
});

describe('diff snapshots: a chain restores to the state a full snapshot holds', () => {
  for (const [rom, engine] of [['wl-memcpy.elf', 'jit'], ['paging.elf', 'interp'], [STATES, 'jit'], ['selfmod.elf', 'interp']] as const) {
    it(`${rom}, ${engine}: full at N1, diffs at N2 and N3; the chain = a full snapshot at N3, and continues as the uninterrupted run`, async () => {
      const ref = await reference(rom, engine);
      const [n1, n2, n3] = [0.2, 0.5, 0.8].map((f) => Math.floor(ref.instructions * f));
      const out: Uint8Array[] = [];
      const vm = await fresh(rom, engine, out);
      vm.run({ maxInstructions: n1 });
      const full = vm.saveState();
      vm.run({ maxInstructions: n2 - n1 });
      const d1 = vm.saveState({ since: api.snapshotId(full) });
      vm.run({ maxInstructions: n3 - n2 });
      const d2 = vm.saveState({ since: api.snapshotId(d1) });
      const whole = vm.saveState();
      // Nothing written since `whole`: a diff holds no page — the sections a save without RAM holds, its page
      // bitmap (one bit per page), and less than a page more.
      const sections = vm.saveState({ withoutRam: true, compression: 'none' }).length;
      expect(vm.saveState({ since: api.snapshotId(whole), compression: 'none' }).length).toBeLessThan(sections + vm.memory.ramSize / 4096 / 8 + 4096);
      const chained = await VM.fromState([full, d1, d2], options(engine, out));
      const single = await VM.fromState(whole, { engine });
      expect(Buffer.from(chained.memory.ram).equals(Buffer.from(single.memory.ram))).toBe(true);
      // The same chain restored lazily: every page comes from the file that last stored it, or stays zero.
      const lazy = await VM.fromState([full, d1, d2], { engine, lazyRam: true });
      lazy.memory.loadAllPages();
      expect(Buffer.from(lazy.memory.ram).equals(Buffer.from(single.memory.ram))).toBe(true);
      expect(chained.getRegisters()).toEqual(single.getRegisters());
      expect(chained.instructions).toBe(n3);
      const exit = chained.run({ timeout: 120 });
      expect([text(out), exit.status, chained.instructions]).toEqual([ref.output, ref.status, ref.instructions]);
      // A chain out of order, or a diff alone, is refused in one line.
      await expect(VM.fromState([full, d2], {})).rejects.toThrow(/snapshot 2 of the chain is a diff of another snapshot/);
      await expect(VM.fromState(d1, {})).rejects.toThrow(/must be a full snapshot/);
      expect(() => vm.saveState({ since: api.snapshotId(full) })).toThrow(/not logged its writes since that snapshot/);
      // Someone else took the log: the VM cannot know what it missed, and refuses the diff.
      const last = vm.saveState();
      vm.memory.takeDirtyLog();
      expect(() => vm.saveState({ since: api.snapshotId(last) })).toThrow(/not logged its writes/);
    }, 120_000);
  }
});

describe('clones: many VMs from one snapshot in one process', () => {
  it(`${envNumber('X86JIT_SNAPSHOT_CLONES', 20)} clones of snapshot-states.bin, half of them under the JIT, half with lazy RAM, each run to its end as the original would`, async () => {
    const ref = await reference(STATES, 'interp');
    const vm = await fresh(STATES, 'interp', []);
    vm.run({ maxInstructions: Math.floor(ref.instructions / 2) });
    const beforeOutput: Uint8Array[] = [];
    const first = await fresh(STATES, 'interp', beforeOutput);
    first.run({ maxInstructions: Math.floor(ref.instructions / 2) });
    const file = vm.saveState();
    const clones = await Promise.all(Array.from({ length: envNumber('X86JIT_SNAPSHOT_CLONES', 20) }, async (_, i) => {
      const out: Uint8Array[] = [...beforeOutput];
      const clone = await VM.fromState(file, { ...options(i % 2 ? 'jit' : 'interp', out), lazyRam: i % 4 < 2 });
      return { clone, out };
    }));
    for (const { clone, out } of clones) {
      const exit = clone.run({ timeout: 120 });
      expect([text(out), exit.status, clone.instructions]).toEqual([ref.output, ref.status, ref.instructions]);
    }
    // Clones share nothing: one's RAM written does not show in another's.
    clones[0].clone.memory.writeBytes(0x700000, Uint8Array.of(0xaa));
    expect(clones[1].clone.memory.readBytes(0x700000, 1)[0]).toBe(0);
  }, 300_000);
});

describe('lazy RAM: a restored VM copies pages in on first touch', () => {
  /** hello.elf half-way, with 300 pages of distinct data at 16 MiB that it never reads and one page at 100 MiB. */
  async function guestWithData(engine: Engine): Promise<{ file: Uint8Array; ram: Buffer; ref: Outcome; before: Uint8Array[] }> {
    const ref = await reference('hello.elf', engine);
    const before: Uint8Array[] = [];
    const vm = await fresh('hello.elf', engine, before);
    vm.run({ maxInstructions: Math.floor(ref.instructions / 2) });
    const data = new Uint8Array(300 * 4096).map((_, i) => (i * 7 + (i >>> 12)) & 0xff);
    vm.memory.writeBytes(16 << 20, data);
    vm.memory.writeBytes(100 << 20, Uint8Array.of(1, 2, 3, 4));
    const file = vm.saveState();
    return { file, ram: Buffer.from(vm.memory.ram), ref, before };
  }

  for (const engine of ENGINES) {
    it(`${engine}: runs to its end holding only what it touched; every page reads as saved; a diff and a full save of it are right`, async () => {
      const { file, ram, ref, before } = await guestWithData(engine);
      const out: Uint8Array[] = [...before];
      // (At threshold 50: the half of hello.elf left runs no block the default 400 times.)
      const vm = await VM.fromState(file, { ...options(engine, out), lazyRam: true, jit: { threshold: 50 } });
      const pending0 = vm.memory.pendingPages;
      expect(pending0).toBeGreaterThan(300);
      const exit = vm.run({ timeout: 120 });
      expect([text(out), exit.status, vm.instructions]).toEqual([ref.output, ref.status, ref.instructions]);
      // The JIT without paging runs compiled code only once every page is in; the interpreter needs only what it touched.
      if (engine === 'interp') expect(vm.memory.pendingPages).toBeGreaterThan(300);
      else expect(vm.memory.pendingPages).toBe(0);
      // A read through the API brings in the page it reads, and only that one.
      const pending = vm.memory.pendingPages;
      expect(vm.memory.readBytes((16 << 20) + 5 * 4096 + 10, 2)).toEqual(Uint8Array.from(ram.subarray((16 << 20) + 5 * 4096 + 10, (16 << 20) + 5 * 4096 + 12)));
      if (pending > 0) expect(vm.memory.pendingPages).toBe(pending - 1);
      // A diff since the restored snapshot holds the pages the guest wrote; restored over its base it is the VM's RAM.
      const diff = vm.saveState({ since: api.snapshotId(file) });
      const chained = await VM.fromState([file, diff], {});
      // A full save reads the pages never touched too.
      const full = vm.saveState();
      expect(vm.memory.pendingPages).toBe(0);
      const whole = await VM.fromState(full, {});
      expect(Buffer.from(whole.memory.ram).equals(Buffer.from(vm.memory.ram))).toBe(true);
      expect(Buffer.from(chained.memory.ram).equals(Buffer.from(vm.memory.ram))).toBe(true);
      // Untouched pages hold what was saved.
      expect(Buffer.from(vm.memory.ram.subarray(16 << 20, (16 << 20) + 300 * 4096)).equals(ram.subarray(16 << 20, (16 << 20) + 300 * 4096))).toBe(true);
    }, 120_000);
  }

  for (const lazyRam of [true, 'chunk'] as const) {
    it(`paging under the interpreter, lazyRam ${lazyRam}: the RAM fast paths stay, and a diff since the restore still holds every page written`, async () => {
      const rom = 'paging.elf', ref = await reference(rom, 'interp');
      const before: Uint8Array[] = [];
      const vm = await fresh(rom, 'interp', before);
      vm.run({ maxInstructions: Math.floor(ref.instructions * 0.7) });
      vm.memory.writeBytes(60 << 20, new Uint8Array(64 * 4096).fill(0x5a));
      const file = vm.saveState();
      const out: Uint8Array[] = [...before];
      const lazy = await VM.fromState(file, { ...options('interp', out), lazyRam });
      expect(lazy.cpu.fastRamEnd, 'paging is on: translated accesses take the fast paths').toBe(lazy.memory.ramSize);
      const exit = lazy.run({ timeout: 120 });
      expect([text(out), exit.status, lazy.instructions]).toEqual([ref.output, ref.status, ref.instructions]);
      // (In 'chunk' mode a touched page brings its chunk's other pages in with it.)
      expect(lazy.memory.pendingPages, 'the pages it never touched are still in the file').toBeGreaterThanOrEqual(lazyRam === true ? 64 : 1);
      // The stores that took the fast paths were logged: the diff over its base is the VM's RAM.
      const diff = lazy.saveState({ since: api.snapshotId(file) });
      const chained = await VM.fromState([file, diff], {});
      lazy.memory.loadAllPages();
      expect(Buffer.from(chained.memory.ram).equals(Buffer.from(lazy.memory.ram))).toBe(true);
    }, 120_000);
  }

  it('paging under the JIT: compiled code reaches pages through TLB entries made only for pages that are in', async () => {
    const rom = 'paging.elf', ref = await reference(rom, 'jit');
    const before: Uint8Array[] = [];
    const vm = await fresh(rom, 'jit', before);
    // Past the point where paging is on, with data pages the guest never maps.
    vm.run({ maxInstructions: Math.floor(ref.instructions * 0.7) });
    vm.memory.writeBytes(60 << 20, new Uint8Array(64 * 4096).fill(0x5a));
    const file = vm.saveState();
    const out: Uint8Array[] = [...before];
    const lazy = await VM.fromState(file, { ...options('jit', out), lazyRam: true });
    const exit = lazy.run({ timeout: 120 });
    expect([text(out), exit.status, lazy.instructions]).toEqual([ref.output, ref.status, ref.instructions]);
    expect(lazy.jitStats()!.instructions, 'compiled code ran').toBeGreaterThan(0);
    expect(lazy.memory.pendingPages, 'the pages it never touched are still in the file').toBeGreaterThanOrEqual(64);
  }, 120_000);

  it("the thread's chunk cache: another lazy restore of the same snapshot decompresses nothing; a changed chunk is decompressed anew; a damaged one is still refused", async () => {
    const { file, ram } = await guestWithData('interp');
    api.clearChunkCache();
    const stats = api.chunkCacheStats;
    stats.hits = stats.misses = 0;
    const all = (vm: Vm): Buffer => Buffer.from(vm.memory.readBytes(0, vm.memory.ramSize));
    const first = await VM.fromState(file, { lazyRam: true });
    expect(all(first).equals(ram)).toBe(true);
    const chunks = stats.misses;
    expect(chunks).toBeGreaterThan(4); // more chunks than a VM keeps of its own
    const second = await VM.fromState(file, { lazyRam: true });
    expect(all(second).equals(ram)).toBe(true);
    expect(stats.misses).toBe(chunks);
    expect(stats.hits).toBeGreaterThanOrEqual(chunks);
    // One page changed: its chunk's bytes differ, so only that chunk misses (the key is the content, not the file).
    second.memory.writeBytes((16 << 20) + 4096 * 7, Uint8Array.of(0xee));
    const changedRam = Buffer.from(second.memory.ram), changed = second.saveState();
    const third = await VM.fromState(changed, { lazyRam: true });
    expect(all(third).equals(changedRam)).toBe(true);
    expect(stats.misses).toBe(chunks + 1);
    // A chunk whose bytes are damaged fails its CRC-32 first, whatever the cache holds.
    const damaged = file.slice(), at = ramSectionOf(file);
    damaged[at.offset + Math.floor(at.length / 2)] ^= 0x5a;
    const vm = await VM.fromState(damaged, { lazyRam: true });
    expect(() => all(vm)).toThrow(/RAM chunk \d+ checksum mismatch/);
    for (const v of [first, second, third, vm]) v.destroy();
  }, 60_000);

  it('a chunk that does not decompress (a crafted file with a valid checksum) is refused by an eager restore, and by the access that needs it in a lazy one', async () => {
    const { file } = await guestWithData('interp');
    const ram = ramSectionOf(file);
    const body = file.slice(0, -32);
    // The last chunk holds the highest page stored (100 MiB); damage the end of its compressed stream (the
    // RAM section ends with a CRC-32 per chunk and the file's: 4 bytes each, after the chunks).
    const chunksEnd = ram.offset + ram.length - 4 * (new DataView(file.buffer, file.byteOffset).getUint32(ram.offset + 20, true) + 1);
    for (let i = 1; i <= 8; i++) body[chunksEnd - i] ^= 0xa5;
    const crafted = new Uint8Array(Buffer.concat([body, createHash('sha256').update(body).digest()]));
    await expect(VM.fromState(crafted, {})).rejects.toThrow(SnapshotError);
    const vm = await VM.fromState(crafted, { lazyRam: true });
    expect(() => vm.memory.readBytes(100 << 20, 4)).toThrow(SnapshotError);
  }, 60_000);
});

/** Where the RAM section lies in a snapshot file (the directory layout of src/state/snapshot-file.ts). */
function ramSectionOf(file: Uint8Array): { offset: number; length: number } {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let i = 0, n = v.getUint32(12, true); i < n; i++) {
    const at = 56 + 32 * i;
    if (new TextDecoder().decode(file.subarray(at, at + 4)) === 'RAM ') return { offset: Number(v.getBigUint64(at + 8, true)), length: Number(v.getBigUint64(at + 16, true)) };
  }
  throw new Error('no RAM section');
}

describe('x86jit snapshot / run --restore in fresh processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-snap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const x86jit = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [X86JIT, ...args], { encoding: 'latin1', timeout: 120_000, env: { ...process.env, ...env } });

  for (const [rom, engine] of [['pic-pit.elf', 'interp'], ['minikernel.elf', 'jit'], ['wl-sort.elf', 'jit']] as const) {
    it(`${rom}, ${engine}: stdout of both halves = stdout of one run, same status and instruction count`, () => {
      const path = join(DIR, rom);
      const ref = x86jit(['run', path, '--engine', engine, '--stats']);
      const total = Number(/x86jit: (\d+) instructions in/.exec(ref.stderr)?.[1]);
      const at = Math.floor(total * 0.6);
      const file = join(dir, `${rom}.${engine}.snap`);
      const a = x86jit(['snapshot', path, '--at', String(at), '-o', file, '--engine', engine]);
      expect(a.stderr).toBe('');
      expect(a.status).toBe(0);
      const b = x86jit(['run', '--restore', file, '--engine', engine, '--stats']);
      expect(a.stdout + b.stdout).toBe(ref.stdout);
      expect(b.status).toBe(ref.status);
      expect(b.stderr).toContain(`x86jit: ${total} instructions since the guest started`);
    }, 120_000);
  }

  it('snapshot --at-output TEXT stops at the instruction that completes TEXT on the console, under both engines', async () => {
    const path = join(DIR, 'hello.elf');
    const ref = x86jit(['run', path]);
    const counts: number[] = [];
    for (const engine of ENGINES) {
      const file = join(dir, `at-output.${engine}.snap`);
      const a = x86jit(['snapshot', path, '--at-output', 'test ROM', '-o', file, '--engine', engine]);
      expect([a.status, a.stderr, a.stdout.endsWith('test ROM')], engine).toEqual([0, '', true]);
      const b = x86jit(['run', '--restore', file, '--engine', engine]);
      expect(a.stdout + b.stdout).toBe(ref.stdout);
      expect(b.status).toBe(ref.status);
      counts.push((await VM.fromState(new Uint8Array(readFileSync(file)))).instructions);
    }
    expect(counts[1]).toBe(counts[0]);
    // The interpreter one instruction at a time: the text is complete after instruction N, not before.
    const printedAfter = (n: number): string => {
      const out: Uint8Array[] = [];
      const vm = new VM(options('interp', out));
      load(vm, 'hello.elf');
      vm.run({ maxInstructions: n });
      return text(out);
    };
    expect(printedAfter(counts[0] - 1)).not.toContain('test ROM');
    expect(printedAfter(counts[0]).endsWith('test ROM')).toBe(true);
    // Usage: exactly one of --at and --at-output; a text never written leaves no file.
    expect(x86jit(['snapshot', path, '--at', '10', '--at-output', 'x', '-o', join(dir, 'no.snap')]).status).toBe(2);
    const never = x86jit(['snapshot', path, '--at-output', 'never printed', '-o', join(dir, 'no.snap')]);
    expect([never.status, never.stderr]).toEqual([ref.status, 'x86jit: snapshot: the guest ended before it wrote "never printed" (debug-exit: guest exited with status 1); no snapshot written\n']);
    expect(readdirSync(dir)).not.toContain('no.snap');
  }, 120_000);

  it('snapshot --restore BASE --base BASE writes a diff; run --restore BASE --restore DIFF continues it', () => {
    const path = join(DIR, 'wl-sort.elf');
    const ref = x86jit(['run', path, '--stats']);
    const n = Number(/x86jit: (\d+) instructions in/.exec(ref.stderr)?.[1]);
    const base = join(dir, 'chain-base.snap'), diff = join(dir, 'chain-diff.snap');
    const a = x86jit(['snapshot', path, '--at', String(Math.floor(n / 3)), '-o', base]);
    const b = x86jit(['snapshot', '--restore', base, '--at', String(Math.floor((2 * n) / 3)), '-o', diff, '--base', base]);
    expect([a.status, b.status, a.stderr + b.stderr]).toEqual([0, 0, '']);
    expect(x86jit(['snapshot', '--info', diff]).stdout).toMatch(/diff of [0-9a-f]{16}/);
    const c = x86jit(['run', '--restore', base, '--restore', diff, '--stats']);
    expect(a.stdout + b.stdout + c.stdout).toBe(ref.stdout);
    expect(c.status).toBe(ref.status);
    expect(c.stderr).toContain(`x86jit: ${n} instructions since the guest started`);
  }, 120_000);

  it('refuses damaged, truncated, foreign and newer files with one line and status 2, and missing ones too', async () => {
    const good = join(dir, 'good.snap');
    expect(x86jit(['snapshot', join(DIR, 'hello.elf'), '--at', '1000', '-o', good]).status).toBe(0);
    const bytes = readFileSync(good);
    const cases: [string, Uint8Array, RegExp][] = [
      ['flipped', Uint8Array.from(bytes, (b, i) => (i === bytes.length >> 1 ? b ^ 0x40 : b)), /damaged: checksum/],
      ['truncated', bytes.subarray(0, bytes.length - 100), /truncated/],
      ['foreign', new TextEncoder().encode('\x7fELF not a snapshot at all, but long enough to have a header..........'), /not an x86jit snapshot/],
      ['newer', Uint8Array.from(bytes, (b, i) => (i === 8 ? 9 : b)), /newer/],
    ];
    for (const [name, data, message] of cases) {
      const f = join(dir, `${name}.snap`);
      writeFileSync(f, data);
      const r = x86jit(['run', '--restore', f]);
      expect(r.status, name).toBe(2);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr.trimEnd().split('\n'), name).toHaveLength(1);
    }
    const missing = x86jit(['run', '--restore', join(dir, 'nope.snap')]);
    expect([missing.status, missing.stderr]).toEqual([2, `x86jit: ${join(dir, 'nope.snap')}: cannot read the snapshot: no such file\n`]);
    const badJit = x86jit(['run', '--restore', good, '--engine', 'jit'], { X86JIT_JIT_THRESHOLD: '-5' });
    expect([badJit.status, badJit.stderr]).toEqual([2, 'x86jit: X86JIT_JIT_THRESHOLD: JIT threshold must be a non-negative integer, got -5\n']);
    const info = x86jit(['snapshot', '--info', good]);
    expect(info.status).toBe(0);
    expect(info.stdout).toMatch(/full[\s\S]*1000 instructions retired[\s\S]*devices\s+pic v2, pit v1/);
  }, 120_000);
});

/**
 * The restore path as a whole, past the file's checksum: mutated state sections, resealed so the file
 * layer accepts them, must be refused with SnapshotError or restore a VM — never throw anything else.
 * (The file layer's own fuzz, 10,000 files, is in snapshot-file.test.ts.)
 */
describe('VM.fromState on resealed, mutated state', () => {
  it(`${envNumber('X86JIT_SNAPSHOT_STATE_FUZZ', 1000)} mutations of the JSON sections: SnapshotError or a VM, nothing else`, async () => {
    // (16 MiB of RAM, not the default 128: every restore below sets up the guest's RAM anew.)
    const vm = await fresh(STATES, 'interp', [], 16 << 20);
    vm.run({ maxInstructions: 200_000 });
    const file = vm.saveState({ compression: 'none' });
    const { encodeSection, sectionsOf } = sectionTools();
    const sections = sectionsOf(file);
    let seed = 12345;
    const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const count = envNumber('X86JIT_SNAPSHOT_STATE_FUZZ', 1000);
    let refused = 0, restored = 0;
    for (let i = 0; i < count; i++) {
      const target = sections[rand(sections.length)];
      const json = JSON.parse(new TextDecoder().decode(target.data)) as unknown;
      mutate(json, rand);
      const mutated = encodeSection(file, target.tag, new TextEncoder().encode(JSON.stringify(json)));
      try {
        const v = await VM.fromState(mutated, {});
        v.run({ maxInstructions: 1000 });
        restored++;
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw new Error(`mutation ${i} of ${target.tag}: ${(e as Error).stack}`);
        expect((e as Error).message).not.toContain('\n');
        refused++;
      }
    }
    expect(refused + restored).toBe(count);
    expect(refused).toBeGreaterThan(count / 4);
  }, 300_000);
});

describe('devices added to the board later', () => {
  it('a snapshot made before fpu-error existed restores with it at power-on; a missing older device is refused', async () => {
    // (16 MiB of RAM, not the default 128: every restore below sets up the guest's RAM anew.)
    const vm = await fresh(STATES, 'interp', [], 16 << 20);
    vm.run({ maxInstructions: 200_000 });
    const file = vm.saveState({ compression: 'none' });
    const { encodeSection, sectionsOf } = sectionTools();
    const devs = sectionsOf(file).find((x) => x.tag === 'DEVS')!;
    const without = (name: string): Uint8Array => {
      const json = JSON.parse(new TextDecoder().decode(devs.data)) as Record<string, unknown>;
      expect(json).toHaveProperty(name);
      delete json[name];
      return encodeSection(file, 'DEVS', new TextEncoder().encode(JSON.stringify(json)));
    };
    const old = await VM.fromState(without('fpu-error'), {});
    expect(old.instructions).toBe(vm.instructions);
    const saved = sectionsOf(old.saveState({ compression: 'none' })).find((x) => x.tag === 'DEVS')!;
    expect((JSON.parse(new TextDecoder().decode(saved.data)) as Record<string, unknown>)['fpu-error']).toEqual({ version: 1, state: { ignne: false, irq: false } });
    await expect(VM.fromState(without('pic'), {})).rejects.toThrow(/devices: 'pic' is missing/);
  });

  it("a device state saved with an older layout is upgraded: the PIC's version 1, before the ELCR", async () => {
    // (16 MiB of RAM, not the default 128: every restore below sets up the guest's RAM anew.)
    const vm = await fresh(STATES, 'interp', [], 16 << 20);
    vm.run({ maxInstructions: 200_000 });
    const file = vm.saveState({ compression: 'none' });
    const { encodeSection, sectionsOf } = sectionTools();
    const devs = sectionsOf(file).find((x) => x.tag === 'DEVS')!;
    const withPic = (edit: (pic: { version: number; state: Record<string, Record<string, unknown>> }) => void): Uint8Array => {
      const json = JSON.parse(new TextDecoder().decode(devs.data)) as Record<string, { version: number; state: Record<string, Record<string, unknown>> }>;
      edit(json.pic);
      return encodeSection(file, 'DEVS', new TextEncoder().encode(JSON.stringify(json)));
    };
    const v1 = withPic((pic) => { pic.version = 1; delete pic.state.master.elcr; delete pic.state.slave.elcr; });
    const old = await VM.fromState(v1, {});
    expect(old.instructions).toBe(vm.instructions);
    const again = vm.saveState({ compression: 'none' });
    old.run({ maxInstructions: 100_000 });
    vm.run({ maxInstructions: 100_000 });
    expect(old.instructions).toBe(vm.instructions);
    expect(Buffer.from(old.saveState({ compression: 'none' })).equals(Buffer.from(vm.saveState({ compression: 'none' })))).toBe(true);
    expect(again.length).toBeGreaterThan(0);
    // Version 1 with a field it never had, or a version this x86jit does not know, is refused.
    await expect(VM.fromState(withPic((pic) => { pic.version = 1; }), {})).rejects.toThrow(/pic.*unknown field 'elcr'/);
    await expect(VM.fromState(withPic((pic) => { pic.version = 3; }), {})).rejects.toThrow(/'pic' was saved with state version 3; this x86jit has version 2/);
  });
});

/** Change one value somewhere in a JSON tree: a number to an extreme, a type to another, a field removed or added. */
function mutate(node: unknown, rand: (n: number) => number): void {
  const paths: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach((x, i) => { paths.push([v, i]); walk(x); });
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { paths.push([v as Record<string, unknown>, k]); walk(x); }
  };
  walk(node);
  if (paths.length === 0) return;
  const [parent, key] = paths[rand(paths.length)];
  const values = [-1, 0, 1, 255, 256, 65536, 2 ** 31, 2 ** 32, -(2 ** 31), 2 ** 53, 1e300, 0.5, NaN, null, true, 'x', [], {}, [1, 2, 3]];
  const p = parent as Record<string | number, unknown>;
  switch (rand(4)) {
    case 0: delete p[key]; break;
    case 1: if (!Array.isArray(parent)) p[`extra${rand(9)}`] = 1; else p[key] = values[rand(values.length)]; break;
    default: p[key] = values[rand(values.length)];
  }
}

/**
 * Rewrite one section of an uncompressed snapshot and reseal the file (length, directory, SHA-256), as an
 * attacker who knows the format would. Reads the layout documented in src/state/snapshot-file.ts.
 */
function sectionTools() {
  const dirOf = (file: Uint8Array) => {
    const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
    const n = v.getUint32(12, true);
    return Array.from({ length: n }, (_, i) => {
      const at = 56 + 32 * i;
      return { at, tag: new TextDecoder().decode(file.subarray(at, at + 4)), encoding: file[at + 6], offset: Number(v.getBigUint64(at + 8, true)), length: Number(v.getBigUint64(at + 16, true)) };
    });
  };
  return {
    sectionsOf(file: Uint8Array) {
      return dirOf(file).filter((e) => e.tag !== 'RAM ').map((e) => {
        expect(e.encoding, `${e.tag} stored as it is`).toBe(0);
        return { tag: e.tag, data: file.subarray(e.offset, e.offset + e.length) };
      });
    },
    encodeSection(file: Uint8Array, tag: string, data: Uint8Array): Uint8Array {
      const entries = dirOf(file);
      const body = file.subarray(0, 56 + 32 * entries.length).slice();
      const parts: Uint8Array[] = [body];
      let offset = body.length;
      const v = new DataView(body.buffer);
      for (const e of entries) {
        const bytes = e.tag === tag ? data : file.subarray(e.offset, e.offset + e.length);
        v.setBigUint64(e.at + 8, BigInt(offset), true);
        v.setBigUint64(e.at + 16, BigInt(bytes.length), true);
        v.setBigUint64(e.at + 24, BigInt(bytes.length), true);
        parts.push(bytes);
        offset += bytes.length;
      }
      v.setBigUint64(16, BigInt(offset + 32), true);
      const out = Buffer.concat([...parts]);
      const hash = createHash('sha256').update(out).digest();
      return new Uint8Array(Buffer.concat([out, hash]));
    },
  };
}

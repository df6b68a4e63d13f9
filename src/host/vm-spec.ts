// What `PUT /vms/{id}` accepts: a VM's definition (the guest it boots and the resources it gets), checked
// field by field so that a bad request is one line naming the field, and nothing is created. The same
// definition is what --state-dir keeps per VM and what a restarted host creates the VM from again.
import { DEFAULT_MEMORY } from '../machine/vm.ts';

export class SpecError extends Error {}

/** CPU shares as cgroup v2 spells them (cpu.weight, cpu.max), and pinning to a core of its own. */
export interface CpuSpec {
  /** 1–10000 (default 100): contended CPU is divided in proportion to it. */
  weight: number;
  /** cpu.max: "QUOTA PERIOD" in µs, or "max PERIOD" (no cap, the default "max 100000"). */
  max: string;
  /** Run alone on a core of its own (taken out of the shared pool while the VM runs). */
  pin: boolean;
}

export interface VmSpec {
  /** The image to boot (Multiboot ELF, raw binary with load/entry, or a BIOS image), or … */
  rom?: string;
  /** … snapshot files to continue (a full snapshot, then its diffs): RAM comes in lazily. */
  snapshot?: string[];
  /** Guest RAM in bytes (0 while a snapshot's guest is being opened: the RAM it was saved with). */
  memory: number;
  engine: 'interp' | 'jit';
  /** Guest time (see VMOptions.clock); a snapshot's guest keeps the clock it was saved with unless one is given (unset until its worker reports it). */
  clock?: 'virtual' | 'realtime';
  /**
   * A virtual-clock guest halted until a timer event (VMOptions.idle): 'sleep' (default) lets the time pass
   * on the host clock, and the VM gets no slices until then, so an idle guest costs no CPU; 'skip' moves
   * guest time on at once (a batch job that waits on timers finishes sooner, using its CPU share meanwhile).
   */
  idle: 'skip' | 'sleep';
  cmdline?: string;
  load?: number;
  entry?: number;
  bits?: 16 | 32;
  bios?: boolean;
  cpu: CpuSpec;
  /**
   * 'own' (default): a worker thread of its own — a VM whose thread dies (its heap limit, an internal
   * error that brings the isolate down) ends alone. 'shared': a guest in a thread the host shares among
   * such VMs — far cheaper to create and to keep (no thread and V8 isolate of its own), but the VMs of a
   * thread share its fate, and it runs one of them at a time.
   */
  thread: 'own' | 'shared';
  /** The VM's budget: it ends (exit 'max-instructions' / 'timeout') when it has retired this many instructions or used this much CPU. */
  limits: { instructions?: number; cpuSeconds?: number };
}

export const DEFAULT_CPU: CpuSpec = { weight: 100, max: 'max 100000', pin: false };
/** A VM id: what a path segment, a file name and a Prometheus label can all carry unchanged. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_MEMORY = 2 ** 32 - 2 ** 20; // what one WebAssembly.Memory of 32-bit guest RAM can hold, below 4 GiB
const CREATE_FIELDS = new Set(['rom', 'snapshot', 'memory', 'engine', 'clock', 'idle', 'cmdline', 'load', 'entry', 'bits', 'bios', 'cpu', 'thread', 'limits', 'start']);

export function checkId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new SpecError(`VM id '${id.slice(0, 80)}' is not 1–64 letters, digits, '_', '.' or '-' (starting with a letter or digit)`);
  return id;
}

/** A size in bytes: a number, or text with K/M/G (powers of 1024), as `--mem` takes. */
function size(v: unknown, field: string): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d+[KMG]?$/i.test(v)) n = Number(v.replace(/[KMG]$/i, '')) * ({ K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[v.slice(-1).toUpperCase() as 'K'] ?? 1);
  else throw new SpecError(`${field}: expected a size (a number of bytes or text like "64M"), got ${show(v)}`);
  if (!Number.isInteger(n) || n < 2 ** 20 || n > MAX_MEMORY || n % 4096 !== 0) throw new SpecError(`${field}: ${show(v)} is not a whole number of 4 KiB pages from 1 MiB to ${MAX_MEMORY / 2 ** 20} MiB`);
  return n;
}

function u32(v: unknown, field: string): number {
  if (typeof v === 'string' && /^0x[0-9a-f]{1,8}$/i.test(v)) return parseInt(v, 16);
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff) return v;
  throw new SpecError(`${field}: expected an address (a number or "0x…" text up to 0xffffffff), got ${show(v)}`);
}

function text(v: unknown, field: string, max = 4096): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || v.includes('\0')) throw new SpecError(`${field}: expected non-empty text of at most ${max} characters, got ${show(v)}`);
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) throw new SpecError(`${field}: expected ${values.map((x) => `'${x}'`).join(' or ')}, got ${show(v)}`);
  return v as T;
}

function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new SpecError(`${field}: expected true or false, got ${show(v)}`);
  return v;
}

/** A value as it appears in an error line: JSON, cut short. */
export function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** cpu.max text → quota and period in µs (quota Infinity for "max"). */
export function parseCpuMax(v: unknown, field = 'cpu.max'): { quota: number; period: number } {
  const m = typeof v === 'string' ? /^(max|\d{1,10}) (\d{1,10})$/.exec(v) : null;
  const period = m ? Number(m[2]) : NaN, quota = m ? (m[1] === 'max' ? Infinity : Number(m[1])) : NaN;
  // cgroup v2's bounds: period 1 ms–1 s, quota at least 1 ms.
  if (!m || period < 1000 || period > 1_000_000 || quota < 1000) {
    throw new SpecError(`${field}: expected "QUOTA PERIOD" or "max PERIOD" in µs (period 1000–1000000, quota ≥ 1000), e.g. "25000 100000", got ${show(v)}`);
  }
  return { quota, period };
}

/** cpu settings: the given fields over `base` (create: the defaults; PATCH: the VM's current ones). */
export function parseCpu(v: unknown, base: CpuSpec = DEFAULT_CPU): CpuSpec {
  if (v === undefined) return { ...base };
  if (!isObject(v)) throw new SpecError(`cpu: expected an object like {"weight": 100, "max": "max 100000", "pin": false}, got ${show(v)}`);
  for (const k of Object.keys(v)) if (!['weight', 'max', 'pin'].includes(k)) throw new SpecError(`cpu.${k.slice(0, 40)}: unknown field (cpu has weight, max, pin)`);
  const cpu = { ...base };
  if (v.weight !== undefined) {
    if (typeof v.weight !== 'number' || !Number.isInteger(v.weight) || v.weight < 1 || v.weight > 10000) throw new SpecError(`cpu.weight: expected a whole number from 1 to 10000, got ${show(v.weight)}`);
    cpu.weight = v.weight;
  }
  if (v.max !== undefined) { parseCpuMax(v.max); cpu.max = v.max as string; }
  if (v.pin !== undefined) cpu.pin = bool(v.pin, 'cpu.pin');
  return cpu;
}

function parseLimits(v: unknown): VmSpec['limits'] {
  if (v === undefined) return {};
  if (!isObject(v)) throw new SpecError(`limits: expected an object like {"instructions": 1e9, "cpuSeconds": 60}, got ${show(v)}`);
  const limits: VmSpec['limits'] = {};
  for (const [k, x] of Object.entries(v)) {
    if (k !== 'instructions' && k !== 'cpuSeconds') throw new SpecError(`limits.${k.slice(0, 40)}: unknown field (limits has instructions, cpuSeconds)`);
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0 || (k === 'instructions' && !Number.isSafeInteger(x))) throw new SpecError(`limits.${k}: expected a positive ${k === 'instructions' ? 'whole ' : ''}number, got ${show(x)}`);
    limits[k] = x;
  }
  return limits;
}

/** A VM pinned to a core runs alone there: it needs a thread of its own. */
export function checkThread(spec: Pick<VmSpec, 'cpu' | 'thread'>): void {
  if (spec.cpu.pin && spec.thread === 'shared') throw new SpecError("cpu.pin: a pinned VM runs alone on a core, so it needs a thread of its own (thread 'own', not 'shared')");
}

/** The body of `PUT /vms/{id}`, checked: the definition and whether to start it at once. */
export function parseCreate(body: unknown): { spec: VmSpec; start: boolean } {
  if (!isObject(body)) throw new SpecError(`expected a JSON object like {"rom": "kernel.elf"}, got ${show(body)}`);
  for (const k of Object.keys(body)) if (!CREATE_FIELDS.has(k)) throw new SpecError(`${k.slice(0, 40)}: unknown field (a VM has ${[...CREATE_FIELDS].join(', ')})`);
  if ((body.rom === undefined) === (body.snapshot === undefined)) throw new SpecError('give either rom (an image to boot) or snapshot (files to continue), not both and not neither');
  const spec: VmSpec = {
    // A snapshot's guest has the RAM it was saved with: 0 here, the worker reports it (a different one is refused).
    memory: body.memory !== undefined ? size(body.memory, 'memory') : body.snapshot !== undefined ? 0 : DEFAULT_MEMORY,
    engine: body.engine === undefined ? 'interp' : oneOf(body.engine, 'engine', ['interp', 'jit'] as const),
    clock: body.clock !== undefined ? oneOf(body.clock, 'clock', ['virtual', 'realtime'] as const) : body.snapshot !== undefined ? undefined : 'virtual',
    idle: body.idle === undefined ? 'sleep' : oneOf(body.idle, 'idle', ['skip', 'sleep'] as const),
    cpu: parseCpu(body.cpu),
    thread: body.thread === undefined ? 'own' : oneOf(body.thread, 'thread', ['own', 'shared'] as const),
    limits: parseLimits(body.limits),
  };
  checkThread(spec);
  if (body.rom !== undefined) spec.rom = text(body.rom, 'rom');
  if (body.snapshot !== undefined) {
    const files = typeof body.snapshot === 'string' ? [body.snapshot] : body.snapshot;
    if (!Array.isArray(files) || files.length === 0 || files.length > 64) throw new SpecError(`snapshot: expected a file or a list of 1–64 files (a full snapshot, then its diffs), got ${show(body.snapshot)}`);
    spec.snapshot = files.map((f, i) => text(f, `snapshot[${i}]`));
    for (const k of ['cmdline', 'load', 'entry', 'bits', 'bios'] as const) if (body[k] !== undefined) throw new SpecError(`${k}: applies to a ROM, not to a snapshot (it continues a guest already set up)`);
  }
  if (body.cmdline !== undefined) spec.cmdline = typeof body.cmdline === 'string' && body.cmdline.length <= 4096 && !body.cmdline.includes('\0') ? body.cmdline : text(body.cmdline, 'cmdline');
  if ((body.load === undefined) !== (body.entry === undefined)) throw new SpecError('load and entry go together (a raw binary is loaded at load and started at entry)');
  if (body.load !== undefined) { spec.load = u32(body.load, 'load'); spec.entry = u32(body.entry, 'entry'); }
  if (body.bits !== undefined) {
    if (body.bits !== 16 && body.bits !== 32) throw new SpecError(`bits: expected 16 or 32, got ${show(body.bits)}`);
    if (spec.load === undefined) throw new SpecError('bits: applies to raw binaries (load/entry)');
    spec.bits = body.bits;
  }
  if (body.bios !== undefined) {
    spec.bios = bool(body.bios, 'bios');
    if (spec.bios && spec.load !== undefined) throw new SpecError('bios and load exclude each other');
  }
  const start = body.start === undefined ? false : bool(body.start, 'start');
  return { spec, start };
}

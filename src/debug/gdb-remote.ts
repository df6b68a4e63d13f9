// GDB's remote serial protocol (the gdb manual's "Remote Protocol" appendix) for one VM, over any byte
// transport: `x86jit run --gdb` (src/cli/gdb.ts) puts it on TCP, as QEMU's -gdb does. Packets are
// `$data#cs` with a two-hex-digit sum, acknowledged with '+'; a 0x03 byte while the guest runs stops it.
// Supported: registers (g/G/p/P: the 16 i386 core registers in gdb's order — there is no FPU yet, so
// gdb shows those as unavailable), memory (m/M/X, by linear address through the guest's page tables,
// without side effects), breakpoints (Z0/Z1, software and hardware alike, checked before each
// instruction), watchpoints (Z2 write, Z3 read, Z4 access: the VM's memory hooks, so the guest stops
// after the instruction that touched the range, as an x86 data breakpoint traps), continue and
// single-step (c/s/C/S/vCont), stop reasons, detach and kill.
// While breakpoints are set the interpreter runs one instruction at a time; without them, the engine the
// VM was made with (the JIT too) runs at full speed between gdb's Ctrl-C checks (a write watchpoint
// sends only the stores to its pages to the slow path; a read or access one pauses the JIT).
import type { ExitRecord, HookHandle, RegisterName, Registers, VM } from '../machine/vm.ts';
import { yieldToEvents } from './yield-to-events.ts';

type GdbRegister = keyof Registers;

/** How a debugging session ended: the guest's exit, or gdb's kill. */
export interface GdbSessionEnd { exit: ExitRecord; killed: boolean }

export interface GdbSessionOptions {
  /** The most instructions the guest may run in all (as `--max-instructions`). */
  maxInstructions?: number;
  /** The status byte a `W` reply gives gdb for an exit (default: debug-exit's status, else 0). */
  exitStatus?: (exit: ExitRecord) => number;
}

/** gdb's i386 register numbers 0-15, in its `g` packet order. */
const REGISTERS: readonly GdbRegister[] = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs'];
const SEGMENTS = new Set<GdbRegister>(['cs', 'ss', 'ds', 'es', 'fs', 'gs']);
/** Instructions and seconds per run() call while continuing, whichever ends first: gdb's Ctrl-C is looked at between them. */
const SLICE = 200_000, SLICE_SECONDS = 0.02;
/** The largest packet we take or send (qSupported's PacketSize), and so the most memory one `m` reads. */
const PACKET_SIZE = 0x4000;

const hex32 = (v: number): string => {
  const b = v >>> 0;
  return [b & 0xff, (b >>> 8) & 0xff, (b >>> 16) & 0xff, b >>> 24].map((x) => x.toString(16).padStart(2, '0')).join('');
};
const fromHex32 = (text: string): number => {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = (v << 8) | parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return v >>> 0;
};
const isHex = (text: string): boolean => /^[0-9a-fA-F]+$/.test(text);

/** Z2, Z3, Z4: what the stop reply calls each kind of watchpoint. */
const WATCH_REPLY = { 2: 'watch', 3: 'rwatch', 4: 'awatch' } as const;
type WatchType = keyof typeof WATCH_REPLY;

export class GdbSession {
  /** Breakpoints by linear address: 'sw' (Z0) or 'hw' (Z1), for the stop reply gdb expects. */
  private readonly breakpoints = new Map<number, 'sw' | 'hw'>();
  /** Watchpoints by "type,addr,len" (gdb removes them by the same triple): the memory hooks that catch them. */
  private readonly watchpoints = new Map<string, HookHandle[]>();
  /** The watchpoint a hook caught in the run now ending: the stop reply's kind and the address touched. */
  private watchHit: { type: WatchType; address: number } | null = null;
  private input = '';
  private running = false;
  private interruptRequested = false;
  /** The stop was asked by a debugger attaching: no stop reply is sent (gdb asks with `?`). */
  private attachStop = false;
  /** Packets that came while the guest was running (a debugger attaching then), handled once it stops. */
  private readonly queued: string[] = [];
  private lastStop = 'S05';
  private spent = 0;
  private finished: GdbSessionEnd | null = null;
  private resolveDone!: (end: GdbSessionEnd) => void;
  /** Resolves when the guest has ended (or gdb killed it). */
  readonly done: Promise<GdbSessionEnd> = new Promise((r) => { this.resolveDone = r; });

  /** `send`: where packets go (null while no debugger is attached). */
  constructor(private readonly vm: VM, private send: ((data: string) => void) | null, private readonly opts: GdbSessionOptions = {}) {}

  /** A debugger attached (QEMU's habit: the guest stops, and gdb asks why). */
  attach(send: (data: string) => void): void {
    this.send = send;
    this.input = '';
    this.lastStop = 'S05';
    if (this.running) { this.interruptRequested = true; this.attachStop = true; }
  }

  /** The debugger went away: its breakpoints go, and the guest runs on to its end. */
  detach(): void {
    this.send = null;
    this.breakpoints.clear();
    for (const hooks of this.watchpoints.values()) for (const h of hooks) h.remove();
    this.watchpoints.clear();
    if (!this.running && this.finished === null) void this.resume(false);
  }

  get isRunning(): boolean { return this.running; }

  /** Bytes from the debugger (latin1). */
  receive(data: string): void {
    this.input += data;
    for (;;) {
      const i = this.input.search(/[$\x03]/);
      if (i < 0) { this.input = ''; return; } // acks ('+', '-') and noise between packets
      if (this.input[i] === '\x03') { this.input = this.input.slice(i + 1); if (this.running) this.interruptRequested = true; continue; }
      const end = this.input.indexOf('#', i);
      if (end < 0 || this.input.length < end + 3) { this.input = this.input.slice(i); return; }
      const body = this.input.slice(i + 1, end), sum = parseInt(this.input.slice(end + 1, end + 3), 16);
      this.input = this.input.slice(end + 3);
      if (checksum(body) !== sum) { this.write('-'); continue; }
      this.write('+');
      this.handle(unescape(body));
    }
  }

  /** Start or go on running (`--gdb` without `--wait` starts so, before any debugger is attached). */
  async resume(step: boolean): Promise<void> {
    if (this.running || this.finished !== null) return;
    this.running = true;
    this.interruptRequested = false;
    try {
      for (;;) {
        if (this.interruptRequested) {
          if (this.attachStop) this.lastStop = 'S05'; else this.stopped('S02'); // gdb's Ctrl-C: SIGINT
          return;
        }
        const left = (this.opts.maxInstructions ?? Infinity) - this.spent;
        const before = this.vm.instructions;
        const exit = this.vm.run({
          maxInstructions: step ? Math.min(1, left) : Math.min(SLICE, left),
          timeout: SLICE_SECONDS,
          breakpoints: this.breakpoints.size > 0 ? new Set(this.breakpoints.keys()) : undefined,
        });
        this.spent += this.vm.instructions - before;
        const hit = this.watchHit;
        this.watchHit = null;
        if (hit !== null && exit.reason === 'stopped') {
          this.stopped(`T05${WATCH_REPLY[hit.type]}:${hit.address.toString(16)};`);
          return;
        }
        if (exit.reason === 'breakpoint') {
          this.stopped(`T05${this.breakpoints.get(this.vm.linearEip()) === 'hw' ? 'hwbreak' : 'swbreak'}:;`);
          return;
        }
        if (exit.reason === 'timeout' || (exit.reason === 'max-instructions' && this.spent < (this.opts.maxInstructions ?? Infinity))) {
          if (step) { this.stopped('S05'); return; }
          await yieldToEvents();
          continue;
        }
        this.end({ exit, killed: false });
        return;
      }
    } finally {
      this.running = false;
      this.interruptRequested = this.attachStop = false;
      for (const p of this.queued.splice(0)) this.handle(p);
    }
  }

  private stopped(reply: string): void {
    this.lastStop = reply;
    this.packet(reply);
  }

  private end(end: GdbSessionEnd): void {
    if (this.finished !== null) return;
    this.finished = end;
    if (!end.killed) this.packet(`W${(this.opts.exitStatus?.(end.exit) ?? defaultStatus(end.exit)).toString(16).padStart(2, '0')}`);
    this.resolveDone(end);
  }

  private handle(p: string): void {
    if (this.finished !== null) { this.packet(p === '?' ? this.lastStop : 'E01'); return; }
    if (this.running) { this.queued.push(p); return; } // (gdb's Ctrl-C is a byte, not a packet: receive() takes it)
    const c = p[0];
    if (p === '?') return this.packet(this.lastStop);
    if (c === 'g') return this.packet(REGISTERS.map((r) => hex32(this.vm.getRegisters()[r])).join(''));
    if (c === 'G') return this.packet(this.writeRegisters(p.slice(1)));
    if (c === 'p') return this.packet(this.readRegister(p.slice(1)));
    if (c === 'P') return this.packet(this.writeRegister(p.slice(1)));
    if (c === 'm') return this.packet(this.readMemory(p.slice(1)));
    if (c === 'M' || c === 'X') return this.packet(this.writeMemory(p.slice(1), c === 'X'));
    if (c === 'Z' || c === 'z') return this.packet(this.breakpoint(p));
    if (c === 'c' || c === 's' || c === 'C' || c === 'S') return this.go(c.toLowerCase() === 's', c === 'c' || c === 's' ? p.slice(1) : p.slice(1).split(';')[1] ?? '');
    if (p === 'vCont?') return this.packet('vCont;c;C;s;S');
    if (p.startsWith('vCont;')) return this.go(/^[sS]/.test(p.slice(6)), '');
    if (c === 'D') { this.packet('OK'); this.detach(); return; }
    if (c === 'k') { this.end({ exit: { reason: 'stopped', cs: this.vm.getRegisters().cs, eip: this.vm.getRegisters().eip, message: 'killed by gdb' }, killed: true }); return; }
    if (p.startsWith('qSupported')) return this.packet(`PacketSize=${PACKET_SIZE.toString(16)};swbreak+;hwbreak+;vContSupported+`);
    if (p === 'qAttached') return this.packet('1');
    if (p === 'qC') return this.packet('QC1');
    if (p === 'qfThreadInfo') return this.packet('m1');
    if (p === 'qsThreadInfo') return this.packet('l');
    if (c === 'H' || c === 'T') return this.packet('OK');
    if (p.startsWith('qSymbol')) return this.packet('OK');
    this.packet(''); // not supported: gdb goes without it
  }

  /** `c`/`s` [ADDR]: continue or step, from ADDR if given. */
  private go(step: boolean, addr: string): void {
    if (addr !== '' && isHex(addr)) this.vm.setRegisters({ eip: parseInt(addr, 16) });
    void this.resume(step);
  }

  private readRegister(arg: string): string {
    const n = parseInt(arg, 16);
    if (!isHex(arg) || n >= REGISTERS.length) return 'E00';
    return hex32(this.vm.getRegisters()[REGISTERS[n]]);
  }

  private writeRegister(arg: string): string {
    const [num, value] = arg.split('=');
    const n = parseInt(num, 16);
    if (!isHex(num) || n >= REGISTERS.length || value === undefined || value.length !== 8 || !isHex(value)) return 'E00';
    return this.setRegisters({ [REGISTERS[n]]: fromHex32(value) });
  }

  private writeRegisters(arg: string): string {
    if (arg.length < 8 * REGISTERS.length || !isHex(arg.slice(0, 8 * REGISTERS.length))) return 'E00';
    const values: Partial<Record<GdbRegister, number>> = {};
    REGISTERS.forEach((r, i) => { values[r] = fromHex32(arg.slice(8 * i, 8 * i + 8)); });
    return this.setRegisters(values);
  }

  /** General registers, EIP and EFLAGS are written; a segment register only to the value it holds (a new selector needs a descriptor load, which gdb cannot ask for). */
  private setRegisters(values: Partial<Record<GdbRegister, number>>): string {
    const now = this.vm.getRegisters();
    for (const [name, v] of Object.entries(values) as [GdbRegister, number][]) if (SEGMENTS.has(name) && (v & 0xffff) !== now[name]) return 'E01';
    const plain: Partial<Record<RegisterName, number>> = {};
    for (const [name, v] of Object.entries(values) as [GdbRegister, number][]) if (!SEGMENTS.has(name)) plain[name as RegisterName] = v;
    this.vm.setRegisters(plain);
    return 'OK';
  }

  /** `m ADDR,LEN`: bytes at a linear address; as many as are readable (E14 when none is). */
  private readMemory(arg: string): string {
    const [a, l] = arg.split(',');
    if (!a || !l || !isHex(a) || !isHex(l)) return 'E00';
    const addr = parseInt(a, 16), len = Math.min(parseInt(l, 16), (PACKET_SIZE - 8) >> 1);
    let out = '';
    for (let i = 0; i < len; i++) {
      const b = this.vm.debugRead8((addr + i) >>> 0);
      if (b === null) break;
      out += b.toString(16).padStart(2, '0');
    }
    return out === '' && len > 0 ? 'E14' : out;
  }

  /** `M ADDR,LEN:HEX` or `X ADDR,LEN:BINARY`: write guest RAM at a linear address (all or nothing). */
  private writeMemory(arg: string, binary: boolean): string {
    const colon = arg.indexOf(':');
    const [a, l] = arg.slice(0, colon).split(',');
    if (colon < 0 || !a || !l || !isHex(a) || !isHex(l)) return 'E00';
    const addr = parseInt(a, 16), len = parseInt(l, 16), data = arg.slice(colon + 1);
    let bytes: Uint8Array;
    if (binary) bytes = Uint8Array.from(data, (ch) => ch.charCodeAt(0) & 0xff);
    else {
      if (data.length !== 2 * len || (len > 0 && !isHex(data))) return 'E00';
      bytes = Uint8Array.from({ length: len }, (_, i) => parseInt(data.slice(2 * i, 2 * i + 2), 16));
    }
    if (bytes.length !== len) return 'E00';
    return this.vm.debugWrite(addr, bytes) ? 'OK' : 'E14';
  }

  /** Z0/Z1 (set), z0/z1 (remove) breakpoints; Z2/Z3/Z4 watchpoints. */
  private breakpoint(p: string): string {
    const [type, a, l] = p.slice(1).split(',');
    if (type === '2' || type === '3' || type === '4') return this.watchpoint(p[0] === 'Z', Number(type) as WatchType, a, l);
    if (type !== '0' && type !== '1') return '';
    if (!a || !isHex(a)) return 'E00';
    const addr = parseInt(a, 16) >>> 0;
    if (p[0] === 'Z') this.breakpoints.set(addr, type === '0' ? 'sw' : 'hw');
    else this.breakpoints.delete(addr);
    return 'OK';
  }

  /**
   * Z2/Z3/Z4 ADDR,LEN (set) and z2/z3/z4 (remove): the guest stops after the instruction that writes,
   * reads, or either, a byte of [ADDR, ADDR+LEN) (a linear address). Set twice, removed once, as gdb does.
   */
  private watchpoint(set: boolean, type: WatchType, a: string | undefined, l: string | undefined): string {
    if (!a || !l || !isHex(a) || !isHex(l)) return 'E00';
    const addr = parseInt(a, 16) >>> 0, len = parseInt(l, 16);
    if (len < 1 || len > 0x1000 || addr + len - 1 > 0xffff_ffff) return 'E00';
    const key = `${type},${addr},${len}`;
    if (!set) {
      for (const h of this.watchpoints.get(key) ?? []) h.remove();
      this.watchpoints.delete(key);
      return 'OK';
    }
    if (this.watchpoints.has(key)) return 'OK';
    const range = { begin: addr, end: addr + len - 1 };
    // The first access in the run wins; the run ends once the instruction doing it is done.
    const caught = (address: number): void => { if (this.watchHit === null) { this.watchHit = { type, address: Math.max(address, addr) >>> 0 }; this.vm.requestStop({ reason: 'stopped', message: 'a watchpoint' }); } };
    const hooks: HookHandle[] = [];
    if (type !== 3) hooks.push(this.vm.hook('mem-write', (address) => caught(address), range));
    if (type !== 2) hooks.push(this.vm.hook('mem-read', (address) => caught(address), range));
    this.watchpoints.set(key, hooks);
    return 'OK';
  }

  private packet(data: string): void { this.write(`$${data}#${checksum(data).toString(16).padStart(2, '0')}`); }

  private write(data: string): void { this.send?.(data); }
}

function checksum(data: string): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum = (sum + data.charCodeAt(i)) & 0xff;
  return sum;
}

/** Undo the protocol's escaping ('}' then the byte XOR 0x20) and run-length encoding is not used by gdb towards a stub. */
function unescape(body: string): string {
  return body.replace(/\}([\s\S])/g, (_, ch: string) => String.fromCharCode(ch.charCodeAt(0) ^ 0x20));
}

function defaultStatus(exit: ExitRecord): number {
  return exit.reason === 'debug-exit' ? (exit.status ?? 0) & 0xff : 0;
}

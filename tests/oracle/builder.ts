// Building one oracle case: a seeded PRNG, operand values mixed with edge values, the machine-code
// encoder for ModRM/SIB operands, and the address solver that picks base/index register values so a
// memory operand lands inside the data (or stack) window whatever addressing form was drawn.
import {
  CODE_ADDR, DATA_ADDR, EBP, EBX, EDI, ESI, ESP, FIXED_FLAGS, INPUT_FLAGS, LOW_ADDR, MAX_CODE, type OracleCase, STACK_ADDR, WINDOW,
} from './layout.ts';
import { type FlagContext, undefinedFlags } from './undefined-flags.ts';

/** mulberry32: small, fast, good enough for test-case generation, and reproducible from one 32-bit seed. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0 .. n-1 */
  int(n: number): number { return Math.floor((this.u32() / 0x1_0000_0000) * n); }
  /** lo .. hi inclusive */
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  chance(p: number): boolean { return this.u32() / 0x1_0000_0000 < p; }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)]; }
}

/** Values where arithmetic changes character: zero, one, sign boundaries, all-ones, per width. */
export const EDGE_VALUES = [
  0, 1, 2, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff, 0x1_0000,
  0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_fffe, 0xffff_ffff,
];

export const widthMask = (w: number): number => (w === 32 ? 0xffff_ffff : (1 << w) - 1);

/** A register operand (number in the ModRM encoding: for 8-bit, 4..7 are AH CH DH BH). */
export interface RegOperand { kind: 'reg'; reg: number }
/** A memory operand: the ModRM/SIB/displacement bytes (minus the reg field) and where it points. */
export interface MemOperand { kind: 'mem'; addr: number; encode: (regField: number) => number[] }
export type RmOperand = RegOperand | MemOperand;

export interface MemOptions {
  /** Registers that must not be used for addressing (they carry the instruction's own inputs). */
  avoid?: readonly number[];
  /** Added to ESP before it is used as a base (POP r/m computes its address after incrementing ESP). */
  espDelta?: number;
  /** The operand is written: an occasional CS override then makes it a #GP case. */
  writes?: boolean;
  /** Allow segment override prefixes (default true). */
  overrides?: boolean;
}

/** Multiplicative inverse of an odd number modulo 2^32 (Newton's iteration). */
function inverseOdd(f: number): number {
  let x = f;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(f, x));
  return x >>> 0;
}

const SPECIAL_GRANULES = [0, 0xffff_ffff, 0x8080_8080, 0x7f7f_7f7f];

const ADDRESS_FORMS = ['disp32', 'base', 'base+disp8', 'base+disp32', 'sib', 'sib-nobase', 'sib+disp8', 'sib+disp32'] as const;

/** Bytes of case state in one allocation: regs, undefRegs, then the data, stack and low windows. */
export const CASE_BYTES = 64 + 3 * WINDOW;

export class Builder {
  readonly regs: Uint32Array;
  eflags: number;
  readonly data: Uint8Array;
  readonly stack: Uint8Array;
  readonly low: Uint8Array;
  mnemonic = '';
  form = '';
  undefFlags = 0;
  readonly undefRegs: Uint32Array;
  private readonly code: number[] = [];
  private prefixes: number[] = [];
  private body: number[] = [];
  /** Register values an address needs; applied at finish(), after the instruction's own register choices. */
  private readonly addrRegs = new Map<number, number>();
  private readonly post: (() => void)[] = [];

  /**
   * `lowWindow`: the host can map LOW_ADDR, so 16-bit addressing may access memory. `code16`: the snippet
   * runs in a 16-bit code segment, where the default operand and address sizes are 16 and 66h/67h select 32.
   */
  constructor(
    readonly rng: Rng, readonly index: number, readonly lowWindow = false, readonly code16 = false,
    /** Where the case's arrays live (CASE_BYTES at `at`): batches share one buffer instead of five small ones per case. */
    arena: ArrayBuffer = new ArrayBuffer(CASE_BYTES), at = 0,
  ) {
    this.regs = new Uint32Array(arena, at, 8);
    this.undefRegs = new Uint32Array(arena, at + 32, 8);
    this.data = new Uint8Array(arena, at + 64, WINDOW);
    this.stack = new Uint8Array(arena, at + 64 + WINDOW, WINDOW);
    this.low = new Uint8Array(arena, at + 64 + 2 * WINDOW, WINDOW);
    for (let i = 0; i < 8; i++) this.regs[i] = this.value(32);
    this.regs[ESP] = STACK_ADDR + (rng.chance(0.9) ? 0x60 + 4 * rng.int(0x11) : rng.range(0x60, 0xa0));
    this.eflags = rng.u32() & INPUT_FLAGS;
    this.fillWindow(this.data);
    this.fillWindow(this.stack);
    this.fillWindow(this.low);
  }

  /** Random bytes, with runs of 00, FF and 80 mixed in (4-byte granules: cheap, and still varied). */
  private fillWindow(w: Uint8Array): void {
    // An inline xorshift32 seeded from the case's PRNG: a window is 64 words, this runs for every case.
    let x = this.rng.u32() | 1;
    for (let i = 0; i < WINDOW; i += 4) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      let v = x;
      if ((v & 7) === 0) v = SPECIAL_GRANULES[(v >>> 3) & 3]; // 1 in 8 granules is special
      w[i] = v; w[i + 1] = v >>> 8; w[i + 2] = v >>> 16; w[i + 3] = v >>> 24;
    }
  }

  /** An operand value of `width` bits: edge values (sometimes with random high bits), small numbers, or random. */
  value(width: number): number {
    const rng = this.rng, m = widthMask(width);
    const r = rng.int(20);
    let v: number;
    if (r < 7) {
      v = rng.pick(EDGE_VALUES);
      // Random bits above the edge's own width: 0x12345680 is an edge for the low byte.
      const own = v <= 0xff ? 8 : v <= 0xffff ? 16 : 32;
      if (own < 32 && rng.chance(0.25)) v = (v | (rng.u32() & ~widthMask(own))) >>> 0;
      else if (rng.chance(0.2)) v = -v; // negative edges: 0xffffff80 ...
    } else if (r < 10) v = rng.int(64) - (rng.chance(0.3) ? 32 : 0);
    else v = rng.u32();
    return (v & m) >>> 0;
  }

  // ---- registers ----
  getReg(reg: number, width: number): number {
    if (width === 8) return reg < 4 ? this.regs[reg] & 0xff : (this.regs[reg - 4] >>> 8) & 0xff;
    return this.regs[reg] & widthMask(width);
  }
  /** Set an operand register. ESP keeps pointing into the stack window (use `regs[ESP]` to move it on purpose). */
  setReg(reg: number, width: number, v: number): void {
    if (reg === ESP && width !== 8) return;
    if (width === 8) {
      if (reg < 4) this.regs[reg] = (this.regs[reg] & ~0xff) | (v & 0xff);
      else this.regs[reg - 4] = (this.regs[reg - 4] & ~0xff00) | ((v & 0xff) << 8);
    } else if (width === 16) this.regs[reg] = (this.regs[reg] & ~0xffff) | (v & 0xffff);
    else this.regs[reg] = v >>> 0;
  }

  // ---- memory windows ----
  private window(addr: number): [Uint8Array, number] {
    if (addr >= DATA_ADDR && addr < DATA_ADDR + WINDOW) return [this.data, addr - DATA_ADDR];
    if (addr >= STACK_ADDR && addr < STACK_ADDR + WINDOW) return [this.stack, addr - STACK_ADDR];
    if (this.lowWindow && addr >= LOW_ADDR && addr < LOW_ADDR + WINDOW) return [this.low, addr - LOW_ADDR];
    throw new Error(`generator: address ${addr.toString(16)} is outside the windows`);
  }
  /** Start of the window holding `addr`. */
  windowBase(addr: number): number { return addr - this.window(addr)[1]; }
  poke(addr: number, bytes: number, v: number): void {
    for (let i = 0; i < bytes; i++) { const [w, o] = this.window(addr + i); w[o] = (v >>> (8 * i)) & 0xff; }
  }
  peek(addr: number, bytes: number): number {
    let v = 0;
    for (let i = bytes - 1; i >= 0; i--) { const [w, o] = this.window(addr + i); v = (v * 256) + w[o]; }
    return v >>> 0;
  }

  // ---- code ----
  pfx(...bytes: number[]): void { this.prefixes.push(...bytes); }
  /** 66h when the operand size differs from the code segment's default (8-bit operations take none). */
  osize(width: number): void { if (width !== 8 && (width === 16) !== this.code16) this.pfx(0x66); }
  /** 67h when the address size differs from the code segment's default. */
  asize(bits: number): void { if ((bits === 16) !== this.code16) this.pfx(0x67); }
  /** Operand size of near branches, PUSH of the return address etc. in this code segment. */
  get defaultWidth(): number { return this.code16 ? 16 : 32; }
  /** The EIP value of snippet offset `off` (16-bit code: the offset in the segment based at CODE_ADDR). */
  eipAt(off: number): number { return this.code16 ? off : CODE_ADDR + off; }
  emit(...bytes: number[]): void { this.body.push(...bytes); }
  imm(width: number, v: number): void { for (let i = 0; i < width / 8; i++) this.body.push((v >>> (8 * i)) & 0xff); }
  /**
   * Occasionally a prefix the instruction ignores: 66h on an 8-bit operation, 67h when there is no
   * memory operand (only call where that holds). The decoder must not let them change anything.
   */
  ignoredPrefix(width: number, rm?: RmOperand): void {
    if (width === 8 && this.rng.chance(0.05)) this.pfx(0x66);
    if (rm?.kind !== 'mem' && this.rng.chance(0.04)) this.pfx(0x67);
  }
  /** Close the current instruction: prefixes in a random order (all orders are legal), then its body. */
  end(): void {
    const p = this.prefixes;
    for (let i = p.length - 1; i > 0; i--) { const j = this.rng.int(i + 1); [p[i], p[j]] = [p[j], p[i]]; }
    this.code.push(...p, ...this.body);
    this.prefixes = []; this.body = [];
  }
  /** Overwrite `size` bytes of already closed code at offset `at` with `v` (branch displacements). */
  patch(at: number, size: number, v: number): void { for (let i = 0; i < size; i++) this.code[at + i] = (v >>> (8 * i)) & 0xff; }
  get codeLength(): number { return this.code.length + this.prefixes.length + this.body.length; }

  /** Run after address registers are applied (for values that depend on the final registers). */
  later(fn: () => void): void { this.post.push(fn); }
  /** Record the undefined-flag mask of the snippet's last instruction (evaluated with the final state). */
  undef(mnemonic: string, ctx: () => FlagContext = () => ({})): void {
    this.later(() => { this.undefFlags = undefinedFlags(mnemonic, ctx()); });
  }

  // ---- operands ----
  /** ESP is never picked as a register operand (sequences: a moved stack would break later instructions). */
  noEsp = false;
  /** Building a multi-instruction sequence: register values at later instructions are not known here. */
  inSequence = false;
  /** Only forms without undefined flags (a sequence's instructions before the last). */
  definedOnly = false;
  /** Memory operands use [disp32] only (no registers, so earlier instructions cannot move them). */
  absoluteOnly = false;
  /** A register number for a `width`-bit operand (for 8 bits, 4..7 are AH CH DH BH, never ESP). */
  reg(width = 32): number { return width !== 8 && this.noEsp ? this.regNoSp() : this.rng.int(8); }
  /** A register other than ESP (for operands whose value must not move the stack). */
  regNoSp(): number { const r = this.rng.int(7); return r >= ESP ? r + 1 : r; }

  /** A register or memory r/m operand of `width` bits (memory in about half the cases). */
  rm(width: number, opts: MemOptions & { memChance?: number; noEsp?: boolean } = {}): RmOperand {
    if (this.rng.chance(opts.memChance ?? 0.5)) return this.mem(width / 8, opts);
    const reg = opts.noEsp && width !== 8 ? this.regNoSp() : this.reg(width);
    return { kind: 'reg', reg };
  }

  /** Emit ModRM (+SIB, displacement) for `rm` with `regField`. */
  modrm(regField: number, rm: RmOperand): void {
    if (rm.kind === 'reg') this.emit(0xc0 | (regField << 3) | rm.reg);
    else this.emit(...rm.encode(regField));
  }

  /** Value of an r/m operand as generated (registers before address solving; use in later() when it matters). */
  load(rm: RmOperand, width: number): number {
    return rm.kind === 'reg' ? this.getReg(rm.reg, width) : this.peek(rm.addr, width / 8);
  }
  store(rm: RmOperand, width: number, v: number): void {
    if (rm.kind === 'reg') this.setReg(rm.reg, width, v);
    else this.poke(rm.addr, width / 8, v);
  }

  /**
   * A memory operand of `size` bytes with a random 32-bit addressing form. The displacement is drawn
   * first; the base/index register values are solved so that the effective address (mod 2^32) lands in
   * a window. Index values are often huge, so the sum wraps around 2^32: that is part of the test.
   */
  mem(size: number, opts: MemOptions = {}): MemOperand {
    const rng = this.rng;
    const avoid = new Set(opts.avoid ?? []);
    for (const r of this.addrRegs.keys()) avoid.add(r);
    if (this.lowWindow && !this.absoluteOnly && rng.chance(this.code16 ? 0.7 : 0.12)) {
      const m16 = this.mem16(size, avoid, opts);
      if (m16) return m16;
    }
    const pickReg = (noEsp: boolean, noEbp = false): number => {
      for (;;) {
        const r = rng.int(8);
        if (avoid.has(r) || (noEsp && r === ESP) || (noEbp && r === EBP)) continue;
        return r;
      }
    };
    const form = this.absoluteOnly ? 'disp32' : rng.pick(ADDRESS_FORMS);
    const sib = form.startsWith('sib');
    const mod = form === 'disp32' || form === 'base' || form === 'sib' || form === 'sib-nobase' ? 0 : form.endsWith('disp8') ? 1 : 2;
    let base = -1, index = -1, scale = 0;
    if (form === 'base' || form === 'base+disp8' || form === 'base+disp32') base = pickReg(true, form === 'base');
    if (sib) {
      scale = rng.int(4);
      index = rng.chance(0.15) ? -1 : pickReg(true);
      if (form !== 'sib-nobase') base = rng.chance(0.25) && !avoid.has(ESP) ? ESP : pickReg(true, form === 'sib');
    }
    const espv = (this.regs[ESP] + (opts.espDelta ?? 0)) >>> 0;
    const inStack = base === ESP || rng.chance(0.1);
    const windowBase = inStack ? STACK_ADDR : DATA_ADDR;
    const margin = 8;
    let target = windowBase + rng.range(margin, WINDOW - size - margin);
    const randDisp = (): number => (mod === 1 ? rng.range(-128, 127) : mod === 2 ? (rng.chance(0.5) ? rng.range(-4096, 4096) : rng.u32() | 0) : 0);
    let disp = 0;
    const regVals = new Map<number, number>();
    const m = 1 << scale;

    if (base === ESP) {
      if (index < 0) {
        if (mod === 0) target = espv;
        else {
          // The displacement must carry ESP into the stack window.
          let lo = STACK_ADDR + margin - espv, hi = STACK_ADDR + WINDOW - size - margin - espv;
          if (mod === 1) { lo = Math.max(lo, -128); hi = Math.min(hi, 127); }
          disp = rng.range(lo, hi);
          target = espv + disp;
        }
      } else {
        disp = randDisp();
        let diff = (target - espv - disp) | 0;
        const r = ((diff % m) + m) % m;
        target -= r; diff -= r;
        regVals.set(index, (diff / m) >>> 0);
      }
    } else if (index < 0) {
      if (base < 0) disp = target;
      else { disp = randDisp(); regVals.set(base, (target - disp) >>> 0); }
    } else if (base === index) {
      disp = randDisp();
      const f = 1 + m;
      let diff = (target - disp) >>> 0;
      if (f === 2) {
        if (diff & 1) { target -= 1; diff = (diff - 1) >>> 0; }
        regVals.set(base, ((diff >>> 1) | (rng.chance(0.5) ? 0x8000_0000 : 0)) >>> 0);
      } else regVals.set(base, Math.imul(diff, inverseOdd(f)) >>> 0);
    } else {
      const r = rng.int(10);
      const idx = r < 4 ? rng.int(16) : r < 6 ? (-1 - rng.int(16)) >>> 0 : rng.u32();
      regVals.set(index, idx);
      if (base < 0) disp = (target - Math.imul(idx, m)) | 0;
      else { disp = randDisp(); regVals.set(base, (target - Math.imul(idx, m) - disp) >>> 0); }
    }
    for (const [r, v] of regVals) this.addrRegs.set(r, v);

    this.asize(32);
    this.segmentOverride(opts);

    const d8 = (v: number) => [v & 0xff];
    const d32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    const dispBytes = mod === 1 ? d8(disp) : mod === 2 || form === 'disp32' || form === 'sib-nobase' ? d32(disp) : [];
    const addr = target;
    return {
      kind: 'mem', addr,
      encode: (regField: number) => {
        if (!sib) {
          const rmf = form === 'disp32' ? 5 : base;
          return [(mod << 6) | (regField << 3) | rmf, ...dispBytes];
        }
        const sibByte = (scale << 6) | ((index < 0 ? 4 : index) << 3) | (form === 'sib-nobase' ? 5 : base);
        return [(mod << 6) | (regField << 3) | 4, sibByte, ...dispBytes];
      },
    };
  }

  /**
   * A memory operand with 16-bit addressing (67h): [BX+SI], [BX+DI], [BP+SI], [BP+DI], [SI], [DI], [BP],
   * [BX] with no, 8- or 16-bit displacement, or [disp16]. The sum wraps at 64 KiB and the registers' upper
   * halves are random (the processor must ignore them); the address lands in the low window.
   */
  private mem16(size: number, avoid: Set<number>, opts: MemOptions): MemOperand | undefined {
    const rng = this.rng;
    const RM16: number[][] = [[EBX, ESI], [EBX, EDI], [EBP, ESI], [EBP, EDI], [ESI], [EDI], [EBP], [EBX]];
    const mod = rng.int(3);
    const usable = RM16.map((regs, rm) => ({ regs: mod === 0 && rm === 6 ? [] : regs, rm })).filter(({ regs }) => regs.every((r) => !avoid.has(r)));
    if (usable.length === 0) return undefined;
    const { regs, rm } = rng.pick(usable);
    const target = LOW_ADDR + rng.range(8, WINDOW - size - 8);
    const disp = mod === 1 ? rng.range(-128, 127) : mod === 2 ? rng.int(0x1_0000) : regs.length === 0 ? target : 0;
    const upper = () => rng.u32() & 0xffff_0000;
    if (regs.length === 2) {
      const second = rng.int(0x1_0000);
      this.addrRegs.set(regs[1], (upper() | second) >>> 0);
      this.addrRegs.set(regs[0], (upper() | ((target - second - disp) & 0xffff)) >>> 0);
    } else if (regs.length === 1) this.addrRegs.set(regs[0], (upper() | ((target - disp) & 0xffff)) >>> 0);
    this.asize(16);
    this.segmentOverride(opts);
    const dispBytes = mod === 1 ? [disp & 0xff] : mod === 2 || regs.length === 0 ? [disp & 0xff, (disp >>> 8) & 0xff] : [];
    return { kind: 'mem', addr: target, encode: (regField: number) => [(mod << 6) | (regField << 3) | rm, ...dispBytes] };
  }

  /** Occasionally a segment override: DS/ES/SS are flat on both sides (and CS for reads); FS/GS differ on the host. */
  private segmentOverride(opts: MemOptions): void {
    const rng = this.rng;
    if (opts.overrides === false || !rng.chance(0.12)) return;
    this.pfx(opts.writes && rng.chance(0.15) ? 0x2e : this.readSegment(!opts.writes));
  }

  /**
   * A segment override prefix for a read: ES, SS, DS (flat on both sides), and CS when it is flat too
   * (not in 16-bit code, whose CS is based at CODE_ADDR). A write through CS is #GP either way.
   */
  readSegment(allowCs = true): number {
    return this.rng.pick(allowCs && !this.code16 ? [0x26, 0x2e, 0x36, 0x3e] : [0x26, 0x36, 0x3e]);
  }

  finish(mnemonic: string, form: string): OracleCase {
    if (this.prefixes.length || this.body.length) this.end();
    for (const [r, v] of this.addrRegs) this.regs[r] = v;
    for (const fn of this.post) fn();
    if (this.code.length > MAX_CODE) throw new Error(`generator: ${form} snippet is ${this.code.length} bytes`);
    if (this.code16) form = `${form} [16-bit code]`;
    return {
      index: this.index, mnemonic, form,
      code: Uint8Array.from(this.code), code16: this.code16,
      regs: this.regs, eflags: (this.eflags & INPUT_FLAGS) | FIXED_FLAGS,
      data: this.data, stack: this.stack, low: this.low,
      undefFlags: this.undefFlags, undefRegs: this.undefRegs,
    };
  }
}


// Lazy flags in WebAssembly: the same record as src/cpu/flags.ts (LAZY_OP, DST, SRC, RES, SIZE, MASK plus
// the EFLAGS word), held in locals of a region function. When the translator knows which instruction
// wrote the record (same block, so op and size are compile-time constants) a flag or a condition is a few
// inline operations — CMP + Jcc is one comparison; otherwise `$cond` evaluates it from the record.
import type { WasmBackend, WasmModule } from './wasm-backend.ts';
import { OP_ADD, OP_LOGIC, OP_SUB, sizeMask, topShift } from '../src/cpu/flags.ts';
import { CF, OF, PF, SF, ZF } from '../src/cpu/state.ts';

type Module = WasmModule;
type Expr = number;

/** What the translator knows about the record at a point: who wrote it (op kind, size), or null (unknown). */
export interface KnownFlags {
  op: number;
  size: number;
  /** LAZY_MASK as the writer left it (INC/DEC keep CF out of it). */
  mask: number;
  /** True when res = dst - src exactly (CMP, SUB: no borrow-in), so unsigned/signed comparisons apply. */
  plainSub: boolean;
}

/** Local indices of the record (the translator owns the numbering). */
export interface FlagLocals { op: number; dst: number; src: number; res: number; size: number; mask: number; efl: number }


export class FlagsWasm {
  constructor(private readonly m: Module, private readonly L: FlagLocals, private readonly i32: number) {}

  private g(l: number): Expr { return this.m.local.get(l, this.i32); }
  private c(v: number): Expr { return this.m.i32.const(v | 0); }

  /** Bit `sh` of e, as 0/1. */
  private bit(e: Expr, sh: number): Expr { return this.m.i32.and(sh === 0 ? e : this.m.i32.shr_u(e, this.c(sh)), this.c(1)); }

  /** getCF for a known record, 0/1. */
  cf(k: KnownFlags): Expr {
    const m = this.m, L = this.L;
    if (!(k.mask & CF)) return m.i32.and(this.g(L.efl), this.c(CF));
    const a = (): Expr => this.g(L.dst), b = (): Expr => this.g(L.src), r = (): Expr => this.g(L.res);
    const sh = topShift(k.size), not = (e: Expr): Expr => m.i32.xor(e, this.c(-1));
    if (k.op === OP_ADD) return this.bit(m.i32.or(m.i32.and(a(), b()), m.i32.and(m.i32.or(a(), b()), not(r()))), sh);
    if (k.op === OP_SUB) {
      if (k.plainSub) return m.i32.lt_u(a(), b());
      return this.bit(m.i32.or(m.i32.and(not(a()), b()), m.i32.and(m.i32.or(not(a()), b()), r())), sh);
    }
    return this.c(0);
  }

  of(k: KnownFlags): Expr {
    const m = this.m, L = this.L;
    if (!(k.mask & OF)) return this.bit(this.g(L.efl), 11);
    const a = (): Expr => this.g(L.dst), b = (): Expr => this.g(L.src), r = (): Expr => this.g(L.res);
    const sh = topShift(k.size);
    if (k.op === OP_ADD) return this.bit(m.i32.and(m.i32.xor(a(), r()), m.i32.xor(b(), r())), sh);
    if (k.op === OP_SUB) return this.bit(m.i32.and(m.i32.xor(a(), b()), m.i32.xor(a(), r())), sh);
    return this.c(0);
  }

  zf(k: KnownFlags): Expr {
    if (!(k.mask & ZF)) return this.bit(this.g(this.L.efl), 6);
    const r = this.g(this.L.res);
    return this.m.i32.eqz(k.size === 4 ? r : this.m.i32.and(r, this.c(sizeMask(k.size))));
  }

  sf(k: KnownFlags): Expr {
    if (!(k.mask & SF)) return this.bit(this.g(this.L.efl), 7);
    return this.bit(this.g(this.L.res), topShift(k.size));
  }

  pf(k: KnownFlags): Expr {
    if (!(k.mask & PF)) return this.bit(this.g(this.L.efl), 2);
    const m = this.m;
    return m.i32.eqz(m.i32.and(m.i32.popcnt(m.i32.and(this.g(this.L.res), this.c(0xff))), this.c(1)));
  }

  /** Condition cc (SDM tttn) from a known record, as 0/1. Fused forms for CMP/SUB and logic records. */
  condition(k: KnownFlags, cc: number): Expr {
    const m = this.m, L = this.L;
    const full = k.mask === (CF | PF | 0x10 | ZF | SF | OF);
    if (k.op === OP_SUB && k.plainSub && full) {
      const sx = (l: number): Expr => (k.size === 4 ? this.g(l) : m.i32.shr_s(m.i32.shl(this.g(l), this.c(32 - 8 * k.size)), this.c(32 - 8 * k.size)));
      const a = (): Expr => this.g(L.dst), b = (): Expr => this.g(L.src);
      switch (cc) {
        case 0x2: return m.i32.lt_u(a(), b());
        case 0x3: return m.i32.ge_u(a(), b());
        case 0x4: return this.zf(k);
        case 0x5: return m.i32.eqz(this.zf(k));
        case 0x6: return m.i32.le_u(a(), b());
        case 0x7: return m.i32.gt_u(a(), b());
        case 0xc: return m.i32.lt_s(sx(L.dst), sx(L.src));
        case 0xd: return m.i32.ge_s(sx(L.dst), sx(L.src));
        case 0xe: return m.i32.le_s(sx(L.dst), sx(L.src));
        case 0xf: return m.i32.gt_s(sx(L.dst), sx(L.src));
      }
    }
    if (k.op === OP_LOGIC && full && k.size === 4) {
      const r = (): Expr => this.g(L.res), z = (): Expr => this.c(0);
      switch (cc) {
        case 0x4: return m.i32.eqz(r());
        case 0x5: return m.i32.ne(r(), z());
        case 0x8: case 0xc: return m.i32.lt_s(r(), z());
        case 0x9: case 0xd: return m.i32.ge_s(r(), z());
        case 0xe: return m.i32.le_s(r(), z());
        case 0xf: return m.i32.gt_s(r(), z());
      }
    }
    let r: Expr;
    switch (cc >> 1) {
      case 0: r = this.of(k); break;
      case 1: r = this.cf(k); break;
      case 2: r = this.zf(k); break;
      case 3: r = m.i32.or(this.cf(k), this.zf(k)); break;
      case 4: r = this.sf(k); break;
      case 5: r = this.pf(k); break;
      case 6: r = m.i32.ne(this.sf(k), this.of(k)); break;
      default: r = m.i32.or(this.zf(k), m.i32.ne(this.sf(k), this.of(k))); break;
    }
    return cc & 1 ? m.i32.eqz(r) : r;
  }

  /** Condition cc from the record whatever wrote it: a call of the module's `$cond`. */
  dynamicCondition(cc: number): Expr {
    const L = this.L;
    return this.m.call('cond', [this.c(cc), ...[L.op, L.dst, L.src, L.res, L.size, L.mask, L.efl].map((l) => this.g(l))], this.i32);
  }

  /** getCF from the record whatever wrote it. */
  dynamicCF(): Expr { return this.dynamicCondition(0x2); }
}

/**
 * Add `$cond(cc, op, dst, src, res, size, mask, eflags) -> 0/1` to the module: flags.ts's testCondition
 * on a record passed by value (the slow path, for records written outside the current block).
 */
export function addConditionFunction(bn: WasmBackend, m: Module): void {
  const i32 = bn.i32;
  const CC = 0, OPL = 1, A = 2, B = 3, R = 4, SZ = 5, MASK = 6, EFL = 7, SH = 8, F_CF = 9, F_ZF = 10, F_SF = 11, F_OF = 12, F_PF = 13, RES = 14;
  const g = (l: number): Expr => m.local.get(l, i32), set = (l: number, v: Expr): Expr => m.local.set(l, v);
  const c = (v: number): Expr => m.i32.const(v | 0);
  const not = (e: Expr): Expr => m.i32.xor(e, c(-1));
  const bitAt = (e: Expr): Expr => m.i32.and(m.i32.shr_u(e, g(SH)), c(1));
  const lazy = (flag: number, computed: Expr, bitNo: number): Expr =>
    m.if(m.i32.and(g(MASK), c(flag)), computed, m.i32.and(m.i32.shr_u(g(EFL), c(bitNo)), c(1)));
  const isOp = (op: number): Expr => m.i32.eq(g(OPL), c(op));
  const cfExpr = m.if(isOp(OP_ADD), bitAt(m.i32.or(m.i32.and(g(A), g(B)), m.i32.and(m.i32.or(g(A), g(B)), not(g(R))))),
    m.if(isOp(OP_SUB), bitAt(m.i32.or(m.i32.and(not(g(A)), g(B)), m.i32.and(m.i32.or(not(g(A)), g(B)), g(R)))), c(0)));
  const ofExpr = m.if(isOp(OP_ADD), bitAt(m.i32.and(m.i32.xor(g(A), g(R)), m.i32.xor(g(B), g(R)))),
    m.if(isOp(OP_SUB), bitAt(m.i32.and(m.i32.xor(g(A), g(B)), m.i32.xor(g(A), g(R)))), c(0)));
  // size mask: 1 → 0xff, 2 → 0xffff, 4 → -1
  const sizeMaskE = m.if(m.i32.eq(g(SZ), c(4)), c(-1), m.i32.sub(m.i32.shl(c(1), m.i32.mul(g(SZ), c(8))), c(1)));
  // Select by cc >> 1, then invert for odd cc.
  const base = (): Expr => {
    const cases: Expr[] = [
      g(F_OF), g(F_CF), g(F_ZF), m.i32.or(g(F_CF), g(F_ZF)), g(F_SF), g(F_PF), m.i32.ne(g(F_SF), g(F_OF)),
      m.i32.or(g(F_ZF), m.i32.ne(g(F_SF), g(F_OF))),
    ];
    let e = cases[7];
    for (let k = 6; k >= 0; k--) e = m.if(m.i32.eq(m.i32.shr_u(g(CC), c(1)), c(k)), cases[k], e);
    return e;
  };
  const fn = m.block(null, [
    set(SH, m.i32.sub(m.i32.mul(g(SZ), c(8)), c(1))),
    set(RES, m.i32.and(g(R), sizeMaskE)),
    set(F_CF, lazy(CF, cfExpr, 0)),
    set(F_OF, lazy(OF, ofExpr, 11)),
    set(F_ZF, lazy(ZF, m.i32.eqz(g(RES)), 6)),
    set(F_SF, lazy(SF, bitAt(g(R)), 7)),
    set(F_PF, lazy(PF, m.i32.eqz(m.i32.and(m.i32.popcnt(m.i32.and(g(R), c(0xff))), c(1))), 2)),
    m.i32.xor(base(), m.i32.and(g(CC), c(1))),
  ], i32);
  m.addFunction('cond', bn.createType([i32, i32, i32, i32, i32, i32, i32, i32]), i32, [i32, i32, i32, i32, i32, i32, i32], fn);
}


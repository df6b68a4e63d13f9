// Multi-word significand arithmetic on 32-bit limbs (most significant first). Results go to the shared
// scratch `W` to avoid allocating on the hot path; callers copy what they need before the next call.

/** Scratch for three-limb results: h (bits 95–64), l (63–32), x (31–0, the rounding bits). */
export const W = { h: 0, l: 0, x: 0 };

/** (h, l, x) >> n, OR-ing every bit shifted out into bit 0 of x ("jamming") so rounding still sees it. */
export function shiftRightJam(h: number, l: number, x: number, n: number): void {
  let sticky = 0;
  if (n >= 96) {
    sticky = h | l | x; h = l = x = 0;
  } else {
    while (n >= 32) { sticky |= x; x = l; l = h; h = 0; n -= 32; }
    if (n > 0) {
      sticky |= x << (32 - n);
      x = (x >>> n) | (l << (32 - n));
      l = (l >>> n) | (h << (32 - n));
      h >>>= n;
    }
  }
  W.h = h >>> 0; W.l = l >>> 0; W.x = (x | (sticky !== 0 ? 1 : 0)) >>> 0;
}

/** Shifts (h, l, x) left until bit 95 is set; returns the shift (0 when all are zero). */
export function normalize(h: number, l: number, x: number): number {
  let n = 0;
  if ((h | l | x) === 0) { W.h = W.l = W.x = 0; return 0; }
  while (h === 0) { h = l; l = x; x = 0; n += 32; }
  const z = Math.clz32(h);
  if (z > 0) {
    h = (h << z) | (l >>> (32 - z));
    l = (l << z) | (x >>> (32 - z));
    x <<= z;
  }
  W.h = h >>> 0; W.l = l >>> 0; W.x = x >>> 0;
  return n + z;
}

/** 32×32 → 64-bit product: high half in M.h, low half in M.l. */
export const M = { h: 0, l: 0 };
export function mul32(a: number, b: number): void {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  M.l = ((mid << 16) | (p00 & 0xffff)) >>> 0;
  M.h = (p11 + (p01 >>> 16) + (p10 >>> 16) + Math.floor(mid / 0x10000)) >>> 0;
}

/** Compares the unsigned 64-bit numbers (ah, al) and (bh, bl): -1, 0 or 1. */
export function cmp64(ah: number, al: number, bh: number, bl: number): number {
  if (ah !== bh) return ah < bh ? -1 : 1;
  if (al !== bl) return al < bl ? -1 : 1;
  return 0;
}

// Is a 4 KiB page all zero? A full snapshot leaves zero pages out and a diff records them in a bitmap, so
// every candidate page of guest RAM is scanned: 128 MiB in 12-23 ms here (idle to loaded) when the view is
// 4-byte aligned (guest RAM is: it sits at RAM_OFFSET in the WebAssembly.Memory). Int32 words OR-ed four at
// a time were the fastest of Int32Array, Float64Array (which must also rule out -0.0, equal to 0) and
// BigUint64Array (BigInt compares, 4× slower); a WebAssembly SIMD loop took 7 ms against 11.5, not worth a
// module of its own and the Memory object in the API. Reading RAM the guest never touched costs the host a
// page fault per page (13-20 µs each here: 0.4-0.8 s for 124 MiB): the scan cannot avoid it, only a caller
// who knows which pages were never written can (RamSource.written).
import { PAGE_SIZE } from '../cpu/state.ts';

/** A zero-page test over `ram` (whole pages, page p at byte p * PAGE_SIZE). */
export function zeroPageTest(ram: Uint8Array): (page: number) => boolean {
  if (ram.byteOffset % 4 !== 0) return (page) => isZeroBytes(ram, page * PAGE_SIZE);
  const words = new Int32Array(ram.buffer, ram.byteOffset, ram.byteLength >>> 2);
  return (page) => {
    for (let i = page * (PAGE_SIZE >>> 2), end = i + (PAGE_SIZE >>> 2); i < end; i += 4)
      if ((words[i] | words[i + 1] | words[i + 2] | words[i + 3]) !== 0) return false;
    return true;
  };
}

/** The slow path for a view that Int32Array cannot cover (unaligned: only tests and odd callers). */
function isZeroBytes(ram: Uint8Array, at: number): boolean {
  for (let i = at, end = at + PAGE_SIZE; i < end; i++) if (ram[i] !== 0) return false;
  return true;
}

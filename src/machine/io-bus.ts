// The x86 I/O port space: 65536 byte-addressed ports, each decoded to at most one device. A device sees
// offsets relative to the base it was registered at and knows nothing of the CPU (Firecracker's habit).
//
// Decoding is one typed-array lookup per access. An access the device cannot take in one piece (wider than
// the device's data path, or running past the end of its port range) is split in halves that are decoded
// again, as the ISA bus splits a 16-bit cycle to an 8-bit card into two byte cycles at port and port + 1:
// `in ax, 0x3fc` reads MCR and LSR (QEMU 7.2 agrees for its 16550). Ports no device claims float high:
// reads give all-ones, writes are dropped.

export interface PortDevice {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
  /** Widest access the device decodes in one piece (its data path); wider ones are split. Default 1 (an 8-bit ISA card). */
  readonly accessWidth?: 1 | 2 | 4;
}

interface Slot { base: number; end: number; width: number; device: PortDevice; name: string }

const MASK = [0, 0xff, 0xffff, 0, 0xffffffff];

export class IoBus {
  /** Slot index + 1 of the device decoding each port; 0 = unassigned. */
  private readonly map = new Uint16Array(0x10000);
  /** slots[0] is a placeholder so that map entries can use 0 for "nobody". */
  private readonly slots: Slot[] = [{ base: 0, end: 0, width: 0, device: { read: () => 0, write: () => {} }, name: '' }];

  /** Claim ports [base, base + count) for `device`. Overlapping another device is a wiring bug and throws. */
  register(base: number, count: number, device: PortDevice, name: string): void {
    if (!Number.isInteger(base) || !Number.isInteger(count) || base < 0 || count < 1 || base + count > 0x10000)
      throw new RangeError(`io-bus: ${name}: ports 0x${hex(base)}+${count} do not fit the 16-bit port space`);
    for (let p = base; p < base + count; p++) {
      const other = this.map[p];
      if (other !== 0) {
        const o = this.slots[other];
        throw new RangeError(`io-bus: ${name} (0x${hex(base)}-0x${hex(base + count - 1)}) overlaps ${o.name} (0x${hex(o.base)}-0x${hex(o.end - 1)})`);
      }
    }
    const width = device.accessWidth ?? 1;
    this.slots.push({ base, end: base + count, width, device, name });
    this.map.fill(this.slots.length - 1, base, base + count);
  }

  /** The device registration decoding `port`, if any (for traces and diagnostics). */
  lookup(port: number): { name: string; base: number; count: number } | undefined {
    const i = this.map[port & 0xffff];
    if (i === 0) return undefined;
    const s = this.slots[i];
    return { name: s.name, base: s.base, count: s.end - s.base };
  }

  /** IN: the value read, zero-extended to `size` bytes (uint32 for size 4). */
  in(port: number, size: 1 | 2 | 4): number {
    port &= 0xffff;
    const i = this.map[port];
    if (i !== 0) {
      const s = this.slots[i];
      if (size <= s.width && port + size <= s.end) return size === 4 ? s.device.read(port - s.base, 4) >>> 0 : s.device.read(port - s.base, size) & MASK[size];
    } else if (size === 1) return 0xff;
    const half = (size >>> 1) as 1 | 2;
    return (this.in(port, half) + this.in(port + half, half) * (half === 1 ? 0x100 : 0x10000)) >>> 0;
  }

  /** OUT: `value` is truncated to `size` bytes before the device sees it. */
  out(port: number, size: 1 | 2 | 4, value: number): void {
    port &= 0xffff;
    const i = this.map[port];
    if (i !== 0) {
      const s = this.slots[i];
      if (size <= s.width && port + size <= s.end) { s.device.write(port - s.base, size, size === 4 ? value >>> 0 : value & MASK[size]); return; }
    } else if (size === 1) return;
    const half = (size >>> 1) as 1 | 2;
    this.out(port, half, value);
    this.out(port + half, half, half === 1 ? value >>> 8 : value >>> 16);
  }
}

const hex = (n: number): string => n.toString(16);

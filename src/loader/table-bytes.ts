// Firmware tables as the OS reads them (ACPI's, SMBIOS's): little-endian fields at fixed offsets of a byte
// record, and the 8-bit checksum both use to make a structure's bytes sum to 0.

/** A record of `length` bytes whose fields are written at their offsets. */
export class ByteRecord {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }
  ascii(offset: number, text: string): this { for (let i = 0; i < text.length; i++) this.bytes[offset + i] = text.charCodeAt(i); return this; }
  u8(offset: number, v: number): this { this.bytes[offset] = v; return this; }
  u16(offset: number, v: number): this { this.view.setUint16(offset, v, true); return this; }
  u32(offset: number, v: number): this { this.view.setUint32(offset, v >>> 0, true); return this; }
}

/** The 8-bit checksum that makes `bytes` sum to 0 modulo 256. */
export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum += b;
  return (256 - (sum & 0xff)) & 0xff;
}

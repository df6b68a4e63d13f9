// Snapshots without Node (src/state/codecs.ts): the core entry alone — a browser — hashes with its own
// SHA-256 (src/state/sha256.ts, checked against node:crypto's, the oracle) and stores RAM uncompressed; a
// file from x86jit/node, compressed, is refused in one line, and files pass between the two.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createVM, loadImage, SnapshotError, VM } from '../src/index.ts';
import { PORTABLE_CODECS, setSnapshotCodecs } from '../src/state/codecs.ts';
import { NODE_CODECS } from '../src/state/node-codecs.ts';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32 } from '../src/state/crc32.ts';
import { sha256 } from '../src/state/sha256.ts';

const ROM = new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'test-roms', 'hello.elf')));
const nodeSha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** hello.elf stopped after `n` instructions, its output so far in `out`. */
function helloAt(n: number, out: Uint8Array[]): VM {
  const vm = createVM({ memory: 4 << 20, stdout: (b) => out.push(b) });
  loadImage(vm, ROM, 'hello.elf');
  expect(vm.run({ maxInstructions: n }).reason).toBe('max-instructions');
  return vm;
}

/** The rest of the run of a VM restored from `file`, appended to `out`. */
async function finish(file: Uint8Array, out: Uint8Array[]): Promise<string> {
  const vm = await VM.fromState(file, { stdout: (b) => out.push(b) });
  expect(vm.run({ timeout: 30 }).reason).toBe('debug-exit');
  return Buffer.concat(out).toString('latin1');
}

describe('snapshot codecs', () => {
  afterEach(() => setSnapshotCodecs(NODE_CODECS)); // what tests/setup-module-check.ts installs

  it("SHA-256 in JavaScript gives node:crypto's digest (every length through three blocks, and 1 MiB + 3)", () => {
    const data = randomBytes((1 << 20) + 3);
    for (let n = 0; n <= 200; n++) expect(hex(sha256(data.subarray(7, 7 + n)))).toBe(nodeSha(data.subarray(7, 7 + n)));
    expect(hex(sha256(data))).toBe(nodeSha(data));
  });

  it("CRC-32 in JavaScript gives node:zlib's (every length to 200, 1 MiB + 3, continued from a prefix)", () => {
    const data = randomBytes((1 << 20) + 3);
    for (let n = 0; n <= 200; n++) expect(crc32(data.subarray(5, 5 + n))).toBe(zlibCrc32(data.subarray(5, 5 + n)));
    expect(crc32(data)).toBe(zlibCrc32(data));
    expect(crc32(data.subarray(1000), crc32(data.subarray(0, 1000)))).toBe(zlibCrc32(data));
    expect(NODE_CODECS.crc32(data.subarray(1000), NODE_CODECS.crc32(data.subarray(0, 1000)))).toBe(zlibCrc32(data));
  });

  it('the core alone saves uncompressed and restores; x86jit/node reads that file and the run goes on the same', async () => {
    const expected = readFileSync(join(import.meta.dirname, '..', 'test-roms', 'expected', 'hello.txt'), 'latin1');

    setSnapshotCodecs(PORTABLE_CODECS);
    const out: Uint8Array[] = [];
    const file = helloAt(3000, out).saveState();
    const nodeFile = (() => { setSnapshotCodecs(NODE_CODECS); const o: Uint8Array[] = []; return helloAt(3000, o).saveState(); })();
    // Uncompressed: larger than the Brotli file of the same state.
    expect(file.byteLength).toBeGreaterThan(nodeFile.byteLength);
    setSnapshotCodecs(PORTABLE_CODECS);
    expect(await finish(file, [...out])).toBe(expected);
    setSnapshotCodecs(NODE_CODECS);
    expect(await finish(file, [...out])).toBe(expected);
  });

  it('the core alone refuses compression in one line, saving and restoring', async () => {
    const out: Uint8Array[] = [];
    const compressed = helloAt(3000, out).saveState();
    setSnapshotCodecs(PORTABLE_CODECS);
    const vm = helloAt(3000, []);
    expect(() => vm.saveState({ compression: 'brotli' })).toThrow(SnapshotError);
    expect(() => vm.saveState({ compression: 'brotli' })).toThrow(/^cannot write snapshot: brotli compression needs node:zlib, which the core entry does not have \(import x86jit\/node, or save with compression 'none'\)$/);
    const refused = await VM.fromState(compressed).then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(SnapshotError);
    expect(String((refused as Error).message)).toMatch(/^cannot read snapshot: .* is brotli-compressed; brotli compression needs node:zlib, which the core entry does not have/);
    expect(String((refused as Error).message)).not.toContain('\n');
  });
});

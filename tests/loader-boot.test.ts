// The loader fixtures booted on the whole machine (createVM + loadImage), against QEMU running the same
// files: the same COM1 output and the same isa-debug-exit status.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createVM, loadImage } from '../src/index.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/loader');
const hasQemu = spawnSync('qemu-system-i386', ['--version'], { stdio: 'ignore' }).status === 0;

const cases = [
  { file: 'mb-kernel.elf', output: 'mb-kernel: ok\n' },
  { file: 'mb-aout.bin', output: 'mb-aout: ok\n' },
];

describe.each(cases)('$file', ({ file, output }) => {
  const path = join(FIXTURES, file);

  it('boots on x86jit: prints its line on COM1 and exits with status 33', () => {
    let out = '';
    const vm = createVM({ memory: 8 << 20, stdout: (b) => { out += Buffer.from(b).toString('latin1'); } });
    loadImage(vm, new Uint8Array(readFileSync(path)), file);
    const exit = vm.run({ maxInstructions: 1_000_000 });
    expect(exit.reason).toBe('debug-exit');
    expect(out).toBe(output);
    expect((exit.status ?? 0) & 0xff).toBe(33);
  });

  it.skipIf(!hasQemu)('does the same under QEMU (the oracle)', () => {
    const r = spawnSync('qemu-system-i386', ['-kernel', path, '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
      '-display', 'none', '-nodefaults', '-m', '8'], { encoding: 'latin1', timeout: 20_000 });
    expect(r.stdout).toBe(output);
    expect(r.status).toBe(33);
  });
});

// A page's region grows when new blocks of it turn hot: the translation that replaces it keeps the blocks it
// had (jit.ts discover), whatever their hit counts. With paging, a block joins a region only once it has run
// MIN_REGION_BLOCK_HITS (8) times in the interpreter, except the block that turned hot; at a JIT threshold
// below that, the block that turned hot went in with fewer hits, dropped out of the next translation of its
// page (blocks that run in compiled code stop counting), turned hot again, and so on: paging.elf and
// minikernel.elf translated 80 and 95 regions at threshold 4 where 11 and 15 do at 50.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadImage } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

async function run(rom: string, threshold: number | null): Promise<{ out: string; status: number | undefined; instructions: number; regions: number }> {
  const out: Uint8Array[] = [];
  const vm = createVM({ memory: 16 << 20, stdout: (b) => out.push(b) });
  if (threshold !== null) await vm.enableJit({ cacheDir: null, threshold, tier2: 'off' });
  const path = join(import.meta.dirname, '..', 'test-roms', rom);
  loadImage(vm, new Uint8Array(readFileSync(path)), rom, {});
  const exit = vm.run({ timeout: 120 });
  expect(exit.reason).toBe('debug-exit');
  return { out: Buffer.concat(out).toString('latin1'), status: exit.status, instructions: vm.instructions, regions: vm.jitStats()?.compiled ?? 0 };
}

describe('a page\'s region grows without dropping blocks', () => {
  it.each(['paging.elf', 'minikernel.elf'])('%s at JIT threshold 4: the interpreter\'s results, no more than 4 times the translations of threshold 50', async (rom) => {
    const interp = await run(rom, null), low = await run(rom, 4), usual = await run(rom, 50);
    for (const jit of [low, usual]) expect({ out: jit.out, status: jit.status, instructions: jit.instructions }).toEqual({ out: interp.out, status: interp.status, instructions: interp.instructions });
    // Growth retranslates a page as its blocks turn hot one by one (more of them at a low threshold); an
    // eviction loop between two blocks of a page retranslated it at every turn.
    expect(low.regions, `threshold 4: ${low.regions} regions, threshold 50: ${usual.regions}`).toBeLessThanOrEqual(4 * usual.regions);
  });
});

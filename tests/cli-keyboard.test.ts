// `x86jit run --stdin keyboard`: host input typed on the PS/2 keyboard as a US keyboard types it
// (src/devices/keymap-us.ts). test-roms/interactive/kbd-echo.elf prints every byte the 8042 delivers; typing
// every printable ASCII character, Tab, Backspace, Escape, Ctrl-C and Enter must give the bytes QEMU 7.2's
// guest got when its monitor sent the same keys (`sendkey …`, test-roms/kbd-echo-keys.txt), recorded in
// test-roms/expected/kbd-echo.txt. (A live QEMU run would depend on the timing of monitor commands.)
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'x86jit.js');
const ROM = join(ROOT, 'test-roms', 'interactive', 'kbd-echo.elf');
const QEMU_OUTPUT = readFileSync(join(ROOT, 'test-roms', 'expected', 'kbd-echo.txt'), 'latin1');

/** What the keys of kbd-echo-keys.txt type: printable ASCII in order, then Tab, DEL (Backspace), Escape, Ctrl-C, Enter. */
const TYPED = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('') + '\t\x7f\x1b\x03\n';

const run = (input: string, args: string[]) => spawnSync(process.execPath, [CLI, 'run', ...args, ROM], { input, encoding: 'latin1', timeout: 120_000 });

describe('x86jit run --stdin keyboard', () => {
  it('the key list and the typed text agree (one key per character)', () => {
    const keys = readFileSync(join(ROOT, 'test-roms', 'kbd-echo-keys.txt'), 'utf8').trim().split('\n');
    expect(keys).toHaveLength(TYPED.length);
    expect(keys.slice(0, 4)).toEqual(['spc', 'shift-1', 'shift-apostrophe', 'shift-3']);
  });

  it.each(['interp', 'jit'])('types every key as QEMU\'s sendkey does (%s)', (engine) => {
    const r = run(TYPED, ['--stdin', 'keyboard', '--engine', engine]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(QEMU_OUTPUT);
    expect(r.status).toBe(1);
  });

  it('without --stdin keyboard the input goes to COM1, and the keyboard stays silent', () => {
    const r = run('a\n', ['--max-instructions', '3000000']);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(6);
  });

  it('an unknown --stdin is a usage error', () => {
    const r = run('', ['--stdin', 'mouse']);
    expect([r.status, r.stderr]).toEqual([2, "x86jit: --stdin: 'mouse' is not one of com1, keyboard\n"]);
  });
});

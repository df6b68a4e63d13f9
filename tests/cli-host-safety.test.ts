// Issue 15: nothing a guest or an input does may take down the host or make it lie. A reader that goes
// away ends a run quietly (status 16, or the guest's own), any other failed write is one line and status
// 74; an endless input is refused once it passes the largest image the options could load; every usage
// error is one line; profile and lockstep refuse a bad image before loading binaryen, and both can be
// bounded in time. Runs the esbuild bundle (`node scripts/build.mjs`) except where noted.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';

const CLI = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const ROMS = join(import.meta.dirname, '..', 'test-roms');
const RAW = ['--load', '0x100000', '--entry', '0x100000'];
let dir = '';

function x86jit(args: string[], opts: { stdout?: number; input?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8', timeout: 120_000, input: opts.input ?? '', maxBuffer: 64 << 20,
    stdio: ['pipe', opts.stdout ?? 'pipe', 'pipe'],
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr };
}

/**
 * Run x86jit with `which` output (1 stdout, 2 stderr) read until the first bytes arrive, then closed: the
 * child's next write fails with EPIPE. Resolves with its status and what it wrote to the other stream.
 */
function closeAfterFirstBytes(args: string[], which: 1 | 2): Promise<{ status: number | null; other: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const closed = which === 1 ? child.stdout : child.stderr, other = which === 1 ? child.stderr : child.stdout;
    let text = '';
    closed.once('data', () => closed.destroy());
    other.on('data', (b: Buffer) => { text += b.toString(); });
    const timer = setTimeout(() => { child.kill(); reject(new Error('x86jit did not end after its output was closed')); }, 100_000);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, other: text }); });
  });
}

function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

function file(name: string, bytes: Uint8Array | number[]): string {
  const p = join(dir, name);
  writeFileSync(p, bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
  return p;
}

// Guests that never stop writing: `mov dx, 0x3f8; mov al, 'y'; l: out dx, al; jmp l` (COM1), and the same
// to the 0xe9 debug console (stderr).
const SPEW_COM1 = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x79, 0xee, 0xeb, 0xfd];
const SPEW_E9 = [0xb0, 0x79, 0xe6, 0xe9, 0xeb, 0xfc];
const LOOP = [0xeb, 0xfe]; // jmp $
/**
 * Echo COM1 input to COM1 until a '!', then exit through port 0xf4 with status ('!' << 1) | 1 = 67:
 * wait: mov dx, 0x3fd; in al, dx; test al, 1; jz wait; mov dx, 0x3f8; in al, dx; cmp al, '!'; je done;
 * out dx, al; jmp wait; done: out 0xf4, al
 */
const ECHO = [0x66, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x01, 0x74, 0xfb, 0x66, 0xba, 0xf8, 0x03, 0xec, 0x3c, 0x21, 0x74, 0x03, 0xee, 0xeb, 0xeb, 0xe6, 0xf4];

const hasDevFull = existsSync('/dev/full');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'x86jit-safety-'));
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`node scripts/build.mjs\` (npm test does)`);
});

describe('a closed output ends the run quietly', () => {
  it('run: stdout closed while the guest writes COM1 -> status 16, nothing on stderr', async () => {
    const r = await closeAfterFirstBytes(['run', '--timeout', '100', ...RAW, file('spew.bin', SPEW_COM1)], 1);
    expect(r).toEqual({ status: 16, other: '' });
  });

  it('run: stderr closed while the guest writes 0xe9, or under --trace -> status 16', async () => {
    const r = await closeAfterFirstBytes(['run', '--timeout', '100', ...RAW, file('spew-e9.bin', SPEW_E9)], 2);
    expect(r).toEqual({ status: 16, other: '' });
    const t = await closeAfterFirstBytes(['run', '--trace', '--timeout', '100', ...RAW, file('loop.bin', LOOP)], 2);
    expect(t).toEqual({ status: 16, other: '' });
  });

  it('disasm: stdout closed mid-listing -> status 0, nothing on stderr', async () => {
    const big = file('big-code.bin', new Uint8Array(4 << 20).fill(0x90));
    const r = await closeAfterFirstBytes(['disasm', big], 1);
    expect(r).toEqual({ status: 0, other: '' });
  });

  it('run: a guest that exits keeps its status when its reader is gone', async () => {
    // stdout closed before the guest writes: the hello ROM's output fails at its end, and it still exits 1.
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'run', join(ROMS, 'hello.elf')], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
      child.on('close', (status) => resolve({ status, stderr }));
    });
    expect(r).toEqual({ status: 1, stderr: '' });
  });

  it.skipIf(!hasDevFull)('a full disk is one line and status 74 (run, --stats, disasm, profile, lockstep)', () => {
    const full = openSync('/dev/full', 'w');
    try {
      const run = x86jit(['run', join(ROMS, 'hello.elf')], { stdout: full });
      expect(run.status).toBe(74);
      oneLine(run.stderr, /^x86jit: cannot write to stdout: no space left on device$/);
      const dis = x86jit(['disasm', file('d.bin', [0x90, 0xc3])], { stdout: full });
      expect(dis.status).toBe(74);
      oneLine(dis.stderr, /cannot write to stdout: no space left on device/);
      const prof = x86jit(['profile', join(ROMS, 'hello.elf')], { stdout: full });
      expect(prof.status).toBe(74);
      oneLine(prof.stderr, /cannot write to stdout: no space left on device/);
      const lock = x86jit(['lockstep', '--mem', '16M', join(ROMS, 'hello.elf')], { stdout: full });
      expect(lock.status).toBe(74);
      oneLine(lock.stderr, /cannot write to stdout: no space left on device/);
    } finally { closeSync(full); }
    // --stats to a full stderr: nothing can be said, the status says it.
    const r = spawnSync(process.execPath, [CLI, 'run', '--stats', join(ROMS, 'hello.elf')], { stdio: ['ignore', 'ignore', openSync('/dev/full', 'w')], timeout: 60_000 });
    expect(r.status).toBe(74);
  });
});

describe('an endless input is read only up to the largest image that could load', () => {
  // `yes` through a shell pipe: /dev/stdin is then a FIFO that never ends.
  const endless = (args: string) => spawnSync('sh', ['-c', `yes | "${process.execPath}" "${CLI}" ${args}`], { encoding: 'utf8', timeout: 120_000 });

  it('run /dev/stdin: refused past the guest RAM (--mem), or past 256 KiB with --bios; exit 2', () => {
    const r = endless('run --mem 4M /dev/stdin --timeout 100');
    expect(r.status).toBe(2);
    oneLine(r.stderr, /^x86jit: \/dev\/stdin: larger than the 4 MiB of guest RAM$/);
    const b = endless('run --bios /dev/stdin');
    expect(b.status).toBe(2);
    oneLine(b.stderr, /\/dev\/stdin: larger than the 256 KiB a BIOS image can have/);
  });

  it('profile, lockstep and disasm read /dev/stdin with a cap too', () => {
    for (const cmd of ['profile --mem 4M', 'lockstep --mem 4M']) {
      const r = endless(`${cmd} /dev/stdin`);
      expect({ cmd, status: r.status }).toEqual({ cmd, status: 2 });
      oneLine(r.stderr, /larger than the 4 MiB of guest RAM/);
    }
    const d = endless('disasm /dev/stdin');
    expect(d.status).toBe(2);
    oneLine(d.stderr, /\/dev\/stdin: larger than the 128 MiB x86jit disasm reads/);
  });

  it('a regular file larger than the RAM is refused by its size, naming it', () => {
    const p = file('big.bin', new Uint8Array(5 << 20));
    const r = x86jit(['run', '--mem', '4M', p]);
    expect(r.status).toBe(2);
    oneLine(r.stderr, /big\.bin: 5 MiB, larger than the 4 MiB of guest RAM/);
  });

  it('readImageFile(path, maxBytes): a FIFO with an endless writer is refused once past the cap', async () => {
    const { readImageFile } = (await import(pathToFileURL(BUNDLE.replace(/index\.js$/, 'node.js')).href)) as typeof import('../src/node.ts');
    const fifo = join(dir, 'endless.fifo');
    spawnSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `yes > '${fifo}'`], { stdio: 'ignore' });
    try {
      expect(() => readImageFile(fifo, 1 << 20)).toThrow(`${fifo}: larger than 1 MiB`);
    } finally { writer.kill(); }
    expect([...readImageFile(file('small.bin', [1, 2, 3]), 3)]).toEqual([1, 2, 3]);
    expect(() => readImageFile(file('small4.bin', [1, 2, 3, 4]), 3, 'three bytes')).toThrow(/small4\.bin: 4 bytes, larger than three bytes$/);
  });

  it('stdin fed to the UART is held back in the pipe, and none of it is lost', () => {
    // 1 MiB is many times the input x86jit holds before pausing stdin (64 KiB), and the guest reads none of
    // it for its first 50 M instructions (mov ecx, 50000000; loop $), several event-loop turns.
    const text = 'abcdefghijklmnopqrstuvwxyz\n'.repeat(1 << 16).slice(0, 1 << 20);
    const spin = [0xb9, 0x80, 0xf0, 0xfa, 0x02, 0xe2, 0xfe];
    const r = x86jit(['run', '--timeout', '100', ...RAW, file('echo.bin', [...spin, ...ECHO])], { input: `${text}!` });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(67);
    expect(r.stdout.length).toBe(text.length);
    expect(r.stdout === text).toBe(true);
  });
});

describe('usage errors are one line', () => {
  it.each([
    [['run', '--mem', '-1', 'x'], /^x86jit: --mem: '-1' is not a size/],
    [['run', '--max-instructions', '-5', 'x'], /^x86jit: --max-instructions: '-5' is not a valid number$/],
    [['run', '--timeout', '-2', 'x'], /^x86jit: --timeout: '-2' is not a positive number of seconds$/],
    [['run', '--bogus', 'x'], /^x86jit: unknown option '--bogus' \(try: x86jit run --help\)$/],
    [['run', '-x', 'x'], /^x86jit: unknown option '-x' \(try: x86jit run --help\)$/],
    [['run', 'x', '--mem'], /^x86jit: --mem: missing value \(try: x86jit run --help\)$/],
    [['run', '--stats=yes', 'x'], /^x86jit: --stats: takes no value \(try: x86jit run --help\)$/],
    [['disasm', '--org', '-1', 'x'], /^x86jit: --org: '-1' is not a valid number$/],
    [['disasm', '--bogus', 'x'], /^x86jit: unknown option '--bogus' \(try: x86jit disasm --help\)$/],
    [['profile', '--top', '-3', 'x'], /^x86jit: --top: '-3' is not a valid number$/],
    [['profile', '--bogus', 'x'], /^x86jit: unknown option '--bogus' \(try: x86jit profile --help\)$/],
    [['lockstep', '--slice', '-7', 'x'], /^x86jit: --slice: '-7' is not a valid number$/],
    [['lockstep', '--timeout', '-1', 'x'], /^x86jit: --timeout: '-1' is not a positive number of seconds$/],
    [['lockstep', '--bogus', 'x'], /^x86jit: unknown option '--bogus' \(try: x86jit lockstep --help\)$/],
  ])('%j exits 2', (args, pattern) => {
    const r = x86jit(args as string[]);
    expect(r.status).toBe(2);
    oneLine(r.stderr, pattern);
  });

  it('a value that starts with a dash is the option\'s value (--cmdline -v)', () => {
    const r = x86jit(['run', '--cmdline', '-v', join(ROMS, 'hello.elf')]);
    expect(r.status).toBe(1);
  });

  it('disasm --offset past the end of the file names the file size', () => {
    const r = x86jit(['disasm', '--offset', '4', file('three.bin', [0x90, 0x90, 0xc3])]);
    expect(r.status).toBe(2);
    oneLine(r.stderr, /^x86jit: --offset: 4 is beyond the end of the file \(3 bytes\)$/);
    expect(x86jit(['disasm', '--offset', '3', join(dir, 'three.bin')])).toMatchObject({ status: 0, stdout: '' });
  });
});

describe('profile and lockstep check the image before the JIT', () => {
  it('a 5 MiB file with no Multiboot header is refused without loading binaryen (the source, in-process)', async () => {
    const { VM } = await import('../src/index.ts');
    const { profileCommand } = await import('../src/cli/profile.ts');
    const { lockstepCommand } = await import('../src/cli/lockstep.ts');
    const enableJit = vi.spyOn(VM.prototype, 'enableJit');
    const p = file('garbage5.bin', Uint8Array.from({ length: 5 << 20 }, (_, i) => (i * 37 + 11) & 0xff));
    await expect(profileCommand([p])).rejects.toThrow(/garbage5\.bin: no Multiboot header/);
    await expect(lockstepCommand([p])).rejects.toThrow(/garbage5\.bin: no Multiboot header/);
    expect(enableJit).not.toHaveBeenCalled();
    enableJit.mockRestore();
  });
});

describe('profile and lockstep --timeout', () => {
  it('profile --timeout bounds the run of a guest that never ends; the report says so (status 0)', () => {
    const r = x86jit(['profile', '--timeout', '0.5', ...RAW, file('loop-p.bin', LOOP)]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^guest: timeout: timed out after 0\.5 s/m);
  });

  it('lockstep --timeout: one line on stderr and status 8; --json says timedOut', () => {
    const r = x86jit(['lockstep', '--mem', '16M', '--timeout', '0.5', ...RAW, file('loop-l.bin', LOOP)]);
    expect(r.status).toBe(8);
    oneLine(r.stderr, /^x86jit: lockstep: .*loop-l\.bin: timed out after 0\.5 s, no divergence in \d+ instructions \(\d+ slices of 7919\)$/);
    expect(r.stdout).toBe('');
    const j = x86jit(['lockstep', '--json', '--mem', '16M', '--timeout', '0.5', ...RAW, join(dir, 'loop-l.bin')]);
    expect(j.status).toBe(8);
    expect(JSON.parse(j.stdout)).toMatchObject({ divergence: null, timedOut: true });
  });

  it('lockstep() ends when slices retire no instructions: at maxInstructions, or at the timeout', async () => {
    const { lockstep, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
    type VM = import('../src/index.ts').VM;
    // Both engines' runs return at once having retired nothing, as a guest in a fault loop would.
    const stuck = (vm: VM): void => {
      loadRaw(vm, Uint8Array.from(LOOP), { load: 0x100000, entry: 0x100000 });
      vm.run = () => ({ reason: 'max-instructions', message: 'stuck', cs: 8, eip: 0x100000 });
    };
    const byCount = await lockstep({ setup: stuck, vm: { memory: 16 << 20 }, slice: 1000, maxInstructions: 50_000 });
    expect(byCount).toMatchObject({ divergence: null, instructions: 0, slices: 50 });
    expect(byCount.timedOut).toBeUndefined();
    const byTime = await lockstep({ setup: stuck, vm: { memory: 16 << 20 }, slice: 1000, timeout: 0.3 });
    expect(byTime).toMatchObject({ divergence: null, instructions: 0, timedOut: true });
  });

  it('lockstep(): a divergence seen when the timeout strikes is reported as far as it got', async () => {
    const { lockstep, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
    type VM = import('../src/index.ts').VM;
    // The JIT VM's eax goes wrong in its first slice; every later run (the replays) takes longer than the timeout.
    let runs = 0;
    const setup = (vm: VM, engine: 'jit' | 'interp'): void => {
      loadRaw(vm, Uint8Array.from(LOOP), { load: 0x100000, entry: 0x100000 });
      const run = vm.run.bind(vm);
      vm.run = (o) => {
        if (++runs > 2) return run({ ...o, maxInstructions: undefined }); // runs until its timeout
        const exit = run(o);
        if (engine === 'jit') vm.setRegisters({ eax: 1 });
        return exit;
      };
    };
    // The limit must leave time for the first slice on a slow machine (one core, a cold JIT, binaryen
    // validating its first module: 0.5 s was not always enough); the replays then run until it strikes.
    const r = await lockstep({ setup, vm: { memory: 16 << 20 }, slice: 1000, timeout: 3 });
    expect(r.timedOut).toBe(true);
    expect(r.divergence).toMatchObject({ method: 'slice', first: { name: 'eax', jit: 1, interp: 0 } });
    expect(r.divergence!.note).toMatch(/timed out while narrowing it down/);
  });
});

/**
 * Run x86jit until `watch` (its stdout, or stderr) has the first bytes (so it is inside the run loop, its
 * handlers in place), then send `signal`; resolves with its status and the ends of both outputs (the
 * guest's flood of output in between is dropped).
 */
function signalWhenRunning(args: string[], signal: 'SIGINT' | 'SIGTERM', watch: 'stdout' | 'stderr' = 'stdout'): Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const text = { stdout: '', stderr: '' };
    let sent = false;
    for (const name of ['stdout', 'stderr'] as const) {
      child[name].setEncoding('latin1').on('data', (d: string) => {
        text[name] = (text[name] + d).slice(-4096);
        if (name === watch && !sent) { sent = true; child.kill(signal); }
      });
    }
    child.on('close', (status, sig) => resolve({ status, signal: sig, ...text }));
  });
}

describe('SIGINT and SIGTERM end a run with one line, the report, and 128 + the signal', () => {
  // vmcall-loop.bin writes 64 KiB of console output per hypercall, for ever: output shows it is running.
  const endless = [join(ROMS, 'limits', 'vmcall-loop.bin'), ...RAW];
  for (const [sig, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`run --stats: ${sig} → status ${status}, "interrupted by ${sig}" and the statistics`, async () => {
      const r = await signalWhenRunning(['run', ...endless, '--stats'], sig);
      expect(r.signal).toBeNull();
      expect(r.status).toBe(status);
      expect(r.stderr).toMatch(new RegExp(`^x86jit: interrupted by ${sig} at 0008:001000[0-9a-f]{2}$`, 'm'));
      expect(r.stderr).toMatch(/^x86jit: \d+ instructions in [\d.]+ s/m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }, 60_000);
  }

  it('run --engine jit: SIGINT → 130 as well', async () => {
    const r = await signalWhenRunning(['run', ...endless, '--engine', 'jit'], 'SIGINT');
    expect(r.status).toBe(130);
    expect(r.stderr.trim()).toMatch(/^x86jit: interrupted by SIGINT at 0008:001000[0-9a-f]{2}$/);
  }, 60_000);

  it('profile: SIGINT → the report of the run so far, status 130', async () => {
    const r = await signalWhenRunning(['profile', ...endless, '--guest-output'], 'SIGINT', 'stderr');
    expect(r.status).toBe(130);
    expect(r.stdout).toMatch(/interrupted by SIGINT/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('snapshot: SIGINT before --at → one line, no file, status 130', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'x86jit-sig-')), 'never.snap');
    const r = await signalWhenRunning(['snapshot', ...endless, '--at', '1000000000000', '-o', out], 'SIGINT');
    expect(r.status).toBe(130);
    expect(r.stderr.trim()).toMatch(/^x86jit: snapshot: interrupted by SIGINT at instruction \d+, before 1000000000000; no snapshot written$/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});

/** Run x86jit on a pseudo-terminal (tests/fixtures/pty-run.py), waiting for text and typing keys as `steps` say. */
function onTerminal(args: string[], steps: ({ wait: string } | { send: string })[]): { status: number; output: string } {
  const r = spawnSync('python3', [join(import.meta.dirname, 'fixtures', 'pty-run.py'), JSON.stringify(steps), '--', process.execPath, CLI, ...args], { encoding: 'utf8', timeout: 200_000 });
  if (r.status !== 0) throw new Error(`pty-run.py failed (${r.status}): ${r.stderr}`);
  const { status, output } = JSON.parse(r.stdout) as { status: number; output: string };
  return { status, output: Buffer.from(output, 'base64').toString('latin1') };
}

describe('the serial console on a terminal: raw mode, Ctrl-A as the escape key (as QEMU)', () => {
  // snapshot-states.bin prints its phases, then waits for 24 bytes of UART input and echoes them.
  const states = ['run', join(ROMS, 'snapshot-states.bin'), ...RAW];
  const input = '0123456789abcdefghijklmn';

  it('keys go to the guest at once and are not echoed by the terminal: the guest\'s echo shows them once', () => {
    const r = onTerminal(states, [{ wait: 'paged sum' }, { send: input }]);
    expect(r.status).toBe(1); // the guest's own debug-exit status
    expect(r.output.split(input).length - 1, r.output).toBe(1);
  }, 200_000);

  it('Ctrl-C goes to the guest (no SIGINT); Ctrl-A h lists the keys; Ctrl-A x quits with status 0', () => {
    const r = onTerminal(states, [{ wait: 'paged sum' }, { send: '\x03' }, { send: '\x01h' }, { wait: 'C-a x' }, { send: '\x01x' }]);
    expect(r.status).toBe(0);
    expect(r.output).toMatch(/C-a x +quit/);
    expect(r.output).toMatch(/x86jit: terminated \(C-a x\)/);
    expect(r.output).not.toMatch(/interrupted by SIGINT/);
  }, 200_000);
});

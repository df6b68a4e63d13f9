// `x86jit vm` against a real `x86jit host` (and a second one to migrate to): every command as a user types
// it, its output and its exit status. Nothing here waits on time: each step that depends on the guests'
// progress polls the host's API for the condition, with a generous deadline. Runs the esbuild bundle.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRequest } from '../src/host/api-client.ts';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'x86jit.js');
const ROMS = join(ROOT, 'test-roms');
const DEADLINE_MS = 60_000;
const T = 180_000; // per test: several guests share the host's two CPUs

// Polls the UART's LSR until a byte is there, echoes it, and on '!' writes it to isa-debug-exit instead
// (status (0x21 << 1) | 1 = 67). As tests/cli-host-safety.test.ts's ECHO.
const ECHO = [0x66, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x01, 0x74, 0xfb, 0x66, 0xba, 0xf8, 0x03, 0xec, 0x3c, 0x21, 0x74, 0x03, 0xee, 0xeb, 0xeb, 0xe6, 0xf4];
const RAW = ['--load', '0x100000', '--entry', '0x100000'];

let dir = '';
let sock = '', sock2 = '';
const hosts: ChildProcess[] = [];
let stopping = false;

interface Result { status: number | null; stdout: Buffer; out: string; stderr: string }

/** `x86jit ARGS` to its end (asynchronously: the hosts' output pipes keep being read). */
function x86jit(args: string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    delete env.X86JIT_HOST_SOCKET;
    if (opts.env?.X86JIT_HOST_SOCKET !== undefined) env.X86JIT_HOST_SOCKET = opts.env.X86JIT_HOST_SOCKET;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`x86jit ${args.join(' ')}: still running after ${T} ms`)); }, T);
    child.on('close', (status) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      resolve({ status, stdout, out: stdout.toString('latin1'), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** `x86jit vm --socket SOCK ARGS`. */
const vm = (args: string[], opts: { input?: string; cwd?: string; socket?: string } = {}): Promise<Result> =>
  x86jit(['vm', '--socket', opts.socket ?? sock, ...args], opts);

/** A VM as the API shows it. */
async function info(id: string, socket = sock): Promise<Record<string, unknown> & { state: string; instructions: number; exit: { reason: string; status?: number } | null }> {
  const r = await apiRequest({ socketPath: socket }, 'GET', `/vms/${id}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as never;
}

/** Poll the VM until `cond` holds (DEADLINE_MS at most); returns its last state. */
async function waitFor(id: string, what: string, cond: (vm: Awaited<ReturnType<typeof info>>) => boolean, socket = sock) {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const v = await info(id, socket);
    if (cond(v)) return v;
    if (Date.now() > end) throw new Error(`VM ${id}: not ${what} within ${DEADLINE_MS} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A failure's shape: one line on stderr, naming the problem, no stack trace. */
function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

/** Start `x86jit host` on `socket` and wait for its "serving" line. */
function startHost(socket: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'host', '--socket', socket, '--cpus', '2', '--memory', '1G'], { stdio: ['ignore', 'ignore', 'pipe'] });
  hosts.push(child);
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`the host did not say it serves within ${DEADLINE_MS} ms: ${err}`)), DEADLINE_MS);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (/x86jit host: serving /.test(err)) { clearTimeout(timer); resolve(child); }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the host exited (${code}) before serving: ${err}`));
      if (!stopping) process.stderr.write(`host-cli.test: the host on ${socket} exited (${code ?? signal}) during the tests: ${err}\n`);
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`node scripts/build.mjs\` (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), 'x86jit-vm-'));
  sock = join(dir, 'h.sock');
  sock2 = join(dir, 'h2.sock');
  writeFileSync(join(dir, 'echo.bin'), Uint8Array.from(ECHO));
  await Promise.all([startHost(sock), startHost(sock2)]);
}, T);

afterAll(async () => {
  stopping = true;
  await Promise.all(hosts.map((h) => new Promise<void>((resolve) => {
    if (h.exitCode !== null || h.signalCode !== null) { resolve(); return; }
    h.once('exit', () => resolve());
    h.kill('SIGTERM');
  })));
}, T);

describe('x86jit vm: help and usage', () => {
  it('`x86jit help vm` and `vm --help` describe the commands and the exit statuses', async () => {
    for (const args of [['help', 'vm'], ['vm', '--help'], ['vm', 'create', '--help']]) {
      const r = await x86jit(args);
      expect(r.status).toBe(0);
      expect(r.out).toMatch(/^usage: x86jit vm \[--socket PATH\] COMMAND/);
      for (const c of ['create', 'ls', 'show', 'start', 'pause', 'resume', 'stop', 'rm', 'snapshot', 'clone', 'migrate', 'console', 'top']) expect(r.out).toContain(`  ${c}`);
      expect(r.out).toMatch(/69 the host cannot be reached/);
    }
    expect((await x86jit(['--help'])).out).toMatch(/\n {2}vm COMMAND /);
  });

  it.each([
    [['create', 'x', '--bogus'], /^x86jit: unknown option '--bogus' \(try: x86jit vm create --help\)$/],
    [['create', 'x'], /^x86jit: vm create: give --rom FILE or --snapshot FILE/],
    [['create', 'x', '--rom', 'a', '--mem', 'lots'], /^x86jit: --mem: 'lots' is not a size/],
    [['create', 'x', '--rom', 'a', '--engine', 'fast'], /^x86jit: --engine: expected interp or jit, got 'fast'$/],
    [['show'], /^x86jit: vm show: expected ID/],
    [['show', 'a', 'b'], /^x86jit: vm show: unexpected argument 'b'/],
    [['top', '--interval', '0'], /^x86jit: --interval: '0' is not a positive number of seconds$/],
    [['frobnicate'], /^x86jit: vm: unknown command 'frobnicate'/],
  ])('%j is a usage error: status 2, one line', async (args, pattern) => {
    const r = await vm(args);
    expect(r.status).toBe(2);
    oneLine(r.stderr, pattern);
  });

  it('without --socket or X86JIT_HOST_SOCKET: status 2, saying to give --socket', async () => {
    const r = await x86jit(['vm', 'ls']);
    expect(r.status).toBe(2);
    oneLine(r.stderr, /^x86jit: vm: which host\? give --socket PATH/);
  });

  it('X86JIT_HOST_SOCKET is the default --socket', async () => {
    const r = await x86jit(['vm', 'ls'], { env: { X86JIT_HOST_SOCKET: sock } });
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^ID +STATE +CPU% +WEIGHT +MIPS +INSTRUCTIONS +CPU-SECONDS +MEMORY\n/);
  });

  it('no host there: status 69 (EX_UNAVAILABLE), one line naming the socket', async () => {
    const r = await vm(['ls'], { socket: join(dir, 'nobody.sock') });
    expect(r.status).toBe(69);
    oneLine(r.stderr, /^x86jit: vm: cannot reach the host at .*nobody\.sock: ENOENT$/);
  });
});

describe('x86jit vm: a VM\'s life', () => {
  it('create, ls, show, start, pause, resume, stop, rm', async () => {
    // Relative paths are the CLI's: the ROM is named from test-roms/.
    let r = await vm(['create', 'crc', '--rom', 'wl-crc32.elf', '--cmdline', 'repeat=10000', '--mem', '64M', '--weight', '200', '--cpu-max', '50000 100000'], { cwd: ROMS });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toBe('crc: created (created)\n');

    r = await vm(['ls']);
    expect(r.status).toBe(0);
    const [head, ...rows] = r.out.trimEnd().split('\n');
    expect(head.split(/ +/)).toEqual(['ID', 'STATE', 'CPU%', 'WEIGHT', 'MIPS', 'INSTRUCTIONS', 'CPU-SECONDS', 'MEMORY']);
    expect(rows.find((l) => l.startsWith('crc '))?.split(/ +/)).toEqual(['crc', 'created', '0.0', '200', 'max50%', '0.00', '0', '0.000', '64M']);

    r = await vm(['show', 'crc']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^id: +crc\n/);
    expect(r.out).toMatch(/\nstate: +created\n/);
    expect(r.out.split('\n')).toContain(`source:       rom ${join(ROMS, 'wl-crc32.elf')}`);
    expect(r.out).toMatch(/\ncmdline: +repeat=10000\n/);
    expect(r.out).toMatch(/\nmemory: +64M\n/);
    expect(r.out).toMatch(/\ncpu: +weight 200, max "50000 100000"\n/);
    const json = JSON.parse((await vm(['show', 'crc', '--json'])).out) as { id: string; memory: number };
    expect(json).toMatchObject({ id: 'crc', memory: 64 << 20 });

    r = await vm(['start', 'crc']);
    expect(r.status).toBe(0);
    expect(r.out).toBe('crc: running\n');
    await waitFor('crc', 'running some instructions', (v) => v.instructions > 0);

    r = await vm(['pause', 'crc']);
    expect(r.out).toBe('crc: paused\n');
    expect((await info('crc')).state).toBe('paused');
    r = await vm(['resume', 'crc']);
    expect(r.out).toBe('crc: running\n');
    const resumedAt = (await info('crc')).instructions;
    await waitFor('crc', 'running on after resume', (v) => v.instructions > resumedAt);

    r = await vm(['set', 'crc', '--weight', '300', '--cpu-max', '25000 100000']);
    expect(r.status).toBe(0);
    expect(r.out).toBe('crc: cpu 300 max25%\n');

    r = await vm(['stop', 'crc']);
    expect(r.out).toBe('crc: stopped\n');
    expect((await vm(['show', 'crc'])).out).toMatch(/\nexit: +stopped: stopped through the API\n/);

    r = await vm(['rm', 'crc']);
    expect(r.status).toBe(0);
    expect(r.out).toBe('crc: removed\n');
    expect((await vm(['ls'])).out).not.toMatch(/^crc /m);
  }, T);

  it('the host\'s refusals: status 1 and its one line', async () => {
    let r = await vm(['show', 'nope']);
    expect(r.status).toBe(1);
    oneLine(r.stderr, /^x86jit: vm: no VM 'nope'$/);
    expect(r.out).toBe('');

    await vm(['create', 'idle', '--rom', join(ROMS, 'hello.elf'), '--mem', '8M']);
    r = await vm(['create', 'idle', '--rom', join(ROMS, 'hello.elf')]);
    expect(r.status).toBe(1);
    oneLine(r.stderr, /^x86jit: vm: VM 'idle' exists already/);
    r = await vm(['resume', 'idle']);
    expect(r.status).toBe(1);
    oneLine(r.stderr, /^x86jit: vm: VM 'idle' is created; only a paused VM can be resumed$/);
    r = await vm(['create', 'huge', '--rom', join(ROMS, 'hello.elf'), '--mem', '2G']);
    expect(r.status).toBe(1);
    oneLine(r.stderr, /^x86jit: vm: not enough host memory/);
    r = await vm(['create', 'missing', '--rom', 'no-such.elf']);
    expect(r.status).toBe(1);
    oneLine(r.stderr, /^x86jit: vm: .*no-such\.elf/);

    // Several IDs: each in turn; the unknown one is reported and the others are still removed.
    await vm(['create', 'idle2', '--rom', join(ROMS, 'hello.elf'), '--mem', '8M']);
    r = await vm(['rm', 'idle', 'ghost', 'idle2']);
    expect(r.status).toBe(1);
    expect(r.out).toBe('idle: removed\nidle2: removed\n');
    oneLine(r.stderr, /^x86jit: vm: no VM 'ghost'$/);
  }, T);
});

describe('x86jit vm console', () => {
  const hello = readFileSync(join(ROMS, 'expected', 'hello.txt'));

  it('prints the guest\'s serial output byte for byte (hello: started at create, then attached)', async () => {
    expect((await vm(['create', 'hello', '--rom', 'hello.elf', '--start'], { cwd: ROMS })).status).toBe(0);
    // Attached while it runs or after it ended: either way its whole output, and the command ends with the run.
    const r = await vm(['console', 'hello']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.equals(hello)).toBe(true);
    const v = await waitFor('hello', 'stopped', (x) => x.state === 'stopped');
    expect(v.exit).toMatchObject({ reason: 'debug-exit', status: 1 });
    const again = await vm(['console', 'hello', '--no-follow']);
    expect(again.status).toBe(0);
    expect(again.stdout.equals(hello)).toBe(true);
    await vm(['rm', 'hello']);
  }, T);

  it('follows a VM that has not started yet, to the end of its run', async () => {
    await vm(['create', 'hello2', '--rom', join(ROMS, 'hello.elf')]);
    const attached = vm(['console', 'hello2']);
    // Whether the console attached before the start or after, its output is the whole of the guest's.
    expect((await vm(['start', 'hello2'])).status).toBe(0);
    const r = await attached;
    expect(r.status).toBe(0);
    expect(r.stdout.equals(hello)).toBe(true);
    await vm(['rm', 'hello2']);
  }, T);

  it('piped stdin goes to the guest, and the command ends with the guest\'s run (not at stdin\'s end)', async () => {
    expect((await vm(['create', 'echo', '--rom', 'echo.bin', ...RAW, '--mem', '4M', '--start'])).status).toBe(0);
    const r = await vm(['console', 'echo'], { input: 'hello, guest!' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toBe('hello, guest');
    expect((await waitFor('echo', 'stopped', (x) => x.state === 'stopped')).exit).toMatchObject({ reason: 'debug-exit', status: 67 });
    await vm(['rm', 'echo']);
  }, T);

  it('on a terminal: raw mode (keys reach the guest at once, unechoed), Ctrl-] detaches and the VM runs on', async () => {
    await vm(['create', 'tty', '--rom', join(dir, 'echo.bin'), ...RAW, '--mem', '4M', '--start']);
    let t = onTerminal(['vm', '--socket', sock, 'console', 'tty'], [{ wait: 'escape character is ^]' }, { send: 'ping' }, { wait: 'ping' }, { send: '\x1d' }]);
    expect(t.status).toBe(0);
    expect(t.output).toMatch(/^Connected to VM 'tty' \(escape character is \^]\)\r\n/);
    expect((await info('tty')).state).toBe('running');
    // No newline is typed: the bytes reach the guest only because the terminal is raw. '!' ends the guest, and the console with it.
    t = onTerminal(['vm', '--socket', sock, 'console', 'tty'], [{ wait: 'escape character is ^]' }, { send: 'pong!' }]);
    expect(t.status).toBe(0);
    expect(t.output).toContain('pong');
    expect(t.output).not.toContain('pong!');
    expect(t.output).toMatch(/x86jit: vm: console: the run of 'tty' ended: debug-exit: guest exited with status 67/);
    await vm(['rm', 'tty']);
  }, T);

  it('an unknown VM: status 1, one line', async () => {
    const r = await vm(['console', 'nope']);
    expect(r.status).toBe(1);
    oneLine(r.stderr, /^x86jit: vm: no VM 'nope'$/);
  });
});

describe('x86jit vm snapshot, clone, migrate, top', () => {
  it('snapshot (full, then a diff) and create a VM from them; clone; top; migrate to another host', async () => {
    await vm(['create', 'src', '--rom', join(ROMS, 'wl-crc32.elf'), '--cmdline', 'repeat=10000', '--mem', '32M', '--start']);
    await waitFor('src', 'running', (v) => v.instructions > 0);

    // FILE is relative to the CLI's directory, not the host's.
    let r = await vm(['snapshot', 'src', 'full.snap'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(new RegExp(`^src: full snapshot ${join(dir, 'full.snap').replace(/[.]/g, '\\.')} \\(\\d+ bytes\\)\\n$`));
    expect(existsSync(join(dir, 'full.snap'))).toBe(true);
    const at = (await info('src')).instructions;
    await waitFor('src', 'running past the snapshot', (v) => v.instructions > at);
    r = await vm(['snapshot', 'src', join(dir, 'diff.snap'), '--diff']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^src: diff snapshot .*diff\.snap/);

    // The snapshot's RAM size (32M, not the default) comes from the file.
    r = await vm(['create', 'restored', '--snapshot', 'full.snap', '--snapshot', 'diff.snap', '--start'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.out).toBe('restored: created (running)\n');
    const restored = await info('restored');
    expect(restored).toMatchObject({ memory: 32 << 20, source: { snapshot: [join(dir, 'full.snap'), join(dir, 'diff.snap')] } });
    await waitFor('restored', 'running on from the snapshot', (v) => v.instructions > restored.instructions);

    r = await vm(['clone', 'src', 'copy', '--no-start']);
    expect(r.status).toBe(0);
    expect(r.out).toBe('copy: cloned from src (created)\n');
    r = await vm(['clone', 'src', 'copy2', '--start']);
    expect(r.out).toBe('copy2: cloned from src (running)\n');
    const copied = await info('copy2');
    await waitFor('copy2', 'running on from the clone', (v) => v.instructions > copied.instructions);
    r = await vm(['clone', 'src', 'copy']);
    expect(r.status).toBe(1);
    oneLine(r.stderr, /^x86jit: vm: VM 'copy' exists already$/);

    // top --count 2: two frames, no screen control on a pipe, a row per VM with CPU% and MIPS.
    r = await vm(['top', '--count', '2', '--interval', '0.2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).not.toContain('\x1b');
    const frames = r.out.split(/\n(?=x86jit host )/);
    expect(frames).toHaveLength(2);
    for (const f of frames) {
      expect(f).toMatch(/^x86jit host \d\d:\d\d:\d\d: 2 CPUs, CPU [\d.]+ of 200%; \d+ VMs: /);
      expect(f).toMatch(/\nID +STATE +CPU% +WEIGHT +MIPS +INSTRUCTIONS +CPU-SECONDS +MEMORY\n/);
      for (const id of ['src', 'restored', 'copy', 'copy2']) expect(f).toMatch(new RegExp(`\\n${id} +(running|created) +[\\d.]+ +100 +[\\d.]+ +\\d+ +[\\d.]+ +32M\\n`));
    }

    // Migrate to the second host (as a socket path relative to the CLI's directory), under a new id.
    r = await vm(['migrate', 'src', 'h2.sock', '--id', 'moved', '--max-downtime', '500'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^src: migrated to h2\.sock as moved \(\d+ rounds, .* sent, [\d.]+ ms down, \d+ ms in all\)\n$/);
    expect((await vm(['show', 'src'])).status).toBe(1);
    const moved = await info('moved', sock2);
    expect(moved.state).toBe('running');
    await waitFor('moved', 'running on the second host', (v) => v.instructions > moved.instructions, sock2);
    expect((await vm(['ls'], { socket: sock2 })).out).toMatch(/\nmoved +running /);
    r = await vm(['migrate', 'restored', join(dir, 'nobody.sock')]);
    expect(r.status).toBe(1);
    oneLine(r.stderr, /^x86jit: vm: cannot reach the destination host: ENOENT$/);
    expect((await info('restored')).state).toBe('running');

    r = await vm(['rm', 'restored', 'copy', 'copy2']);
    expect(r.status).toBe(0);
    expect((await vm(['rm', 'moved'], { socket: sock2 })).status).toBe(0);
  }, T);
});

/** Run x86jit on a pseudo-terminal (tests/fixtures/pty-run.py), waiting for text and typing keys as `steps` say. */
function onTerminal(args: string[], steps: ({ wait: string } | { send: string })[]): { status: number; output: string } {
  const r = spawnSync('python3', [join(import.meta.dirname, 'fixtures', 'pty-run.py'), JSON.stringify(steps), '--', process.execPath, CLI, ...args], { encoding: 'utf8', timeout: T });
  if (r.status !== 0) throw new Error(`pty-run.py failed (${r.status}): ${r.stderr}`);
  const { status, output } = JSON.parse(r.stdout) as { status: number; output: string };
  return { status, output: Buffer.from(output, 'base64').toString('latin1') };
}

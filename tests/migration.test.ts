// Live migration over TCP on the loopback, between two x86jit processes: the source's output and the
// destination's together are an uninterrupted run's, byte for byte, with its exit status and instruction
// count, under both engines; a destination that is not there leaves the source running to the end.
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

const X86JIT = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const ROM = join(import.meta.dirname, '..', 'test-roms', 'wl-memcpy.elf');
/** wl-memcpy copies buffers over and over (it keeps dirtying memory); repeat=20 is ~130 M instructions. */
const CMDLINE = 'wl-memcpy repeat=20';

interface Result { status: number | null; stdout: string; stderr: string }

function run(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [X86JIT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.setEncoding('latin1').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('latin1').on('data', (d: string) => { stderr += d; });
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A free port on the loopback (the kernel's choice, released for the destination to take). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

/**
 * Wait until the destination listens, without racing it: poll the kernel's table of TCP sockets
 * (/proc/net/tcp) for a listening one on the port — no fixed sleep, no probe that binds the port (a probe
 * holding it at the moment the destination binds makes the destination fail, and this wait never end) and
 * no connection (the destination would take it for the migration stream).
 */
async function listening(port: number): Promise<void> {
  const entry = new RegExp(`^\\s*\\d+: [0-9A-F]{8}:${port.toString(16).toUpperCase().padStart(4, '0')} [0-9A-F]{8}:0000 0A `, 'm');
  while (!entry.test(readFileSync('/proc/net/tcp', 'latin1'))) await new Promise((r) => setTimeout(r, 20));
}

/** The guest's instruction count from --stats: since it started when the run continued someone else's. */
const total = (stderr: string): number => Number((/x86jit: (\d+) instructions since the guest started/.exec(stderr) ?? /x86jit: (\d+) instructions in /.exec(stderr))?.[1]);

describe('live migration over the loopback', () => {
  const reference = spawnSync(process.execPath, [X86JIT, 'run', ROM, '--cmdline', CMDLINE, '--stats'], { encoding: 'latin1', timeout: 300_000 });

  for (const engine of ['interp', 'jit']) {
    it(`${engine}: source output + destination output = one uninterrupted run, same status and count`, async () => {
      expect(reference.status).toBe(1);
      const port = await freePort();
      const destination = run(['run', '--incoming', `tcp:127.0.0.1:${port}`, '--engine', engine, '--stats']);
      await listening(port);
      const source = await run(['run', ROM, '--cmdline', CMDLINE, '--engine', engine, '--migrate-to', `tcp:127.0.0.1:${port}`, '--migrate-after', '0.05']);
      const dest = await destination;
      expect(source.stderr).toMatch(/^x86jit: migrated to tcp:127\.0\.0\.1:\d+: \d+ rounds, \d+ pages, \d+ bytes in \d+ ms, downtime [\d.]+ ms.*, at instruction \d+\n$/);
      expect(source.status).toBe(0);
      expect(source.stdout + dest.stdout).toBe(reference.stdout);
      expect(dest.status).toBe(reference.status);
      expect(total(dest.stderr)).toBe(total(reference.stderr));
    }, 300_000);
  }

  it('a destination that is not there: the source says so in one line and runs the guest to its end', async () => {
    const port = await freePort();
    const source = await run(['run', ROM, '--cmdline', CMDLINE, '--migrate-to', `tcp:127.0.0.1:${port}`, '--migrate-after', '0.05', '--stats']);
    expect(source.stderr).toMatch(new RegExp(`^x86jit: migration to tcp:127\\.0\\.0\\.1:${port} failed: cannot connect: ECONNREFUSED; the guest runs on here\\n`));
    expect(source.stdout).toBe(reference.stdout);
    expect(source.status).toBe(reference.status);
    expect(total(source.stderr)).toBe(total(reference.stderr));
  }, 300_000);

  it('--incoming refuses a stream that is not a migration with one line and status 2', async () => {
    const port = await freePort();
    const destination = run(['run', '--incoming', `tcp:127.0.0.1:${port}`]);
    await listening(port);
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.end(Buffer.from('\x05\x00\x00\x00hello')); });
      // Read to the end: a socket nobody reads never sees the destination's FIN, and never closes (it did
      // close when the destination reset the connection instead, unread bytes left: a race on which it does).
      s.resume();
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    const dest = await destination;
    expect(dest.status).toBe(2);
    expect(dest.stderr).toBe('x86jit: incoming migration: the stream is not an x86jit migration\n');
  }, 60_000);
});

describe('live migration through the API over a MessagePort (two VMs, one thread)', () => {
  it('the source keeps running while it sends; the destination finishes exactly as one uninterrupted run would', async () => {
    const api = (await import(pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href)) as typeof import('../src/index.ts');
    const bytes = new Uint8Array(readFileSync(ROM));
    const reference: Uint8Array[] = [];
    const ref = api.createVM({ stdout: (b) => reference.push(b.slice()) });
    api.loadImage(ref, bytes, 'wl-memcpy', { cmdline: 'wl-memcpy repeat=4' });
    const refExit = ref.run({});
    for (const engine of ['interp', 'jit'] as const) {
      const out: Uint8Array[] = [];
      const source = await api.VM.create({ engine, stdout: (b) => out.push(b.slice()) });
      api.loadImage(source, bytes, 'wl-memcpy', { cmdline: 'wl-memcpy repeat=4' });
      source.run({ maxInstructions: 1_000_000 });
      const { port1, port2 } = new MessageChannel();
      const incoming = api.migrateIn(api.VM, api.messagePortChannel(port2), { stdout: (b) => out.push(b.slice()), engine });
      const result = await api.migrateOut(source, api.messagePortChannel(port1), {
        runSlice: () => { const e = source.run({ maxInstructions: 200_000 }); return e.reason === 'max-instructions' ? null : e; },
      });
      expect(result.outcome).toBe('migrated');
      const destination = await incoming;
      port1.close(); port2.close();
      const exit = destination.run({});
      expect([Buffer.concat(out).toString('latin1'), exit.status, destination.instructions]).toEqual([Buffer.concat(reference).toString('latin1'), refExit.status, ref.instructions]);
    }
  }, 120_000);
});

describe('live migration to a VM on a worker thread (a MessagePort between threads)', () => {
  it('the worker\'s VM takes the guest over and finishes it exactly as one uninterrupted run would, both engines', async () => {
    const bundle = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const api = (await import(bundle)) as typeof import('../src/index.ts');
    const bytes = new Uint8Array(readFileSync(ROM));
    const reference: Uint8Array[] = [];
    const ref = api.createVM({ stdout: (b) => reference.push(b.slice()) });
    api.loadImage(ref, bytes, 'wl-memcpy', { cmdline: 'wl-memcpy repeat=4' });
    const refExit = ref.run({});
    // The destination: its own thread, its own WebAssembly.Memory; it reports what the guest printed and how it ended.
    const destination = `
      const { workerData, parentPort } = require('node:worker_threads');
      (async () => {
        const api = await import(workerData.bundle);
        const out = [];
        const vm = await api.migrateIn(api.VM, api.messagePortChannel(workerData.port), { engine: workerData.engine, stdout: (b) => out.push(Buffer.from(b)) });
        workerData.port.close();
        const exit = vm.run({ timeout: 120 });
        parentPort.postMessage({ output: Buffer.concat(out).toString('latin1'), status: exit.status, instructions: vm.instructions });
      })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
    for (const engine of ['interp', 'jit'] as const) {
      const out: Uint8Array[] = [];
      const source = await api.VM.create({ engine, stdout: (b) => out.push(b.slice()) });
      api.loadImage(source, bytes, 'wl-memcpy', { cmdline: 'wl-memcpy repeat=4' });
      source.run({ maxInstructions: 1_000_000 });
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(destination, { eval: true, workerData: { bundle, engine, port: port2 }, transferList: [port2] });
      const finished = new Promise<{ output?: string; status?: number; instructions?: number; error?: string }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const result = await api.migrateOut(source, api.messagePortChannel(port1), {
        runSlice: () => { const e = source.run({ maxInstructions: 200_000 }); return e.reason === 'max-instructions' ? null : e; },
      });
      expect(result.outcome, JSON.stringify(result)).toBe('migrated');
      const got = await finished;
      port1.close();
      await worker.terminate();
      expect(got.error).toBeUndefined();
      expect([Buffer.concat(out).toString('latin1') + got.output, got.status, got.instructions]).toEqual([Buffer.concat(reference).toString('latin1'), refExit.status, ref.instructions]);
    }
  }, 120_000);
});


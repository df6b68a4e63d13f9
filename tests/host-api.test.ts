// The VM host's API under abuse: thousands of malformed requests (each must get a 4xx with a one-line
// JSON error and change nothing), and many create/start/stop/delete cycles (the host's memory must stay
// bounded). Sizes: X86JIT_HOST_FUZZ requests (default 2000), X86JIT_HOST_CYCLES cycles (default 1000,
// ~40 s here: the threads are reused).
import { connect } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostProcess, ROOT, startHost } from './host-process.ts';
import { parseNum } from './env-number.ts';

const FUZZ = parseNum('X86JIT_HOST_FUZZ') ?? 2000;
const CYCLES = parseNum('X86JIT_HOST_CYCLES') ?? 1000;
const SEED = parseNum('X86JIT_SEED') ?? 0x5eed;
const SPINNER = { rom: join(ROOT, 'test-roms', 'wl-crc32.elf'), cmdline: 'repeat=10000', memory: '16M' };

/** xorshift32: the same requests for the same seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(a: readonly T[]): T => a[Math.floor(next() * a.length)] };
}

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Values of every JSON type, none of them what any field wants in the place it is put. */
const WRONG = [null, true, false, 0, -1, 1.5, 1e309, '', 'x', ' ', '\u0000', 'é'.repeat(5000), [], [1, 2], {}, { a: 1 }, 'max', '25000', -0, 2 ** 53];

describe('x86jit host: API fuzz', () => {
  let host: HostProcess;
  beforeAll(async () => {
    host = await startHost(['--cpus', '2', '--memory', '512M']);
    await host.api('PUT', '/vms/keep', { ...SPINNER, cpu: { weight: 300 }, start: true });
    await host.api('PUT', '/vms/keep/actions', { action: 'pause' });
    await host.api('PUT', '/vms/gone', { rom: join(ROOT, 'test-roms', 'hello.elf'), memory: '16M' });
    await host.api('PUT', '/vms/gone/actions', { action: 'stop' });
  });
  afterAll(async () => { expect(await host.stop()).toBe(0); });

  it(`${FUZZ} malformed requests: each a 4xx with a one-line error, the host unchanged`, async () => {
    const before = await host.api('GET', '/vms');
    const r = rng(SEED);
    const ids = ['keep', 'gone', 'nope', 'bad id', '%zz', '..', 'a'.repeat(65), '-x', 'é', ''];
    const invalidCreate = (): unknown => {
      const body: Record<string, unknown> = { ...SPINNER };
      switch (r.int(8)) {
        case 0: body[r.pick(['rom', 'memory', 'engine', 'clock', 'cmdline', 'load', 'bits', 'bios', 'cpu', 'limits', 'start'])] = r.pick(WRONG.filter((w) => typeof w !== 'string' || w === '')); break;
        case 1: body[`extra${r.int(100)}`] = 1; break;
        case 2: body.snapshot = 'x.snap'; break; // rom and snapshot both
        case 3: delete body.rom; break;
        case 4: body.cpu = { weight: r.pick([0, 10001, 1.5, '100', null]) }; break;
        case 5: body.cpu = { max: r.pick(['', 'max', '999 100000', '1000 999', '1000 1000001', 'max 1e5', '25000 100000 1']) }; break;
        case 6: body.memory = r.pick(['0', '1K', '5G', 4097, '4096M', -1]); break;
        default: body.load = '0x100000'; break; // load without entry
      }
      return body;
    };
    const bodies: Record<string, () => unknown> = {
      actions: () => r.pick([{}, { action: r.pick(WRONG) }, { action: 'start', extra: 1 }, { action: 'reboot' }, [], 'start']),
      snapshot: () => r.pick([{}, { path: r.pick(WRONG.filter((w) => typeof w !== 'string' || w === '' || w === '\u0000')) }, { path: 'x', type: r.pick(['incremental', 1, null]) }, { path: 'x', extra: 1 }]),
      clone: () => r.pick([{}, { id: r.pick(WRONG.filter((w) => typeof w !== 'string' || !/^[A-Za-z0-9]/.test(w))) }, { id: 'keep' }, { id: 'c1', start: 'yes' }, { id: 'c1', other: 1 }]),
      migrate: () => r.pick([{}, { to: r.pick([1, null, '', 'tcp:x', 'tcp:h:0', 'tcp:h:70000']) }, { to: '/nonexistent/sock', id: 'bad id' }, { to: '/nonexistent/sock', maxDowntimeMs: r.pick([0, -1, 'x', 1e9]) }]),
      patch: () => r.pick([{}, { cpu: r.pick(WRONG) }, { cpu: { weight: r.pick([0, 20000, '1']) } }, { cpu: { nope: 1 } }, { memory: '1G' }]),
    };
    const statuses = new Map<number, number>();
    const note = (s: number): void => { statuses.set(s, (statuses.get(s) ?? 0) + 1); };
    for (let i = 0; i < FUZZ; i++) {
      const id = r.pick(ids), enc = encodeURIComponent(id).replace(/%25zz/, '%zz');
      const notJson = r.pick(['{', '{"action":', 'null x', '\u00ff\u00fe', '[1,', '"', '{"a":1}}']);
      let method: string, path: string, body: unknown;
      switch (r.int(9)) {
        case 0: method = r.pick(['GET', 'PUT', 'POST', 'DELETE']); path = r.pick(['/x', '/vms/keep/actions/more', '/vms/keep/x', '/metrics/x', '/vms/keep/console/1', '/vms/a/b/c/d', '/VMS']); break;
        case 1: [method, path] = r.pick([['POST', '/vms/keep'], ['DELETE', '/vms'], ['PUT', '/metrics'], ['GET', '/vms/keep/actions'], ['PATCH', '/vms/keep/console'], ['GET', '/vms/keep/clone'], ['POST', '/'], ['DELETE', '/vms/keep/snapshot'], ['POST', '/vms/keep/migrate']]); break;
        case 2: method = r.pick(['GET', 'DELETE', 'PATCH']); path = `/vms/${r.pick(['nope', 'nx1', 'nx2'])}`; body = method === 'PATCH' ? { cpu: { weight: 5 } } : undefined; break;
        case 3: method = 'PUT'; path = `/vms/${r.pick(['bad%20id', '%zz', 'a'.repeat(65), '-x', '%C3%A9'])}`; body = SPINNER; break;
        case 4: method = 'PUT'; path = `/vms/new${r.int(1000)}`; body = r.next() < 0.5 ? invalidCreate() : notJson; break;
        case 5: { const what = r.pick(['actions', 'snapshot', 'clone', 'migrate'] as const); method = what === 'clone' ? 'POST' : 'PUT'; path = `/vms/${r.pick(['keep', 'gone'])}/${what}`; body = r.next() < 0.7 ? bodies[what]() : notJson; break; }
        case 6: method = 'PATCH'; path = '/vms/keep'; body = r.next() < 0.7 ? bodies.patch() : notJson; break;
        case 7: method = 'PUT'; path = r.pick(['/vms/keep/actions', '/vms/new1']); body = 'x'.repeat(70_000); break; // larger than a JSON body may be
        default: method = r.pick(['PUT', 'POST']); path = `/vms/${enc || 'keep'}/${r.pick(['actions', 'clone'])}`; body = ''; break; // no body
      }
      const res = await host.api(method, path, body);
      note(res.status);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 200)} → ${res.text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 200)} → ${res.text.slice(0, 200)}`).toBeLessThan(500);
      expect(typeof res.body?.error).toBe('string');
      expect(res.body.error).not.toMatch(/\n/);
    }
    // Garbage that is not HTTP at all: node:http answers 400 and the host goes on.
    for (const junk of ['\x00\x01\x02\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'HELLO\r\n\r\n', `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`]) {
      const reply = await new Promise<string>((resolve) => {
        const s = connect(host.socket);
        let got = '';
        s.on('data', (c) => { got += c.toString(); });
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
        s.end(junk);
      });
      expect(reply).toMatch(/^HTTP\/1\.1 4\d\d/);
    }
    const after = await host.api('GET', '/vms');
    const stable = (vms: { id: string; state: string; cpu: unknown; memory: number; source: unknown; instructions: number }[]) => vms.map(({ id, state, cpu, memory, source, instructions }) => ({ id, state, cpu, memory, source, instructions }));
    expect(stable(after.body.vms)).toEqual(stable(before.body.vms));
    const info = (await host.api('GET', '/')).body;
    expect(info.memoryUsed).toBe(16 << 20); // only the paused VM holds RAM
    expect(info.requests['500'] ?? 0).toBe(0);
    const counted = Object.entries(info.requests as Record<string, number>).filter(([s]) => s >= '400' && s < '500').reduce((a, [, n]) => a + n, 0);
    expect(counted).toBeGreaterThanOrEqual(FUZZ);
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 404, 405, 409, 413]));
  });
});

describe('x86jit host: create/start/stop/delete cycles', () => {
  let host: HostProcess;
  beforeAll(async () => { host = await startHost(['--cpus', '2', '--memory', '512M']); });
  afterAll(async () => { expect(await host.stop()).toBe(0); });

  it(`${CYCLES} cycles leave the host's memory bounded`, { timeout: 60_000 + CYCLES * 2000 }, async () => {
    const pid = host.proc.pid!;
    let warm = 0;
    for (let i = 0; i < CYCLES; i++) {
      expect((await host.api('PUT', '/vms/c', { ...SPINNER, start: true })).status).toBe(201);
      expect((await host.api('PUT', '/vms/c/actions', { action: 'stop' })).status).toBe(200);
      expect((await host.api('DELETE', '/vms/c')).status).toBe(204);
      if (i === Math.min(99, CYCLES - 1)) warm = rssMiB(pid);
    }
    const end = rssMiB(pid);
    expect(end, `RSS ${warm.toFixed(0)} MiB after 100 cycles, ${end.toFixed(0)} MiB after ${CYCLES}`).toBeLessThan(warm + 100);
    const info = (await host.api('GET', '/')).body;
    expect(info).toMatchObject({ vms: 0, memoryUsed: 0, workerDeaths: 0 });
    // The threads are reused, not started afresh for every VM (a few start ahead as spares).
    expect(info.workers.started).toBeLessThan(Math.min(CYCLES, 20));
    expect(info.workers.idle).toBeLessThanOrEqual(2 + 16);
  });
});

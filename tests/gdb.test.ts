// The gdb stub (`x86jit run --gdb`), driven by the real gdb (Debian's; .ci/run installs it) in batch mode
// against a ROM with symbols, and by a raw protocol client for what batch gdb cannot do (Ctrl-C while the
// guest runs, attaching to a running guest, detach, kill). x86jit is told to listen on port 0 with
// --wait and says which port it got, so no test races for a port or for the listener.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const X86JIT = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const ROMS = join(import.meta.dirname, '..', 'test-roms');
const hasGdb = spawnSync('gdb', ['--version']).status === 0;
if (!hasGdb) console.warn('gdb.test: SKIPPED the gdb-driven tests — gdb is not installed (.ci/run installs it)');

interface Guest { child: ChildProcess; port: number; stdout: () => string; stderr: () => string; exit: Promise<number | null> }

/** Start `x86jit run ROM --gdb tcp:127.0.0.1:0 --wait ARGS` and wait for the port it announces. */
async function startGuest(rom: string, args: string[] = []): Promise<Guest> {
  const child = spawn(process.execPath, [X86JIT, 'run', join(ROMS, rom), '--gdb', 'tcp:127.0.0.1:0', '--wait', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout!.setEncoding('latin1').on('data', (d: string) => { stdout += d; });
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.setEncoding('latin1').on('data', (d: string) => {
      stderr += d;
      const m = /waiting for gdb on tcp:127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    void exit.then((code) => reject(new Error(`x86jit exited (${code}) before listening: ${stderr}`)));
  });
  return { child, port, stdout: () => stdout, stderr: () => stderr, exit };
}

function gdbBatch(port: number, commands: string[]): Promise<string> {
  const args = ['-batch', '-nx', '-ex', 'set architecture i386', '-ex', `file ${join(ROMS, 'hello.elf')}`, '-ex', `target remote 127.0.0.1:${port}`, ...commands.flatMap((c) => ['-ex', c])];
  return new Promise((resolve) => {
    const g = spawn('gdb', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    g.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    g.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    g.on('close', () => resolve(out));
  });
}

/** A minimal client of the remote protocol: send a packet, read the next reply (acks are skipped). */
class RawClient {
  private data = '';
  private waiting: (() => void) | null = null;
  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => { this.data += d; this.waiting?.(); });
  }
  static async open(port: number): Promise<RawClient> {
    const socket = await new Promise<Socket>((resolve, reject) => { const s = connect(port, '127.0.0.1', () => resolve(s)); s.once('error', reject); });
    return new RawClient(socket);
  }
  send(body: string): void {
    let sum = 0;
    for (const ch of body) sum = (sum + ch.charCodeAt(0)) & 0xff;
    this.socket.write(`$${body}#${sum.toString(16).padStart(2, '0')}`);
  }
  interrupt(): void { this.socket.write('\x03'); }
  async reply(): Promise<string> {
    for (;;) {
      const m = /\$([^#]*)#[0-9a-f]{2}/.exec(this.data);
      if (m) { this.data = this.data.slice(m.index + m[0].length); this.socket.write('+'); return m[1]; }
      await new Promise<void>((r) => { this.waiting = r; });
    }
  }
  async ask(body: string): Promise<string> { this.send(body); return this.reply(); }
  close(): void { this.socket.end(); }
}

const le32 = (hex: string, i: number): number => Buffer.from(hex.slice(8 * i, 8 * i + 8), 'hex').readUInt32LE(0);

describe('x86jit run --gdb: the real gdb drives the guest', () => {
  it.skipIf(!hasGdb).each(['interp', 'jit'])('%s: break at a symbol, read registers and a variable, step, write a register and memory, hbreak, continue to the exit', async (engine) => {
    const guest = await startGuest('hello.elf', ['--engine', engine]);
    const out = await gdbBatch(guest.port, [
      'info registers eip',
      'break test_main', 'continue', 'info registers eip',
      'x/wx &rt_mb_magic',
      'stepi', 'info registers eip',
      'set $edi = 0x12345678', 'p/x $edi',
      'set {unsigned int}0x7f000 = 0xdeadbeef', 'x/wx 0x7f000',
      'watch *(int *)&rt_passed', 'continue', 'delete 2',
      'hbreak rt_finish', 'continue', 'bt 1',
      'continue',
    ]);
    const status = await guest.exit;
    expect(out).toMatch(/eip\s+0x10000c\s+0x10000c <_start>/);
    expect(out).toMatch(/Breakpoint 1, 0x00101b20 in test_main \(\)/);
    expect(out).toMatch(/<rt_mb_magic>:\s+0x2badb002/);
    expect(out).toMatch(/eip\s+0x101b23\s+0x101b23 <test_main\+3>/);
    expect(out).toMatch(/\$1 = 0x12345678/);
    expect(out).toMatch(/0x7f000:\s+0xdeadbeef/);
    // A hardware watchpoint (Z2): gdb shows the old and new value, stopped after the writing instruction.
    const watched = /Hardware watchpoint 2: \*\(int \*\)&rt_passed\s+Old value = (\d+)\s+New value = (\d+)\s+0x00101746 in rt_check \(\)/.exec(out);
    expect(watched, out).not.toBeNull();
    expect(Number(watched![2])).toBe(Number(watched![1]) + 1);
    expect(out).toMatch(/Breakpoint 3, 0x00101850 in rt_finish \(\)/);
    expect(out).toMatch(/exited with code 01/);
    // The guest's own output and exit status, as without gdb.
    expect(guest.stdout()).toContain('SUMMARY hello: 3 passed, 0 failed');
    expect(status).toBe(1);
  }, 60_000);
});

describe('x86jit run --gdb: the protocol', () => {
  it('registers and memory by packet; Ctrl-C stops a running guest (S02); kill ends x86jit with status 0', async () => {
    // A guest that never ends (it runs fresh code for ever), so Ctrl-C cannot come too late, however slow the machine.
    const guest = await startGuest('limits/fresh-code.bin', ['--load', '0x100000', '--entry', '0x100000']);
    const c = await RawClient.open(guest.port);
    expect(await c.ask('qSupported:swbreak+')).toContain('swbreak+');
    expect(await c.ask('?')).toBe('S05');
    const regs = await c.ask('g');
    expect(regs.length).toBe(16 * 8);
    expect(le32(regs, 8), 'EIP at the entry point').toBe(0x100000);
    expect(await c.ask('p8')).toBe(regs.slice(64, 72));
    // The entry point's bytes, as the file has them: mov eax, 0x3000000.
    expect(await c.ask('m100000,5')).toBe('b800000003');
    expect(await c.ask('m80000000,4'), 'nothing mapped there').toBe('E14');
    expect(await c.ask('P0=78563412')).toBe('OK');
    expect(le32(await c.ask('g'), 0)).toBe(0x12345678);
    expect(await c.ask('P0a=0f000000'), 'CS cannot be loaded by a debugger').toBe('E01');
    c.send('c');
    c.interrupt();
    expect(await c.reply()).toBe('S02');
    const eip = le32(await c.ask('g'), 8);
    expect(le32(await c.ask('g'), 8), 'stopped: EIP does not move').toBe(eip);
    c.send('k');
    expect(await guest.exit).toBe(0);
    c.close();
  }, 60_000);

  it('a software breakpoint stops before the instruction, single-step moves one instruction; after detach the guest runs to its end', async () => {
    const guest = await startGuest('hello.elf');
    const c = await RawClient.open(guest.port);
    expect(await c.ask('Z0,101b20,1')).toBe('OK');
    expect(await c.ask('c')).toBe('T05swbreak:;');
    expect(le32(await c.ask('g'), 8)).toBe(0x101b20);
    // Continuing from a breakpoint goes on from it (it does not stop there again at once).
    expect(await c.ask('s')).toBe('S05');
    expect(le32(await c.ask('g'), 8)).toBe(0x101b23);
    expect(await c.ask('z0,101b20,1')).toBe('OK');
    expect(await c.ask('D')).toBe('OK');
    c.close();
    expect(await guest.exit).toBe(1);
    expect(guest.stdout()).toContain('SUMMARY hello: 3 passed, 0 failed');
  }, 60_000);

  it.each(['interp', 'jit'])('%s: watchpoints stop after the instruction that writes (Z2), reads (Z3) or touches (Z4) the range', async (engine) => {
    // hello.elf counts passed tests in rt_passed (0x10628c), one ADD to memory (a read and a write) per pass.
    const guest = await startGuest('hello.elf', ['--engine', engine]);
    const c = await RawClient.open(guest.port);
    expect(await c.ask('Z2,10628c,4')).toBe('OK');
    expect(await c.ask('c')).toBe('T05watch:10628c;');
    expect(await c.ask('m10628c,4'), 'the write is done when the guest stops').toBe('01000000');
    expect(await c.ask('z2,10628c,4')).toBe('OK');
    expect(await c.ask('Z3,10628c,4')).toBe('OK');
    expect(await c.ask('c')).toBe('T05rwatch:10628c;');
    // The read is an ADD to memory: the instruction that read it has written it too when the guest stops.
    expect(await c.ask('m10628c,4')).toBe('02000000');
    expect(await c.ask('z3,10628c,4')).toBe('OK');
    expect(await c.ask('Z4,10628c,1')).toBe('OK');
    expect(await c.ask('c')).toBe('T05awatch:10628c;');
    expect(await c.ask('z4,10628c,1')).toBe('OK');
    expect(await c.ask('Z2,10628c,0'), 'an empty range').toBe('E00');
    expect(await c.ask('D')).toBe('OK');
    c.close();
    expect(await guest.exit).toBe(1);
    expect(guest.stdout()).toContain('SUMMARY hello: 3 passed, 0 failed');
  }, 60_000);

  it('bad --gdb use is one line and status 2', () => {
    for (const [args, message] of [
      [['--wait'], /--wait goes with --gdb/],
      [['--gdb', 'tcp:127.0.0.1'], /--gdb: 'tcp:127.0.0.1' is not tcp:HOST:PORT/],
      [['--gdb', 'tcp:127.0.0.1:0', '--timeout', '1'], /--gdb does not go with/],
    ] as const) {
      const r = spawnSync(process.execPath, [X86JIT, 'run', join(ROMS, 'hello.elf'), ...args], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});

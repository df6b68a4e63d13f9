// A real `x86jit host` child process for the host tests, and a small JSON client for its API socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
export const CLI = join(ROOT, 'dist', 'x86jit.js');

export interface Reply { status: number; body: any; text: string } // eslint-disable-line @typescript-eslint/no-explicit-any

export interface HostProcess {
  proc: ChildProcess;
  socket: string;
  dir: string;
  stderr: () => string;
  /** One API request; `body` is sent as JSON unless it is a Buffer/string (sent as is). */
  api(method: string, path: string, body?: unknown): Promise<Reply>;
  /** SIGTERM and wait for the process to end; its exit code. */
  stop(): Promise<number | null>;
}

export function apiRequest(target: { socketPath: string } | { host: string; port: number }, method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = request({ ...target, method, path, headers: data !== undefined ? { 'Content-Length': Buffer.byteLength(data) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        let parsed: unknown = undefined;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Start `x86jit host` on a fresh socket and wait for its "serving" line. */
export async function startHost(args: string[] = [], dir = mkdtempSync(join(tmpdir(), 'x86jit-host-'))): Promise<HostProcess> {
  const socket = join(dir, 'api.sock');
  const proc = spawn(process.execPath, [CLI, 'host', '--socket', socket, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    proc.stderr!.on('data', (c: Buffer) => { err += c.toString(); if (/serving/.test(err)) resolve(); });
    proc.on('exit', (code) => reject(new Error(`host exited (${code}) before serving: ${err}`)));
  });
  return {
    proc, socket, dir,
    stderr: () => err,
    api: (method, path, body) => apiRequest({ socketPath: socket }, method, path, body),
    stop: async () => { proc.kill('SIGTERM'); return exited; },
  };
}

/** Poll `check` until it returns a value other than undefined/false, or fail after `seconds` with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, seconds = 120): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wait until the VM is stopped (its guest ended); its info. */
export function waitStopped(host: HostProcess, id: string, seconds = 120): Promise<Reply['body']> {
  return waitFor(`VM ${id} to stop`, async () => { const r = await host.api('GET', `/vms/${id}`); return r.body?.state === 'stopped' ? r.body : undefined; }, seconds);
}

/** The whole console history of a VM. */
export async function consoleOf(host: HostProcess, id: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    request({ socketPath: host.socket, path: `/vms/${id}/console?follow=0` }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject).end();
  });
}

/** Follow a VM's console (history, then live) until the host ends the stream (the VM is deleted or leaves). */
export function followConsole(host: HostProcess, id: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    request({ socketPath: host.socket, path: `/vms/${id}/console` }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

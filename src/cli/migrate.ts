// Live migration over TCP for `x86jit run --migrate-to tcp:HOST:PORT` and `--incoming tcp:HOST:PORT`: a
// MigrationChannel (src/machine/migration.ts) of length-prefixed messages on a node:net socket.
import { connect, createServer, type Socket } from 'node:net';
import type { MigrationChannel } from '../machine/migration.ts';
import { UsageError } from './parse.ts';

/** Largest message accepted (a page batch is ~1 MiB; a state file with ROMs a few MiB). */
const MAX_MESSAGE = 256 << 20;

/** `tcp:HOST:PORT` → host and port; anything else is a usage error naming the option. Port 0 (the system picks one) only with `anyPort`. */
export function parseTcpAddress(text: string, option: string, anyPort = false): { host: string; port: number } {
  const m = /^tcp:(.*):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || m[1] === '' || port < (anyPort ? 0 : 1) || port > 65535) throw new UsageError(`${option}: '${text}' is not tcp:HOST:PORT`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** The migration channel over a connected socket. */
export function socketChannel(socket: Socket): MigrationChannel {
  const messages: Uint8Array[] = [];
  const waiting: ((m: Uint8Array | null) => void)[] = [];
  let buffered: Buffer = Buffer.alloc(0), closed = false, error: Error | null = null;
  const deliver = (m: Uint8Array | null): void => { const w = waiting.shift(); if (w) w(m); else if (m) messages.push(m); };
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const n = buffered.readUInt32LE(0);
      if (n > MAX_MESSAGE) { error = new Error(`a message of ${n} bytes is larger than ${MAX_MESSAGE}`); socket.destroy(); return; }
      if (buffered.length < 4 + n) break;
      deliver(new Uint8Array(buffered.subarray(4, 4 + n)));
      buffered = buffered.subarray(4 + n);
    }
  });
  const end = (): void => { closed = true; while (waiting.length > 0) waiting.shift()!(null); };
  socket.on('close', end);
  socket.on('error', (e) => { error = e; end(); });
  return {
    send(message) {
      return new Promise((resolve, reject) => {
        if (closed) { reject(error ?? new Error('the connection is closed')); return; }
        const head = Buffer.alloc(4);
        head.writeUInt32LE(message.length);
        socket.write(head);
        socket.write(message, (e) => (e ? reject(e) : resolve()));
      });
    },
    receive() {
      if (messages.length > 0) return Promise.resolve(messages.shift()!);
      if (closed) return Promise.resolve(null);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close() { socket.destroy(); },
  };
}

/** Connect to a destination (rejects with the system's reason, e.g. ECONNREFUSED). */
export function connectTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.once('connect', () => { s.removeAllListeners('error'); resolve(s); });
    s.once('error', reject);
  });
}

/** Listen on host:port and accept one connection (the server then stops listening). */
export function acceptOne(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => { server.close(); resolve(s); });
    server.once('error', (e) => reject(new UsageError(`--incoming: cannot listen on ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
    server.listen(port, host);
  });
}

// A MigrationChannel (src/machine/migration.ts) of length-prefixed messages (u32 little-endian length,
// then the message) on a node:net socket: live migration over TCP (`x86jit run --migrate-to`) and between
// VM hosts (over the upgraded API connection).
import { connect, type Socket } from 'node:net';
import type { MigrationChannel } from '../machine/migration.ts';

/** Largest message accepted (a page batch is ~1 MiB; a state file with ROMs a few MiB). */
const MAX_MESSAGE = 256 << 20;

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

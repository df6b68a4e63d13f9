// Live migration over TCP for `x86jit run --migrate-to tcp:HOST:PORT` and `--incoming tcp:HOST:PORT`: a
// MigrationChannel (src/machine/migration.ts) of length-prefixed messages on a node:net socket.
import { createServer, type Socket } from 'node:net';
import { UsageError } from './parse.ts';

/** `tcp:HOST:PORT` → host and port; anything else is a usage error naming the option. Port 0 (the system picks one) only with `anyPort`. */
export function parseTcpAddress(text: string, option: string, anyPort = false): { host: string; port: number } {
  const m = /^tcp:(.*):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || m[1] === '' || port < (anyPort ? 0 : 1) || port > 65535) throw new UsageError(`${option}: '${text}' is not tcp:HOST:PORT`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export { connectTcp, socketChannel } from '../host/socket-channel.ts';

/** Listen on host:port and accept one connection (the server then stops listening). */
export function acceptOne(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => { server.close(); resolve(s); });
    server.once('error', (e) => reject(new UsageError(`--incoming: cannot listen on ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
    server.listen(port, host);
  });
}

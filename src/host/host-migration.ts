// Live migration between two VM hosts. The source host opens an HTTP request to the destination's API
// (Unix socket or loopback TCP) that upgrades the connection (`Upgrade: x86jit-migration`, as WebSocket
// does); the destination checks the VM (id free, memory, pinning) before it answers 101, so a refusal is
// an ordinary HTTP error with its one line. After 101 the connection carries the pre-copy protocol of
// src/machine/migration.ts as length-prefixed messages; each host relays it to and from the VM's worker
// over a MessageChannel. The source's VM keeps running during pre-copy; once the destination has the
// guest, the VM leaves the source.
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { messagePortChannel, type MigrationChannel } from '../machine/migration.ts';
import { Host, HostError, type VmState } from './host.ts';
import { socketChannel } from './socket-channel.ts';
import { checkId, isObject, parseCreate, show, SpecError } from './vm-spec.ts';

const UPGRADE = 'x86jit-migration';
/** The header that carries the VM's definition and state to the destination (base64url JSON). */
const VM_HEADER = 'x-x86jit-vm';

/** Where another host's API listens: `unix:PATH`, a path, or `tcp:HOST:PORT`. */
export type HostAddress = { socketPath: string } | { host: string; port: number };

export function parseHostAddress(text: unknown, field = 'to'): HostAddress {
  if (typeof text !== 'string' || text === '' || text.includes('\0')) throw new HostError(400, `${field}: expected "unix:PATH" or "tcp:HOST:PORT", got ${show(text)}`);
  const tcp = /^tcp:(.+):(\d{1,5})$/.exec(text);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) throw new HostError(400, `${field}: port ${port} is not 1–65535`);
    return { host: tcp[1].replace(/^\[(.*)\]$/, '$1'), port };
  }
  if (text.startsWith('tcp:')) throw new HostError(400, `${field}: '${text.slice(0, 80)}' is not tcp:HOST:PORT`);
  return { socketPath: text.startsWith('unix:') ? text.slice(5) : text };
}

/** A MessagePort as messagePortChannel takes it. */
const portChannel = (port: MessagePort): MigrationChannel => messagePortChannel(port as unknown as Parameters<typeof messagePortChannel>[0]);

/** Copy whole messages both ways until either side closes. */
function relay(a: MigrationChannel, b: MigrationChannel): void {
  const pump = async (from: MigrationChannel, to: MigrationChannel): Promise<void> => {
    for (;;) {
      const m = await from.receive();
      if (m === null) { to.close(); return; }
      try { await to.send(m); } catch { from.close(); return; }
    }
  };
  void pump(a, b);
  void pump(b, a);
}

/** PUT /vms/{id}/migrate {to, id?, maxDowntimeMs?}: move the running VM to another host. */
export async function migrateVm(host: Host, id: string, body: unknown): Promise<unknown> {
  const vm = host.get(id);
  if (!isObject(body) || Object.keys(body).some((k) => !['to', 'id', 'maxDowntimeMs'].includes(k))) {
    throw new HostError(400, `expected {"to": "unix:PATH" | "tcp:HOST:PORT", "id": DEST_ID, "maxDowntimeMs": 300}, got ${show(body)}`);
  }
  const to = parseHostAddress(body.to);
  const destId = body.id === undefined ? id : body.id;
  try { checkId(String(destId)); } catch (e) { throw new HostError(400, `id: ${(e as Error).message}`); }
  if (typeof destId !== 'string') throw new HostError(400, `id: expected text, got ${show(destId)}`);
  const maxDowntimeMs = body.maxDowntimeMs ?? 300;
  if (typeof maxDowntimeMs !== 'number' || !(maxDowntimeMs >= 1 && maxDowntimeMs <= 60_000)) throw new HostError(400, `maxDowntimeMs: expected 1–60000, got ${show(maxDowntimeMs)}`);
  if (!vm.thread || (vm.state !== 'running' && vm.state !== 'paused')) throw new HostError(409, `VM '${id}' is ${vm.state}; only a running or paused VM migrates`);
  const header = Buffer.from(JSON.stringify({ spec: vm.spec, state: vm.state })).toString('base64url');
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = request({ ...to, method: 'POST', path: `/vms/${encodeURIComponent(destId)}/incoming`, headers: { Connection: 'Upgrade', Upgrade: UPGRADE, [VM_HEADER]: header } });
    req.on('upgrade', (_res, s: Socket) => resolve(s));
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let why = `HTTP ${res.statusCode}`;
        try { why = (JSON.parse(Buffer.concat(chunks).toString()) as { error?: string }).error ?? why; } catch { /* not JSON */ }
        reject(new HostError(502, `the destination refused the VM: ${why}`));
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => reject(new HostError(502, `cannot reach the destination host: ${e.code ?? e.message}`)));
    req.end();
  });
  const { port1, port2 } = new MessageChannel();
  relay(socketChannel(socket), portChannel(port2));
  try {
    return { ...(await host.migrateOut(id, port1, maxDowntimeMs)), to: body.to, id: destId };
  } finally {
    socket.destroy();
  }
}

/** The destination's side: an upgrade request on the API server. Counts its status through `count`. */
export function acceptMigration(host: Host, req: IncomingMessage, socket: Socket, head: Buffer, count: (status: number) => void): void {
  const refuse = (status: number, message: string): void => {
    count(status);
    const body = `${JSON.stringify({ error: message })}\n`;
    socket.end(`HTTP/1.1 ${status} ${status === 409 ? 'Conflict' : status === 404 ? 'Not Found' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  };
  socket.on('error', () => {});
  const m = /^\/vms\/([^/?]+)\/incoming$/.exec(req.url ?? '');
  if (!m || req.method !== 'POST' || String(req.headers.upgrade).toLowerCase() !== UPGRADE) { refuse(404, `no upgrade to '${String(req.headers.upgrade).slice(0, 40)}' at ${(req.url ?? '').slice(0, 80)}`); return; }
  let id: string, spec, state: VmState;
  try {
    id = checkId(decodeURIComponent(m[1]));
    const sent = JSON.parse(Buffer.from(String(req.headers[VM_HEADER] ?? ''), 'base64url').toString()) as { spec: unknown; state: unknown };
    spec = parseCreate(sent.spec).spec;
    state = sent.state === 'paused' ? 'paused' : 'running';
  } catch (e) {
    refuse(400, e instanceof SpecError ? e.message : `the ${VM_HEADER} header is not a VM definition`);
    return;
  }
  const { port1, port2 } = new MessageChannel();
  let created: Promise<unknown>;
  try { created = host.incoming(id, spec, state, port1); } catch (e) {
    refuse(e instanceof HostError ? e.status : 500, (e as Error).message);
    return;
  }
  count(101);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${UPGRADE}\r\nConnection: Upgrade\r\n\r\n`);
  if (head.length > 0) socket.unshift(head);
  relay(socketChannel(socket), portChannel(port2));
  created.catch(() => socket.destroy());
}

// The management API: REST with JSON over node:http (a Unix socket, and optionally a loopback TCP port),
// in the manner of Firecracker's API server. Every request gets a status and, on error, one line of JSON
// ({"error": "..."}); a refused request changes nothing. Requests are counted by status for /metrics.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Host, HostError } from './host.ts';
import { prometheusText } from './metrics.ts';
import { acceptMigration, migrateVm } from './host-migration.ts';

/** Largest JSON body accepted; console input may be larger (up to CONSOLE_INPUT_MAX). */
const JSON_MAX = 64 << 10;
const CONSOLE_INPUT_MAX = 1 << 20;

export class Api {
  /** Requests answered, by HTTP status. */
  readonly requests = new Map<number, number>();
  readonly server: Server;

  constructor(readonly host: Host) {
    this.server = createServer((req, res) => { void this.handle(req, res); });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      acceptMigration(this.host, req, socket, head, (status) => this.count(status));
    });
    // A client that sends garbage instead of HTTP gets 400 from node:http and is counted here.
    this.server.on('clientError', (_e, socket: Socket) => {
      this.count(400);
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"error":"malformed HTTP request"}\n');
      else socket.destroy();
    });
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  private count(status: number): void { this.requests.set(status, (this.requests.get(status) ?? 0) + 1); }

  private send(res: ServerResponse, status: number, body?: unknown): void {
    this.count(status);
    if (body === undefined) { res.writeHead(status).end(); return; }
    const text = `${JSON.stringify(body, null, 1)}\n`;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (e) {
      if (res.headersSent) { res.destroy(); return; }
      if (e instanceof HostError) this.send(res, e.status, { error: e.message });
      else this.send(res, 500, { error: `internal error: ${(e as Error).message}` });
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Not new URL(): a path like '//x' would be read as a host name.
    const raw = req.url ?? '/', q = raw.indexOf('?');
    const url = { pathname: q < 0 ? raw : raw.slice(0, q), searchParams: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
    const parts = url.pathname.split('/').filter((p) => p !== '');
    const method = req.method ?? 'GET';
    const allow = (...methods: string[]): void => {
      if (!methods.includes(method)) { res.setHeader('Allow', methods.join(', ')); throw new HostError(405, `${method} is not allowed on ${url.pathname.slice(0, 100)} (allowed: ${methods.join(', ')})`); }
    };
    let id: string;
    try { id = parts[1] !== undefined ? decodeURIComponent(parts[1]) : ''; } catch { throw new HostError(400, 'the VM id in the path is not valid percent-encoding'); }
    if (parts.length === 0) { allow('GET'); await drain(req); this.send(res, 200, { ...this.host.hostInfo(), requests: Object.fromEntries(this.requests) }); return; }
    if (parts[0] === 'metrics' && parts.length === 1) {
      allow('GET'); await drain(req);
      const text = prometheusText(this.host, this.requests);
      this.count(200);
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(text) }).end(text);
      return;
    }
    if (parts[0] !== 'vms' || parts.length > 3) throw new HostError(404, `no such endpoint: ${url.pathname.slice(0, 100)} (see README: the VM host's API)`);
    if (parts.length === 1) { allow('GET'); await drain(req); this.send(res, 200, { vms: this.host.ids().map((v) => this.host.info(v)) }); return; }
    if (parts.length === 2) {
      allow('GET', 'PUT', 'PATCH', 'DELETE');
      if (method === 'GET') { await drain(req); this.send(res, 200, this.host.info(id)); return; }
      if (method === 'DELETE') { await drain(req); this.host.delete(id); this.send(res, 204); return; }
      const body = await readJson(req);
      if (method === 'PUT') { await this.host.create(id, body); this.send(res, 201, this.host.info(id)); return; }
      this.host.update(id, body); this.send(res, 200, this.host.info(id)); return;
    }
    switch (parts[2]) {
      case 'actions': allow('PUT'); await this.host.action(id, await readJson(req)); this.send(res, 200, this.host.info(id)); return;
      case 'snapshot': allow('PUT'); this.send(res, 200, await this.host.snapshot(id, await readJson(req))); return;
      case 'clone': { allow('POST'); const vm = await this.host.clone(id, await readJson(req)); this.send(res, 201, this.host.info(vm.id)); return; }
      case 'migrate': allow('PUT'); this.send(res, 200, await migrateVm(this.host, id, await readJson(req))); return;
      case 'console':
        allow('GET', 'POST');
        if (method === 'POST') { this.host.input(id, await readBody(req, CONSOLE_INPUT_MAX)); this.send(res, 204); return; }
        await drain(req);
        this.streamConsole(id, url.searchParams.get('follow') !== '0', res);
        return;
      default: throw new HostError(404, `no such endpoint: ${url.pathname.slice(0, 100)} (see README: the VM host's API)`);
    }
  }

  /**
   * The console's history, then (follow) every byte the guest writes until its run ends (it stops, or the
   * VM is deleted or leaves the host) or the client closes. A stopped VM has no guest: its history only.
   */
  private streamConsole(id: string, follow: boolean, res: ServerResponse): void {
    const vm = this.host.get(id);
    this.count(200);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-store' });
    res.write(vm.console.history());
    if (!follow || vm.state === 'stopped') { res.end(); return; }
    const unfollow = vm.console.follow((bytes) => { if (bytes === null) res.end(); else res.write(bytes); });
    res.on('close', unfollow);
  }

  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(path, () => { this.server.off('error', reject); resolve(); });
    });
  }

  /** Also serve the API on a loopback TCP port (the API has no authentication: never on another address). */
  listenTcp(host: string, port: number): Promise<Server> {
    const tcp = createServer((req, res) => { void this.handle(req, res); });
    tcp.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => acceptMigration(this.host, req, socket, head, (s) => this.count(s)));
    tcp.on('clientError', (_e, socket: Socket) => { this.count(400); socket.destroy(); });
    return new Promise((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => { tcp.off('error', reject); resolve(tcp); });
    });
  }
}

/** Read the request body up to `max` bytes (413 beyond). */
function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0, failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      n += c.length;
      if (n > max) { failed = true; reject(new HostError(413, `the request body is larger than ${max} bytes`)); req.resume(); return; }
      chunks.push(c);
    });
    req.on('end', () => { if (!failed) resolve(new Uint8Array(Buffer.concat(chunks))); });
    req.on('error', (e) => { if (!failed) { failed = true; reject(new HostError(400, `reading the request: ${e.message}`)); } });
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const bytes = await readBody(req, JSON_MAX);
  const text = Buffer.from(bytes).toString('utf8');
  if (text.trim() === '') throw new HostError(400, 'the request needs a JSON body');
  try { return JSON.parse(text); } catch (e) { throw new HostError(400, `the body is not JSON: ${(e as Error).message.split('\n')[0].slice(0, 120)}`); }
}

/** A body where none is expected is read and dropped (so the connection stays usable). */
async function drain(req: IncomingMessage): Promise<void> { await readBody(req, JSON_MAX); }

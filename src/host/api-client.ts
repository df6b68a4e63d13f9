// A small client of the host's management API (src/host/api.ts): one HTTP request over the host's Unix
// socket or loopback TCP address, answered as {status, body}. A host that is not there is one line
// (HostUnreachable), so that `x86jit vm` can tell "the host said no" from "there is no host".
import { request, type IncomingMessage } from 'node:http';

/** Where the host's API listens: its Unix socket, or a loopback TCP address (`x86jit host --listen`). */
export type ApiTarget = { socketPath: string } | { host: string; port: number };

/** The host could not be reached at all (no socket, nobody listening, the connection broke). */
export class HostUnreachable extends Error {}

export interface ApiResponse {
  status: number;
  /** JSON bodies parsed; text (GET /metrics) as text; nothing (204) as undefined. */
  body: unknown;
}

/** The target as a user wrote it: `tcp:HOST:PORT` or a socket path. */
export function describeTarget(target: ApiTarget): string {
  return 'socketPath' in target ? target.socketPath : `tcp:${target.host}:${target.port}`;
}

/** Send one request and wait for the whole answer. */
export function apiRequest(target: ApiTarget, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = open(target, method, path, payload, body instanceof Uint8Array ? 'application/octet-stream' : 'application/json', reject);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => reject(unreachable(target, e)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = /json/.test(res.headers['content-type'] ?? '');
        let parsed: unknown = text === '' ? undefined : text;
        if (json && text !== '') { try { parsed = JSON.parse(text); } catch { /* kept as text */ } }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.end(payload);
  });
}

/**
 * Open a streaming GET (the console): resolves with the response once its headers arrive, whatever its
 * status; the caller reads it (an error's body through errorLine).
 */
export function apiStream(target: ApiTarget, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = open(target, 'GET', path, undefined, undefined, reject);
    req.on('response', resolve);
    req.end();
  });
}

/** The one line of an error response ({"error": "..."}), or its HTTP status when the body says nothing. */
export function errorLine(status: number, body: unknown): string {
  if (typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string') return (body as { error: string }).error;
  if (typeof body === 'string' && body.trim() !== '') return `HTTP ${status}: ${body.trim().split('\n')[0].slice(0, 200)}`;
  return `HTTP ${status}`;
}

function open(target: ApiTarget, method: string, path: string, payload: Uint8Array | undefined, type: string | undefined, reject: (e: Error) => void) {
  const headers: Record<string, string | number> = { Accept: 'application/json' };
  if (payload !== undefined) { headers['Content-Type'] = type!; headers['Content-Length'] = payload.length; }
  // No agent: one connection per request, closed after it (a CLI makes a few requests, then exits).
  const req = request({ ...target, method, path, headers, agent: false });
  req.on('error', (e) => reject(unreachable(target, e)));
  return req;
}

function unreachable(target: ApiTarget, e: NodeJS.ErrnoException): HostUnreachable {
  return new HostUnreachable(`cannot reach the host at ${describeTarget(target)}: ${e.code ?? e.message}`);
}

// `x86jit host --socket PATH`: the VM host in the foreground (as `firecracker --api-sock`), serving the
// management API until SIGTERM or SIGINT, which stops every VM cleanly (with --state-dir: saved first).
import { existsSync, lstatSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism, totalmem } from 'node:os';
import { Api } from '../host/api.ts';
import { Host } from '../host/host.ts';
import { jitOptionsFromEnv } from './jit-env.ts';
import { parseTcpAddress } from './migrate.ts';
import { emit } from './output.ts';
import { parseCommand, parseNumber, parseSize, UsageError } from './parse.ts';

export const HOST_HELP = `usage: x86jit host --socket PATH [options]

Run many VMs, each on a worker thread of its own (or, for VMs created with thread 'shared', as guests
of threads they share), and serve the management API (REST with JSON) on a
Unix socket until SIGTERM or SIGINT. Manage it with \`x86jit vm\` or any HTTP client:
  curl --unix-socket PATH http://localhost/vms

options:
  --socket PATH          the API's Unix socket (a stale one is replaced; a live one is refused)
  --listen tcp:HOST:PORT also serve the API on a loopback TCP address (migration from other hosts)
  --cpus N               cores the VMs share (default: this machine's, ${availableParallelism()})
  --memory SIZE          guest RAM all VMs together may have (default: half the machine's RAM)
  --state-dir DIR        keep VM definitions there; at shutdown, save running VMs to resume later
  --worker-heap MIB      heap limit of each VM's worker thread (default 512)
  --spare-workers N      worker threads kept started and idle for the next VMs (default 2); a thread
                         whose VM is gone waits for the next one (up to 64 idle)
  --vms-per-thread N     guests a shared thread holds at most (default 32)
  -h, --help             show this help

exit status: 0 after a clean shutdown, 2 for bad options or a socket that cannot be served
`;

export async function hostCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('host', argv, {
    socket: { type: 'string' },
    listen: { type: 'string' },
    cpus: { type: 'string' },
    memory: { type: 'string' },
    'state-dir': { type: 'string' },
    'worker-heap': { type: 'string' },
    'spare-workers': { type: 'string' },
    'vms-per-thread': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { emit(1, HOST_HELP); return 0; }
  if (positionals.length > 0) throw new UsageError(`host: unexpected argument '${positionals[0]}' (try: x86jit host --help)`);
  if (values.socket === undefined) throw new UsageError('host: --socket PATH is required (try: x86jit host --help)');
  const cpus = values.cpus !== undefined ? parseNumber(values.cpus, '--cpus', 1024) : availableParallelism();
  if (cpus < 1) throw new UsageError('--cpus: at least 1');
  const memory = values.memory !== undefined ? parseSize(values.memory, '--memory') : Math.floor(totalmem() / 2);
  const workerHeapMb = values['worker-heap'] !== undefined ? parseNumber(values['worker-heap'], '--worker-heap', 65536) : 512;
  if (workerHeapMb < 16) throw new UsageError('--worker-heap: at least 16 MiB');
  const spareWorkers = values['spare-workers'] !== undefined ? parseNumber(values['spare-workers'], '--spare-workers', 1024) : 2;
  const vmsPerThread = values['vms-per-thread'] !== undefined ? parseNumber(values['vms-per-thread'], '--vms-per-thread', 4096) : 32;
  if (vmsPerThread < 1) throw new UsageError('--vms-per-thread: at least 1');
  const listen = values.listen !== undefined ? parseTcpAddress(values.listen, '--listen', true) : undefined;
  if (listen && !['127.0.0.1', 'localhost', '::1'].includes(listen.host)) throw new UsageError(`--listen: the API has no authentication; serve it on the loopback only (127.0.0.1, ::1), not ${listen.host}`);

  await freeSocket(values.socket);
  const host = new Host({ cpus, memory, stateDir: values['state-dir'], jit: jitOptionsFromEnv(), workerHeapMb, spareWorkers, vmsPerThread });
  const api = new Api(host);
  try { await api.listen(values.socket); } catch (e) {
    throw new UsageError(`host: cannot serve ${values.socket}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let tcp;
  if (listen) {
    try { tcp = await api.listenTcp(listen.host, listen.port); } catch (e) {
      api.server.close(); rmSync(values.socket, { force: true });
      throw new UsageError(`--listen: cannot listen on ${listen.host}:${listen.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  for (const line of await host.restoreDefinitions()) emit(2, `x86jit host: ${line}\n`);
  const where = tcp ? `${values.socket} and tcp:${listen!.host}:${(tcp.address() as { port: number }).port}` : values.socket;
  emit(2, `x86jit host: serving ${where} (${cpus} CPUs, ${Math.round(memory / 2 ** 20)} MiB for guests)\n`);

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  emit(2, `x86jit host: ${signal}: stopping ${host.ids().length} VMs\n`);
  api.server.close();
  tcp?.close();
  for (const line of await host.shutdown()) emit(2, `x86jit host: ${line}\n`);
  rmSync(values.socket, { force: true });
  return 0;
}

/** A socket file left by a host that died is removed; one a live host serves is refused. */
async function freeSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new UsageError(`host: ${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  if (live) throw new UsageError(`host: another host serves ${path} already`);
  rmSync(path, { force: true });
}
